"""A real Dask cluster on 127.0.0.1 for the tests and the benchmark: the `dask scheduler`
and `dask worker` commands of the `distributed` package, each a process of its own."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).parent / "dask"


def _env(extra: dict | None = None) -> dict:
    env = dict(os.environ, TNN_COURSE_DIR=str(ROOT), PYTHONPATH=str(ROOT), MPLBACKEND="Agg",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               DASK_DISTRIBUTED__WORKER__DAEMON="False")
    env.update(extra or {})
    return env


class Cluster:
    """`dask scheduler` and named `dask worker` processes (one single-threaded worker
    process each, under its nanny, as an instructor starts them)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="tnn-dask-test-"))
        self.file = self.dir / "scheduler.json"
        self.logs = []
        self.scheduler = self._spawn("scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                                   "--no-dashboard", "--scheduler-file", self.file])
        deadline = time.time() + 60
        while not self.file.is_file() and time.time() < deadline:
            if self.scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited: {self.log_text('scheduler')}")
            time.sleep(0.2)
        self.address = json.loads(self.file.read_text())["address"]
        self.workers: dict[str, subprocess.Popen] = {}

    def _spawn(self, name, cmd, env=None):
        log = open(self.dir / f"{name}.log", "wb")
        self.logs.append(log)
        return subprocess.Popen([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT, env=env or _env(),
                                start_new_session=True, cwd=str(self.dir))

    def log_text(self, name) -> str:
        return (self.dir / f"{name}.log").read_text(errors="replace")[-4000:]

    def start_worker(self, name: str, env: dict | None = None, wait: bool = True) -> None:
        self.workers[name] = self._spawn(name, [DASK, "worker", "--scheduler-file", self.file, "--name", name,
                                                "--nworkers", "1", "--nthreads", "1", "--memory-limit", "0",
                                                "--no-dashboard", "--host", "127.0.0.1", "--local-directory", self.dir / name],
                                               env=_env(env))
        if wait:
            self.wait_for(lambda info: name in {w["name"] for w in info.values()}, f"worker {name}")

    def stop_worker(self, name: str) -> None:
        proc = self.workers.pop(name)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.wait_for(lambda info: name not in {w["name"] for w in info.values()}, f"worker {name} to leave")

    def client(self):
        from distributed import Client
        return Client(self.address, timeout=30, set_as_default=False)

    def workers_info(self) -> dict:
        with self.client() as c:
            return c.scheduler_info(n_workers=-1)["workers"]

    def wait_for(self, cond, what: str, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        with self.client() as c:
            while time.time() < deadline:
                if cond(c.scheduler_info(n_workers=-1)["workers"]):
                    return
                time.sleep(0.3)
        raise RuntimeError(f"timed out waiting for {what}")

    def close(self) -> None:
        for name in list(self.workers):
            proc = self.workers.pop(name)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        try:
            os.killpg(self.scheduler.pid, signal.SIGTERM)
            self.scheduler.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.scheduler.pid, signal.SIGKILL)
            self.scheduler.wait()
        for log in self.logs:
            log.close()
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)
