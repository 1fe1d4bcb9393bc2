"""Activation explorer: an activation function and its derivative, the region where it
saturates, and how many units of a layer die or saturate as the bias initialisation moves.

The layer: ``N_UNITS`` units, each with weights drawn from N(0, weight_scale²/D) over
``N_INPUTS`` unit-Gaussian inputs of dimension ``D`` (the lecture's "data cloud"), all
with the same initial bias ``b``. Its pre-activations are ``z = x·w + b``, distributed
as N(b, weight_scale²). A ReLU unit is **dead** when ``z ≤ 0`` for every input: it never
activates, so no gradient ever reaches its weights (the lecture notes: "dead ReLU will
never activate → never update"). A (unit, input) pair is **saturated** when the
derivative there is below ``SAT_FRACTION`` of its largest value.

The update path is :func:`draw_activation`, a plain function of the control values;
everything that does not depend on them is computed once in :func:`layer_data`.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from tnn_lib.widgets.state import widget_state

from tnn_lib import layers

ACTIVATIONS = ("relu", "leaky_relu", "elu", "sigmoid", "tanh")
N_INPUTS, D, N_UNITS = 1000, 10, 200
SAT_FRACTION = 0.005          # saturated where φ'(z) < 0.5 % of max φ' (leaky ReLU's 0.01 is not)
BIAS_RANGE = (-5.0, 2.0)
Z_GRID = np.linspace(-8.0, 8.0, 401)
B_GRID = np.linspace(*BIAS_RANGE, 141)
DEFAULTS = dict(activation="relu", bias_init=0.0, weight_scale=1.0, show_derivative=True)


def activation_and_derivative(name: str, z):
    """φ(z) and φ'(z) from the reference forward/backward pair of `tnn_lib.layers`."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {ACTIVATIONS}, got {name!r}")
    fwd = getattr(layers, f"{name}_forward")
    bwd = getattr(layers, f"{name}_backward")
    out, cache = fwd(np.asarray(z, dtype=float))
    return out, bwd(np.ones_like(out), cache)


def max_derivative(name: str) -> float:
    return {"sigmoid": 0.25}.get(name, 1.0)


@lru_cache(maxsize=1)
def layer_data(seed: int = 0):
    """The unit pre-activations without bias at weight_scale 1, ``z0 = x·w`` (N_INPUTS, N_UNITS),
    each unit's largest ``z0`` over the inputs, and all of ``z0`` sorted (for fractions)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N_INPUTS, D))
    W = rng.standard_normal((D, N_UNITS)) / np.sqrt(D)
    z0 = x @ W
    z0.setflags(write=False)
    unit_max = np.sort(z0.max(axis=0))
    return z0, unit_max, np.sort(z0.ravel())


def dead_fraction(bias, weight_scale=1.0):
    """Fraction of units with z = weight_scale·z0 + bias ≤ 0 on every input (vectorised over bias)."""
    _, unit_max, _ = layer_data()
    b = np.asarray(bias, dtype=float)
    # unit dead  <=>  s·max_n z0 + b <= 0  <=>  max_n z0 <= −b/s
    return np.searchsorted(unit_max, -b / weight_scale, side="right") / unit_max.size


def _saturation_interval(name: str):
    """The z where φ' < SAT_FRACTION·max φ' is z < lo or z > hi (None: no such side)."""
    thr = SAT_FRACTION * max_derivative(name)
    if name == "relu":
        return 0.0, None                       # φ' = 0 for z ≤ 0 (the kink counts as 0)
    if name == "leaky_relu":
        return None, None                      # slope 0.01 everywhere on the left
    if name == "elu":
        return float(np.log(thr)), None        # α e^z < thr  (α = 1)
    if name == "sigmoid":                      # σ(1−σ) < thr  <=>  |z| > c
        s = 0.5 * (1 - np.sqrt(1 - 4 * thr))
        c = float(np.log((1 - s) / s))
        return -c, c
    # tanh: 1 − tanh² < thr  <=>  |z| > artanh(sqrt(1 − thr))
    c = float(np.arctanh(np.sqrt(1 - thr)))
    return -c, c


def saturated_fraction(name: str, bias, weight_scale=1.0):
    """Fraction of (unit, input) pairs with φ'(z) < SAT_FRACTION·max φ' (vectorised over bias)."""
    _, _, zs = layer_data()
    b = np.asarray(bias, dtype=float)
    lo, hi = _saturation_interval(name)
    frac = np.zeros_like(b)
    if lo is not None:                         # s·z0 + b < lo  (relu: <= 0)
        side = "right" if name == "relu" else "left"
        frac = frac + np.searchsorted(zs, (lo - b) / weight_scale, side=side) / zs.size
    if hi is not None:                         # s·z0 + b > hi
        frac = frac + (zs.size - np.searchsorted(zs, (hi - b) / weight_scale, side="right")) / zs.size
    return frac


@lru_cache(maxsize=256)
def _hist_counts(bias: float, weight_scale: float):
    """Histogram (80 bins on [-8, 8]) of the first 50 units' pre-activations s·z0 + b."""
    z0, _, _ = layer_data()
    counts, _ = np.histogram(weight_scale * z0[:, :50] + bias, bins=80, range=(-8, 8))
    counts.setflags(write=False)
    return counts


