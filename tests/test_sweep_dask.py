"""`linclf sweep --executor dask` on a real Dask cluster: a `dask scheduler` and two `dask
worker` processes on 127.0.0.1 (random free ports), started per test module and stopped in
the fixtures' finalizers.  Results equal the local executor's bit for bit; a worker killed
mid-sweep loses nothing; workers without the data fail their points with their message; an
unreachable scheduler is a clear error within seconds."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="Dask distributed not installed (pip install 'linclf[distributed]')")

from test_sweep import GRID, files_of, ok, write_idx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and N single-threaded workers (no nanny: a worker is one process, so
    killing it kills the worker) as separate processes."""

    def __init__(self, tmp: Path, n_workers: int = 2, worker_env: dict | None = None) -> None:
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        port = _free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        env = dict(os.environ, PYTHONPATH=str(REPO))
        log = open(tmp / "dask.log", "w")
        self.procs.append(subprocess.Popen(
            [*DASK, "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env, stdout=log, stderr=log, start_new_session=True))
        wenv = dict(env, **(worker_env or {}))
        for _ in range(n_workers):
            p = subprocess.Popen([*WORKER, self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                  "--host", "127.0.0.1", "--death-timeout", "60"],
                                 env=wenv, stdout=log, stderr=log, start_new_session=True)
            self.procs.append(p)
            self.workers.append(p)
        self.wait_for_workers(n_workers)

    def wait_for_workers(self, n: int, timeout: float = 90) -> None:
        from distributed import Client

        deadline = time.time() + timeout
        while True:
            try:
                with Client(self.address, timeout="5s") as c:
                    c.wait_for_workers(n, timeout=max(1.0, deadline - time.time()))
                    return
            except (OSError, TimeoutError):
                if time.time() > deadline:
                    self.stop()
                    raise

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.stop()


@pytest.fixture(scope="module")
def idx(tmp_path_factory) -> Path:
    return write_idx(tmp_path_factory.mktemp("dasksweepdata") / "idx")


def test_dask_results_equal_local_bit_for_bit(tmp_path, idx, cluster):
    local = ok([*GRID, "-j", "1"], tmp_path / "local", idx)
    remote = ok([*GRID, "--executor", "dask", "--scheduler", cluster.address], tmp_path / "dask", idx)
    assert remote["n_done"] == 4 and local["points"] == remote["points"]
    fl, fd = files_of(tmp_path / "local"), files_of(tmp_path / "dask")
    assert len(fl) >= 24 and fl == fd
    # a rerun through the cluster trains nothing: every point is published already
    again = ok([*GRID, "--executor", "dask", "--scheduler", cluster.address], tmp_path / "dask", idx)
    assert again["n_done"] == 4 and files_of(tmp_path / "dask") == fd


def test_env_gives_the_scheduler(tmp_path, idx, cluster, monkeypatch):
    monkeypatch.setenv("LINCLF_DASK_SCHEDULER", cluster.address)
    s = ok(["-g", "learning_rate=0.01", "--executor", "dask"], tmp_path / "s", idx)
    assert s["n_done"] == 1


def test_workers_without_the_data_fail_their_points_and_the_rest_go_on(tmp_path, idx):
    from linclf_cli.data.synthetic import write_synthetic_cifar10

    client_data = tmp_path / "client-data"
    write_synthetic_cifar10(client_data, n_per_batch=50, seed=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    c = Cluster(tmp_path, n_workers=1, worker_env={"LINCLF_DATA_DIR": str(empty)})
    try:
        env = dict(os.environ, PYTHONPATH=str(REPO), LINCLF_DATA_DIR=str(client_data))
        out = tmp_path / "s"
        r = subprocess.run([sys.executable, "-m", "linclf_cli", "sweep", "--model", "linear", "--epochs", "1",
                            "-g", f"data=cifar10,{idx}", "--executor", "dask", "--scheduler", c.address,
                            "-o", str(out), "--json"], env=env, capture_output=True, text=True, timeout=180)
    finally:
        c.stop()
    assert r.returncode == 1, r.stderr
    s = json.loads(r.stdout)
    status = {p["data"]: p["status"] for p in s["points"]}
    assert status == {"cifar10": "failed", str(idx): "done"}
    (msg,) = s["failed"].values()
    assert "on worker" in msg and "cifar" in msg.lower()
    assert "failed" in " ".join(r.stderr.split())


def test_a_worker_killed_mid_sweep_loses_nothing(tmp_path, idx):
    c = Cluster(tmp_path, n_workers=2)
    try:
        out = tmp_path / "s"
        env = dict(os.environ, PYTHONPATH=str(REPO))
        lrs = ",".join(f"{0.001 * (i + 1):g}" for i in range(6))
        args = [sys.executable, "-m", "linclf_cli", "sweep", "--data", str(idx), "--model", "linear",
                "--epochs", "40", "-g", f"learning_rate={lrs}", "--executor", "dask",
                "--scheduler", c.address, "-o", str(out), "--json", "-q"]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while not list(out.glob("p-*/job.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline
            time.sleep(0.05)
        os.killpg(c.workers[0].pid, signal.SIGKILL)  # mid-sweep: the other points are queued or running
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        c.stop()
    assert proc.returncode == 0, stderr
    s = json.loads(stdout)
    assert s["n_done"] == 6 and not s["failed"]
    assert len(list(out.glob("p-*"))) == 6 and len(list(out.glob("p-*/job.json"))) == 6
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".linclf.lock"]
    # the survivors' points equal a local run's
    local = ok(["-g", f"learning_rate={lrs}", "-j", "2"], tmp_path / "local", idx, ["--epochs", "40"])
    assert local["points"] == s["points"]
    assert files_of(tmp_path / "local") == files_of(out)


def test_unreachable_scheduler_is_a_clear_error_within_seconds(tmp_path, idx):
    out = tmp_path / "s"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "linclf_cli", "sweep", "--data", str(idx), "--model", "linear",
                        "-g", "learning_rate=0.01", "--executor", "dask", "--scheduler",
                        f"tcp://127.0.0.1:{_free_port()}", "-o", str(out)],
                       env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t0
    assert r.returncode == 1, r.stderr
    text = " ".join(r.stderr.split())
    assert "Cannot reach the Dask scheduler" in text and "Traceback" not in r.stderr
    assert took < 20 and not out.exists()


def test_sweep_lambda_through_dask_equals_local(tmp_path, cluster, data_dir):  # real MNIST
    from typer.testing import CliRunner

    from linclf_cli.cli.app import build_app

    runner = CliRunner()
    outs = {}
    for name, extra in (("local", ["-j", "1"]), ("dask", ["--executor", "dask", "--scheduler", cluster.address])):
        out = tmp_path / name
        r = runner.invoke(build_app(only="sweep-lambda"), ["sweep-lambda", "-l", "2", "-l", "0.2", "-e", "1",
                                                           "-o", str(out), "--data-dir", str(data_dir), *extra])
        assert r.exit_code == 0, r.output
        outs[name] = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
                      if p.is_file() and p.name not in ("run.json", ".linclf.lock")}
    assert len(outs["local"]) > 10 and outs["local"] == outs["dask"]


def _train_jobs(out: Path, idx: Path, lrs=(0.01, 0.02, 0.05)):
    from linclf_cli.sweeps import spec as sweep_spec
    from linclf_cli.sweeps.core import plan_points

    s = sweep_spec.SweepSpec(fixed={"data": str(idx), "model": "linear", "epochs": 2},
                             grid={"learning_rate": list(lrs)}).check()
    return [p.job for p in plan_points(s.points(), out, None)]


def test_the_schedulers_pool_hook_runs_jobs_on_the_cluster(tmp_path, idx, cluster):
    """run/report --executor dask: scheduler.run_jobs with the DaskPool executor factory
    trains on the cluster, publishes here, stamps job.json; equal to the local pool's files."""
    from linclf_cli.sweeps import executors
    from linclf_cli.tasks import scheduler

    with executors.Executor("dask", cluster.address, 1) as ex:
        assert ex.jobs >= 2 and ex.factory is not None
        errors = scheduler.run_jobs(_train_jobs(tmp_path / "dask", idx), ex.jobs, None, None,
                                    executor_factory=ex.factory)
    assert errors == {}
    assert scheduler.run_jobs(_train_jobs(tmp_path / "local", idx), 2, None, None) == {}
    fd = files_of(tmp_path / "dask")
    assert len(fd) >= 3 * 6 and fd == files_of(tmp_path / "local")
    assert all(jp.status == "done" for jp in _train_jobs(tmp_path / "dask", idx))  # stamped


SMALL_TASKS = """version: 1
assignments:
  - id: small
    title: "two short TDT4265 runs"
    tasks:
      - id: "a"
        title: "softmax, 1 epoch"
        command: train
        args: {model: softmax, epochs: 1, seed: 0}
      - id: "b"
        title: "softmax, 1 epoch, l2"
        command: train
        args: {model: softmax, epochs: 1, l2: 0.5, seed: 0}
"""


def test_run_with_the_dask_executor_equals_local(tmp_path, cluster, data_dir):  # real MNIST
    from typer.testing import CliRunner

    from linclf_cli.cli.app import build_app

    tf = tmp_path / "tasks.yaml"
    tf.write_text(SMALL_TASKS)
    runner = CliRunner()
    got = {}
    for name, extra in (("local", ["-j", "2"]), ("dask", ["--executor", "dask", "--scheduler", cluster.address])):
        res = tmp_path / name
        r = runner.invoke(build_app(only="run"), ["run", "small", "-f", str(tf), "-r", str(res),
                                                  "--data-dir", str(data_dir), "--json", *extra])
        assert r.exit_code == 0, r.output
        assert sorted(json.loads(r.stdout)["trained"]) == ["small/a", "small/b"]
        got[name] = {str(p.relative_to(res)): p.read_bytes() for p in sorted(res.rglob("*"))
                     if p.is_file() and p.name not in ("run.json", "task.json", ".linclf.lock")}
    assert len(got["local"]) > 10 and got["local"] == got["dask"]


def test_run_and_report_refuse_a_bad_executor_and_an_unreachable_scheduler(tmp_path):
    from typer.testing import CliRunner

    from linclf_cli.cli.app import build_app

    tf = tmp_path / "tasks.yaml"
    tf.write_text(SMALL_TASKS)
    runner = CliRunner()
    for cmd in ("run", "report"):
        r = runner.invoke(build_app(only=cmd), [cmd, "small", "-f", str(tf), "-r", str(tmp_path / cmd),
                                                "--executor", "ray"])
        assert r.exit_code == 2 and "--executor" in r.output, r.output
    t0 = time.monotonic()
    r = runner.invoke(build_app(only="run"), ["run", "small", "-f", str(tf), "-r", str(tmp_path / "r"),
                                              "--executor", "dask", "--scheduler",
                                              f"tcp://127.0.0.1:{_free_port()}"])
    assert r.exit_code == 1 and "Cannot reach the Dask scheduler" in " ".join(r.output.split()), r.output
    assert time.monotonic() - t0 < 30
