"""Overfitting explorer: a few noisy samples of a smooth function, a polynomial fit with
an L2 penalty, and the train / validation curves of gradient descent with the
early-stopping point (the minimum of the validation curve).

The update path is :func:`draw_overfitting` (a plain function of the control values);
the fits behind it come from :func:`fit_curves` (all gradient-descent iterates in closed
form, a few ms), cached per setting with what the figure shows of them.
"""
from __future__ import annotations


import contextlib

import numpy as np

try:  # comes with scikit-learn
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

from tnn_lib import student
from tnn_lib.widgets.state import widget_state
from numpy.polynomial import legendre

from tnn_lib.regularization import early_stopping_epoch, l2_penalty

NOISE = 0.25            # standard deviation of the label noise
N_VAL = 200             # validation points, drawn from the same distribution
STEPS = 2000            # full-batch gradient-descent steps ("epochs")
DEFAULTS = dict(lam=1e-4, degree=12, n_points=12)


def target(x):
    """The smooth function the samples come from: sin(πx) on [-1, 1]."""
    return np.sin(np.pi * x)


def sample_data(n_points: int, seed: int = 0):
    """`n_points` training and `N_VAL` validation samples of `target` plus noise.

    The first training points do not change when `n_points` grows (more data, same draw).
    """
    rng = np.random.default_rng(seed)
    x_all = rng.uniform(-1.0, 1.0, 200)
    noise = NOISE * rng.standard_normal(200)
    x_val = rng.uniform(-1.0, 1.0, N_VAL)
    y_val = target(x_val) + NOISE * rng.standard_normal(N_VAL)
    x = x_all[:n_points]
    return x, target(x) + noise[:n_points], x_val, y_val


def features(x, degree: int):
    """Legendre polynomials P_0 … P_degree at `x` (a well-conditioned polynomial basis)."""
    return legendre.legvander(np.asarray(x, dtype=float), int(degree))


@student.cached(maxsize=256)  # dropped when the student edition registers an answer
def fit_curves(lam: float, degree: int, n_points: int, seed: int = 0, steps: int = STEPS):
    """Fit by full-batch gradient descent on ½·mean squared error + ½λ‖w‖².

    Returns a dict with the final weights ``w``, the weights at the early-stopping point
    ``w_early``, the per-step ``train`` and ``val`` losses (½·MSE, without the penalty) and
    ``best`` (the step of minimum validation loss). Arrays are read-only (cached).

    The loss is quadratic, so the gradient-descent step ``w ← w − η(Hw − b)`` (with
    ``H = XᵀX/n + λI``, ``b = Xᵀy/n``, ``w₀ = 0``, ``η = 1/L``) is linear and all `steps`
    iterates come at once from the eigendecomposition ``H = V diag(s) Vᵀ``: in the
    eigenbasis, ``w_t = V diag((1 − (1 − ηs)ᵗ) / s) Vᵀ b``. These are the iterates of the
    step-by-step loop (to rounding; tests/test_widgets_regularization.py runs that loop) in
    a few ms instead of a Python loop of `steps` iterations, so a new setting is quick.
    """
    x, y, x_val, y_val = sample_data(n_points, seed)
    X, Xv = features(x, degree), features(x_val, degree)
    n, d = len(x), degree + 1
    # the penalty's gradient λw is linear in w: its Hessian is l2_penalty's gradient at w = I
    _, pen_hessian = l2_penalty({"w": np.eye(d)}, lam)
    H, b = X.T @ X / n + pen_hessian["w"], X.T @ y / n
    # step size 1/L, L the largest curvature of the penalised loss: stable, no tuning
    lr = 1.0 / (np.linalg.eigvalsh(X.T @ X / n).max() + lam)
    s, V = np.linalg.eigh(H)
    with _one_blas_thread():
        W, train, val = _iterates(X, y, Xv, y_val, lr, s, V, b, steps)
    best = int(np.argmin(val))
    out = dict(w=W[-1].copy(), w_early=W[best].copy(), train=train, val=val, best=best)
    for v in out.values():
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return out


