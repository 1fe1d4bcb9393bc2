"""Activation statistics explorer: the lecture's "look at the activation statistics" experiment.

Unit-Gaussian inputs go through a bias-free net ``h_l = f(h_{l-1} @ W_l)`` whose weights come
from :func:`tnn_lib.init.init_weights`; the figure shows every layer's histogram (as in the
lecture notes' row of histograms), and the per-layer std of the activations and of the
weight gradients (log scale), with the lecture's printed numbers (10 layers of 500 units,
1000 samples) as grey crosses where the lecture has a table for that setting.

The update path is :func:`draw_activation_statistics`; the numbers come from
:func:`explorer_data`, cached per setting. Inputs are ``default_rng(0).standard_normal
((n_samples, width))`` (200 rows by default: the lecture's 1000 would cost 5× for statistics
over 200 × width values that are already precise), weights and upstream gradient are drawn
from ``default_rng(1)`` exactly as :func:`tnn_lib.init.activation_statistics` and
:func:`tnn_lib.init.gradient_statistics` draw them, and the numbers agree with theirs (float64).
What makes a control change cheap: every weight matrix is drawn once per width and layer
(prefixes are shared across depths, σ·N(0, 1) draws across schemes), a forward pass is kept
per layer, so a new depth costs only the new layers and the backward pass, the std of
dL/dW comes from N × N Gram matrices, and BLAS runs on one thread (see :func:`_one_blas_thread`).
"""
from __future__ import annotations

import contextlib
import functools

import numpy as np

try:  # comes with scikit-learn
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None

from tnn_lib import student
from tnn_lib.widgets.state import widget_state
from tnn_lib.widgets._blit import round_axis_end

from tnn_lib import init

DEFAULTS = dict(depth=10, width=100, scheme="xavier", nonlinearity="tanh", n_samples=200)
BINS = 30

# The lecture notes' printed per-layer stds (10 layers of 500 units, 1000 unit-Gaussian inputs).
LECTURE_STDS = {
    ("small", "tanh"): [0.213081, 0.047551, 0.010630, 0.002378, 0.000532, 0.000119, 0.000026,
                        0.000006, 0.000001, 0.0],
    ("unit", "tanh"): [0.981879, 0.981649, 0.981601, 0.981755, 0.981614, 0.981560, 0.981520,
                       0.981913, 0.981728, 0.981736],
    ("xavier", "tanh"): [0.627953, 0.486051, 0.407723, 0.357108, 0.320917, 0.292116, 0.273387,
                         0.254935, 0.239266, 0.228008],
    ("xavier", "relu"): [0.582273, 0.403795, 0.276912, 0.198685, 0.140299, 0.103280, 0.072748,
                         0.051572, 0.038583, 0.026076],
    ("he", "relu"): [0.825232, 0.827835, 0.813855, 0.826902, 0.834092, 0.860035, 0.870610,
                     0.889348, 0.845357, 0.844523],
}

_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "relu": (0.0, 3.0), "linear": (-3.0, 3.0)}


# Weight draws, shared by every setting of one width. The reference net draws layer after
# layer from one ``default_rng(1)``, so the first d layers of a deeper net are the d-layer net:
# the draws are kept per layer and reused across depths. All N(0, σ²) schemes take the same
# ``σ * rng.standard_normal`` draws (only σ differs), so they share them as well.
def blas_controller():
    """A threadpoolctl controller (or None without threadpoolctl); the widget keeps one in its state."""
    try:
        return ThreadpoolController() if ThreadpoolController is not None else None
    except Exception:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None


def _one_blas_thread(controller=None):
    """BLAS on one thread during the widget's computation: these matrices are small, and on a
    busy 2-core machine OpenBLAS' second thread costs 10× more in waiting than it saves.
    `controller` from :func:`blas_controller` (a new one if None)."""
    c = controller if controller is not None else blas_controller()
    return contextlib.nullcontext() if c is None else c.limit(limits=1, user_api="blas")


