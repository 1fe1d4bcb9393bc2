"""Tests for tnn_lib.init: schemes, and the lecture notes' activation-statistics tables."""

import functools

import numpy as np
import pytest

from tnn_lib.init import (NONLINEARITIES, SCHEMES, activation_statistics, forward_activations,
                          gradient_statistics, init_weights, lsuv_init)

# The lecture notes' tables (lecture #04, "Training Deep Neural Networks", after CS231n):
# 10 bias-free layers of 500 units, 1000 × 500 unit-Gaussian inputs, one run each.
# (scheme, nonlinearity) -> (layer means, layer stds), copied as printed (6 decimals).
LECTURE_TABLES = {
    ("small", "tanh"): (
        [-0.000117, -0.000001, -0.000002, 0.000001, 0.000002, -0.000000, 0.000000, -0.000000,
         0.000000, -0.000000],
        [0.213081, 0.047551, 0.010630, 0.002378, 0.000532, 0.000119, 0.000026, 0.000006,
         0.000001, 0.000000]),
    ("unit", "tanh"): (
        [-0.000430, -0.000849, 0.000566, 0.000483, -0.000682, -0.000401, -0.000237, -0.000448,
         -0.000899, 0.000584],
        [0.981879, 0.981649, 0.981601, 0.981755, 0.981614, 0.981560, 0.981520, 0.981913,
         0.981728, 0.981736]),
    ("xavier", "tanh"): (
        [0.001198, -0.000175, 0.000055, -0.000306, 0.000142, -0.000389, -0.000228, -0.000291,
         0.000361, 0.000139],
        [0.627953, 0.486051, 0.407723, 0.357108, 0.320917, 0.292116, 0.273387, 0.254935,
         0.239266, 0.228008]),
    ("xavier", "relu"): (
        [0.398623, 0.272352, 0.186076, 0.136442, 0.099568, 0.072234, 0.049775, 0.035138,
         0.025404, 0.018408],
        [0.582273, 0.403795, 0.276912, 0.198685, 0.140299, 0.103280, 0.072748, 0.051572,
         0.038583, 0.026076]),
    ("he", "relu"): (
        [0.562488, 0.553614, 0.545867, 0.565396, 0.547678, 0.587103, 0.596867, 0.623214,
         0.567498, 0.552531],
        [0.825232, 0.827835, 0.813855, 0.826902, 0.834092, 0.860035, 0.870610, 0.889348,
         0.845357, 0.844523]),
}
SEEDS = range(8)
PRINT_ROUNDING = 5e-7  # the tables print 6 decimals


@functools.lru_cache(maxsize=None)
def _runs(scheme, nonlinearity):
    means, stds = [], []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((1000, 500))
        m, s = activation_statistics(x, [500] * 10, scheme, nonlinearity, rng)
        means.append(m)
        stds.append(s)
    return np.array(means), np.array(stds)


@pytest.mark.parametrize("key", list(LECTURE_TABLES))
def test_activation_statistics_reproduce_lecture_tables(key):
    # The lecture's numbers are one run, so each is off our seed average by about one
    # seed-to-seed spread; allow four spreads (per layer) plus the print rounding.
    lecture_means, lecture_stds = map(np.array, LECTURE_TABLES[key])
    means, stds = _runs(*key)
    for name, ours, lecture in (("mean", means, lecture_means), ("std", stds, lecture_stds)):
        avg, spread = ours.mean(axis=0), ours.std(axis=0, ddof=1)
        tol = 4 * spread + PRINT_ROUNDING
        bad = np.abs(avg - lecture) > tol
        assert not bad.any(), f"{key} {name}: layers {np.flatnonzero(bad) + 1}: ours {avg[bad]} lecture {lecture[bad]} tol {tol[bad]}"


