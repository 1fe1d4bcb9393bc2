"""Weight initialization and per-layer statistics (notebook ``04_initialization``).

The lecture notes forward 1000 unit-Gaussian inputs through a bias-free net of 10 layers
of 500 units and print the mean and standard deviation of every layer's activations for
N(0, 0.01²), N(0, 1), Xavier (Glorot and Bengio, 2010) and He (He et al., 2015)
initialization. :func:`activation_statistics` reproduces those tables;
the scheme ``"orthogonal"`` (Saxe et al., 2014; drawn as ``torch.nn.init.orthogonal_``) and
:func:`lsuv_init` (Mishkin and Matas, 2016: orthogonal weights rescaled on a data batch)
complete the set;
:func:`forward_activations` returns the activations themselves (for histograms) and
:func:`gradient_statistics` shows the same vanishing/exploding picture in the backward pass.

Weights ``W`` have shape ``(fan_in, fan_out)`` and a layer computes ``h = f(x @ W)``.
"""

import numpy as np

from tnn_lib._validate import check_array, check_choice, check_int, check_positive
from tnn_lib.layers import (relu_backward, relu_forward, sigmoid_backward, sigmoid_forward,
                            tanh_backward, tanh_forward)

__all__ = ["SCHEMES", "NONLINEARITIES", "NORMAL_SCHEMES", "init_weights", "normal_std", "activation",
           "lsuv_init", "activation_statistics", "forward_activations", "gradient_statistics"]

SCHEMES = ("zeros", "small", "unit", "xavier", "glorot_uniform", "he", "orthogonal")
NONLINEARITIES = ("tanh", "relu", "sigmoid", "linear")

_ACTIVATIONS = {  # name -> (forward, backward); cache layouts as in tnn_lib.layers
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "linear": (lambda z: (z, None), lambda dout, cache: dout),
}


NORMAL_SCHEMES = ("small", "unit", "xavier", "he")  # W = std · N(0, 1)


def normal_std(scheme, fan_in):
    """The standard deviation of a Gaussian scheme (``W = std · N(0, 1)``, :data:`NORMAL_SCHEMES`):
    0.01 (small), 1 (unit), √(1/fan_in) (Xavier), √(2/fan_in) (He)."""
    check_choice("scheme", scheme, NORMAL_SCHEMES)
    fan_in = check_int("fan_in", fan_in, minimum=1)
    return {"small": 0.01, "unit": 1.0, "xavier": np.sqrt(1.0 / fan_in), "he": np.sqrt(2.0 / fan_in)}[scheme]


def activation(nonlinearity):
    """``(forward, backward)`` of a nonlinearity of :data:`NONLINEARITIES`: ``h, cache =
    forward(z)`` and ``dz = backward(dh, cache)``, cache layouts as in :mod:`tnn_lib.layers`."""
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    return _ACTIVATIONS[nonlinearity]


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator "
                         f"(numpy.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def init_weights(fan_in, fan_out, scheme, rng):
    """Draw a weight matrix of shape ``(fan_in, fan_out)``.

    ============== ============================================ ==========================
    scheme         distribution                                 lecture notes' code
    ============== ============================================ ==========================
    zeros          W = 0 (every unit identical: symmetry)       ``W = 0``
    small          N(0, 0.01²)                                  ``0.01 * randn``
    unit           N(0, 1)                                      ``randn``
    xavier         N(0, 1/fan_in)                               ``randn / sqrt(fan_in)``
    glorot_uniform U(-a, a), a = √(6 / (fan_in + fan_out))      (Glorot and Bengio, 2010)
    he             N(0, 2/fan_in)                               ``randn / sqrt(fan_in/2)``
    orthogonal     Q of the QR of a Gaussian matrix (gain 1)    (Saxe et al., 2014)
    ============== ============================================ ==========================

    ``"orthogonal"`` follows ``torch.nn.init.orthogonal_`` with gain 1 applied to a tensor of
    shape ``(fan_in, fan_out)`` (a ``torch.nn.Linear`` stores the transpose): draw
    ``A = rng.standard_normal((fan_in, fan_out))``; if ``fan_in < fan_out`` work on ``A.T``;
    take the reduced QR decomposition ``A = QR`` and multiply each column of ``Q`` by the sign
    of ``R``'s diagonal entry (which makes the decomposition unique: the ``Q`` whose ``R`` has a
    positive diagonal); transpose back. ``W`` has orthonormal columns (``WᵀW = I``) when
    ``fan_in >= fan_out``, else orthonormal rows (``WWᵀ = I``).

    Parameters
    ----------
    fan_in, fan_out : int >= 1
    scheme : str, one of :data:`SCHEMES`
    rng : numpy.random.Generator

    Returns
    -------
    W : ndarray, shape (fan_in, fan_out), float64
    """
    fan_in = check_int("fan_in", fan_in, minimum=1)
    fan_out = check_int("fan_out", fan_out, minimum=1)
    check_choice("scheme", scheme, SCHEMES)
    _check_rng(rng)
    shape = (fan_in, fan_out)
    if scheme == "zeros":
        return np.zeros(shape)
    if scheme == "orthogonal":  # torch.nn.init.orthogonal_ (gain 1)
        a = rng.standard_normal(shape)  # one Gaussian draw of the final shape
        wide = fan_in < fan_out
        q, r = np.linalg.qr(a.T if wide else a)  # reduced QR of the tall orientation
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)  # the unique Q whose R has a positive diagonal
        return q.T.copy() if wide else q
    if scheme == "glorot_uniform":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=shape)
    return normal_std(scheme, fan_in) * rng.standard_normal(shape)


