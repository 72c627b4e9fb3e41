"""Prepared splits shared read-only between worker processes (linclf_cli/runs/prepared.py)."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pytest

from linclf_cli.runs import prepared

DATA = prepared.data_key({"a.bin": "11" * 32, "b.bin": "22" * 32})


def _build(calls: list | None = None, n: int = 1000) -> dict:
    if calls is not None:
        calls.append(1)
    x = np.arange(n * 8, dtype=np.float32).reshape(n, 8) / 7
    return {"X": x, "y": np.arange(n, dtype=np.int64) % 10}


@pytest.fixture
def shared(tmp_path):
    with prepared.shared_folder(tmp_path) as folder:
        prepared.set_shared_dir(folder)
        try:
            yield folder
        finally:
            prepared.set_shared_dir(None)
            prepared.clear()


def _worker(folder: str, conn) -> None:
    prepared.set_shared_dir(folder)
    calls: list = []
    a = prepared.shared_arrays("t", DATA, (1, "float32"), lambda: _build(calls))
    maps = Path(f"/proc/{os.getpid()}/maps").read_text() if Path("/proc/self/maps").exists() else ""
    conn.send((len(calls), float(a["X"].sum()), a["X"].flags.writeable,
               [line.split()[-1] for line in maps.splitlines() if line.endswith("X.npy")]))
    conn.recv()  # hold the mapping until told


def test_without_a_shared_folder_the_arrays_are_private_and_read_only():
    prepared.set_shared_dir(None)
    calls: list = []
    a = prepared.shared_arrays("t", DATA, (1,), lambda: _build(calls))
    assert calls == [1] and not a["X"].flags.writeable
    assert type(a["X"]) is np.ndarray and not isinstance(a["X"].base, np.memmap)


def test_the_split_is_built_once_and_mapped_read_only(shared):
    calls: list = []
    a = prepared.shared_arrays("t", DATA, (1, "float32"), lambda: _build(calls))
    b = prepared.shared_arrays("t", DATA, (1, "float32"), lambda: _build(calls))
    assert calls == [1]  # the second call maps the published files
    ref = _build()
    for name in ref:
        assert a[name].dtype == ref[name].dtype and np.array_equal(a[name], ref[name])
        assert type(a[name]) is np.ndarray and not a[name].flags.writeable
        assert isinstance(a[name].base, np.memmap)
        with pytest.raises(ValueError):
            a[name][0] = 0
    assert np.shares_memory(a["X"], b["X"]) or a["X"].base.filename == b["X"].base.filename
    # other parameters, or other data, are another split
    prepared.shared_arrays("t", DATA, (2, "float32"), lambda: _build(calls))
    prepared.shared_arrays("t", prepared.data_key({"a.bin": "33" * 32}), (1, "float32"),
                           lambda: _build(calls))
    assert calls == [1, 1, 1]


def test_unknown_data_digests_are_not_shared(shared):
    assert prepared.data_key({"a.bin": ""}) is None and prepared.data_key({}) is None
    a = prepared.shared_arrays("t", None, (1,), _build)
    assert not isinstance(a["X"].base, np.memmap)
    assert [p.name for p in shared.iterdir() if p.is_dir()] == []


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
def test_two_processes_map_the_same_file(shared):
    ctx = mp.get_context("fork")
    procs, conns = [], []
    for _ in range(2):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_worker, args=(str(shared), child))
        p.start()
        procs.append(p)
        conns.append(parent)
    try:
        got = [c.recv() for c in conns]
    finally:
        for c in conns:
            c.send("bye")
        for p in procs:
            p.join(10)
    builds = sorted(g[0] for g in got)
    assert builds == [0, 1]  # one built it (under the lock), the other mapped it
    assert got[0][1] == got[1][1] == float(_build()["X"].sum())
    assert not got[0][2] and not got[1][2]
    files = [set(g[3]) for g in got]
    assert len(files[0]) == 1 and files[0] == files[1]  # the very same file in both


def test_a_half_written_split_is_never_used(shared, monkeypatch):
    calls: list = []
    real_write = prepared._write_npy

    def dying_write(path, a, *args):  # a crash while writing the second array
        if a.dtype == np.int64:
            Path(path).write_bytes(b"\x93NUMPY garbage")
            raise OSError(28, "No space left on device")
        real_write(path, a, *args)

    monkeypatch.setattr(prepared, "_write_npy", dying_write)
    a = prepared.shared_arrays("t", DATA, (1,), lambda: _build(calls))
    # the run goes on with a private copy, and nothing half-written is left under a real name
    assert calls == [1] and np.array_equal(a["y"], _build()["y"])
    assert not isinstance(a["y"].base, np.memmap) and not a["X"].flags.writeable
    (d,) = [p for p in shared.iterdir() if p.is_dir()]
    assert not (d / prepared.MANIFEST).exists() and not (d / "y.npy").exists()
    assert not list(d.glob(".*.tmp"))
    # a later process prepares it again and publishes it whole
    monkeypatch.setattr(prepared, "_write_npy", real_write)
    b = prepared.shared_arrays("t", DATA, (1,), lambda: _build(calls))
    assert calls == [1, 1] and isinstance(b["y"].base, np.memmap)
    assert np.array_equal(b["y"], _build()["y"])


def test_a_split_without_its_manifest_or_with_a_wrong_file_is_rebuilt(shared):
    calls: list = []
    prepared.shared_arrays("t", DATA, (1,), lambda: _build(calls))
    (d,) = [p for p in shared.iterdir() if p.is_dir()]
    np.save(d / "X.npy", np.zeros((3, 3), np.float32))  # not what the manifest says
    prepared.clear()  # (removes the held split: recreate the broken state by hand)
    d.mkdir()
    prepared._publish_split(d, _build())
    np.save(d / "X.npy", np.zeros((3, 3), np.float32))
    a = prepared.shared_arrays("t", DATA, (1,), lambda: _build(calls))
    assert calls == [1, 1] and np.array_equal(a["X"], _build()["X"])


def test_moving_to_another_split_removes_the_old_files_but_keeps_live_mappings(shared):
    @prepared.one_slot
    def prep(i):
        return prepared.shared_arrays("t", DATA, (i,), _build)

    a = prep(1)
    (d1,) = [p for p in shared.iterdir() if p.is_dir()]
    prep(2)  # the slot drops split 1: its files go
    assert not d1.exists()
    assert np.array_equal(a["X"], _build()["X"])  # the old mapping is still readable
    assert len([p for p in shared.iterdir() if p.is_dir()]) == 1


def test_the_folder_is_removed_at_the_end_also_on_interrupt(tmp_path):
    with prepared.shared_folder(tmp_path) as folder:
        assert folder.parent == tmp_path and (folder / prepared.MARKER).is_file()
    assert not folder.exists()
    with pytest.raises(KeyboardInterrupt):
        with prepared.shared_folder(tmp_path) as folder:
            (folder / "x.npy").write_bytes(b"1")
            raise KeyboardInterrupt
    assert not folder.exists()


def test_folders_of_dead_runs_are_swept_and_others_kept(tmp_path):
    ctx = mp.get_context("fork")
    p = ctx.Process(target=time.sleep, args=(0,))
    p.start()
    p.join()
    dead = tmp_path / f"{prepared.FOLDER_PREFIX}{p.pid}-abc"
    dead.mkdir()
    (dead / prepared.MARKER).write_text("")
    alive = tmp_path / f"{prepared.FOLDER_PREFIX}{os.getppid()}-abc"
    alive.mkdir()
    (alive / prepared.MARKER).write_text("")
    foreign = tmp_path / f"{prepared.FOLDER_PREFIX}{p.pid}-xyz"  # not ours: no marker
    foreign.mkdir()
    with prepared.shared_folder(tmp_path):
        pass
    assert not dead.exists() and alive.exists() and foreign.exists()


def test_the_scheduler_pool_shares_and_removes_its_folder(tmp_path, monkeypatch):
    """run_jobs hands its workers the folder and removes it when the run ends."""
    from linclf_cli.tasks import scheduler

    seen = {}
    real = prepared.shared_folder

    def spy(base=None):
        cm = real(tmp_path)

        class Wrap:
            def __enter__(self):
                seen["folder"] = cm.__enter__()
                return seen["folder"]

            def __exit__(self, *exc):
                return cm.__exit__(*exc)

        return Wrap()

    monkeypatch.setattr(prepared, "shared_folder", spy)
    seen_init = []
    monkeypatch.setattr(scheduler, "_run_pool",
                        lambda jobs, n, dd, argv, hook, settle, shared, **kw: seen_init.append(shared))
    assert scheduler.run_jobs([object(), object()], 2, None, None) == {}
    assert seen_init == [str(seen["folder"])] and not seen["folder"].exists()
