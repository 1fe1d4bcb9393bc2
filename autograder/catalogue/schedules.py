"""Exercises and misconceptions of ``08_schedules_and_landscape``.

* ``rprop_step``: several steps on a seeded sequence of gradients whose signs flip at random
  (as they do near a minimum), one fresh ``state = {}``; the trajectory is compared (the ``w``
  returned after every step and the array passed in).
* ``quickprop_step``: several steps on a per-weight quartic ``½a(w − c)² + ¼b(w − c)⁴``,
  each gradient computed at the answer's own ``w``; the start is far from the minimum and
  ``lr·a`` small, so the growth limit binds at the first secant step of every weight.
* ``ReduceLROnPlateau``: the answer's class is built with the case's hyper-parameters and
  stepped through a sequence of metrics made to tell the semantics apart: small
  improvements that count under one threshold mode and not the other, a long plateau
  whose values swing (worse, less worse, …), a new best, another plateau; ``patience >= 1``,
  ``cooldown >= 1`` and a ``min_lr`` that binds at the second reduction in every case.
  The rate returned by every ``step`` and the attribute ``lr`` after it are compared.
* ``cosine_annealing``, ``linear_warmup``: the schedule at a grid of steps (before, at and
  after ``T_max`` / ``total_iters``).
* ``max_stable_lr``: seeded symmetric positive semi-definite matrices, one per check, with
  eigenvalues spread so that 2/λ_max, 1/λ_max, 2/λ_min and 2/trace all differ.
"""
from __future__ import annotations

import numpy as np

from autograder.catalogue import Exercise, Misconception
from tnn_lib import schedules


def _unknown(name, case, cases):
    if case is not None and case not in cases:
        raise ValueError(f"{name}: unknown case {case!r}; expected one of {list(cases)}")


# --------------------------------------------------------------------------- Rprop
RPROP_CASES = ("matrix", "long", "zero_grad", "tight_bounds")


def _rprop_inputs(rng, case=None, D=None, steps=None, lr=None):
    """w (D,), grads (steps, D) with random signs and scales; lr the initial step size."""
    _unknown("rprop_step", case, RPROP_CASES)
    D, steps = int(D or rng.integers(4, 9)), int(steps or 6)
    shape = (3, 4) if case == "matrix" else (D,)
    if case == "long":
        steps = 25
    w = rng.standard_normal(shape)
    grads = rng.standard_normal((steps,) + shape) * 10.0 ** rng.uniform(-2, 1, size=shape)
    grads.reshape(steps, -1)[1:3, 0] = [1.0, -1.0]    # a flip in every case, after a step
    if case == "zero_grad":
        grads.reshape(steps, -1)[::2, -1] = 0.0       # a coordinate without a gradient every other step
    step_sizes = (1e-3, 0.05) if case == "tight_bounds" else (1e-6, 50.0)
    return {"w": w, "grads": grads, "lr": float(lr or 0.02), "etas": (0.5, 1.2), "step_sizes": step_sizes}


def _run_rprop(impl, inputs):
    w, state, returned, in_place, grads_after = inputs["w"], {}, [], [], []
    for g in inputs["grads"]:
        passed, given = w, g.copy()
        out = impl(passed, given, state, lr=inputs["lr"], etas=inputs["etas"], step_sizes=inputs["step_sizes"])
        grads_after.append(np.array(given, dtype=float, copy=True))
        if out is None:
            raise ValueError("the step returned None; update w in place and return it")
        returned.append(np.array(out, dtype=float, copy=True))
        in_place.append(np.array(passed, dtype=float, copy=True))
        w = out if isinstance(out, np.ndarray) else passed
    return {"w returned by each step": np.stack(returned), "w updated in place": np.stack(in_place),
            "the gradient dw after each step (left as given)": np.stack(grads_after)}


def _rprop_no_zeroing(w, dw, state, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)):
    prev = state.setdefault("prev", np.zeros_like(w))
    delta = state.setdefault("step_size", np.full(w.shape, float(lr)))
    trend = dw * prev
    delta *= np.where(trend > 0, etas[1], np.where(trend < 0, etas[0], 1.0))
    np.clip(delta, step_sizes[0], step_sizes[1], out=delta)
    w -= np.sign(dw) * delta  # steps back over the minimum too
    prev[...] = dw            # and the next step sees the flip again
    return w


