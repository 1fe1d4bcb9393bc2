"""Exercises and misconceptions of ``06_regularization``: penalties, clipping, early
stopping and input standardization.

Clipping works in place (as ``torch.nn.utils.clip_grad_value_`` / ``clip_grad_norm_``), so
its checks compare the gradients *after* the call (and, for ``clip_grad_norm``, the
returned norm). ``clip_grad_value`` returns nothing in the reference; what an answer
returns is not graded, only what it leaves in ``grads``.

Named cases (``case=…``) exist where a misconception shows only on particular inputs: a
gradient already below ``max_norm`` (always rescaling), exact zeros in ``W`` (the sign at 0),
training statistics passed in (recomputing them on the data at hand), a training std of 0
(the guard), a later and lower minimum after patience ran out (ignoring patience), a tie
(strict improvement), an improvement one epoch after patience ran out and a NaN loss (a
diverged epoch, which never improves).
"""
from __future__ import annotations

import numpy as np

from autograder.catalogue import Exercise, Misconception
from tnn_lib import optim, regularization as reg


def _unknown(name, case, cases):
    raise ValueError(f"{name}: unknown case {case!r}; expected None or one of {sorted(cases)}")


# --------------------------------------------------------------------------- penalties
_PENALTY_CASES = ("one_array", "large_weights", "sparse", "vector_bias")


def _penalty_inputs(name):
    def make_inputs(rng, case=None, D=5, H=4, C=3):
        if case is not None and case not in _PENALTY_CASES:
            _unknown(name, case, _PENALTY_CASES)
        lam = float(rng.uniform(0.05, 0.9))
        if case == "one_array":
            params = {"W": rng.standard_normal((D, H))}
        else:
            params = {"W1": rng.standard_normal((D, H)), "W2": rng.standard_normal((H, C))}
        if case == "large_weights":
            params = {k: 100.0 * w for k, w in params.items()}
        elif case == "sparse":  # exact zeros: the subgradient of |w| at 0 is 0
            for w in params.values():
                w[rng.random(w.shape) < 0.5] = 0.0
        elif case == "vector_bias":  # 1-D arrays are penalised the same way
            params["b1"] = rng.standard_normal(H)
        return {"params": params, "lam": lam}
    return make_inputs


def _l2_variant(value_scale, grad_scale, squared=True):
    def l2_penalty(params, lam):
        if squared:
            value = value_scale * lam * sum(float(np.sum(w * w)) for w in params.values())
            return value, {k: grad_scale * lam * w for k, w in params.items()}
        # ½λ Σ ‖W‖ with the norm not squared, and its gradient λ W / ‖W‖
        value = 0.5 * lam * sum(float(np.linalg.norm(w)) for w in params.values())
        return value, {k: 0.5 * lam * w / np.linalg.norm(w) for k, w in params.items()}
    return l2_penalty


def _l1_grad_lam_w(params, lam):
    value = lam * sum(float(np.sum(np.abs(w))) for w in params.values())
    return value, {k: lam * w for k, w in params.items()}


def _l1_grad_no_sign(params, lam):
    value = lam * sum(float(np.sum(np.abs(w))) for w in params.values())
    return value, {k: lam * np.ones_like(w) for k, w in params.items()}


def _l1_half(params, lam):
    value = 0.5 * lam * sum(float(np.sum(np.abs(w))) for w in params.values())
    return value, {k: 0.5 * lam * np.sign(w) for k, w in params.items()}


def _l1_sign_at_zero(params, lam):
    value = lam * sum(float(np.sum(np.abs(w))) for w in params.values())
    return value, {k: lam * np.where(w >= 0, 1.0, -1.0) for k, w in params.items()}


# --------------------------------------------------------------------------- clipping
_CLIP_VALUE_CASES = ("all_inside", "large")


