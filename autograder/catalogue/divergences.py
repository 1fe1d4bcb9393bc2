"""Exercises and misconceptions of ``01_divergences``: L2 and KL with their gradients,
softmax, softmax-KL and sigmoid-BCE from logits.

The cases are built so that every catalogued mistake shows on every case the notebook
checks: batches have at least two rows and two columns (a sum and a mean over rows, or
over rows and columns, always differ); KL targets always contain a zero entry (0·log 0
must be 0); and every case built from logits has a "confidently wrong" row whose logits
are about ±1000 apart (softmax(z + c) = softmax(z), so a stable implementation does not
care, a naive ``exp`` overflows). Targets are soft except in case "one_hot" (and row 0 of
"binary"), so that cross-entropy and KL differ; the notebook checks L2 on no two-column
case, where the MSE np.mean((y − d)²) equals the reference exactly.
"""
from __future__ import annotations

import numpy as np

from autograder.catalogue import Exercise, Misconception
from tnn_lib import divergences as dv

CASES = ("batch_of_two", "one_hot", "large_logits", "binary")


def _check(name, case, N, C, allowed=CASES):
    if case is not None and case not in allowed:
        raise ValueError(f"{name}: unknown case {case!r}; expected one of {list(allowed)}")
    N, C = int(N), int(C)
    if case == "batch_of_two":
        N = 2
    elif case == "binary":
        C = 2
    if N < 2 or C < 2:
        raise ValueError(f"{name}: expected N >= 2 rows and C >= 2 columns, got N={N}, C={C}")
    return N, C


def _targets(rng, N, C, case):
    """Target distributions (N, C): rows sum to 1, and some entries are exactly 0.

    "one_hot": one-hot rows. "binary" (C = 2): row 0 one-hot (a zero entry), the other rows
    soft, so that cross-entropy and KL differ (they agree on one-hot targets only)."""
    if case == "one_hot":
        return np.eye(C)[rng.integers(0, C, size=N)]
    if case == "binary":
        d = rng.uniform(0.1, 1.0, size=(N, C))
        d[0] = np.eye(C)[rng.integers(0, C)]
        return d / d.sum(axis=1, keepdims=True)
    d = rng.uniform(0.1, 1.0, size=(N, C))
    d[np.arange(N), rng.integers(0, C, size=N)] = 0.0       # one impossible class per row
    return d / d.sum(axis=1, keepdims=True)


def _logits(rng, N, C, case, d=None):
    """Logits (N, C); row 0 is confidently wrong: its largest target class sits ~1000 below
    the top logit. For case "large_logits" every row is spread over ±1000."""
    z = rng.standard_normal((N, C)) * 2.0
    if case == "large_logits":
        z = rng.standard_normal((N, C)) * 1000.0
    target = int(np.argmax(d[0])) if d is not None else 0
    wrong = (target + 1) % C
    z[0, wrong] += 1000.0
    z[0, target] -= 1000.0
    z[1] += 1000.0 if N > 2 else -1000.0          # a shift that changes nothing
    return z


# ------------------------------------------------------------------------------- L2 and KL
def _l2_inputs(rng, case=None, N=4, C=3):
    """y (N, C) network outputs (any reals; probabilities for "one_hot"), d (N, C) targets.

    N >= 3: with two rows, "summed over the batch" and "without the ½" give the same number."""
    N, C = _check("l2_divergence", case, N, C, ("one_hot", "binary"))
    if N < 3:
        raise ValueError(f"l2_divergence: expected N >= 3 rows, got N={N}")
    if case in ("one_hot", "binary"):
        return {"y": dv.softmax(rng.standard_normal((N, C))), "d": _targets(rng, N, C, case)}
    return {"y": rng.standard_normal((N, C)), "d": rng.standard_normal((N, C))}


def _kl_inputs(rng, case=None, N=4, C=3):
    """y (N, C) output probabilities (all > 0), d (N, C) target distributions with zeros."""
    N, C = _check("kl_divergence", case, N, C, ("batch_of_two", "one_hot", "binary"))
    return {"y": dv.softmax(rng.standard_normal((N, C))), "d": _targets(rng, N, C, case)}


