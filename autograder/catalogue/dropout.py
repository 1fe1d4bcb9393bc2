"""Exercises and misconceptions of ``03_dropout``: the forward pass in both scaling
conventions, its backward, the lecture notes' test-time weights, Monte-Carlo prediction.

``keep_prob`` is the probability of KEEPING a unit (the lecture notes' α). It is drawn
away from 0.5 (where keep and drop probability coincide) and below 1 (where no scaling
shows); the keep_prob = 1 edge cases are plain asserts in the notebook.

Randomness: a numpy Generator is not a value the checks can compare, so the inputs hold
an integer ``rng_seed`` and ``call`` builds ``numpy.random.default_rng(rng_seed)`` afresh
for every implementation (the reference and each wrong variant see the same stream).
Masks are drawn as ``rng.random(x.shape) < keep_prob`` (1 = keep), as the reference does.

Backward exercises get the cache of the reference forward, ``(mask, keep_prob, train,
inverted)``. ``mc_dropout_predict`` is called with the ``forward(x, mask_rng)`` of a small
ReLU network with inverted dropout on its hidden layer.

Named cases select the mode: ``rng`` (mask drawn from the generator), ``lecture_form``
(training, not inverted: the lecture notes' first form), ``test_inverted`` and
``test_lecture_form`` (test mode); ``two_samples`` and ``low_keep`` for Monte Carlo. A
wrong variant of one mode equals the reference in the modes it does not touch (e.g.
scaling by keep_prob instead of 1/keep_prob cannot show at test time in inverted mode);
each is named by the cases of its own mode.
"""
from __future__ import annotations

import numpy as np

from autograder.catalogue import Exercise, Misconception
from tnn_lib import dropout as dp


def _unknown(name, case, cases):
    raise ValueError(f"{name}: unknown case {case!r}; expected None or one of {sorted(cases)}")


def _keep_prob(rng, low=0.6, high=0.9):
    return float(rng.uniform(low, high))  # never 0.5 (keep = drop) and never 1 (no scaling)


def _rng_of(inputs):
    seed = inputs.get("rng_seed")
    return None if seed is None else np.random.default_rng(seed)


# --------------------------------------------------------------------------- forward
_FWD_CASES = ("rng", "lecture_form", "test_inverted", "test_lecture_form")


def _mode(case):
    train = case not in ("test_inverted", "test_lecture_form")
    inverted = case not in ("lecture_form", "test_lecture_form")
    return train, inverted


def _fwd_inputs(rng, case=None, N=5, D=4):
    if case is not None and case not in _FWD_CASES:
        _unknown("dropout_forward", case, _FWD_CASES)
    x = rng.standard_normal((N, D))
    keep_prob = _keep_prob(rng)
    train, inverted = _mode(case)
    mask, seed = None, None
    if train and case == "rng":
        seed = int(rng.integers(2**31))
    elif train:
        mask = (rng.random((N, D)) < keep_prob).astype(np.float64)
        mask.flat[0], mask.flat[1] = 1.0, 0.0  # at least one kept and one dropped unit
    return {"x": x, "keep_prob": keep_prob, "mask": mask, "train": train, "inverted": inverted,
            "rng_seed": seed}


def _fwd_call(impl, inputs):
    out, _ = impl(inputs["x"], inputs["keep_prob"], rng=_rng_of(inputs), mask=inputs["mask"],
                  train=inputs["train"], inverted=inputs["inverted"])
    return out


# The wrong variants below are written as a student would write them: each one a complete
# dropout_forward with one piece wrong (the example class puts their source in answer cells).
def _fwd_scaled_by_keep_prob(x, keep_prob, rng=None, mask=None, train=True, inverted=True):
    if not train:
        return x * (1.0 if inverted else keep_prob), (None, keep_prob, False, inverted)
    if mask is None:
        mask = (rng.random(x.shape) < keep_prob).astype(np.float64)
    return (x * mask * keep_prob if inverted else x * mask), (mask, keep_prob, True, inverted)


def _fwd_keep_drop_swapped(x, keep_prob, rng=None, mask=None, train=True, inverted=True):
    if not train:
        return x * (1.0 if inverted else 1.0 - keep_prob), (None, keep_prob, False, inverted)
    if mask is None:
        mask = (rng.random(x.shape) < 1.0 - keep_prob).astype(np.float64)
    return (x * mask * (1.0 / (1.0 - keep_prob)) if inverted else x * mask), (mask, keep_prob, True, inverted)


def _fwd_inverted_not_scaled(x, keep_prob, rng=None, mask=None, train=True, inverted=True):
    if not train:
        return x * (1.0 if inverted else keep_prob), (None, keep_prob, False, inverted)
    if mask is None:
        mask = (rng.random(x.shape) < keep_prob).astype(np.float64)
    return x * mask, (mask, keep_prob, True, inverted)