def _rprop_etas_swapped(w, dw, state, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)):
    prev = state.setdefault("prev", np.zeros_like(w))
    delta = state.setdefault("step_size", np.full(w.shape, float(lr)))
    g = dw.copy()
    trend = g * prev
    delta *= np.where(trend > 0, etas[0], np.where(trend < 0, etas[1], 1.0))  # grows on a flip
    np.clip(delta, step_sizes[0], step_sizes[1], out=delta)
    g[trend < 0] = 0.0
    w -= np.sign(g) * delta
    prev[...] = g
    return w


def _rprop_gradient_magnitude(w, dw, state, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)):
    prev = state.setdefault("prev", np.zeros_like(w))
    delta = state.setdefault("step_size", np.full(w.shape, float(lr)))
    g = dw.copy()
    trend = g * prev
    delta *= np.where(trend > 0, etas[1], np.where(trend < 0, etas[0], 1.0))
    np.clip(delta, step_sizes[0], step_sizes[1], out=delta)
    g[trend < 0] = 0.0
    w -= g * delta  # the gradient times the step size, not its sign
    prev[...] = g
    return w


# --------------------------------------------------------------------------- QuickProp
QUICKPROP_CASES = ("matrix", "long", "big_growth")


def _quickprop_inputs(rng, case=None, D=None, steps=None, lr=None):
    """A quartic per weight: curvature a, quartic term b, minimum c; w starts 2–4 away."""
    _unknown("quickprop_step", case, QUICKPROP_CASES)
    D, steps = int(D or rng.integers(3, 7)), int(steps or 6)
    shape = (2, 3) if case == "matrix" else (D,)
    if case == "long":
        steps = 20
    a = rng.uniform(0.5, 2.0, size=shape)
    b = rng.uniform(0.0, 0.05, size=shape)
    c = rng.standard_normal(shape)
    w = c + rng.choice([-1.0, 1.0], size=shape) * rng.uniform(2.0, 4.0, size=shape)
    lr = float(lr or 0.05)   # lr·a ≤ 0.1: the first secant step wants ≥ 9 times the first step
    return {"w": w, "a": a, "b": b, "c": c, "steps": steps, "lr": lr,
            "max_growth": 3.0 if case == "big_growth" else 1.75}


def _run_quickprop(impl, inputs):
    w, state, returned, in_place, grads_after = inputs["w"], {}, [], [], []
    a, b, c = inputs["a"], inputs["b"], inputs["c"]
    for _ in range(inputs["steps"]):
        passed = w
        d = np.asarray(passed, dtype=float) - c
        g = a * d + b * d ** 3  # the gradient at the answer's own w
        given = g.copy()
        out = impl(passed, given, state, lr=inputs["lr"], max_growth=inputs["max_growth"])
        grads_after.append(given - g)   # 0 where dw was left as given (an exact zero: compared absolutely)
        if out is None:
            raise ValueError("the step returned None; update w in place and return it")
        returned.append(np.array(out, dtype=float, copy=True))
        in_place.append(np.array(passed, dtype=float, copy=True))
        w = out if isinstance(out, np.ndarray) else passed
    return {"w returned by each step": np.stack(returned), "w updated in place": np.stack(in_place),
            "the change of dw by each step (0: left as given)": np.stack(grads_after)}


def _quickprop_no_limit(w, dw, state, lr=0.01, max_growth=1.75):
    prev_g = state.setdefault("prev_grad", np.zeros_like(w))
    prev_step = state.setdefault("prev_step", np.zeros_like(w))
    denom = prev_g - dw
    safe = np.where(denom != 0, denom, 1.0)
    secant = np.where(denom != 0, prev_step * dw / safe, max_growth * prev_step)  # never limited
    step = np.where(prev_step == 0, -lr * dw, secant)
    w += step
    prev_g[...] = dw
    prev_step[...] = step
    return w


