"""Overfitting explorer: a few noisy samples of a smooth function, a polynomial fit with
an L2 penalty, and the train / validation curves of gradient descent with the
early-stopping point (the minimum of the validation curve).

The update path is :func:`draw_overfitting` (a plain function of the control values);
the fits behind it come from :func:`fit_curves`, cached per setting.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
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


@lru_cache(maxsize=256)
def fit_curves(lam: float, degree: int, n_points: int, seed: int = 0, steps: int = STEPS):
    """Fit by full-batch gradient descent on ½·mean squared error + ½λ‖w‖².

    Returns a dict with the final weights ``w``, the weights at the early-stopping point
    ``w_early``, the per-step ``train`` and ``val`` losses (½·MSE, without the penalty) and
    ``best`` (the step of minimum validation loss). Arrays are read-only (cached).
    """
    x, y, x_val, y_val = sample_data(n_points, seed)
    X, Xv = features(x, degree), features(x_val, degree)
    n = len(x)
    # step size 1/L, L the largest curvature of the penalised loss: stable, no tuning
    lr = 1.0 / (np.linalg.eigvalsh(X.T @ X / n).max() + lam)
    w = np.zeros(degree + 1)
    train, val = np.empty(steps), np.empty(steps)
    best, best_val, w_early = 0, np.inf, w.copy()
    for t in range(steps):
        r = X @ w - y
        _, pen_grads = l2_penalty({"w": w}, lam)
        w = w - lr * (X.T @ r / n + pen_grads["w"])
        train[t] = 0.5 * np.mean((X @ w - y) ** 2)
        val[t] = 0.5 * np.mean((Xv @ w - y_val) ** 2)
        if val[t] < best_val:
            best, best_val, w_early = t, val[t], w.copy()
    out = dict(w=w, w_early=w_early, train=train, val=val, best=best)
    for v in out.values():
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return out


_GRID = np.linspace(-1.0, 1.0, 300)


def _plain_log_axis(axis):
    """Log axis with plain tick labels (1, 10, 100): mathtext labels are slow to render."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    axis.set_major_locator(LogLocator(base=10.0, numticks=6))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def _build(fig):
    """Axes and artists, created once per figure; later draws only move data."""
    fig.clear()
    fig.set_layout_engine("none")  # fixed margins: a constrained layout costs more than the drawing
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
    a["legend"] = ax_fit.legend(loc="lower right", fontsize=8)

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
    ax_curve.set_xlabel("gradient-descent step")
    ax_curve.set_ylabel("½ MSE (no penalty)")
    ax_curve.legend(fontsize=8, loc="lower left")
    fig._tnn_overfitting = a
    return a


def draw_overfitting(fig, lam=DEFAULTS["lam"], degree=DEFAULTS["degree"], n_points=DEFAULTS["n_points"]):
    """Redraw `fig` for penalty λ = `lam`, polynomial `degree` and `n_points` samples.

    Returns the numbers plotted: final and early-stopped weights, their norms, the
    train / validation curves, the early-stopping step (the first minimum of the
    validation curve: :func:`early_stopping_epoch` with unlimited patience) and the losses.
    """
    lam, degree, n_points = float(lam), int(degree), int(n_points)
    r = fit_curves(lam, degree, n_points)
    x, y, _, _ = sample_data(n_points)
    best = early_stopping_epoch(r["val"], patience=len(r["val"]))
    G = features(_GRID, degree)
    a = getattr(fig, "_tnn_overfitting", None) or _build(fig)
    norm, norm_early = float(np.linalg.norm(r["w"])), float(np.linalg.norm(r["w_early"]))

    a["fit"].set_ydata(G @ r["w"])
    a["fit_early"].set_ydata(G @ r["w_early"])
    a["points"].set_data(x, y)
    a["ax_fit"].set_title(f"degree {degree}, λ = {lam:.0e}, n = {n_points}:  ‖w‖ = {norm:.2f} "
                          f"(early-stopped {norm_early:.2f})", fontsize=9)

    a["train"].set_ydata(r["train"])
    a["val"].set_ydata(r["val"])
    a["stop_line"].set_xdata([best + 1, best + 1])
    a["stop"].set_data([best + 1], [r["val"][best]])
    lo = min(r["train"].min(), r["val"].min())
    hi = max(r["train"].max(), r["val"].max())
    a["ax_curve"].set_ylim(max(lo, 1e-6) / 1.5, hi * 1.5)
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
    import ipywidgets as widgets

    from tnn_lib.widgets.app import WidgetApp, new_figure

    controls = dict(
        lam=widgets.FloatLogSlider(value=lam, base=10, min=-6, max=0, step=0.25, description="λ (L2)",
                                   readout_format=".1e", continuous_update=False),
        degree=widgets.IntSlider(value=degree, min=1, max=15, description="degree", continuous_update=False),
        n_points=widgets.IntSlider(value=n_points, min=4, max=80, description="samples",
                                   continuous_update=False),
    )
    return WidgetApp("Overfitting: weights, data and early stopping", controls, draw_overfitting,
                     new_figure(9.5, 3.6),
                     description="More weight (small λ), more degree, fewer samples: the fit follows the "
                                 "noise. The validation curve's minimum is the early-stopping point.")