def _iterates(X, y, Xv, y_val, lr, s, V, b, steps):
    """Weights after steps 1 … `steps` (rows) of gradient descent from 0, and their losses."""
    t = np.arange(1, steps + 1, dtype=float)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        contraction = np.log1p(-np.clip(lr * s, 0.0, 1.0))      # log(1 − ηs), −inf when ηs = 1
        gain = np.where(s > 0, -np.expm1(t * contraction) / np.where(s > 0, s, 1.0), lr * t)
    W = (gain * (V.T @ b)) @ V.T                                 # row t−1: the weights after step t
    train = 0.5 * np.mean((W @ X.T - y) ** 2, axis=1)
    val = 0.5 * np.mean((W @ Xv.T - y_val) ** 2, axis=1)
    return W, train, val


def _one_blas_thread():
    """One BLAS thread: for these small products several threads only compete for 2 busy cores."""
    if threadpool_limits is None:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


_GRID = np.linspace(-1.0, 1.0, 300)


def _plain_log_axis(axis):
    """Log axis with plain tick labels (1, 10, 100): mathtext labels are slow to render."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator  # slow import (see AUTHORING.md)

    axis.set_major_locator(LogLocator(base=10.0, numticks=6))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def _decades(lo: float, hi: float):
    """A log-axis range on whole decades around [lo, hi] (with a little room): the cached
    background (:mod:`tnn_lib.widgets._blit`) survives every change that stays in them."""
    return 10.0 ** np.floor(np.log10(lo) - 0.1), 10.0 ** np.ceil(np.log10(hi) + 0.1)


@student.cached(maxsize=256)  # dropped when the student edition registers an answer
def _plot_data(lam: float, degree: int, n_points: int):
    """What the figure shows for one setting (cached with the fit): samples, both fits on
    the plotting grid, the early-stopping step and the loss axis range. Read-only arrays."""
    r = fit_curves(lam, degree, n_points)
    x, y, _, _ = sample_data(n_points)
    G = features(_GRID, degree)
    best = early_stopping_epoch(r["val"], patience=len(r["val"]))
    lo = min(r["train"].min(), r["val"].min())
    hi = max(r["train"].max(), r["val"].max())
    out = dict(r=r, x=x, y=y, fit=G @ r["w"], fit_early=G @ r["w_early"], best=int(best),
               norm=float(np.linalg.norm(r["w"])), norm_early=float(np.linalg.norm(r["w_early"])),
               ylim=_decades(max(lo, 1e-6), hi))
    for v in out.values():
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return out


def _build(fig):
    """Axes and artists, created once per figure; later draws only move data.

    Blitting (:mod:`tnn_lib.widgets._blit`): axes, ticks, labels and the true function are
    rendered once per axis range; an update redraws the fits, the samples, the curves and
    the titles, with the legends composited on top.
    """
    from tnn_lib.widgets._blit import use_blitting  # slow import (see AUTHORING.md)

    fig.clear()
    fig.set_layout_engine(None)  # fixed margins: a layout engine would lay the text out at every draw
    ax_fit, ax_curve = fig.subplots(1, 2, gridspec_kw=dict(left=0.06, right=0.99, bottom=0.14, top=0.9,
                                                           wspace=0.2))
    a = dict(ax_fit=ax_fit, ax_curve=ax_curve)
    a["true"], = ax_fit.plot(_GRID, target(_GRID), ":", color="tab:blue", lw=1.5, label="true sin(πx)")
    a["fit"], = ax_fit.plot(_GRID, 0 * _GRID, color="tab:red", lw=1.8, label=f"after {STEPS} steps")
    a["fit_early"], = ax_fit.plot(_GRID, 0 * _GRID, "--", color="tab:green", lw=1.5, label="early-stopped")
    a["points"], = ax_fit.plot([], [], "o", color="k", ms=4, label="samples")
    ax_fit.set_xlim(-1.0, 1.0)
    ax_fit.set_ylim(-2.0, 2.0)
    ax_fit.set_xlabel("x")
    legend_fit = ax_fit.legend(loc="lower right", fontsize=8)

    steps = np.arange(1, STEPS + 1)
    a["train"], = ax_curve.plot(steps, np.ones(STEPS), color="tab:red", label="train")
    a["val"], = ax_curve.plot(steps, np.ones(STEPS), color="tab:purple", label="validation")
    a["stop_line"] = ax_curve.axvline(1, color="tab:green", ls="--", lw=1)
    a["stop"], = ax_curve.plot([1], [1], "o", color="tab:green", label="early stop (min. validation)")
    ax_curve.set_xscale("log")
    ax_curve.set_yscale("log")
    _plain_log_axis(ax_curve.xaxis)
    _plain_log_axis(ax_curve.yaxis)
    ax_curve.set_xlim(1, STEPS)
    ax_curve.set_ylim(*_decades(1e-2, 1.0))
    ax_curve.set_xlabel("gradient-descent step")
    ax_curve.set_ylabel("½ MSE (no penalty)")
    legend_curve = ax_curve.legend(fontsize=8, loc="lower left")
    for ax in (ax_fit, ax_curve):
        ax.set_title(" ", fontsize=9)
    a["legend"] = legend_fit
    # every control changes both titles: they are drawn with the curves (a few ms), so the
    # overlay (the legends) is rendered once
    use_blitting(fig, [a["fit"], a["fit_early"], a["points"], a["train"], a["val"], a["stop_line"], a["stop"],
                       ax_fit.title, ax_curve.title], overlay=[legend_fit, legend_curve])
    return a


def draw_overfitting(state, lam=DEFAULTS["lam"], degree=DEFAULTS["degree"], n_points=DEFAULTS["n_points"]):
    """Redraw `fig` for penalty λ = `lam`, polynomial `degree` and `n_points` samples.

    Returns the numbers plotted: final and early-stopped weights, their norms, the
    train / validation curves, the early-stopping step (the first minimum of the
    validation curve: :func:`early_stopping_epoch` with unlimited patience) and the losses.
    """
    lam, degree, n_points = float(lam), int(degree), int(n_points)
    p = _plot_data(lam, degree, n_points)
    r, best, norm, norm_early = p["r"], p["best"], p["norm"], p["norm_early"]
    state = widget_state(state)
    fig = state.fig
    a = state.ensure(_build)

    a["fit"].set_ydata(p["fit"])
    a["fit_early"].set_ydata(p["fit_early"])
    a["points"].set_data(p["x"], p["y"])
    a["ax_fit"].set_title(f"degree {degree}, λ = {lam:.0e}, n = {n_points}:  ‖w‖ = {norm:.2f} "
                          f"(early-stopped {norm_early:.2f})", fontsize=9)

    a["train"].set_ydata(r["train"])
    a["val"].set_ydata(r["val"])
    a["stop_line"].set_xdata([best + 1, best + 1])
    a["stop"].set_data([best + 1], [r["val"][best]])
    # whole decades: the cached background (ticks, labels) survives most changes
    a["ax_curve"].set_ylim(*p["ylim"])
    a["ax_curve"].set_title(f"train vs validation: early stop at step {best}", fontsize=9)

    out = dict(weights=np.array(r["w"]), weights_early=np.array(r["w_early"]),
               weight_norm=norm, weight_norm_early=norm_early,
               train_curve=np.array(r["train"]), val_curve=np.array(r["val"]), stop_step=int(best),
               train_loss=float(r["train"][-1]), val_loss=float(r["val"][-1]),
               val_loss_early=float(r["val"][best]))
    out["summary"] = (f"after {STEPS} steps: train {out['train_loss']:.4f}, validation {out['val_loss']:.4f}; "
                      f"early stopping at step {best}: validation {out['val_loss_early']:.4f}")
    return out


def overfitting_explorer(lam: float = DEFAULTS["lam"], degree: int = DEFAULTS["degree"],
                         n_points: int = DEFAULTS["n_points"]):
    """λ, polynomial degree and data-size sliders over a regression of sin(πx)."""
    import ipywidgets as widgets  # slow import (see AUTHORING.md)

    from tnn_lib.widgets.app import WidgetApp, new_figure  # slow import (see AUTHORING.md)

    controls = dict(
        lam=widgets.FloatLogSlider(value=lam, base=10, min=-6, max=0, step=0.05, description="λ (L2)",
                                   readout_format=".1e"),
        degree=widgets.IntSlider(value=degree, min=1, max=15, description="degree"),
        n_points=widgets.IntSlider(value=n_points, min=4, max=80, description="samples"),
    )
    return WidgetApp("Overfitting: weights, data and early stopping", controls, draw_overfitting,
                     new_figure(9.5, 3.6),
                     description="More weight (small λ), more degree, fewer samples: the fit follows the "
                                 "noise. The validation curve's minimum is the early-stopping point.")
