"""How long `import tnn_lib` takes: the package alone, and with every reference module.

Each figure is the median wall time of ROUNDS fresh interpreters (`python -c ...`), with a
bare interpreter (`python -c pass`) as the baseline; the target is well under 1 s.

    .venv/bin/python bench/import_time.py [--rounds 15]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ["layers", "gradcheck", "divergences", "batchnorm", "dropout", "init", "optim",
           "regularization", "nn", "train", "data"]
CASES = {
    "bare interpreter": "pass",
    "import tnn_lib": "import tnn_lib",
    "tnn_lib + every reference module": "import tnn_lib; " + "; ".join(f"import tnn_lib.{m}" for m in MODULES),
    "import numpy (for scale)": "import numpy",
}


def wall(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args(argv)
    rows = []
    for label, code in CASES.items():
        wall(code)  # warm the file cache
        times = [wall(code) for _ in range(args.rounds)]
        rows.append((label, statistics.median(times), min(times)))
    base = rows[0][1]
    print(f"fresh interpreters, {args.rounds} runs each")
    print(f"{'what':36s} {'median s':>9s} {'min s':>7s} {'over bare':>10s}")
    for label, med, lo in rows:
        print(f"{label:36s} {med:9.3f} {lo:7.3f} {med - base:10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
