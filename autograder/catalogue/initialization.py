"""Exercises and misconceptions of ``04_initialization``: ``init_weights``, ``activation_statistics``.

``init_weights`` is random, so a check compares the answer with the reference *given the
same generator state*: every scheme is drawn from its own ``default_rng(rng_seed)``,
and the answer must draw in the reference's order (one ``rng.standard_normal`` /
``rng.normal`` or ``rng.uniform`` call of shape ``(fan_in, fan_out)``). The notebook adds a
statistical check (sample std against the scheme's std) for answers that draw otherwise.
One call checks all seven schemes, so each misconception below differs from the reference on
every case. ``"orthogonal"`` is the Q of ``np.linalg.qr`` of one ``standard_normal((fan_in, fan_out))``
draw (transposed when ``fan_in < fan_out``) with its columns' signs fixed by R's diagonal, which makes
it unique.
"""
from __future__ import annotations

import numpy as np

from autograder.catalogue import Exercise, Misconception
from tnn_lib import init

SCHEMES = init.SCHEMES


# --------------------------------------------------------------------------- init_weights
_FANS = {  # named edge cases: (fan_in, fan_out); fan_in != fan_out so that fan_in vs fan_out shows
    "wide": (1000, 3),        # a big fan-in: Xavier's std 1/sqrt(1000)
    "narrow": (2, 300),       # a tiny fan-in, large fan-out
    "tiny": (3, 2),           # small enough to check by hand
    "lecture": (500, 400),    # the lecture's scale
}


def _init_inputs(rng, case=None, fan_in=None, fan_out=None):
    if case is None:
        fan_in = int(fan_in or rng.integers(3, 40))
        fan_out = int(fan_out or rng.integers(3, 40))
        if fan_in == fan_out:
            fan_out += 1
    elif case in _FANS:
        fan_in, fan_out = _FANS[case]
    else:
        raise ValueError(f"init_weights: unknown case {case!r}; expected one of {sorted(_FANS)}")
    return {"fan_in": fan_in, "fan_out": fan_out, "rng_seed": int(rng.integers(2**31))}


def _init_call(impl, inputs):
    """W for every scheme, each drawn from a fresh ``default_rng(rng_seed)``."""
    return {s: impl(inputs["fan_in"], inputs["fan_out"], s, np.random.default_rng(inputs["rng_seed"]))
            for s in SCHEMES}


# The wrong variants, each a complete init_weights as a student would write it.
def _init_fan_out(fan_in, fan_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((fan_in, fan_out))
    if scheme == "orthogonal":
        a = rng.standard_normal((fan_in, fan_out))
        if fan_in < fan_out:
            a = a.T
        q, r = np.linalg.qr(a)
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
        return q.T if fan_in < fan_out else q
    if scheme == "glorot_uniform":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=(fan_in, fan_out))
    std = {"small": 0.01, "unit": 1.0, "xavier": np.sqrt(1 / fan_out), "he": np.sqrt(2 / fan_out)}[scheme]
    return std * rng.standard_normal((fan_in, fan_out))


def _init_he_without_2(fan_in, fan_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((fan_in, fan_out))
    if scheme == "orthogonal":
        a = rng.standard_normal((fan_in, fan_out))
        if fan_in < fan_out:
            a = a.T
        q, r = np.linalg.qr(a)
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
        return q.T if fan_in < fan_out else q
    if scheme == "glorot_uniform":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=(fan_in, fan_out))
    std = {"small": 0.01, "unit": 1.0, "xavier": np.sqrt(1 / fan_in), "he": np.sqrt(1 / fan_in)}[scheme]
    return std * rng.standard_normal((fan_in, fan_out))


def _init_variance_as_std(fan_in, fan_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((fan_in, fan_out))
    if scheme == "orthogonal":
        a = rng.standard_normal((fan_in, fan_out))
        if fan_in < fan_out:
            a = a.T
        q, r = np.linalg.qr(a)
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
        return q.T if fan_in < fan_out else q
    if scheme == "glorot_uniform":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=(fan_in, fan_out))
    variance = {"small": 0.01 ** 2, "unit": 1.0, "xavier": 1 / fan_in, "he": 2 / fan_in}[scheme]
    return variance * rng.standard_normal((fan_in, fan_out))


