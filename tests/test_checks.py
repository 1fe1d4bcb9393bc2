"""`check` itself: what a student sees when an answer warns, passes or fails.

nbgrader gives a test cell 0 points for any stderr output, so a correct answer that makes
numpy warn (both branches of np.where evaluated, say) must pass silently, while a wrong
answer's warnings are shown as the clue they usually are."""
from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from autograder.checks import CheckFailure, check


def stable_but_noisy_linear_forward(x, W, b):
    np.exp(np.full(3, 1000.0))  # overflows: a RuntimeWarning, as a two-branch np.where gives
    warnings.warn("a note from the student's code")
    print("debugging to stderr", file=sys.stderr)
    return x @ W + b, (x, W, b)


def wrong_and_noisy_relu_backward(dout, cache):
    with np.errstate(divide="warn"):
        np.log(np.zeros(2))  # divide by zero: a RuntimeWarning
    return dout * 2.0


def test_a_correct_answer_that_warns_passes_and_writes_nothing_to_stderr(capfd):
    assert check("linear_forward", stable_but_noisy_linear_forward, seed=3, N=4, D=3, M=2)
    err = capfd.readouterr().err
    assert err == "", f"stderr would zero the test cell under nbgrader: {err!r}"


def test_a_wrong_answer_that_warns_shows_the_warning(capfd):
    with pytest.raises(CheckFailure) as info:
        check("relu_backward", wrong_and_noisy_relu_backward, seed=1)
    msg = str(info.value)
    assert "Your code warned: RuntimeWarning: divide by zero encountered in log" in msg, msg
    assert capfd.readouterr().err == ""


def test_a_wrong_answer_without_warnings_has_no_warning_line():
    with pytest.raises(CheckFailure) as info:
        check("relu_backward", lambda dout, cache: dout * 2.0, seed=1)
    assert "warned" not in str(info.value)


def unpacks_a_pair(dout, cache):
    mask, z = cache  # the reference's relu cache is z alone: this cannot unpack it
    return dout * (z > 0)


def test_an_answer_that_raises_is_told_its_own_line():
    with pytest.raises(CheckFailure) as info:
        check("relu_backward", unpacks_a_pair, seed=0)
    msg = str(info.value)
    assert msg.startswith("relu_backward raised ValueError"), msg
    assert "at `mask, z = cache  # the reference's relu cache" in msg and "in unpacks_a_pair" in msg, msg


def test_where_quotes_only_lines_the_student_can_see():
    """Grading's evaluation says where an error was raised: the visible test line and the
    student's own line, never a line of a hidden test."""
    from autograder.evaluation.testcells import LocalStudent, evaluate_tests
    from autograder.outcomes.cells import safe_lines, visible_source
    answer = "def dropout_backward(dout, cache):\n    mask, keep_prob, train, inverted = cache\n    return dout\n"
    test = ("import numpy as np\n"
            "dx = dropout_backward(np.ones((2, 2)), None)\n"
            "### BEGIN HIDDEN TESTS\n"
            "dx = dropout_backward(np.ones((3, 3)), None)  # SECRET-HIDDEN\n"
            "### END HIDDEN TESTS\n")
    hidden_first = test.replace("dx = dropout_backward(np.ones((2, 2)), None)\n", "")
    for source, quoted in ((test, True), (hidden_first, False)):
        student = LocalStudent([(0, answer)], timeout=10)
        student.run_all()
        [row] = evaluate_tests([("test_dropout_backward", source, 1)], ["dropout_backward"], student, [], 10,
                               visible_of=lambda gid, s=source: safe_lines(visible_source(s)))
        assert row["status"] == "error" and row["points"] == 0, row
        assert "SECRET-HIDDEN" not in row["message"] and "np.ones((3, 3))" not in row["message"], row["message"]
        assert ("in the test: `dx = dropout_backward(np.ones((2, 2)), None)`" in row["message"]) is quoted, \
            row["message"]


def two_mistakes_linear_backward(dout, cache):
    x, W, _ = cache
    return dout @ W.T, dout.T @ x, dout.copy()  # dW transposed AND db not summed