def _clip_value_inputs(rng, case=None, D=4, H=3, clip_value=5.0):
    if case is not None and case not in _CLIP_VALUE_CASES:
        _unknown("clip_grad_value", case, _CLIP_VALUE_CASES)
    scale = {None: 6.0, "all_inside": 1.0, "large": 300.0}[case]
    grads = {"W": scale * rng.standard_normal((D, H)), "b": scale * rng.standard_normal(H)}
    if case is None:  # make sure both signs cross the threshold
        grads["W"].flat[0], grads["W"].flat[1] = 3.0 * clip_value, -2.0 * clip_value
    if case == "all_inside":
        grads = {k: np.clip(g, -0.9 * clip_value, 0.9 * clip_value) for k, g in grads.items()}
    return {"grads": grads, "clip_value": float(clip_value)}


def _call_grads_after(impl, inputs):
    """Clipping is in place: compare the gradients left in ``grads`` after the call."""
    impl(inputs["grads"], inputs["clip_value"])
    return inputs["grads"]


def _clip_value_one_sided(grads, clip_value):
    for g in grads.values():
        np.minimum(g, clip_value, out=g)


def _clip_value_by_norm(grads, clip_value):
    for g in grads.values():
        n = np.linalg.norm(g)
        if n > clip_value:
            g *= clip_value / n


def _clip_value_not_in_place(grads, clip_value):
    return {k: np.clip(g, -clip_value, clip_value) for k, g in grads.items()}


_CLIP_NORM_CASES = ("below_max", "many_arrays")


def _clip_norm_inputs(rng, case=None, D=4, H=3, max_norm=None):
    if case is not None and case not in _CLIP_NORM_CASES:
        _unknown("clip_grad_norm", case, _CLIP_NORM_CASES)
    grads = {"W1": 3.0 * rng.standard_normal((D, H)), "b1": 3.0 * rng.standard_normal(H),
             "W2": 3.0 * rng.standard_normal((H, 2))}
    if case != "many_arrays":
        grads.pop("W2")
    norms = [float(np.linalg.norm(g)) for g in grads.values()]
    total = float(np.sqrt(sum(n * n for n in norms)))
    if case == "below_max":  # a small gradient: clipping must leave it alone
        grads = {k: g * (0.5 / total) for k, g in grads.items()}
        max_norm = 2.0 if max_norm is None else max_norm
    elif max_norm is None:  # every array alone is above max_norm, so per-array clipping shows
        max_norm = round(0.5 * min(norms), 3)
    return {"grads": grads, "max_norm": float(max_norm)}


def _call_norm_and_grads(impl, inputs):
    total = impl(inputs["grads"], inputs["max_norm"])
    return total, inputs["grads"]