def _init_glorot_bound(fan_in, fan_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((fan_in, fan_out))
    if scheme == "orthogonal":
        a = rng.standard_normal((fan_in, fan_out))
        if fan_in < fan_out:
            a = a.T
        q, r = np.linalg.qr(a)
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
        return q.T if fan_in < fan_out else q
    if scheme == "glorot_uniform":
        a = np.sqrt(2.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=(fan_in, fan_out))
    std = {"small": 0.01, "unit": 1.0, "xavier": np.sqrt(1 / fan_in), "he": np.sqrt(2 / fan_in)}[scheme]
    return std * rng.standard_normal((fan_in, fan_out))


def _init_draw_order(fan_in, fan_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((fan_in, fan_out))
    if scheme == "orthogonal":
        a = rng.standard_normal((fan_in, fan_out))
        if fan_in < fan_out:
            a = a.T
        q, r = np.linalg.qr(a)
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
        return q.T if fan_in < fan_out else q
    if scheme == "glorot_uniform":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=(fan_out, fan_in)).T
    std = {"small": 0.01, "unit": 1.0, "xavier": np.sqrt(1 / fan_in), "he": np.sqrt(2 / fan_in)}[scheme]
    return (std * rng.standard_normal((fan_out, fan_in))).T


def _init_orthogonal_no_sign_fix(fan_in, fan_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((fan_in, fan_out))
    if scheme == "orthogonal":
        a = rng.standard_normal((fan_in, fan_out))
        if fan_in < fan_out:
            a = a.T
        q, r = np.linalg.qr(a)
        return q.T if fan_in < fan_out else q
    if scheme == "glorot_uniform":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=(fan_in, fan_out))
    std = {"small": 0.01, "unit": 1.0, "xavier": np.sqrt(1 / fan_in), "he": np.sqrt(2 / fan_in)}[scheme]
    return std * rng.standard_normal((fan_in, fan_out))


def _init_orthogonal_svd(fan_in, fan_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((fan_in, fan_out))
    if scheme == "orthogonal":
        a = rng.standard_normal((fan_in, fan_out))
        u, _, vt = np.linalg.svd(a, full_matrices=False)
        return u if u.shape == (fan_in, fan_out) else vt
    if scheme == "glorot_uniform":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=(fan_in, fan_out))
    std = {"small": 0.01, "unit": 1.0, "xavier": np.sqrt(1 / fan_in), "he": np.sqrt(2 / fan_in)}[scheme]
    return std * rng.standard_normal((fan_in, fan_out))


# --------------------------------------------------------------------------- activation_statistics
_NETS = {  # named cases: (N, D, widths, scheme, nonlinearity)
    "lecture_tanh_small": (200, 100, [100] * 10, "small", "tanh"),   # activations collapse to 0
    "lecture_tanh_unit": (200, 100, [100] * 4, "unit", "tanh"),      # saturated at ±1
    "lecture_relu_he": (200, 100, [100] * 6, "he", "relu"),          # stays put
    "relu_xavier": (200, 100, [100] * 6, "xavier", "relu"),          # halves layer by layer
    "sigmoid": (64, 20, [30, 20, 10], "glorot_uniform", "sigmoid"),
    "one_layer": (50, 8, [5], "xavier", "tanh"),
    "varying_widths": (40, 12, [30, 7, 19, 3], "he", "relu"),
    "orthogonal_tanh": (100, 30, [40, 40, 20], "orthogonal", "tanh"),  # wide, square and tall layers
}


def _stats_inputs(rng, case=None, N=None, D=None, L=None, width=None, scheme=None, nonlinearity=None):
    if case is None:
        N, D = int(N or rng.integers(20, 80)), int(D or rng.integers(5, 30))
        widths = [int(width or rng.integers(5, 40))] * int(L or rng.integers(2, 6))
        scheme, nonlinearity = scheme or "xavier", nonlinearity or "tanh"
    elif case in _NETS:
        N, D, widths, scheme, nonlinearity = _NETS[case]
    else:
        raise ValueError(f"activation_statistics: unknown case {case!r}; expected one of {sorted(_NETS)}")
    x = rng.standard_normal((N, D))
    return {"x": x, "widths": list(widths), "scheme": scheme, "nonlinearity": nonlinearity,
            "rng_seed": int(rng.integers(2**31))}


def _stats_call(impl, inputs):
    """impl(x, widths, scheme, nonlinearity, default_rng(rng_seed)) -> (means, stds) as arrays."""
    means, stds = impl(inputs["x"], inputs["widths"], inputs["scheme"], inputs["nonlinearity"],
                       np.random.default_rng(inputs["rng_seed"]))
    return np.asarray(means, dtype=float), np.asarray(stds, dtype=float)


# The wrong variants: each a complete activation_statistics, weights drawn as init_weights does.
def _stats_pre_activation(x, widths, scheme, nonlinearity, rng):
    f = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0),
         "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)), "linear": lambda v: v}[nonlinearity]
    h, means, stds = x, [], []
    for width in widths:
        fan_in = h.shape[1]
        if scheme == "zeros":
            W = np.zeros((fan_in, width))
        elif scheme == "orthogonal":
            a = rng.standard_normal((fan_in, width))
            q, r = np.linalg.qr(a.T if fan_in < width else a)
            q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
            W = q.T if fan_in < width else q
        elif scheme == "glorot_uniform":
            a = np.sqrt(6.0 / (fan_in + width))
            W = rng.uniform(-a, a, size=(fan_in, width))
        else:
            std = {"small": 0.01, "unit": 1.0, "xavier": np.sqrt(1.0 / fan_in), "he": np.sqrt(2.0 / fan_in)}[scheme]
            W = std * rng.standard_normal((fan_in, width))
        z = h @ W
        h = f(z)
        means.append(z.mean())
        stds.append(z.std())
    return np.array(means), np.array(stds)