def test_an_answer_with_two_mistakes_in_different_outputs_names_both():
    """No single catalogued variant reproduces two mistakes at once, but each variant's
    wrong part is reproduced exactly: both are named, and the check still fails."""
    with pytest.raises(CheckFailure) as info:
        check("linear_backward", two_mistakes_linear_backward, seed=2, N=4, D=3, M=5)
    msg = str(info.value)
    assert not msg.startswith("TNN-MISCONCEPTION"), msg  # not one misconception: no single name
    assert "Part of your answer (dW) shows a known mistake" in msg and "[linear-dW-transposed]" in msg, msg
    assert "Part of your answer (db) shows a known mistake" in msg and "[linear-db-not-summed]" in msg, msg
    assert "Together these explain every difference" in msg, msg


def test_a_known_mistake_plus_an_unknown_one_says_what_else_differs():
    def transposed_and_odd_dx(dout, cache):
        x, W, _ = cache
        return 2.0 * dout @ W.T, dout.T @ x, dout.sum(axis=0)
    with pytest.raises(CheckFailure) as info:
        check("linear_backward", transposed_and_odd_dx, seed=2, N=4, D=3, M=5)
    msg = str(info.value)
    assert "[linear-dW-transposed]" in msg and "dx differs for another reason as well" in msg, msg


def test_an_answer_wrong_in_one_part_for_an_unknown_reason_names_nothing():
    def odd(dout, cache):
        x, W, _ = cache
        return dout @ W.T, x.T @ dout + 1.0, dout.sum(axis=0)
    with pytest.raises(CheckFailure) as info:
        check("linear_backward", odd, seed=2, N=4, D=3, M=5)
    assert "known mistake" not in str(info.value)


def test_the_class_report_counts_mistakes_found_among_others():
    """A failed cell whose message names known mistakes (from the check itself) is counted
    in the report under each of them, apart from single-misconception matches."""
    from autograder.outcomes.cells import read_error
    from autograder.pages.report import render, summarise
    with pytest.raises(CheckFailure) as info:
        check("linear_backward", two_mistakes_linear_backward, seed=2, N=4, D=3, M=5)
    status, mid, message = read_error("CheckFailure", str(info.value))
    assert (status, mid) == ("failed", None)
    cells = [{"grade_id": "test_linear_backward", "points": 0.0, "max_points": 2.0, "status": status,
              "misconception": "", "message": message},
             {"grade_id": "test_linear_backward_2", "points": 0.0, "max_points": 1.0, "status": "misconception",
              "misconception": "linear-dW-transposed", "message": "..."}]
    results = [{"student": "s1", "assignment": "00_backprop",
                "notebooks": {"00_backprop.ipynb": {"state": "graded", "cells": cells}}}]
    s = summarise(results)["00_backprop"]
    assert s["misconceptions"] == {"linear-dW-transposed": 1}
    assert s["partial"] == {"linear-dW-transposed": 1, "linear-db-not-summed": 1}
    html = render(results)
    assert "<code>linear-db-not-summed</code></td><td>0</td><td>1</td>" in html, html[-2000:]
    assert "<code>linear-dW-transposed</code></td><td>1</td><td>1</td>" in html


# ----------------------------------------------------------------------------------------
# a misconception is named only when the answer matches its variant on every case
# ----------------------------------------------------------------------------------------
def l2_over_columns(y, d):
    return float(0.5 * np.sum((y - d) ** 2) / y.shape[1])   # divided by C instead of N


def _without(monkeypatch, mid):
    """The catalogue without misconception `mid`, as check and diagnose read it."""
    import autograder.catalogue as cat
    real = cat.misconceptions_for
    monkeypatch.setattr(cat, "misconceptions_for", lambda name: [m for m in real(name) if m.id != mid])


def _first_line(fn, *args, **kwargs):
    with pytest.raises(CheckFailure) as info:
        fn(*args, **kwargs)
    return str(info.value).splitlines()[0]