class _Draws:
    """Layer l's draws from ``default_rng(1)`` (``family`` "normal": the unit-Gaussian matrix;
    "uniform": the Glorot-uniform weights), drawn on demand, with the generator's state after each."""

    def __init__(self, family, width):
        self.family, self.width = family, width
        self.rng = np.random.default_rng(1)
        self.mats, self.states = [], []

    def get(self, l):
        w = self.width
        while len(self.mats) <= l:
            if self.family == "normal":
                self.mats.append(self.rng.standard_normal((w, w)))
            else:
                self.mats.append(init.init_weights(w, w, "glorot_uniform", self.rng))
            self.states.append(self.rng.bit_generator.state)
        return self.mats[l]

    def rng_after(self, depth):
        """A generator in the state the reference's rng has after drawing `depth` layers."""
        self.get(depth - 1)
        rng = np.random.default_rng(1)
        rng.bit_generator.state = self.states[depth - 1]
        return rng


@student.cached(maxsize=8)  # dropped when the student edition registers an answer
def _draws(family, width):
    return _Draws(family, width)


def _weights(scheme, width, l):
    """Layer l's weights, equal to what :func:`tnn_lib.init.init_weights` draws for it."""
    family = {"zeros": None, "glorot_uniform": "uniform"}.get(scheme, "normal")
    if family is None:
        return np.zeros((width, width))
    if family == "uniform":
        return _draws("uniform", width).get(l)
    return init.normal_std(scheme, width) * _draws("normal", width).get(l)


def _dout(scheme, width, depth, n_samples):
    """The upstream gradient :func:`tnn_lib.init.gradient_statistics` draws after the weights."""
    if scheme in ("zeros",):
        rng = np.random.default_rng(1)          # zeros draw nothing
    else:
        rng = _draws("uniform" if scheme == "glorot_uniform" else "normal", width).rng_after(depth)
    return rng.standard_normal((n_samples, width))


def _product_std(a, ga, b):
    """``(a.T @ b).std()`` from ``ga = a @ a.T`` (N × N): ``Σ (aᵀb)² = ⟨a aᵀ, b bᵀ⟩`` and
    ``Σ aᵀb = (a 1)·(b 1)``; N × N products instead of the fan_in × fan_out matrix."""
    size = a.shape[1] * b.shape[1]
    mean = a.sum(axis=1) @ b.sum(axis=1) / size
    square = np.vdot(ga, b @ b.T) / size
    if not mean * mean < 1e-3 * square:      # the mean dominates: E[x²] − E[x]² would cancel
        return (a.T @ b).std()
    return np.sqrt(max(square - mean * mean, 0.0))


class _Forward:
    """The forward pass of one (width, scheme, nonlinearity, n_samples), extended layer by layer
    on demand; per layer: the activations, the nonlinearity's backward cache and the statistics."""

    def __init__(self, width, scheme, nonlinearity, n_samples):
        self.width, self.scheme, self.nonlinearity = width, scheme, nonlinearity
        self.x = np.random.default_rng(0).standard_normal((n_samples, width))
        self.f, self.f_backward = init.activation(nonlinearity)
        self.acts, self.caches, self.grams = [], [], []
        self.means, self.stds, self.hist, self.saturated = [], [], [], []
        lo, hi = _RANGE[nonlinearity]
        self.edges = np.linspace(lo, hi, BINS + 1)

    def extend(self, depth):
        lo, hi = _RANGE[self.nonlinearity]
        while len(self.acts) < depth:
            h_prev = self.acts[-1] if self.acts else self.x
            h, cache = self.f(h_prev @ _weights(self.scheme, self.width, len(self.acts)))
            self.acts.append(h)
            self.caches.append(cache)
            self.means.append(h.mean())
            self.stds.append(h.std())
            # (equal bins given by count and range: numpy's binning without a sort of the values)
            self.hist.append(np.histogram(np.clip(h, lo, hi), bins=BINS, range=(lo, hi))[0])
            if self.nonlinearity == "tanh":
                self.saturated.append(np.mean(np.abs(h) > 0.99))
            elif self.nonlinearity == "sigmoid":
                self.saturated.append(np.mean((h < 0.01) | (h > 0.99)))
            else:
                self.saturated.append(0.0)

    def gram(self, l):
        """``h_{l-1} h_{l-1}ᵀ`` (the layer's input), kept: it does not depend on the depth."""
        while len(self.grams) <= l:
            h = self.x if len(self.grams) == 0 else self.acts[len(self.grams) - 1]
            self.grams.append(h @ h.T)
        return self.grams[l]

    def grad_stds(self, depth):
        """Std of dL/dW per layer of the depth-`depth` net, as :func:`tnn_lib.init.gradient_statistics`."""
        self.extend(depth)
        dh = _dout(self.scheme, self.width, depth, self.x.shape[0])
        out = []
        for l in reversed(range(depth)):
            h_prev = self.x if l == 0 else self.acts[l - 1]
            dz = self.f_backward(dh, self.caches[l])  # through the nonlinearity
            out.append(_product_std(h_prev, self.gram(l), dz))   # std of dW = h_prevᵀ dz
            if l:
                dh = dz @ _weights(self.scheme, self.width, l).T
        return np.array(out[::-1])


