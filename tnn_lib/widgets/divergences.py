"""Divergence widgets: L2 and KL against the sigmoid output y and against its argument z
for a target p, and the loss surfaces of one sigmoid perceptron.

* :func:`draw_divergences` — for a binary target p: ``L2(y) = ½(y − p)²`` and
  ``KL(y) = p log(p/y) + (1 − p) log((1 − p)/(1 − y))`` (0·log 0 = 0), plotted against
  ``y ∈ (0, 1)`` (both convex) and against ``z`` with ``y = σ(z)`` (only KL convex; the
  region where L2's second derivative in z is negative is shaded).
* :func:`draw_loss_surfaces` — a perceptron ``y = σ(w·x)`` with 2-D input and
  ``N_EXAMPLES`` = 100 random examples (the lecture's setup), its mean L2 and KL
  divergence over a grid of weights ``(w1, w2)``, and a cut through both surfaces.

Both update paths are plain functions of the control values; the perceptron surfaces
are computed once per (extent, label noise) and cached (a draft of a new weight range, while
its slider is dragged, computes them on a coarser grid, uncached: see :func:`draft_surfaces`).
"""
from __future__ import annotations

import contextlib
import threading
from functools import lru_cache

import numpy as np

try:  # comes with scikit-learn
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None

from tnn_lib.widgets.state import widget_state

Y_GRID = np.linspace(1e-3, 1 - 1e-3, 999)
Z_GRID = np.linspace(-10.0, 10.0, 801)
N_EXAMPLES, W_TRUE, GRID = 100, np.array([2.0, -1.0]), 81
DRAFT_GRID = 41   # the surfaces' grid in a draft of a new weight range (every other point of GRID's)
DEFAULTS = dict(p=0.5, show="both", mark_nonconvex=True)
SURFACE_DEFAULTS = dict(extent=8.0, label_noise=0.2, colour_scale="linear")


# ------------------------------------------------------------------------------- formulas
def _softplus(z):
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _sigmoid(z):
    return np.exp(np.minimum(z, 0.0)) / (1.0 + np.exp(-np.abs(z)))


def _xlogx(p):
    return p * np.log(p) if p > 0 else 0.0


def l2_of_y(y, p):
    """½(y − p)² (elementwise)."""
    return 0.5 * (np.asarray(y, dtype=float) - p) ** 2


def kl_of_y(y, p):
    """Binary KL(p ‖ y) = p log(p/y) + (1 − p) log((1 − p)/(1 − y)), with 0·log 0 = 0."""
    y = np.asarray(y, dtype=float)
    return _xlogx(p) + _xlogx(1 - p) - p * np.log(y) - (1 - p) * np.log1p(-y)


def kl_of_z(z, p):
    """Binary KL(p ‖ σ(z)), stable for any z: −log σ(z) = softplus(−z), −log(1 − σ(z)) = softplus(z)."""
    z = np.asarray(z, dtype=float)
    return _xlogx(p) + _xlogx(1 - p) + p * _softplus(-z) + (1 - p) * _softplus(z)


def l2_second_derivative_in_z(z, p):
    """d²/dz² ½(σ(z) − p)² = σ'·[σ' + (σ − p)(1 − 2σ)] with σ' = σ(1 − σ)."""
    s = _sigmoid(np.asarray(z, dtype=float))
    ds = s * (1 - s)
    return ds * (ds + (s - p) * (1 - 2 * s))


def kl_second_derivative_in_z(z, p):
    """d²/dz² KL(p ‖ σ(z)) = σ(z)(1 − σ(z)) ≥ 0: convex in z for every p."""
    s = _sigmoid(np.asarray(z, dtype=float))
    return s * (1 - s)


def _intervals(mask, grid):
    """The [start, end] intervals of `grid` where `mask` is True."""
    out, start = [], None
    for g, m in zip(grid, mask):
        if m and start is None:
            start = g
        if not m and start is not None:
            out.append((float(start), float(prev)))
            start = None
        prev = g
    if start is not None:
        out.append((float(start), float(grid[-1])))
    return out


