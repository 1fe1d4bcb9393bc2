"""Exercises and misconceptions of ``05_optimizers``: the seven functional optimizer steps.

A check runs several steps of the answer, with a fresh ``state = {}``, on a seeded sequence
of gradients and a decaying learning rate ``lr_t = lr · lr_decay**t`` (a schedule, as in
training), and compares the whole trajectory: the ``w`` returned after every step and the
array passed in (a step updates ``w`` in place). Each coordinate of the gradients has its
own scale (for the adaptive steps between 1e-6 and 10, as the weights of different layers
see gradients of very different sizes), so that where ε
sits (inside or outside the square root) shows. The schedule makes the lecture notes'
momentum (ΔW = βΔW − η∇, lr kept inside the velocity) differ from PyTorch's, which it
only does when lr changes.

Every wrong variant differs from the reference and from the other variants of its exercise
on every case the notebook checks (``tests/test_catalogue.py``). For that:

* the adaptive steps are checked with an ε that is neither their default (1e-10 for Adagrad,
  1e-8 for RMSprop and Adam) nor the CS231n slides' constant 1e-7: 1e-9 for Adagrad, 3e-7 for
  RMSprop, Adam and AdamW, so that an ε hard-coded to any of these shows;
* the gradient ``dw`` handed to each step is the checks' own array, and what is left of it after
  the step is compared too: a step may not change the gradient it was given (``dw += λ·w``);
* one coordinate of the adaptive steps starts at w = 0 with gradients of size 1e-13, far
  below ε: ε then sets the whole step, so ε ignored (0/0 where a gradient is 0, a sign
  step elsewhere), hard-coded to 1e-8 or to machine epsilon all differ (with w = 0 Adam's
  L2 term λw cannot hide the tiny gradient);
* the short case is two steps, not one: after one step RMSprop with an (invented) bias
  correction and RMSprop without the (1 − α) factor coincide (both use v = g²), as do an
  Adam whose t is never incremented and the reference.
"""
from __future__ import annotations

import numpy as np

from autograder.catalogue import Exercise, Misconception
from tnn_lib import optim

_HYPER = {  # the hyper-parameters each step is called with in the checks (lr is lr_0 of the schedule)
    "sgd_step": {"lr": 0.1},
    "momentum_step": {"lr": 0.1, "momentum": 0.9},
    "nesterov_step": {"lr": 0.1, "momentum": 0.9},
    "adagrad_step": {"lr": 0.1, "eps": 1e-9},
    "rmsprop_step": {"lr": 0.01, "alpha": 0.9, "eps": 3e-7},
    "adam_step": {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 3e-7, "weight_decay": 0.1},
    "adamw_step": {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 3e-7, "weight_decay": 0.5},
}
_COMMON = ("zero_grad", "matrix", "long", "big_lr")
CASES = {  # named edge cases per step; tiny gradients only move the adaptive methods; two steps
    # show the first steps of the methods with bias correction (one step cannot tell an Adam
    # whose t never grows from the reference)
    "sgd_step": _COMMON + ("one_step",), "momentum_step": _COMMON, "nesterov_step": _COMMON,
    "adagrad_step": _COMMON + ("tiny_grads",), "rmsprop_step": _COMMON + ("tiny_grads", "two_steps"),
    "adam_step": _COMMON + ("tiny_grads", "two_steps"), "adamw_step": _COMMON + ("tiny_grads", "two_steps"),
}
_NEGLIGIBLE = 1e-13  # the gradient scale of the coordinate where ε sets the step


