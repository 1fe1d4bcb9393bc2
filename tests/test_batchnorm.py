"""tnn_lib.batchnorm: gradients, the Jacobian, the lecture's derivation, running statistics."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tnn_lib import batchnorm as bn
from tnn_lib.gradcheck import numerical_gradient, rel_error

TOL = 1e-7
EPS = 1e-5


def spread_batch(b, d):
    """(B, D) float batches whose features are not (nearly) constant."""
    return arrays(np.float64, (b, d), elements=st.floats(-50, 50, allow_nan=False)).filter(
        lambda z: np.all(z.std(axis=0) > 1e-2)
    )


batches = st.integers(2, 12).flatmap(lambda b: st.integers(1, 4).flatmap(lambda d: spread_batch(b, d)))
columns = st.integers(2, 12).flatmap(lambda b: spread_batch(b, 1)).map(lambda z: z[:, 0])


def upstream(rng, shape):
    z = rng.normal(size=shape)
    return np.sign(z) * (0.5 + np.abs(z))


# --------------------------------------------------------------------------- functional BN
def test_batchnorm_backward_matches_numerical_gradient():
    rng = np.random.default_rng(0)
    z = rng.normal(loc=2.0, scale=3.0, size=(6, 4))
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    out, cache = bn.batchnorm_forward(z, gamma, beta)
    dout = upstream(rng, out.shape)
    dz, dgamma, dbeta = bn.batchnorm_backward(dout, cache)
    loss = lambda: np.sum(bn.batchnorm_forward(z, gamma, beta)[0] * dout)  # noqa: E731
    for analytic, arr in [(dz, z), (dgamma, gamma), (dbeta, beta)]:
        assert rel_error(analytic, numerical_gradient(lambda _: loss(), arr)) < TOL


def test_batchnorm_cache_layout_and_biased_variance():
    z = np.array([[1.0, 0.0], [3.0, 4.0]])
    gamma, beta = np.array([2.0, 1.0]), np.array([0.5, 0.0])
    out, (zc, z_hat, mu, var, g, eps) = bn.batchnorm_forward(z, gamma, beta, eps=1e-3)
    np.testing.assert_array_equal(zc, z)
    np.testing.assert_array_equal(mu, [2.0, 2.0])
    np.testing.assert_array_equal(var, [1.0, 4.0])  # divide by B, not B − 1
    np.testing.assert_allclose(z_hat, [[-1 / np.sqrt(1.001), -2 / np.sqrt(4.001)],
                                       [1 / np.sqrt(1.001), 2 / np.sqrt(4.001)]], rtol=1e-15)
    np.testing.assert_array_equal(g, gamma)
    assert eps == 1e-3
    np.testing.assert_allclose(out, gamma * z_hat + beta, rtol=1e-15)


@settings(max_examples=60, deadline=None)
@given(batches)
def test_batchnorm_output_has_zero_mean_and_unit_variance_per_feature(z):
    d = z.shape[1]
    out, _ = bn.batchnorm_forward(z, np.ones(d), np.zeros(d))
    var = z.var(axis=0)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), var / (var + EPS), rtol=1e-9)  # ≈ 1
    np.testing.assert_allclose(out.var(axis=0), 1.0, rtol=0.1)


@settings(max_examples=60, deadline=None)
@given(batches, st.integers(0, 2**32 - 1))
def test_batchnorm_dz_sums_to_zero_over_the_batch(z, seed):
    rng = np.random.default_rng(seed)
    d = z.shape[1]
    out, cache = bn.batchnorm_forward(z, rng.normal(size=d), rng.normal(size=d))
    dout = rng.normal(size=out.shape)
    dz, _, _ = bn.batchnorm_backward(dout, cache)
    scale = np.abs(dout).sum(axis=0) * np.abs(cache[4]) / np.sqrt(cache[3] + EPS)
    assert np.all(np.abs(dz.sum(axis=0)) <= 1e-12 * (1 + scale))


def test_batch_norm_identical_inputs_block_the_gradient():
    """Lecture poll 4: identical instances in a minibatch give the weights no gradient."""
    rng = np.random.default_rng(1)
    x = np.tile(rng.normal(size=(1, 3)), (5, 1))  # five identical instances
    W, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    gamma, beta = rng.normal(size=2), rng.normal(size=2)
    dout = upstream(rng, (5, 2))

    def loss(W_):
        return np.sum(bn.batchnorm_forward(x @ W_ + b, gamma, beta)[0] * dout)

    out, cache = bn.batchnorm_forward(x @ W + b, gamma, beta)
    # every u is 0 -- up to round-off only: the mean of five equal z is not always exactly z
    # (z+z+z+z+z rounds), and BLAS kernels may round x @ W differently per row; that leaves
    # û = (z − μ)/√(σ²+ε) ~ 1e-16·|z|/√ε ~ 1e-13, far below its natural scale of 1.
    np.testing.assert_allclose(out, np.tile(beta, (5, 1)), rtol=0, atol=1e-10)
    dz, _, _ = bn.batchnorm_backward(dout, cache)
    np.testing.assert_allclose(dz.sum(axis=0), 0.0, atol=1e-9)  # dz sums to zero ...
    dW = x.T @ dz
    np.testing.assert_allclose(dW, 0.0, atol=1e-9)  # ... so the weights get nothing
    np.testing.assert_allclose(numerical_gradient(loss, W.copy()), 0.0, atol=1e-6)
    # whereas distinct instances do give a gradient
    x2 = x + rng.normal(size=x.shape)
    _, cache2 = bn.batchnorm_forward(x2 @ W + b, gamma, beta)
    assert np.abs(x2.T @ bn.batchnorm_backward(dout, cache2)[0]).max() > 1e-2


def test_dvariance_dmean_is_zero_at_the_batch_mean():
    """The lecture's step dσ²/dμ = −(2/B) Σ (z_i − μ) = 0, numerically."""
    z = np.random.default_rng(2).normal(size=7)
    variance = lambda mu: np.mean((z - mu[0]) ** 2)  # noqa: E731
    # exactly 0: the central difference is then pure round-off, ~eps·σ²/h ~ 1e-11 (up to
    # ~7e-11 over seeds), so bound it at 1e-8, far below the gradient's scale 2·|Δμ| ~ 1
    assert abs(numerical_gradient(variance, np.array([z.mean()]))[0]) < 1e-8
    assert abs(numerical_gradient(variance, np.array([z.mean() + 1.0]))[0]) > 1.0  # not trivially 0


