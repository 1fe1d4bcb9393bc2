"""Divergences (losses) and their gradients (notebook ``01_divergences``).

Conventions: outputs ``y``, targets ``d`` and logits ``z`` have shape ``(N, C)``, one
instance per row. The minibatch loss is the mean over the N rows of the per-instance
divergence, so every gradient carries a factor 1/N. Everything built from logits is
finite for logits as large as ±1000 (max-shift for softmax, softplus for the sigmoid).
No function modifies its arguments.
"""

import numpy as np

from tnn_lib._validate import check_array, check_same_shape

__all__ = [
    "softmax", "log_softmax",
    "l2_divergence", "l2_divergence_grad",
    "kl_divergence", "kl_divergence_grad",
    "softmax_kl", "sigmoid_bce",
]


def _pair(name_y, y, name_d, d):
    y = check_array(name_y, y, ndim=2).astype(np.float64, copy=False)
    d = check_array(name_d, d, ndim=2).astype(np.float64, copy=False)
    check_same_shape(name_y, y, name_d, d)
    if y.shape[0] == 0:
        raise ValueError(f"{name_y}: expected at least one row, got shape {y.shape}")
    return y, d


def _check_target_dist(d, sum_to_one):
    if np.any(d < 0):
        raise ValueError(f"d: expected non-negative target probabilities, got minimum {d.min()}")
    if sum_to_one:
        sums = d.sum(axis=1)
        if not np.allclose(sums, 1.0, rtol=0, atol=1e-6):
            bad = sums[np.argmax(np.abs(sums - 1.0))]
            raise ValueError(f"d: expected each row to sum to 1 (a distribution), got a row summing to {bad}")


def _xlogx_over(d, y):
    """Elementwise d·log(d/y) with 0·log 0 = 0 (and 0·log(0/0) = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, d * (np.log(np.where(d > 0, d, 1.0)) - np.log(y)), 0.0)


# --------------------------------------------------------------------------- softmax
def softmax(z):
    """Row-wise softmax ``softmax(z)_i = exp(z_i) / Σ_j exp(z_j)`` over the last axis.

    Stable for any finite ``z``: computed as ``exp(z − max z)`` normalised.
    ``z`` of shape ``(N, C)`` (or ``(C,)``); returns the same shape.
    """
    z = check_array("z", z, ndim=(1, 2)).astype(np.float64, copy=False)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z):
    """Row-wise ``log softmax(z)_i = z_i − m − log Σ_j exp(z_j − m)``, ``m = max_j z_j``.

    Stable for any finite ``z`` (no ``log(0)`` even when a probability underflows).
    ``z`` of shape ``(N, C)`` (or ``(C,)``); returns the same shape.
    """
    z = check_array("z", z, ndim=(1, 2)).astype(np.float64, copy=False)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


# --------------------------------------------------------------------------- L2
def l2_divergence(y, d):
    """L2 divergence ``(1/N) Σ_n ½‖y_n − d_n‖²``.

    ``y``, ``d`` of shape ``(N, C)``; returns a float.
    """
    y, d = _pair("y", y, "d", d)
    return float(0.5 * np.sum((y - d) ** 2) / y.shape[0])


def l2_divergence_grad(y, d):
    """Gradient of :func:`l2_divergence` w.r.t. ``y``: ``(y − d) / N``, shape ``(N, C)``."""
    y, d = _pair("y", y, "d", d)
    return (y - d) / y.shape[0]


# --------------------------------------------------------------------------- KL
def kl_divergence(y, d):
    """KL divergence ``(1/N) Σ_n Σ_i d_ni log(d_ni / y_ni)``, with 0·log 0 = 0.

    ``y`` (outputs, probabilities) and ``d`` (targets, non-negative) of shape ``(N, C)``.
    Returns a float (``inf`` if some ``y_ni = 0`` where ``d_ni > 0``). For one-hot ``d``
    this is the cross-entropy ``−(1/N) Σ_n log y_{n, class}``. For a binary output pass the
    two columns ``[y, 1 − y]`` and ``[d, 1 − d]`` to get the lecture's binary KL.
    """
    y, d = _pair("y", y, "d", d)
    _check_target_dist(d, sum_to_one=False)
    return float(np.sum(_xlogx_over(d, y)) / y.shape[0])


def kl_divergence_grad(y, d):
    """Gradient of :func:`kl_divergence` w.r.t. ``y``: ``−d / (N·y)``, shape ``(N, C)``.

    Entries with ``d = 0`` are exactly 0 (also where ``y = 0``).
    """
    y, d = _pair("y", y, "d", d)
    _check_target_dist(d, sum_to_one=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, -d / (y.shape[0] * y), 0.0)


def softmax_kl(z, d):
    """KL(d ‖ softmax(z)) from logits, and its gradient.

    .. math:: L = \\frac{1}{N} \\sum_n \\sum_i d_{ni} (\\log d_{ni} - \\log\\,\\mathrm{softmax}(z_n)_i),
              \\qquad \\frac{\\partial L}{\\partial z} = \\frac{\\mathrm{softmax}(z) - d}{N}

    Parameters
    ----------
    z : ndarray, shape (N, C)
        Logits; any finite values (±1000 included).
    d : ndarray, shape (N, C)
        Target distributions: non-negative rows summing to 1 (the gradient formula
        ``y − d`` relies on it), e.g. one-hot labels.

    Returns
    -------
    loss : float
    dz : ndarray, shape (N, C)

    Notes
    -----
    Differs from PyTorch's ``cross_entropy`` only by the target entropy Σ d log d, a
    constant (0 for one-hot targets); the gradient is the same.
    """
    z, d = _pair("z", z, "d", d)
    _check_target_dist(d, sum_to_one=True)
    logy = log_softmax(z)
    n = z.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(d > 0, d * (np.log(np.where(d > 0, d, 1.0)) - logy), 0.0)
    return float(terms.sum() / n), (np.exp(logy) - d) / n


def sigmoid_bce(z, d):
    """Binary cross-entropy of ``σ(z)`` against ``d``, from logits, and its gradient.

    .. math:: L = \\mathrm{mean}\\left[-d \\log\\sigma(z) - (1-d)\\log(1-\\sigma(z))\\right]
              = \\mathrm{mean}\\left[\\mathrm{softplus}(z) - d z\\right]

    with ``softplus(z) = max(z, 0) + log1p(exp(−|z|))``, finite for any finite ``z``.

    Parameters
    ----------
    z : ndarray, shape (N, C)
        Logits.
    d : ndarray, shape (N, C)
        Targets in [0, 1].

    Returns
    -------
    loss : float
        Mean over all ``z.size`` elements (as PyTorch's ``BCEWithLogitsLoss``).
    dz : ndarray, shape (N, C)
        ``(σ(z) − d) / z.size``.
    """
    z, d = _pair("z", z, "d", d)
    if np.any((d < 0) | (d > 1)):
        raise ValueError(f"d: expected targets in [0, 1], got values in [{d.min()}, {d.max()}]")
    softplus = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    sig = np.exp(np.minimum(z, 0.0)) / (1.0 + np.exp(-np.abs(z)))
    return float(np.mean(softplus - d * z)), (sig - d) / z.size