@student.cached(maxsize=6)  # dropped when the student edition registers an answer
def _forward(width, scheme, nonlinearity, n_samples):
    return _Forward(width, scheme, nonlinearity, n_samples)


@student.cached(maxsize=64)  # dropped when the student edition registers an answer
def explorer_data(depth: int, width: int, scheme: str, nonlinearity: str, n_samples: int = DEFAULTS["n_samples"]):
    """Per-layer statistics and histograms of the net; arrays are read-only (cached).

    Returns a dict with ``means``, ``stds`` (as :func:`tnn_lib.init.activation_statistics`),
    ``grad_stds`` (std of dL/dW per layer, :func:`tnn_lib.init.gradient_statistics`),
    ``hist`` (depth × BINS counts, values clipped into the nonlinearity's display range),
    ``edges`` and ``saturated`` (fraction of tanh/sigmoid units within 0.01 of ±1 / {0, 1}).

    Same inputs, weights and upstream gradient as the reference functions (float64), but each
    weight matrix is drawn once: forward passes are kept per layer and reused when only the
    depth changes, and the N(0, σ²) schemes share their unit-Gaussian draws.
    """
    depth, width, n_samples = int(depth), int(width), int(n_samples)
    if scheme not in init.SCHEMES:
        raise ValueError(f"scheme: expected one of {init.SCHEMES}, got {scheme!r}")
    if nonlinearity not in init.NONLINEARITIES:
        raise ValueError(f"nonlinearity: expected one of {init.NONLINEARITIES}, got {nonlinearity!r}")
    if depth < 1 or width < 1 or n_samples < 1:
        raise ValueError(f"depth, width and n_samples must be >= 1, got {depth}, {width}, {n_samples}")
    fw = _forward(width, scheme, nonlinearity, n_samples)
    with _one_blas_thread():
        fw.extend(depth)
        grad_stds = fw.grad_stds(depth)
    out = dict(means=np.array(fw.means[:depth]), stds=np.array(fw.stds[:depth]), grad_stds=grad_stds,
               hist=np.stack(fw.hist[:depth]).astype(float), edges=fw.edges.copy(),
               saturated=np.array(fw.saturated[:depth], dtype=float))
    for v in out.values():
        v.setflags(write=False)
    return out


def _violins(hist, edges):
    """One closed step outline per layer l (centred on x = l + 1, half-width ∝ the counts)."""
    peak = hist.max(axis=1, keepdims=True)
    half = 0.45 * hist / np.where(peak > 0, peak, 1.0)
    ys = np.repeat(edges, 2)[1:-1]
    verts = []
    for l in range(len(hist)):
        hw = np.repeat(half[l], 2)
        verts.append(np.concatenate([np.column_stack([l + 1 - hw, ys]), np.column_stack([l + 1 + hw, ys])[::-1]]))
    return verts


