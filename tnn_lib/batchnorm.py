"""Batch normalization, layer normalization and weight normalization (notebook ``02_batchnorm``).

Shapes: ``z`` (or ``x``) is ``(N, D)`` — a minibatch of N instances (the lecture's B) of
D neurons; ``gamma`` and ``beta`` are ``(D,)``. Training-mode batch norm uses the batch
mean and the *biased* batch variance (divide by B), as both the lecture notes and PyTorch.

Inference differs: the lecture notes average the batch statistics of the converged
network (mean of batch means, B/(B−1) × mean of batch variances, see
:func:`population_statistics`); PyTorch, and :class:`BatchNorm1d`, keep exponential running
averages of the batch mean and the *unbiased* batch variance during training.

No function modifies its arguments (inputs, ``dout``, the arrays of a cache); a cache holds
the variance σ², not √(σ² + ε).
"""

import numpy as np

from tnn_lib._modes import TrainEvalMode
from tnn_lib._validate import check_array, check_int, check_nonneg, check_positive

__all__ = [
    "batchnorm_forward", "batchnorm_backward", "batchnorm_jacobian",
    "population_statistics", "BatchNorm1d",
    "layernorm_forward", "layernorm_backward",
    "weightnorm_forward", "weightnorm_backward",
]


def _inputs(name, z, gamma, beta, eps, min_rows):
    z = check_array(name, z, ndim=2).astype(np.float64, copy=False)
    if z.shape[0] < min_rows:
        raise ValueError(
            f"{name}: expected more than one instance per feature in training-mode batch norm, "
            f"got a batch of {z.shape[0]} (shape {z.shape})"
        )
    gamma = check_array("gamma", gamma, shape=(z.shape[1],)).astype(np.float64, copy=False)
    beta = check_array("beta", beta, shape=(z.shape[1],)).astype(np.float64, copy=False)
    return z, gamma, beta, check_positive("eps", eps)


def _check_dout(dout, shape):
    return check_array("dout", dout, shape=shape).astype(np.float64, copy=False)


# --------------------------------------------------------------------------- batch norm
def batchnorm_forward(z, gamma, beta, eps=1e-5):
    """Training-mode batch norm, per feature over the N instances of the minibatch.

    .. math:: \\mu = \\tfrac{1}{N}\\sum_n z_n,\\quad \\sigma^2 = \\tfrac{1}{N}\\sum_n (z_n-\\mu)^2,\\quad
              \\hat z = \\frac{z-\\mu}{\\sqrt{\\sigma^2+\\epsilon}},\\quad out = \\gamma \\hat z + \\beta

    Parameters
    ----------
    z : ndarray, shape (N, D), N >= 2
    gamma, beta : ndarray, shape (D,)
    eps : float, > 0

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple ``(z, z_hat, mu, var, gamma, eps)``
        ``z_hat`` (N, D); ``mu`` and ``var`` (D,), ``var`` the biased batch variance.
    """
    z, gamma, beta, eps = _inputs("z", z, gamma, beta, eps, min_rows=2)
    mu = z.mean(axis=0)
    var = z.var(axis=0)  # biased: divide by N
    z_hat = (z - mu) / np.sqrt(var + eps)
    return gamma * z_hat + beta, (z, z_hat, mu, var, gamma, eps)


def batchnorm_backward(dout, cache):
    """Backward of :func:`batchnorm_forward`.

    With ``du = dout·γ`` and ``s = √(σ²+ε)``, per feature (the lecture notes' result):

    .. math:: dz_i = \\frac{du_i}{s} - \\frac{1}{Ns}\\sum_j du_j - \\frac{\\hat z_i}{Ns}\\sum_j du_j \\hat z_j

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : tuple ``(z, z_hat, mu, var, gamma, eps)`` from :func:`batchnorm_forward`

    Returns
    -------
    dz : ndarray, shape (N, D)  (each column sums to 0)
    dgamma : ndarray, shape (D,) = Σ_n dout·ẑ
    dbeta : ndarray, shape (D,) = Σ_n dout
    """
    z, z_hat, _, var, gamma, eps = cache
    dout = _check_dout(dout, z.shape)
    du = dout * gamma
    dz = (du - du.mean(axis=0) - z_hat * (du * z_hat).mean(axis=0)) / np.sqrt(var + eps)
    return dz, (dout * z_hat).sum(axis=0), dout.sum(axis=0)


