"""The student's self-check vs running the notebook's cells: what ``tnn-course check`` adds.

    .venv/bin/python bench/selfcheck.py [--assignment 01_divergences] [--student correct] [--rounds 5]

One notebook of the example class (`--student`'s submission of `--assignment`), in a copy of
its released folder (its data files beside it, as a student has it), run three ways, each a
new process, --rounds times:

1. ``tnn-course check NOTEBOOK`` (the self-check: every cell, then the visible test cells
   with grading's messages);
2. the cells themselves: a new Python process that runs every code cell of the notebook, in
   order, in an IPython shell (what the notebook costs by itself, with no checking around
   it: the floor of any self-check that runs the cells);
3. ``jupyter nbconvert --to notebook --execute`` (a kernel started, the cells run, the
   notebook written): how a student runs the whole notebook from the command line.

Prints the median wall and CPU seconds (the process and its children) of each, and the
self-check's overhead over 2 and over 3. The issue's goal: the self-check within 1 s of
running the cells (row 2). Reports the load average beside the figures.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLES = ROOT / "tests" / "fixtures" / "example_class" / "submitted"

RUN_CELLS = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
nb = json.load(open(sys.argv[1], encoding="utf-8"))
shell = InteractiveShell.instance(colors="nocolor")
shell.register_magic_function(lambda line="": None, "line", "matplotlib")
shell.enable_gui = lambda gui=None: None
failed = 0
for cell in nb["cells"]:
    if cell["cell_type"] == "code":
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        r = shell.run_cell(src, store_history=False, silent=True)
        failed += not r.success
print(f"{failed} cells raised")
"""


def env() -> dict:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg")


def timed(cmd, cwd) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system, this child and what it waited for) of `cmd`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, r.stdout + r.stderr


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assignment", default="01_divergences")
    p.add_argument("--student", default="correct", help="whose submission of the example class")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--skip-nbconvert", action="store_true")
    args = p.parse_args(argv)
    aid = args.assignment
    src = EXAMPLES / args.student / aid / f"{aid}.ipynb"
    if not src.is_file():
        sys.exit(f"no example submission {src}: run tests/fixtures/example_class/build.py")
    work = Path(tempfile.mkdtemp(prefix="tnn-bench-selfcheck-"))
    try:
        folder = work / aid
        shutil.copytree(ROOT / "notebooks" / aid, folder)
        shutil.copy(src, folder / f"{aid}.ipynb")
        (work / "run_cells.py").write_text(RUN_CELLS)
        nb = f"{aid}.ipynb"
        ways = {"tnn-course check": [sys.executable, "-m", "autograder.cli.main", "check", nb],
                "the cells in IPython": [sys.executable, str(work / "run_cells.py"), nb]}
        if not args.skip_nbconvert:
            ways["jupyter nbconvert --execute"] = [str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                                                   nb, "--output", str(work / "executed.ipynb")]
        print(f"{aid}.ipynb of the example class's {args.student!r} submission; {args.rounds} rounds "
              f"(machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start)")
        times: dict = {k: ([], []) for k in ways}
        for _ in range(args.rounds):
            for name, cmd in ways.items():   # interleaved: a change of load hits every way alike
                wall, cpu, text = timed(cmd, folder)
                times[name][0].append(wall)
                times[name][1].append(cpu)
                last = text.strip().splitlines()[-1:] if text.strip() else ["(no output)"]
                if name == "tnn-course check" and "visible test cells pass" not in last[0]:
                    sys.exit(f"tnn-course check failed: {text[-2000:]}")
        med = {k: (statistics.median(w), statistics.median(c)) for k, (w, c) in times.items()}
        print(f"{'way':30s} {'wall s':>8s} {'cpu s':>8s}   (medians; every round's wall)")
        for name, (w, c) in med.items():
            print(f"{name:30s} {w:8.2f} {c:8.2f}   ({', '.join(f'{t:.2f}' for t in times[name][0])})")
        chk = med["tnn-course check"]
        for base in list(ways)[1:]:
            b = med[base]
            print(f"tnn-course check over {base}: {chk[0] - b[0]:+.2f} s wall, {chk[1] - b[1]:+.2f} s cpu")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