def _legend(fig, a, with_lecture):
    """(Re)make the legend of the std panel; it is composited over the curves (blitting overlay)."""
    if a.get("legend") is not None:
        a["legend"].remove()
    handles = [a["stds"], a["grads"]] + ([a["lecture"]] if with_lecture else [])
    a["legend"] = a["ax_s"].legend(handles=handles, fontsize=7, loc="lower left")
    a["legend_has_lecture"] = with_lecture
    fig.canvas.overlay[:] = [a["legend"]]
    fig.canvas.invalidate_overlay()


def _build(fig):
    """Axes and artists, created once per figure; later draws only move data.

    The figure gets a blitting canvas (:mod:`tnn_lib.widgets._blit`): axes, ticks and labels
    are rendered once per axis range; an update redraws the histograms, the curves and the
    titles, with the legend composited on top.
    """
    from matplotlib.collections import PolyCollection  # slow import (see AUTHORING.md)

    from tnn_lib.widgets._blit import use_blitting  # slow import (see AUTHORING.md)

    fig.clear()
    fig.set_layout_engine(None)  # fixed margins: a layout engine would lay the text out at every draw
    ax_h, ax_s = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[1.6, 1.0], left=0.07, right=0.985,
                                                      bottom=0.14, top=0.9, wspace=0.18))
    a = dict(ax_h=ax_h, ax_s=ax_s, legend=None)
    a["violins"] = ax_h.add_collection(PolyCollection([], facecolors="tab:blue", alpha=0.75, linewidths=0))
    ax_h.set_xlabel("layer")
    ax_h.set_title(" ")
    a["stds"], = ax_s.plot([1], [0], "o-", color="tab:red", ms=4, label="std of activations")
    a["grads"], = ax_s.plot([1], [0], "s--", color="tab:purple", ms=3, label="std of dL/dW")
    a["lecture"], = ax_s.plot([1], [0], "x", color="0.4", ms=7, label="lecture notes (500 units)")
    ax_s.set_xlabel("layer")
    ax_s.set_ylabel("log₁₀ std")
    ax_s.set_title("per-layer std")
    ax_s.xaxis.get_major_locator().set_params(integer=True)
    use_blitting(fig, [a["violins"], ax_h.title, a["stds"], a["grads"], a["lecture"]])
    _legend(fig, a, True)
    return a