# ------------------------------------------------------------------------------- explorer
def _build_explorer(fig):
    from matplotlib.ticker import MaxNLocator  # slow import (see AUTHORING.md)

    from tnn_lib.widgets._blit import use_blitting  # slow import (see AUTHORING.md)

    fig.clear()
    fig.set_layout_engine(None)  # fixed margins: a layout engine would lay the text out at every draw
    ax_y, ax_z = fig.subplots(1, 2, gridspec_kw=dict(left=0.06, right=0.98, bottom=0.14, top=0.9, wspace=0.2))
    # the shaded non-convex intervals: a pool of spans, moved or hidden (grown if ever needed)
    a = dict(ax_y=ax_y, ax_z=ax_z,
             spans=[ax_z.axvspan(0, 1, color="tab:blue", alpha=0.12, lw=0, visible=False) for _ in range(3)])
    a["l2_y"], = ax_y.plot(Y_GRID, Y_GRID, color="tab:blue", lw=2, label="L2 = ½(y − p)²")
    a["kl_y"], = ax_y.plot(Y_GRID, Y_GRID, color="tab:red", lw=2, label="KL(p ‖ y)")
    a["p_y"] = ax_y.axvline(0.5, color="k", lw=0.8, ls=":")
    ax_y.set_xlim(0, 1)
    ax_y.set_ylim(0, 2.0)
    ax_y.set_xticks([0, 0.25, 0.5, 0.75, 1])
    ax_y.yaxis.set_major_locator(MaxNLocator(3))     # few tick labels: text is most of the PNG's cost
    ax_y.set_xlabel("sigmoid output y")
    ax_y.legend(loc="upper center", fontsize=8)
    a["l2_z"], = ax_z.plot(Z_GRID, Z_GRID, color="tab:blue", lw=2, label="L2 of σ(z)")
    a["kl_z"], = ax_z.plot(Z_GRID, Z_GRID, color="tab:red", lw=2, label="KL of σ(z)")
    a["p_z"] = ax_z.axvline(0.0, color="k", lw=0.8, ls=":")
    ax_z.set_xlim(Z_GRID[0], Z_GRID[-1])
    ax_z.set_ylim(0, 2.0)
    ax_z.set_xticks([-10, -5, 0, 5, 10])
    ax_z.yaxis.set_major_locator(MaxNLocator(3))
    ax_z.set_xlabel("its argument z  (y = σ(z))")
    legends = [ax_y.legend(loc="upper center", fontsize=8), ax_z.legend(loc="upper center", fontsize=8)]
    for ax in (ax_y, ax_z):
        ax.set_title(" ", fontsize=10, y=1.0)  # y given: no search of the tick labels per draw
    # blitting (tnn_lib.widgets._blit): ticks and labels are rendered once per y range;
    # an update redraws the curves, the shading and the titles, legends composited on top
    # (the y ranges follow p: a new background at nearly every value, drawn plainly first)
    use_blitting(fig, [a["l2_y"], a["kl_y"], a["p_y"], ax_y.title, *a["spans"], *ax_z.spines.values(), a["l2_z"],
                       a["kl_z"], a["p_z"], ax_z.title], overlay=legends, plain_first=True)
    return a