def test_lecture_table_shapes():
    # The qualitative story the tables tell, sharper than the tolerances above.
    _, s_small = _runs("small", "tanh")
    ratio = s_small.mean(0)[1:] / s_small.mean(0)[:-1]
    np.testing.assert_allclose(ratio, 0.2235, rtol=0.02)  # shrinks ×0.22 per layer: vanishes
    _, s_xr = _runs("xavier", "relu")
    assert np.all(np.diff(s_xr.mean(0)) < 0)  # Xavier + ReLU decays
    m_he, s_he = _runs("he", "relu")
    np.testing.assert_allclose(m_he.mean(0)[:3], np.sqrt(1 / np.pi), rtol=0.03)  # E|z|/2 with Var z = 2
    np.testing.assert_allclose(s_he.mean(0)[:3], np.sqrt(1 - 1 / np.pi), rtol=0.03)


@pytest.mark.parametrize("scheme, std", [("small", 0.01), ("unit", 1.0), ("xavier", np.sqrt(1 / 400)),
                                         ("he", np.sqrt(2 / 400)),
                                         ("glorot_uniform", np.sqrt(6 / 700) / np.sqrt(3)),
                                         ("orthogonal", np.sqrt(1 / 400))])  # 300 unit columns in 400 rows
def test_init_weights_scale(scheme, std):
    W = init_weights(400, 300, scheme, np.random.default_rng(0))
    assert W.shape == (400, 300) and W.dtype == np.float64
    # 120 000 draws: the sample std is within 1 % of the true one (about 5 standard errors)
    assert abs(W.std() / std - 1) < 0.01
    assert abs(W.mean()) < 5 * std / np.sqrt(W.size)


def test_glorot_uniform_bounds_and_zeros():
    a = np.sqrt(6 / (30 + 20))
    W = init_weights(30, 20, "glorot_uniform", np.random.default_rng(1))
    assert np.all(np.abs(W) <= a) and np.abs(W).max() > 0.95 * a
    assert not init_weights(3, 4, "zeros", np.random.default_rng(0)).any()


def test_init_weights_reproducible_from_rng():
    a = init_weights(5, 6, "he", np.random.default_rng(3))
    b = init_weights(5, 6, "he", np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_forward_activations_match_manual_loop():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 8))
    acts = forward_activations(x, [6, 5], "xavier", "sigmoid", np.random.default_rng(1))
    r = np.random.default_rng(1)
    h = x
    for width, a in zip([6, 5], acts):
        h = 1 / (1 + np.exp(-(h @ (r.standard_normal((h.shape[1], width)) / np.sqrt(h.shape[1])))))
        np.testing.assert_allclose(a, h, rtol=1e-14)
    m, s = activation_statistics(x, [6, 5], "xavier", "sigmoid", np.random.default_rng(1))
    np.testing.assert_allclose(m, [a.mean() for a in acts])
    np.testing.assert_allclose(s, [a.std() for a in acts])


def test_linear_nonlinearity_with_xavier_keeps_variance():
    rng = np.random.default_rng(0)
    _, s = activation_statistics(rng.standard_normal((1000, 500)), [500] * 5, "xavier", "linear", rng)
    np.testing.assert_allclose(s, 1.0, rtol=0.05)


def test_gradient_statistics_match_manual_backward():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 4))
    dout = rng.standard_normal((7, 3))
    dh_stds, dW_stds = gradient_statistics(x, [5, 3], "unit", "tanh", np.random.default_rng(2), dout=dout)
    r = np.random.default_rng(2)
    W1, W2 = r.standard_normal((4, 5)), r.standard_normal((5, 3))
    h1 = np.tanh(x @ W1)
    h2 = np.tanh(h1 @ W2)
    dz2 = dout * (1 - h2**2)
    dh1 = dz2 @ W2.T
    dz1 = dh1 * (1 - h1**2)
    np.testing.assert_allclose(dh_stds, [dh1.std(), dout.std()], rtol=1e-12)
    np.testing.assert_allclose(dW_stds, [(x.T @ dz1).std(), (h1.T @ dz2).std()], rtol=1e-12)