def _fwd_scaled_again_at_test(x, keep_prob, rng=None, mask=None, train=True, inverted=True):
    if not train:
        return x * keep_prob, (None, keep_prob, False, inverted)
    if mask is None:
        mask = (rng.random(x.shape) < keep_prob).astype(np.float64)
    return (x * mask * (1.0 / keep_prob) if inverted else x * mask), (mask, keep_prob, True, inverted)


def _fwd_lecture_not_scaled_at_test(x, keep_prob, rng=None, mask=None, train=True, inverted=True):
    if not train:
        return x.copy(), (None, keep_prob, False, inverted)
    if mask is None:
        mask = (rng.random(x.shape) < keep_prob).astype(np.float64)
    return (x * mask * (1.0 / keep_prob) if inverted else x * mask), (mask, keep_prob, True, inverted)


def _fwd_one_mask_for_batch(x, keep_prob, rng=None, mask=None, train=True, inverted=True):
    if not train:
        return x * (1.0 if inverted else keep_prob), (None, keep_prob, False, inverted)
    if mask is None:
        mask = (rng.random(x.shape[1:]) < keep_prob).astype(np.float64)   # one row of masks ...
        mask = np.broadcast_to(mask, x.shape).copy()                       # ... shared by every instance
    return (x * mask * (1.0 / keep_prob) if inverted else x * mask), (mask, keep_prob, True, inverted)


def _fwd_binomial_counts(x, keep_prob, rng=None, mask=None, train=True, inverted=True):
    if not train:
        return x * (1.0 if inverted else keep_prob), (None, keep_prob, False, inverted)
    if mask is None:
        mask = rng.binomial(x.shape[-1], keep_prob, size=x.shape).astype(np.float64)  # counts 0..D, not 0/1
    return (x * mask * (1.0 / keep_prob) if inverted else x * mask), (mask, keep_prob, True, inverted)


def _fwd(swapped=False, one_mask=False):
    """dropout_forward with the mistakes of the flags, as they compose: ``swapped`` keeps a unit
    with probability 1 − keep_prob (and scales by it), ``one_mask`` draws one mask row for the
    whole batch. The single mistakes above are these written out as a student would."""
    def dropout_forward(x, keep_prob, rng=None, mask=None, train=True, inverted=True):
        keep = 1.0 - keep_prob if swapped else keep_prob
        if not train:
            return x * (1.0 if inverted else keep), (None, keep_prob, False, inverted)
        if mask is None:
            shape = x.shape[1:] if one_mask else x.shape
            mask = np.broadcast_to(rng.random(shape) < keep, x.shape).astype(np.float64)
        return (x * mask * (1.0 / keep) if inverted else x * mask), (mask, keep_prob, True, inverted)
    return dropout_forward


# --------------------------------------------------------------------------- backward
_BWD_CASES = ("lecture_form", "test_inverted", "test_lecture_form")


def _bwd_inputs(rng, case=None, N=5, D=4):
    if case is not None and case not in _BWD_CASES:
        _unknown("dropout_backward", case, _BWD_CASES)
    inputs = _fwd_inputs(rng, case, N, D)
    inputs["dout"] = rng.standard_normal((N, D))
    return inputs


def _bwd_call(impl, inputs):
    _, cache = dp.dropout_forward(inputs["x"], inputs["keep_prob"], rng=_rng_of(inputs), mask=inputs["mask"],
                                  train=inputs["train"], inverted=inputs["inverted"])
    return impl(inputs["dout"], cache)


def _bwd_no_mask(dout, cache):
    mask, keep_prob, train, inverted = cache
    if not train:
        return dout * (1.0 if inverted else keep_prob)
    return dout * (1.0 / keep_prob) if inverted else dout.copy()


def _bwd_not_scaled(dout, cache):
    mask, keep_prob, train, inverted = cache
    if not train:
        return dout * (1.0 if inverted else keep_prob)
    return dout * mask


def _bwd_scaled_by_keep_prob(dout, cache):
    mask, keep_prob, train, inverted = cache
    if not train:
        return dout * (1.0 if inverted else keep_prob)
    return dout * mask * (keep_prob if inverted else 1.0)


# --------------------------------------------------------------------------- test-time weights
_W_CASES = ("vector", "low_keep")


def _w_inputs(rng, case=None, D_in=4, D_out=3):
    if case is not None and case not in _W_CASES:
        _unknown("scale_weights_for_test", case, _W_CASES)
    W = rng.standard_normal((D_out,) if case == "vector" else (D_in, D_out))
    keep_prob = _keep_prob(rng, 0.1, 0.3) if case == "low_keep" else _keep_prob(rng)
    return {"W": W, "keep_prob": keep_prob}