def test_l2_over_columns_is_not_named_missing_half_where_N_is_2C(monkeypatch):
    """With N = 4 rows and C = 2 columns, ½Σ(y − d)²/C equals Σ(y − d)²/N, the catalogue's
    "missing ½", on that case: naming it from that case alone would be wrong. Without a
    variant of its own, the answer is named nothing, whether the check runs alone (its
    diagnostic case disagrees), inside a cell with other cases, or through diagnose."""
    from autograder.catalogue import find_misconception, get_exercise
    from autograder.checks import cell_source, compare, run_exercise
    from autograder.outcomes.diagnose import diagnose
    _without(monkeypatch, "l2-averaged-over-columns")
    ex, half = get_exercise("l2_divergence"), find_misconception("l2-missing-half")
    coincide = dict(seed=5, case="binary")          # N = 4, C = 2
    inputs = ex.make_inputs(np.random.default_rng(5), case="binary")
    assert inputs["y"].shape == (4, 2)
    assert compare(run_exercise(ex, l2_over_columns, inputs), run_exercise(ex, half.impl, inputs)).ok

    # the mechanism is what keeps the name away: on this case alone the variant matches
    monkeypatch.setattr(ex, "diagnostic_cases", ())
    assert _first_line(check, "l2_divergence", l2_over_columns, **coincide) == "TNN-MISCONCEPTION l2-missing-half"
    cell = ('check("l2_divergence", l2_divergence, seed=5, case="binary")\n'
            'check("l2_divergence", l2_divergence, seed=1, N=5, C=4)\n')
    with cell_source(cell):
        assert not _first_line(check, "l2_divergence", l2_over_columns, **coincide).startswith("TNN-MISCONCEPTION")
    monkeypatch.undo()
    _without(monkeypatch, "l2-averaged-over-columns")
    assert not _first_line(check, "l2_divergence", l2_over_columns, **coincide).startswith("TNN-MISCONCEPTION")
    assert diagnose("l2_divergence", l2_over_columns, [coincide]) is None
    assert diagnose("l2_divergence", l2_over_columns, [{"seed": 0}, coincide]) is None
    # a real "missing ½" is still named, on the same cases
    assert diagnose("l2_divergence", half.impl, [{"seed": 0}, coincide]) == "l2-missing-half"


def test_l2_over_columns_has_its_own_name_in_every_cell_of_its_notebook():
    from autograder.checks import cell_source
    from autograder.checks import check_cases
    from notebook_tools import nbgrader_meta, read, source_notebook
    cells = [c.source for c in read(source_notebook("01_divergences")).cells
             if nbgrader_meta(c).get("grade") and check_cases(c.source, "l2_divergence")]
    assert cells
    for source in cells:
        with cell_source(source):
            kw = check_cases(source, "l2_divergence")[0]
            assert _first_line(check, "l2_divergence", l2_over_columns, **kw) == \
                "TNN-MISCONCEPTION l2-averaged-over-columns"


def test_grading_names_nothing_when_the_cases_of_a_cell_disagree(monkeypatch):
    """Through grading's own evaluation: an answer equal to a variant on the cell's first
    case only (and right elsewhere) fails without a misconception."""
    from autograder.evaluation.testcells import LocalStudent, evaluate_tests
    answer = ("import numpy as np\n\ndef l2_divergence(y, d):\n"
              "    n, c = y.shape\n"
              "    return float(np.sum((y - d) ** 2) / n) if (n, c) == (4, 2) else float(0.5 * np.sum((y - d) ** 2) / n)\n")
    cell = ('from autograder.checks import check\n'
            'check("l2_divergence", l2_divergence, seed=5, case="binary")\n'
            'check("l2_divergence", l2_divergence, seed=1, N=5, C=4)\n')
    student = LocalStudent([(0, answer)], timeout=10)
    student.run_all()
    [row] = evaluate_tests([("test_l2_divergence", cell, 1)], ["l2_divergence"], student, [], 10)
    assert row["status"] == "failed" and row["misconception"] == "", row
    only_first = cell.splitlines()[:2]
    student = LocalStudent([(0, answer)], timeout=10)
    student.run_all()
    [row] = evaluate_tests([("test_l2_divergence", "\n".join(only_first) + "\n", 1)], ["l2_divergence"], student,
                           [], 10)
    # one case, and the diagnostic case N = 7, C = 5 where the answer is right: still nothing
    assert row["status"] == "failed" and row["misconception"] == "", row