def draw_divergences(state, p=DEFAULTS["p"], show=DEFAULTS["show"], mark_nonconvex=DEFAULTS["mark_nonconvex"]):
    """Redraw `fig` for target `p` in [0, 1]; `show` is "both", "L2" or "KL".

    Returns the curves and their minimisers on the grids (``y_min_l2``, ``y_min_kl``,
    ``z_min_l2``, ``z_min_kl``), the smallest second derivative of each in z, and the
    intervals of z where L2 is not convex (``l2_nonconvex_z``).
    """
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected a target probability in [0, 1], got {p!r}")
    if show not in ("both", "L2", "KL"):
        raise ValueError(f"show: expected 'both', 'L2' or 'KL', got {show!r}")
    state = widget_state(state)
    fig = state.fig
    a = state.ensure(_build_explorer)
    l2y, kly = l2_of_y(Y_GRID, p), kl_of_y(Y_GRID, p)
    l2z, klz = l2_of_y(_sigmoid(Z_GRID), p), kl_of_z(Z_GRID, p)
    d2_l2, d2_kl = l2_second_derivative_in_z(Z_GRID, p), kl_second_derivative_in_z(Z_GRID, p)
    nonconvex = _intervals(d2_l2 < 0, Z_GRID)

    for key, data in (("l2_y", l2y), ("kl_y", kly), ("l2_z", l2z), ("kl_z", klz)):
        a[key].set_ydata(data)
        a[key].set_visible(show == "both" or key.upper().startswith(show.upper()))
    a["p_y"].set_xdata([p, p])
    z_p = float(np.log(p / (1 - p))) if 0 < p < 1 else (Z_GRID[0] if p == 0 else Z_GRID[-1])
    a["p_z"].set_xdata([z_p, z_p])
    shaded = nonconvex if mark_nonconvex and show != "KL" else []
    while len(a["spans"]) < len(shaded):
        span = a["ax_z"].axvspan(0, 1, color="tab:blue", alpha=0.12, lw=0)
        a["spans"].append(span)
        dynamic = fig.canvas.dynamic
        dynamic.insert(dynamic.index(a["spans"][0]), span)
    for k, span in enumerate(a["spans"]):
        span.set_visible(k < len(shaded))
        if k < len(shaded):
            span.set_x(shaded[k][0])
            span.set_width(shaded[k][1] - shaded[k][0])
    # the y range follows L2 (KL grows without bound at the ends): the shapes near the minimum show
    top = 1.25 * l2y.max() if show != "KL" else min(kly.max(), 3.0)
    a["ax_y"].set_ylim(0, max(top, 0.05))
    ztop = 1.25 * l2z.max() if show != "KL" else min(klz.max(), 3.0)
    a["ax_z"].set_ylim(0, max(ztop, 0.05))
    a["ax_y"].set_title(f"target p = {p:.2f}: both convex in y", fontsize=10)
    a["ax_z"].set_title("against z: KL convex, L2 not (shaded: L2'' < 0)" if mark_nonconvex and show != "KL"
                        else "against z: only KL is convex", fontsize=10)
    out = dict(p=p, y_grid=Y_GRID, z_grid=Z_GRID, l2_y=l2y, kl_y=kly, l2_z=l2z, kl_z=klz,
               y_min_l2=float(Y_GRID[np.argmin(l2y)]), y_min_kl=float(Y_GRID[np.argmin(kly)]),
               z_min_l2=float(Z_GRID[np.argmin(l2z)]), z_min_kl=float(Z_GRID[np.argmin(klz)]),
               min_d2_l2_z=float(d2_l2.min()), min_d2_kl_z=float(d2_kl.min()), l2_nonconvex_z=nonconvex)
    out["summary"] = (f"p = {p:.2f}: both minimal at y = p (grid: L2 {out['y_min_l2']:.3f}, KL {out['y_min_kl']:.3f}); "
                      f"in z, L2 is non-convex on {len(nonconvex)} interval(s), KL's curvature σ(1 − σ) > 0")
    return out


def divergence_explorer(p: float = DEFAULTS["p"], show: str = DEFAULTS["show"],
                        mark_nonconvex: bool = DEFAULTS["mark_nonconvex"]):
    """Target-p slider, L2/KL toggle, non-convex-region checkbox."""
    import ipywidgets as widgets  # slow import (see AUTHORING.md)

    from tnn_lib.widgets.app import WidgetApp, new_figure  # slow import (see AUTHORING.md)

    controls = dict(
        p=widgets.FloatSlider(value=p, min=0.0, max=1.0, step=0.01, description="target p"),
        show=widgets.ToggleButtons(options=["both", "L2", "KL"], value=show, description="show"),
        mark_nonconvex=widgets.Checkbox(value=mark_nonconvex, description="shade where L2 is not convex in z"),
    )
    return WidgetApp("L2 vs KL: against the sigmoid output y and against its argument z", controls,
                     draw_divergences, new_figure(11.0, 3.6),
                     description="Both divergences are convex in y with their minimum at y = p; as functions "
                                 "of z only KL stays convex — L2 flattens where the sigmoid saturates.")


