"""The grading's local workers are forked from the grading process (the first at once, the
others once the run knows how many it needs) and keep nothing of it that outlives it: when
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


def test_a_worker_warmed_for_a_kept_assignment_grades_the_next_one(tmp_path):
    """The first worker boots its sandbox for the first submission found, before the run has
    planned; when that submission is kept from an earlier run, the worker is warmed again for
    the assignment it will grade (another set of answer cells) and grades it right."""
    import json

    import nbformat

    from autograder.release.notebooks import release
    from grading_tools import TINY, grades_by_student, tiny_source
    course = make_course(tmp_path)
    other = tiny_source()
    other.cells = [c for c in other.cells if "linear_forward" not in c.source]   # relu_backward only
    (course / "solutions" / "tinyb").mkdir(parents=True)
    nbformat.write(other, str(course / "solutions" / "tinyb" / "tinyb.ipynb"))
    release(["tinyb"], root=course, quiet=True)
    subs, out, db = tmp_path / "submitted", tmp_path / "out", f"sqlite:///{tmp_path / 'gb.db'}"
    write_submission(subs, "ann", with_answers(course, **CORRECT))
    cmd = [PY, "-m", "autograder.cli.main", "grade", subs, "--course-dir", course, "--output", out, "--db", db,
           "--workers", "1", "-q"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([str(c) for c in cmd], check=True, env=env, capture_output=True)
    answered = nbformat.read(str(course / "notebooks" / "tinyb" / "tinyb.ipynb"), as_version=4)
    for cell in answered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "relu_backward":
            cell.source = CORRECT["relu_backward"]
    (subs / "ann" / "tinyb").mkdir()
    nbformat.write(answered, str(subs / "ann" / "tinyb" / "tinyb.ipynb"))
    second = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-3000:]
    result = json.loads((out / "results" / "ann" / "tinyb.json").read_text())
    cells = result["notebooks"]["tinyb"]["cells"]
    assert [(c["grade_id"], c["status"], c["points"]) for c in cells] == [("test_relu_backward", "passed", 2.0)]
    kept = json.loads((out / "results" / "ann" / f"{TINY}.json").read_text())
    assert sum(c["points"] for c in kept["notebooks"][TINY]["cells"]) == 5.0
    assert set(grades_by_student(out / "grades.csv")) == {"ann"}
