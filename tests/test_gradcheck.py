"""tnn_lib.gradcheck: central differences and the relative error used by every check."""
import numpy as np
import pytest

from tnn_lib.gradcheck import numerical_gradient, rel_error


def test_numerical_gradient_of_cubic_matches_exact_derivative():
    x = np.random.default_rng(0).normal(size=(3, 4))
    grad = numerical_gradient(lambda v: np.sum(v**3), x)
    assert rel_error(grad, 3 * x**2) < 1e-7  # truncation error is h² = 1e-10


def test_numerical_gradient_of_sin_matches_cos():
    x = np.linspace(-3, 3, 7)
    grad = numerical_gradient(lambda v: np.sum(np.sin(v)), x)
    np.testing.assert_allclose(grad, np.cos(x), rtol=0, atol=1e-10)


def test_numerical_gradient_of_linear_function_is_exact():
    a = np.array([[2.0, -1.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda v: float(np.sum(a * v)), np.zeros((2, 2)))
    np.testing.assert_allclose(grad, a, rtol=1e-10)


def test_numerical_gradient_of_a_closure_over_x():
    x = np.array([1.0, 2.0, 3.0])
    grad = numerical_gradient(lambda _: x[0] * x[1] * x[2], x)  # f ignores its argument
    np.testing.assert_allclose(grad, [6.0, 3.0, 2.0], rtol=1e-9)


def test_numerical_gradient_uses_the_step_h():
    # central difference of x**3 is 3x² + h²: the h² term shows h is used.
    grad = numerical_gradient(lambda v: np.sum(v**3), np.array([0.0]), h=0.1)
    np.testing.assert_allclose(grad, [0.01], rtol=1e-9)


def test_numerical_gradient_restores_x_exactly():
    x = np.random.default_rng(1).normal(size=(4, 3))
    before = x.copy()
    numerical_gradient(lambda v: np.sum(np.exp(v)), x)
    assert np.array_equal(x, before)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])
    before = x.copy()

    def f(v):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    assert np.array_equal(x, before)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (1.0, 3.0, 0.5),
        ([1.0, 2.0], [1.0, 2.0], 0.0),
        (0.0, 0.0, 0.0),
        (1e-9, 0.0, 0.1),  # the 1e-8 floor
        ([1.0, -1.0], [1.0, 1.0], 1.0),
        ([1000.0, 1.0], [1000.0, 2.0], 1.0 / 3.0),  # elementwise max, not a global ratio
    ],
)
def test_rel_error_exact_values(a, b, expected):
    assert rel_error(a, b) == pytest.approx(expected, rel=1e-12, abs=0)


def test_rel_error_flags_a_wrong_gradient():
    x = np.random.default_rng(2).normal(size=5)
    grad = numerical_gradient(lambda v: np.sum(v**2), x)
    assert rel_error(grad, 2 * x) < 1e-9
    assert rel_error(grad, 2 * x + 1e-4) > 1e-7


def test_rel_error_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("x", [np.array([1, 2]), [1.0, 2.0]])
def test_numerical_gradient_needs_a_float_array(x):
    with pytest.raises(ValueError, match="x: expected a float"):
        numerical_gradient(lambda v: 0.0, x)


@pytest.mark.parametrize("h", [0.0, -1e-5])
def test_numerical_gradient_needs_positive_h(h):
    with pytest.raises(ValueError, match="h: expected a positive"):
        numerical_gradient(lambda v: 0.0, np.zeros(2), h=h)


def test_numerical_gradient_needs_a_callable():
    with pytest.raises(ValueError, match="f: expected a callable"):
        numerical_gradient(3.0, np.zeros(2))