def _w_divided(W, keep_prob):
    return (1.0 / keep_prob) * W


def _w_drop_prob(W, keep_prob):
    return (1.0 - keep_prob) * W


def _w_unchanged(W, keep_prob):
    return W.copy()


# --------------------------------------------------------------------------- Monte Carlo
_MC_CASES = ("two_samples", "low_keep")


def _mc_inputs(rng, case=None, N=3, D=4, H=8, C=2, n_samples=20):
    if case is not None and case not in _MC_CASES:
        _unknown("mc_dropout_predict", case, _MC_CASES)
    if case == "two_samples":
        n_samples = 2
    keep_prob = _keep_prob(rng, 0.1, 0.3) if case == "low_keep" else _keep_prob(rng)
    return {"x": rng.standard_normal((N, D)),
            "W1": rng.standard_normal((D, H)), "b1": 0.5 + 0.1 * rng.standard_normal(H),
            "W2": rng.standard_normal((H, C)), "b2": rng.standard_normal(C),
            "keep_prob": keep_prob, "n_samples": int(n_samples), "rng_seed": int(rng.integers(2**31))}


def network_with_dropout(W1, b1, W2, b2, keep_prob):
    """forward(x, mask_rng): ReLU hidden layer, inverted dropout on it, linear output."""
    def forward(x, mask_rng):
        h = np.maximum(0.0, x @ W1 + b1)
        mask = mask_rng.random(h.shape) < keep_prob
        return (h * mask / keep_prob) @ W2 + b2
    return forward


def _mc_call(impl, inputs):
    forward = network_with_dropout(inputs["W1"], inputs["b1"], inputs["W2"], inputs["b2"], inputs["keep_prob"])
    return impl(forward, inputs["x"], inputs["keep_prob"], inputs["n_samples"],
                np.random.default_rng(inputs["rng_seed"]))


def _mc_same_masks(forward, x, keep_prob, n_samples, rng):
    import copy
    outs = [forward(x, copy.deepcopy(rng)) for _ in range(n_samples)]  # the same stream every time
    return np.mean(outs, axis=0)


def _mc_sum(forward, x, keep_prob, n_samples, rng):
    return np.sum([forward(x, rng) for _ in range(n_samples)], axis=0)


def _mc_last(forward, x, keep_prob, n_samples, rng):
    for _ in range(n_samples):
        out = forward(x, rng)
    return out


# Diagnostic cases: one per mode, so a mistake of one mode is confirmed in that mode (and
# seen to leave the others alone); N ≠ D everywhere.
_FWD_DIAG = ({"seed": 104729, "N": 7, "D": 4, "case": "rng"}, {"seed": 104729, "N": 7, "D": 4},
             {"seed": 104729, "N": 7, "D": 4, "case": "lecture_form"},
             {"seed": 104729, "N": 7, "D": 4, "case": "test_inverted"},
             {"seed": 104729, "N": 7, "D": 4, "case": "test_lecture_form"})
EXERCISES = [
    Exercise("dropout_forward", dp.dropout_forward, _fwd_inputs, call=_fwd_call, diagnostic_cases=_FWD_DIAG),
    Exercise("dropout_backward", dp.dropout_backward, _bwd_inputs, call=_bwd_call, output_name="dx",
             diagnostic_cases=tuple(kw for kw in _FWD_DIAG if kw.get("case") != "rng")),
    Exercise("scale_weights_for_test", dp.scale_weights_for_test, _w_inputs, output_name="W_test",
             diagnostic_cases=({"seed": 104729, "D_in": 7, "D_out": 3},)),
    Exercise("mc_dropout_predict", dp.mc_dropout_predict, _mc_inputs, call=_mc_call, output_name="mean output",
             diagnostic_cases=({"seed": 104729, "N": 4, "n_samples": 7},)),
]

