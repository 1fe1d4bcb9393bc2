"""A tiny course (one assignment, two exercises) for the grading tests, built in a temp dir,
and helpers to write submissions of it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TINY = "tiny"

LF_SOLUTION = '''def linear_forward(x, W, b):
    """out = x @ W + b; cache (x, W, b)."""
    ### BEGIN SOLUTION
    return x @ W + b, (x, W, b)
    ### END SOLUTION
'''
RB_SOLUTION = '''def relu_backward(dout, cache):
    """dz = dout * (z > 0); the cache is z."""
    ### BEGIN SOLUTION
    return dout * (cache > 0)
    ### END SOLUTION
'''
HIDDEN_LINE = 'check("linear_forward", linear_forward, seed=424242, N=7, D=5, M=3)  # SECRET-HIDDEN-LINE'


def _meta(grade_id, solution=False, grade=False, points=0, locked=False):
    m = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked, "schema_version": 3}
    if grade:
        m["points"] = points
    return {"nbgrader": m}


def tiny_source() -> nbformat.NotebookNode:
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [
        new_markdown_cell("# A tiny assignment\nThe linear layer and ReLU's backward."),
        new_code_cell("import numpy as np\nimport tnn_lib.layers as ref\nfrom autograder.checks import check"),
        new_code_cell(LF_SOLUTION, metadata=_meta("linear_forward", solution=True)),
        new_code_cell('check("linear_forward", linear_forward, seed=0)',
                      metadata=_meta("test_linear_forward", grade=True, points=1, locked=True)),
        new_code_cell('check("linear_forward", linear_forward, seed=1, N=4, D=3, M=5)\n### BEGIN HIDDEN TESTS\n'
                      + HIDDEN_LINE + '\n### END HIDDEN TESTS',
                      metadata=_meta("test_linear_forward_2", grade=True, points=2, locked=True)),
        new_markdown_cell("## ReLU backward"),
        new_code_cell(RB_SOLUTION, metadata=_meta("relu_backward", solution=True)),
        new_code_cell('check("relu_backward", relu_backward, seed=0)\n### BEGIN HIDDEN TESTS\n'
                      'check("relu_backward", relu_backward, seed=77, N=6, D=4)\n### END HIDDEN TESTS',
                      metadata=_meta("test_relu_backward", grade=True, points=2, locked=True)),
        new_code_cell("out, _ = ref.linear_forward(np.ones((2, 2)), np.eye(2), np.zeros(2))\nout"),
    ]
    return nb


def make_course(base: Path) -> Path:
    """A course directory with solutions/tiny and its release in notebooks/tiny."""
    from autograder.release.notebooks import release
    course = base / "course"
    (course / "solutions" / TINY).mkdir(parents=True, exist_ok=True)
    nbformat.write(tiny_source(), str(course / "solutions" / TINY / f"{TINY}.ipynb"))
    release([TINY], root=course, quiet=True)
    return course


def released(course: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(course / "notebooks" / TINY / f"{TINY}.ipynb"), as_version=4)


def with_answers(course: Path, **answers) -> nbformat.NotebookNode:
    """The released notebook with answer cells replaced: answers[grade_id] = source."""
    nb = released(course)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


CORRECT = {"linear_forward": "def linear_forward(x, W, b):\n    return x @ W + b, (x, W, b)\n",
           "relu_backward": "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n"}


def write_submission(folder: Path, student: str, nb_or_text, layout="nbgrader") -> Path:
    if layout == "nbgrader":
        path = folder / student / TINY / f"{TINY}.ipynb"
    else:
        path = folder / f"{student}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb_or_text, (str, bytes)):
        path.write_bytes(nb_or_text.encode() if isinstance(nb_or_text, str) else nb_or_text)
    else:
        nbformat.write(nb_or_text, str(path))
    return path


def tnn_course(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([PY, "-m", "autograder.cli.main", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)


def grades_by_student(csv_path: Path) -> dict:
    from autograder.runners.grade import read_csv
    out = {}
    for row in read_csv(csv_path):
        out.setdefault(row["student"], []).append(row)
    return out


def dump(obj) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)
