"""What no submission can bend (issue 21): a cell that hangs costs only itself, every
submission has a time budget, a hidden test's case never shows in the feedback, complex
results fail, and notebook files in older or odd encodings are read.

The tiny course of grading_tools; each student here is written for one of these."""
from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest

from autograder.runners.grade import grade
from grading_tools import CORRECT, TINY, make_course, with_answers, write_submission

pytestmark = pytest.mark.slow

HANG = "while True:  # my experiment, never finished\n    pass\n"
LEAKY_RELU = '''import sys


def relu_backward(dout, cache):
    print("LEAK" + "-STDERR", dout.shape, float(dout.flat[0]), file=sys.stderr)
    print("LEAK" + "-STDOUT", dout.shape)
    if dout.shape == tuple([6, 4]):   # only the hidden case
        raise ValueError("LEAK" + f"-RAISED {dout.shape} {float(dout.flat[0])}")
    return dout * (cache > 0)
'''
LEAKY_LINEAR = '''import sys


def linear_forward(x, W, b):
    print("LEAK" + "-STDERR", x.shape, file=sys.stderr)
    if x.shape[0] == 7:        # only the hidden case is wrong
        return x @ W + b + 1.0, (x, W, b)
    return x @ W + b, (x, W, b)
'''
WRONG_VISIBLE = "def linear_forward(x, W, b):\n    return x @ W - b, (x, W, b)\n"
COMPLEX = "def relu_backward(dout, cache):\n    return dout * (cache > 0) + 5j\n"


def _nb(course, cells_before=(), **answers):
    nb = with_answers(course, **dict(CORRECT, **answers))
    for i, src in enumerate(cells_before):
        nb.cells.insert(2 + i, nbformat.v4.new_code_cell(src))
    return nb


def _rows(out, student):
    result = json.loads((out / "results" / student / f"{TINY}.json").read_text())
    return {c["grade_id"]: c for c in result["notebooks"][TINY]["cells"]}, result


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("bounds")
    course = make_course(base)
    subs = base / "submitted"
    # eight cells that hang (more than any cap on restarts), then the correct answers
    write_submission(subs, "hangs-then-correct", _nb(course, [HANG] * 8))
    write_submission(subs, "leaky-hidden", _nb(course, relu_backward=LEAKY_RELU, linear_forward=LEAKY_LINEAR))
    write_submission(subs, "wrong-visible", _nb(course, linear_forward=WRONG_VISIBLE))
    write_submission(subs, "complex", _nb(course, relu_backward=COMPLEX))
    nb = _nb(course)
    write_submission(subs, "bom", b"\xef\xbb\xbf" + nbformat.writes(nb).encode())
    write_submission(subs, "nbformat3", json.dumps(_as_v3(nb)))
    write_submission(subs, "deep-json", "[" * 100_000 + "]" * 100_000)
    summary = grade(subs, workers=1, timeout=2, output=base / "out", root=course, memory_mb=2048, progress=False)
    return {"base": base, "course": course, "out": base / "out", "summary": summary}


def _as_v3(nb) -> dict:
    """The notebook as nbformat 3 writes it (cells in a worksheet, `input` for code)."""
    cells = []
    for c in nb.cells:
        if c.cell_type == "code":
            cells.append({"cell_type": "code", "collapsed": False, "input": c.source, "language": "python",
                          "metadata": dict(c.metadata), "outputs": [], "prompt_number": None})
        else:
            cells.append({"cell_type": c.cell_type, "metadata": dict(c.metadata), "source": c.source})
    return {"metadata": {"name": ""}, "nbformat": 3, "nbformat_minor": 0,
            "worksheets": [{"cells": cells, "metadata": {}}]}


def _full(rows):
    return {g: (c["points"], c["status"]) for g, c in rows.items()}


FULL = {"test_linear_forward": (1.0, "passed"), "test_linear_forward_2": (2.0, "passed"),
        "test_relu_backward": (2.0, "passed")}


def test_cells_that_hang_cost_only_themselves(graded):
    rows, result = _rows(graded["out"], "hangs-then-correct")
    assert _full(rows) == FULL, _full(rows)
    notes = result["notebooks"][TINY]["notes"]
    assert sum("did not finish within 2 s" in n for n in notes) == 8, notes


