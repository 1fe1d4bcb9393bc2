"""What the class report ``report.html`` costs the grading parent: CPU seconds
(``time.process_time``) and wall of ``render(results)`` for a class of 20 and of 2,000
(tests/report_class.py), and, in fresh interpreters, ``import autograder.pages.report`` then
one ``render`` of the class of 20 (the end of a `tnn-course grade`), with the chart library
each run imported. The machine's load average is printed with the figures.

    .venv/bin/python bench/report.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

FRESH = """
import json, sys, time
sys.path.insert(0, {tests!r})
from report_class import class_results
results = class_results(20)
c0, w0 = time.process_time(), time.perf_counter()
import autograder.pages.report as report
c1, w1 = time.process_time(), time.perf_counter()
report.render(results)
c2, w2 = time.process_time(), time.perf_counter()
print(json.dumps({{"import_cpu": c1 - c0, "import_wall": w1 - w0, "render_cpu": c2 - c1, "render_wall": w2 - w1,
                  "matplotlib": "matplotlib" in sys.modules, "pygal": "pygal" in sys.modules}}))
"""


def fresh() -> dict:
    out = subprocess.run([sys.executable, "-c", FRESH.format(tests=str(ROOT / "tests"))], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    runs = [fresh() for _ in range(args.rounds + 1)][1:]  # the first warms the file cache
    print(f"fresh interpreter, import then render(class of 20), {args.rounds} runs, medians "
          f"(matplotlib imported: {runs[0]['matplotlib']}, pygal imported: {runs[0]['pygal']})")
    for key in ("import_cpu", "import_wall", "render_cpu", "render_wall"):
        print(f"  {key:12s} {statistics.median(r[key] for r in runs):7.3f} s")
    total = [r["import_cpu"] + r["render_cpu"] for r in runs]
    print(f"  {'import+render cpu':12s} {statistics.median(total):7.3f} s")

    from autograder.pages.report import render
    from report_class import class_results
    for n in (20, 2000):
        results = class_results(n)
        render(results)  # warm: imports, fonts
        cpu, wall = [], []
        for _ in range(args.rounds):
            c0, w0 = time.process_time(), time.perf_counter()
            render(results)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        print(f"render(class of {n:4d}), warm, {args.rounds} runs: cpu median {statistics.median(cpu):.3f} s, "
              f"wall median {statistics.median(wall):.3f} s")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
