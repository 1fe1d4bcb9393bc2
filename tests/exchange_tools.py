"""A course run through nbgrader's own exchange: an instructor's course directory, an
exchange folder, and students each with their own home directory and nbgrader config.
Used by tests/test_exchange.py and tests/test_jupyterhub.py."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COURSE_ID = "tnn-workbook"

BN_CORRECT = '''def batchnorm_forward(z, gamma, beta, eps=1e-5):
    mean = np.mean(z, axis=0)
    centred = z - mean
    variance = np.mean(centred ** 2, axis=0)
    normalised = centred / np.sqrt(variance + eps)
    return gamma * normalised + beta, (z, normalised, mean, variance, gamma, eps)
'''
BN_UNBIASED = '''def batchnorm_forward(z, gamma, beta, eps=1e-5):
    mean = np.mean(z, axis=0)
    variance = np.var(z, axis=0, ddof=1)
    normalised = (z - mean) / np.sqrt(variance + eps)
    return gamma * normalised + beta, (z, normalised, mean, variance, gamma, eps)
'''


def env_for(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "TNN_", "PYTHONPATH"))}
    env.update(HOME=str(home), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}", **extra)
    return env


def make_course(base: Path, assignments=("02_batchnorm",)) -> dict:
    """An instructor's course directory (a copy of this course's source and release for
    `assignments`), an exchange, and the instructor's nbgrader_config.py."""
    course, exchange, home = base / "course", base / "exchange", base / "instructor"
    for d in (course, exchange, home):
        d.mkdir(parents=True)
    exchange.chmod(0o777)   # nbgrader's exchange: every user may write its inbound
    for a in assignments:
        shutil.copytree(ROOT / "solutions" / a, course / "solutions" / a)
        shutil.copytree(ROOT / "notebooks" / a, course / "notebooks" / a)
    (course / "nbgrader_config.py").write_text(
        "from autograder.course import nbgrader_config\n"
        "c = get_config()  # noqa: F821\n"
        f"c.merge(nbgrader_config({str(course)!r}))\n"
        f"c.Exchange.root = {str(exchange)!r}\n", encoding="utf-8")
    return {"course": course, "exchange": exchange, "home": home}


def make_student(base: Path, student: str, exchange: Path) -> Path:
    """A student's home, with the nbgrader config a JupyterHub image would give them."""
    home = base / "homes" / student
    (home / ".jupyter").mkdir(parents=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        f"c.CourseDirectory.student_id = {student!r}\n", encoding="utf-8")
    return home


TIMES: list = []   # (command, seconds) of every command run, for the tests' printed figures


def nbgrader(*args, cwd: Path, home: Path, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    import time
    t0 = time.monotonic()
    proc = subprocess.run([str(BIN / "nbgrader"), *map(str, args)], cwd=cwd, env=env_for(home), capture_output=True,
                          text=True, timeout=timeout)
    TIMES.append((f"nbgrader {args[0]}", time.monotonic() - t0))
    if check and proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def answer(path: Path, gid: str, source: str) -> None:
    """Write `source` into the answer cell `gid` of the notebook at `path`, as a front end would."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid:
            cell["source"] = source.splitlines(keepends=True)
            break
    else:
        raise AssertionError(f"{path} has no cell {gid}")
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def tnn_course(*args, cwd: Path, home: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    import time
    t0 = time.monotonic()
    proc = subprocess.run([str(BIN / "tnn-course"), *map(str, args)], cwd=cwd, env=env_for(home),
                          capture_output=True, text=True, timeout=timeout)
    TIMES.append((f"tnn-course {args[0]}", time.monotonic() - t0))
    return proc


def times_table() -> str:
    """Median seconds per command over the commands run so far."""
    import statistics
    by = {}
    for name, sec in TIMES:
        by.setdefault(name, []).append(sec)
    return ", ".join(f"{k} {statistics.median(v):.1f} s (x{len(v)})" for k, v in by.items())