def _check_widths(widths):
    try:
        widths = [check_int("widths[%d]" % i, w, minimum=1) for i, w in enumerate(widths)]
    except TypeError:
        raise ValueError(f"widths: expected a sequence of layer widths, got {widths!r}") from None
    if not widths:
        raise ValueError("widths: expected at least one layer width, got an empty sequence")
    return widths


def lsuv_init(widths, x, nonlinearity, rng, tol=0.1, max_iter=10):
    """Layer-sequential unit-variance initialization (Mishkin and Matas, 2016).

    1. Draw every layer's weights orthogonal (``init_weights(fan_in, width, "orthogonal", rng)``,
       layer by layer from ``rng``; ``fan_in`` is ``x.shape[1]`` for the first layer).
    2. For each layer in turn, from the first: forward the batch ``x`` through the layers below
       (already rescaled), compute the variance ``v`` of the layer's pre-activation
       ``z = h_prev @ W`` over all its entries, and while ``|v − 1| >= tol`` (at most
       ``max_iter`` times) rescale ``W ← W / √v`` and recompute ``v``.

    The layers are the bias-free ``h = f(h_prev @ W)`` of :func:`forward_activations`. For such
    a layer one rescaling already gives ``v = 1`` up to round-off (``z`` scales with ``W``);
    the loop is the paper's, for layers whose output is not linear in their weights.

    Parameters
    ----------
    widths : sequence of int >= 1
        Layer widths, e.g. ``[500] * 10``.
    x : ndarray, shape (N, D)
        The data batch (the paper uses one minibatch).
    nonlinearity : str, one of :data:`NONLINEARITIES`
    rng : numpy.random.Generator
    tol : float > 0
        Tolerance on the variance.
    max_iter : int >= 1
        Most rescalings per layer.

    Returns
    -------
    Ws : list of ndarray, ``Ws[l]`` of shape (fan_in_l, widths[l])

    Raises
    ------
    ValueError
        On bad arguments, or when a layer's pre-activation has variance 0 on ``x`` (nothing
        to rescale).
    """
    x = check_array("x", x, ndim=2).astype(np.float64, copy=False)
    if x.shape[0] < 1:
        raise ValueError(f"x: expected a batch of at least one row, got shape {x.shape}")
    widths = _check_widths(widths)
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    _check_rng(rng)
    tol = check_positive("tol", tol)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    f, _ = _ACTIVATIONS[nonlinearity]
    fans = [x.shape[1]] + widths[:-1]
    Ws = [init_weights(fan_in, width, "orthogonal", rng) for fan_in, width in zip(fans, widths)]  # step 1
    h = x
    for l, W in enumerate(Ws):  # step 2, layer after layer
        z = h @ W  # the layer's pre-activation on the batch
        for _ in range(max_iter):
            v = float(np.var(z))
            if not v > 0 or not np.isfinite(v):
                raise ValueError(f"x: the pre-activation of layer {l} has variance {v} on this batch; "
                                 "LSUV needs a batch on which every layer's input varies")
            if abs(v - 1.0) < tol:
                break
            s = np.sqrt(v)
            W /= s  # rescale to unit variance ...
            z /= s  # ... and z = h @ W with it (z is linear in W)
        h, _ = f(z)
    return Ws


