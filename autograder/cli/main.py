"""The ``tnn-course`` command: release, grade, check, lecture."""
from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys

from autograder import defaults
from autograder.settings import Settings


def _release(args) -> int:
    from autograder.release.notebooks import release  # not in the student edition
    for path in release(args.assignments or None, root=args.course_dir, db_url=args.db, quiet=not args.verbose):
        print(f"released {path}")
    if args.student_edition:
        from autograder.release.edition import write_student_edition  # not in the student edition
        answers = [a for a in (args.answers or "").split(",") if a.strip()]
        folder, archive = write_student_edition(args.student_edition, args.assignments or None, root=args.course_dir,
                                                answers=[a.strip() for a in answers])
        n = sum(1 for p in folder.rglob("*") if p.is_file())
        print(f"student edition: {folder} ({n} files), {archive} ({archive.stat().st_size / 1e6:.2f} MB); "
              f"answers held: {', '.join(answers) or 'none'}")
    elif args.answers:
        raise ValueError("--answers: only with --student-edition DIR")
    return 0


LOCKED = 3   # exit status: another grading holds the output folder or the gradebook


def _grade(args) -> int:
    from autograder.gradebook.lock import GradingLocked  # not in the student edition
    from autograder.runners.grade import grade  # not in the student edition
    try:
        if args.verify:
            return _verify(args)
        if args.submissions is None:
            raise ValueError("say which folder of submissions to grade (or --verify to compare the gradebook "
                             "with the results only)")
        settings = Settings.from_args(args, course=args.course_dir, db_url=args.db)
        summary = grade(args.submissions, assignment=args.assignment, settings=settings, output=args.output,
                        regrade=args.regrade, progress=not args.quiet, scheduler=args.scheduler, wait=args.wait)
    except GradingLocked as err:
        print(f"tnn-course grade: {err}", file=sys.stderr)
        return LOCKED
    n = len(summary.results)
    print(f"graded {n - len(summary.not_graded)} of {n} submissions; grades: {summary.output / 'grades.csv'}, "
          f"report: {summary.output / 'report.html'}, feedback: {summary.output / 'feedback'}/")
    if summary.feedback_for_release:
        print(f"feedback for `nbgrader release_feedback`: {len(summary.feedback_for_release)} pages in "
              f"{summary.feedback_for_release[0].parent.parent.parent}/")
    if summary.graded_now < n:
        print(f"  ({summary.graded_now} graded in this run, {n - summary.graded_now} kept from an earlier one)")
    for student, aid, why in summary.not_graded:
        print(f"  not graded: {student}/{aid}: {why}", file=sys.stderr)
    _say_gradebook(summary.repaired, summary.not_recorded, n)
    global _GRADED
    _GRADED = True
    return summary.exit_status


def _say_gradebook(repaired, not_recorded, n) -> None:
    if repaired:
        print(f"  gradebook: recorded again {len(repaired)} submission(s) that differed from their result files: "
              + ", ".join(f"{s}/{a}" for s, a, _ in repaired))
    for student, aid, why in not_recorded:
        print(f"  NOT in the gradebook as graded: {student}/{aid}: {why}", file=sys.stderr)
    if not_recorded:
        print(f"tnn-course grade: the gradebook differs from the results of {len(not_recorded)} student(s): "
              + ", ".join(sorted({s for s, _, _ in not_recorded})) + "; grades.csv and the result files are right, "
              "the gradebook (formgrader, nbgrader export) is not", file=sys.stderr)
    else:
        print(f"  gradebook: agrees with the result files of all {n} submission(s)")


def _verify(args) -> int:
    from autograder.runners.grade import verify  # not in the student edition
    if args.submissions is not None:
        raise ValueError("--verify compares the gradebook with the results in --output; it takes no SUBMISSIONS")
    v = verify(output=args.output, db_url=args.db, root=args.course_dir, wait=args.wait)
    print(f"checked {v.checked} result file(s) in {v.output} against the gradebook"
          + ("; grades.csv was written again from them" if v.csv_rewritten else "; grades.csv agrees"))
    _say_gradebook(v.repaired, v.not_recorded, v.checked)
    return v.exit_status


def _similarity(args) -> int:
    from autograder.similarity.report import main_similarity  # not in the student edition
    return main_similarity(args.grading_dir, root=args.course_dir, workers=args.workers)


def _check(args) -> int:
    from autograder.cli.selfcheck import main_check  # slow import (see AUTHORING.md)
    return main_check(args.notebook, settings=Settings.from_args(args))


MAX_DEFAULT_WORKERS = defaults.MAX_WORKERS


def add_workers_option(parser, what: str) -> None:
    """The one ``--workers N`` option (grading and the similarity report share it)."""
    parser.add_argument("--workers", type=_positive_int, default=default_workers(), metavar="N",
                        help=f"{what} (default: the CPUs this process may use, at most {MAX_DEFAULT_WORKERS}; "
                        f"here {default_workers()})")


