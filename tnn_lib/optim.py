"""Optimizers, gradient clipping and learning-rate schedules (notebooks ``05``, ``06``, ``08``).

Notebook 08's names (cosine annealing, warm-up, ReduceLROnPlateau, Rprop, QuickProp,
``max_stable_lr``) live in :mod:`tnn_lib.schedules` and are re-exported here.

A functional step ``step(w, dw, state, ...)`` updates ``w`` in place, keeps its running
values in ``state`` (a dict the caller creates empty, one per parameter) and returns ``w``.
Formulas and defaults follow ``torch.optim``; the ``*_lecture`` / ``*_paper`` variants are
the lecture notes' and the papers' forms, for the notebook's side-by-side comparison.
State keys: ``v`` (momentum buffer or running mean square), ``G`` (Adagrad's sum of
squares), ``m`` (Adam's first moment), ``step`` (Adam's t, starting at 1). The arrays in
``state`` are created at the first step and updated in place after it. A step never
modifies ``dw`` (L2's ``g = dw + λw`` is a new array): the checks compare ``dw`` after every
step. The clipping functions, in contrast, update the arrays of ``grads`` in place.
"""

import numpy as np

from tnn_lib.schedules import (ReduceLROnPlateau, cosine_annealing, linear_warmup,  # noqa: F401
                               max_stable_lr, quickprop_step, rprop_step)
from tnn_lib._validate import check_int, check_nonneg, check_same_keys, check_same_shape

__all__ = ["sgd_step", "momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step",
           "adam_step", "adamw_step", "momentum_lecture_step", "nesterov_lookahead_step",
           "rmsprop_lecture_step", "adam_lecture_step", "adamw_paper_step", "adamw_convention_step",
           "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "clip_grad_value", "clip_grad_norm",
           "step_decay", "exponential_decay", "inverse_time_decay",
           # notebook 08, defined in tnn_lib.schedules
           "cosine_annealing", "linear_warmup", "ReduceLROnPlateau", "rprop_step", "quickprop_step",
           "max_stable_lr"]


# --------------------------------------------------------------------------- checks
def _unit(name, v):
    """A float in [0, 1): momentum, decay rates, betas."""
    f = check_nonneg(name, v)
    if f >= 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1), got {v!r}")
    return f


def _check(w, dw, state):
    # dtype.kind rather than np.issubdtype, and the shapes compared directly when both are
    # arrays: a widget runs six optimizers for hundreds of steps on 2-vectors per frame, where
    # these checks cost as much as the step
    if not isinstance(w, np.ndarray) or w.dtype.kind != "f":
        got = w.dtype if isinstance(w, np.ndarray) else type(w).__name__
        raise ValueError(f"w: expected a float numpy array (updated in place), got {got}")
    if not (isinstance(dw, np.ndarray) and dw.shape == w.shape):
        check_same_shape("w", w, "dw", dw)
    if not isinstance(state, dict):
        raise ValueError(f"state: expected a dict (empty before the first step), got {type(state).__name__}")
    return np.asarray(dw, dtype=np.float64)


def _buffer(state, key, w):
    """``state[key]``, a zero array like `w` the first time (``setdefault`` would build the
    zeros at every step)."""
    buf = state.get(key)
    if buf is None:
        buf = state[key] = np.zeros_like(w)
    return buf


# --------------------------------------------------------------------------- functional steps
def sgd_step(w, dw, state, lr):
    """Plain (minibatch) gradient descent ``w ← w − lr·g``; ``state`` is unused."""
    g = _check(w, dw, state)
    lr = check_nonneg("lr", lr)
    w -= lr * g  # step against the gradient
    return w


def momentum_step(w, dw, state, lr, momentum=0.9):
    """Heavy-ball momentum as ``torch.optim.SGD``: ``v ← μv + g``, ``w ← w − lr·v``.

    The notes write ΔW ← βΔW − η∇, W ← W + ΔW; that equals this only for a constant lr
    (ΔW = −lr·v); see :func:`momentum_lecture_step`.
    """
    g = _check(w, dw, state)
    lr, mu = check_nonneg("lr", lr), _unit("momentum", momentum)
    v = _buffer(state, "v", w)
    v *= mu
    v += g  # v = μ v + g (velocity: running sum of gradients)
    w -= lr * v  # step along the velocity
    return w


def nesterov_step(w, dw, state, lr, momentum=0.9):
    """Nesterov momentum as ``torch.optim.SGD(nesterov=True)``: ``v ← μv + g``, ``w ← w − lr·(g + μv)``.

    This is the lecture's look-ahead form ``v ← ρv − α∇f(x + ρv)``, ``x ← x + v`` after the
    change of variables ``x̃ = x + ρv`` (and v_lecture = −lr·v); see :func:`nesterov_lookahead_step`.
    """
    g = _check(w, dw, state)
    lr, mu = check_nonneg("lr", lr), _unit("momentum", momentum)
    v = _buffer(state, "v", w)
    v *= mu
    v += g  # v = μ v + g
    w -= lr * (g + mu * v)  # gradient plus the look-ahead part of the velocity
    return w