def _make_inputs_for(name):
    def make_inputs(rng, case=None, D=None, steps=None, lr=None, **hyper):
        """w (D,), grads (steps, D): coordinate j has its own scale (1e-6 … 10 for the adaptive steps)."""
        unknown = set(hyper) - set(_HYPER[name])
        if unknown:
            raise ValueError(f"{name}: unknown hyper-parameter(s) {sorted(unknown)}")
        if case is not None and case not in CASES[name]:
            raise ValueError(f"{name}: unknown case {case!r}; expected one of {list(CASES[name])}")
        D = int(D or rng.integers(4, 9))
        steps = int(steps or 5)
        shape = (D,)
        if case == "matrix":
            shape = (3, 4)
        elif case == "one_step":
            steps = 1
        elif case == "two_steps":
            steps = 2
        elif case == "long":
            steps = 30
        w = rng.standard_normal(shape)
        if name in ("sgd_step", "momentum_step", "nesterov_step"):
            scales = 10.0 ** rng.uniform(-1, 1, size=shape)
        else:  # adaptive steps: scales from 1e-6 (where ε matters) to 10
            scales = 10.0 ** rng.uniform(-6, 1, size=shape)
            scales.flat[0], scales.flat[1] = 1e-6, 1.0
        if case == "tiny_grads":
            scales = 10.0 ** rng.uniform(-9, -6, size=shape)
        if name not in ("sgd_step", "momentum_step", "nesterov_step"):
            scales.flat[2] = _NEGLIGIBLE  # far below ε: ε decides this coordinate's steps
            w.flat[2] = 0.0              # so that Adam's L2 term λw does not swamp its gradient
        grads = rng.standard_normal((steps,) + shape) * scales
        if case == "zero_grad":
            grads[:, ..., -1] = 0.0  # one coordinate never receives a gradient
        h = dict(_HYPER[name])
        h.update(hyper)
        if lr is not None:
            h["lr"] = float(lr)
        if case == "big_lr":
            h["lr"] = 10 * h["lr"]
        return {"w": w, "grads": grads, "lr_decay": 0.7, **h}
    return make_inputs


def _run_steps(impl, inputs):
    """Run len(grads) steps with one fresh state dict; lr_t = lr · lr_decay**t.

    Returns the w returned after each step and the array passed in after each step
    (they are the same when the step updates w in place, as it must).
    """
    hyper = {k: v for k, v in inputs.items() if k not in ("w", "grads", "lr_decay")}
    lr0, decay = hyper.pop("lr"), inputs["lr_decay"]
    w, state = inputs["w"], {}
    returned, in_place, grads_after = [], [], []
    for t, g in enumerate(inputs["grads"]):
        passed, given = w, g.copy()
        out = impl(passed, given, state, lr=lr0 * decay**t, **hyper)
        grads_after.append(np.array(given, dtype=float, copy=True))
        if out is None:
            raise ValueError("the step returned None; update w in place and return it")
        returned.append(np.array(out, dtype=float, copy=True))
        in_place.append(np.array(passed, dtype=float, copy=True))
        w = out if isinstance(out, np.ndarray) else passed
    return {"w returned by each step": np.stack(returned), "w updated in place": np.stack(in_place),
            "the gradient dw after each step (left as given)": np.stack(grads_after)}


