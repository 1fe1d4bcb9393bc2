"""Tests for tnn_lib.nn: the Sequential MLP end to end against numerical gradients."""

import numpy as np
import pytest

from tnn_lib import batchnorm
from tnn_lib.gradcheck import numerical_gradient, rel_error
from tnn_lib.nn import (BatchNorm1d, Dropout, Linear, ReLU, Sequential, Sigmoid, Tanh, make_mlp)
from tnn_lib.optim import SGD


def _mlp(rng, keep_mask_shape=(8, 7)):
    drop = Dropout(0.6, rng)
    drop.mask = (rng.uniform(size=keep_mask_shape) < 0.6).astype(np.float64)  # FIXED mask
    model = Sequential(Linear(5, 7, rng), BatchNorm1d(7), Tanh(), drop,
                       Linear(7, 6, rng, scheme="xavier"), ReLU(),
                       Linear(6, 4, rng), Sigmoid(), Linear(4, 3, rng))
    # non-trivial BN affine parameters and biases, so their gradients are not special
    model[1].gamma[:] = rng.uniform(0.5, 1.5, 7)
    model[1].beta[:] = rng.normal(size=7)
    for i in (0, 4, 6, 8):
        model[i].b[:] = 0.1 * rng.normal(size=model[i].b.shape)
    return model


def test_sequential_backward_matches_numerical_gradient_with_bn_and_dropout():
    rng = np.random.default_rng(0)
    model = _mlp(rng)
    x = rng.standard_normal((8, 5))
    dout = rng.standard_normal((8, 3))  # random upstream gradient
    loss = lambda _: float(np.sum(model.forward(x) * dout))  # noqa: E731
    model.forward(x)
    dx = model.backward(dout)
    grads = {k: g.copy() for k, g in model.grads().items()}
    params = model.params()
    assert set(grads) == set(params) == {"0.W", "0.b", "1.gamma", "1.beta", "4.W", "4.b",
                                         "6.W", "6.b", "8.W", "8.b"}
    assert rel_error(numerical_gradient(loss, x), dx) < 1e-7
    # The bias of the Linear layer that feeds BatchNorm1d has an exact gradient of zero:
    # batch norm subtracts the batch mean, so any per-feature constant added before it
    # cancels (the lecture's "BN removes the bias"). Both the analytic and the numerical value
    # are round-off there, and a relative error of round-off against round-off means
    # nothing, so that gradient is checked against zero with absolute bounds: the analytic
    # one at the size of round-off in sums of O(1) terms, the numerical one at the size of
    # the central difference's round-off, eps*|f|/h ~ 1e-10, both far below the scale of the
    # other gradients (about 1).
    assert np.max(np.abs(grads["0.b"])) < 1e-12, grads["0.b"]
    assert np.max(np.abs(numerical_gradient(loss, params["0.b"]))) < 1e-8
    for key, p in params.items():  # perturbs the live arrays in place
        if key == "0.b":
            continue
        g = grads[key]
        assert np.max(np.abs(g)) > 1e-3, key  # not a zero gradient in disguise
        num = numerical_gradient(loss, p)
        # elementwise relative check with an absolute floor: some entries are ~3e-4 while the
        # central difference's round-off is ~2e-11, which alone is a relative error near 1e-7
        # on such an entry under some BLAS kernels; 1e-9 is far below any real error (~1e-3)
        worst = np.max(np.abs(num - g) - 1e-7 * (np.abs(num) + np.abs(g)))
        assert worst <= 1e-9, (key, worst, rel_error(num, g))


def test_batchnorm_removes_the_bias_of_the_layer_before_it():
    """Adding any constant c to a feature before batch norm leaves its output unchanged, so
    the gradient reaching that feature sums to exactly zero over the batch (up to round-off):
    dL/db = sum_n dz_n = 0 for the bias b of the layer feeding BN."""
    rng = np.random.default_rng(5)
    z = rng.standard_normal((16, 4))
    gamma, beta = rng.uniform(0.5, 1.5, 4), rng.normal(size=4)
    out, cache = batchnorm.batchnorm_forward(z, gamma, beta)
    shifted, _ = batchnorm.batchnorm_forward(z + rng.normal(size=4) * 3.0, gamma, beta)
    np.testing.assert_allclose(shifted, out, rtol=0, atol=1e-12)
    dz, _, _ = batchnorm.batchnorm_backward(rng.standard_normal((16, 4)), cache)
    assert np.max(np.abs(dz)) > 0.1  # the gradient itself is not zero ...
    assert np.max(np.abs(dz.sum(axis=0))) < 1e-12  # ... only its sum over the batch is