def _check_net(x, widths, scheme, nonlinearity, rng):
    x = check_array("x", x, ndim=2).astype(np.float64, copy=False)
    widths = _check_widths(widths)
    check_choice("scheme", scheme, SCHEMES)
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    _check_rng(rng)
    return x, widths


def _forward(x, widths, scheme, nonlinearity, rng):
    """Forward pass keeping, per layer, ``(W, activation cache, output)``."""
    f, _ = _ACTIVATIONS[nonlinearity]
    layers, h = [], x
    for width in widths:
        W = init_weights(h.shape[1], width, scheme, rng)  # layer initialization
        h, cache = f(h @ W)  # matrix multiply, then the nonlinearity (no bias)
        layers.append((W, cache, h))
    return layers


def forward_activations(x, widths, scheme, nonlinearity, rng):
    """Activations of every layer of a bias-free net ``h_l = f(h_{l-1} @ W_l)``, ``h_0 = x``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Input (the lecture notes use 1000 × 500 unit-Gaussian data).
    widths : sequence of int
        Layer widths, e.g. ``[500] * 10``.
    scheme : str, one of :data:`SCHEMES`
        Passed to :func:`init_weights`, drawn layer by layer from ``rng``.
    nonlinearity : str, one of :data:`NONLINEARITIES`
    rng : numpy.random.Generator

    Returns
    -------
    activations : list of ndarray, ``activations[l]`` has shape (N, widths[l])
    """
    x, widths = _check_net(x, widths, scheme, nonlinearity, rng)
    return [h for _, _, h in _forward(x, widths, scheme, nonlinearity, rng)]


def activation_statistics(x, widths, scheme, nonlinearity, rng):
    """Mean and standard deviation of every layer's activations (the lecture's tables).

    Same arguments as :func:`forward_activations`; the statistics are over all N × width
    entries of a layer (``np.mean(H)``, ``np.std(H)`` as in the lecture notes' code).

    Returns
    -------
    means, stds : ndarray, shape (len(widths),)
    """
    acts = forward_activations(x, widths, scheme, nonlinearity, rng)
    return np.array([h.mean() for h in acts]), np.array([h.std() for h in acts])


def gradient_statistics(x, widths, scheme, nonlinearity, rng, dout=None):
    """Standard deviations of the backward-pass gradients of every layer.

    Runs :func:`forward_activations` (same weights for the same ``rng`` state), then
    backpropagates ``dout`` from the last layer: ``dz = f'(z) · dh``, ``dW = h_prev.T @ dz``,
    ``dh_prev = dz @ W.T``. With tiny weights ``dW`` vanishes because the layer inputs
    ``h_prev`` do; with saturated tanh units it vanishes because ``f'(z) ≈ 0``.

    Parameters
    ----------
    x, widths, scheme, nonlinearity, rng
        As in :func:`forward_activations`.
    dout : ndarray, shape (N, widths[-1]), optional
        Upstream gradient at the output; default unit Gaussian drawn from ``rng`` after
        the weights.

    Returns
    -------
    dh_stds : ndarray, shape (len(widths),)
        Std of dL/dh_l, the gradient reaching each layer's output.
    dW_stds : ndarray, shape (len(widths),)
        Std of dL/dW_l, the gradient each layer's weights receive.
    """
    x, widths = _check_net(x, widths, scheme, nonlinearity, rng)
    layers = _forward(x, widths, scheme, nonlinearity, rng)
    if dout is None:
        dout = rng.standard_normal((x.shape[0], widths[-1]))
    dh = check_array("dout", dout, shape=(x.shape[0], widths[-1])).astype(np.float64)
    _, f_backward = _ACTIVATIONS[nonlinearity]
    dh_stds, dW_stds = [], []
    for l in reversed(range(len(layers))):
        W, cache, _ = layers[l]
        h_prev = x if l == 0 else layers[l - 1][2]
        dh_stds.append(dh.std())
        dz = f_backward(dh, cache)  # through the nonlinearity
        dW_stds.append((h_prev.T @ dz).std())  # gradient of this layer's weights
        dh = dz @ W.T  # gradient passed to the layer below
    return np.array(dh_stds[::-1]), np.array(dW_stds[::-1])