# --------------------------------------------------------------------------- the Jacobian
def test_jacobian_matches_lecture_through_and_cross_lines():
    z = np.array([1.0, 2.0, 4.0, 7.0])
    J = bn.batchnorm_jacobian(z, eps=EPS)
    B, mu = 4, 3.5
    s = np.sqrt(z.var() + EPS)
    i, j = 1, 3
    # Each entry is a sum of terms of size 1/(Bs) ~ 0.1 that may cancel: here J[3, 1] ≈ −2e-7
    # (only ε keeps it off 0, as (z_1 − μ)(z_3 − μ) = −σ²), so a relative tolerance on it would
    # compare round-off with round-off; the absolute bound is a few dozen ulps of the terms.
    tol = 1e-14 / (B * s)
    assert J[i, i] == pytest.approx(1 / s - 1 / (B * s) - (z[i] - mu) ** 2 / (B * s**3), rel=1e-14, abs=tol)
    assert J[j, i] == pytest.approx(-1 / (B * s) - (z[i] - mu) * (z[j] - mu) / (B * s**3), rel=1e-14, abs=tol)


@settings(max_examples=30, deadline=None)
@given(columns)
def test_jacobian_matches_numerical_jacobian(z):
    J = bn.batchnorm_jacobian(z, eps=EPS)
    for j in range(z.size):
        u_j = lambda v, j=j: bn.batchnorm_forward(v[:, None], np.ones(1), np.zeros(1))[0][j, 0]  # noqa: E731
        row = numerical_gradient(u_j, z.copy(), h=1e-5 * max(1.0, z.std()))
        # each entry is a sum of terms of size 1/s that may cancel (B = 2 gives J ≈ 0)
        np.testing.assert_allclose(J[j], row, rtol=1e-5, atol=1e-8 / np.sqrt(z.var() + EPS))