def _quickprop_denominator_reversed(w, dw, state, lr=0.01, max_growth=1.75):
    prev_g = state.setdefault("prev_grad", np.zeros_like(w))
    prev_step = state.setdefault("prev_step", np.zeros_like(w))
    denom = dw - prev_g  # g − g_prev: the secant step points the wrong way
    safe = np.where(denom != 0, denom, 1.0)
    secant = np.where(denom != 0, prev_step * dw / safe, max_growth * prev_step)
    limit = max_growth * np.abs(prev_step)
    secant = np.clip(secant, -limit, limit)
    step = np.where(prev_step == 0, -lr * dw, secant)
    w += step
    prev_g[...] = dw
    prev_step[...] = step
    return w


def _quickprop_fahlman(w, dw, state, lr=0.01, max_growth=1.75):
    prev_g = state.setdefault("prev_grad", np.zeros_like(w))
    prev_step = state.setdefault("prev_step", np.zeros_like(w))
    denom = prev_g - dw
    safe = np.where(denom != 0, denom, 1.0)
    secant = np.where(denom != 0, prev_step * dw / safe, np.where(dw != 0, max_growth * prev_step, 0.0))
    limit = max_growth * np.abs(prev_step)
    secant = np.clip(secant, -limit, limit)
    along = dw * prev_step < 0                               # −g points the way of the last step
    step = np.where(prev_step == 0, -lr * dw, secant - np.where(along, lr * dw, 0.0))
    w += step
    prev_g[...] = dw
    prev_step[...] = step
    return w


def _quickprop_plus_gradient(w, dw, state, lr=0.01, max_growth=1.75):
    prev_g = state.setdefault("prev_grad", np.zeros_like(w))
    prev_step = state.setdefault("prev_step", np.zeros_like(w))
    denom = prev_g - dw
    safe = np.where(denom != 0, denom, 1.0)
    secant = np.where(denom != 0, prev_step * dw / safe, max_growth * prev_step)
    limit = max_growth * np.abs(prev_step)
    secant = np.clip(secant, -limit, limit)
    step = np.where(prev_step == 0, -lr * dw, secant - lr * dw)  # a gradient step added to every secant step
    w += step
    prev_g[...] = dw
    prev_step[...] = step
    return w


# --------------------------------------------------------------------------- ReduceLROnPlateau
PLATEAU_CASES = ("max", "abs", "max_abs", "long")


def _plateau_inputs(rng, case=None, patience=None, cooldown=None):
    """Hyper-parameters and a metric sequence (see the module docstring)."""
    _unknown("ReduceLROnPlateau", case, PLATEAU_CASES)
    mode = "max" if case in ("max", "max_abs") else "min"
    threshold_mode = "abs" if case in ("abs", "max_abs") else "rel"
    p = int(patience if patience is not None else rng.integers(1, 4))
    cd = int(cooldown if cooldown is not None else rng.integers(1, 3))
    threshold = float(rng.choice([0.01, 0.02, 0.05]))
    lr, factor = float(rng.choice([0.1, 0.05, 0.2])), float(rng.choice([0.1, 0.5]))
    min_lr = lr * factor ** 1.5                     # binds at the second reduction
    sign = 1.0 if mode == "max" else -1.0           # +: the direction of an improvement
    best = float(rng.uniform(5.0, 20.0))
    metrics = [best]
    rel, ab = best * threshold, threshold
    small = np.sqrt(rel * ab)                       # between the two thresholds (best > 1)
    big = 3.0 * max(rel, ab)
    for _ in range(int(rng.integers(1, 3))):        # small improvements: count in abs mode only
        best += sign * small
        metrics.append(best)
    n_flat = 2 * (p + 1) + cd + 2 + (6 if case == "long" else 0)
    for k in range(n_flat):                         # a swinging plateau: worse, less worse, ...
        metrics.append(best - sign * (2.0 if k % 2 == 0 else 1.0) * big * (1 + 0.1 * rng.random()))
    best += sign * 2 * big                          # a new best, then another plateau
    metrics.append(best)
    for k in range(p + 2):
        metrics.append(best - sign * (2.0 if k % 2 == 0 else 1.0) * big)
    return {"hyper": {"lr": lr, "mode": mode, "factor": factor, "patience": p, "threshold": threshold,
                      "threshold_mode": threshold_mode, "cooldown": cd, "min_lr": min_lr, "eps": 1e-8},
            "metrics": np.array(metrics)}