def test_dropout_mask_is_used_and_zeroes_units():
    rng = np.random.default_rng(1)
    mask = np.array([[1.0, 0.0, 1.0]])
    d = Dropout(0.5, rng, mask=mask)
    np.testing.assert_array_equal(d.forward(np.ones((1, 3))), [[2.0, 0.0, 2.0]])
    np.testing.assert_array_equal(d.backward(np.ones((1, 3))), [[2.0, 0.0, 2.0]])
    d.eval()
    np.testing.assert_array_equal(d.forward(np.ones((1, 3))), [[1.0, 1.0, 1.0]])
    lecture = Dropout(0.5, rng, inverted=False).eval()
    np.testing.assert_array_equal(lecture.forward(np.ones((1, 3))), [[0.5, 0.5, 0.5]])


def test_dropout_draws_fresh_masks_from_rng():
    d = Dropout(0.5, np.random.default_rng(2))
    a, b = d.forward(np.ones((4, 50))), d.forward(np.ones((4, 50)))
    assert not np.array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 2.0}


def test_params_are_live_so_optimizer_steps_change_the_model():
    rng = np.random.default_rng(3)
    model = Sequential(Linear(4, 3, rng), BatchNorm1d(3), ReLU(), Linear(3, 2, rng))
    x = rng.standard_normal((6, 4))
    before = model.forward(x).copy()
    model.backward(np.ones((6, 2)))
    W = model[0].W
    SGD(0.5).step(model.params(), model.grads())
    assert model[0].W is W and model.params()["0.W"] is W
    assert not np.allclose(model.forward(x), before)
    np.testing.assert_array_equal(model.params()["1.gamma"], model[1].gamma)


def test_train_eval_propagate_and_bn_is_the_batchnorm_class():
    rng = np.random.default_rng(4)
    model = make_mlp([5, 8, 8, 3], rng, batchnorm=True, keep_prob=0.5)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert isinstance(model[1], batchnorm.BatchNorm1d)
    model.eval()
    assert not model.training and all(not m.training for m in model)
    x = rng.standard_normal((10, 5))
    np.testing.assert_array_equal(model.forward(x), model.forward(x))  # deterministic in eval
    model.train()
    assert model.training and all(m.training for m in model)
    assert not np.array_equal(model.forward(x), model.forward(x))  # dropout masks differ


def test_linear_initialization_scheme_and_zero_bias():
    W_he = Linear(400, 300, np.random.default_rng(0)).W
    assert abs(W_he.std() / np.sqrt(2 / 400) - 1) < 0.01
    lin = Linear(400, 300, np.random.default_rng(0), scheme="xavier")
    assert abs(lin.W.std() / np.sqrt(1 / 400) - 1) < 0.01 and not lin.b.any()


def test_activation_modules_forward_backward():
    z = np.array([[-2.0, 0.5]])
    r = ReLU()
    np.testing.assert_array_equal(r.forward(z), [[0.0, 0.5]])
    np.testing.assert_array_equal(r.backward(np.ones((1, 2))), [[0.0, 1.0]])
    t = Tanh()
    t.forward(z)
    np.testing.assert_allclose(t.backward(np.ones((1, 2))), 1 - np.tanh(z) ** 2, rtol=1e-15)
    s = Sigmoid()
    y = s.forward(z)
    np.testing.assert_allclose(s.backward(np.ones((1, 2))), y * (1 - y), rtol=1e-15)


@pytest.mark.parametrize("call, match", [
    (lambda: Sequential(Linear(2, 2, np.random.default_rng(0)), "relu"),
     r"modules\[1\]: expected a module with forward, backward"),
    (lambda: ReLU().backward(np.ones(2)), "ReLU.backward: expected a forward call first"),
    (lambda: Dropout(1.5, np.random.default_rng(0)), r"keep_prob: expected a probability in \(0, 1\]"),
    (lambda: Dropout(0.5, 42), "rng: expected a numpy.random.Generator or None"),
    (lambda: Dropout(0.5).forward(np.ones((2, 2))), "rng: expected a numpy.random.Generator to draw"),
    (lambda: Linear(3, 2, np.random.default_rng(0), scheme="kaiming"), "scheme: expected one of"),
    (lambda: Linear(3, 2, np.random.default_rng(0)).forward(np.ones((2, 4))), r"W: expected shape"),
    (lambda: make_mlp([4], np.random.default_rng(0)), "sizes: expected at least input and output"),
    (lambda: make_mlp([4, 2], np.random.default_rng(0), activation="elu"), "activation: expected one of"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
