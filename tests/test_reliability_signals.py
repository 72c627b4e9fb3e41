"""Signals and workers (issue 9 items 3, 10, 11, 12).

Ctrl-C (SIGINT to the process group, as a terminal sends it) and SIGTERM (to the main process,
as ``kill PID`` sends it) during ``linclf run`` (one job and -j 2), ``train``, ``report`` and
``sweep-lambda``: "Interrupted" on stderr, exit 128 + signal number (130, 143), no traceback,
no temporary folder, nothing counted as done.  A parallel run stops within 2 s; after
``kill -9`` of a parallel run its workers are gone.  The subprocess tests train on real MNIST
(LINCLF_DATA_DIR), with many epochs so the signal always arrives mid-training.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from linclf_cli.tasks import scheduler
from linclf_cli.tasks.handlers import JobSpec

LONG = 3000  # epochs: minutes of training, so every signal lands mid-run


def _task(tid, seed, epochs=LONG):
    return {"id": tid, "title": tid, "command": "train",
            "args": {"model": "binary", "epochs": epochs, "seed": seed},
            "expect": [{"metric": "val_accuracy", "min": 0.5}]}


def _tasks_file(tmp_path: Path, n: int = 2) -> Path:
    doc = {"version": 1, "assignments": [{"id": "t", "title": "T",
                                          "tasks": [_task(f"b{i}", i) for i in range(n)]}]}
    p = tmp_path / "tasks.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (a /proc scan; Linux)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie has stopped


def _wait_for(pred, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp-*")] if root.exists() else []


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "linclf_cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _send(proc: subprocess.Popen, sig: int) -> None:
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C: the terminal signals the whole foreground group
    else:
        os.kill(proc.pid, sig)  # `kill PID`: the main process only


def _finish(proc: subprocess.Popen, timeout: float = 20) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("linclf did not exit after the signal")
    return proc.returncode, err


def _assert_interrupted(rc: int, err: str, sig: int) -> None:
    assert rc == 128 + sig, (rc, err)
    assert "Interrupted" in err, err
    assert "Traceback" not in err, err


# --------------------------------------------------------------------------- in-process


def _job(tmp_path: Path, name: str = "j") -> scheduler.JobPlan:
    spec = JobSpec(name, "aml-toy", {}, None)
    return scheduler.JobPlan(name, spec, tmp_path / name, "k" * 64, {})


def test_sequential_unexpected_error_is_reported_not_masked(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(scheduler, "execute_run", boom)
    jp = _job(tmp_path)
    errors = scheduler.run_jobs([jp], 1, None, None)
    assert errors == {jp.label: "internal error: RuntimeError: disk on fire"}


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_sequential_interrupt_propagates_and_nothing_is_done(tmp_path, monkeypatch, exc):
    def stop(*a, **k):
        raise exc()

    monkeypatch.setattr(scheduler, "execute_run", stop)
    with pytest.raises(exc):
        scheduler.run_jobs([_job(tmp_path)], 1, None, None)
    assert not (tmp_path / "j" / "job.json").exists()


def test_sigterm_becomes_interrupted_in_the_main_process():
    from linclf_cli.cli.common import signals_as_interrupts
    from linclf_cli.errors import Interrupted

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as e:
        with signals_as_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert e.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before  # restored


# --------------------------------------------------------------------------- subprocesses


@pytest.mark.realdata
@pytest.mark.parametrize("jobs, sig", [(1, signal.SIGINT), (1, signal.SIGTERM), (2, signal.SIGINT),
                                       (2, signal.SIGTERM)])
def test_run_interrupted(tmp_path, data_dir, jobs, sig):
    tf, res = _tasks_file(tmp_path), tmp_path / "results"
    proc = _start(["run", "--all", "-f", str(tf), "-r", str(res), "--data-dir", str(data_dir),
                   "-j", str(jobs)], tmp_path)
    want = 1 if jobs == 1 else 2
    _wait_for(lambda: len(_temporaries(res)) >= want, 60, "the runs to start")
    time.sleep(0.3)  # well into training
    workers = _children(proc.pid)
    t0 = time.time()
    _send(proc, sig)
    rc, err = _finish(proc)
    elapsed = time.time() - t0
    _assert_interrupted(rc, err, sig)
    if jobs > 1:
        assert elapsed < 2.0, f"took {elapsed:.2f} s to stop the running jobs"
        _wait_for(lambda: not any(_alive(p) for p in workers), 2, "the workers to exit")
    assert _temporaries(res) == []
    assert not list(res.rglob("job.json")) and not list(res.rglob("task.json"))


@pytest.mark.realdata
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_train_interrupted(tmp_path, data_dir, sig):
    out = tmp_path / "runs" / "r"
    proc = _start(["train", "--model", "binary", "--epochs", str(LONG), "--data-dir", str(data_dir),
                   "--out", str(out)], tmp_path)
    _wait_for(lambda: _temporaries(out.parent), 60, "the run to start")
    _send(proc, sig)
    rc, err = _finish(proc)
    _assert_interrupted(rc, err, sig)
    assert not out.exists() and _temporaries(out.parent) == []


@pytest.mark.realdata
def test_report_interrupted(tmp_path, data_dir):
    tf, res = _tasks_file(tmp_path, n=1), tmp_path / "results"
    proc = _start(["report", "-f", str(tf), "-r", str(res), "--data-dir", str(data_dir), "-j", "1"], tmp_path)
    _wait_for(lambda: _temporaries(res), 60, "the run to start")
    _send(proc, signal.SIGTERM)
    rc, err = _finish(proc)
    _assert_interrupted(rc, err, signal.SIGTERM)
    assert _temporaries(res) == [] and not (res / "REPORT.md").exists()
    assert not list(res.rglob("job.json"))


@pytest.mark.realdata
def test_sweep_interrupted(tmp_path, data_dir):
    out = tmp_path / "sweep"
    proc = _start(["sweep-lambda", "-l", "2", "-l", "0.2", "--epochs", str(LONG), "-j", "2",
                   "--data-dir", str(data_dir), "--out", str(out)], tmp_path)
    _wait_for(lambda: len(_temporaries(out)) >= 2, 60, "the points to start")
    t0 = time.time()
    _send(proc, signal.SIGINT)
    rc, err = _finish(proc)
    _assert_interrupted(rc, err, signal.SIGINT)
    assert time.time() - t0 < 2.0
    assert _temporaries(out) == [] and not list(out.rglob("job.json"))


@pytest.mark.realdata
def test_kill_9_of_a_parallel_run_stops_its_workers(tmp_path, data_dir):
    tf, res = _tasks_file(tmp_path), tmp_path / "results"
    proc = _start(["run", "--all", "-f", str(tf), "-r", str(res), "--data-dir", str(data_dir), "-j", "2"],
                  tmp_path)
    _wait_for(lambda: len(_temporaries(res)) >= 2, 60, "the runs to start")
    workers = [p for p in _children(proc.pid) if _alive(p)]
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    _wait_for(lambda: not any(_alive(p) for p in workers), 5, "the orphaned workers to exit")
    # nothing published by an orphan, and a new run is not refused or disturbed
    assert not list(res.rglob("job.json"))
    (tmp_path / "again").mkdir()
    tf2 = _tasks_file(tmp_path / "again", n=1)
    doc = yaml.safe_load(tf2.read_text())
    doc["assignments"][0]["tasks"][0]["args"]["epochs"] = 1
    tf2.write_text(yaml.safe_dump(doc))
    r = subprocess.run([sys.executable, "-m", "linclf_cli", "run", "--all", "-f", str(tf2), "-r", str(res),
                        "--data-dir", str(data_dir), "-j", "1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (res / "t" / "b0" / "task.json").exists()
    assert not list((res / "t").glob(".b0.tmp-*"))  # the orphan's temporary, cleaned by the rerun
