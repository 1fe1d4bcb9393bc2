"""How long each solution notebook takes to run top to bottom under nbclient.

Executes ``solutions/<id>/<id>.ipynb`` in a fresh kernel (the way the notebook tests and
nbgrader do), ROUNDS times per notebook, and prints the median and the spread. The
target from the course map is well under a minute for every notebook.

    .venv/bin/python bench/notebooks.py [ASSIGNMENT ...] [--rounds 1]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.course import COURSE  # noqa: E402


def run_once(aid: str) -> float:
    path = ROOT / "solutions" / aid / f"{aid}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    client.execute()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    ap.add_argument("--rounds", type=int, default=1, help="runs per notebook (default 1)")
    args = ap.parse_args(argv)
    ids = args.assignments or list(COURSE)
    unknown = [a for a in ids if a not in COURSE]
    if unknown:
        ap.error(f"unknown assignment(s) {unknown}; expected some of {list(COURSE)}")
    rows = []
    for aid in ids:
        times = [run_once(aid) for _ in range(max(1, args.rounds))]
        rows.append((aid, statistics.median(times), min(times), max(times)))
        print(f"  {aid}: done", file=sys.stderr, flush=True)
    print(f"\nsolution notebooks under nbclient (kernel start included), {args.rounds} run(s) each")
    print(f"{'assignment':20s} {'median s':>9s} {'min s':>7s} {'max s':>7s}")
    for aid, med, lo, hi in rows:
        print(f"{aid:20s} {med:9.1f} {lo:7.1f} {hi:7.1f}")
    print(f"\ntotal (medians): {sum(r[1] for r in rows):.1f} s; slowest {max(rows, key=lambda r: r[1])[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
