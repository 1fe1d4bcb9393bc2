"""Weight penalties, early stopping and input standardization (notebook ``06_regularization``).

Penalties take a dict of parameter arrays (e.g. ``model.params()``, or only its weight
matrices: which arrays are penalised is the caller's choice, biases usually are not) and
return ``(value, grads)`` with ``grads`` a dict with the same keys, to be added to the
data gradients; ``params`` is not modified. Gradient clipping lives in :mod:`tnn_lib.optim`.
"""

import numpy as np

from tnn_lib._validate import check_array, check_int, check_nonneg

__all__ = ["l2_penalty", "l1_penalty", "early_stopping_epoch", "standardize"]


def _params(params):
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
    return {k: check_array(f"params[{k!r}]", w).astype(np.float64, copy=False)
            for k, w in params.items()}


def l2_penalty(params, lam):
    """L2 penalty ``½λ Σ_k ‖W_k‖²`` (squared Frobenius norms) and its gradients ``λ W_k``.

    Added to the loss, its gradient turns the SGD step into weight decay,
    ``W ← (1 − ηλ) W − η∇``.

    Parameters
    ----------
    params : dict of str -> ndarray
    lam : float >= 0

    Returns
    -------
    value : float
    grads : dict, same keys and shapes as ``params``
    """
    params, lam = _params(params), check_nonneg("lam", lam)
    value = 0.5 * lam * sum(float(np.sum(w * w)) for w in params.values())
    return value, {k: lam * w for k, w in params.items()}


def l1_penalty(params, lam):
    """L1 penalty ``λ Σ_k Σ |W_k|`` and its (sub)gradients ``λ sign(W_k)`` (0 at W = 0).

    Same arguments and returns as :func:`l2_penalty`. The constant-size pull towards 0
    makes weights the data do not need small: sparsity. (Gradient steps with this
    subgradient leave them jittering within about lr·λ of 0; exact zeros need the
    proximal step, soft-thresholding.)
    """
    params, lam = _params(params), check_nonneg("lam", lam)
    value = lam * sum(float(np.sum(np.abs(w))) for w in params.values())
    return value, {k: lam * np.sign(w) for k, w in params.items()}


def early_stopping_epoch(val_losses, patience):
    """Index of the epoch early stopping with ``patience`` would stop at and restore.

    Epochs are scanned in order; an epoch *improves* when its loss is strictly below
    every earlier one. Training stops after ``patience`` consecutive epochs without
    improvement, and the weights of the best epoch so far are restored. The result is
    therefore the index (0-based) of the first minimum of ``val_losses[:stop + 1]``, where
    ``stop`` is the epoch at which patience ran out (or the last epoch if it never did).
    A NaN loss (a diverged run) never improves: it counts as an epoch without improvement,
    like any worse loss (so ``patience`` NaN epochs stop the run); when no loss is finite
    the result is 0.

    Parameters
    ----------
    val_losses : 1-D sequence of float, length >= 1
        Validation loss after each epoch.
    patience : int >= 1

    Returns
    -------
    int
        E.g. ``early_stopping_epoch([3, 2, 2.5, 1, 4, 5, 0], patience=2) == 3``: epochs 4
        and 5 do not improve on 1, so training stops after epoch 5 and never sees 0.
    """
    losses = check_array("val_losses", val_losses, ndim=1).astype(np.float64)
    if losses.size == 0:
        raise ValueError("val_losses: expected at least one epoch, got an empty sequence")
    patience = check_int("patience", patience, minimum=1)
    best, best_epoch = np.inf, 0
    for epoch, loss in enumerate(losses):
        if loss < best:
            best, best_epoch = loss, epoch  # improvement: remember this epoch
        elif epoch - best_epoch >= patience:
            break  # patience ran out: stop and restore best_epoch
    return best_epoch


def standardize(x, mean=None, std=None):
    """Standardize each feature: ``x_std = (x − mean) / std``.

    With ``mean`` and ``std`` omitted they are computed from ``x`` (per column, the
    population std, ``ddof=0``); pass the training set's ``mean`` and ``std`` to transform
    validation and test data the same way. A feature whose ``std`` is 0 (constant in ``x``,
    e.g. a digits pixel that is always blank) gets ``std = 1``: it is only centred, and the
    returned ``std`` holds that 1.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    mean, std : ndarray, shape (D,), optional
        Both or neither; ``std`` must be >= 0.

    Returns
    -------
    x_std : ndarray, shape (N, D), a new array
    mean : ndarray, shape (D,)
    std : ndarray, shape (D,), with zeros replaced by 1
    """
    x = check_array("x", x, ndim=2).astype(np.float64)
    if (mean is None) != (std is None):
        raise ValueError("mean, std: expected both (to reuse training statistics) or neither, "
                         f"got mean={'None' if mean is None else 'an array'}, "
                         f"std={'None' if std is None else 'an array'}")
    if mean is None:
        if x.shape[0] == 0:
            raise ValueError("x: expected at least one row to compute mean and std, got 0")
        mean, std = x.mean(axis=0), x.std(axis=0)
        std[np.ptp(x, axis=0) == 0] = 0.0  # exactly constant features (no round-off residue)
    else:
        mean = check_array("mean", mean, shape=(x.shape[1],)).astype(np.float64)
        std = check_array("std", std, shape=(x.shape[1],)).astype(np.float64)
        if np.any(std < 0) or not np.all(np.isfinite(std)):
            raise ValueError(f"std: expected finite non-negative values, got {std}")
    std = np.where(std == 0, 1.0, std)
    return (x - mean) / std, mean, std