@settings(max_examples=60, deadline=None)
@given(columns)
def test_jacobian_rows_and_columns_sum_to_zero(z):
    J = bn.batchnorm_jacobian(z, eps=EPS)
    tol = 1e-13 * z.size / np.sqrt(z.var() + EPS)  # entries are sums of terms of size 1/s
    assert np.all(np.abs(J.sum(axis=0)) <= tol)
    assert np.all(np.abs(J.sum(axis=1)) <= tol)


@settings(max_examples=40, deadline=None)
@given(batches, st.integers(0, 2**32 - 1))
def test_batchnorm_backward_is_jacobian_transpose_times_du(z, seed):
    rng = np.random.default_rng(seed)
    d = z.shape[1]
    gamma = rng.normal(size=d)
    _, cache = bn.batchnorm_forward(z, gamma, np.zeros(d))
    dout = rng.normal(size=z.shape)
    dz, _, _ = bn.batchnorm_backward(dout, cache)
    for k in range(d):
        J = bn.batchnorm_jacobian(z[:, k], eps=EPS)
        du = dout[:, k] * gamma[k]
        expected = J.T @ du
        # terms are of size |du|/s and may cancel (B = 2 gives dz ≈ 0): absolute tolerance
        atol = 1e-12 * np.abs(du).sum() / np.sqrt(z[:, k].var() + EPS)
        np.testing.assert_allclose(dz[:, k], expected, rtol=1e-8, atol=atol)


# --------------------------------------------------------------------------- inference
def test_population_statistics_exact_values():
    mean, var = bn.population_statistics([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], batch_size=4)
    assert mean == 2.0
    assert var == pytest.approx(16.0 / 3.0, rel=1e-15)  # 4/3 × 4
    mean, var = bn.population_statistics(np.array([[0.0, 1.0], [2.0, 3.0]]),
                                         np.array([[1.0, 2.0], [3.0, 4.0]]), batch_size=2)
    np.testing.assert_array_equal(mean, [1.0, 2.0])
    np.testing.assert_array_equal(var, [4.0, 6.0])


@pytest.mark.parametrize("size", [1, 0, -3])
def test_population_statistics_batch_size_below_two_raises(size):
    with pytest.raises(ValueError, match="batch_size: expected an integer >= 2"):
        bn.population_statistics([0.0], [1.0], batch_size=size)


def test_population_statistics_other_errors():
    with pytest.raises(ValueError, match="batch_size: expected an integer"):
        bn.population_statistics([0.0], [1.0], batch_size=2.5)
    with pytest.raises(ValueError, match=r"batch_vars: expected shape \(2,\)"):
        bn.population_statistics([0.0, 1.0], [1.0], batch_size=4)
    with pytest.raises(ValueError, match="batch_vars: expected non-negative"):
        bn.population_statistics([0.0], [-1.0], batch_size=4)


def torch_running_stats(batches, momentum):
    """torch.nn.BatchNorm1d's documented update, written out by hand."""
    mean, var = np.zeros(batches[0].shape[1]), np.ones(batches[0].shape[1])
    for x in batches:
        n = x.shape[0]
        mean = (1 - momentum) * mean + momentum * x.mean(axis=0)
        var = (1 - momentum) * var + momentum * x.var(axis=0) * n / (n - 1)
    return mean, var


@pytest.mark.parametrize("momentum", [0.1, 0.3])
def test_batchnorm1d_running_statistics_follow_pytorch(momentum):
    rng = np.random.default_rng(3)
    layer = bn.BatchNorm1d(3, momentum=momentum)
    assert layer.training
    np.testing.assert_array_equal(layer.running_mean, 0.0)
    np.testing.assert_array_equal(layer.running_var, 1.0)
    np.testing.assert_array_equal(layer.gamma, 1.0)
    np.testing.assert_array_equal(layer.beta, 0.0)
    seen = []
    for size in (4, 7, 2, 10, 5):
        x = rng.normal(loc=[1.0, -2.0, 5.0], scale=[1.0, 3.0, 0.5], size=(size, 3))
        out = layer.forward(x)
        seen.append(x)
        np.testing.assert_allclose(out, bn.batchnorm_forward(x, layer.gamma, layer.beta)[0], rtol=1e-15)
        mean, var = torch_running_stats(seen, momentum)
        np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-13)
        np.testing.assert_allclose(layer.running_var, var, rtol=1e-13)


