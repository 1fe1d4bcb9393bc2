"""tnn_lib.divergences: values, gradients (numerical and y − d), stability at logits of ±1000."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnn_lib import divergences as dv
from tnn_lib.gradcheck import numerical_gradient, rel_error

TOL = 1e-7
BIG = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])


def dirichlet_targets(rng, n, c):
    return rng.dirichlet(np.ones(c), size=n)


def one_hot(labels, c):
    return np.eye(c)[labels]


# --------------------------------------------------------------------------- softmax
def test_softmax_exact_and_rows_sum_to_one():
    z = np.array([[0.0, np.log(3.0)], [1.0, 1.0]])
    np.testing.assert_allclose(dv.softmax(z), [[0.25, 0.75], [0.5, 0.5]], rtol=1e-15)
    p = dv.softmax(np.random.default_rng(0).normal(size=(4, 6)) * 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)


def test_softmax_and_log_softmax_are_finite_and_correct_at_1000():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = dv.softmax(BIG)
        logp = dv.log_softmax(BIG)
    np.testing.assert_array_equal(p, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(logp, [[0.0, -2000.0, -1000.0], [-2000.0, -2000.0, 0.0]])


def test_log_softmax_equals_log_of_softmax_and_is_shift_invariant():
    z = np.random.default_rng(1).normal(size=(3, 5))
    np.testing.assert_allclose(dv.log_softmax(z), np.log(dv.softmax(z)), rtol=1e-13)
    np.testing.assert_allclose(dv.log_softmax(z + 500.0), dv.log_softmax(z), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dv.softmax(np.array([0.0, 1.0])), dv.softmax(np.array([[0.0, 1.0]]))[0])


# --------------------------------------------------------------------------- L2
def test_l2_divergence_exact_value_and_gradient():
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    d = np.zeros((2, 2))
    assert dv.l2_divergence(y, d) == 7.5  # ½(1 + 4 + 9 + 16) / 2
    np.testing.assert_array_equal(dv.l2_divergence_grad(y, d), y / 2)


def test_l2_divergence_grad_matches_numerical_gradient():
    rng = np.random.default_rng(2)
    y, d = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    num = numerical_gradient(lambda v: dv.l2_divergence(v, d), y.copy())
    assert rel_error(dv.l2_divergence_grad(y, d), num) < TOL


# --------------------------------------------------------------------------- KL
def test_kl_divergence_grad_matches_numerical_gradient():
    rng = np.random.default_rng(3)
    y = rng.uniform(0.2, 1.0, size=(4, 3))
    d = dirichlet_targets(rng, 4, 3)
    num = numerical_gradient(lambda v: dv.kl_divergence(v, d), y.copy())
    assert rel_error(dv.kl_divergence_grad(y, d), num) < TOL


def test_kl_with_one_hot_targets_treats_0_log_0_as_0():
    y = np.array([[0.7, 0.3, 0.0], [0.0, 0.5, 0.5]])  # zeros exactly where d is 0
    d = one_hot([0, 2], 3)
    with np.errstate(all="raise"):
        loss = dv.kl_divergence(y, d)
        grad = dv.kl_divergence_grad(y, d)
    assert loss == pytest.approx(-(np.log(0.7) + np.log(0.5)) / 2, rel=1e-15)
    np.testing.assert_array_equal(grad, [[-1 / (2 * 0.7), 0.0, 0.0], [0.0, 0.0, -1.0]])


def test_kl_of_a_distribution_with_itself_is_zero():
    d = np.array([[0.0, 0.25, 0.75]])
    assert dv.kl_divergence(d, d) == 0.0


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(2, 6))
def test_kl_is_non_negative_and_softmax_kl_agrees(seed, n, c):
    rng = np.random.default_rng(seed)
    z, d = rng.normal(size=(n, c)) * 3, dirichlet_targets(rng, n, c)
    loss, _ = dv.softmax_kl(z, d)
    assert loss >= -1e-12
    assert loss == pytest.approx(dv.kl_divergence(dv.softmax(z), d), rel=1e-9, abs=1e-12)


# --------------------------------------------------------------------------- from logits
def test_softmax_kl_gradient_matches_numerical_gradient_and_y_minus_d():
    rng = np.random.default_rng(4)
    z, d = rng.normal(size=(5, 4)), dirichlet_targets(rng, 5, 4)
    loss, dz = dv.softmax_kl(z, d)
    num = numerical_gradient(lambda v: dv.softmax_kl(v, d)[0], z.copy())
    assert rel_error(dz, num) < TOL
    # y − d may nearly cancel: round-off is relative to y and d (≤ 1, divided by N = 5), not to dz
    np.testing.assert_allclose(dz, (dv.softmax(z) - d) / 5, rtol=1e-14, atol=1e-14 / 5)


def test_softmax_kl_finite_and_correct_at_1000():
    d = one_hot([1, 2], 3)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dz = dv.softmax_kl(BIG, d)
    assert loss == 1000.0  # (2000 + 0) / 2
    np.testing.assert_array_equal(dz, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]])


def test_sigmoid_bce_gradient_matches_numerical_gradient():
    rng = np.random.default_rng(5)
    z, d = rng.normal(size=(4, 3)), rng.uniform(size=(4, 3))
    loss, dz = dv.sigmoid_bce(z, d)
    num = numerical_gradient(lambda v: dv.sigmoid_bce(v, d)[0], z.copy())
    assert rel_error(dz, num) < TOL
    sig = 1 / (1 + np.exp(-z))
    naive = np.mean(-d * np.log(sig) - (1 - d) * np.log(1 - sig))
    assert loss == pytest.approx(naive, rel=1e-13)
    # σ(z) − d may nearly cancel: round-off is relative to σ and d (≤ 1, divided by N·C), not to dz
    np.testing.assert_allclose(dz, (sig - d) / z.size, rtol=1e-13, atol=1e-13 / z.size)


def test_matched_pair_has_no_phi_prime_and_l2_through_a_sigmoid_has_it():
    """00 §1: for sigmoid + cross-entropy, dL/dw = −(y* − σ(z)) x / N with no σ'(z) factor;
    for L2 through a sigmoid the factor is there. Checked by central differences, with
    soft targets and weights large enough that σ' is far from constant."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((50, 4)), rng.standard_normal((4, 1)) * 2.0
    t = rng.uniform(0.0, 1.0, (50, 1))
    s = 1.0 / (1.0 + np.exp(-(x @ w)))
    bce_num = numerical_gradient(lambda v: dv.sigmoid_bce(x @ v, t)[0], w.copy())
    l2_num = numerical_gradient(lambda v: dv.l2_divergence(1.0 / (1.0 + np.exp(-(x @ v))), t), w.copy())
    no_phi = x.T @ (s - t) / len(x)
    with_phi = x.T @ ((s - t) * s * (1.0 - s)) / len(x)
    assert rel_error(no_phi, bce_num) < 1e-8
    assert rel_error(with_phi, l2_num) < 1e-8
    assert rel_error(with_phi, bce_num) > 0.1 and rel_error(no_phi, l2_num) > 0.1   # the two differ