def adagrad_step(w, dw, state, lr=0.01, eps=1e-10):
    """Adagrad (Duchi et al., 2011) as ``torch.optim.Adagrad``: ``G ← G + g²``, ``w ← w − lr·g/(√G + ε)``."""
    g = _check(w, dw, state)
    lr, eps = check_nonneg("lr", lr), check_nonneg("eps", eps)
    G = _buffer(state, "G", w)
    G += g * g  # accumulate squared gradients
    w -= lr * g / (np.sqrt(G) + eps)  # per-coordinate scaled step
    return w


def _rmsprop(w, dw, state, lr, alpha, eps, eps_inside):
    g = _check(w, dw, state)
    lr, alpha, eps = check_nonneg("lr", lr), _unit("alpha", alpha), check_nonneg("eps", eps)
    v = _buffer(state, "v", w)
    v *= alpha
    v += (1.0 - alpha) * g * g  # running mean of squared gradients
    denom = np.sqrt(v + eps) if eps_inside else np.sqrt(v) + eps
    w -= lr * g / denom  # step scaled by the root mean square
    return w


def rmsprop_step(w, dw, state, lr=0.01, alpha=0.99, eps=1e-8):
    """RMSprop (Tieleman and Hinton, 2012) as ``torch.optim.RMSprop``.

    ``v ← αv + (1 − α)g²``, ``w ← w − lr·g/(√v + ε)``. The lecture notes put ε inside the
    root, ``√(v + ε)``; see :func:`rmsprop_lecture_step`.
    """
    return _rmsprop(w, dw, state, lr, alpha, eps, eps_inside=False)


def rmsprop_lecture_step(w, dw, state, lr=0.01, alpha=0.99, eps=1e-8):
    """The lecture notes' RMSprop, ε inside the root: ``w ← w − lr·g/√(v + ε)``."""
    return _rmsprop(w, dw, state, lr, alpha, eps, eps_inside=True)


def _adam(w, dw, state, lr, beta1, beta2, eps, weight_decay, decoupled, eps_inside, multiplier=None,
          bias_correction=True):
    g = _check(w, dw, state)
    lr, eps = check_nonneg("lr", lr), check_nonneg("eps", eps)
    beta1, beta2 = _unit("beta1", beta1), _unit("beta2", beta2)
    wd = check_nonneg("weight_decay", weight_decay)
    if decoupled:  # AdamW: decay the weights, not the gradient
        w *= 1.0 - (lr * wd if multiplier is None else multiplier * wd)
    elif wd:
        g = g + wd * w  # Adam + L2: the penalty's gradient joins g
    t = state["step"] = state.get("step", 0) + 1
    m = _buffer(state, "m", w)
    v = _buffer(state, "v", w)
    m *= beta1
    m += (1.0 - beta1) * g  # first moment estimate
    v *= beta2
    v += (1.0 - beta2) * g * g  # second moment estimate
    bc1, bc2 = (1.0 - beta1**t, 1.0 - beta2**t) if bias_correction else (1.0, 1.0)  # bias corrections
    if eps_inside:
        denom = np.sqrt(v / bc2 + eps)
    else:
        denom = np.sqrt(v) / np.sqrt(bc2) + eps
    step = lr / bc1 if multiplier is None else multiplier * lr / bc1
    w -= step * m / denom  # step along m̂ / (√v̂ + ε)
    return w


def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam (Kingma and Ba, 2015) as ``torch.optim.Adam``; ``weight_decay`` is L2 (added to g).

    ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``, ``m̂ = m/(1−β₁ᵗ)``, ``v̂ = v/(1−β₂ᵗ)``,
    ``w ← w − lr·m̂/(√v̂ + ε)``. The lecture notes put ε inside the root,
    ``√(v̂ + ε)``; see :func:`adam_lecture_step`.
    """
    return _adam(w, dw, state, lr, beta1, beta2, eps, weight_decay, False, False)


def adam_lecture_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """The lecture notes' Adam, ε inside the root: ``w ← w − lr·m̂/√(v̂ + ε)``."""
    return _adam(w, dw, state, lr, beta1, beta2, eps, 0.0, False, True)