def test_gradient_statistics_vanish_with_small_weights():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 100))
    dh_small, dW_small = gradient_statistics(x, [100] * 6, "small", "tanh", np.random.default_rng(1))
    _, dW_xavier = gradient_statistics(x, [100] * 6, "xavier", "tanh", np.random.default_rng(1))
    # dW_l = h_(l-1).T @ dz_l: the inputs shrink ×0.1 per layer going up and dh ×0.1 per
    # layer going down, so every layer's weight gradient is ~0.1^5 of Xavier's.
    assert dW_small.max() < 1e-3 * dW_xavier.min()
    np.testing.assert_allclose(dh_small[:-1] / dh_small[1:], 0.1, rtol=0.15)


@pytest.mark.parametrize("call, match", [
    (lambda r: init_weights(3, 4, "kaiming", r), "scheme: expected one of 'zeros', 'small'"),
    (lambda r: init_weights(0, 4, "he", r), "fan_in: expected an integer >= 1"),
    (lambda r: init_weights(3, 2.5, "he", r), "fan_out: expected an integer"),
    (lambda r: init_weights(3, 4, "he", 0), "rng: expected a numpy.random.Generator"),
    (lambda r: activation_statistics(np.ones((2, 3)), [4], "he", "softplus", r),
     "nonlinearity: expected one of 'tanh', 'relu', 'sigmoid', 'linear'"),
    (lambda r: activation_statistics(np.ones(3), [4], "he", "relu", r), "x: expected a 2-D array"),
    (lambda r: activation_statistics(np.ones((2, 3)), [], "he", "relu", r), "widths: expected at least one"),
    (lambda r: activation_statistics(np.ones((2, 3)), 4, "he", "relu", r), "widths: expected a sequence"),
    (lambda r: gradient_statistics(np.ones((2, 3)), [4], "he", "relu", r, dout=np.ones((2, 5))),
     r"dout: expected shape \(2, 4\)"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.random.default_rng(0))


def test_schemes_listed():
    assert SCHEMES == ("zeros", "small", "unit", "xavier", "glorot_uniform", "he", "orthogonal")


# --------------------------------------------------------------------------- orthogonal
def _gram_schmidt(a):
    """Modified Gram-Schmidt on the columns of a tall matrix: the Q of the QR whose R has a
    positive diagonal (unique for a full-rank a), computed without LAPACK."""
    q = np.array(a, dtype=float)
    for j in range(q.shape[1]):
        for i in range(j):
            q[:, j] -= (q[:, i] @ q[:, j]) * q[:, i]
        q[:, j] /= np.linalg.norm(q[:, j])
    return q


@pytest.mark.parametrize("shape", [(7, 3), (3, 7), (6, 6), (1, 5), (5, 1), (400, 300), (300, 400)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    W = init_weights(*shape, "orthogonal", np.random.default_rng(sum(shape)))
    assert W.shape == shape and W.dtype == np.float64
    gram = W.T @ W if shape[0] >= shape[1] else W @ W.T  # columns of a tall W, rows of a wide one
    np.testing.assert_allclose(gram, np.eye(min(shape)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(8, 3), (3, 8), (5, 5)])
def test_orthogonal_is_the_q_of_the_draw_with_positive_r_diagonal(shape):
    # As torch.nn.init.orthogonal_: one standard_normal draw of the final shape, the tall
    # orientation decomposed, the signs fixed by R's diagonal. Q is then unique, so Gram-Schmidt
    # of the same draw must give it.
    W = init_weights(*shape, "orthogonal", np.random.default_rng(11))
    a = np.random.default_rng(11).standard_normal(shape)
    tall_a, tall_w = (a, W) if shape[0] >= shape[1] else (a.T, W.T)
    np.testing.assert_allclose(tall_w, _gram_schmidt(tall_a), rtol=0, atol=1e-10)
    r = tall_w.T @ tall_a  # R = QᵀA: upper triangular with a positive diagonal
    assert np.all(np.diag(r) > 0)
    np.testing.assert_allclose(np.tril(r, -1), 0.0, rtol=0, atol=1e-10)


def test_orthogonal_preserves_the_norm_of_every_row_through_a_linear_layer():
    x = np.random.default_rng(0).standard_normal((20, 30))
    W = init_weights(30, 30, "orthogonal", np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.norm(x @ W, axis=1), np.linalg.norm(x, axis=1), rtol=1e-12)


# --------------------------------------------------------------------------- LSUV
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_lsuv_gives_every_layer_unit_pre_activation_variance(nonlinearity):
    x = 3.0 * np.random.default_rng(0).standard_normal((200, 40))  # input variance 9
    widths = [50, 30, 30, 10]
    Ws = lsuv_init(widths, x, nonlinearity, np.random.default_rng(1), tol=0.05)
    assert [W.shape for W in Ws] == [(40, 50), (50, 30), (30, 30), (30, 10)]
    f = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), "linear": lambda z: z,
         "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[nonlinearity]
    q = np.random.default_rng(1)
    h = x
    for fan_in, W in zip([40] + widths[:-1], Ws):
        z = h @ W
        assert abs(z.var() - 1) < 0.05
        # each W is a positive multiple of the orthogonal draw (the same draws, in layer order)
        Q = init_weights(fan_in, W.shape[1], "orthogonal", q)
        scale = np.linalg.norm(W) / np.linalg.norm(Q)
        np.testing.assert_allclose(W, scale * Q, rtol=1e-12, atol=1e-14)
        h = f(z)


def test_lsuv_leaves_a_layer_already_within_tol_alone():
    # Orthogonal weights on unit-Gaussian inputs keep the first layer's variance near 1:
    # with a loose tol no layer is rescaled, so the weights are the plain orthogonal draws.
    x = np.random.default_rng(0).standard_normal((500, 50))
    Ws = lsuv_init([50, 50], x, "linear", np.random.default_rng(3), tol=0.5)
    q = np.random.default_rng(3)
    for W in Ws:
        np.testing.assert_array_equal(W, init_weights(50, 50, "orthogonal", q))


def test_lsuv_rescales_to_variance_one_exactly_up_to_round_off():
    # z is linear in W, so one rescaling W / sqrt(v) makes the variance 1 whatever the tol
    x = 10.0 * np.random.default_rng(0).standard_normal((64, 8))
    (W,) = lsuv_init([5], x, "relu", np.random.default_rng(0), tol=1e-9, max_iter=1)
    assert abs((x @ W).var() - 1) < 1e-12


@pytest.mark.parametrize("call, match", [
    (lambda x, r: lsuv_init([4], x, "softplus", r), "nonlinearity: expected one of"),
    (lambda x, r: lsuv_init([4], x, "relu", r, tol=0), "tol: expected a positive number"),
    (lambda x, r: lsuv_init([4], x, "relu", r, max_iter=0), "max_iter: expected an integer >= 1"),
    (lambda x, r: lsuv_init([4], x, "relu", 1), "rng: expected a numpy.random.Generator"),
    (lambda x, r: lsuv_init([], x, "relu", r), "widths: expected at least one"),
    (lambda x, r: lsuv_init([4], x[0], "relu", r), "x: expected a 2-D array"),
    (lambda x, r: lsuv_init([4], np.zeros((5, 3)), "relu", r), "layer 0 has variance 0.0"),
    (lambda x, r: lsuv_init([4], np.zeros((0, 3)), "relu", r), "x: expected a batch of at least one row"),
])
def test_lsuv_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.random.default_rng(0).standard_normal((6, 3)), np.random.default_rng(1))


def test_public_std_and_activation_are_what_init_weights_uses():
    from tnn_lib import layers
    from tnn_lib.init import NORMAL_SCHEMES, activation, init_weights, normal_std
    for scheme in NORMAL_SCHEMES:
        w = init_weights(400, 300, scheme, np.random.default_rng(3))
        z = np.random.default_rng(3).standard_normal((400, 300))
        np.testing.assert_array_equal(w, normal_std(scheme, 400) * z)   # the same draw, scaled by the std
    assert normal_std("he", 50) == np.sqrt(2.0 / 50) and normal_std("small", 7) == 0.01
    assert activation("relu") == (layers.relu_forward, layers.relu_backward)
    with pytest.raises(ValueError, match="scheme"):
        normal_std("zeros", 10)
    with pytest.raises(ValueError, match="nonlinearity"):
        activation("softplus")
