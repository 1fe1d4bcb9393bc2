"""The student edition's ``tnn-course``: the self-check only.

Grading, releasing and the class report stay with the instructor; a student runs
``tnn-course check NOTEBOOK``, which gives the messages grading gives for the visible tests.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from autograder.cli import add_check_parser
    p = argparse.ArgumentParser(prog="tnn-course", description="Check your tnn-workbook notebook with the "
                                "visible tests and grading's messages. Your instructor grades the submissions.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    add_check_parser(sub)
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
