"""Grading speed: ``nbgrader autograde`` for the class vs ``tnn-course grade --workers 1/2``.

    .venv/bin/python bench/grading.py [--assignment 01_divergences] [--students 20] [--per-student]

Builds a synthetic class of STUDENTS submissions of one assignment from the example class
(correct, blank, partial and misconception submissions, repeated), then grades it, each
from a fresh gradebook:

1. ``nbgrader autograde ASSIGNMENT`` for the class (one command, as instructors run it): the
   baseline of the ratios;
2. with --per-student, ``nbgrader autograde ASSIGNMENT --student S`` once per student (a new
   interpreter, nbgrader's imports and a kernel start for every submission);
3. ``tnn-course grade --workers 1`` (one process for the class);
4. ``tnn-course grade --workers 2``.

Prints seconds per submission and the speedups, and checks that all give identical scores
per student (and that workers 1 and 2 give identical grades.csv). Then one submission alone:
``tnn-course grade`` of a class of one, wall time, the median of --rounds runs into a fresh
gradebook and of --rounds runs into a gradebook that has the assignment already (a rerun,
another student: what an instructor grading late submissions sees).

``--stages``: only where one submission's seconds go, step by step, in the parent and in
its worker (``TNN_GRADE_TIMINGS``, :mod:`autograder.runners.timings`), into a fresh gradebook
and into one that has the assignment.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLES = ROOT / "tests" / "fixtures" / "example_class" / "submitted"
NBGRADER_CONFIG = """c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "tnn-workbook"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
c.Execute.timeout = {timeout}
"""


def children_cpu() -> float:
    """CPU seconds (user + system) of the children waited for so far, theirs included."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


CPU: dict = {}   # the CPU seconds of the last run of each timed command: "nbgrader", "ours"


def env() -> dict:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONPATH=str(ROOT),
                MPLBACKEND="Agg")


def synthetic_class(aid: str, n: int, dest: Path) -> list[str]:
    pool = sorted(p.parent.parent.name for p in EXAMPLES.glob(f"*/{aid}/{aid}.ipynb")
                  if not p.parent.parent.name.startswith("hostile-"))
    if not pool:
        sys.exit(f"no example submissions of {aid}: run tests/fixtures/example_class/build.py")
    students = []
    for i in range(n):
        src = pool[i % len(pool)]
        student = f"s{i:03d}-{src}"
        (dest / student / aid).mkdir(parents=True)
        shutil.copy(EXAMPLES / src / aid / f"{aid}.ipynb", dest / student / aid / f"{aid}.ipynb")
        students.append(student)
    return students


def nbgrader_scores(db_url: str, aid: str, students) -> dict:
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        return {s: round(gb.find_submission(aid, s).score, 6) for s in students}


def csv_scores(path: Path) -> dict:
    import csv
    scores: dict = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            scores[row["student"]] = round(scores.get(row["student"], 0.0) + float(row["points"]), 6)
    return scores


def nbgrader_course(aid: str, subs: Path, work: Path, timeout: int, name: str) -> Path:
    course = work / name
    (course / "source").mkdir(parents=True)
    shutil.copytree(ROOT / "solutions" / aid, course / "source" / aid)
    shutil.copytree(subs, course / "submitted")
    (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(root=str(course), timeout=timeout))
    nbgrader = [str(BIN / "nbgrader")]
    subprocess.run(nbgrader + ["generate_assignment", aid, "--force"], cwd=course, env=env(), check=True,
                   capture_output=True)
    return course