_CONV = "see 'Two conventions: scale at test, or scale in training'"
MISCONCEPTIONS = [
    # dropout_forward
    Misconception("dropout_forward", "dropout-scaled-by-keep-prob",
                  "in inverted dropout you multiplied the kept units by keep_prob instead of dividing by it",
                  "inverted dropout keeps E[out] = x in training: out = x·mask/α, since E[mask] = α — " + _CONV,
                  impl=_fwd_scaled_by_keep_prob),
    Misconception("dropout_forward", "dropout-keep-drop-swapped",
                  "you used keep_prob as the probability of DROPPING a unit (PyTorch's p)",
                  "here keep_prob is the lecture notes' α, the probability of keeping: mask = rng.random(x.shape) "
                  "< keep_prob, scale 1/keep_prob; PyTorch's nn.Dropout(p) has p = 1 − α — see 'Keep or drop?'",
                  impl=_fwd_keep_drop_swapped, factory=_fwd, flags={"swapped": True}),
    Misconception("dropout_forward", "dropout-inverted-not-scaled",
                  "in inverted dropout you applied the mask but did not divide by keep_prob",
                  "inverted dropout scales in training, out = x·mask/α, so that test time needs nothing; "
                  "without the 1/α the test-time activations are 1/α times too large on average — " + _CONV,
                  impl=_fwd_inverted_not_scaled),
    Misconception("dropout_forward", "dropout-scaled-again-at-test",
                  "in inverted mode you scaled by keep_prob at test time as well",
                  "inverted dropout already scaled by 1/α in training; at test out = x. Scaling by α at test "
                  "belongs to the lecture notes' first form (inverted=False) — " + _CONV,
                  impl=_fwd_scaled_again_at_test),
    Misconception("dropout_forward", "dropout-lecture-form-not-scaled-at-test",
                  "in the lecture notes' form (inverted=False) you did not scale by keep_prob at test time",
                  "trained with out = x·mask, a unit's expected output is α·x, so test time uses α·x "
                  "(equivalently W_test = αW) — " + _CONV,
                  impl=_fwd_lecture_not_scaled_at_test),
    Misconception("dropout_forward", "dropout-one-mask-for-the-batch",
                  "you drew one mask row and shared it across the batch: every instance drops the same units",
                  "the pattern of dropped units changes for every input: draw a mask of x's full shape, "
                  "rng.random(x.shape) < keep_prob — see 'Bernoulli masks'",
                  impl=_fwd_one_mask_for_batch, factory=_fwd, flags={"one_mask": True}),
    Misconception("dropout_forward", "dropout-binomial-count-mask",
                  "your mask holds Binomial counts (rng.binomial(n, keep_prob) with n > 1), not 0/1 draws",
                  "each unit is kept or dropped once: mask ~ Bernoulli(α) = Binomial(1, α), drawn here as "
                  "rng.random(x.shape) < keep_prob — see 'Bernoulli masks'",
                  impl=_fwd_binomial_counts),
    # dropout_backward
    Misconception("dropout_backward", "dropout-backward-no-mask",
                  "your backward does not apply the mask: dropped units pass gradient",
                  "a dropped unit's output is 0 whatever its input, so its gradient is 0: dx = dout·mask/α "
                  "(inverted) or dout·mask — see 'Backward through the mask'",
                  impl=_bwd_no_mask),
    Misconception("dropout_backward", "dropout-backward-not-scaled",
                  "your inverted-dropout backward applies the mask but not the 1/keep_prob",
                  "the backward multiplies by the same factor as the forward: dx = dout·mask/α — "
                  "see 'Backward through the mask'",
                  impl=_bwd_not_scaled),
    Misconception("dropout_backward", "dropout-backward-scaled-by-keep-prob",
                  "your inverted-dropout backward multiplies by keep_prob instead of dividing",
                  "dx = dout·mask/α, the same factor as the forward — see 'Backward through the mask'",
                  impl=_bwd_scaled_by_keep_prob),
    # scale_weights_for_test
    Misconception("scale_weights_for_test", "test-weights-divided-by-keep-prob",
                  "you divided the weights by keep_prob",
                  "W_test = α·W: at test every unit is on, so its expected training contribution α·y is "
                  "recovered by shrinking the weights — see 'Testing: the expected network'",
                  impl=_w_divided),
    Misconception("scale_weights_for_test", "test-weights-drop-prob",
                  "you scaled by the drop probability 1 − keep_prob",
                  "W_test = α·W with α the KEEP probability — see 'Keep or drop?'",
                  impl=_w_drop_prob),
    Misconception("scale_weights_for_test", "test-weights-unchanged",
                  "you returned the weights unchanged",
                  "unchanged weights are right only for inverted dropout; a layer trained with the lecture "
                  "notes' out = x·mask needs W_test = α·W — see 'Testing: the expected network'",
                  impl=_w_unchanged),
    # mc_dropout_predict
    Misconception("mc_dropout_predict", "mc-same-masks-every-sample",
                  "every sample used the same masks (a copy of, or a reset to, the same generator state)",
                  "pass the one generator rng to every call, forward(x, rng): it advances, so each sample draws "
                  "fresh masks — see 'Monte-Carlo dropout'",
                  impl=_mc_same_masks),
    Misconception("mc_dropout_predict", "mc-sum-not-mean",
                  "you returned the sum of the samples, not their mean",
                  "divide by n_samples: ŷ = (1/S) Σ_s forward(x, rng) — see 'Monte-Carlo dropout'",
                  impl=_mc_sum),
    Misconception("mc_dropout_predict", "mc-last-sample-only",
                  "you returned the last sample only (the loop overwrote instead of accumulating)",
                  "accumulate the outputs, then divide by n_samples — see 'Monte-Carlo dropout'",
                  impl=_mc_last),
]