def _stats_nonlinearity_first(x, widths, scheme, nonlinearity, rng):
    f = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0),
         "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)), "linear": lambda v: v}[nonlinearity]
    h, means, stds = x, [], []
    for width in widths:
        fan_in = h.shape[1]
        if scheme == "zeros":
            W = np.zeros((fan_in, width))
        elif scheme == "orthogonal":
            a = rng.standard_normal((fan_in, width))
            q, r = np.linalg.qr(a.T if fan_in < width else a)
            q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
            W = q.T if fan_in < width else q
        elif scheme == "glorot_uniform":
            a = np.sqrt(6.0 / (fan_in + width))
            W = rng.uniform(-a, a, size=(fan_in, width))
        else:
            std = {"small": 0.01, "unit": 1.0, "xavier": np.sqrt(1.0 / fan_in), "he": np.sqrt(2.0 / fan_in)}[scheme]
            W = std * rng.standard_normal((fan_in, width))
        h = f(h) @ W
        means.append(h.mean())
        stds.append(h.std())
    return np.array(means), np.array(stds)


def _stats_include_input(x, widths, scheme, nonlinearity, rng):
    f = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0),
         "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)), "linear": lambda v: v}[nonlinearity]
    h, means, stds = x, [], []
    means.append(x.mean())
    stds.append(x.std())
    for width in widths:
        fan_in = h.shape[1]
        if scheme == "zeros":
            W = np.zeros((fan_in, width))
        elif scheme == "orthogonal":
            a = rng.standard_normal((fan_in, width))
            q, r = np.linalg.qr(a.T if fan_in < width else a)
            q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
            W = q.T if fan_in < width else q
        elif scheme == "glorot_uniform":
            a = np.sqrt(6.0 / (fan_in + width))
            W = rng.uniform(-a, a, size=(fan_in, width))
        else:
            std = {"small": 0.01, "unit": 1.0, "xavier": np.sqrt(1.0 / fan_in), "he": np.sqrt(2.0 / fan_in)}[scheme]
            W = std * rng.standard_normal((fan_in, width))
        h = f(h @ W)
        means.append(h.mean())
        stds.append(h.std())
    means, stds = means[:-1], stds[:-1]
    return np.array(means), np.array(stds)


def _stats_per_unit_std(x, widths, scheme, nonlinearity, rng):
    f = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0),
         "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)), "linear": lambda v: v}[nonlinearity]
    h, means, stds = x, [], []
    for width in widths:
        fan_in = h.shape[1]
        if scheme == "zeros":
            W = np.zeros((fan_in, width))
        elif scheme == "orthogonal":
            a = rng.standard_normal((fan_in, width))
            q, r = np.linalg.qr(a.T if fan_in < width else a)
            q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
            W = q.T if fan_in < width else q
        elif scheme == "glorot_uniform":
            a = np.sqrt(6.0 / (fan_in + width))
            W = rng.uniform(-a, a, size=(fan_in, width))
        else:
            std = {"small": 0.01, "unit": 1.0, "xavier": np.sqrt(1.0 / fan_in), "he": np.sqrt(2.0 / fan_in)}[scheme]
            W = std * rng.standard_normal((fan_in, width))
        h = f(h @ W)
        means.append(h.mean())
        stds.append(h.std(axis=0).mean())
    return np.array(means), np.array(stds)


