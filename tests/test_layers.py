"""tnn_lib.layers: every backward against numerical_gradient with a random upstream gradient."""
import numpy as np
import pytest

from tnn_lib import layers as L
from tnn_lib.gradcheck import numerical_gradient, rel_error

TOL = 1e-7


def away_from_kink(rng, shape, margin=0.1):
    """Normal values pushed at least `margin` away from 0 (no kink inside the ±h stencil)."""
    z = rng.normal(size=shape)
    return np.sign(z) * (margin + np.abs(z))


def check_input_grad(forward, backward, z, **kw):
    rng = np.random.default_rng(7)
    out, cache = forward(z, **kw)
    # random upstream gradient, bounded away from 0 so no entry of dz is so tiny that
    # round-off in the summed loss dominates its elementwise relative error
    dout = away_from_kink(rng, out.shape, margin=0.5)
    dz = backward(dout, cache)
    num = numerical_gradient(lambda v: np.sum(forward(v, **kw)[0] * dout), z.copy())
    assert rel_error(dz, num) < TOL


def test_linear_backward_matches_numerical_gradient():
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    out, cache = L.linear_forward(x, W, b)
    dout = rng.normal(size=out.shape)
    dx, dW, db = L.linear_backward(dout, cache)
    loss = lambda: np.sum(L.linear_forward(x, W, b)[0] * dout)  # noqa: E731 (closure over x, W, b)
    for analytic, arr in [(dx, x), (dW, W), (db, b)]:
        assert analytic.shape == arr.shape
        assert rel_error(analytic, numerical_gradient(lambda _: loss(), arr)) < TOL


def test_linear_forward_exact_and_cache_layout():
    x = np.array([[1.0, 2.0]])
    W = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
    b = np.array([0.5, 0.0, -0.5])
    out, cache = L.linear_forward(x, W, b)
    np.testing.assert_array_equal(out, [[5.5, 2.0, -0.5]])
    assert len(cache) == 3
    for got, want in zip(cache, (x, W, b)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "forward, backward, kw, make_z",
    [
        (L.relu_forward, L.relu_backward, {}, away_from_kink),
        (L.leaky_relu_forward, L.leaky_relu_backward, {}, away_from_kink),
        (L.leaky_relu_forward, L.leaky_relu_backward, {"slope": 0.2}, away_from_kink),
        (L.elu_forward, L.elu_backward, {}, away_from_kink),
        (L.elu_forward, L.elu_backward, {"alpha": 0.5}, away_from_kink),
        (L.sigmoid_forward, L.sigmoid_backward, {}, lambda r, s: r.normal(size=s)),
        (L.tanh_forward, L.tanh_backward, {}, lambda r, s: r.normal(size=s)),
    ],
    ids=["relu", "leaky", "leaky0.2", "elu", "elu0.5", "sigmoid", "tanh"],
)
def test_activation_backward_matches_numerical_gradient(forward, backward, kw, make_z):
    z = make_z(np.random.default_rng(3), (6, 5))
    check_input_grad(forward, backward, z, **kw)


def test_activation_exact_values():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(L.relu_forward(z)[0], [0.0, 0.0, 3.0])
    np.testing.assert_allclose(L.leaky_relu_forward(z)[0], [-0.02, 0.0, 3.0], rtol=1e-15)
    np.testing.assert_allclose(L.leaky_relu_forward(z, slope=0.5)[0], [-1.0, 0.0, 3.0])
    np.testing.assert_allclose(L.elu_forward(z, alpha=2.0)[0], [2 * (np.exp(-2) - 1), 0.0, 3.0])
    np.testing.assert_allclose(L.sigmoid_forward(z)[0], 1 / (1 + np.exp(-z)), rtol=1e-15)
    np.testing.assert_allclose(L.tanh_forward(z)[0], np.tanh(z), rtol=1e-15)
    # derivatives: relu'(0) is taken as 0, σ'(0) = 1/4, tanh'(0) = 1, elu'(z<0) = αe^z
    ones = np.ones(3)
    np.testing.assert_array_equal(L.relu_backward(ones, L.relu_forward(z)[1]), [0.0, 0.0, 1.0])
    assert L.sigmoid_backward(ones, L.sigmoid_forward(z)[1])[1] == 0.25
    assert L.tanh_backward(ones, L.tanh_forward(z)[1])[1] == 1.0
    np.testing.assert_allclose(L.elu_backward(ones, L.elu_forward(z, alpha=2.0)[1])[0], 2 * np.exp(-2))