def _run_plateau(impl, inputs):
    sched = impl(**inputs["hyper"])
    returned, attribute = [], []
    for m in inputs["metrics"]:
        returned.append(float(sched.step(float(m))))
        attribute.append(float(sched.lr))
    return {"lr returned by step": np.array(returned), "lr attribute after step": np.array(attribute)}


class _PlateauPatienceOffByOne:
    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lr, self.eps = min_lr, eps
        self.best = float("inf") if mode == "min" else float("-inf")
        self.num_bad_epochs, self.cooldown_counter = 0, 0

    def step(self, metric):
        if self.mode == "min":
            better = metric < (self.best * (1 - self.threshold) if self.threshold_mode == "rel"
                               else self.best - self.threshold)
        else:
            better = metric > (self.best * (1 + self.threshold) if self.threshold_mode == "rel"
                               else self.best + self.threshold)
        if better:
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs >= self.patience:  # reduces one bad epoch too early
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        return self.lr


class _PlateauThresholdModeSwapped:
    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lr, self.eps = min_lr, eps
        self.best = float("inf") if mode == "min" else float("-inf")
        self.num_bad_epochs, self.cooldown_counter = 0, 0

    def step(self, metric):
        if self.mode == "min":  # "rel" read as best − threshold and "abs" as best·(1 − threshold)
            better = metric < (self.best - self.threshold if self.threshold_mode == "rel"
                               else self.best * (1 - self.threshold))
        else:
            better = metric > (self.best + self.threshold if self.threshold_mode == "rel"
                               else self.best * (1 + self.threshold))
        if better:
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        return self.lr


class _PlateauNoCooldown:
    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.min_lr, self.eps = min_lr, eps
        self.best = float("inf") if mode == "min" else float("-inf")
        self.num_bad_epochs = 0

    def step(self, metric):
        if self.mode == "min":
            better = metric < (self.best * (1 - self.threshold) if self.threshold_mode == "rel"
                               else self.best - self.threshold)
        else:
            better = metric > (self.best * (1 + self.threshold) if self.threshold_mode == "rel"
                               else self.best + self.threshold)
        if better:
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1  # bad epochs right after a reduction count as well
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.num_bad_epochs = 0
        return self.lr


class _PlateauComparesWithLast:
    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lr, self.eps = min_lr, eps
        self.last = float("inf") if mode == "min" else float("-inf")
        self.num_bad_epochs, self.cooldown_counter = 0, 0

    def step(self, metric):
        if self.mode == "min":
            better = metric < (self.last * (1 - self.threshold) if self.threshold_mode == "rel"
                               else self.last - self.threshold)
        else:
            better = metric > (self.last * (1 + self.threshold) if self.threshold_mode == "rel"
                               else self.last + self.threshold)
        self.last = metric  # the previous epoch's value, not the best so far
        if better:
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        return self.lr


class _PlateauNoMinLr:
    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.eps = eps
        self.best = float("inf") if mode == "min" else float("-inf")
        self.num_bad_epochs, self.cooldown_counter = 0, 0

    def step(self, metric):
        if self.mode == "min":
            better = metric < (self.best * (1 - self.threshold) if self.threshold_mode == "rel"
                               else self.best - self.threshold)
        else:
            better = metric > (self.best * (1 + self.threshold) if self.threshold_mode == "rel"
                               else self.best + self.threshold)
        if better:
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = self.lr * self.factor  # min_lr ignored: the rate can fall below it
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        return self.lr


# --------------------------------------------------------------------------- cosine / warm-up
COSINE_CASES = ("past_end", "eta_min", "fractional")
WARMUP_CASES = ("past_end", "end_factor", "fractional")