def _build(fig):
    """Axes and artists, created once per figure; later draws only move data.

    The figure gets a blitting canvas (:mod:`tnn_lib.widgets._blit`): axes, ticks and labels
    are rendered once; every update redraws only the curves, the shading and the titles,
    with the legends composited on top.
    """
    from tnn_lib.widgets._blit import use_blitting  # slow import (see AUTHORING.md)

    fig.clear()
    fig.set_layout_engine(None)  # fixed margins: a layout engine would lay the text out at every draw
    ax_f, ax_d = fig.subplots(1, 2, gridspec_kw=dict(left=0.06, right=0.98, bottom=0.14, top=0.9, wspace=0.25))
    a = dict(ax_f=ax_f, ax_d=ax_d)
    # the layer's pre-activations as a grey histogram under the curves (no twin axes: cheaper)
    a["hist"] = ax_f.stairs(np.full(80, -1.5), np.linspace(-8, 8, 81), baseline=-1.5, fill=True,
                            color="0.85", zorder=0)
    # the saturated regions: at most one span on each side, moved and hidden as needed
    a["sat"] = [ax_f.axvspan(-8.0, 0.0, color="tab:orange", alpha=0.18, lw=0) for _ in range(2)]
    a["axlines"] = [ax_f.axhline(0, color="0.5", lw=0.6), ax_f.axvline(0, color="0.5", lw=0.6)]
    a["phi"], = ax_f.plot(Z_GRID, Z_GRID, color="tab:blue", lw=2, label="φ(z)")
    a["dphi"], = ax_f.plot(Z_GRID, Z_GRID, "--", color="tab:red", lw=1.8, label="φ'(z)")
    ax_f.set_xlim(-8, 8)
    ax_f.set_ylim(-1.5, 3.0)
    ax_f.set_xticks([-8, -4, 0, 4, 8])          # few tick labels: text is most of the PNG's cost
    ax_f.set_yticks([-1, 0, 1, 2, 3])
    ax_f.set_xlabel("pre-activation z")
    leg_f = ax_f.legend(loc="upper left", fontsize=8)

    a["dead_curve"], = ax_d.plot(B_GRID, B_GRID, color="k", lw=2, label="dead units (ReLU: z ≤ 0 on all inputs)")
    a["sat_curve"], = ax_d.plot(B_GRID, B_GRID, color="tab:orange", lw=1.8, label="saturated (unit, input) pairs")
    a["dead_pt"], = ax_d.plot([0], [0], "o", color="k", ms=6)
    a["sat_pt"], = ax_d.plot([0], [0], "o", color="tab:orange", ms=6)
    a["b_line"] = ax_d.axvline(0, color="tab:blue", lw=1, ls=":")
    ax_d.set_xlim(*BIAS_RANGE)
    ax_d.set_ylim(-0.03, 1.03)
    ax_d.set_xticks([-4, -2, 0, 2])
    ax_d.set_yticks([0, 0.5, 1])
    ax_d.set_xlabel("bias initialisation b")
    ax_d.set_ylabel("fraction")
    leg_d = ax_d.legend(loc="upper right", fontsize=8)
    for ax in (ax_f, ax_d):
        ax.set_title(" ", fontsize=10)
    # dynamic artists in drawing order (zorder); the spines of ax_f go on top of its fills
    dynamic = ([a["hist"], *a["sat"], *a["axlines"], a["phi"], a["dphi"], *ax_f.spines.values(), ax_f.title]
               + [a["b_line"], a["dead_curve"], a["sat_curve"], a["dead_pt"], a["sat_pt"], ax_d.title])
    use_blitting(fig, dynamic, overlay=[leg_f, leg_d])
    return a


