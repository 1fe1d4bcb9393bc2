"""The student edition's ``tnn-course``: the self-check only.

Grading, releasing and the class report stay with the instructor; a student runs
``tnn-course check NOTEBOOK``, which gives the messages grading gives for the visible tests.
"""
from __future__ import annotations

import argparse
import sys

from autograder.cli.main import add_check_parser, run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tnn-course", description="Check your tnn-workbook notebook with the "
                                "visible tests and grading's messages. Your instructor grades the submissions.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    add_check_parser(sub)
    return p


def main(argv=None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
