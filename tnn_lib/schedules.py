"""Schedules, trend algorithms and curvature (notebook ``08_schedules_and_landscape``).

Re-exported by :mod:`tnn_lib.optim`, which is where the course's API lists them:

* ``cosine_annealing``, ``linear_warmup`` — closed forms of PyTorch's ``CosineAnnealingLR``
  and ``LinearLR``;
* ``ReduceLROnPlateau`` — "fix the rate until the error plateaus, then divide by 10", with
  the semantics of ``torch.optim.lr_scheduler.ReduceLROnPlateau`` for one parameter group;
* ``rprop_step`` (as ``torch.optim.Rprop``) and ``quickprop_step`` (Fahlman, 1988): the
  trend algorithms, which look at how the derivative changes from one step to the next;
* ``max_stable_lr`` — 2/λ_max, the largest rate gradient descent tolerates on a quadratic.

A step ``step(w, dw, state, ...)`` updates ``w`` in place, keeps its running values in the
dict ``state`` (created empty by the caller) and returns ``w``, as the steps of ``optim``.
"""

import math
import numbers

import numpy as np

from tnn_lib._validate import check_array, check_choice, check_int, check_nonneg, check_positive

__all__ = ["cosine_annealing", "linear_warmup", "ReduceLROnPlateau", "rprop_step",
           "quickprop_step", "max_stable_lr"]


def _check_step_args(w, dw, state):
    if not isinstance(w, np.ndarray) or not np.issubdtype(w.dtype, np.floating):
        got = w.dtype if isinstance(w, np.ndarray) else type(w).__name__
        raise ValueError(f"w: expected a float numpy array (updated in place), got {got}")
    g = check_array("dw", dw)
    if g.shape != w.shape:
        raise ValueError(f"w and dw: expected the same shape, got {w.shape} and {g.shape}")
    if not isinstance(state, dict):
        raise ValueError(f"state: expected a dict (empty before the first step), got {type(state).__name__}")
    return g.astype(np.float64, copy=False)


def _pair(name, v):
    if np.ndim(v) != 1 or len(v) != 2:
        raise ValueError(f"{name}: expected a pair (a, b), got {v!r}")
    return check_nonneg(f"{name}[0]", v[0]), check_nonneg(f"{name}[1]", v[1])


# --------------------------------------------------------------------------- schedules
def cosine_annealing(lr0, t, T_max, eta_min=0.0):
    r"""Cosine annealing, the closed form of ``torch.optim.lr_scheduler.CosineAnnealingLR``.

    Parameters
    ----------
    lr0 : float >= 0
        The initial learning rate η_max.
    t : float >= 0
        The step (or epoch) count.
    T_max : float > 0
        Half a period: the rate reaches ``eta_min`` at ``t = T_max``.
    eta_min : float >= 0

    Returns
    -------
    float

    Notes
    -----
    .. math:: \eta_t = \eta_{min} + \tfrac12(\eta_{max} - \eta_{min})\,(1 + \cos(\pi t / T_{max}))

    so η₀ = lr0 and η_{T_max} = η_min; past T_max the cosine rises again (the closed form,
    as PyTorch's ``_get_closed_form_lr``).
    """
    lr0, t = check_nonneg("lr0", lr0), check_nonneg("t", t)
    T_max, eta_min = check_positive("T_max", T_max), check_nonneg("eta_min", eta_min)
    return eta_min + 0.5 * (lr0 - eta_min) * (1.0 + math.cos(math.pi * t / T_max))