def draw_activation(state, activation=DEFAULTS["activation"], bias_init=DEFAULTS["bias_init"],
                    weight_scale=DEFAULTS["weight_scale"], show_derivative=DEFAULTS["show_derivative"]):
    """Redraw `fig` for one activation, bias initialisation and weight scale.

    Returns the numbers plotted: ``phi`` and ``dphi`` on ``z_grid``; the saturated
    ``z`` intervals; ``dead_fraction`` (units with z ≤ 0 on every input) and
    ``saturated_fraction`` (pairs with φ' < SAT_FRACTION·max φ') at the current bias, and
    both as curves over ``bias_grid``; ``zero_gradient_fraction`` (units whose weights get
    no gradient at all: the dead fraction for ReLU, 0 for the others).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {ACTIVATIONS}, got {activation!r}")
    b, s = float(bias_init), float(weight_scale)
    if s <= 0:
        raise ValueError(f"weight_scale: expected a positive number, got {weight_scale!r}")
    state = widget_state(state)
    fig = state.fig
    a = state.ensure(_build)
    phi, dphi = activation_and_derivative(activation, Z_GRID)

    a["phi"].set_ydata(phi)
    a["dphi"].set_ydata(dphi)
    a["dphi"].set_visible(bool(show_derivative))
    lo, hi = _saturation_interval(activation)
    spans = []
    if lo is not None:
        spans.append((-8.0, lo))
    if hi is not None:
        spans.append((hi, 8.0))
    for k, rect in enumerate(a["sat"]):
        rect.set_visible(k < len(spans))
        if k < len(spans):
            rect.set_x(spans[k][0])
            rect.set_width(spans[k][1] - spans[k][0])

    counts = _hist_counts(b, s)
    a["hist"].set_data(-1.5 + 3.0 * counts / max(counts.max(), 1))
    a["ax_f"].set_title(f"{activation}: φ, φ' and z of the layer (grey); saturated in orange", fontsize=10)

    dead_curve = dead_fraction(B_GRID, s)
    sat_curve = saturated_fraction(activation, B_GRID, s)
    dead_now = float(dead_fraction(b, s))
    sat_now = float(saturated_fraction(activation, b, s))
    a["dead_curve"].set_ydata(dead_curve)
    a["sat_curve"].set_ydata(sat_curve)
    a["dead_pt"].set_data([b], [dead_now])
    a["sat_pt"].set_data([b], [sat_now])
    a["b_line"].set_xdata([b, b])
    zero_grad = dead_now if activation == "relu" else 0.0
    a["ax_d"].set_title(f"b = {b:.2f}, weight scale {s:.2g}: {100 * dead_now:.0f} % never active, "
                        f"{100 * sat_now:.0f} % saturated", fontsize=10)
    out = dict(z_grid=Z_GRID, phi=phi, dphi=dphi, saturated_intervals=spans,
               bias_grid=B_GRID, dead_curve=dead_curve, saturated_curve=sat_curve,
               dead_fraction=dead_now, saturated_fraction=sat_now, zero_gradient_fraction=zero_grad)
    out["summary"] = (f"{activation}: {100 * dead_now:.1f} % of units never active (z ≤ 0 on all "
                      f"{N_INPUTS} inputs), {100 * sat_now:.1f} % of (unit, input) pairs saturated; "
                      f"{100 * zero_grad:.1f} % of units receive no gradient at all")
    return out


def activation_explorer(activation: str = DEFAULTS["activation"], bias_init: float = DEFAULTS["bias_init"],
                        weight_scale: float = DEFAULTS["weight_scale"],
                        show_derivative: bool = DEFAULTS["show_derivative"]):
    """Activation dropdown, bias-initialisation and weight-scale sliders, derivative toggle."""
    import ipywidgets as widgets  # slow import (see AUTHORING.md)

    from tnn_lib.widgets.app import WidgetApp, new_figure  # slow import (see AUTHORING.md)

    controls = dict(
        activation=widgets.Dropdown(options=list(ACTIVATIONS), value=activation, description="activation"),
        bias_init=widgets.FloatSlider(value=bias_init, min=BIAS_RANGE[0], max=BIAS_RANGE[1], step=0.05,
                                      description="bias init b"),
        weight_scale=widgets.FloatLogSlider(value=weight_scale, base=10, min=-1, max=1, step=0.01,
                                            description="weight scale"),
        show_derivative=widgets.Checkbox(value=show_derivative, description="show φ'(z)"),
    )
    return WidgetApp("Activations: derivative, saturation and dead ReLUs", controls, draw_activation,
                     new_figure(11.0, 3.8),
                     description="Move the bias: a ReLU whose z is negative on every input is dead — "
                                 "it never activates and its weights never update. Large weights push "
                                 "sigmoid and tanh into their flat, saturated tails.")