# --------------------------------------------------------------------------- wrong variants
def _adam_l2_into_dw(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    dw += weight_decay * w  # L2 added to the caller's gradient array
    t = state["t"] = state.get("t", 0) + 1
    m = state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * dw
    v = state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * dw * dw
    w -= lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return w


def _sgd_ascent(w, dw, state, lr):
    w += lr * dw  # the lecture slide's typo `x += learning_rate * dx`
    return w


def _sgd_not_in_place(w, dw, state, lr):
    return w - lr * dw


def _sgd_no_lr(w, dw, state, lr):
    w -= dw
    return w


def _momentum_lecture(w, dw, state, lr, momentum=0.9):
    d = state.setdefault("delta", np.zeros_like(w))
    d *= momentum
    d -= lr * dw  # ΔW = βΔW − η∇: old steps keep their old lr
    w += d
    return w


def _momentum_ema(w, dw, state, lr, momentum=0.9):
    v = state.setdefault("v", np.zeros_like(w))
    v *= momentum
    v += (1 - momentum) * dw  # Adam's first moment, not PyTorch's velocity
    w -= lr * v
    return w


def _momentum_not_saved(w, dw, state, lr, momentum=0.9):
    v = momentum * state.get("v", np.zeros_like(w)) + dw  # never written back to state
    w -= lr * v
    return w


def _nesterov_no_lookahead(w, dw, state, lr, momentum=0.9):
    v = state.setdefault("v", np.zeros_like(w))  # plain momentum: no look-ahead term
    v *= momentum
    v += dw
    w -= lr * v
    return w


def _nesterov_no_gradient_term(w, dw, state, lr, momentum=0.9):
    v = state.setdefault("v", np.zeros_like(w))
    v *= momentum
    v += dw
    w -= lr * momentum * v  # only the look-ahead part; the gradient term g is missing
    return w


def _nesterov_lecture(w, dw, state, lr, momentum=0.9):
    v = state.setdefault("v", np.zeros_like(w))
    old = v.copy()
    v *= momentum
    v -= lr * dw  # CS231n's rearranged form: v = ρv − α∇, lr inside v
    w += -momentum * old + (1 + momentum) * v
    return w


def _adagrad_eps_inside(w, dw, state, lr=0.01, eps=1e-10):
    G = state.setdefault("G", np.zeros_like(w))
    G += dw * dw
    w -= lr * dw / np.sqrt(G + eps)
    return w


def _adagrad_no_sqrt(w, dw, state, lr=0.01, eps=1e-10):
    G = state.setdefault("G", np.zeros_like(w))
    G += dw * dw
    w -= lr * dw / (G + eps)
    return w


def _adagrad_not_accumulated(w, dw, state, lr=0.01, eps=1e-10):
    G = dw * dw  # only this step's square: a sign-like (Rprop) step, not Adagrad
    w -= lr * dw / (np.sqrt(G) + eps)
    return w


def _rmsprop_eps_precedence(w, dw, state, lr=0.01, alpha=0.99, eps=1e-8):
    v = state.setdefault("v", np.zeros_like(w))
    v *= alpha
    v += (1.0 - alpha) * dw * dw
    w -= lr * dw / np.sqrt(v) + eps  # precedence: ε is added to the step, not to the denominator
    return w


def _adagrad_fixed_eps(fixed_eps):
    def adagrad_step(w, dw, state, lr=0.01, eps=1e-10):
        G = state.setdefault("G", np.zeros_like(w))
        G += dw * dw
        w -= lr * dw / (np.sqrt(G) + fixed_eps)  # the eps argument is not used
        return w
    return adagrad_step


def _rmsprop(eps_inside=False, swapped=False, no_one_minus=False, bias_correction=False,
             use_eps=True, fixed_eps=0.0):
    def rmsprop_step(w, dw, state, lr=0.01, alpha=0.99, eps=1e-8):
        e = eps if use_eps else fixed_eps
        v = state.setdefault("v", np.zeros_like(w))
        if swapped:
            v[...] = (1 - alpha) * v + alpha * dw * dw
        elif no_one_minus:
            v[...] = alpha * v + dw * dw
        else:
            v[...] = alpha * v + (1 - alpha) * dw * dw
        if bias_correction:  # Adam's correction, which RMSprop does not have
            t = state["t"] = state.get("t", 0) + 1
            v_used = v / (1 - alpha ** t)
        else:
            v_used = v
        w -= lr * dw / (np.sqrt(v_used + e) if eps_inside else np.sqrt(v_used) + e)
        return w
    return rmsprop_step


def _adam(bias_correction=True, t_offset=0, eps_inside=False, decoupled=False, l2=True,
          decay_times_lr=True, decay_after=False, t_frozen=False, no_sqrt=False, use_eps=True,
          fixed_eps=0.0, v_beta1=False):
    def step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        e = eps if use_eps else fixed_eps
        g = dw
        if decoupled and not decay_after:
            w -= (lr if decay_times_lr else 1.0) * weight_decay * w
        elif not decoupled and l2:
            g = dw + weight_decay * w
        if t_frozen:
            t = state.setdefault("t", 1)  # stored once, never incremented
        else:
            t = state["t"] = state.get("t", 0) + 1
        m = state.setdefault("m", np.zeros_like(w))
        v = state.setdefault("v", np.zeros_like(w))
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g * g
        if bias_correction:
            mh = m / (1 - beta1 ** (t + t_offset))
            vh = v / (1 - (beta1 if v_beta1 else beta2) ** (t + t_offset))   # v_beta1: β₁ copied into v̂
        else:
            mh, vh = m, v
        if no_sqrt:
            w -= lr * mh / (vh + e)
        else:
            w -= lr * mh / (np.sqrt(vh + e) if eps_inside else np.sqrt(vh) + e)
        if decoupled and decay_after:
            w -= lr * weight_decay * w
        return w
    return step


def _adamw(**kw):
    inner = _adam(decoupled=True, **kw)

    def adamw_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        return inner(w, dw, state, lr, beta1, beta2, eps, weight_decay)
    return adamw_step


def _adamw_as_l2(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    return _adam()(w, dw, state, lr, beta1, beta2, eps, weight_decay)


# --------------------------------------------------------------------------- registry
_REF = {"sgd_step": optim.sgd_step, "momentum_step": optim.momentum_step,
        "nesterov_step": optim.nesterov_step, "adagrad_step": optim.adagrad_step,
        "rmsprop_step": optim.rmsprop_step, "adam_step": optim.adam_step,
        "adamw_step": optim.adamw_step}

EXERCISES = [Exercise(name=n, reference=f, make_inputs=_make_inputs_for(n), call=_run_steps,
                      mutates=True, output_name="trajectory")
             for n, f in _REF.items()]

_M = Misconception
MISCONCEPTIONS = [
    _M("sgd_step", "sgd-ascent", "you stepped along the gradient (w += lr·dw): that is gradient ascent",
       "descent moves against the gradient: w ← w − lr·∇ (the slide's `x += learning_rate * dx` is a typo)",
       impl=_sgd_ascent),
    _M("sgd_step", "sgd-not-in-place", "you returned a new array and left w unchanged",
       "a step updates w in place (w -= lr * dw) and returns it; `w = w - lr * dw` only rebinds the name",
       impl=_sgd_not_in_place),
    _M("sgd_step", "sgd-no-lr", "you subtracted the raw gradient without the learning rate",
       "w ← w − lr·∇: the learning rate scales every step", impl=_sgd_no_lr),

    _M("momentum_step", "momentum-lr-in-velocity",
       "you used the lecture notes' form ΔW = βΔW − η∇, W += ΔW: lr sits inside the velocity",
       "it equals PyTorch's v = μv + g, w −= lr·v only while lr is constant; under a schedule PyTorch "
       "rescales the whole velocity by the current lr — keep v free of lr (see 'Where the lecture notes differ from PyTorch')",
       impl=_momentum_lecture),
    _M("momentum_step", "momentum-ema", "you averaged the gradient, v = μv + (1 − μ)g (Adam's first moment)",
       "PyTorch's momentum sums: v = μv + g, then w −= lr·v", impl=_momentum_ema),
    _M("momentum_step", "momentum-state-not-saved",
       "your velocity is not kept in `state` between steps, so every step is plain SGD",
       "`v = μ*v + dw` builds a new array and rebinds the name v: the array in state (from "
       "state.setdefault('v', …)) stays as it was. Update it in place, v *= μ; v += dw, or store the "
       "new one back, state['v'] = v",
       impl=_momentum_not_saved),

    _M("nesterov_step", "nesterov-no-lookahead",
       "your step is plain momentum, lr·(μ·v_old + g): either the look-ahead term is missing or it uses "
       "the velocity from before this step's update",
       "update the velocity first, v = μv + g, then step by g + μ·v with that new v: w −= lr·(g + μv) "
       "(the look-ahead after x̃ = x + ρv); with the old v the step is exactly heavy-ball momentum",
       impl=_nesterov_no_lookahead),
    _M("nesterov_step", "nesterov-no-gradient-term", "you stepped by lr·μ·v only: the gradient term g is missing",
       "PyTorch's Nesterov step is w −= lr·(g + μ·v) with the new v = μv + g: the gradient at the "
       "look-ahead point plus the extended velocity", impl=_nesterov_no_gradient_term),
    _M("nesterov_step", "nesterov-lr-in-velocity",
       "you used the notes' rearranged form v = ρv − αg, x += −ρ·v_old + (1 + ρ)v: lr sits inside v",
       "that equals PyTorch's form only for a constant lr; keep lr out of the buffer: v = μv + g, "
       "w −= lr·(g + μv)", impl=_nesterov_lecture),

    _M("adagrad_step", "adagrad-eps-inside-root", "you put ε inside the square root, √(G + ε)",
       "PyTorch divides by √G + ε; inside the root ε dominates for coordinates with tiny gradients "
       "(the notes write √(G + ε))", impl=_adagrad_eps_inside),
    _M("adagrad_step", "adagrad-no-sqrt", "you divided by the sum of squares G, not by its square root",
       "w ← w − lr·g/(√G + ε): dividing by √G makes the step independent of the gradient's scale",
       impl=_adagrad_no_sqrt),
    _M("adagrad_step", "adagrad-eps-ignored", "you left ε out (or never used the eps argument): g/√G",
       "w ← w − lr·g/(√G + ε) with the eps you are given: without it a weight whose gradients are "
       "0 gets 0/0 = NaN, and a negligible gradient a full ±lr step", impl=_adagrad_fixed_eps(0.0)),
    _M("adagrad_step", "adagrad-eps-hard-coded", "you wrote ε as the constant 1e-8 instead of using the eps argument",
       "use the eps you are given (PyTorch's Adagrad default is 1e-10, Adam's 1e-8)",
       impl=_adagrad_fixed_eps(1e-8)),
    _M("adagrad_step", "adagrad-eps-machine", "you used machine epsilon (np.finfo(float).eps) instead of the "
       "eps argument", "ε is a hyper-parameter, not a guard against rounding: use the eps you are given",
       impl=_adagrad_fixed_eps(float(np.finfo(float).eps))),
    _M("adagrad_step", "adagrad-not-accumulated", "you used only this step's g², not the running sum G += g²",
       "Adagrad accumulates every past squared gradient (so its steps shrink); with g² alone each step "
       "is ±lr, the sign of the gradient (the Rprop idea)", impl=_adagrad_not_accumulated),

    _M("rmsprop_step", "rmsprop-eps-inside-root", "you put ε inside the square root, √(v + ε) (the lecture notes' form)",
       "PyTorch divides by √v + ε; the notes' √(v + ε) differs wherever v is not ≫ ε",
       impl=_rmsprop(eps_inside=True)),
    _M("rmsprop_step", "rmsprop-alpha-swapped", "you swapped the weights of the running average: v = (1 − α)v + αg²",
       "α is the decay rate that multiplies the old average: v ← αv + (1 − α)g²",
       impl=_rmsprop(swapped=True)),
    _M("rmsprop_step", "rmsprop-no-one-minus-alpha", "you added g² without the (1 − α) factor",
       "v ← αv + (1 − α)g² is a weighted average; without (1 − α) v grows towards g²/(1 − α)",
       impl=_rmsprop(no_one_minus=True)),
    _M("rmsprop_step", "rmsprop-bias-corrected",
       "you divided v by (1 − αᵗ), Adam's bias correction, which RMSprop does not have",
       "torch.optim.RMSprop uses v itself: w ← w − lr·g/(√v + ε). Without the correction the first "
       "step is lr/√(1 − α), not lr — see 'RMSprop: a leaky average of squared gradients'",
       impl=_rmsprop(bias_correction=True)),
    _M("rmsprop_step", "rmsprop-eps-precedence",
       "operator precedence: lr*g/np.sqrt(v) + eps adds ε to the step, not to the denominator",
       "put the sum in parentheses: w −= lr·g/(np.sqrt(v) + eps); as written every weight also moves by −ε "
       "each step, and a zero gradient gives 0/0 = NaN", impl=_rmsprop_eps_precedence),
    _M("rmsprop_step", "rmsprop-eps-ignored", "you left ε out (or never used the eps argument): g/√v",
       "w ← w − lr·g/(√v + ε) with the eps you are given: without it a weight whose gradients are 0 "
       "gets 0/0 = NaN", impl=_rmsprop(use_eps=False, fixed_eps=0.0)),
    _M("rmsprop_step", "rmsprop-eps-hard-coded", "you wrote ε as the constant 1e-8 instead of using the eps argument",
       "use the eps you are given; the checks pass one that is not the default",
       impl=_rmsprop(use_eps=False, fixed_eps=1e-8)),
    _M("rmsprop_step", "rmsprop-eps-cs231n", "you wrote ε as the constant 1e-7 (the CS231n slides' code) instead of "
       "using the eps argument", "use the eps you are given; the checks pass one that is not the default",
       impl=_rmsprop(use_eps=False, fixed_eps=1e-7)),
    _M("rmsprop_step", "rmsprop-eps-machine", "you used machine epsilon (np.finfo(float).eps) instead of the "
       "eps argument", "ε is a hyper-parameter, not a guard against rounding: use the eps you are given",
       impl=_rmsprop(use_eps=False, fixed_eps=float(np.finfo(float).eps))),

    _M("adam_step", "adam-no-bias-correction", "you left out the bias correction m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)",
       "m and v start at zero, so early on they underestimate the moments; divide by (1 − βᵗ) "
       "(see 'Adam: RMSprop with momentum, and bias correction')", impl=_adam(bias_correction=False)),
    _M("adam_step", "adam-t-off-by-one", "your step counter is one ahead: the first step must use t = 1",
       "increment t before using it and start from 0 in the state: t = state.get('t', 0) + 1 "
       "(with t = 0 the correction divides by zero)", factory=_adam, flags={"t_offset": 1}),
    _M("adam_step", "adam-eps-inside-root", "you put ε inside the square root, √(v̂ + ε) (the lecture notes' form)",
       "PyTorch divides by √v̂ + ε", impl=_adam(eps_inside=True)),
    _M("adam_step", "adam-t-not-incremented", "your step counter t never grows: every step is corrected as if "
       "it were the first", "keep t in the state and increment it at every step: "
       "t = state['t'] = state.get('t', 0) + 1, then divide by 1 − β₁ᵗ and 1 − β₂ᵗ",
       impl=_adam(t_frozen=True)),
    _M("adam_step", "adam-no-sqrt", "you divided by v̂ instead of by its square root √v̂",
       "w ← w − lr·m̂/(√v̂ + ε): v̂ estimates g², so √v̂ has the size of g and the step the size of lr",
       factory=_adam, flags={"no_sqrt": True}),
    _M("adam_step", "adam-v-corrected-with-beta1", "you corrected v̂ with β₁: v̂ = v/(1 − β₁ᵗ) instead of v/(1 − β₂ᵗ)",
       "each moment is corrected with its own decay rate: m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ); with β₁ = 0.9 "
       "and β₂ = 0.999 the wrong v̂ is about 100 times too small on the first step "
       "(see 'Adam: RMSprop with momentum, and bias correction')",
       factory=_adam, flags={"v_beta1": True}),
    _M("adam_step", "adam-eps-ignored", "you left ε out (or never used the eps argument): m̂/√v̂",
       "w ← w − lr·m̂/(√v̂ + ε) with the eps you are given: without it a weight whose gradients are 0 "
       "gets 0/0 = NaN", impl=_adam(use_eps=False, fixed_eps=0.0)),
    _M("adam_step", "adam-eps-hard-coded", "you wrote ε as the constant 1e-8 instead of using the eps argument",
       "use the eps you are given; the checks pass one that is not the default",
       impl=_adam(use_eps=False, fixed_eps=1e-8)),
    _M("adam_step", "adam-eps-cs231n", "you wrote ε as the constant 1e-7 (the CS231n slides' code) instead of "
       "using the eps argument", "use the eps you are given; the checks pass one that is not the default",
       impl=_adam(use_eps=False, fixed_eps=1e-7)),
    _M("adam_step", "adam-l2-changes-dw", "you added weight_decay·w to dw in place (dw += …): the step is right, "
       "but the caller's gradient array is changed",
       "write g = dw + weight_decay * w (a new array); the docstring says dw is not modified — a caller that "
       "logs or clips the gradient after the step would see yours changed", impl=_adam_l2_into_dw),
    _M("adam_step", "adam-eps-machine", "you used machine epsilon (np.finfo(float).eps) instead of the eps "
       "argument", "ε is a hyper-parameter, not a guard against rounding: use the eps you are given",
       impl=_adam(use_eps=False, fixed_eps=float(np.finfo(float).eps))),
    _M("adam_step", "adam-weight-decay-decoupled",
       "you decayed the weights directly (AdamW) instead of adding weight_decay·w to the gradient",
       "adam_step's weight_decay is L2, as torch.optim.Adam: g ← g + λw before the moments",
       impl=_adam(decoupled=True)),
    _M("adam_step", "adam-weight-decay-ignored", "you ignored weight_decay",
       "adam_step's weight_decay is L2: g ← g + λw before the moments", impl=_adam(l2=False)),

    _M("adamw_step", "adamw-as-l2", "you added λw to the gradient (Adam + L2) instead of decaying the weights",
       "AdamW decouples the decay: w ← w − lr·λ·w, then the Adam update with the raw gradient; "
       "through the gradient the decay is divided by √v̂ (see 'L2 regularization vs weight decay: Adam + L2 vs AdamW')",
       impl=_adamw_as_l2),
    _M("adamw_step", "adamw-decay-not-times-lr", "your decay is w ← w − λw, not multiplied by lr",
       "PyTorch decays by lr·λ·w; the paper's λθ is multiplied by the schedule multiplier η_t instead "
       "(see 'Where the lecture notes differ from PyTorch')", impl=_adamw(decay_times_lr=False)),
    _M("adamw_step", "adamw-decay-after-update", "you applied the decay after the Adam update, to the updated w",
       "decay the weights first, w ← w − lr·λ·w with the w the gradient was computed at, then the Adam step",
       impl=_adamw(decay_after=True)),
    _M("adamw_step", "adamw-no-bias-correction", "you left out the bias correction m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)",
       "m and v start at zero; divide by (1 − βᵗ)", impl=_adamw(bias_correction=False)),
    _M("adamw_step", "adamw-eps-inside-root", "you put ε inside the square root, √(v̂ + ε) (the lecture notes' form)",
       "torch.optim.AdamW divides by √v̂ + ε, as Adam", impl=_adamw(eps_inside=True)),
    _M("adamw_step", "adamw-eps-ignored", "you left ε out (or never used the eps argument): m̂/√v̂",
       "w ← w − lr·m̂/(√v̂ + ε) with the eps you are given: without it a weight whose gradients are 0 "
       "gets 0/0 = NaN", impl=_adamw(use_eps=False, fixed_eps=0.0)),
    _M("adamw_step", "adamw-eps-hard-coded", "you wrote ε as the constant 1e-8 instead of using the eps argument",
       "use the eps you are given; the checks pass one that is not the default",
       impl=_adamw(use_eps=False, fixed_eps=1e-8)),
]
