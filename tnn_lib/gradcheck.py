"""Numerical gradient checking (notebook ``00_backprop``).

The lecture notes check backprop by comparing an analytic gradient with a finite
difference; this module gives the central difference and the relative error used by
every test and graded cell (tolerance ``rel_error < 1e-7`` in float64).
"""

import numpy as np

from tnn_lib._validate import check_array, check_positive, check_same_shape

__all__ = ["numerical_gradient", "rel_error"]


def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of a scalar function at ``x``.

    .. math:: \\frac{\\partial f}{\\partial x_i} \\approx \\frac{f(x + h e_i) - f(x - h e_i)}{2h}

    Parameters
    ----------
    f : callable
        ``f(x) -> float``; it may read ``x`` (which is perturbed in place, one element at a
        time, and restored exactly) or close over it.
    x : ndarray of floats (float64 for checks at 1e-7), any shape
        The point. It is perturbed in place while evaluating, so closures over it see the
        perturbation; every element is restored to its original value before returning
        (also if ``f`` raises).
    h : float, optional
        Step, default 1e-5. Error is O(h²) plus round-off O(eps/h).

    Returns
    -------
    grad : ndarray, same shape as ``x``

    Notes
    -----
    Costs ``2 * x.size`` evaluations of ``f``: the O(n·p) per-iteration cost of the
    lecture notes is why this is a check, not a training method.
    """
    if not callable(f):
        raise ValueError(f"f: expected a callable returning a float, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"x: expected a float numpy array (perturbed in place), got {got}")
    h = check_positive("h", h)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        try:
            x[idx] = old + h
            f_plus = float(f(x))
            x[idx] = old - h
            f_minus = float(f(x))
        finally:
            x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * h)
    return grad


def rel_error(a, b):
    """Largest elementwise relative error between ``a`` and ``b``.

    .. math:: \\max_i \\frac{|a_i - b_i|}{\\max(10^{-8}, |a_i| + |b_i|)}

    Parameters
    ----------
    a, b : array_like of the same shape (scalars allowed)

    Returns
    -------
    float
        In [0, 1]: 0 for identical inputs, 1 for opposite signs or one entry zero; the floor
        1e-8 keeps two near-zero entries from counting as very different.
    """
    a = check_array("a", a).astype(np.float64)
    b = check_array("b", b).astype(np.float64)
    check_same_shape("a", a, "b", b)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
