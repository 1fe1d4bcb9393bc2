"""Tests for tnn_lib.regularization."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnn_lib.gradcheck import numerical_gradient, rel_error
from tnn_lib.regularization import early_stopping_epoch, l1_penalty, l2_penalty, standardize


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return {"0.W": rng.standard_normal((4, 3)), "2.W": rng.standard_normal((3, 2))}


def test_l2_penalty_exact_value_and_gradient():
    params = {"a": np.array([[1.0, -2.0]]), "b": np.array([3.0])}
    value, grads = l2_penalty(params, 0.1)
    assert value == pytest.approx(0.5 * 0.1 * (1 + 4 + 9), rel=1e-15)
    np.testing.assert_array_equal(grads["a"], [[0.1, -0.2]])
    np.testing.assert_array_equal(grads["b"], [0.30000000000000004])
    assert set(grads) == set(params)


@pytest.mark.parametrize("penalty", [l2_penalty, l1_penalty])
def test_penalty_gradient_is_numerical_gradient(penalty):
    params = _params(1)
    _, grads = penalty(params, 0.37)
    for key in params:
        num = numerical_gradient(lambda _: penalty(params, 0.37)[0], params[key])
        assert rel_error(num, grads[key]) < 1e-7


def test_l1_penalty_value_and_sign_gradient():
    params = {"a": np.array([[1.5, -2.0, 0.0]])}
    value, grads = l1_penalty(params, 0.5)
    assert value == 0.5 * 3.5
    np.testing.assert_array_equal(grads["a"], [[0.5, -0.5, 0.0]])


def test_penalties_do_not_modify_params():
    params = _params()
    copy = {k: v.copy() for k, v in params.items()}
    l2_penalty(params, 1.0)
    l1_penalty(params, 1.0)
    for k in params:
        np.testing.assert_array_equal(params[k], copy[k])


def test_l2_gradient_step_is_weight_decay():
    # W − η(∇ + λW) = (1 − ηλ)W − η∇
    W = _params()["0.W"]
    g = np.ones_like(W)
    eta, lam = 0.1, 0.3
    _, grads = l2_penalty({"W": W}, lam)
    # both sides are differences of terms of size |W| + η|g| and may nearly cancel (an entry
    # W ≈ 0.1 gives ≈ 0): relative to them, round-off is a few ulps of the terms, not of the result
    scale = np.abs(W) + eta * np.abs(g)
    np.testing.assert_allclose(W - eta * (g + grads["W"]), (1 - eta * lam) * W - eta * g, rtol=1e-14,
                               atol=1e-14 * scale.max())


@pytest.mark.parametrize("losses, patience, expected", [
    ([3, 2, 2.5, 1, 4, 5, 0], 2, 3),     # stops after epoch 5, never sees the 0
    ([3, 2, 2.5, 1, 4, 5, 0], 3, 6),     # enough patience to reach it
    ([5, 4, 3, 2, 1], 1, 4),             # always improving: the last epoch
    ([1, 2, 3, 4], 1, 0),                # never improves after the first
    ([2, 1, 1, 1, 0.5], 2, 1),           # ties do not count as improvement: stops at epoch 3
    ([2, 1, 1, 0.5], 2, 3),              # ...but patience 2 still reaches epoch 3
    ([2, np.nan, np.nan, 1], 2, 0),      # NaN (diverged) never improves
    ([7.0], 5, 0),
])
def test_early_stopping_epoch(losses, patience, expected):
    assert early_stopping_epoch(losses, patience) == expected


def _reference_early_stopping(losses, patience):
    """Keras-style loop: a counter of epochs without improvement, reset on improvement."""
    best, wait = 0, 0
    for epoch in range(1, len(losses)):
        if losses[epoch] < losses[best]:
            best, wait = epoch, 0
        else:
            wait += 1
            if wait == patience:
                break
    return best


@settings(max_examples=200, deadline=None)
@given(losses=st.lists(st.floats(0, 10), min_size=1, max_size=30), patience=st.integers(1, 10))
def test_early_stopping_epoch_properties(losses, patience):
    best = early_stopping_epoch(losses, patience)
    assert best == _reference_early_stopping(losses, patience)
    assert best == losses.index(min(losses[: best + 1]))  # first minimum so far
    assert all(loss >= losses[best] for loss in losses[best + 1: best + patience + 1])  # patience ran out


def test_standardize_train_statistics_and_constant_feature():
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(3.0, 2.0, 50), np.full(50, 7.0), rng.normal(-1, 0.1, 50)]
    xs, mean, std = standardize(x)
    np.testing.assert_allclose(xs.mean(axis=0), 0.0, atol=1e-14)
    np.testing.assert_allclose(xs.std(axis=0)[[0, 2]], 1.0, rtol=1e-13)
    assert std[1] == 1.0 and mean[1] == 7.0 and np.all(xs[:, 1] == 0.0)
    np.testing.assert_allclose(std[[0, 2]], x[:, [0, 2]].std(axis=0), rtol=1e-15)
    x_test = rng.normal(size=(5, 3))
    xt, mean2, std2 = standardize(x_test, mean, std)
    np.testing.assert_allclose(xt, (x_test - mean) / std, rtol=1e-15)
    assert mean2 is not None and np.array_equal(std2, std)


def test_standardize_constant_feature_with_round_off():
    # 0.1 is not exact in binary: the column's computed std may be ~1e-17, still constant
    x = np.c_[np.full(7, 0.1), np.arange(7.0)]
    _, _, std = standardize(x)
    assert std[0] == 1.0


def test_standardize_does_not_modify_input():
    x = np.arange(12.0).reshape(4, 3)
    copy = x.copy()
    xs, _, _ = standardize(x)
    np.testing.assert_array_equal(x, copy)
    assert xs is not x


@pytest.mark.parametrize("call, match", [
    (lambda: l2_penalty(_params(), -1.0), "lam: expected a non-negative number"),
    (lambda: l1_penalty([np.ones(2)], 1.0), "params: expected a dict"),
    (lambda: l2_penalty({"a": "text"}, 1.0), r"params\['a'\]: expected a numeric array"),
    (lambda: early_stopping_epoch([], 2), "val_losses: expected at least one epoch"),
    (lambda: early_stopping_epoch([1.0, 2.0], 0), "patience: expected an integer >= 1"),
    (lambda: early_stopping_epoch([[1.0]], 1), "val_losses: expected a 1-D array"),
    (lambda: standardize(np.ones(3)), "x: expected a 2-D array"),
    (lambda: standardize(np.ones((2, 3)), mean=np.zeros(3)), "mean, std: expected both"),
    (lambda: standardize(np.ones((2, 3)), np.zeros(2), np.ones(2)), r"mean: expected shape \(3,\)"),
    (lambda: standardize(np.ones((2, 3)), np.zeros(3), -np.ones(3)), "std: expected finite non-negative"),
    (lambda: standardize(np.ones((0, 3))), "x: expected at least one row"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- docstring promises
@pytest.mark.parametrize("losses, patience, expected", [
    ([np.nan, np.nan, np.nan], 1, 0),          # no epoch is finite: nothing improves, epoch 0
    ([np.nan, 2.0, 1.0], 1, 2),                # a NaN first epoch is beaten by any finite loss
    ([1.0, np.nan, 0.5], 2, 2),                # one NaN epoch is one epoch without improvement
    ([1.0, np.nan, 0.5], 1, 0),                # ... and with patience 1 it stops the run
    ([3.0, 2.0, np.nan, np.nan, 1.0], 2, 1),   # a diverged run stops after `patience` NaN epochs
    ([3.0, 2.0, np.inf, 1.0], 2, 3),           # inf is a loss like any other: it does not improve
])
def test_early_stopping_a_nan_never_improves_and_counts_towards_patience(losses, patience, expected):
    """The docstring: "A NaN loss (a diverged run) never improves" — it is an epoch without
    improvement like any worse loss, so it counts towards patience."""
    assert early_stopping_epoch(losses, patience) == expected
    assert early_stopping_epoch(np.array(losses), patience) == expected


@pytest.mark.parametrize("penalty", [l2_penalty, l1_penalty])
def test_penalties_leave_params_alone_and_return_new_arrays(penalty):
    rng = np.random.default_rng(4)
    params = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4), "W2": np.zeros((4, 2))}
    params["W1"][0, 0] = 0.0
    before = {k: v.copy() for k, v in params.items()}
    arrays = dict(params)
    _, grads = penalty(params, 0.3)
    assert list(params) == list(before) and all(params[k] is arrays[k] for k in params)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
        assert not np.shares_memory(grads[k], params[k]), f"{k}: the gradient aliases the parameter"
    for g in grads.values():   # writing into the returned gradients never reaches the parameters
        g += 1.0
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