def test_batchnorm1d_eval_uses_running_statistics_and_changes_nothing():
    rng = np.random.default_rng(4)
    layer = bn.BatchNorm1d(2, eps=1e-3)
    layer.gamma[:] = [2.0, -1.0]
    layer.beta[:] = [0.5, 1.0]
    for _ in range(3):
        layer.forward(rng.normal(size=(8, 2)) * 3 + 1)
    assert layer.eval() is layer and not layer.training
    rm, rv = layer.running_mean.copy(), layer.running_var.copy()
    x = rng.normal(size=(1, 2))  # a batch of one is fine at test time
    out = layer.forward(x)
    np.testing.assert_allclose(out, layer.gamma * (x - rm) / np.sqrt(rv + 1e-3) + layer.beta, rtol=1e-14)
    np.testing.assert_array_equal(layer.running_mean, rm)
    np.testing.assert_array_equal(layer.running_var, rv)
    assert layer.train() is layer and layer.training


def test_batchnorm1d_backward_matches_functional_and_numerical():
    rng = np.random.default_rng(5)
    layer = bn.BatchNorm1d(3)
    layer.gamma[:] = rng.normal(size=3)
    layer.beta[:] = rng.normal(size=3)
    x = rng.normal(size=(6, 3))
    dout = upstream(rng, (6, 3))
    layer.forward(x)
    dx = layer.backward(dout)
    _, cache = bn.batchnorm_forward(x, layer.gamma, layer.beta)
    for got, want in zip((dx, layer.dgamma, layer.dbeta), bn.batchnorm_backward(dout, cache)):
        np.testing.assert_array_equal(got, want)
    # eval mode: the statistics are constants
    layer.eval()
    layer.forward(x)
    dx = layer.backward(dout)
    num = numerical_gradient(lambda v: np.sum(layer.forward(v) * dout), x.copy())
    assert rel_error(dx, num) < TOL
    np.testing.assert_allclose(layer.dbeta, dout.sum(axis=0))


def test_batchnorm_batch_of_one_in_training_raises():
    with pytest.raises(ValueError, match="more than one instance.*got a batch of 1"):
        bn.BatchNorm1d(2).forward(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="got a batch of 1"):
        bn.batchnorm_forward(np.zeros((1, 2)), np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match="z: expected a minibatch of at least 2"):
        bn.batchnorm_jacobian(np.zeros(1))


def test_batchnorm_argument_errors():
    with pytest.raises(ValueError, match=r"gamma: expected shape \(2,\), got \(3,\)"):
        bn.batchnorm_forward(np.zeros((3, 2)), np.ones(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"beta: expected shape \(2,\)"):
        bn.batchnorm_forward(np.zeros((3, 2)), np.ones(2), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="eps: expected a positive number"):
        bn.batchnorm_forward(np.zeros((3, 2)), np.ones(2), np.zeros(2), eps=0.0)
    _, cache = bn.batchnorm_forward(np.arange(6.0).reshape(3, 2), np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match=r"dout: expected shape \(3, 2\)"):
        bn.batchnorm_backward(np.zeros((2, 3)), cache)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 2\), got \(3, 4\)"):
        bn.BatchNorm1d(2).forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="momentum: expected"):
        bn.BatchNorm1d(2, momentum=1.5)
    with pytest.raises(ValueError, match="num_features: expected an integer >= 1"):
        bn.BatchNorm1d(0)
    with pytest.raises(ValueError, match="backward: expected a forward call first"):
        bn.BatchNorm1d(2).backward(np.zeros((3, 2)))


