"""The ``tnn-course`` command: release, grade, check, lecture."""
from __future__ import annotations

import argparse
import importlib
import sys


def _release(args) -> int:
    from autograder.release import release
    for path in release(args.assignments or None, root=args.course_dir, db_url=args.db, quiet=not args.verbose):
        print(f"released {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tnn-course", description="Release, grade, self-check and lecture the "
                                "tnn-workbook course.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    r = sub.add_parser("release", help="regenerate notebooks/ from solutions/ with nbgrader")
    r.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="assignment ids (default: all)")
    r.add_argument("--course-dir", default=None, help="the course directory (default: this checkout)")
    r.add_argument("--db", default=None, help="gradebook SQLAlchemy URL (default: sqlite gradebook.db)")
    r.add_argument("-v", "--verbose", action="store_true")
    r.set_defaults(func=_release)
    import importlib.util  # `lecture` lives in autograder/lecture.py when present
    if importlib.util.find_spec("autograder.lecture"):
        getattr(importlib.import_module("autograder.lecture"), "add_parser", lambda sub: None)(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
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
    sys.exit(main())