def _l2_summed(y, d):
    return float(0.5 * np.sum((y - d) ** 2))


def _l2_no_half(y, d):
    return float(np.sum((y - d) ** 2) / y.shape[0])


def _l2_mean_all(y, d):
    return float(0.5 * np.mean((y - d) ** 2))


def _l2_mse(y, d):
    return float(np.mean((y - d) ** 2))                       # the "MSE" of most libraries


def _l2_over_columns(y, d):
    return float(0.5 * np.sum((y - d) ** 2) / y.shape[1])     # divided by C, not N


def _l2g_not_divided(y, d):
    return y - d


def _l2g_sign(y, d):
    return (d - y) / y.shape[0]


def _l2g_mean_all(y, d):
    return (y - d) / y.size


def _l2g_mse(y, d):
    return 2.0 * (y - d) / y.size


def _kl_naive(y, d):
    return float(np.sum(d * np.log(d / y)) / y.shape[0])      # 0 · log 0 = 0 · (−inf) = NaN


def _kl_terms(y, d):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, d * (np.log(np.where(d > 0, d, 1.0)) - np.log(y)), 0.0)


def _kl_summed(y, d):
    return float(np.sum(_kl_terms(y, d)))


def _kl_cross_entropy(y, d):
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(np.where(d > 0, -d * np.log(y), 0.0)) / y.shape[0])   # without Σ d log d


def _kl_swapped(y, d):
    return float(np.sum(y * np.log(y / d)) / y.shape[0])      # KL(y ‖ d): infinite where d = 0


def _klg_not_divided(y, d):
    return np.where(d > 0, -d / y, 0.0)


def _klg_sign(y, d):
    return np.where(d > 0, d / (y.shape[0] * y), 0.0)


def _klg_y_minus_d(y, d):
    return (y - d) / y.shape[0]


# ------------------------------------------------------------------------------- softmax
def _softmax_inputs(rng, case=None, N=4, C=3):
    """z (N, C) logits; row 0 has a logit ~ +1000, row 1 is shifted by ±1000."""
    N, C = _check("softmax", case, N, C, ("batch_of_two", "large_logits", "binary"))
    return {"z": _logits(rng, N, C, case)}


def _sm_naive(z):
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sm_wrong_axis(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _sm_global(z):
    e = np.exp(z - z.max())
    return e / e.sum()


# ------------------------------------------------------------------------------- from logits
def _softmax_kl_inputs(rng, case=None, N=4, C=3):
    """z (N, C) logits (row 0 confidently wrong), d (N, C) target distributions."""
    N, C = _check("softmax_kl", case, N, C)
    d = _targets(rng, N, C, case)
    return {"z": _logits(rng, N, C, case, d), "d": d}


def _log_softmax(z):
    """log softmax(z) row by row, stable (written out: a variant may not call the reference)."""
    s = z - z.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def _skl_parts(z, d):
    """The right loss and the right gradient, written out (misconceptions may not call the reference)."""
    logy = _log_softmax(z)
    terms = np.where(d > 0, d * (np.log(np.where(d > 0, d, 1.0)) - logy), 0.0)
    return float(terms.sum() / z.shape[0]), (np.exp(logy) - d) / z.shape[0]


def _skl_not_divided(z, d):
    loss, dz = _skl_parts(z, d)
    return loss, dz * z.shape[0]


def _skl_log_of_softmax(z, d):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)                       # stable, but then log(0) = −inf
    terms = np.where(d > 0, d * (np.log(np.where(d > 0, d, 1.0)) - np.log(y)), 0.0)
    return float(terms.sum() / z.shape[0]), (y - d) / z.shape[0]


def _skl_cross_entropy(z, d):
    logy = _log_softmax(z)
    return float(np.sum(np.where(d > 0, -d * logy, 0.0)) / z.shape[0]), (np.exp(logy) - d) / z.shape[0]