def linear_warmup(lr0, t, total_iters=5, start_factor=1.0 / 3.0, end_factor=1.0):
    r"""Linear warm-up, the closed form of ``torch.optim.lr_scheduler.LinearLR``.

    Parameters
    ----------
    lr0 : float >= 0
        The base learning rate.
    t : float >= 0
        The step count.
    total_iters : int >= 1
        Steps over which the factor moves from ``start_factor`` to ``end_factor``.
    start_factor : float in (0, 1]
    end_factor : float in [0, 1]

    Returns
    -------
    float

    Notes
    -----
    .. math:: \eta_t = \eta_0\,\Big(s + (e - s)\,\frac{\min(t, T)}{T}\Big)

    with s = ``start_factor``, e = ``end_factor``, T = ``total_iters``: η₀ = s·lr0, and
    e·lr0 from t = T on.
    """
    lr0, t = check_nonneg("lr0", lr0), check_nonneg("t", t)
    total_iters = check_int("total_iters", total_iters, minimum=1)
    s, e = check_positive("start_factor", start_factor), check_nonneg("end_factor", end_factor)
    if s > 1.0:
        raise ValueError(f"start_factor: expected a number in (0, 1], got {start_factor!r}")
    if e > 1.0:
        raise ValueError(f"end_factor: expected a number in [0, 1], got {end_factor!r}")
    return lr0 * (s + (e - s) * min(t, total_iters) / total_iters)


class ReduceLROnPlateau:
    """Divide the rate by ``1/factor`` when a metric has stopped improving.

    The semantics of ``torch.optim.lr_scheduler.ReduceLROnPlateau`` for one parameter group.
    Call :meth:`step` once per epoch with the monitored metric; it returns the rate to use.

    Parameters
    ----------
    lr : float >= 0
        The initial learning rate.
    mode : {"min", "max"}
        Whether the metric should go down (a loss) or up (an accuracy).
    factor : float in [0, 1)
        ``new_lr = max(lr·factor, min_lr)``.
    patience : int >= 0
        Epochs without improvement that are tolerated; the reduction comes on the
        ``patience + 1``-th bad epoch in a row.
    threshold : float >= 0
        What counts as an improvement of the best value ``best``: with ``threshold_mode``
        ``"rel"``, ``metric < best·(1 − threshold)`` (mode min) or
        ``metric > best·(1 + threshold)`` (mode max); with ``"abs"``,
        ``metric < best − threshold`` or ``metric > best + threshold``.
    threshold_mode : {"rel", "abs"}
    cooldown : int >= 0
        Epochs after a reduction during which bad epochs are not counted.
    min_lr : float >= 0
        The rate never goes below it.
    eps : float >= 0
        A reduction smaller than ``eps`` (``lr − new_lr <= eps``) is ignored.

    Attributes
    ----------
    lr : float — the current rate
    best : float — the best metric so far (±inf before the first step)
    num_bad_epochs, cooldown_counter, last_epoch : int

    Notes
    -----
    One :meth:`step`: ``last_epoch += 1``; if the metric is better than ``best``, it becomes
    ``best`` and ``num_bad_epochs = 0``, else ``num_bad_epochs += 1``; while in cooldown
    (``cooldown_counter > 0``) ``cooldown_counter −= 1`` and ``num_bad_epochs = 0``; then if
    ``num_bad_epochs > patience`` the rate is reduced, ``cooldown_counter = cooldown`` and
    ``num_bad_epochs = 0`` (the epoch that triggered the reduction is not carried over).
    A NaN metric is never better, so it counts as a bad epoch, as in PyTorch.
    """

    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr = check_nonneg("lr", lr)
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.factor = check_nonneg("factor", factor)
        if self.factor >= 1.0:
            raise ValueError(f"factor: expected a number in [0, 1) (the rate is multiplied by it), got {factor!r}")
        self.patience = check_int("patience", patience, minimum=0)
        self.threshold = check_nonneg("threshold", threshold)
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.min_lr = check_nonneg("min_lr", min_lr)
        self.eps = check_nonneg("eps", eps)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def is_better(self, metric, best):
        """Whether ``metric`` improves on ``best`` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return metric < best * (1.0 - self.threshold)
        if self.mode == "min":
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (1.0 + self.threshold)
        return metric > best + self.threshold

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def step(self, metric):
        """Record one epoch's ``metric``; returns the learning rate for the next epoch."""
        if isinstance(metric, np.ndarray) and metric.size == 1:
            metric = metric.reshape(())[()]
        if isinstance(metric, (bool, np.bool_)) or not isinstance(metric, (numbers.Real, np.number)):
            raise ValueError(f"metric: expected a real number (the epoch's loss or accuracy), got {metric!r}")
        current = float(metric)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current  # a new best: the plateau count restarts
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:  # bad epochs right after a reduction are not counted
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:  # a reduction of at most eps is ignored
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.lr


