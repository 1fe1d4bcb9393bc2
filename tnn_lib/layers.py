"""Linear layer and elementwise activations as forward/backward pairs (notebook ``00_backprop``).

Every forward returns ``(out, cache)`` and every backward takes ``(dout, cache)``. The
cache layouts are part of the grading contract (a student's backward is fed the
reference forward's cache), so each docstring states exactly what the cache holds.
Shapes: ``x`` is ``(N, D)``, ``W`` is ``(D, M)``, ``b`` is ``(M,)``; activations accept any shape.
No function modifies its arguments (inputs, ``dout``, the arrays of a cache); the checks
compare them after every call.
"""

import numpy as np

from tnn_lib._validate import check_array, check_nonneg, check_same_shape

__all__ = [
    "linear_forward", "linear_backward",
    "relu_forward", "relu_backward",
    "sigmoid_forward", "sigmoid_backward",
    "tanh_forward", "tanh_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "elu_forward", "elu_backward",
]


def _float(name, a, ndim=None, shape=None):
    return check_array(name, a, ndim=ndim, shape=shape).astype(np.float64, copy=False)


# --------------------------------------------------------------------------- linear
def linear_forward(x, W, b):
    """Affine layer ``out = x @ W + b``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    W : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple ``(x, W, b)``
    """
    x = _float("x", x, ndim=2)
    W = _float("W", W, shape=(x.shape[1], None))
    b = _float("b", b, shape=(W.shape[1],))
    return x @ W + b, (x, W, b)


def linear_backward(dout, cache):
    """Backward of :func:`linear_forward`.

    ``dx = dout @ W.T``, ``dW = x.T @ dout``, ``db = sum_n dout[n]``.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
        Upstream gradient dL/dout.
    cache : tuple ``(x, W, b)`` from :func:`linear_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dW : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    """
    x, W, _ = cache
    dout = _float("dout", dout, shape=(x.shape[0], W.shape[1]))
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


# --------------------------------------------------------------------------- ReLU
def relu_forward(z):
    """ReLU ``out = max(0, z)``, elementwise, any shape.

    Returns ``(out, cache)`` with ``cache = z``.
    """
    z = _float("z", z)
    return np.maximum(z, 0.0), z


def relu_backward(dout, cache):
    """Backward of ReLU: ``dz = dout * [z > 0]`` (derivative 0 taken at the kink z = 0).

    ``cache = z`` (the forward's input). Returns ``dz`` with the shape of ``z``.
    """
    z = cache
    dout = _float("dout", dout)
    check_same_shape("dout", dout, "z (cache)", z)
    return dout * (z > 0)


# --------------------------------------------------------------------------- sigmoid
def sigmoid_forward(z):
    """Logistic sigmoid ``out = 1 / (1 + exp(-z))``, elementwise, stable for large abs(z).

    Returns ``(out, cache)`` with ``cache = out`` (σ(z) itself).
    """
    z = _float("z", z)
    # exp of a non-positive number never overflows: σ(z) = e^{min(z,0)} / (1 + e^{-|z|}).
    out = np.exp(np.minimum(z, 0.0)) / (1.0 + np.exp(-np.abs(z)))
    return out, out


def sigmoid_backward(dout, cache):
    """Backward of sigmoid: ``dz = dout * σ(z) (1 − σ(z))``.

    ``cache = out`` = σ(z) from :func:`sigmoid_forward`.
    """
    out = cache
    dout = _float("dout", dout)
    check_same_shape("dout", dout, "out (cache)", out)
    return dout * out * (1.0 - out)


# --------------------------------------------------------------------------- tanh
def tanh_forward(z):
    """Hyperbolic tangent ``out = tanh(z)``, elementwise.

    Returns ``(out, cache)`` with ``cache = out`` (tanh(z) itself).
    """
    z = _float("z", z)
    out = np.tanh(z)
    return out, out


def tanh_backward(dout, cache):
    """Backward of tanh: ``dz = dout * (1 − tanh(z)²)``.

    ``cache = out`` = tanh(z) from :func:`tanh_forward`.
    """
    out = cache
    dout = _float("dout", dout)
    check_same_shape("dout", dout, "out (cache)", out)
    return dout * (1.0 - out**2)


# --------------------------------------------------------------------------- leaky ReLU
def leaky_relu_forward(z, slope=0.01):
    """Leaky ReLU ``out = z if z > 0 else slope·z``, elementwise.

    ``slope`` must be non-negative (PyTorch's ``negative_slope``, default 0.01).
    Returns ``(out, cache)`` with ``cache = (z, slope)``.
    """
    z = _float("z", z)
    slope = check_nonneg("slope", slope)
    return np.where(z > 0, z, slope * z), (z, slope)


def leaky_relu_backward(dout, cache):
    """Backward of leaky ReLU: ``dz = dout * (1 if z > 0 else slope)``.

    ``cache = (z, slope)`` from :func:`leaky_relu_forward`.
    """
    z, slope = cache
    dout = _float("dout", dout)
    check_same_shape("dout", dout, "z (cache)", z)
    return dout * np.where(z > 0, 1.0, slope)


# --------------------------------------------------------------------------- ELU
def elu_forward(z, alpha=1.0):
    """ELU ``out = z if z > 0 else alpha·(exp(z) − 1)``, elementwise.

    Returns ``(out, cache)`` with ``cache = (z, alpha)``.
    """
    z = _float("z", z)
    alpha = check_nonneg("alpha", alpha)
    # expm1 of min(z, 0) avoids overflow in the branch np.where discards.
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0))), (z, alpha)


def elu_backward(dout, cache):
    """Backward of ELU: ``dz = dout * (1 if z > 0 else alpha·exp(z))``.

    ``cache = (z, alpha)`` from :func:`elu_forward`.
    """
    z, alpha = cache
    dout = _float("dout", dout)
    check_same_shape("dout", dout, "z (cache)", z)
    return dout * np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))