def draw_activation_statistics(state, depth=DEFAULTS["depth"], width=DEFAULTS["width"], scheme=DEFAULTS["scheme"],
                               nonlinearity=DEFAULTS["nonlinearity"], n_samples=DEFAULTS["n_samples"]):
    """Redraw `fig`: per-layer histograms (left) and per-layer std of activations and of dL/dW (right).

    Returns the plotted numbers: ``means``, ``stds``, ``grad_stds``, ``hist``, ``edges``,
    ``saturated``, ``lecture_stds`` (or None) and a one-line ``summary``.
    """
    depth, width, n_samples = int(depth), int(width), int(n_samples)
    d = explorer_data(depth, width, scheme, nonlinearity, n_samples)
    layers = np.arange(1, depth + 1)
    state = widget_state(state)
    fig = state.fig
    a = state.ensure(_build)
    ax_h, ax_s = a["ax_h"], a["ax_s"]

    # histograms side by side, one "violin" of step outlines per layer (as the lecture's row of histograms)
    a["violins"].set_verts(_violins(d["hist"], d["edges"]))
    lo, hi = _RANGE[nonlinearity]
    ax_h.set_ylim(lo, hi)
    ax_h.set_xlim(0.4, round_axis_end(depth) + 0.6)      # layers up to a round number (see ax_s)
    ylabel = f"activation ({nonlinearity}; clipped to [{lo:g}, {hi:g}])"
    if ax_h.get_ylabel() != ylabel:
        ax_h.set_ylabel(ylabel)                      # a background per label (the blitting canvas' key)
    ax_h.set_title(f"{scheme} init, {depth} × {width} units, {n_samples} inputs")

    # log10 on a linear axis: the same picture as semilogy at a fraction of the tick-drawing cost
    lg = lambda v: np.log10(np.maximum(np.asarray(v, dtype=float), 1e-30))  # noqa: E731
    a["stds"].set_data(layers, lg(d["stds"]))
    a["grads"].set_data(layers, lg(d["grad_stds"]))
    lecture = LECTURE_STDS.get((scheme, nonlinearity))
    shown = lecture is not None
    if lecture is not None:
        k = min(depth, len(lecture))
        a["lecture"].set_data(layers[:k], lg(lecture[:k]))
    a["lecture"].set_visible(shown)
    if shown != a["legend_has_lecture"]:
        _legend(fig, a, shown)
    # y range on whole decades (and x up to the depth rounded up to 1, 1.5, 2, 3, 5, 7.5 × 10^k):
    # the cached background survives most changes
    values = np.concatenate([lg(d["stds"]), lg(d["grad_stds"])] + ([lg(lecture[:k])] if shown else []))
    ax_s.set_ylim(np.floor(values.min()) - 0.25, np.ceil(values.max()) + 0.25)
    ax_s.set_xlim(0.4, round_axis_end(depth) + 0.6)

    out = dict(means=np.array(d["means"]), stds=np.array(d["stds"]), grad_stds=np.array(d["grad_stds"]),
               hist=np.array(d["hist"]), edges=np.array(d["edges"]), saturated=np.array(d["saturated"]),
               lecture_stds=None if lecture is None else np.array(lecture))
    sat = f"; saturated units in the last layer {100 * d['saturated'][-1]:.0f} %" if nonlinearity in ("tanh", "sigmoid") else ""
    out["summary"] = (f"layer 1 std {d['stds'][0]:.3g} → layer {depth} std {d['stds'][-1]:.3g}; "
                      f"dL/dW std from {d['grad_stds'][0]:.3g} (layer 1) to {d['grad_stds'][-1]:.3g} (layer {depth}){sat}")
    return out


def activation_statistics_explorer(depth: int = DEFAULTS["depth"], width: int = DEFAULTS["width"],
                                   scheme: str = DEFAULTS["scheme"], nonlinearity: str = DEFAULTS["nonlinearity"],
                                   n_samples: int = DEFAULTS["n_samples"]):
    """Depth, width, initialization scheme and nonlinearity → per-layer histograms and std curves."""
    import ipywidgets as widgets  # slow import (see AUTHORING.md)

    from tnn_lib.widgets.app import WidgetApp, new_figure  # slow import (see AUTHORING.md)

    controls = dict(
        depth=widgets.IntSlider(value=depth, min=1, max=20, description="layers"),
        width=widgets.SelectionSlider(options=[20, 50, 100, 200, 500], value=width, description="units per layer"),
        scheme=widgets.Dropdown(options=[("zeros", "zeros"), ("N(0, 0.01²)", "small"), ("N(0, 1)", "unit"),
                                         ("Xavier 1/fan_in", "xavier"), ("Glorot uniform", "glorot_uniform"),
                                         ("He 2/fan_in", "he")], value=scheme, description="init"),
        nonlinearity=widgets.Dropdown(options=list(init.NONLINEARITIES), value=nonlinearity,
                                      description="nonlinearity"),
    )

    draw = draw_activation_statistics
    if n_samples != DEFAULTS["n_samples"]:
        draw = functools.partial(draw_activation_statistics, n_samples=n_samples)
    return WidgetApp("Activation statistics across layers", controls, draw, new_figure(10.0, 3.6),
                     description=f"{n_samples} unit-Gaussian inputs (the lecture notes use 1000; each layer's statistics "
                                 "are over all inputs × units) through a bias-free net h = f(h @ W). Too small weights: "
                                 "activations (and the weight gradients) shrink layer by layer; too large: tanh "
                                 "saturates; Xavier keeps tanh alive, ReLU needs He's factor 2.")