def _skl_clamped_log(z, d):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    terms = np.where(d > 0, d * (np.log(np.where(d > 0, d, 1.0)) - np.log(y + 1e-15)), 0.0)
    return float(terms.sum() / z.shape[0]), (y - d) / z.shape[0]


def _skl(clamped=False, cross_entropy=False):
    """softmax_kl with the mistakes of the flags, as they compose: ``clamped`` takes log(y + 1e-15)
    for log softmax(z), ``cross_entropy`` leaves out the Σ d log d term (the gradient is unchanged)."""
    def softmax_kl(z, d):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        y = e / e.sum(axis=1, keepdims=True)
        logy = np.log(y + 1e-15) if clamped else _log_softmax(z)
        logd = 0.0 if cross_entropy else np.log(np.where(d > 0, d, 1.0))
        terms = np.where(d > 0, d * (logd - logy), 0.0)
        return float(terms.sum() / z.shape[0]), (y - d) / z.shape[0]
    return softmax_kl


def _skl_unstable(z, d):
    e = np.exp(z)                                              # overflows for z ~ 1000: inf / inf = NaN
    y = e / e.sum(axis=1, keepdims=True)
    terms = np.where(d > 0, d * (np.log(np.where(d > 0, d, 1.0)) - np.log(y)), 0.0)
    return float(terms.sum() / z.shape[0]), (y - d) / z.shape[0]


def _skl_sign(z, d):
    loss, dz = _skl_parts(z, d)
    return loss, -dz


def _bce_inputs(rng, case=None, N=4, C=3):
    """z (N, C) logits, d (N, C) targets in [0, 1] (0/1 labels for "one_hot" and "binary").
    Entry [0, 0] is confidently wrong: z = 40 (σ(z) rounds to 1) with target 0."""
    N, C = _check("sigmoid_bce", case, N, C)
    if case in ("one_hot", "binary"):
        d = rng.integers(0, 2, size=(N, C)).astype(float)
    else:
        d = rng.uniform(0.0, 1.0, size=(N, C))
    z = rng.standard_normal((N, C)) * (1000.0 if case == "large_logits" else 2.0)
    z[0, 0], d[0, 0] = 40.0, 0.0
    return {"z": z, "d": d}


def _bce_naive(z, d):
    s = 1.0 / (1.0 + np.exp(-z))
    return float(np.mean(-d * np.log(s) - (1 - d) * np.log(1 - s))), (s - d) / z.size


def _bce_parts(z, d):
    """The right loss and the right gradient, written out (misconceptions may not call the reference)."""
    softplus = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    sig = np.exp(np.minimum(z, 0.0)) / (1.0 + np.exp(-np.abs(z)))
    return float(np.mean(softplus - d * z)), (sig - d) / z.size


def _bce_not_divided(z, d):
    loss, dz = _bce_parts(z, d)
    return loss, dz * z.size


def _bce_rows_only(z, d):
    loss, dz = _bce_parts(z, d)
    return loss * z.shape[1], dz * z.shape[1]


# ------------------------------------------------------------------------------- registry
# N = 7 rows and C = 5 columns: no two of 1/N, 1/C, 1/(2N), 1/(NC), 2/(NC), ½ and 1 coincide,
# so no two ways of averaging the batch can agree here.
_ODD = ({"seed": 104729, "N": 7, "C": 5},)
EXERCISES = [
    Exercise("l2_divergence", dv.l2_divergence, _l2_inputs, output_name="loss", diagnostic_cases=_ODD),
    Exercise("l2_divergence_grad", dv.l2_divergence_grad, _l2_inputs, output_name="dy", diagnostic_cases=_ODD),
    Exercise("kl_divergence", dv.kl_divergence, _kl_inputs, output_name="loss", diagnostic_cases=_ODD),
    Exercise("kl_divergence_grad", dv.kl_divergence_grad, _kl_inputs, output_name="dy", diagnostic_cases=_ODD),
    Exercise("softmax", dv.softmax, _softmax_inputs, output_name="softmax(z)", diagnostic_cases=_ODD),
    Exercise("softmax_kl", dv.softmax_kl, _softmax_kl_inputs, output_name="(loss, dz)", diagnostic_cases=_ODD),
    Exercise("sigmoid_bce", dv.sigmoid_bce, _bce_inputs, output_name="(loss, dz)", diagnostic_cases=_ODD),
]

