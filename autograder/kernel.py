"""Start a kernel with a memory limit: ``python -m autograder.kernel MEGABYTES -- COMMAND…``.

Sets ``RLIMIT_AS`` (the address-space limit) to MEGABYTES and replaces itself with the
kernel's command line, so that a memory bomb in a student's cell ends in a ``MemoryError``
inside that cell (at worst, in the death of that one kernel) instead of exhausting the
grading machine. Standard library only: it runs before every kernel.
"""
from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        sys.exit("usage: python -m autograder.kernel MEGABYTES -- KERNEL_COMMAND…")
    megabytes = int(argv[0])
    if megabytes > 0:
        import resource
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execvp(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