@pytest.mark.parametrize("zero", [0.0, -0.0])
def test_kinks_at_zero_as_the_docstrings_and_pytorch_say(zero):
    """At z = 0 (either sign of zero): relu, leaky ReLU and ELU output exactly 0; the
    backward takes the left branch, as PyTorch's autograd does: relu'(0) = 0 (an exact zero
    even for a huge upstream gradient), leaky'(0) = slope, elu'(0) = alpha·e⁰ = alpha."""
    z = np.array([[zero, 1.5, -1.5], [zero, zero, 2.0]])
    dout = np.array([[1e300, -3.0, 2.0], [-7.0, 0.25, 5.0]])
    at = z == 0
    for fwd, kw in ((L.relu_forward, {}), (L.leaky_relu_forward, {"slope": 0.2}), (L.elu_forward, {"alpha": 0.7})):
        out, _ = fwd(z, **kw)
        assert np.all(out[at] == 0.0), (fwd.__name__, out)
    dz = L.relu_backward(dout, L.relu_forward(z)[1])
    assert np.all(dz[at] == 0.0)
    np.testing.assert_array_equal(dz[~at], [-3.0, 0.0, 5.0])
    dz = L.leaky_relu_backward(dout, L.leaky_relu_forward(z, slope=0.2)[1])
    np.testing.assert_array_equal(dz[at], 0.2 * dout[at])
    dz = L.elu_backward(dout, L.elu_forward(z, alpha=0.7)[1])
    np.testing.assert_array_equal(dz[at], 0.7 * dout[at])
    # a dead ReLU (z < 0 everywhere) passes exactly zero gradient, whatever dout is
    dead = L.relu_backward(np.full((2, 3), 1e308), L.relu_forward(-np.abs(z) - 1.0)[1])
    np.testing.assert_array_equal(dead, np.zeros((2, 3)))


def test_activations_saturate_without_overflow_at_1000():
    z = np.array([-1000.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_array_equal(L.sigmoid_forward(z)[0], [0.0, 1.0])
        np.testing.assert_array_equal(L.tanh_forward(z)[0], [-1.0, 1.0])
        np.testing.assert_array_equal(L.elu_forward(z)[0], [-1.0, 1000.0])
        # saturation: the gradient vanishes
        np.testing.assert_array_equal(L.sigmoid_backward(np.ones(2), L.sigmoid_forward(z)[1]), [0.0, 0.0])


def test_cache_layouts_are_the_documented_ones():
    z = np.array([[-1.0, 2.0]])
    assert L.relu_forward(z)[1] is not None and np.array_equal(L.relu_forward(z)[1], z)
    out, cache = L.sigmoid_forward(z)
    assert np.array_equal(cache, out)
    out, cache = L.tanh_forward(z)
    assert np.array_equal(cache, out)
    zc, slope = L.leaky_relu_forward(z, slope=0.3)[1]
    assert np.array_equal(zc, z) and slope == 0.3
    zc, alpha = L.elu_forward(z, alpha=0.7)[1]
    assert np.array_equal(zc, z) and alpha == 0.7


def test_backward_accepts_a_hand_built_cache():
    # the grader feeds the reference forward's cache to a student's backward and vice versa
    z = np.array([[-1.0, 2.0]])
    np.testing.assert_array_equal(L.leaky_relu_backward(np.ones((1, 2)), (z, 0.1)), [[0.1, 1.0]])
    dx, dW, db = L.linear_backward(np.ones((1, 1)), (np.array([[2.0, 3.0]]), np.ones((2, 1)), np.zeros(1)))
    np.testing.assert_array_equal(dW, [[2.0], [3.0]])


def test_inputs_are_not_modified():
    rng = np.random.default_rng(5)
    x, W, b = rng.normal(size=(3, 2)), rng.normal(size=(2, 4)), rng.normal(size=4)
    saved = [a.copy() for a in (x, W, b)]
    out, cache = L.linear_forward(x, W, b)
    dout = rng.normal(size=out.shape)
    dsaved = dout.copy()
    L.linear_backward(dout, cache)
    for fwd, bwd in [(L.relu_forward, L.relu_backward), (L.sigmoid_forward, L.sigmoid_backward),
                     (L.tanh_forward, L.tanh_backward), (L.elu_forward, L.elu_backward),
                     (L.leaky_relu_forward, L.leaky_relu_backward)]:
        o, c = fwd(x)
        bwd(np.ones_like(o), c)
    for a, s in zip((x, W, b, dout), saved + [dsaved]):
        assert np.array_equal(a, s)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros(3), np.zeros((3, 2)), np.zeros(2)), "x: expected a 2-D array"),
        ((np.zeros((4, 3)), np.zeros((2, 2)), np.zeros(2)), r"W: expected shape \(3, N\), got \(2, 2\)"),
        ((np.zeros((4, 3)), np.zeros((3, 2)), np.zeros(3)), r"b: expected shape \(2,\), got \(3,\)"),
    ],
)
def test_linear_forward_shape_errors(args, match):
    with pytest.raises(ValueError, match=match):
        L.linear_forward(*args)


def test_backward_shape_errors():
    _, cache = L.linear_forward(np.zeros((4, 3)), np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"dout: expected shape \(4, 2\)"):
        L.linear_backward(np.zeros((4, 3)), cache)
    for fwd, bwd in [(L.relu_forward, L.relu_backward), (L.sigmoid_forward, L.sigmoid_backward),
                     (L.tanh_forward, L.tanh_backward), (L.elu_forward, L.elu_backward),
                     (L.leaky_relu_forward, L.leaky_relu_backward)]:
        with pytest.raises(ValueError, match="expected the same shape"):
            bwd(np.zeros((2, 2)), fwd(np.zeros((2, 3)))[1])


def test_negative_slope_or_alpha_raises():
    with pytest.raises(ValueError, match="slope: expected a non-negative number"):
        L.leaky_relu_forward(np.zeros(2), slope=-0.1)
    with pytest.raises(ValueError, match="alpha: expected a non-negative number"):
        L.elu_forward(np.zeros(2), alpha=-1.0)
