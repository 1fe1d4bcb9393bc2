"""Dropout with Bernoulli masks, both scaling conventions (notebook ``03_dropout``).

``keep_prob`` is the probability of KEEPING a unit — the lecture notes' α (Srivastava et
al.). PyTorch's ``nn.Dropout(p)`` takes the DROP probability: ``p = 1 − keep_prob``.

Two conventions, selected by ``inverted``:

* lecture notes' first form (``inverted=False``): train ``x·mask``, test ``x·keep_prob``
  (equivalently ``W_test = keep_prob·W``, :func:`scale_weights_for_test`);
* inverted dropout (``inverted=True``, PyTorch's): train ``x·mask/keep_prob``, test ``x``.

No function modifies its arguments (``x``, ``dout``, a mask, ``W``).
"""

import inspect

import numpy as np

from tnn_lib._validate import check_array, check_int, check_prob, check_same_shape

__all__ = ["dropout_forward", "dropout_backward", "scale_weights_for_test", "mc_dropout_predict"]


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def dropout_forward(x, keep_prob, rng=None, mask=None, train=True, inverted=True):
    """Dropout forward pass.

    .. math:: \\text{train: } out = x \\odot m \\,/\\, \\alpha^{[inverted]},\\ m \\sim \\mathrm{Bernoulli}(\\alpha);
              \\qquad \\text{test: } out = x \\cdot \\alpha^{[not\\ inverted]}

    Parameters
    ----------
    x : ndarray, any shape, e.g. (N, D)
    keep_prob : float in (0, 1]
        Probability of keeping a unit (the lecture's α; PyTorch's p is 1 − keep_prob).
    rng : numpy.random.Generator, optional
        Draws the mask as ``rng.random(x.shape) < keep_prob`` when ``mask`` is not given.
    mask : ndarray of 0/1 (or bool), same shape as ``x``, optional
        A fixed mask (1 = keep); takes precedence over ``rng``.
    train : bool
        Training mode applies the mask; test mode is deterministic and needs neither.
    inverted : bool
        Scale by 1/keep_prob in training (True) or by keep_prob at test (False).

    Returns
    -------
    out : ndarray, shape of ``x``
    cache : tuple ``(mask, keep_prob, train, inverted)``
        ``mask`` float64 0/1 array of ``x``'s shape in training, ``None`` at test.
    """
    x = check_array("x", x).astype(np.float64, copy=False)
    keep_prob = check_prob("keep_prob", keep_prob)
    train, inverted = bool(train), bool(inverted)
    if not train:
        out = x.copy() if inverted else x * keep_prob
        return out, (None, keep_prob, False, inverted)
    if mask is not None:
        mask = check_array("mask", mask)
        check_same_shape("mask", mask, "x", x)
        if not np.all((mask == 0) | (mask == 1)):
            raise ValueError("mask: expected only 0s and 1s (1 = keep), got other values")
        mask = mask.astype(np.float64)
    elif rng is not None:
        mask = (_check_rng(rng).random(x.shape) < keep_prob).astype(np.float64)
    else:
        raise ValueError("rng, mask: expected an rng or a mask in training mode, got neither")
    out = x * mask / keep_prob if inverted else x * mask
    return out, (mask, keep_prob, True, inverted)


def dropout_backward(dout, cache):
    """Backward of :func:`dropout_forward`: the same elementwise factor as the forward.

    Training: ``dx = dout·mask/keep_prob`` (inverted) or ``dout·mask``; test: ``dx = dout``
    (inverted) or ``dout·keep_prob``. A dropped unit passes no gradient.

    Parameters
    ----------
    dout : ndarray, shape of the forward's ``x``
    cache : tuple ``(mask, keep_prob, train, inverted)``

    Returns
    -------
    dx : ndarray, shape of ``dout``
    """
    mask, keep_prob, train, inverted = cache
    dout = check_array("dout", dout).astype(np.float64, copy=False)
    if not train:
        return dout.copy() if inverted else dout * keep_prob
    check_same_shape("dout", dout, "mask (cache)", mask)
    return dout * mask / keep_prob if inverted else dout * mask


def scale_weights_for_test(W, keep_prob):
    """The lecture notes' test-time weights ``W_test = keep_prob·W`` (α·W_trained).

    For a layer trained with non-inverted dropout on its input; with inverted dropout the
    weights are used unchanged. Returns a new array of ``W``'s shape.
    """
    W = check_array("W", W).astype(np.float64, copy=False)
    return check_prob("keep_prob", keep_prob) * W


def _takes_keep_prob(forward) -> bool:
    """Whether ``forward`` accepts a ``keep_prob`` keyword (named, or through ``**kwargs``)."""
    try:
        params = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):  # a builtin or a C callable: call it as the SPEC says
        return False
    return any(p.kind is p.VAR_KEYWORD or (p.name == "keep_prob" and p.kind is not p.POSITIONAL_ONLY)
               for p in params)


def mc_dropout_predict(forward, x, keep_prob, n_samples, rng):
    """Monte-Carlo dropout: average ``n_samples`` stochastic forward passes.

    .. math:: \\hat y = \\frac{1}{S} \\sum_{s=1}^{S} \\mathrm{forward}(x, rng)

    estimates the ensemble ("bagged") average over all masked networks, which the lecture
    notes approximate instead by one deterministic pass with scaled weights. The two agree
    when everything after the dropout is linear; after a nonlinearity they differ (E[σ(a)]
    is not σ(E[a])).

    Parameters
    ----------
    forward : callable
        ``forward(x, mask_rng) -> ndarray``: one training-mode pass of a network with
        dropout at keep probability ``keep_prob``, drawing its masks from ``mask_rng``.
        A ``forward`` that accepts a ``keep_prob`` keyword (or ``**kwargs``) is called as
        ``forward(x, mask_rng, keep_prob=keep_prob)``, so one network function serves any
        keep probability; any other is called with the two arguments alone.
    x : ndarray, e.g. (N, D)
    keep_prob : float in (0, 1]
        The keep probability of the masks; validated here, and handed to ``forward`` when
        it takes it (otherwise ``forward`` draws its masks with its own, and ``keep_prob``
        only documents and checks the call).
    n_samples : int, >= 1
    rng : numpy.random.Generator
        Passed as ``mask_rng`` to every call, so successive samples get fresh masks and the
        whole average is reproducible from the generator's seed.

    Returns
    -------
    mean : ndarray, the mean of the ``n_samples`` outputs (all of one shape).
    """
    if not callable(forward):
        raise ValueError(f"forward: expected a callable forward(x, mask_rng), got {type(forward).__name__}")
    keep_prob = check_prob("keep_prob", keep_prob)
    n_samples = check_int("n_samples", n_samples, minimum=1)
    rng = _check_rng(rng)
    extra = {"keep_prob": keep_prob} if _takes_keep_prob(forward) else {}
    total = None
    for s in range(n_samples):
        out = np.asarray(forward(x, rng, **extra), dtype=np.float64)
        if total is not None and out.shape != total.shape:
            raise ValueError(f"forward: expected every sample to have shape {total.shape}, "
                             f"sample {s} has shape {out.shape}")
        total = out.copy() if total is None else total + out
    return total / n_samples