# ------------------------------------------------------------------------------- loss surfaces
def perceptron_data(label_noise: float = SURFACE_DEFAULTS["label_noise"], seed: int = 0):
    """100 random 2-D inputs x ~ N(0, I) and 0/1 labels d = [x·w_true > 0], a fraction
    `label_noise` of them flipped (the same draw for every noise level)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N_EXAMPLES, 2))
    d = (x @ W_TRUE > 0).astype(float)
    flip = rng.permutation(N_EXAMPLES)[: int(round(label_noise * N_EXAMPLES))]
    d[flip] = 1.0 - d[flip]
    return x, d


_BLAS = []   # one threadpoolctl controller, made on first use (making one costs ≈ 2.5 ms)


def _one_blas_thread():
    """BLAS on one thread for the product below (100 × 2 by 2 × G²). Lecture mode starts its
    kernel with one BLAS thread; a JupyterLab kernel has OpenBLAS's default (one per core), and
    on a busy 2-core machine the two threads wait for each other: a new weight range took 184 ms
    (median, kernel side, at 144 dpi, load 7) instead of 115 with one thread."""
    if not _BLAS:
        try:
            _BLAS.append(ThreadpoolController() if ThreadpoolController is not None else None)
        except Exception:  # pragma: no cover - threadpoolctl comes with scikit-learn
            _BLAS.append(None)
    return contextlib.nullcontext() if _BLAS[0] is None else _BLAS[0].limit(limits=1, user_api="blas")


_SCRATCH = threading.local()   # per thread (two widgets may draw at once): e^z and 1 + e^z


def _scratch(name: str, shape) -> np.ndarray:
    """A reusable buffer of `shape` for this thread (one per name and shape: a drag's drafts
    and the full frame after it use two grids): a new weight range's intermediates then reuse
    memory already mapped (fresh arrays of 5 MB cost more in page faults than the arithmetic
    done in them)."""
    kept = getattr(_SCRATCH, "buffers", None)
    if kept is None:
        kept = _SCRATCH.buffers = {}
    key = (name, tuple(shape))
    if key not in kept:
        kept[key] = np.empty(shape)
    return kept[key]


def _grid_terms(extent: float, grid: int):
    """For the weight range [−extent, extent]² on a `grid` × `grid` grid, what does not depend
    on the labels (the inputs x are the same draw for every label-noise level):

    * ``sq0[n, k] = σ(z)²`` and ``sq1[n, k] = (1 − σ(z))²`` for every example n and grid
      point k, z = w·x: example n's L2 term is ``½ sq0`` when its label is 0 and ``½ sq1``
      when it is 1 (1 − σ(z) = 1 / (1 + e^z) is computed as such, not as a difference);
    * ``S[k] = mean over n of softplus(z)``: the mean KL is ``S − w·mean(d x)``, since
      softplus(z) − d z is example n's binary cross-entropy and d z is linear in w.

    e^z = e^(x₁w₁)·e^(x₂w₂) is separable on the grid: two exps of N × grid values and one
    product, instead of an exp of N × grid² (a range so wide that e^z could overflow takes
    the direct exp). Returns (w1, w2, sq0, sq1, S) with the grid points k = i·grid + j at
    w = (w1[j], w2[i])."""
    x, _ = perceptron_data(0.0)
    n = len(x)
    w1 = np.linspace(-extent, extent, grid)
    w2 = w1.copy()
    e = _scratch("e", (n, grid * grid))
    z = None
    if float(np.abs(x).sum(axis=1).max()) * extent < 600.0:                # |z| < 600: e^z finite
        np.multiply(np.exp(x[:, 1:] * w2)[:, :, None], np.exp(x[:, :1] * w1)[:, None, :],
                    out=e.reshape(n, grid, grid))
    else:
        with _one_blas_thread():
            z = x @ np.stack(np.meshgrid(w1, w2), axis=-1).reshape(-1, 2).T
        np.exp(np.minimum(z, 700.0), out=e)
    one = np.add(e, 1.0, out=_scratch("one", e.shape))                     # 1 + e^z
    sq1 = np.divide(1.0, one)                                              # 1 − σ(z)
    sq0 = np.multiply(e, sq1)                                              # σ(z)
    np.square(sq0, out=sq0)
    np.square(sq1, out=sq1)
    if z is None:
        softplus = np.log(one, out=one)                                    # log(1 + e^z)
    else:                                                                  # large |z|: stably
        softplus = _softplus(z)
    return w1, w2, sq0, sq1, softplus.mean(axis=0)


@lru_cache(maxsize=4)
def _surface_terms(extent: float):
    """:func:`_grid_terms` on the GRID × GRID grid, per weight range (cached)."""
    return _grid_terms(extent, GRID)


def _surfaces_from(terms, label_noise: float):
    """(w1, w2, L2, KL) of :func:`perceptron_surfaces` from a grid's `terms`."""
    x, d = perceptron_data(label_noise)
    w1, w2, sq0, sq1, mean_softplus = terms
    w1, w2 = w1.copy(), w2.copy()
    g, one = len(w1), d == 1.0
    # sums over the examples row by row (numpy's reduction along axis 0): no BLAS, the same
    # result on every CPU
    l2 = (0.5 / len(d)) * (sq0[~one].sum(axis=0) + sq1[one].sum(axis=0))
    m = (x * d[:, None]).mean(axis=0)                                      # mean of d·x
    kl = mean_softplus.reshape(g, g) - (w1[None, :] * m[0] + w2[:, None] * m[1])
    l2 = l2.reshape(g, g)
    for arr in (w1, w2, l2, kl):
        arr.setflags(write=False)
    return w1, w2, l2, kl


