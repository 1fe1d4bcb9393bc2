"""Data sets the notebooks use: scikit-learn's bundled digits and small synthetic sets.

Everything is float64 features of shape (N, D) and, for classification, int64 labels of
shape (N,). Randomness comes from ``rng``: a ``numpy.random.Generator`` or an int seed
(the defaults are fixed seeds, so every call without ``rng`` returns the same data).
scikit-learn is imported only inside :func:`load_digits_split` (its digits ship with the
package: no download).
"""

import numpy as np

from tnn_lib._validate import check_int, check_nonneg
from tnn_lib.regularization import standardize

__all__ = ["load_digits_split", "two_moons", "spirals", "gaussian_blobs", "noisy_sine"]


def _rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(check_int("rng", rng, minimum=0))


def load_digits_split(rng=0, fractions=(0.6, 0.2, 0.2)):
    """The 1797 8×8 digit images split into train/validation/test, standardized.

    Rows are shuffled by ``rng`` and cut in the given ``fractions``; every split is
    standardized with the *training* mean and std (:func:`tnn_lib.regularization.standardize`;
    always-blank pixels get std 1).

    Parameters
    ----------
    rng : numpy.random.Generator or int, default 0
    fractions : three positive floats summing to 1 (train, validation, test)

    Returns
    -------
    (x_train, y_train), (x_val, y_val), (x_test, y_test)
        ``x_*`` float64 (N_*, 64), ``y_*`` int64 (N_*,) in 0..9. With the default
        fractions N = 1078, 359, 360.
    """
    from sklearn.datasets import load_digits  # slow import (see AUTHORING.md)

    fr = np.asarray(fractions, dtype=np.float64) if np.ndim(fractions) == 1 else None
    if fr is None or fr.shape != (3,) or np.any(fr <= 0) or abs(fr.sum() - 1) > 1e-9:
        raise ValueError(f"fractions: expected three positive numbers summing to 1, got {fractions!r}")
    x, y = load_digits(return_X_y=True)
    order = _rng(rng).permutation(len(y))
    x, y = x[order].astype(np.float64), y[order].astype(np.int64)
    n_train, n_val = (np.round(fr[:2] * len(y))).astype(int)
    cuts = [slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, None)]
    x_train, mean, std = standardize(x[cuts[0]])
    return ((x_train, y[cuts[0]]),
            (standardize(x[cuts[1]], mean, std)[0], y[cuts[1]]),
            (standardize(x[cuts[2]], mean, std)[0], y[cuts[2]]))


def two_moons(n=200, noise=0.1, rng=0):
    """Two interleaving half circles, classes 0 (upper) and 1 (lower), ``n`` points in all.

    Returns ``x`` (n, 2), ``y`` (n,) with Gaussian noise of std ``noise`` added to ``x``.
    """
    n = check_int("n", n, minimum=2)
    noise, rng = check_nonneg("noise", noise), _rng(rng)
    n0 = n // 2
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n - n0)
    x = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    y = np.r_[np.zeros(n0, dtype=np.int64), np.ones(n - n0, dtype=np.int64)]
    x = x + noise * rng.standard_normal(x.shape)
    perm = rng.permutation(n)
    return x[perm], y[perm]


def spirals(n_per_class=100, n_classes=3, noise=0.2, rng=0):
    """``n_classes`` interleaved spiral arms in the unit disc (the classic CS231n toy set).

    Returns ``x`` (n_per_class·n_classes, 2), ``y`` in 0..n_classes−1; ``noise`` is the std
    of the Gaussian jitter of each point's angle.
    """
    n = check_int("n_per_class", n_per_class, minimum=1)
    k = check_int("n_classes", n_classes, minimum=2)
    noise, rng = check_nonneg("noise", noise), _rng(rng)
    r = np.tile(np.linspace(0.0, 1.0, n), k)
    y = np.repeat(np.arange(k, dtype=np.int64), n)
    theta = r * 4.0 + y * 2 * np.pi / k + noise * rng.standard_normal(n * k)
    x = np.c_[r * np.sin(theta), r * np.cos(theta)]
    order = rng.permutation(n * k)
    return x[order], y[order]


def gaussian_blobs(n_per_class=100, centers=((-1.0, 0.0), (1.0, 0.0)), std=0.5, rng=0):
    """Isotropic Gaussian clusters, one class per row of ``centers`` (shape (C, D)).

    Returns ``x`` (n_per_class·C, D), ``y`` in 0..C−1.
    """
    n = check_int("n_per_class", n_per_class, minimum=1)
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 2 or centers.shape[0] < 2:
        raise ValueError(f"centers: expected shape (C, D) with C >= 2, got shape {centers.shape}")
    std, rng = check_nonneg("std", std), _rng(rng)
    y = np.repeat(np.arange(len(centers), dtype=np.int64), n)
    x = centers[y] + std * rng.standard_normal((len(y), centers.shape[1]))
    order = rng.permutation(len(y))
    return x[order], y[order]


def noisy_sine(n_train=10, noise=0.2, n_val=200, rng=0):
    """Few-point 1-D regression for overfitting: ``y = sin(2πx) + noise·ε`` on [0, 1].

    The training inputs are ``n_train`` uniform draws (sorted), the validation inputs a dense
    grid ``linspace(0, 1, n_val)``; both targets carry independent noise (the noise-free
    curve is ``np.sin(2 * np.pi * x)``).

    Returns
    -------
    (x_train, y_train), (x_val, y_val)
        Each of shape (n, 1), float64.
    """
    n_train = check_int("n_train", n_train, minimum=1)
    n_val = check_int("n_val", n_val, minimum=2)
    noise, rng = check_nonneg("noise", noise), _rng(rng)
    x_train = np.sort(rng.uniform(0.0, 1.0, n_train))[:, None]
    x_val = np.linspace(0.0, 1.0, n_val)[:, None]
    y_train = np.sin(2 * np.pi * x_train) + noise * rng.standard_normal(x_train.shape)
    y_val = np.sin(2 * np.pi * x_val) + noise * rng.standard_normal(x_val.shape)
    return (x_train, y_train), (x_val, y_val)