def test_a_hidden_case_shows_neither_its_inputs_nor_what_the_code_printed_or_raised(graded):
    rows, _ = _rows(graded["out"], "leaky-hidden")
    assert rows["test_linear_forward"]["status"] == "passed"          # visible cases: right
    for gid in ("test_linear_forward_2", "test_relu_backward"):        # wrong on the hidden case only
        assert rows[gid]["points"] == 0 and rows[gid]["status"] in ("failed", "error"), rows[gid]
        msg = rows[gid]["message"]
        assert "hidden test case" in msg, msg
        for leak in ("LEAK-STDERR", "LEAK-STDOUT", "LEAK-RAISED (", "inputs:", "(7, 5)", "(6, 4)", "array ("):
            assert leak not in msg, (gid, leak, msg)
    page = (graded["out"] / "feedback" / "leaky-hidden" / f"{TINY}.html").read_text()
    for leak in ("LEAK-STDERR", "LEAK-STDOUT", "LEAK-RAISED (", "inputs:", "(7, 5)", "(6, 4)"):
        assert leak not in page, leak
    autograded = (graded["out"] / "autograded" / "leaky-hidden" / TINY / f"{TINY}.ipynb").read_text()
    assert "LEAK-STDERR" not in autograded and "(6, 4)" not in autograded


def test_a_visible_case_still_shows_its_inputs(graded):
    rows, _ = _rows(graded["out"], "wrong-visible")
    msg = rows["test_linear_forward"]["message"]
    assert rows["test_linear_forward"]["status"] in ("failed", "misconception") and "inputs: x: array (" in msg, msg


def test_a_complex_result_fails_with_a_message(graded):
    rows, _ = _rows(graded["out"], "complex")
    assert rows["test_relu_backward"]["points"] == 0 and rows["test_relu_backward"]["status"] == "failed"
    assert "complex" in rows["test_relu_backward"]["message"], rows["test_relu_backward"]["message"]
    assert rows["test_linear_forward"]["status"] == "passed"


def test_a_bom_and_nbformat_3_are_read_and_deep_json_is_an_invalid_notebook(graded):
    for student in ("bom", "nbformat3"):
        rows, result = _rows(graded["out"], student)
        assert result["notebooks"][TINY]["state"] == "graded", result["notebooks"][TINY]["message"]
        assert _full(rows) == FULL, (student, _full(rows))
    rows, result = _rows(graded["out"], "deep-json")
    assert result["notebooks"][TINY]["state"] == "invalid-notebook", result["notebooks"][TINY]
    assert {c["status"] for c in rows.values()} == {"invalid-notebook"}


def test_compare_refuses_complex_and_text_where_real_numbers_are_expected():
    from autograder.checks import compare
    exp = np.array([1.0, 2.0])
    assert compare(exp.copy(), exp).ok and compare([1, 2], exp).ok and compare(np.array([1, 2]), exp).ok
    for got, word in ((exp + 5j, "complex"), (exp + 0j, "complex"), ([1 + 0j, 2], "complex"),
                      (np.array(["1.0", "2.0"]), "text"), (np.array([1 + 5j, 2], dtype=object), "complex")):
        out = compare(got, exp)
        assert not out.ok and word in out.detail, (got, out.detail)
    assert not compare(complex(1, 5), 1.0).ok and "complex" in compare(complex(1, 5), 1.0).detail
    assert compare(np.array([1 + 5j]), np.array([1 + 5j])).ok    # where complex is expected, complex compares


# ----------------------------------------------------------------------------------------
# the budget of a submission
# ----------------------------------------------------------------------------------------
SLOW = "import time\ntime.sleep(6)  # a slow experiment\n"
HANG_RELU = "def relu_backward(dout, cache):\n    while True:\n        pass\n"


def test_past_its_budget_a_submission_keeps_what_was_graded_and_the_rest_times_out(tmp_path):
    """Cells take 12 s of a 20 s budget (each within its 8 s limit); the linear tests pass;
    relu_backward never returns, and the budget, not its cell limit, ends it."""
    course = make_course(tmp_path)
    subs = tmp_path / "submitted"
    write_submission(subs, "slow", _nb(course, [SLOW, SLOW], relu_backward=HANG_RELU))
    summary = grade(subs, workers=1, timeout=8, budget=20, output=tmp_path / "out", root=course, memory_mb=2048,
                    progress=False)
    assert not summary.not_graded
    rows, result = _rows(tmp_path / "out", "slow")
    assert _full(rows) == {"test_linear_forward": (1.0, "passed"), "test_linear_forward_2": (2.0, "passed"),
                           "test_relu_backward": (0.0, "timeout")}, _full(rows)
    assert "budget" in rows["test_relu_backward"]["message"], rows["test_relu_backward"]["message"]
    assert any("time budget (20 s)" in n for n in result["notebooks"][TINY]["notes"])


def test_the_budget_option_and_its_default():
    from autograder import defaults
    from autograder.cli.main import build_parser
    args = build_parser().parse_args(["grade", "subs"])
    assert args.budget == defaults.BUDGET_SECONDS > defaults.TIMEOUT_SECONDS
    assert build_parser().parse_args(["grade", "subs", "--budget", "90"]).budget == 90
