"""The grading's local workers are forked from the grading process (the first at once, the
others once that process has imported nbgrader) and keep nothing of it that outlives it: when
the grading process is killed, its locks are free at once and every worker ends by itself."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest
from nbformat.v4 import new_code_cell

from autograder.gradebook.lock import GradingLock
from grading_tools import CORRECT, PY, ROOT, make_course, with_answers, write_submission

pytestmark = pytest.mark.slow


def _children(pid: int) -> list:
    try:
        return psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []


def test_a_killed_grading_leaves_no_lock_held_and_no_worker_behind(tmp_path):
    course = make_course(tmp_path)
    subs = tmp_path / "submitted"
    slow = with_answers(course, **CORRECT)
    slow.cells.insert(1, new_code_cell("import time\ntime.sleep(3)"))
    for student in ("ann", "ben", "cat", "dan"):
        write_submission(subs, student, slow)
    out, db = tmp_path / "out", f"sqlite:///{tmp_path / 'gb.db'}"
    cmd = [PY, "-m", "autograder.cli.main", "grade", subs, "--course-dir", course, "--output", out, "--db", db,
           "--workers", "2", "--timeout", "20", "-q"]
    proc = subprocess.Popen([str(c) for c in cmd], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    workers: list = []
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            workers = _children(proc.pid)
            # both workers started, and the second one has its sandbox: grading is under way
            if len(workers) == 2 and all(w.children() for w in workers):
                break
            time.sleep(0.1)
        assert len(workers) == 2 and proc.poll() is None, "the grading did not start its two workers"
        os.kill(proc.pid, signal.SIGKILL)   # the grading process alone: its workers stay
        proc.wait()
        # its locks died with it: another grading takes them at once (none is held by a worker)
        lock = GradingLock(out, db)
        lock.acquire()
        lock.release()
        # and each worker sees its grading gone and ends, at the latest after its submission
        gone, alive = psutil.wait_procs(workers, timeout=90)
        assert not alive, f"workers still running after their grading was killed: {alive}"
    finally:
        for w in workers:
            try:
                for p in w.children(recursive=True):
                    p.kill()
                w.kill()
            except psutil.NoSuchProcess:
                pass
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