def test_batchnorm_does_not_modify_inputs():
    rng = np.random.default_rng(6)
    z, gamma, beta, dout = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=3), rng.normal(size=(4, 3))
    saved = [a.copy() for a in (z, gamma, beta, dout)]
    _, cache = bn.batchnorm_forward(z, gamma, beta)
    bn.batchnorm_backward(dout, cache)
    _, cache = bn.layernorm_forward(z, gamma, beta)
    bn.layernorm_backward(dout, cache)
    bn.batchnorm_jacobian(z[:, 0])
    for a, s in zip((z, gamma, beta, dout), saved):
        np.testing.assert_array_equal(a, s)


# --------------------------------------------------------------------------- layer norm
def test_layernorm_backward_matches_numerical_gradient():
    rng = np.random.default_rng(7)
    x = rng.normal(loc=1.0, scale=2.0, size=(4, 5))
    gamma, beta = rng.normal(size=5), rng.normal(size=5)
    out, cache = bn.layernorm_forward(x, gamma, beta)
    dout = upstream(rng, out.shape)
    dx, dgamma, dbeta = bn.layernorm_backward(dout, cache)
    loss = lambda: np.sum(bn.layernorm_forward(x, gamma, beta)[0] * dout)  # noqa: E731
    for analytic, arr in [(dx, x), (dgamma, gamma), (dbeta, beta)]:
        assert rel_error(analytic, numerical_gradient(lambda _: loss(), arr)) < TOL


def test_layernorm_normalises_rows_and_cache_layout():
    x = np.array([[1.0, 3.0], [0.0, 4.0], [5.0, 5.0]])
    out, (xc, x_hat, mu, var, gamma, eps) = bn.layernorm_forward(x, np.ones(2), np.zeros(2))
    np.testing.assert_array_equal(xc, x)
    assert mu.shape == (3, 1) and var.shape == (3, 1)
    np.testing.assert_array_equal(mu[:, 0], [2.0, 2.0, 5.0])
    np.testing.assert_array_equal(var[:, 0], [1.0, 4.0, 0.0])
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-15)
    np.testing.assert_allclose(out, x_hat)
    assert eps == 1e-5
    one, _ = bn.layernorm_forward(x[:1], np.ones(2), np.zeros(2))  # a batch of one is fine
    np.testing.assert_allclose(one, out[:1])


# --------------------------------------------------------------------------- weight norm
def test_weightnorm_forward_gives_each_column_the_length_g_and_the_direction_of_v():
    v = np.array([[3.0, 0.0], [4.0, 0.0], [0.0, -2.0]])          # column norms 5 and 2
    w, (v_c, g_c, norm) = bn.weightnorm_forward(v, np.array([10.0, -1.0]))
    assert np.array_equal(norm, [5.0, 2.0])
    assert np.allclose(w, [[6.0, 0.0], [8.0, 0.0], [0.0, 1.0]], rtol=0, atol=1e-15)
    assert v_c is v and np.array_equal(g_c, [10.0, -1.0])


def test_weightnorm_forward_refuses_a_zero_column_and_a_g_of_the_wrong_shape():
    with pytest.raises(ValueError, match="v: expected no zero column"):
        bn.weightnorm_forward(np.array([[1.0, 0.0], [2.0, 0.0]]), np.ones(2))
    with pytest.raises(ValueError, match="g"):
        bn.weightnorm_forward(np.ones((3, 2)), np.ones(3))


def test_weightnorm_backward_matches_numerical_gradient_and_is_orthogonal_to_v():
    rng = np.random.default_rng(11)
    v, g, dw = rng.standard_normal((5, 3)), rng.uniform(-2.0, 2.0, 3), rng.standard_normal((5, 3))
    _, cache = bn.weightnorm_forward(v, g)
    dv, dg = bn.weightnorm_backward(dw, cache)
    loss = lambda v_, g_: np.sum(dw * bn.weightnorm_forward(v_, g_)[0])
    assert rel_error(dv, numerical_gradient(lambda a: loss(a, g), v.copy())) < 1e-7
    assert rel_error(dg, numerical_gradient(lambda a: loss(v, a), g.copy())) < 1e-7
    assert np.all(np.abs((v * dv).sum(axis=0)) < 1e-12 * len(v) * np.abs(v).max() * np.abs(dv).max())