@lru_cache(maxsize=64)
def perceptron_surfaces(extent: float = SURFACE_DEFAULTS["extent"], label_noise: float = SURFACE_DEFAULTS["label_noise"]):
    """Mean L2 ½(σ(w·x) − d)² and mean KL (binary cross-entropy) over the examples, on a
    GRID × GRID grid of weights w = (w1, w2) in [−extent, extent]². Returns (w1, w2, L2, KL)
    with L2[i, j], KL[i, j] at w = (w1[j], w2[i])."""
    return _surfaces_from(_surface_terms(float(extent)), label_noise)


def draft_surfaces(extent: float, label_noise: float, grid: int = DRAFT_GRID):
    """:func:`perceptron_surfaces` on a coarser `grid` (the same formulas; every other point of
    the GRID grid for the default 41), not cached: the surfaces of a draft while the weight range
    is dragged, a new range at every frame (a quarter of the exp/log1p work, and no entry of the
    caches per passing value; the full grid is drawn when the hand stops)."""
    return _surfaces_from(_grid_terms(float(extent), int(grid)), label_noise)


def _cut_of(extent: float, label_noise: float, w1, w2, kl):
    """The cut w = t·u along the unit direction u of the KL grid minimiser, t in [−extent, extent]:
    (u, t, mean L2 along it, mean KL along it); read-only."""
    i, j = np.unravel_index(int(np.argmin(kl)), kl.shape)
    w_kl = np.array([w1[j], w2[i]])
    u = w_kl / max(np.linalg.norm(w_kl), 1e-12)
    t = np.linspace(-extent, extent, 201)
    x, d = perceptron_data(label_noise)
    zc = np.outer(x @ u, t)                                            # (N, 201)
    cut_l2 = (0.5 * (_sigmoid(zc) - d[:, None]) ** 2).mean(axis=0)
    cut_kl = (_softplus(zc) - d[:, None] * zc).mean(axis=0)
    for arr in (u, t, cut_l2, cut_kl):
        arr.setflags(write=False)
    return u, t, cut_l2, cut_kl


@lru_cache(maxsize=64)
def _cut(extent: float, label_noise: float):
    """:func:`_cut_of` the GRID surfaces (cached)."""
    w1, w2, _, kl = perceptron_surfaces(extent, label_noise)
    return _cut_of(extent, label_noise, w1, w2, kl)


