"""Dropout scaling: what a unit after a dropout layer sees in training and at test.

A fixed input gives H hidden activations ``h`` (ReLU outputs); the next unit computes
``a = w · dropout(h)``. Left: the distribution of ``a`` over many training masks (keep
probability α), the mean of that distribution, and the single deterministic test-time
value under the chosen convention — inverted dropout (÷α in training, PyTorch), the
lecture notes' form (W_test = αW), no scaling at all (a bug), or the "forgot eval mode"
pitfall (test time draws a mask, so the prediction is random). Right: Monte-Carlo
averages of ``a`` and of σ(a) over 1 … n samples converging to the scaled single pass
(exactly for the linear ``a``, approximately for σ(a): E[σ(a)] ≠ σ(E[a])).

The update path is :func:`draw_dropout_scaling` (a plain function of the control values).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from tnn_lib.widgets.state import widget_state

from tnn_lib.dropout import dropout_forward, scale_weights_for_test
from tnn_lib.widgets._blit import use_blitting

H = 100                # units in the dropout layer
DRAWS = 2000           # training masks behind the histogram
MAX_SAMPLES = 500      # Monte-Carlo samples (slider maximum)
CONVENTIONS = ("inverted (PyTorch)", "lecture notes: W_test = αW", "no scaling (bug)", "forgot eval mode (bug)")
DEFAULTS = dict(keep_prob=0.5, n_samples=100, convention=CONVENTIONS[0])
BINS = np.linspace(-6.0, 10.0, 65)


@lru_cache(maxsize=1)
def _fixed(seed: int = 0):
    """The hidden activations h (H,), the next unit's weights w (H,), and uniform draws
    from which every mask is made (mask = U < α, so masks change smoothly with α)."""
    rng = np.random.default_rng(seed)
    h = np.maximum(0.0, rng.normal(0.3, 1.0, H))
    w = rng.normal(0.0, 1.0, H) / np.sqrt(H) + 0.04
    w *= 2.0 / (h @ w)                     # the full network's output is a = 2
    uniforms = rng.random((DRAWS + MAX_SAMPLES + 1, H))
    for arr in (h, w, uniforms):
        arr.setflags(write=False)
    return h, w, uniforms


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def unit_outputs(keep_prob: float, convention: str):
    """Training-mode outputs ``a`` for all masks (array) and the test-time value (float)."""
    if convention not in CONVENTIONS:
        raise ValueError(f"convention: expected one of {CONVENTIONS}, got {convention!r}")
    # inverted dropout (also when test time was left in training mode by mistake), or x·mask
    inverted = convention in (CONVENTIONS[0], CONVENTIONS[3])
    _H, _W, _U = _fixed()
    masks = _U < keep_prob
    hidden, _ = dropout_forward(np.broadcast_to(_H, masks.shape), keep_prob, mask=masks, train=True,
                                inverted=inverted)
    a = hidden @ _W
    if convention == CONVENTIONS[0]:
        test = float(_H @ _W)                                   # weights unchanged at test
    elif convention == CONVENTIONS[1]:
        test = float(_H @ scale_weights_for_test(_W, keep_prob))  # W_test = αW
    elif convention == CONVENTIONS[2]:
        test = float(_H @ _W)                                   # trained with x·mask, tested unscaled
    else:
        test = float(a[-1])                                     # one random training-mode pass
    return a[:-1], test


def _setup(fig):
    ax_hist, ax_mc = fig.subplots(1, 2)
    art = {}
    art["hist"] = ax_hist.stairs(np.zeros(len(BINS) - 1), BINS, fill=True, alpha=0.5, color="tab:blue",
                                 label=f"training: a over {DRAWS} masks")
    art["train_mean"] = ax_hist.axvline(0, color="tab:blue", lw=2, label="training mean E[a]")
    art["test"] = ax_hist.axvline(0, color="tab:red", lw=2, ls="--", label="test-time a")
    ax_hist.set_xlim(BINS[0], BINS[-1])
    ax_hist.set_xlabel("a = w · dropout(h)")
    ax_hist.set_ylabel("frequency (peak = 1)")
    ax_hist.set_ylim(0, 1.12)
    art["legends"] = [ax_hist.legend(fontsize=7, loc="upper right")]
    art["ax_hist"] = ax_hist
    n = np.arange(1, MAX_SAMPLES + 1)
    art["mc_a"], = ax_mc.plot(n, np.zeros_like(n, dtype=float), color="tab:blue", label="MC mean of a")
    art["mc_s"], = ax_mc.plot(n, np.zeros_like(n, dtype=float), color="tab:green", label="MC mean of σ(a)")
    art["ref_a"] = ax_mc.axhline(0, color="tab:blue", ls=":", lw=1.5, label="scaled single pass: a")
    art["ref_s"] = ax_mc.axhline(0, color="tab:green", ls=":", lw=1.5, label="σ(scaled single pass)")
    ax_mc.set_xscale("log")
    ax_mc.set_xlim(1, MAX_SAMPLES)
    ax_mc.set_xlabel("Monte-Carlo samples")
    ax_mc.set_ylim(-0.5, 4.5)
    art["legends"].append(ax_mc.legend(fontsize=7, loc="upper right"))
    art["ax_mc"] = ax_mc
    use_blitting(fig, [art[k] for k in ("hist", "train_mean", "test", "mc_a", "mc_s", "ref_a", "ref_s")]
                 + [ax_hist.title, ax_mc.title], overlay=art["legends"])   # legends above the moving parts
    return art


def draw_dropout_scaling(state, keep_prob=DEFAULTS["keep_prob"], n_samples=DEFAULTS["n_samples"],
                         convention=DEFAULTS["convention"]):
    """Redraw `fig` for keep probability ``keep_prob`` (α), ``n_samples`` Monte-Carlo samples
    and a scaling ``convention`` (one of :data:`CONVENTIONS`).

    Returns the numbers plotted: the training-mode mean of ``a`` over the masks, its
    expectation α·(w·h) (or w·h, inverted), the test-time value, the scaled single pass,
    the Monte-Carlo running means of ``a`` and σ(a), and a one-line summary.
    """
    keep_prob, n_samples = float(keep_prob), int(n_samples)
    if not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"keep_prob: expected a number in (0, 1], got {keep_prob!r}")
    state = widget_state(state)
    fig = state.fig
    art = state.ensure(_setup)
    a, test = unit_outputs(keep_prob, convention)
    _H, _W, _ = _fixed()
    full = float(_H @ _W)
    expected = full if convention in (CONVENTIONS[0], CONVENTIONS[3]) else keep_prob * full
    counts, _ = np.histogram(a, BINS)
    art["hist"].set_data(counts / counts.max())      # peak = 1: fixed axes, no re-rendering of the frame
    art["train_mean"].set_xdata([a.mean()] * 2)
    art["test"].set_xdata([test] * 2)
    gap = test - a.mean()
    art["ax_hist"].set_title(f"α = {keep_prob:.2f}: {convention}; test − train mean = {gap:+.2f}", fontsize=9)

    # Monte Carlo over the first n_samples masks, against the expected network (one pass)
    samples = a[:n_samples]
    steps = np.arange(1, n_samples + 1)
    mc_a = np.cumsum(samples) / steps
    mc_s = np.cumsum(_sigmoid(samples)) / steps
    art["mc_a"].set_data(steps, mc_a)
    art["mc_s"].set_data(steps, mc_s)
    art["ref_a"].set_ydata([expected] * 2)
    art["ref_s"].set_ydata([_sigmoid(expected)] * 2)
    art["ax_mc"].set_title(f"Monte-Carlo average of {n_samples} training passes", fontsize=9)
    out = dict(train_mean=float(a.mean()), expected_train_mean=expected, test_value=test,
               scaled_pass=expected, mc_mean_a=mc_a, mc_mean_sigmoid=mc_s, train_std=float(a.std()))
    out["summary"] = (f"training mean of a {out['train_mean']:.3f} (expected {expected:.3f}); test-time a "
                      f"{test:.3f}; MC mean of {n_samples}: {mc_a[-1]:.3f}")
    return out


def dropout_scaling(keep_prob: float = DEFAULTS["keep_prob"], n_samples: int = DEFAULTS["n_samples"],
                    convention: str = DEFAULTS["convention"]):
    """Keep-probability and sample-count sliders and a scaling-convention dropdown."""
    import ipywidgets as widgets  # slow import (see AUTHORING.md)

    from tnn_lib.widgets.app import WidgetApp, new_figure  # slow import (see AUTHORING.md)

    controls = dict(
        keep_prob=widgets.FloatSlider(value=keep_prob, min=0.05, max=1.0, step=0.01,
                                      description="keep probability α"),
        n_samples=widgets.IntSlider(value=n_samples, min=1, max=MAX_SAMPLES, description="MC samples"),
        convention=widgets.Dropdown(options=list(CONVENTIONS), value=convention, description="convention"),
    )
    return WidgetApp("Dropout: scaling in training vs test", controls, draw_dropout_scaling,
                     new_figure(10.0, 3.8),
                     description="The test-time value must sit at the mean of the training distribution. "
                                 "Monte-Carlo averages of training passes converge to one scaled pass.")