def batchnorm_jacobian(z, eps=1e-5):
    """The B×B Jacobian of one neuron's normalisation ``u = (z − μ)/√(σ²+ε)``.

    ``J[j, i] = du_j / dz_i``; with ``s = √(σ²+ε)`` (the lecture notes' through and cross lines):

    .. math:: J_{ji} = \\frac{[i=j]}{s} - \\frac{1}{Bs} - \\frac{(z_i-\\mu)(z_j-\\mu)}{B s^3}

    Parameters
    ----------
    z : ndarray, shape (B,), B >= 2
    eps : float, > 0

    Returns
    -------
    J : ndarray, shape (B, B), symmetric; rows and columns sum to 0.
    """
    z = check_array("z", z, ndim=1).astype(np.float64, copy=False)
    if z.shape[0] < 2:
        raise ValueError(f"z: expected a minibatch of at least 2 values, got shape {z.shape}")
    eps = check_positive("eps", eps)
    b = z.shape[0]
    centred = z - z.mean()
    s = np.sqrt(z.var() + eps)
    return np.eye(b) / s - 1.0 / (b * s) - np.outer(centred, centred) / (b * s**3)


def population_statistics(batch_means, batch_vars, batch_size):
    """The lecture notes' inference statistics from K training minibatches of size B.

    .. math:: \\mu_{BN} = \\frac{1}{K}\\sum_k \\mu_k, \\qquad
              \\sigma^2_{BN} = \\frac{B}{B-1} \\cdot \\frac{1}{K}\\sum_k \\sigma^2_k

    PyTorch instead keeps running averages (see :class:`BatchNorm1d`).

    Parameters
    ----------
    batch_means, batch_vars : ndarray, shape (K,) or (K, D)
        Per-batch means and biased variances.
    batch_size : int, >= 2

    Returns
    -------
    mean, var : float or ndarray of shape (D,)
    """
    means = check_array("batch_means", batch_means, ndim=(1, 2)).astype(np.float64)
    variances = check_array("batch_vars", batch_vars, shape=means.shape).astype(np.float64)
    if means.shape[0] == 0:
        raise ValueError("batch_means: expected at least one batch, got none")
    if np.any(variances < 0):
        raise ValueError(f"batch_vars: expected non-negative variances, got minimum {variances.min()}")
    b = check_int("batch_size", batch_size, minimum=2)
    mean, var = means.mean(axis=0), b / (b - 1) * variances.mean(axis=0)
    return (float(mean), float(var)) if means.ndim == 1 else (mean, var)


class BatchNorm1d(TrainEvalMode):
    """Batch norm over ``(N, D)`` inputs with PyTorch's running statistics.

    Attributes: ``gamma`` (ones), ``beta`` (zeros), ``running_mean`` (zeros),
    ``running_var`` (ones), ``training`` (True), and after :meth:`backward` ``dgamma``,
    ``dbeta``. In training mode each :meth:`forward` normalises with the batch statistics
    and updates, as ``torch.nn.BatchNorm1d``,
    ``running = (1 − momentum)·running + momentum·batch`` with the *unbiased* batch
    variance (× N/(N−1)) for ``running_var``. In eval mode it normalises with the running
    statistics. (The lecture notes instead average the batch statistics after training:
    :func:`population_statistics`.)
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        self.num_features = check_int("num_features", num_features, minimum=1)
        self.eps = check_positive("eps", eps)
        self.momentum = check_nonneg("momentum", momentum)
        if self.momentum > 1:
            raise ValueError(f"momentum: expected a number in [0, 1], got {momentum!r}")
        d = self.num_features
        self.gamma, self.beta = np.ones(d), np.zeros(d)
        self.dgamma, self.dbeta = np.zeros(d), np.zeros(d)
        self.running_mean, self.running_var = np.zeros(d), np.ones(d)
        self.training = True
        self._cache = None

    def forward(self, x):
        """Normalise ``x`` of shape ``(N, D)``; returns ``out`` of shape ``(N, D)``."""
        x = check_array("x", x, shape=(None, self.num_features)).astype(np.float64, copy=False)
        if self.training:
            out, cache = batchnorm_forward(x, self.gamma, self.beta, self.eps)
            _, _, mu, var, _, _ = cache
            n, m = x.shape[0], self.momentum
            self.running_mean *= 1.0 - m
            self.running_mean += m * mu
            self.running_var *= 1.0 - m
            self.running_var += m * var * n / (n - 1)  # unbiased batch variance
        else:
            x_hat = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
            out = self.gamma * x_hat + self.beta
            cache = (x_hat, self.running_var.copy(), self.gamma.copy())
        self._cache = (self.training, cache)
        return out

    def backward(self, dout):
        """Gradient w.r.t. the last forward's input; stores ``dgamma`` and ``dbeta``.

        In eval mode the statistics are constants, so ``dx = dout·γ/√(running_var+ε)``.
        """
        if self._cache is None:
            raise ValueError("backward: expected a forward call first, got none")
        training, cache = self._cache
        if training:
            dx, self.dgamma, self.dbeta = batchnorm_backward(dout, cache)
            return dx
        x_hat, running_var, gamma = cache
        dout = _check_dout(dout, x_hat.shape)
        self.dgamma, self.dbeta = (dout * x_hat).sum(axis=0), dout.sum(axis=0)
        return dout * gamma / np.sqrt(running_var + self.eps)


# --------------------------------------------------------------------------- layer norm
def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer norm: normalise each row over its D features, then scale and shift.

    .. math:: \\mu_n = \\tfrac{1}{D}\\sum_d x_{nd},\\quad \\sigma^2_n = \\tfrac{1}{D}\\sum_d (x_{nd}-\\mu_n)^2,\\quad
              out = \\gamma \\frac{x-\\mu}{\\sqrt{\\sigma^2+\\epsilon}} + \\beta

    Same in training and test; works for a batch of one.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma, beta : ndarray, shape (D,)
    eps : float, > 0

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple ``(x, x_hat, mu, var, gamma, eps)``; ``mu`` and ``var`` of shape (N, 1).
    """
    x, gamma, beta, eps = _inputs("x", x, gamma, beta, eps, min_rows=0)
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)


