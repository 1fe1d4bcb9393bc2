"""Mutation score of the course: every single-site mutant of every answer cell of solutions/
against the exercise's own test cells, visible and hidden (tests/mutation_tools.py says how).

    .venv/bin/python bench/mutation.py [assignment ...] [--write-new FILE]

Prints killed/total per notebook and in all, the seconds it took, and every survivor with its
reason from tests/mutation_survivors.txt, or NEW when the file does not list it. Exit status 1
when a survivor is not listed (the suite's slow test `test_mutation.py` asserts the same)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.course import ASSIGNMENTS  # noqa: E402
from mutation_tools import read_survivors, run_assignment, mutants_of, notebook_plan  # noqa: E402


def main(argv):
    write_new = None
    if "--write-new" in argv:
        i = argv.index("--write-new")
        write_new, argv = Path(argv[i + 1]), argv[:i] + argv[i + 2:]
    aids = argv or list(ASSIGNMENTS)
    listed = read_survivors()
    total_killed = total = 0
    new = []
    t0 = time.perf_counter()
    for aid in aids:
        killed, survived, seconds = run_assignment(aid)
        n = killed + len(survived)
        total_killed, total = total_killed + killed, total + n
        print(f"{aid:28s} killed {killed:4d} / {n:4d}   survivors {len(survived):3d}   {seconds:6.1f} s", flush=True)
        for key, src in survived:
            reason = listed.get(key)
            print(f"    {key}  # {reason or 'NEW: not listed in tests/mutation_survivors.txt'}")
            if reason is None:
                new.append(key)
    print(f"all: killed {total_killed} / {total} mutants ({100 * total_killed / max(total, 1):.1f} %), "
          f"{total - total_killed} survivors, {len(new)} not listed; {time.perf_counter() - t0:.0f} s")
    if write_new:
        write_new.write_text("".join(f"{k}  # \n" for k in new))
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