def _build_surfaces(fig):
    from matplotlib.ticker import MaxNLocator  # slow import (see AUTHORING.md)

    from tnn_lib.widgets._blit import nearest_image, use_blitting  # slow import (see AUTHORING.md)

    fig.clear()
    fig.set_layout_engine(None)  # fixed margins: a layout engine would lay the text out at every draw
    ax_l2, ax_kl, ax_cut = fig.subplots(1, 3, gridspec_kw=dict(left=0.05, right=0.98, bottom=0.14, top=0.9,
                                                               wspace=0.25))
    a = dict(ax_l2=ax_l2, ax_kl=ax_kl, ax_cut=ax_cut)
    for key, ax, cmap in (("im_l2", ax_l2, "Blues_r"), ("im_kl", ax_kl, "Reds_r")):
        a[key] = nearest_image(ax, np.zeros((GRID, GRID)), origin="lower", cmap=cmap, aspect="auto")
        a[key + "_min"], = ax.plot([0], [0], "*", color="gold", ms=12, mec="k")
        a[key + "_cut"], = ax.plot([0, 0], [0, 0], "--", color="k", lw=1)
        ax.set_xlabel("w1")
    ax_l2.set_ylabel("w2")
    a["cut_l2"], = ax_cut.plot([0, 1], [0, 1], color="tab:blue", lw=2, label="L2 (scaled)")
    a["cut_kl"], = ax_cut.plot([0, 1], [0, 1], color="tab:red", lw=2, label="KL (scaled)")
    ax_cut.set_ylim(-0.05, 1.05)
    ax_cut.set_yticks([0, 0.5, 1])
    ax_cut.set_xlabel("t along the cut (w = t·ŵ_KL)")
    legend = ax_cut.legend(loc="upper right", fontsize=8)
    for ax in (ax_l2, ax_kl, ax_cut):
        ax.set_title(" ", fontsize=10, y=1.0)  # y given: no search of the tick labels per draw
    # at most 6 ticks, 1, 2 or 5 apart, on each weight axis (matplotlib's default: up to 9): a
    # new weight range draws all five axes' ticks again, most of that frame's cost
    for axis in (ax_l2.xaxis, ax_l2.yaxis, ax_kl.xaxis, ax_kl.yaxis, ax_cut.xaxis):
        axis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10]))
    # blitting: ticks and labels rendered once per extent; the images, markers, cuts and
    # titles are redrawn (the image axes' spines after their images), the legend on top
    dynamic = []
    for key, ax in (("im_l2", ax_l2), ("im_kl", ax_kl)):
        dynamic += [a[key], *ax.spines.values(), a[key + "_cut"], a[key + "_min"], ax.title]
    dynamic += [a["cut_l2"], a["cut_kl"], ax_cut.title]
    use_blitting(fig, dynamic, overlay=[legend], plain_first=True)   # the axes follow the weight range
    return a


def _is_convex_1d(values, tol=1e-12):
    second = values[2:] - 2 * values[1:-1] + values[:-2]
    return bool(np.all(second >= -tol))