def _cosine_inputs(rng, case=None, T_max=None):
    _unknown("cosine_annealing", case, COSINE_CASES)
    T = int(T_max or rng.integers(8, 30))
    ts = np.arange(0, (2 * T + 3) if case == "past_end" else (T + 1), dtype=float)
    if case == "fractional":
        ts = np.sort(rng.uniform(0, T, size=12))
    eta_min = float(rng.uniform(0.001, 0.01)) if case == "eta_min" else 0.0
    return {"lr0": float(rng.choice([0.1, 0.3, 1.0])), "ts": ts, "T_max": T, "eta_min": eta_min}


def _run_cosine(impl, inputs):
    return np.array([float(impl(inputs["lr0"], float(t) if not float(t).is_integer() else int(t),
                                inputs["T_max"], eta_min=inputs["eta_min"])) for t in inputs["ts"]])


def _cosine_off_by_one(lr0, t, T_max, eta_min=0.0):
    import math
    return eta_min + 0.5 * (lr0 - eta_min) * (1 + math.cos(math.pi * t / (T_max + 1)))  # T_max + 1 steps


def _cosine_degrees(lr0, t, T_max, eta_min=0.0):
    import math
    return eta_min + 0.5 * (lr0 - eta_min) * (1 + math.cos(180 * t / T_max))  # 180 (degrees) where π belongs


def _cosine_no_half(lr0, t, T_max, eta_min=0.0):
    import math
    return eta_min + (lr0 - eta_min) * math.cos(math.pi * t / T_max)  # cos alone goes negative


def _warmup_inputs(rng, case=None, total_iters=None):
    _unknown("linear_warmup", case, WARMUP_CASES)
    T = int(total_iters or rng.integers(3, 12))
    ts = np.arange(0, T + 4, dtype=float)
    if case == "fractional":   # t = 0 and a t past total_iters always among them
        ts = np.sort(np.concatenate([[0.0, T + 0.5], rng.uniform(0, T + 2, size=10)]))
    end = float(rng.uniform(0.5, 0.9)) if case == "end_factor" else 1.0
    if case == "past_end":
        ts = np.arange(0, 3 * T, dtype=float)
    return {"lr0": float(rng.choice([0.1, 0.3, 0.05])), "ts": ts, "total_iters": T,
            "start_factor": float(rng.choice([0.1, 0.25, 1 / 3])), "end_factor": end}


def _run_warmup(impl, inputs):
    return np.array([float(impl(inputs["lr0"], float(t) if not float(t).is_integer() else int(t),
                                total_iters=inputs["total_iters"], start_factor=inputs["start_factor"],
                                end_factor=inputs["end_factor"])) for t in inputs["ts"]])


def _warmup_from_lr0(lr0, t, total_iters=5, start_factor=1 / 3, end_factor=1.0):
    return lr0 * (1 + (end_factor - 1) * min(t, total_iters) / total_iters)  # starts at lr0, not s·lr0


def _warmup_not_capped(lr0, t, total_iters=5, start_factor=1 / 3, end_factor=1.0):
    return lr0 * (start_factor + (end_factor - start_factor) * t / total_iters)  # keeps rising after T


def _warmup_ramp_not_scaled(lr0, t, total_iters=5, start_factor=1 / 3, end_factor=1.0):
    return lr0 * start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters  # ramp without lr0


# --------------------------------------------------------------------------- max_stable_lr
HESSIAN_CASES = ("diagonal", "singular")


def _hessian_inputs(rng, case=None, D=None):
    """A symmetric PSD H = Q diag(λ) Qᵀ with λ from 0.05 to 20, or a named edge case."""
    _unknown("max_stable_lr", case, HESSIAN_CASES)
    D = int(D or rng.integers(2, 6))
    if D < 2 or (case == "singular" and D < 3):
        raise ValueError("max_stable_lr: D must be at least 2 (3 for the singular case)")
    lam = np.sort(rng.uniform(0.05, 20.0, size=D))
    lam[-1] *= 1.5
    if case == "singular":
        D = max(D, 3)
        lam = np.sort(rng.uniform(0.05, 20.0, size=D))
        lam[-1] *= 1.5
        lam[0] = 0.0
    if case == "diagonal":
        return {"hessian": np.diag(lam[rng.permutation(D)])}
    Q, _ = np.linalg.qr(rng.standard_normal((D, D)))
    H = Q @ np.diag(lam) @ Q.T
    return {"hessian": 0.5 * (H + H.T)}