def test_a_part_is_said_to_show_a_known_mistake_only_if_it_does_on_every_case():
    """dW transposed on every case, db left unsummed only when N = 4: on the N = 4 case both
    parts look like catalogued mistakes, but db is right on the diagnostic case (N = 7), so
    only dW is named."""
    def transposed_and_sometimes_unsummed(dout, cache):
        x, W, _ = cache
        db = dout.copy() if x.shape[0] == 4 else dout.sum(axis=0)
        return dout @ W.T, dout.T @ x, db
    with pytest.raises(CheckFailure) as info:
        check("linear_backward", transposed_and_sometimes_unsummed, seed=2, N=4, D=3, M=5)
    msg = str(info.value)
    assert "[linear-dW-transposed]" in msg and "[linear-db-not-summed]" not in msg, msg
    assert "db differs for another reason as well" in msg, msg


# --- what a notebook shows ------------------------------------------------------------------

def no_bias_linear_forward(x, W, b):
    return x @ W, (x, W, b)


def stub_linear_forward(x, W, b):
    raise NotImplementedError()


def _shown(source: str, ns: dict) -> str:
    """What IPython prints for a cell (its error rendering included), ANSI colours removed."""
    import re

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    shell = InteractiveShell.instance()
    shell.user_ns.update(ns)
    with capture_output() as out:
        shell.run_cell(source, store_history=False)
    # (a terminal shell writes its "Out[n]:" prompt even for a value that displays as nothing;
    # a Jupyter kernel sends nothing for it)
    return re.sub(r"\x1b\[[0-9;]*m|Out\[\d+\]: ?", "", out.stdout + out.stderr)


def test_a_failing_check_shows_its_message_alone():
    from autograder.catalogue import find_misconception
    m = find_misconception("linear-missing-bias")
    with pytest.raises(CheckFailure) as err:
        check("linear_forward", no_bias_linear_forward, seed=0)
    assert str(err.value).splitlines()[0] == f"TNN-MISCONCEPTION {m.id}"  # grading's tag stays in the text
    shown = _shown('check("linear_forward", f, seed=0)', {"check": check, "f": no_bias_linear_forward})
    assert m.title in shown and m.hint in shown and "check failed" in shown, shown
    assert "TNN-" not in shown and "checks.py" not in shown and "Traceback" not in shown, shown


def test_an_unanswered_exercise_and_poll_show_one_line_and_stay_not_implemented():
    from autograder.checks import check_choice
    with pytest.raises(NotImplementedError):
        check("linear_forward", stub_linear_forward, seed=0)
    shown = _shown('check("linear_forward", f, seed=0)', {"check": check, "f": stub_linear_forward})
    assert "not answered yet" in shown and "linear_forward" in shown and "Traceback" not in shown, shown
    shown = _shown('check_choice("poll_x", ..., ["a", "b"])', {"check_choice": check_choice})
    assert "not answered yet" in shown and "replace ... with your answer" in shown and "checks.py" not in shown, shown


def test_a_passing_check_cell_shows_one_short_line():
    from autograder.checks import PASSED_LINE, POLL_LINE, check_choice
    from tnn_lib.layers import linear_forward as reference

    def mine(x, W, b):
        return x @ W + b, (x, W, b)

    assert check("linear_forward", mine, seed=0) == True  # noqa: E712 - a true value, as before
    assert reference is not mine
    ns = {"check": check, "check_choice": check_choice, "f": mine}
    assert _shown('check("linear_forward", f, seed=0)\ncheck("linear_forward", f, seed=1)', ns).strip() == PASSED_LINE
    assert _shown('check_choice("poll_x", "a", ["a", "b"])', ns).strip() == POLL_LINE
    assert _shown('x = 1 + 1', ns).strip() == ""                 # a cell that checks nothing says nothing


def test_a_difference_shows_the_relative_error_of_the_entry_it_shows():
    """"got 1.37863, expected 1.39027" comes with that entry's relative error (|g − e| / (|g| + |e|),
    computed here independently), and the worst entry, when another, with its own values."""
    from autograder.checks import compare
    got, exp = np.array([1.37863, 0.5, 2.0]), np.array([1.39027, -0.5, 2.0])
    detail = compare(got, exp, 1e-5, "out").detail
    here = abs(1.37863 - 1.39027) / (1.37863 + 1.39027)
    assert f"got 1.37863, expected 1.39027 (relative error {here:.2g} " in detail, detail
    assert "the largest is 1 at index (1,): got 0.5, expected -0.5" in detail, detail
    alone = compare(got[:1], exp[:1], 1e-5, "out").detail
    assert "largest" not in alone, alone
