"""tnn_lib._validate: the shared input checks name the argument, the expectation and the value."""
import numpy as np
import pytest

from tnn_lib import _validate as v


def test_check_array_returns_the_array_and_accepts_wildcards():
    a = np.zeros((3, 2))
    assert v.check_array("x", a, ndim=2, shape=(None, 2)) is a


@pytest.mark.parametrize(
    "kwargs, value, match",
    [
        ({"ndim": 2}, np.zeros(3), r"x: expected a 2-D array, got a 1-D array of shape \(3,\)"),
        ({"shape": (3, 4)}, np.zeros((4, 3)), r"x: expected shape \(3, 4\), got \(4, 3\)"),
        ({}, np.array(["a"]), "x: expected a numeric array"),
        ({}, [[1.0], [1.0, 2.0]], "x: expected a numeric array"),
    ],
)
def test_check_array_errors(kwargs, value, match):
    with pytest.raises(ValueError, match=match):
        v.check_array("x", value, **kwargs)


def test_check_same_shape():
    v.check_same_shape("a", np.zeros(2), "b", np.ones(2))
    with pytest.raises(ValueError, match=r"a and b: expected the same shape, got \(2,\) and \(3,\)"):
        v.check_same_shape("a", np.zeros(2), "b", np.ones(3))


@pytest.mark.parametrize("p", [0.0, 1.5, -0.1, float("nan"), True, "0.5", np.array([0.5, 0.5])])
def test_check_prob_rejects(p):
    with pytest.raises(ValueError, match="keep_prob: expected"):
        v.check_prob("keep_prob", p)


def test_check_prob_accepts_the_closed_end():
    assert v.check_prob("keep_prob", 1) == 1.0
    assert v.check_prob("keep_prob", np.float32(0.5)) == 0.5


def test_numbers_ints_choices_keys():
    assert v.check_nonneg("lr", 0) == 0.0
    with pytest.raises(ValueError, match="lr: expected a non-negative number, got -1"):
        v.check_nonneg("lr", -1)
    with pytest.raises(ValueError, match="eps: expected a positive number, got 0"):
        v.check_positive("eps", 0)
    assert v.check_int("n", np.int64(3), minimum=1) == 3
    with pytest.raises(ValueError, match="n: expected an integer >= 2, got 1"):
        v.check_int("n", 1, minimum=2)
    with pytest.raises(ValueError, match="n: expected an integer, got 2.0"):
        v.check_int("n", 2.0)
    with pytest.raises(ValueError, match="scheme: expected one of 'he', 'xavier', got 'hee'"):
        v.check_choice("scheme", "hee", ("he", "xavier"))
    with pytest.raises(ValueError, match=r"only in params: \['W'\], only in grads: \['V'\]"):
        v.check_same_keys("params", {"W": 1, "b": 2}, "grads", {"V": 1, "b": 2})