def _stable_one_over(hessian):
    return 1.0 / np.linalg.eigvalsh(hessian)[-1]  # the best rate for the steepest direction, not the limit


def _stable_lambda_min(hessian):
    lam = np.linalg.eigvalsh(hessian)
    return 2.0 / lam[lam > 1e-12].min()  # the flattest direction, not the steepest


def _stable_trace(hessian):
    return 2.0 / np.trace(hessian)  # the trace bounds λ_max from above: too cautious


# --------------------------------------------------------------------------- registry
EXERCISES = [
    Exercise(name="rprop_step", reference=schedules.rprop_step, make_inputs=_rprop_inputs, call=_run_rprop,
             mutates=True, output_name="trajectory"),
    Exercise(name="quickprop_step", reference=schedules.quickprop_step, make_inputs=_quickprop_inputs,
             call=_run_quickprop, mutates=True, output_name="trajectory"),
    Exercise(name="ReduceLROnPlateau", reference=schedules.ReduceLROnPlateau, make_inputs=_plateau_inputs,
             call=_run_plateau, output_name="learning rates"),
    Exercise(name="cosine_annealing", reference=schedules.cosine_annealing, make_inputs=_cosine_inputs,
             call=_run_cosine, output_name="lr at each t"),
    Exercise(name="linear_warmup", reference=schedules.linear_warmup, make_inputs=_warmup_inputs,
             call=_run_warmup, output_name="lr at each t"),
    Exercise(name="max_stable_lr", reference=schedules.max_stable_lr, make_inputs=_hessian_inputs),
]

