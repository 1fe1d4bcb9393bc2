"""Covariate shift: minibatches drawn from shifted distributions, before and after batch norm.

Each of K minibatches of B instances of two neurons' pre-activations ``z`` comes from its
own distribution: a centre moved by ``shift`` in a batch-specific direction and a
batch-specific spread. Left: the raw minibatches (the covariate shift between them).
Right: the same minibatches after batch norm with scale ``gamma`` and shift ``beta`` —
with the batch's own statistics (training), every batch lands on mean β and standard
deviation γ; with the population statistics (inference, the lecture notes' mean of batch
means and B/(B−1) × mean of batch variances) the batches keep their relative shifts.

The update path is :func:`draw_covariate_shift` (a plain function of the control values).
"""
from __future__ import annotations

import numpy as np

from tnn_lib.widgets.state import widget_state

from tnn_lib.batchnorm import batchnorm_forward, population_statistics
from tnn_lib.widgets._blit import use_blitting

K, B = 4, 64          # minibatches, instances per minibatch
EPS = 1e-5
LIM = 8.0             # axis half-width
MODES = ("training: batch statistics", "inference: population statistics")
DEFAULTS = dict(shift=3.0, gamma=1.0, beta=0.0, mode=MODES[0])
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")


def _draws(seed: int = 0):
    """Fixed standard-normal draws, directions and spreads of the K minibatches."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((K, B, 2))
    angles = np.pi / 4 + 2 * np.pi * np.arange(K) / K
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)     # (K, 2), unit length
    spreads = np.array([[0.6, 1.0], [1.2, 0.5], [0.8, 0.8], [1.5, 1.1]])  # per batch and neuron
    return noise, directions, spreads


_NOISE, _DIRS, _SPREADS = _draws()


def minibatches(shift: float):
    """The K raw minibatches, shape (K, B, 2): batch k is centred at shift·direction_k."""
    return shift * _DIRS[:, None, :] + _SPREADS[:, None, :] * _NOISE


def normalise(z, gamma: float, beta: float, mode: str):
    """Batch norm of every minibatch in ``z`` (K, B, 2), with its own statistics
    (training) or with the population statistics of all K batches (inference)."""
    g, b = np.full(2, float(gamma)), np.full(2, float(beta))
    if mode == MODES[0]:
        return np.stack([batchnorm_forward(zk, g, b, EPS)[0] for zk in z])
    if mode != MODES[1]:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    mean, var = population_statistics(z.mean(axis=1), z.var(axis=1), B)
    return g * (z - mean) / np.sqrt(var + EPS) + b


def _setup(fig):
    """Create the axes and artists once; later updates only move them."""
    ax_raw, ax_bn = fig.subplots(1, 2)
    artists = {"raw": [], "bn": [], "raw_mu": [], "bn_mu": []}
    for ax, key, title in ((ax_raw, "raw", "before BN: each minibatch elsewhere"),
                           (ax_bn, "bn", "after BN")):
        for k in range(K):
            # markers of a line, not a scatter collection: the same dots (area 7 pt², edge 1.5 pt),
            # without the collection's per-draw extent of its marker path (≈ 3 ms each, 8 of them)
            artists[key].append(ax.plot(np.zeros(B), np.zeros(B), "o", ls="none", ms=7 ** 0.5, mew=1.5,
                                        color=COLORS[k], alpha=0.55, label=f"minibatch {k + 1}")[0])
            artists[key + "_mu"].append(ax.plot([0], [0], marker="X", ms=10, color=COLORS[k], mec="k")[0])
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.set_xlim(-LIM, LIM)
        ax.set_ylim(-LIM, LIM)
        ax.set_aspect("equal")
        ax.set_xlabel("neuron 1: $z_1$")
        ax.set_title(title, fontsize=10)
    ax_raw.set_ylabel("neuron 2: $z_2$")
    legend = ax_raw.legend(fontsize=7, loc="lower left", markerscale=1.5)
    artists["box"] = ax_bn.add_patch(_rect())
    artists["ax_bn"] = ax_bn
    dynamic = [a for key in ("raw", "bn", "raw_mu", "bn_mu") for a in artists[key]]
    use_blitting(fig, dynamic + [artists["box"], ax_bn.title], overlay=[legend])
    return artists


def _rect():
    from matplotlib.patches import Rectangle  # slow import (see AUTHORING.md)
    return Rectangle((0, 0), 1, 1, fill=False, ls="--", lw=1.2, color="k")


def draw_covariate_shift(state, shift=DEFAULTS["shift"], gamma=DEFAULTS["gamma"], beta=DEFAULTS["beta"],
                         mode=DEFAULTS["mode"]):
    """Redraw `fig` for a between-batch ``shift``, BN's ``gamma`` and ``beta``, and ``mode``
    (one of :data:`MODES`).

    Returns the numbers plotted: the per-batch means and standard deviations of the raw
    minibatches and of their normalised versions (arrays (K, 2)), and a one-line summary.
    """
    shift, gamma, beta = float(shift), float(gamma), float(beta)
    state = widget_state(state)
    fig = state.fig
    art = state.ensure(_setup)
    z = minibatches(shift)
    u = normalise(z, gamma, beta, mode)
    for k in range(K):
        art["raw"][k].set_data(z[k, :, 0], z[k, :, 1])
        art["bn"][k].set_data(u[k, :, 0], u[k, :, 1])
        art["raw_mu"][k].set_data([z[k, :, 0].mean()], [z[k, :, 1].mean()])
        art["bn_mu"][k].set_data([u[k, :, 0].mean()], [u[k, :, 1].mean()])
    # the target of training-mode BN: mean β, standard deviation γ (a ±γ box around β)
    art["box"].set_bounds(beta - gamma, beta - gamma, 2 * gamma, 2 * gamma)
    art["ax_bn"].set_title(f"after BN ({mode.split(':')[0]}), γ = {gamma:.2f}, β = {beta:.2f}", fontsize=10)
    out = dict(raw_means=z.mean(axis=1), raw_stds=z.std(axis=1),
               bn_means=u.mean(axis=1), bn_stds=u.std(axis=1))
    spread_raw = float(np.ptp(out["raw_means"], axis=0).max())
    spread_bn = float(np.ptp(out["bn_means"], axis=0).max())
    out["summary"] = (f"spread of the minibatch means: {spread_raw:.2f} before BN, {spread_bn:.2f} after BN "
                      f"({mode}); dashed box: β ± γ")
    return out


def covariate_shift(shift: float = DEFAULTS["shift"], gamma: float = DEFAULTS["gamma"],
                    beta: float = DEFAULTS["beta"], mode: str = DEFAULTS["mode"]):
    """Shift, γ and β sliders and a training/inference toggle over K shifted minibatches."""
    import ipywidgets as widgets  # slow import (see AUTHORING.md)

    from tnn_lib.widgets.app import WidgetApp, new_figure  # slow import (see AUTHORING.md)

    controls = dict(
        shift=widgets.FloatSlider(value=shift, min=0.0, max=5.0, step=0.05, description="shift between batches"),
        gamma=widgets.FloatSlider(value=gamma, min=0.2, max=3.0, step=0.01, description="γ"),
        beta=widgets.FloatSlider(value=beta, min=-3.0, max=3.0, step=0.05, description="β"),
        mode=widgets.ToggleButtons(options=list(MODES), value=mode, description="statistics"),
    )
    return WidgetApp("Covariate shift and batch norm", controls, draw_covariate_shift, new_figure(9.0, 4.2),
                     description="Each minibatch comes from its own distribution. Batch norm moves every "
                                 "minibatch to mean 0 and unit variance, then to the learned location β and "
                                 "scale γ. At inference the statistics are fixed: the shifts come back.")