# --------------------------------------------------------------------------- trend algorithms
def rprop_step(w, dw, state, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)):
    r"""Resilient propagation (Riedmiller and Braun, 1993) as ``torch.optim.Rprop``.

    Only the sign of each derivative is used; every weight has its own step size Δ.

    Parameters
    ----------
    w : ndarray — updated in place
    dw : ndarray, same shape — the gradient g; not modified
    state : dict — keeps ``prev`` (the previous g, zeroed where it flipped), ``step_size``
        (Δ, filled with ``lr`` at the first step) and ``step`` (the count)
    lr : float >= 0 — the initial step size
    etas : (η⁻, η⁺) with 0 < η⁻ < 1 < η⁺
    step_sizes : (Δ_min, Δ_max) with 0 <= Δ_min <= Δ_max

    Returns
    -------
    w : the same array, updated

    Notes
    -----
    Per element, with g_prev the stored previous gradient:

    * g·g_prev > 0 (same sign): Δ ← min(η⁺Δ, Δ_max);
    * g·g_prev < 0 (it flipped, a minimum was jumped over): Δ ← max(η⁻Δ, Δ_min) and g ← 0
      for this step (no move, and the next step sees g_prev = 0);
    * g·g_prev = 0: Δ unchanged.

    Then w ← w − sign(g)·Δ and g_prev ← g.
    """
    g = _check_step_args(w, dw, state).copy()
    lr = check_nonneg("lr", lr)
    eta_minus, eta_plus = _pair("etas", etas)
    if not 0.0 < eta_minus < 1.0 < eta_plus:
        raise ValueError(f"etas: expected (eta_minus, eta_plus) with 0 < eta_minus < 1 < eta_plus, got {etas!r}")
    lo, hi = _pair("step_sizes", step_sizes)
    if lo > hi:
        raise ValueError(f"step_sizes: expected (min, max) with min <= max, got {step_sizes!r}")
    if "prev" not in state:
        state["step"] = 0
        state["prev"] = np.zeros_like(w, dtype=np.float64)
        state["step_size"] = np.full(w.shape, lr, dtype=np.float64)  # Δ starts at lr
    state["step"] += 1
    prev, delta = state["prev"], state["step_size"]
    trend = g * prev
    factor = np.where(trend > 0, eta_plus, np.where(trend < 0, eta_minus, 1.0))
    delta *= factor  # grow while the sign holds, shrink where it flipped
    np.clip(delta, lo, hi, out=delta)
    g[trend < 0] = 0.0  # a flip: no step now, and no trend for the next step
    w -= np.sign(g) * delta
    prev[...] = g
    return w