def class_nbgrader(aid: str, students, subs: Path, work: Path, timeout: int) -> tuple[float, dict]:
    """``nbgrader autograde ASSIGNMENT``: the class in one command."""
    course = nbgrader_course(aid, subs, work, timeout, "nbgrader-class")
    t0, c0 = time.perf_counter(), children_cpu()
    r = subprocess.run([str(BIN / "nbgrader"), "autograde", aid, "--force"], cwd=course, env=env(),
                       capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    CPU["nbgrader"] = children_cpu() - c0
    if r.returncode != 0:
        print(f"  nbgrader autograde {aid} failed: {r.stderr[-300:]}", file=sys.stderr)
    return seconds, nbgrader_scores(f"sqlite:///{course}/gradebook.db", aid, students)


def per_student_nbgrader(aid: str, students, subs: Path, work: Path, timeout: int) -> tuple[float, dict]:
    course = nbgrader_course(aid, subs, work, timeout, "nbgrader-course")
    nbgrader = [str(BIN / "nbgrader")]
    t0 = time.perf_counter()
    for s in students:
        r = subprocess.run(nbgrader + ["autograde", aid, "--student", s, "--force"], cwd=course, env=env(),
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"  nbgrader autograde {s} failed: {r.stderr[-300:]}", file=sys.stderr)
    seconds = time.perf_counter() - t0
    return seconds, nbgrader_scores(f"sqlite:///{course}/gradebook.db", aid, students)


def ours(aid: str, subs: Path, work: Path, workers: int, timeout: int, out: Path | None = None,
         db: str | None = None) -> tuple[float, Path]:
    out = out or work / f"out-w{workers}"
    cmd = [sys.executable, "-m", "autograder.cli.main", "grade", str(subs), "--assignment", aid, "--workers", str(workers),
           "--timeout", str(timeout), "--output", str(out), "--db", db or f"sqlite:///{work}/gb-w{workers}.db", "-q"]
    t0, c0 = time.perf_counter(), children_cpu()
    r = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    CPU["ours"] = children_cpu() - c0
    if r.returncode != 0:
        sys.exit(f"tnn-course grade --workers {workers} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return seconds, out


def one_submission(aid: str, work: Path, timeout: int, rounds: int) -> tuple[list, list]:
    """(wall, CPU) seconds of ``tnn-course grade`` on a class of one: into a fresh gradebook,
    and into a gradebook that has the assignment already (a new student each time); the
    first round of each is left out (a warm-up: the runtime directory, the disk cache)."""
    fresh, warm = [], []
    warm_db = f"sqlite:///{work}/gb-one-warm.db"
    for i in range(rounds + 1):
        subs = work / f"one-{i}"
        synthetic_class(aid, 1, subs)
        student = next(subs.iterdir())
        student.rename(subs / f"late{i:02d}")
        t, _ = ours(aid, subs, work, 1, timeout, out=work / f"out-one-fresh-{i}", db=f"sqlite:///{work}/gb-one-{i}.db")
        fresh.append((t, CPU["ours"]))
        t, _ = ours(aid, subs, work, 1, timeout, out=work / f"out-one-warm-{i}", db=warm_db)
        if i:            # the first run made the warm gradebook
            warm.append((t, CPU["ours"]))
    return fresh[1:], warm


def stage_breakdown(aid: str, work: Path, timeout: int, warm_db: bool) -> None:
    """One submission graded with ``TNN_GRADE_TIMINGS``: each step of the parent and of the
    worker (:mod:`autograder.runners.timings`), seconds from the command's start (wall), the
    step's own wall seconds, and the CPU seconds of its process so far."""
    tag = "warm" if warm_db else "fresh"
    subs = work / f"stages-{tag}"
    synthetic_class(aid, 1, subs)
    db = f"sqlite:///{work}/gb-stages.db"
    if warm_db:   # the gradebook has the assignment (another student graded before)
        other = work / "stages-other"
        synthetic_class(aid, 1, other)
        ours(aid, other, work, 1, timeout, out=work / "out-stages-other", db=db)
    log = work / f"timings-{tag}.txt"
    t0 = time.time()
    cmd = [sys.executable, "-m", "autograder.cli.main", "grade", str(subs), "--assignment", aid, "--workers", "1",
           "--timeout", str(timeout), "--output", str(work / f"out-stages-{tag}"), "--db", db, "-q"]
    r = subprocess.run(cmd, cwd=ROOT, env=dict(env(), TNN_GRADE_TIMINGS=str(log)), capture_output=True, text=True)
    end = time.time()
    if r.returncode != 0:
        sys.exit(f"tnn-course grade failed ({r.returncode}):\n{r.stderr[-2000:]}")
    print(f"one submission, step by step ({'a gradebook that has the assignment' if warm_db else 'a fresh gradebook'}"
          f", load average {os.getloadavg()[0]:.1f}):")
    print(f"  {'at s':>6s} {'step s':>7s} {'cpu s':>6s}  step (cpu: of its process so far)")
    prev: dict = {}   # pid -> its previous step's time (the writer is a thread of the parent)
    first = None
    for line in log.read_text().splitlines():
        t, cpu, pid, step = line.split(" ", 3)
        first = first or pid
        t = float(t)
        print(f"  {t - t0:6.2f} {t - prev.get(pid, t0):7.2f} {float(cpu):6.2f}  {step}")
        prev[pid] = t
    print(f"  {end - t0:6.2f} {end - prev[first]:7.2f} {'':6s}  parent: the workers ended, the command exited")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assignment", default="01_divergences")
    p.add_argument("--students", type=int, default=20)
    p.add_argument("--timeout", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3, help="runs of the one-submission timing")
    p.add_argument("--per-student", action="store_true", help="also time nbgrader autograde per student (slow)")
    p.add_argument("--skip-nbgrader", action="store_true", help="only time tnn-course grade")
    p.add_argument("--stages", action="store_true",
                   help="only the step-by-step breakdown of one submission (fresh, then warm gradebook)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tnn-bench-grading-"))
    try:
        if args.stages:
            stage_breakdown(args.assignment, work, args.timeout, warm_db=False)
            stage_breakdown(args.assignment, work, args.timeout, warm_db=True)
            return 0
        subs = work / "submitted"
        students = synthetic_class(args.assignment, args.students, subs)
        n = len(students)
        print(f"{n} submissions of {args.assignment} (machine: {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f} at the start)")
        rows, nb_scores = [], {}
        if not args.skip_nbgrader:
            t_cls, nb_scores["nbgrader autograde for the class"] = class_nbgrader(args.assignment, students, subs, work,
                                                                                  args.timeout)
            rows.append(("nbgrader autograde (the class)", t_cls, CPU["nbgrader"]))
            if args.per_student:
                t_nb, nb_scores["nbgrader autograde per student"] = per_student_nbgrader(
                    args.assignment, students, subs, work, args.timeout)
                rows.append(("nbgrader autograde per student", t_nb, float("nan")))
        t1, out1 = ours(args.assignment, subs, work, 1, args.timeout)
        rows.append(("tnn-course grade --workers 1", t1, CPU["ours"]))
        t2, out2 = ours(args.assignment, subs, work, 2, args.timeout)
        rows.append(("tnn-course grade --workers 2", t2, CPU["ours"]))
        base = rows[0][1]
        print(f"{'method':34s} {'total s':>8s} {'s/submission':>13s} {'vs ' + rows[0][0][:24]:>28s} {'cpu s':>7s}")
        for name, t, cpu in rows:
            print(f"{name:34s} {t:8.1f} {t / n:13.2f} {base / t:27.2f}x {cpu:7.1f}")
        s1, s2 = csv_scores(out1 / "grades.csv"), csv_scores(out2 / "grades.csv")
        same12 = (out1 / "grades.csv").read_text() == (out2 / "grades.csv").read_text()
        print(f"workers 1 vs 2: grades.csv identical: {same12}")
        ok = same12 and s1 == s2
        for label, s_nb in nb_scores.items():
            differ = {s: (s_nb[s], s1.get(s)) for s in students if s_nb[s] != s1.get(s)}
            print(f"{label} vs tnn-course: scores identical for {n - len(differ)} of {n} students"
                  + (f"; differ: {differ}" if differ else ""))
            ok = ok and not differ
        print("identical scores: " + ("yes" if ok else "NO"))
        if args.rounds:
            fresh, warm = one_submission(args.assignment, work, args.timeout, args.rounds)
            for label, runs in (("fresh gradebook", fresh), ("gradebook that has the assignment", warm)):
                walls, cpus = [w for w, _ in runs], [c for _, c in runs]
                print(f"one submission, tnn-course grade, {label}: wall median {statistics.median(walls):.2f} s "
                      f"({', '.join(f'{t:.2f}' for t in walls)}), cpu median {statistics.median(cpus):.2f} s "
                      f"(the command, its workers and sandboxes)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
