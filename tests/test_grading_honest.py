"""Honest notebooks, edited or re-saved as Jupyter front ends do, keep every point.

Each variant below starts from the example class's correct 00_backprop notebook and changes
it the way a student or a front end might: a test cell copied, a test cell's nbgrader
metadata edited, an answer cell duplicated, cells moved, nbformat 4.4 without cell ids,
outputs and widget state saved, sources as lists of lines, extra cell metadata; and correct
answers written in unusual ways (np.einsum, loops, Python floats, a helper in the
student's own cell). Every one must grade exactly like the correct notebook: never
grader-error, never a lost point.
"""
from __future__ import annotations

import copy
import json
import os

import nbformat
import pytest

from autograder.runners.grade import grade
from grading_tools import ROOT

pytestmark = pytest.mark.slow

AID = "00_backprop"
CORRECT = ROOT / "tests" / "fixtures" / "example_class" / "submitted" / "correct" / AID / f"{AID}.ipynb"
EXPECTED = json.loads((ROOT / "tests" / "fixtures" / "example_class" / "expected.json").read_text())["students"]["correct"][AID]


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _index(nb, gid):
    return next(i for i, c in enumerate(nb["cells"]) if _gid(c) == gid)


def _code(source, **meta):
    return {"cell_type": "code", "metadata": meta, "source": source, "outputs": [], "execution_count": None}


def variants() -> dict[str, dict]:
    base = json.loads(CORRECT.read_text())
    out = {}

    nb = copy.deepcopy(base)  # a test cell copied (same id and metadata) and pasted below itself
    i = _index(nb, "test_linear_forward")
    dup = copy.deepcopy(nb["cells"][i])
    dup["id"] = "pasted-copy"
    nb["cells"].insert(i + 1, dup)
    out["copied-test"] = nb

    nb = copy.deepcopy(base)  # a test cell's nbgrader metadata edited in the metadata editor
    i = _index(nb, "test_linear_backward")
    nb["cells"][i]["metadata"]["nbgrader"].update(grade=False, solution=True)
    out["test-metadata-edited"] = nb

    nb = copy.deepcopy(base)  # an answer cell duplicated, so two cells claim one grade id
    i = _index(nb, "relu_backward")
    dup = copy.deepcopy(nb["cells"][i])
    dup["id"] = "dup-answer"
    nb["cells"].insert(_index(nb, "tanh_backward"), dup)
    out["duplicate-grade-ids"] = nb

    nb = copy.deepcopy(base)  # the imports cell moved down, along with the first poll
    imports = nb["cells"].pop(1)
    poll = nb["cells"].pop(_index(nb, "poll_dead_relu_gradient"))
    at = _index(nb, "numerical_gradient")
    nb["cells"][at:at] = [poll, imports]
    out["imports-moved-with-a-poll"] = nb

    nb = copy.deepcopy(base)  # answer cells reordered
    a = nb["cells"].pop(_index(nb, "tanh_backward"))
    nb["cells"].insert(_index(nb, "linear_forward"), a)
    out["answers-reordered"] = nb

    nb = copy.deepcopy(base)  # nbformat 4.4: no cell ids
    nb["nbformat_minor"] = 4
    for c in nb["cells"]:
        c.pop("id", None)
    out["nbformat-4.4-no-ids"] = nb

    nb = copy.deepcopy(base)  # saved after running: outputs, counts, widget state, extra metadata
    for k, c in enumerate(nb["cells"]):
        c["metadata"].update(collapsed=False, scrolled=True, tags=["saved"], jupyter={"source_hidden": False})
        if c["cell_type"] == "code":
            c["execution_count"] = k
            c["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran\n"]},
                            {"output_type": "error", "ename": "AssertionError", "evalue": "old failure",
                             "traceback": ["AssertionError: old failure"]}]
        c["source"] = c["source"].splitlines(keepends=True) if isinstance(c["source"], str) else c["source"]
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {"abc": {"model_name": "FloatSliderModel", "model_module": "@jupyter-widgets/controls",
                          "model_module_version": "2.0.0", "state": {"value": 0.5}}}, "version_major": 2,
        "version_minor": 0}}
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.12.1"}
    out["saved-with-outputs-and-widgets"] = nb

    nb = copy.deepcopy(base)  # correct answers written in unusual ways
    nb["cells"][_index(nb, "linear_forward")]["source"] = (
        "def linear_forward(x, W, b):\n"
        "    return np.einsum('nd,dm->nm', x, W) + b, (x, W, b)\n")
    nb["cells"][_index(nb, "relu_backward")]["source"] = (
        "def relu_backward(dout, cache):\n"
        "    z = cache\n"
        "    dz = np.zeros_like(dout)\n"
        "    for idx in np.ndindex(*dout.shape):\n"
        "        dz[idx] = dout[idx] if z[idx] > 0 else 0.0\n"
        "    return dz\n")
    nb["cells"][_index(nb, "sigmoid_backward")]["source"] = (
        "def sigmoid_backward(dout, cache):\n"
        "    return my_helper_sigmoid_grad(dout, cache)\n")
    helper = _code("import math\n\ndef my_helper_sigmoid_grad(dout, cache):\n"
                   "    y = np.asarray(cache, dtype=float)\n"
                   "    flat = [float(d) * float(v) * (1.0 - float(v)) for d, v in zip(dout.ravel(), y.ravel())]\n"
                   "    return np.array(flat).reshape(dout.shape)\n")
    helper["id"] = "students-own-helper"
    nb["cells"].insert(_index(nb, "sigmoid_backward"), helper)
    out["unusual-correct-answers"] = nb
    return out


def test_honest_edits_and_resaves_keep_every_point(tmp_path):
    subs = tmp_path / "submitted"
    for name, nb in variants().items():
        nbformat.validate(nbformat.from_dict(copy.deepcopy(nb))) if name != "copied-test" else None
        d = subs / name / AID
        d.mkdir(parents=True)
        (d / f"{AID}.ipynb").write_text(json.dumps(nb, indent=1))
    summary = grade(subs, workers=2, timeout=10, output=tmp_path / "out", db_url=f"sqlite:///{tmp_path / 'gb.db'}",
                    root=ROOT, progress=False)
    assert summary.exit_status == 0, summary.not_graded
    for r in summary.results:
        nbres = r["notebooks"][AID]
        assert nbres["state"] == "graded", (r["student"], nbres["message"])
        got = {c["grade_id"]: (c["points"], c["status"]) for c in nbres["cells"]}
        want = {g: (e["points"], e["status"]) for g, e in EXPECTED.items()}
        assert got == want, (r["student"], {g: (got[g], want[g]) for g in got if got[g] != want.get(g)},
                             [c["message"] for c in nbres["cells"] if c["status"] != "passed"])
    assert os.path.isfile(tmp_path / "out" / "grades.csv")