def _clip_norm_per_array(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    for g in grads.values():
        n = np.linalg.norm(g)
        if n > max_norm:
            g *= max_norm / n
    return total


def _clip_norm_always(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    for g in grads.values():
        g *= max_norm / total
    return total


def _clip_norm_returns_clipped(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    if total > max_norm:
        for g in grads.values():
            g *= max_norm / total
    return float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))


def _clip_norm_no_sqrt(grads, max_norm):
    total = float(sum(np.sum(g * g) for g in grads.values()))
    if total > max_norm:
        for g in grads.values():
            g *= max_norm / total
    return total


# --------------------------------------------------------------------------- early stopping
_ES_CASES = ("later_minimum", "tie", "improves_after_patience", "never_improves", "keeps_improving",
             "diverged_epoch")


def _early_inputs(rng, case=None, epochs=30, patience=3):
    if case is not None and case not in _ES_CASES:
        _unknown("early_stopping_epoch", case, _ES_CASES)
    t = np.arange(epochs, dtype=float)
    best = int(rng.integers(epochs // 4, epochs // 2))
    # a validation curve: falls to a minimum at `best`, then rises (overfitting), with jitter
    v = 1.0 + 0.02 * (t - best) ** 2 / epochs + 0.0005 * rng.random(epochs)
    v[best] = v.min() - 0.01
    if case == "later_minimum":  # a lower dip after patience ran out: never seen
        v[best + patience + 3] = v[best] - 0.05
    elif case == "tie":  # the epoch right after the best equals it: not an improvement
        v[best + 1] = v[best]
    elif case == "improves_after_patience":  # one epoch after patience ran out: too late
        v[best + patience + 1] = v[best] - 0.05
        v[best + 2 * patience + 3] = v[best] - 0.1
    elif case == "never_improves":  # the first epoch is the best
        v = 1.0 + 0.01 * t + 0.001 * rng.random(epochs)
    elif case == "diverged_epoch":  # a NaN right after the best epoch (a step that diverged): never an improvement
        v[best + 1] = np.nan
    elif case == "keeps_improving":  # no overfitting within the run: the last epoch
        v = 1.0 / (1.0 + t) + 0.001 * rng.random(epochs) / (1.0 + t) ** 2
        v = np.minimum.accumulate(v) - 1e-6 * t
    return {"val_losses": v, "patience": int(patience)}


def _es_no_restore(val_losses, patience):
    best_val, best = np.inf, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best_val:
            best_val, best = loss, epoch
        elif epoch - best >= patience:
            return epoch
    return len(val_losses) - 1


def _es_nan_argmin(val_losses, patience):
    best_val, best, stop = np.inf, 0, len(val_losses) - 1
    for epoch, loss in enumerate(val_losses):
        if loss < best_val:
            best_val, best = loss, epoch
        elif epoch - best >= patience:
            stop = epoch
            break
    return int(np.argmin(val_losses[:stop + 1]))  # np.argmin returns the index of a NaN


def _es_last(val_losses, patience):
    return len(val_losses) - 1


def _es_global_argmin(val_losses, patience):
    return int(np.nanargmin(val_losses))  # the minimum over all epochs (NaN aside)


def _es_off_by_one(val_losses, patience):
    best_val, best = np.inf, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best_val:
            best_val, best = loss, epoch
        elif epoch - best > patience:
            return best
    return best


def _es_non_strict(val_losses, patience):
    best_val, best = np.inf, 0
    for epoch, loss in enumerate(val_losses):
        if loss <= best_val:
            best_val, best = loss, epoch
        elif epoch - best >= patience:
            return best
    return best


# --------------------------------------------------------------------------- standardize
_STD_CASES = ("train_stats", "train_std_zero", "constant_feature")


def _std_inputs(rng, case=None, N=20, D=5):
    if case is not None and case not in _STD_CASES:
        _unknown("standardize", case, _STD_CASES)
    loc = rng.uniform(-5, 5, D)
    scale = rng.uniform(0.5, 4.0, D)
    x = loc + scale * rng.standard_normal((N, D))
    if case is None:
        return {"x": x}
    if case == "constant_feature":  # e.g. a digits pixel that is always blank
        x[:, 1] = 0.0
        return {"x": x}
    # test data transformed with the statistics of (other) training data
    train = loc + scale * rng.standard_normal((3 * N, D))
    mean, std = train.mean(axis=0), train.std(axis=0)
    if case == "train_std_zero":  # blank in training, inked in the test data
        mean[1], std[1] = 0.0, 0.0
        x[:, 1] = rng.uniform(0.5, 2.0, N)
    return {"x": x, "mean": mean, "std": std}


def _call_standardize(impl, inputs):
    return impl(inputs["x"], inputs.get("mean"), inputs.get("std"))


def _std_wrong_axis(x, mean=None, std=None):
    if mean is None:
        mean = x.mean(axis=1, keepdims=True)
        std = x.std(axis=1, keepdims=True)
    std = np.where(std == 0, 1.0, std)
    return (x - mean) / std, mean, std


def _std_unbiased(x, mean=None, std=None):
    if mean is None:
        mean = x.mean(axis=0)
        std = x.std(axis=0, ddof=1)
    std = np.where(std == 0, 1.0, std)
    return (x - mean) / std, mean, std


def _std_test_statistics(x, mean=None, std=None):
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std == 0, 1.0, std)
    return (x - mean) / std, mean, std


def _std_no_guard(x, mean=None, std=None):
    if mean is None:
        mean = x.mean(axis=0)
        std = x.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (x - mean) / std, mean, std


# --------------------------------------------------------------------------- registry
EXERCISES = [
    Exercise(name="l2_penalty", reference=reg.l2_penalty, make_inputs=_penalty_inputs("l2_penalty"),
             output_name="(value, grads)"),
    Exercise(name="l1_penalty", reference=reg.l1_penalty, make_inputs=_penalty_inputs("l1_penalty"),
             output_name="(value, grads)"),
    Exercise(name="clip_grad_value", reference=optim.clip_grad_value, make_inputs=_clip_value_inputs,
             call=_call_grads_after, mutates=True, output_name="grads after clipping"),
    # tol 1e-6: the reference divides by (total + 1e-6) as PyTorch does; max_norm / total passes
    Exercise(name="clip_grad_norm", reference=optim.clip_grad_norm, make_inputs=_clip_norm_inputs,
             call=_call_norm_and_grads, mutates=True, tol=1e-6,
             output_name="(returned norm, grads after clipping)"),
    Exercise(name="early_stopping_epoch", reference=reg.early_stopping_epoch, make_inputs=_early_inputs,
             output_name="epoch"),
    Exercise(name="standardize", reference=reg.standardize, make_inputs=_std_inputs, call=_call_standardize,
             output_name="(x_std, mean, std)"),
]

_L2_HINT = "value ½λ Σ‖W‖², gradient λW: the ½ cancels the 2 of d(w²)/dw — see 'The L2 penalty is weight decay'"
_L1_HINT = "value λ Σ|W|, gradient λ·sign(W) with sign(0) = 0 — see 'The L1 penalty and sparsity'"

MISCONCEPTIONS = [
    # l2_penalty
    Misconception("l2_penalty", "l2-no-half", "your penalty is λΣ‖W‖² without the ½, and its gradient 2λW",
                  _L2_HINT, impl=_l2_variant(1.0, 2.0)),
    Misconception("l2_penalty", "l2-grad-2lam", "your gradient is 2λW: with the ½ in the penalty it is λW",
                  _L2_HINT, impl=_l2_variant(0.5, 2.0)),
    Misconception("l2_penalty", "l2-value-no-half", "your value λΣ‖W‖² misses the ½ (the gradient λW is right)",
                  _L2_HINT, impl=_l2_variant(1.0, 1.0)),
    Misconception("l2_penalty", "l2-norm-not-squared", "you penalised the norms ‖W‖, not the squared norms ‖W‖²",
                  _L2_HINT, impl=_l2_variant(0.5, 1.0, squared=False)),
    # l1_penalty
    Misconception("l1_penalty", "l1-grad-lam-w", "your L1 gradient is λW, the gradient of the L2 penalty",
                  _L1_HINT, impl=_l1_grad_lam_w),
    Misconception("l1_penalty", "l1-grad-no-sign", "your L1 gradient ignores the sign: λ for every weight",
                  _L1_HINT + "; the pull is towards 0 from both sides",
                  impl=_l1_grad_no_sign),
    Misconception("l1_penalty", "l1-half", "you used ½λΣ|W| (and gradient ½λ·sign W): the L1 penalty has no ½",
                  _L1_HINT + "; some slides write λ/2 by analogy with L2, this course does not",
                  impl=_l1_half),
    Misconception("l1_penalty", "l1-sign-at-zero", "your gradient at W = 0 is +λ (or −λ); sign(0) is 0",
                  _L1_HINT + "; use np.sign, which is 0 at 0",
                  impl=_l1_sign_at_zero),
    # clip_grad_value
    Misconception("clip_grad_value", "clip-value-one-sided", "you clipped only from above: entries below −θ stay",
                  "clip to [−θ, θ]: np.clip(g, -clip_value, clip_value, out=g) — see 'Gradient clipping'",
                  impl=_clip_value_one_sided),
    Misconception("clip_grad_value", "clip-value-by-norm", "you rescaled each array's norm to θ instead of "
                  "clipping each entry", "clipping by value caps every component at ±θ and can change the "
                  "direction; clipping by norm keeps it — see 'Gradient clipping'", impl=_clip_value_by_norm),
    Misconception("clip_grad_value", "clip-value-not-in-place", "you returned clipped copies and left grads "
                  "unchanged", "clip in place (np.clip(g, -c, c, out=g) or g[...] = …) so the optimizer sees "
                  "the clipped arrays", impl=_clip_value_not_in_place),
    # clip_grad_norm
    Misconception("clip_grad_norm", "clip-norm-per-array", "you clipped each array by its own norm, not by the "
                  "global norm of all of them", "total = √(Σ_k ‖g_k‖²) over every array, then one common factor "
                  "min(1, max_norm/total) — see 'Gradient clipping'", impl=_clip_norm_per_array),
    Misconception("clip_grad_norm", "clip-norm-always-rescale", "you rescaled to max_norm even when the gradient "
                  "was already smaller", "the factor is min(1, max_norm/total): a small gradient is left alone",
                  impl=_clip_norm_always),
    Misconception("clip_grad_norm", "clip-norm-returns-clipped", "you returned the norm after clipping; the "
                  "function returns the original total norm", "return total, computed before rescaling "
                  "(as torch.nn.utils.clip_grad_norm_ does; it is what one logs to see explosions)",
                  impl=_clip_norm_returns_clipped),
    Misconception("clip_grad_norm", "clip-norm-no-sqrt", "you used the squared norm Σ‖g‖² as the norm",
                  "total = √(Σ_k ‖g_k‖²)", impl=_clip_norm_no_sqrt),
    # early_stopping_epoch
    Misconception("early_stopping_epoch", "early-stop-no-restore", "you returned the epoch at which training "
                  "stopped, patience epochs after the best one", "early stopping restores the weights of the best "
                  "epoch: return its index — see 'Early stopping'", impl=_es_no_restore),
    Misconception("early_stopping_epoch", "early-stop-last-epoch", "you returned the last epoch",
                  "return the epoch of minimum validation loss seen before patience ran out", impl=_es_last),
    Misconception("early_stopping_epoch", "early-stop-nan-argmin", "you took np.argmin of the losses up to the stop, "
                  "which returns the epoch of a NaN loss", "a NaN (a diverged epoch) never improves: compare with "
                  "loss < best as you scan, or use np.nanargmin — see 'Early stopping'", impl=_es_nan_argmin),
    Misconception("early_stopping_epoch", "early-stop-ignores-patience", "you returned the minimum over all "
                  "epochs: training would have stopped before the later minimum", "scan the epochs in order and "
                  "stop after `patience` epochs without improvement", impl=_es_global_argmin),
    Misconception("early_stopping_epoch", "early-stop-off-by-one", "you waited patience + 1 epochs without "
                  "improvement before stopping", "stop at the epoch where epoch − best_epoch reaches patience "
                  "(>=, not >)", impl=_es_off_by_one),
    Misconception("early_stopping_epoch", "early-stop-non-strict", "you counted an equal loss as an improvement",
                  "an epoch improves only when its loss is strictly below the best so far", impl=_es_non_strict),
    # standardize
    Misconception("standardize", "standardize-wrong-axis", "you took mean and std over each row (axis=1), not "
                  "over each feature (axis=0)", "x has one example per row: the statistics of a feature are over "
                  "the N rows, mean(axis=0) — see 'Input normalization, PCA and whitening'", impl=_std_wrong_axis),
    Misconception("standardize", "standardize-unbiased-std", "you used the unbiased std (ddof=1)",
                  "the course uses the population std, x.std(axis=0) (ddof=0)", impl=_std_unbiased),
    Misconception("standardize", "standardize-test-statistics", "you recomputed mean and std from the data given "
                  "instead of using the training statistics passed in", "validation and test data are transformed "
                  "with the training mean and std, never their own", impl=_std_test_statistics),
    Misconception("standardize", "standardize-no-std-guard", "you divided by a std of 0", "a constant feature "
                  "(std 0) gets std 1: it is only centred; return that 1", impl=_std_no_guard),
]