_M = Misconception
MISCONCEPTIONS = [
    _M("l2_divergence", "l2-summed-not-averaged", "you summed the divergence over the batch instead of averaging it",
       "the minibatch loss is the mean over the N rows: (1/N) Σ_n ½‖y_n − d_n‖²", _l2_summed),
    _M("l2_divergence", "l2-missing-half", "the ½ is missing: you computed ‖y − d‖²",
       "Div = ½‖y − d‖² — the ½ makes the gradient exactly y − d", _l2_no_half),
    _M("l2_divergence", "l2-mean-over-all-elements", "you averaged over all N·C entries (np.mean) instead of over the N rows",
       "average over instances only: the divergence of one instance sums over its C outputs", _l2_mean_all),
    _M("l2_divergence", "l2-mse", "you computed the mean squared error np.mean((y − d)²): over all N·C entries and without the ½",
       "this course's L2 is (1/N) Σ_n ½‖y_n − d_n‖²: a sum over the C outputs of an instance, the ½, and a mean "
       "over the N rows only (PyTorch's MSELoss is a different normalisation)", _l2_mse),
    _M("l2_divergence", "l2-averaged-over-columns", "you divided by the number of columns C instead of the number of rows N",
       "rows are instances: the minibatch loss is the mean over the N rows (y.shape[0]) of ½‖y_n − d_n‖²", _l2_over_columns),

    _M("l2_divergence_grad", "l2-grad-not-divided-by-N", "the gradient is y − d, without the 1/N of the batch mean",
       "the loss is a mean over N rows, so every row's gradient carries 1/N: (y − d)/N", _l2g_not_divided),
    _M("l2_divergence_grad", "l2-grad-sign", "the gradient has the wrong sign: (d − y)/N",
       "∂/∂y ½(y − d)² = y − d; d − y is the direction of descent (the notes' −∂L/∂f), not the gradient",
       _l2g_sign),
    _M("l2_divergence_grad", "l2-grad-mean-over-all-elements", "you divided by N·C (y.size) instead of N",
       "the loss averages over the N rows only, so dy = (y − d)/N", _l2g_mean_all),
    _M("l2_divergence_grad", "l2-grad-mse", "you returned the MSE gradient 2(y − d)/(N·C)",
       "the loss is (1/N) Σ_n ½‖y_n − d_n‖²: the ½ cancels the 2 and only N divides, dy = (y − d)/N", _l2g_mse),

    _M("kl_divergence", "kl-no-zero-log-zero", "0·log 0 gave NaN: the terms where d = 0 were not set to 0",
       "the convention is 0·log 0 = 0: compute d·log(d/y) only where d > 0 (np.where, or a mask)", _kl_naive),
    _M("kl_divergence", "kl-summed-not-averaged", "you summed the divergence over the batch instead of averaging it",
       "the minibatch loss is the mean over the N rows of Σ_i d_i log(d_i / y_i)", _kl_summed),
    _M("kl_divergence", "kl-arguments-swapped", "you computed KL(y ‖ d) instead of KL(d ‖ y)",
       "the target d weighs the log ratio: Σ_i d_i log(d_i / y_i); KL is not symmetric", _kl_swapped),
    _M("kl_divergence", "kl-cross-entropy", "you computed the cross-entropy −Σ d log y, not KL: the Σ d log d term is missing",
       "KL = Σ_i d_i log d_i − Σ_i d_i log y_i: the first term (minus the entropy of d) is 0 only for one-hot "
       "targets; for soft targets it is not — see 'L2 and KL'", _kl_cross_entropy),

    _M("kl_divergence_grad", "kl-grad-not-divided-by-N", "the gradient is −d/y, without the 1/N of the batch mean",
       "the loss is a mean over N rows: dy = −d / (N·y)", _klg_not_divided),
    _M("kl_divergence_grad", "kl-grad-sign", "the gradient has the wrong sign: d/(N·y)",
       "∂/∂y_i of −d_i log y_i is −d_i / y_i", _klg_sign),
    _M("kl_divergence_grad", "kl-grad-is-y-minus-d", "you returned (y − d)/N, the gradient with respect to z",
       "y − d is the gradient with respect to the softmax's input z; with respect to y it is −d/(N·y)",
       _klg_y_minus_d),

    _M("softmax", "softmax-unstable", "exp(z) overflowed: softmax without subtracting the row maximum",
       "softmax(z) = softmax(z − max_j z_j): subtract each row's max before exp, then nothing exceeds e⁰ = 1",
       _sm_naive),
    _M("softmax", "softmax-wrong-axis", "you normalised over the batch (axis 0) instead of over each row's classes",
       "each row is one instance: take max and sum over axis=1 with keepdims=True", _sm_wrong_axis),
    _M("softmax", "softmax-global-normalisation", "you normalised by the sum over the whole batch",
       "each row must sum to 1: e / e.sum(axis=1, keepdims=True)", _sm_global),

    _M("softmax_kl", "softmax-kl-grad-not-divided-by-N", "dz is softmax(z) − d, without the 1/N of the batch mean",
       "the loss is a mean over N rows: dz = (softmax(z) − d)/N", _skl_not_divided),
    _M("softmax_kl", "softmax-kl-log-of-softmax", "the loss is infinite: log(softmax(z)) underflows to log 0",
       "use log softmax(z)_i = z_i − max z − log Σ_j exp(z_j − max z), which is finite for any logits",
       _skl_log_of_softmax),
    _M("softmax_kl", "softmax-kl-grad-sign", "dz has the wrong sign: (d − softmax(z))/N",
       "the gradient with respect to z is the error y − d (divided by N), not the target minus the output",
       _skl_sign),
    _M("softmax_kl", "softmax-kl-cross-entropy", "the loss is the cross-entropy −Σ d log softmax(z), not KL",
       "KL(d ‖ y) = Σ_i d_i (log d_i − log y_i): the Σ d log d term vanishes for one-hot targets only; "
       "with soft targets keep it (the gradient is the same)", _skl_cross_entropy,
       factory=_skl, flags={"cross_entropy": True}),
    _M("softmax_kl", "softmax-kl-clamped-log", "you clamped the log, log(softmax(z) + 1e-15): the loss is finite but wrong",
       "a confidently wrong row has log y ≈ −1000, not log 1e-15 ≈ −34.5: compute log softmax(z) = z − max z − "
       "log Σ_j exp(z_j − max z) instead of clamping", _skl_clamped_log,
       factory=_skl, flags={"clamped": True}),
    _M("softmax_kl", "softmax-kl-unstable", "the loss and dz are NaN: exp(z) overflowed for logits around 1000",
       "subtract each row's max before exp (softmax(z) = softmax(z − max z)) and use the log-softmax for the loss",
       _skl_unstable),

    _M("sigmoid_bce", "bce-unstable", "the loss is not finite: log σ(z) or log(1 − σ(z)) hit log 0",
       "from logits: −d log σ(z) − (1−d) log(1−σ(z)) = softplus(z) − d·z, with softplus(z) = max(z,0) + log1p(exp(−|z|))",
       _bce_naive),
    _M("sigmoid_bce", "bce-grad-not-divided", "dz is σ(z) − d, without dividing by the number of elements",
       "the loss is the mean over all N·C elements, so dz = (σ(z) − d)/z.size", _bce_not_divided),
    _M("sigmoid_bce", "bce-averaged-over-rows-only", "you averaged over the N rows only (summing over the C outputs)",
       "sigmoid_bce, like PyTorch's BCEWithLogitsLoss, averages over all N·C elements: divide by z.size",
       _bce_rows_only),
]
