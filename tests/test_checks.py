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