EXERCISES = [
    Exercise(name="init_weights", reference=init.init_weights, make_inputs=_init_inputs,
             call=_init_call, output_name="W"),
    Exercise(name="activation_statistics", reference=init.activation_statistics,
             make_inputs=_stats_inputs, call=_stats_call, output_name="(means, stds)"),
]

MISCONCEPTIONS = [
    Misconception("init_weights", "init-fan-out",
                  "you scaled Xavier/He by fan_out instead of fan_in",
                  "each output unit sums fan_in terms w·x, so Var(out) = fan_in·Var(w)·Var(x); "
                  "Var(w) = 1/fan_in keeps it at 1 — see 'How the scale of the weights travels through the layers'",
                  impl=_init_fan_out),
    Misconception("init_weights", "init-he-without-2",
                  "your He initialization has variance 1/fan_in (Xavier's); the factor 2 is missing",
                  "ReLU zeroes half of its inputs, halving the second moment; He et al. 2015 use "
                  "Var(w) = 2/fan_in (`randn / sqrt(fan_in/2)` in the notes) — see 'How the scale of the weights travels through the layers'",
                  impl=_init_he_without_2),
    Misconception("init_weights", "init-variance-as-std",
                  "you used the variance as the standard deviation (e.g. N(0, 2/fan_in) drawn with scale 2/fan_in)",
                  "N(0, σ²) is σ·randn: the scale passed to rng.normal / multiplied with standard_normal "
                  "is σ = sqrt(2/fan_in), not 2/fan_in (and 0.01, not 0.01²)",
                  impl=_init_variance_as_std),
    Misconception("init_weights", "glorot-uniform-bound",
                  "your glorot_uniform bound is sqrt(2/(fan_in+fan_out)), the *std* of Glorot's normal form",
                  "U(-a, a) has variance a²/3; for variance 2/(fan_in+fan_out) the bound is "
                  "a = sqrt(6/(fan_in+fan_out)) — see 'How the scale of the weights travels through the layers'",
                  impl=_init_glorot_bound),
    Misconception("init_weights", "init-draw-order",
                  "right distribution, but the numbers are drawn in a different order (shape (fan_out, fan_in), transposed)",
                  "the checks compare with the reference on the same generator: draw one array of shape "
                  "(fan_in, fan_out), e.g. std * rng.standard_normal((fan_in, fan_out)) or rng.uniform(-a, a, size=(fan_in, fan_out))",
                  impl=_init_draw_order),
    Misconception("init_weights", "orthogonal-no-sign-fix",
                  "your orthogonal W is the Q of np.linalg.qr as it comes, without fixing the signs",
                  "QR is unique only up to the sign of each column of Q; torch.nn.init.orthogonal_ multiplies "
                  "column j by the sign of R[j, j] (q * np.sign(np.diag(r))), which makes Q the unique factor "
                  "with a positive diagonal in R — see 'Orthogonal initialization'",
                  impl=_init_orthogonal_no_sign_fix),
    Misconception("init_weights", "orthogonal-svd",
                  "your orthogonal W comes from the SVD (U or Vᵀ of the Gaussian draw), not from its QR",
                  "it is orthogonal too (Saxe et al. 2014 describe it so), but another matrix: the checks follow "
                  "torch.nn.init.orthogonal_, the Q of the QR of the draw (of its transpose when fan_in < "
                  "fan_out) with the signs of R's diagonal — see 'Orthogonal initialization'",
                  impl=_init_orthogonal_svd),
    Misconception("activation_statistics", "stats-pre-activation",
                  "you stored the statistics of z = h @ W, before the nonlinearity",
                  "the lecture's table is of H = f(X @ W), the layer's output after tanh/ReLU "
                  "(`H = act(np.dot(X, W)); Hs[i] = H`)",
                  impl=_stats_pre_activation),
    Misconception("activation_statistics", "stats-nonlinearity-first",
                  "you applied the nonlinearity to the layer's input, f(h) @ W, instead of f(h @ W)",
                  "a layer is h_l = f(h_{l-1} @ W_l): matrix multiply first, then the nonlinearity",
                  impl=_stats_nonlinearity_first),
    Misconception("activation_statistics", "stats-include-input",
                  "your first entry is the input layer's statistics, so every layer is shifted by one",
                  "return one mean and std per hidden layer (len(widths) values); the notes print the "
                  "input separately ('input layer had mean …')",
                  impl=_stats_include_input),
    Misconception("activation_statistics", "stats-per-unit-std",
                  "you averaged the per-unit standard deviations (std over axis 0) instead of the std of the whole layer",
                  "the notes use np.std(H) over all N × width entries of a layer",
                  impl=_stats_per_unit_std),
]
