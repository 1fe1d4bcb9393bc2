"""Run ``tnn-course`` with every gradebook write counted, and SIGKILL at the Nth.

``python kill_at_write.py count FILE -- ARGS``: run ``tnn-course ARGS`` and write the number of
INSERT/UPDATE/DELETE statements the grading process sent to the gradebook to FILE.
``python kill_at_write.py kill N -- ARGS``: the same, but right after the Nth such statement
has run, before its transaction commits, SIGKILL the whole process group (the grading
process, its workers and their sandboxes: start this in a session of its own), as a crash
would. Submissions are written one per transaction here (the grader writes what is waiting
at once), so the count is the same in every run. A test-only tool: the grader has no hook for
it; the count comes from SQLAlchemy's own events in this process."""
from __future__ import annotations

import os
import signal
import sys

from sqlalchemy import event
from sqlalchemy.engine import Engine

WRITES = ("INSERT", "UPDATE", "DELETE")


def main(argv: list[str]) -> int:
    mode, arg, sep, *args = argv
    assert mode in ("count", "kill") and sep == "--", argv
    seen = [0]

    @event.listens_for(Engine, "after_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip()[:6].upper() in WRITES:
            seen[0] += 1
            if mode == "kill" and seen[0] == int(arg):
                os.killpg(os.getpgid(0), signal.SIGKILL)

    # one submission per gradebook transaction, so that the run's statements are the same
    # in number from run to run: the bulk writer takes whatever results are waiting, and how
    # many wait depends on timing (a count taken in one run was not reached in another)
    import functools
    from autograder.gradebook import writer
    from autograder.runners import grade
    grade.batches = functools.partial(writer.batches, most=1)

    from autograder.cli.main import main as cli
    try:
        return cli(args)
    finally:
        if mode == "count":
            with open(arg, "w") as f:
                f.write(str(seen[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