def test_sigmoid_bce_finite_and_correct_at_1000():
    z = np.array([[1000.0, -1000.0, 1000.0, -1000.0]])
    d = np.array([[0.0, 0.0, 1.0, 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dz = dv.sigmoid_bce(z, d)
    assert loss == 500.0  # (1000 + 0 + 0 + 1000) / 4
    np.testing.assert_array_equal(dz, [[0.25, 0.0, 0.0, -0.25]])


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "fn", [dv.l2_divergence, dv.l2_divergence_grad, dv.kl_divergence, dv.kl_divergence_grad,
           dv.softmax_kl, dv.sigmoid_bce],
)
def test_shape_mismatch_raises(fn):
    with pytest.raises(ValueError, match=r"expected the same shape, got \(2, 3\) and \(2, 2\)"):
        fn(np.full((2, 3), 0.5), np.full((2, 2), 0.5))


def test_one_dimensional_outputs_raise():
    with pytest.raises(ValueError, match="y: expected a 2-D array"):
        dv.l2_divergence(np.zeros(3), np.zeros(3))


def test_bad_targets_raise():
    with pytest.raises(ValueError, match="d: expected non-negative"):
        dv.kl_divergence(np.full((1, 2), 0.5), np.array([[-0.5, 1.5]]))
    with pytest.raises(ValueError, match="d: expected each row to sum to 1"):
        dv.softmax_kl(np.zeros((1, 2)), np.array([[0.5, 0.6]]))
    with pytest.raises(ValueError, match=r"d: expected targets in \[0, 1\]"):
        dv.sigmoid_bce(np.zeros((1, 2)), np.array([[0.0, 2.0]]))
    with pytest.raises(ValueError, match="z: expected a 1-D or 2-D array"):
        dv.softmax(np.zeros((2, 2, 2)))