def adamw_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    """AdamW as ``torch.optim.AdamW``: ``w ← w − lr·λ·w``, then the Adam update without L2.

    Loshchilov and Hutter (2019) scale λθ by the schedule multiplier η_t but not by the
    step size α; PyTorch scales it by lr. See :func:`adamw_paper_step`.
    """
    return _adam(w, dw, state, lr, beta1, beta2, eps, weight_decay, True, False)


def adamw_paper_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                     weight_decay=0.01, multiplier=1.0):
    """AdamW as Loshchilov and Hutter (2019): ``w ← w − η_t·(α·m̂/(√v̂ + ε) + λ·w)``.

    ``lr`` is α and ``multiplier`` the schedule multiplier η_t; with λ_paper = lr·λ_torch
    and η_t = 1 this equals :func:`adamw_step`.
    """
    multiplier = check_nonneg("multiplier", multiplier)
    return _adam(w, dw, state, lr, beta1, beta2, eps, weight_decay, True, False, multiplier)


ADAMW_DECAYS = ("lr", "schedule")


def adamw_convention_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01,
                          multiplier=1.0, eps_inside=False, bias_correction=True, decay="lr"):
    """AdamW with each convention where PyTorch, the lecture notes and the paper differ switchable.

    The step is ``α·η_t·m̂/(√v̂ + ε)`` with ``lr`` = α and ``multiplier`` = η_t (the schedule).
    ``eps_inside=True`` is the notes' ``√(v̂ + ε)``; ``bias_correction=False`` uses m and v
    for m̂ and v̂; ``decay="lr"`` decays ``w ← w − α·η_t·λ·w`` (PyTorch with a scheduled lr),
    ``decay="schedule"`` ``w ← w − η_t·λ·w`` (Loshchilov and Hutter 2019). With the
    defaults it is :func:`adamw_step` at ``lr = α·η_t``; with ``decay="schedule"``
    :func:`adamw_paper_step`.
    """
    if decay not in ADAMW_DECAYS:
        raise ValueError(f"decay: expected one of {ADAMW_DECAYS}, got {decay!r}")
    multiplier = check_nonneg("multiplier", multiplier)
    if decay == "lr":
        return _adam(w, dw, state, check_nonneg("lr", lr) * multiplier, beta1, beta2, eps, weight_decay, True,
                     bool(eps_inside), None, bool(bias_correction))
    return _adam(w, dw, state, lr, beta1, beta2, eps, weight_decay, True, bool(eps_inside), multiplier,
                 bool(bias_correction))


def momentum_lecture_step(w, dw, state, lr, momentum=0.9):
    """The lecture notes' momentum: ``ΔW ← βΔW − η∇``, ``W ← W + ΔW`` (state key ``delta``).

    Same trajectory as :func:`momentum_step` while lr is constant; when lr changes, the
    old steps in ΔW keep their old lr, whereas PyTorch rescales the whole velocity.
    """
    g = _check(w, dw, state)
    lr, beta = check_nonneg("lr", lr), _unit("momentum", momentum)
    delta = _buffer(state, "delta", w)
    delta *= beta
    delta -= lr * g  # ΔW = β ΔW − η ∇
    w += delta  # W = W + ΔW
    return w


def nesterov_lookahead_step(w, grad_fn, state, lr, momentum=0.9):
    """The lecture's Nesterov form: ``v ← ρv − α∇f(x + ρv)``, ``x ← x + v`` (state key ``v``).

    ``grad_fn(x)`` returns ∇f at the look-ahead point, because this form needs the
    gradient somewhere other than at ``w``. With ``x̃ = x + ρv`` it is :func:`nesterov_step`.
    """
    if not callable(grad_fn):
        raise ValueError(f"grad_fn: expected a callable x -> gradient, got {type(grad_fn).__name__}")
    _check(w, np.empty_like(w), state)
    lr, rho = check_nonneg("lr", lr), _unit("momentum", momentum)
    v = _buffer(state, "v", w)
    g = np.asarray(grad_fn(w + rho * v), dtype=np.float64)  # gradient at the look-ahead point
    check_same_shape("w", w, "grad_fn(w + momentum * v)", g)
    v *= rho
    v -= lr * g  # v = ρ v − α ∇f(x + ρ v)
    w += v  # x = x + v
    return w


# --------------------------------------------------------------------------- classes
class _Optimizer:
    """Common part: a validated ``lr`` and one state dict per parameter name."""

    def __init__(self, lr, weight_decay):
        self.lr = lr
        self.weight_decay = check_nonneg("weight_decay", weight_decay)
        self.state = {}

    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = check_nonneg("lr", value)

    def step(self, params, grads):
        """Update every array of the dict ``params`` in place from the dict ``grads`` (same keys)."""
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise ValueError("params, grads: expected two dicts of arrays with the same keys, "
                             f"got {type(params).__name__} and {type(grads).__name__}")
        check_same_keys("params", params, "grads", grads)
        for key, w in params.items():
            self._update(w, grads[key], self.state.setdefault(key, {}))

    def _l2(self, w, dw):
        return dw + self.weight_decay * w if self.weight_decay else dw