def default_workers() -> int:
    """One grading worker per CPU this process may use, at most MAX_DEFAULT_WORKERS (each
    runs a kernel of up to --memory-mb)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def add_check_parser(sub) -> None:
    """``check``: the one command the student edition's ``tnn-course`` also has."""
    c = sub.add_parser("check", help="run the visible tests of your notebook, with grading's messages",
                       description="Run NOTEBOOK as it is and report each graded test cell: passed, or what "
                       "differed and which misconception it looks like. Exit status 0 when all pass.")
    c.add_argument("notebook", metavar="NOTEBOOK")
    c.add_argument("--timeout", type=_seconds, default=defaults.TIMEOUT_SECONDS, metavar="SECONDS",
                   help=f"time limit of each cell (default {defaults.TIMEOUT_SECONDS:g}, as in grading)")
    c.add_argument("--memory-mb", type=_positive_int, default=defaults.MEMORY_MB, metavar="MIB", help=argparse.SUPPRESS)
    c.set_defaults(func=_check)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tnn-course", description="Release, grade, self-check and lecture the "
                                "tnn-workbook course.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    r = sub.add_parser("release", help="regenerate notebooks/ from solutions/ with nbgrader")
    r.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="assignment ids (default: all)")
    r.add_argument("--course-dir", default=None, help="the course directory (default: this checkout)")
    r.add_argument("--db", default=None, help="gradebook SQLAlchemy URL (default: sqlite gradebook.db)")
    r.add_argument("--student-edition", default=None, metavar="DIR", help="also write what students receive "
                   "(the released notebooks, the student package, a student README) to the new folder DIR, and "
                   "DIR.zip")
    r.add_argument("--answers", default=None, metavar="ID,...", help="with --student-edition: include the references "
                   "(the answers) of these assignments, e.g. those whose deadline has passed (default: none)")
    r.add_argument("-v", "--verbose", action="store_true")
    r.set_defaults(func=_release)

    g = sub.add_parser("grade", help="autograde a class: grades.csv, feedback, report.html",
                       description="Autograde submissions with nbgrader: SUBMISSIONS is nbgrader's "
                       "submitted/<student>/<assignment>/ layout, or a folder of <student>.ipynb files with "
                       "--assignment. Exit status 0 when every submission was graded and the gradebook agrees "
                       "with every result, 1 when some could not be graded or recorded (they are listed), 2 on "
                       "bad input, 3 when another grading holds the output folder or the gradebook.")
    g.add_argument("submissions", metavar="SUBMISSIONS", nargs="?", default=None, help="folder of submissions")
    g.add_argument("--assignment", default=None, metavar="ID", help="grade only this assignment (needed for a "
                   "folder of <student>.ipynb files)")
    where = g.add_mutually_exclusive_group()
    add_workers_option(where, "grade N submissions at a time; results are identical for any N")
    where.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                       help="grade on the workers of this Dask distributed scheduler instead of local "
                       "processes (each worker needs this course installed; see INSTRUCTORS.md)")
    g.add_argument("--timeout", type=_seconds, default=defaults.TIMEOUT_SECONDS, metavar="SECONDS",
                   help=f"time limit of each cell (default {defaults.TIMEOUT_SECONDS:g}, as in tnn-course check)")
    g.add_argument("--budget", type=_seconds, default=defaults.BUDGET_SECONDS, metavar="SECONDS",
                   help="time limit of one submission in all: its cells, their replays after a time-out and "
                   "its test cells; past it the tests not yet graded are timed out and those graded keep their "
                   f"points (default {defaults.BUDGET_SECONDS:g})")
    g.add_argument("--output", default="grading", metavar="DIR", help="where grades.csv, feedback/ and "
                   "report.html go (default grading/)")
    g.add_argument("--db", default=None, metavar="URL", help="gradebook SQLAlchemy URL (default: sqlite "
                   "gradebook.db in the course directory)")
    g.add_argument("--course-dir", default=None, help="the course directory (default: this checkout)")
    g.add_argument("--memory-mb", type=_positive_int, default=defaults.MEMORY_MB, metavar="MIB",
                   help=f"memory (address-space) limit of each student process (default {defaults.MEMORY_MB})")
    g.add_argument("--regrade", action="store_true", help="grade every submission again, even those whose "
                   "results in DIR are up to date")
    g.add_argument("--wait", action="store_true", help="when another grading holds the output folder or the "
                   "gradebook, wait for it to finish instead of stopping (exit status 3)")
    g.add_argument("--verify", action="store_true", help="only compare the gradebook with the result files in DIR "
                   "(and grades.csv with them), record again what differs, and say what could not be")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_grade)

    add_check_parser(sub)

    s = sub.add_parser("similarity", help="(re)build similarity.html and similarity.csv of graded results",
                       description="Compare, per exercise, every student's answer with the classmates' answers, "
                       "the tnn_lib reference, the solution and the catalogue's variants (winnowed fingerprints, "
                       "weighed against the class), from the result files of GRADING_DIR; writes "
                       "GRADING_DIR/similarity.html and similarity.csv. No student code is run.")
    s.add_argument("grading_dir", metavar="GRADING_DIR", help="the --output folder of tnn-course grade")
    s.add_argument("--course-dir", default=None, help="the course directory (default: this checkout)")
    add_workers_option(s, "compare the exercises in N processes")
    s.set_defaults(func=_similarity)

    if importlib.util.find_spec("autograder.lecture.serve") is not None:
        from autograder.lecture.serve import add_parser  # not in the student edition
        add_parser(sub)
    return p


def main(argv=None) -> int:
    return run(build_parser(), argv)


# set by a `grade` command that ran to its end: its workers have ended, its files and the
# gradebook are written and closed, its locks released
_GRADED = False


def entry() -> None:
    """The ``tnn-course`` command (its console script, ``python -m autograder.cli.main``):
    :func:`main`, then the exit. After a grading, the process exits without tearing its
    interpreter down (nbgrader's, SQLAlchemy's and matplotlib's modules: 0.3 s on a quiet
    2-core machine, 1.5 s when it is loaded, as long as a small grading's result writing),
    as its workers do; nothing is left to run then. Every other command exits as usual."""
    status = main()
    if _GRADED:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(status)
    sys.exit(status)


def run(parser: argparse.ArgumentParser, argv=None) -> int:
    """Parse `argv` with `parser` and run the chosen command (also the student edition's)."""
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"tnn-course {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    entry()
