"""Small shared input checks for ``tnn_lib``.

Every helper raises ``ValueError`` with a message that names the argument, says what
was expected and what came, e.g.::

    ValueError: W: expected shape (3, 4), got (4, 3)

The helpers never modify their inputs. ``check_array`` returns ``numpy.asarray(a)``
(no copy for an ndarray), so callers may write ``x = check_array("x", x, ndim=2)``.
"""

import numbers

import numpy as np

__all__ = [
    "check_array",
    "check_same_shape",
    "check_prob",
    "check_nonneg",
    "check_positive",
    "check_int",
    "check_choice",
    "check_same_keys",
]


def _shape_str(shape):
    """Render a shape with ``None`` wildcards as e.g. ``(N, 3)``."""
    parts = ["N" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def check_array(name, a, ndim=None, shape=None):
    """Return ``np.asarray(a)`` after checking its dimensionality and shape.

    Parameters
    ----------
    name : str
        Argument name used in the error message.
    a : array_like
        The value to check.
    ndim : int or tuple of int, optional
        Allowed number(s) of dimensions.
    shape : tuple, optional
        Expected shape; an entry ``None`` matches any length.

    Raises
    ------
    ValueError
        If ``a`` is not numeric, or has the wrong ``ndim`` or ``shape``.
    """
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged lists and similar
        raise ValueError(f"{name}: expected a numeric array, got {type(a).__name__} ({exc})") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, numbers.Integral) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name}: expected a {want} array, got a {arr.ndim}-D array of shape {arr.shape}")
    if shape is not None:
        shape = tuple(shape)
        ok = arr.ndim == len(shape) and all(s is None or s == t for s, t in zip(shape, arr.shape))
        if not ok:
            raise ValueError(f"{name}: expected shape {_shape_str(shape)}, got {arr.shape}")
    return arr


def check_same_shape(name_a, a, name_b, b):
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    sa, sb = np.shape(a), np.shape(b)
    if sa != sb:
        raise ValueError(f"{name_a} and {name_b}: expected the same shape, got {sa} and {sb}")


def _check_real_scalar(name, v):
    if type(v) is float and v - v == 0.0:      # a finite Python float (inf − inf and nan − nan are nan)
        return v                               # (the common case: an optimizer's step checks its hyper-parameters)
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype != object:
        v = v[()]  # a 0-d array counts as its scalar
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.number)) or np.ndim(v) != 0:
        raise ValueError(f"{name}: expected a real number, got {v!r}")
    v = float(v)
    if not np.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v!r}")
    return v


def check_prob(name, p):
    """Return ``float(p)`` after checking it lies in (0, 1]."""
    v = _check_real_scalar(name, p)
    if not 0.0 < v <= 1.0:
        raise ValueError(f"{name}: expected a probability in (0, 1], got {p!r}")
    return v


def check_nonneg(name, v):
    """Return ``float(v)`` after checking ``v >= 0``."""
    f = _check_real_scalar(name, v)
    if f < 0:
        raise ValueError(f"{name}: expected a non-negative number, got {v!r}")
    return f


def check_positive(name, v):
    """Return ``float(v)`` after checking ``v > 0``."""
    f = _check_real_scalar(name, v)
    if f <= 0:
        raise ValueError(f"{name}: expected a positive number, got {v!r}")
    return f


def check_int(name, v, minimum=None):
    """Return ``int(v)`` after checking it is an integer (not bool) ``>= minimum``."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer)):
        raise ValueError(f"{name}: expected an integer, got {v!r}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {v!r}")
    return int(v)


def check_choice(name, v, choices):
    """Return ``v`` after checking it is one of ``choices`` (e.g. a scheme name)."""
    if v not in choices:
        opts = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}: expected one of {opts}, got {v!r}")
    return v


def check_same_keys(name_a, a, name_b, b):
    """Raise ``ValueError`` unless dicts ``a`` and ``b`` have the same keys."""
    ka, kb = set(a), set(b)
    if ka != kb:
        only_a = sorted(map(str, ka - kb))
        only_b = sorted(map(str, kb - ka))
        raise ValueError(
            f"{name_a} and {name_b}: expected the same keys, got keys only in {name_a}: "
            f"{only_a}, only in {name_b}: {only_b}"
        )