class SGD(_Optimizer):
    """``torch.optim.SGD``: weight decay added to the gradient, then plain, momentum or Nesterov step."""

    def __init__(self, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = _unit("momentum", momentum)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov: Nesterov momentum requires momentum > 0, got momentum=0")
        self.nesterov = bool(nesterov)

    def _update(self, w, dw, state):
        g = self._l2(w, dw)
        if self.momentum == 0:
            sgd_step(w, g, state, self.lr)
        elif self.nesterov:
            nesterov_step(w, g, state, self.lr, self.momentum)
        else:
            momentum_step(w, g, state, self.lr, self.momentum)


class Adagrad(_Optimizer):
    """``torch.optim.Adagrad`` (no lr decay, zero initial accumulator) built on :func:`adagrad_step`."""

    def __init__(self, lr=0.01, eps=1e-10, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.eps = check_nonneg("eps", eps)

    def _update(self, w, dw, state):
        adagrad_step(w, self._l2(w, dw), state, self.lr, self.eps)


class RMSprop(_Optimizer):
    """``torch.optim.RMSprop`` (not centered, no momentum) built on :func:`rmsprop_step`."""

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.alpha, self.eps = _unit("alpha", alpha), check_nonneg("eps", eps)

    def _update(self, w, dw, state):
        rmsprop_step(w, self._l2(w, dw), state, self.lr, self.alpha, self.eps)


class Adam(_Optimizer):
    """``torch.optim.Adam`` built on :func:`adam_step` (``weight_decay`` is L2)."""

    _fn = staticmethod(adam_step)

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        if np.ndim(betas) != 1 or len(betas) != 2:
            raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        self.betas = (_unit("betas[0]", betas[0]), _unit("betas[1]", betas[1]))
        self.eps = check_nonneg("eps", eps)

    def _update(self, w, dw, state):
        self._fn(w, dw, state, self.lr, *self.betas, self.eps, self.weight_decay)


class AdamW(Adam):
    """``torch.optim.AdamW`` built on :func:`adamw_step` (decoupled decay ``w ← w − lr·λ·w``)."""

    _fn = staticmethod(adamw_step)

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(lr, betas, eps, weight_decay)


# --------------------------------------------------------------------------- clipping
def _check_grads(grads):
    if not isinstance(grads, dict):
        raise ValueError(f"grads: expected a dict of arrays, got {type(grads).__name__}")
    for key, g in grads.items():
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            raise ValueError(f"grads[{key!r}]: expected a float numpy array (clipped in place)")


def clip_grad_value(grads, clip_value):
    """Clip every entry of every array to [−clip_value, clip_value], in place.

    As ``torch.nn.utils.clip_grad_value_``; the lecture notes' typical θ is 5.
    """
    _check_grads(grads)
    clip_value = check_nonneg("clip_value", clip_value)
    for g in grads.values():
        np.clip(g, -clip_value, clip_value, out=g)


def clip_grad_norm(grads, max_norm):
    """Rescale all arrays together so their global L2 norm is at most ``max_norm``, in place.

    As ``torch.nn.utils.clip_grad_norm_``: ``total = √(Σ‖g‖²)`` over all arrays,
    ``g ← g·min(1, max_norm/(total + 1e-6))``. Returns ``total`` (before clipping).
    """
    _check_grads(grads)
    max_norm = check_nonneg("max_norm", max_norm)
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    coef = min(1.0, max_norm / (total + 1e-6))
    for g in grads.values():
        g *= coef
    return total


# --------------------------------------------------------------------------- schedules
def step_decay(lr0, epoch, drop=0.5, every=10):
    """``lr0 · drop^floor(epoch / every)``: multiply by ``drop`` every ``every`` epochs."""
    lr0, epoch = check_nonneg("lr0", lr0), check_int("epoch", epoch, minimum=0)
    drop, every = check_nonneg("drop", drop), check_int("every", every, minimum=1)
    return lr0 * drop ** (epoch // every)


def exponential_decay(lr0, t, k):
    """``lr0 · exp(−k·t)``."""
    lr0, t, k = check_nonneg("lr0", lr0), check_nonneg("t", t), check_nonneg("k", k)
    return float(lr0 * np.exp(-k * t))


def inverse_time_decay(lr0, t, k):
    """``lr0 / (1 + k·t)``."""
    lr0, t, k = check_nonneg("lr0", lr0), check_nonneg("t", t), check_nonneg("k", k)
    return lr0 / (1.0 + k * t)