def quickprop_step(w, dw, state, lr=0.01, max_growth=1.75):
    r"""QuickProp (Fahlman, 1988): a secant (Newton-like) step per weight.

    Each weight's error curve is taken to be a parabola through the last two slopes; the
    step jumps to its minimum.

    Parameters
    ----------
    w : ndarray — updated in place
    dw : ndarray, same shape — the gradient g; not modified
    state : dict — keeps ``prev_grad`` (g_prev) and ``prev_step`` (Δw_prev), both zero
        before the first step
    lr : float >= 0 — the rate of the gradient steps
    max_growth : float > 0 — μ, the maximum growth factor

    Returns
    -------
    w : the same array, updated

    Notes
    -----
    Per element, the rule taught here: the pure secant step, a simplification of Fahlman's
    rule (his also adds the gradient term −ε·g while the slope still points along the last
    step; notebook 08 §5 shows both):

    * Δw_prev = 0 (the first step, or the weight did not move): a gradient step
      Δw = −lr·g;
    * otherwise the secant step

      .. math:: \Delta w = \Delta w_{prev}\,\frac{g}{g_{prev} - g},

      clipped to [−μ|Δw_prev|, μ|Δw_prev|] (keeping its sign);
    * where g_prev = g (a flat secant: the parabola has no minimum) the step is the
      largest allowed, Δw = μ·Δw_prev, in the direction of the previous step; where also
      g = 0 the weight is at a stationary point and Δw = 0.

    Then w ← w + Δw, g_prev ← g and Δw_prev ← Δw. On a quadratic ½a(w − c)² the secant
    step lands on c exactly whenever the limit allows it.
    """
    g = _check_step_args(w, dw, state)
    lr = check_nonneg("lr", lr)
    mu = check_positive("max_growth", max_growth)
    prev_g = state.setdefault("prev_grad", np.zeros_like(w, dtype=np.float64))
    prev_step = state.setdefault("prev_step", np.zeros_like(w, dtype=np.float64))
    denom = prev_g - g
    limit = mu * np.abs(prev_step)
    with np.errstate(divide="ignore", invalid="ignore"):
        secant = np.where(denom != 0, prev_step * g / np.where(denom != 0, denom, 1.0), 0.0)
    secant = np.where((denom == 0) & (g != 0), mu * prev_step, secant)  # flat secant: largest step
    secant = np.clip(secant, -limit, limit)  # at most μ times the previous step
    step = np.where(prev_step == 0, -lr * g, secant)  # no previous step: gradient descent
    w += step
    prev_g[...] = g
    prev_step[...] = step
    return w


# --------------------------------------------------------------------------- curvature
def max_stable_lr(hessian):
    r"""The largest learning rate for which gradient descent converges on ½wᵀHw.

    Parameters
    ----------
    hessian : ndarray (D, D), symmetric positive semi-definite

    Returns
    -------
    float — 2/λ_max (``inf`` when H = 0: every rate is stable)

    Raises
    ------
    ValueError
        When H is not square, not symmetric, or has a negative eigenvalue (then no rate
        makes gradient descent converge from every start: along that direction it climbs
        away from the saddle). All three allow for round-off relative to s = max |H_ij|:
        symmetric means |H − Hᵀ| <= 1e-12·s entrywise, an eigenvalue is negative only below
        −1e-12·D·s (a computed λ_min of −3e-16 is a zero eigenvalue), and H counts as 0 when
        λ_max <= 1e-12·D·s.

    Notes
    -----
    Gradient descent w ← w − ηHw multiplies the component along an eigenvector of H with
    eigenvalue λ by (1 − ηλ) each step; it shrinks for every λ exactly when
    0 < η < 2/λ_max. The rate η = 1/λ_max reaches the minimum of the steepest direction in one step.
    """
    H = check_array("hessian", hessian, ndim=2).astype(np.float64)
    if H.shape[0] != H.shape[1] or H.shape[0] == 0:
        raise ValueError(f"hessian: expected a square (D, D) matrix, got shape {H.shape}")
    if not np.all(np.isfinite(H)):
        raise ValueError("hessian: expected finite entries")
    scale = float(np.max(np.abs(H)))
    if not np.allclose(H, H.T, rtol=0.0, atol=1e-12 * max(scale, 1e-300)):
        raise ValueError("hessian: expected a symmetric matrix (H == H.T)")
    lam = np.linalg.eigvalsh(0.5 * (H + H.T))
    tol = 1e-12 * max(scale, 1e-300) * H.shape[0]
    if lam[0] < -tol:
        raise ValueError(f"hessian: expected a positive semi-definite matrix, got the eigenvalue {lam[0]:.6g} < 0")
    if lam[-1] <= tol:
        return math.inf
    return float(2.0 / lam[-1])