def layernorm_backward(dout, cache):
    """Backward of :func:`layernorm_forward`: batch norm's formula along each row.

    .. math:: dx_{nd} = \\frac{1}{s_n}\\Big(du_{nd} - \\overline{du_n} - \\hat x_{nd}\\,\\overline{du_n \\hat x_n}\\Big),
              \\quad du = dout\\cdot\\gamma,\\ s_n = \\sqrt{\\sigma^2_n+\\epsilon}

    Returns ``dx`` (N, D), ``dgamma`` (D,) = Σ_n dout·x̂, ``dbeta`` (D,) = Σ_n dout.
    """
    x, x_hat, _, var, gamma, eps = cache
    dout = _check_dout(dout, x.shape)
    du = dout * gamma
    dx = (du - du.mean(axis=1, keepdims=True)
          - x_hat * (du * x_hat).mean(axis=1, keepdims=True)) / np.sqrt(var + eps)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


# --------------------------------------------------------------------------- weight norm
def weightnorm_forward(v, g):
    """Weight normalisation (Salimans and Kingma, 2016): each column of the weights as a
    length times a direction.

    .. math:: w_{:j} = g_j \\frac{v_{:j}}{\\lVert v_{:j}\\rVert}

    Parameters
    ----------
    v : ndarray, shape (D_in, D_out) — one column per output neuron, none of them zero
    g : ndarray, shape (D_out,) — the lengths

    Returns
    -------
    w : ndarray, shape (D_in, D_out), with ``‖w[:, j]‖ = |g_j|``
    cache : tuple ``(v, g, norm)``; ``norm`` of shape (D_out,) holds ``‖v[:, j]‖``.

    Raises
    ------
    ValueError, naming ``v``, when a column of ``v`` is zero (its direction is undefined).
    """
    v = check_array("v", v, ndim=2).astype(np.float64, copy=False)
    g = check_array("g", g, shape=(v.shape[1],)).astype(np.float64, copy=False)
    norm = np.linalg.norm(v, axis=0)
    if np.any(norm == 0):
        raise ValueError(f"v: expected no zero column (its direction v/||v|| is undefined), "
                         f"got zero columns {np.flatnonzero(norm == 0).tolist()}")
    return g * v / norm, (v, g, norm)


def weightnorm_backward(dw, cache):
    """Backward of :func:`weightnorm_forward`, column by column.

    .. math:: \\frac{\\partial L}{\\partial g_j} = \\frac{dw_{:j}\\cdot v_{:j}}{\\lVert v_{:j}\\rVert},\\qquad
              \\frac{\\partial L}{\\partial v_{:j}} = \\frac{g_j}{\\lVert v_{:j}\\rVert}
              \\Big(dw_{:j} - \\frac{\\partial L}{\\partial g_j}\\,\\frac{v_{:j}}{\\lVert v_{:j}\\rVert}\\Big)

    ``dv[:, j]`` is orthogonal to ``v[:, j]``.

    Parameters
    ----------
    dw : ndarray, shape (D_in, D_out) — the upstream gradient ∂L/∂w
    cache : tuple ``(v, g, norm)`` from :func:`weightnorm_forward`

    Returns
    -------
    dv : ndarray, shape (D_in, D_out)
    dg : ndarray, shape (D_out,)
    """
    v, g, norm = cache
    dw = _check_dout(dw, v.shape)
    dg = (dw * v).sum(axis=0) / norm
    return g / norm * (dw - dg * v / norm), dg