def draw_loss_surfaces(state, extent=SURFACE_DEFAULTS["extent"], label_noise=SURFACE_DEFAULTS["label_noise"],
                       colour_scale=SURFACE_DEFAULTS["colour_scale"]):
    """Redraw `fig` for the weight range [−extent, extent]², the fraction of flipped labels
    and the colour scale ("linear" or "log").

    Returns the grid minimisers ``w_min_l2``, ``w_min_kl`` and minima ``l2_min``,
    ``kl_min``, and the cut through both surfaces along the line from the origin through
    the KL minimiser (``cut_t``, ``cut_l2``, ``cut_kl``; ``cut_l2_convex``, ``cut_kl_convex``).
    """
    extent, label_noise = float(extent), float(label_noise)
    if extent <= 0:
        raise ValueError(f"extent: expected a positive number, got {extent!r}")
    if not 0.0 <= label_noise <= 0.5:
        raise ValueError(f"label_noise: expected a fraction in [0, 0.5], got {label_noise!r}")
    if colour_scale not in ("linear", "log"):
        raise ValueError(f"colour_scale: expected 'linear' or 'log', got {colour_scale!r}")
    state = widget_state(state)
    fig = state.fig
    a = state.ensure(_build_surfaces)
    # a draft of a weight range not drawn before (a drag of the range: a new one at every frame)
    # computes the surfaces on the coarser DRAFT_GRID; any other frame, the full grid (cached)
    coarse = state.draft and state.data.get("extent") != extent
    if coarse:
        w1, w2, l2, kl = draft_surfaces(extent, label_noise)
        u, t, cut_l2, cut_kl = _cut_of(extent, label_noise, w1, w2, kl)
    else:
        w1, w2, l2, kl = perceptron_surfaces(extent, label_noise)
        u, t, cut_l2, cut_kl = _cut(extent, label_noise)
        state.data["extent"] = extent
    box = (-extent, extent, -extent, extent)
    mins = {}
    for key, surf in (("im_l2", l2), ("im_kl", kl)):
        shown = np.log10(surf) if colour_scale == "log" else surf
        a[key].set_data(shown)
        a[key].set_extent(box)
        a[key].set_clim(float(shown.min()), float(np.percentile(shown, 95)))
        i, j = np.unravel_index(int(np.argmin(surf)), surf.shape)
        mins[key] = (np.array([w1[j], w2[i]]), float(surf[i, j]))
        a[key + "_min"].set_data([w1[j]], [w2[i]])
    for key in ("im_l2", "im_kl"):
        a[key + "_cut"].set_data(t * u[0], t * u[1])
    for key, c in (("cut_l2", cut_l2), ("cut_kl", cut_kl)):
        a[key].set_data(t, (c - c.min()) / max(np.ptp(c), 1e-12))
    a["ax_cut"].set_xlim(-extent, extent)
    for ax in (a["ax_l2"], a["ax_kl"]):
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
    a["ax_l2"].set_title(f"L2: min {mins['im_l2'][1]:.3f} (not convex)", fontsize=10)
    a["ax_kl"].set_title(f"KL: min {mins['im_kl'][1]:.3f} (convex)", fontsize=10)
    a["ax_cut"].set_title("a cut through both surfaces", fontsize=10)
    out = dict(w1=w1, w2=w2, l2=l2, kl=kl, w_min_l2=mins["im_l2"][0], w_min_kl=mins["im_kl"][0],
               l2_min=mins["im_l2"][1], kl_min=mins["im_kl"][1], cut_t=t, cut_l2=cut_l2, cut_kl=cut_kl,
               cut_l2_convex=_is_convex_1d(cut_l2), cut_kl_convex=_is_convex_1d(cut_kl))
    out["summary"] = (f"{N_EXAMPLES} examples, {100 * label_noise:.0f} % labels flipped: grid minimum of L2 at "
                      f"w = ({out['w_min_l2'][0]:.2f}, {out['w_min_l2'][1]:.2f}), of KL at "
                      f"({out['w_min_kl'][0]:.2f}, {out['w_min_kl'][1]:.2f}); along the cut KL is "
                      f"{'convex' if out['cut_kl_convex'] else 'not convex'}, L2 "
                      f"{'convex' if out['cut_l2_convex'] else 'not convex'}")
    return out


def loss_surfaces(extent: float = SURFACE_DEFAULTS["extent"], label_noise: float = SURFACE_DEFAULTS["label_noise"],
                      colour_scale: str = SURFACE_DEFAULTS["colour_scale"]):
    """Weight-range and label-noise sliders, linear/log colour toggle."""
    import ipywidgets as widgets  # slow import (see AUTHORING.md)

    from tnn_lib.widgets.app import WidgetApp, new_figure  # slow import (see AUTHORING.md)

    controls = dict(
        extent=widgets.FloatSlider(value=extent, min=1.0, max=20.0, step=0.1, readout_format=".1f",
                                   description="weight range ±"),
        label_noise=widgets.FloatSlider(value=label_noise, min=0.0, max=0.45, step=0.01,   # one label of 100
                                        description="labels flipped"),
        colour_scale=widgets.ToggleButtons(options=["linear", "log"], value=colour_scale, description="colour"),
    )
    return WidgetApp("Loss surfaces of one sigmoid perceptron (2-D input, 100 random examples)", controls,
                     draw_loss_surfaces, new_figure(12.0, 3.6),
                     description="The mean L2 divergence has plateaus and is not convex in the weights; the "
                                 "KL divergence (cross-entropy) is convex. Both have a unique minimum.")