_M = Misconception
MISCONCEPTIONS = [
    _M("rprop_step", "rprop-no-zeroing-on-flip",
       "where the gradient changed sign you still stepped, and remembered the flipped gradient",
       "on a flip Rprop shrinks Δ by η⁻ and sets g = 0 for that step: no move, and the next step "
       "sees no trend (g_prev = 0) — see 'Rprop'", impl=_rprop_no_zeroing),
    _M("rprop_step", "rprop-etas-swapped", "your step size grows on a sign flip and shrinks while the sign holds",
       "same sign: Δ ← η⁺Δ (η⁺ = 1.2, speed up); a flip means the minimum was jumped over: Δ ← η⁻Δ "
       "(η⁻ = 0.5)", impl=_rprop_etas_swapped),
    _M("rprop_step", "rprop-gradient-magnitude", "you stepped by g·Δ: Rprop uses only the sign of the gradient",
       "w ← w − sign(g)·Δ: the size of the step is Δ alone, whatever the size of g", impl=_rprop_gradient_magnitude),

    _M("quickprop_step", "quickprop-no-growth-limit", "your secant steps are not limited to max_growth·|Δw_prev|",
       "where the two slopes are almost equal the parabola's minimum is far away; Fahlman limits the step "
       "to μ·|Δw_prev| (μ = 1.75) — see 'QuickProp'", impl=_quickprop_no_limit),
    _M("quickprop_step", "quickprop-denominator-reversed", "you divided by g − g_prev instead of g_prev − g",
       "Δw = Δw_prev·g/(g_prev − g): on a parabola this jumps to the minimum; the other sign jumps away from it",
       impl=_quickprop_denominator_reversed),
    _M("quickprop_step", "quickprop-plus-gradient-step", "you added a gradient step −lr·g to every secant step",
       "this exercise takes the pure secant step, with −lr·g only where there is no previous step (Δw_prev = 0). "
       "(Fahlman's 1988 rule adds −ε·g only while the slope points along the last step, g·Δw_prev < 0 — "
       "never to every step) — see 'QuickProp'", impl=_quickprop_plus_gradient),
    _M("quickprop_step", "quickprop-fahlman-gradient-term",
       "you added −lr·g to the secant step where the slope points along the last step, as in Fahlman's (1988) "
       "Quickprop; this exercise asks for the pure secant step",
       "Fahlman's rule is Quickprop too, but the checks expect its simplification: the secant step alone, "
       "−lr·g only where Δw_prev = 0 — see 'QuickProp'", impl=_quickprop_fahlman),

    _M("ReduceLROnPlateau", "plateau-patience-off-by-one",
       "you reduced the rate after `patience` bad epochs; PyTorch waits for patience + 1",
       "the rate is reduced when num_bad_epochs > patience: patience bad epochs are tolerated",
       impl=_PlateauPatienceOffByOne),
    _M("ReduceLROnPlateau", "plateau-threshold-mode-swapped", "you used the absolute threshold for 'rel' and the relative for 'abs'",
       "'rel' (mode min): better means metric < best·(1 − threshold); 'abs': metric < best − threshold",
       impl=_PlateauThresholdModeSwapped),
    _M("ReduceLROnPlateau", "plateau-cooldown-ignored", "you counted bad epochs during the cooldown after a reduction",
       "after a reduction, for `cooldown` epochs, the bad-epoch count is held at 0 (cooldown_counter)",
       impl=_PlateauNoCooldown),
    _M("ReduceLROnPlateau", "plateau-compares-with-last", "you compared the metric with the previous epoch's, not the best so far",
       "an improvement must beat `best`, the best value seen; a plateau that swings is still a plateau",
       impl=_PlateauComparesWithLast),
    _M("ReduceLROnPlateau", "plateau-min-lr-ignored", "your rate falls below min_lr",
       "new_lr = max(lr·factor, min_lr)", impl=_PlateauNoMinLr),

    _M("cosine_annealing", "cosine-t-max-off-by-one", "you divided by T_max + 1: the rate reaches η_min one step too late",
       "η_t = η_min + ½(η₀ − η_min)(1 + cos(π t/T_max)): at t = T_max the cosine is −1", impl=_cosine_off_by_one),
    _M("cosine_annealing", "cosine-degrees", "your cosine's argument is not π·t/T_max in radians",
       "math.cos and np.cos take radians: cos(π t/T_max) goes from 1 to −1 as t goes from 0 to T_max",
       impl=_cosine_degrees),
    _M("cosine_annealing", "cosine-no-half", "you used (η₀ − η_min)·cos(π t/T_max), without (1 + cos)/2",
       "the factor (1 + cos(π t/T_max))/2 goes from 1 to 0; cos alone goes to −1 and the rate turns negative",
       impl=_cosine_no_half),

    _M("linear_warmup", "warmup-starts-at-lr0", "your warm-up starts at lr0, not at start_factor·lr0",
       "η_t = lr0·(s + (e − s)·min(t, T)/T): at t = 0 the rate is s·lr0", impl=_warmup_from_lr0),
    _M("linear_warmup", "warmup-not-capped", "your rate keeps changing after total_iters",
       "min(t, total_iters): from t = total_iters on the rate stays at end_factor·lr0", impl=_warmup_not_capped),
    _M("linear_warmup", "warmup-ramp-not-scaled", "you added the ramp (e − s)·min(t, T)/T without multiplying it by lr0",
       "the factor s + (e − s)·min(t, T)/T multiplies lr0 as a whole", impl=_warmup_ramp_not_scaled),

    _M("max_stable_lr", "stable-lr-one-over-lambda", "you returned 1/λ_max, the rate that is best for the steepest direction",
       "gradient descent multiplies that direction by (1 − ηλ) per step: it converges while |1 − ηλ| < 1, "
       "i.e. up to η = 2/λ_max — see 'The largest stable learning rate'", impl=_stable_one_over),
    _M("max_stable_lr", "stable-lr-lambda-min", "you used the smallest eigenvalue",
       "the steepest direction (λ_max) is the first to diverge: η < 2/λ_max", impl=_stable_lambda_min),
    _M("max_stable_lr", "stable-lr-trace", "you used the trace of H instead of its largest eigenvalue",
       "the trace is the sum of all eigenvalues; only the largest sets the limit 2/λ_max",
       impl=_stable_trace),
]
