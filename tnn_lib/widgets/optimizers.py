"""Optimizer race and convention switchboard (notebook ``05_optimizers``).

:func:`optimizer_race` runs the ``tnn_lib.optim`` steps on three 2-D test surfaces of
Alec Radford's well-known animations the lecture notes show — Beale's function, a long
narrow valley and a saddle point — and draws every trajectory on the surface's contour
plot. :func:`convention_switchboard` runs AdamW in PyTorch's convention and in a variant
whose conventions are switched to the lecture notes' / the paper's (ε inside the root, no
bias correction, decay × schedule multiplier instead of × lr) and prints how far apart the
two trajectories end up.

Update paths: :func:`draw_race` and :func:`draw_switchboard`; trajectories come from
:func:`run_optimizer` and :func:`run_adamw_variant` (cached), contours from
:func:`surface_grid` (computed once per surface).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from tnn_lib import student
from tnn_lib.widgets.state import widget_state

from tnn_lib import optim
from tnn_lib.widgets._blit import round_axis_end

BOX = (-4.5, 4.5)  # every surface is drawn on [-4.5, 4.5]², Beale's usual domain


def _beale_xy(x, y):
    a, b, c = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
    gx = 2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1)
    gy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y**2
    return a**2 + b**2 + c**2, gx, gy


def _valley_xy(x, y):
    # curvatures 0.04 along, 4 across: condition number 100
    return 0.02 * (x - 4.0) ** 2 + 2.0 * y**2, 0.04 * (x - 4.0), 4.0 * y


def _saddle_xy(x, y):
    return 0.5 * x**2 - 0.5 * y**2, x, -y  # a saddle at the origin; the start lies almost on the ridge y = 0


def _on_points(xy):
    """f and its gradient at points `p` (..., 2), from the same formulas as one point's (floats)."""
    def f(p):
        value, gx, gy = xy(p[..., 0], p[..., 1])
        return value, np.stack([gx, gy], axis=-1)
    return f


_beale, _valley, _saddle = _on_points(_beale_xy), _on_points(_valley_xy), _on_points(_saddle_xy)
_POINT = {"beale": _beale_xy, "valley": _valley_xy, "saddle": _saddle_xy}


SURFACES = {  # name -> (f and gradient, minimum or None, default start, title)
    "beale": (_beale, (3.0, 0.5), (1.0, 1.5), "Beale's function"),
    "valley": (_valley, (4.0, 0.0), (-4.0, 1.5), "long narrow valley"),
    "saddle": (_saddle, None, (-4.0, 0.001), "saddle point"),
}
OPTIMIZERS = ("SGD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adam")
COLORS = dict(SGD="tab:red", Momentum="tab:green", Nesterov="tab:olive", Adagrad="tab:purple",
              RMSprop="tab:cyan", Adam="tab:blue")
# base learning rate per surface and optimizer; the race's lr slider multiplies them
BASE_LR = {
    "beale": dict(SGD=0.005, Momentum=0.002, Nesterov=0.002, Adagrad=0.5, RMSprop=0.05, Adam=0.1),
    "valley": dict(SGD=0.4, Momentum=0.1, Nesterov=0.1, Adagrad=1.0, RMSprop=0.05, Adam=0.2),
    "saddle": dict(SGD=0.05, Momentum=0.02, Nesterov=0.02, Adagrad=1.0, RMSprop=0.05, Adam=0.2),
}
DEFAULTS = dict(surface="beale", optimizers=OPTIMIZERS, lr_scale=1.0, momentum=0.9, x0=None, y0=None, steps=200)
F_RANGE = {"beale": (-12.3, 5.5), "valley": (-12.3, 2.0), "saddle": (-0.5 * 10.0**2, 10)}  # the f panel's y range
ESCAPE = 10.0  # stop a run once a coordinate leaves [-ESCAPE, ESCAPE]: off the plot (or diverging)


def gradient(surface: str, p):
    """The gradient of `surface` at the point `p` (shape (2,)), in plain floats: a run is
    6 optimizers × up to 1000 steps, and numpy's per-call cost on 2 numbers is most of it."""
    if surface not in _POINT:
        raise ValueError(f"surface: expected one of {sorted(_POINT)}, got {surface!r}")
    _, gx, gy = _POINT[surface](float(p[0]), float(p[1]))
    return np.array([gx, gy])


def step_function(name: str, lr: float, momentum: float = 0.9):
    """``step(w, g, state)`` for one of :data:`OPTIMIZERS` from ``tnn_lib.optim`` (other hyper-parameters at defaults)."""
    if name == "SGD":
        return lambda w, g, s: optim.sgd_step(w, g, s, lr)
    if name == "Momentum":
        return lambda w, g, s: optim.momentum_step(w, g, s, lr, momentum)
    if name == "Nesterov":
        return lambda w, g, s: optim.nesterov_step(w, g, s, lr, momentum)
    if name == "Adagrad":
        return lambda w, g, s: optim.adagrad_step(w, g, s, lr)
    if name == "RMSprop":
        return lambda w, g, s: optim.rmsprop_step(w, g, s, lr)
    if name == "Adam":
        return lambda w, g, s: optim.adam_step(w, g, s, lr)
    raise ValueError(f"name: expected one of {OPTIMIZERS}, got {name!r}")


_RUNS: dict = {}      # (surface, name, lr, momentum, start) -> [points, w, state, stopped]: runs grow, never redone
_RUNS_KEEP = 512


@student.cached(maxsize=512)  # dropped when the student edition registers an answer
def run_optimizer(surface: str, name: str, lr: float, momentum: float, start: tuple, steps: int):
    """Trajectory (steps + 1, 2) of optimizer `name` from `start`; stops early if it diverges (read-only).

    A run is kept and continued: more steps of the same run cost only the new steps, and
    fewer steps are the start of the longer run (the steps are deterministic).
    """
    # a run made with other student answers (the edition registers them) is not continued
    key = (student._GENERATION[0], surface, name, float(lr), float(momentum), tuple(start))
    run = _RUNS.pop(key, None)
    if run is None:
        w = np.array(start, dtype=float)
        run = [[w.copy()], w, {}, False]
    _RUNS[key] = run                                   # the newest last
    while len(_RUNS) > _RUNS_KEEP:
        _RUNS.pop(next(iter(_RUNS)))
    points, w, state, stopped = run
    step = step_function(name, lr, momentum)
    with np.errstate(all="ignore"):
        while not stopped and len(points) <= int(steps):
            step(w, gradient(surface, w), state)
            x, y = float(w[0]), float(w[1])
            if not (abs(x) <= ESCAPE and abs(y) <= ESCAPE):   # diverged or off the plot (NaN too)
                stopped = True
                break
            points.append(w.copy())
    run[3] = stopped
    path = np.array(points[:int(steps) + 1])
    path.setflags(write=False)
    return path


@lru_cache(maxsize=8)
def surface_grid(surface: str, n: int = 120):
    """(X, Y, log-scaled values for the background image, contour line segments) of `surface`."""
    import contourpy  # slow import (see AUTHORING.md)

    xs = np.linspace(*BOX, n)
    X, Y = np.meshgrid(xs, xs)
    F = SURFACES[surface][0](np.stack([X, Y], axis=-1))[0]
    if surface == "saddle":
        shade, levels = F, np.linspace(-10, 10, 21)
    else:
        shade = np.log10(F - F.min() + 1e-3)
        levels = np.quantile(F, np.linspace(0.02, 0.98, 18)) if surface == "beale" else np.linspace(0.05, 40, 16) ** 1.6 / 8
    gen = contourpy.contour_generator(X, Y, F)
    segs = [seg for lev in levels for seg in gen.lines(float(lev)) if len(seg) > 1]
    return X, Y, shade, segs


def _start(surface, x0, y0):
    sx, sy = SURFACES[surface][2]
    return (float(sx if x0 is None else x0), float(sy if y0 is None else y0))


def _surface_axes(ax, surface):
    """The surface panel's static artists (shaded image, contour lines, minimum); see `_set_surface`."""
    from matplotlib.collections import LineCollection  # slow import (see AUTHORING.md)

    from tnn_lib.widgets._blit import nearest_image  # slow import (see AUTHORING.md)

    a = dict(surface=None)
    a["shade"] = nearest_image(ax, np.zeros((2, 2)), origin="lower", extent=(*BOX, *BOX), cmap="Greys", alpha=0.35,
                               aspect="auto")
    a["contours"] = ax.add_collection(LineCollection([], colors="0.55", linewidths=0.6))
    a["minimum"], = ax.plot([0], [0], "*", color="k", ms=11, zorder=5)
    ax.set_xlim(*BOX)
    ax.set_ylim(*BOX)
    return a


def _set_surface(fig, a, surface):
    """Show `surface` in the panel of `_surface_axes`; the cached background is redrawn only when it changes."""
    if a["surface"] == surface:
        return
    X, Y, shade, segs = surface_grid(surface)
    a["shade"].set_data(shade)
    a["shade"].set_clim(float(shade.min()), float(shade.max()))
    a["contours"].set_segments(segs)
    minimum = SURFACES[surface][1]
    a["minimum"].set_visible(minimum is not None)
    if minimum is not None:
        a["minimum"].set_data([minimum[0]], [minimum[1]])
    a["surface"] = surface
    fig.canvas.static_tag = surface       # a background per surface (kept: a surface chosen again is at once)


def _two_panels(fig):
    """The surface panel (left) and a curve panel (right) with fixed margins (no layout engine)."""
    fig.clear()
    fig.set_layout_engine(None)
    return fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[1.25, 1.0], left=0.06, right=0.985,
                                               bottom=0.13, top=0.9, wspace=0.2))


def _set_legend(fig, a, ax, handles, key, **kw):
    """(Re)make `ax`'s legend when its entries changed; it is composited over the curves (blitting overlay)."""
    if a.get("legend_key") == key:
        return
    if a.get("legend") is not None:
        a["legend"].remove()
    a["legend"] = ax.legend(handles=handles, **kw) if handles else None
    a["legend_key"] = key
    fig.canvas.overlay[:] = [t for t in fig.canvas.overlay if t in (ax.title, a.get("ax_f", ax).title)]
    fig.canvas.overlay += [a["legend"]] if handles else []
    fig.canvas.invalidate_overlay()


def _build_race(fig):
    """Axes and artists of the race, created once per figure; later draws only move data.

    Blitting (:mod:`tnn_lib.widgets._blit`): the surface, axes, ticks and labels are rendered
    once per surface and axis range; an update redraws the trajectories, the loss curves and
    the titles, with the legend composited on top.
    """
    from tnn_lib.widgets._blit import use_blitting  # slow import (see AUTHORING.md)

    ax, ax_f = _two_panels(fig)
    a = dict(ax=ax, ax_f=ax_f, **_surface_axes(ax, DEFAULTS["surface"]))
    a["paths"] = {n: ax.plot([0], [0], "-", color=COLORS[n], lw=1.6)[0] for n in OPTIMIZERS}
    a["ends"] = {n: ax.plot([0], [0], "o", color=COLORS[n], ms=4)[0] for n in OPTIMIZERS}
    a["start"], = ax.plot([0], [0], "o", color="k", ms=5, zorder=5)
    a["losses"] = {n: ax_f.plot([0], [0], color=COLORS[n], lw=1.4)[0] for n in OPTIMIZERS}
    ax_f.set_xlabel("step")
    for axis in (ax, ax_f):
        axis.set_title(" ", y=1.0)    # y given: no search of the tick labels per draw (where it lands anyway)
    # titles in the overlay: re-rendered only when their text changes
    use_blitting(fig, [*a["paths"].values(), *a["ends"].values(), a["start"], a["minimum"], *a["losses"].values()],
                 overlay=[ax.title, ax_f.title], partial=True)    # a new steps range: only the f panel
    return a


def draw_race(state, surface=DEFAULTS["surface"], optimizers=DEFAULTS["optimizers"], lr_scale=DEFAULTS["lr_scale"],
              momentum=DEFAULTS["momentum"], x0=DEFAULTS["x0"], y0=DEFAULTS["y0"], steps=DEFAULTS["steps"]):
    """Redraw `fig`: the trajectories of the chosen optimizers on the surface (left) and f over steps (right).

    The learning rate of each optimizer is ``BASE_LR[surface][name] * lr_scale``; `x0`, `y0`
    default to the surface's start. Returns ``paths`` (name -> (k, 2) array), ``lrs``,
    ``final`` (name -> last point), ``losses`` and a ``summary``.
    """
    start = _start(surface, x0, y0)
    f = SURFACES[surface][0]
    state = widget_state(state)
    fig = state.fig
    a = state.ensure(_build_race)
    ax, ax_f = a["ax"], a["ax_f"]
    _set_surface(fig, a, surface)
    a["start"].set_data([start[0]], [start[1]])
    paths, lrs, losses, labels = {}, {}, {}, []
    for name in OPTIMIZERS:
        shown = name in optimizers
        for art in (a["paths"][name], a["ends"][name], a["losses"][name]):
            art.set_visible(shown)
        if not shown:
            continue
        lr = float(BASE_LR[surface][name] * lr_scale)
        p = run_optimizer(surface, name, lr, float(momentum), start, int(steps))
        paths[name], lrs[name] = np.array(p), lr
        losses[name] = f(p)[0]
        diverged = len(p) < int(steps) + 1
        # the legend names the optimizers (and the runs that left the plot); the learning rates
        # go in the summary under the figure: with them, every new lr drew a new legend (≈ 12 ms
        # of a 33 ms frame)
        labels.append(f"{name}{' — left the plot' if diverged else ''}")
        a["paths"][name].set_data(p[:, 0], p[:, 1])
        a["ends"][name].set_data([p[-1, 0]], [p[-1, 1]])
        if surface == "saddle":  # unbounded below: linear scale
            a["losses"][name].set_data(np.arange(len(p)), losses[name])
        else:  # minimum value 0: log10 (on a linear axis, cheaper to draw than a log axis)
            a["losses"][name].set_data(np.arange(len(p)), np.log10(np.maximum(losses[name], 1e-12)))
    ax.set_title(f"{SURFACES[surface][3]}, start ({start[0]:g}, {start[1]:g})")
    for name, label in zip(paths, labels):
        a["paths"][name].set_label(label)
    _set_legend(fig, a, ax, [a["paths"][n] for n in paths], tuple(labels), fontsize=7, loc="lower left")
    # axis ranges: the steps up to a round number (1, 1.5, 2, 3, 5, 7.5 × 10^k); f on a fixed
    # range per surface (log10 f from the 1e-12 floor to the largest f inside the plotted box),
    # so that the cached background survives every change but the surface's and the steps
    # passing a round number, and two settings compare at a glance
    ax_f.set_xlim(0, round_axis_end(int(steps)))
    ax_f.set_ylim(*F_RANGE[surface])
    ax_f.set_title("f along the trajectory" if surface == "saddle" else "log₁₀ f along the trajectory")
    final = {k: v[-1] for k, v in paths.items()}
    best = min(final, key=lambda k: f(final[k])[0]) if final else None
    summary = (f"{SURFACES[surface][3]}, {int(steps)} steps: lowest f reached by {best} "
               f"(f = {float(f(final[best])[0]):.3g} at ({final[best][0]:.2f}, {final[best][1]:.2f})); "
               "lr: " + " · ".join(f"{name} {lr:.2g}" for name, lr in lrs.items())
               if best else "no optimizer selected")
    return dict(paths=paths, lrs=lrs, final=final, losses=losses, start=start, summary=summary)


def optimizer_race(surface: str = DEFAULTS["surface"], optimizers=DEFAULTS["optimizers"],
                   lr_scale: float = DEFAULTS["lr_scale"], momentum: float = DEFAULTS["momentum"],
                   steps: int = DEFAULTS["steps"]):
    """Beale's function, a long valley and a saddle point: pick optimizers, lr, momentum and start."""
    import ipywidgets as widgets  # slow import (see AUTHORING.md)

    from tnn_lib.widgets.app import WidgetApp, new_figure  # slow import (see AUTHORING.md)

    sx, sy = SURFACES[surface][2]
    controls = dict(
        surface=widgets.Dropdown(options=[(v[3], k) for k, v in SURFACES.items()], value=surface,
                                 description="surface"),
        optimizers=widgets.SelectMultiple(options=list(OPTIMIZERS), value=tuple(optimizers), rows=6,
                                          description="optimizers"),
        lr_scale=widgets.FloatLogSlider(value=lr_scale, base=10, min=-1, max=1, step=0.01,
                                        description="lr × (base lr per optimizer)"),
        momentum=widgets.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01, description="momentum μ"),
        x0=widgets.FloatSlider(value=sx, min=BOX[0], max=BOX[1], step=0.1, readout_format=".3f",
                               description="start x"),                  # read as start y is
        y0=widgets.FloatSlider(value=sy, min=BOX[0], max=BOX[1], step=0.001, readout_format=".3f",
                               description="start y"),
        steps=widgets.IntSlider(value=steps, min=10, max=1000, step=10, description="steps"),
    )
    # each surface drawn ahead in lecture mode (its start as `_to_surface_start` sets it): the first
    # choice of another surface then shows a kept figure instead of computing its background
    warm = [dict(surface=k, x0=float(v[2][0]), y0=float(v[2][1])) for k, v in SURFACES.items()]
    return WidgetApp("Optimizer race", controls, draw_race, new_figure(11.0, 4.2), adjust=_to_surface_start, warm=warm,
                     description="The same start, the same number of gradient evaluations. SGD zig-zags across "
                                 "the valley and stalls at the saddle; momentum overshoots; the adaptive methods "
                                 "rescale each coordinate and escape the saddle.")


def _to_surface_start(app, name, new):
    """A new surface moves the start to that surface's own start (one redraw: see WidgetApp's `adjust`)."""
    if name == "surface":
        nx, ny = SURFACES[new][2]
        app.set_values(x0=nx, y0=ny)


# --------------------------------------------------------------------------- convention switchboard
SWITCH_DEFAULTS = dict(surface="valley", eps_inside=False, bias_correction=True, decay="lr", eps=1e-3,
                       weight_decay=0.1, steps=150)
SWITCH_LR = 0.1
SCHEDULE_K = 0.01  # the schedule multiplier η_t = 1/(1 + k t), also applied to lr


@student.cached(maxsize=256)  # dropped when the student edition registers an answer
def run_adamw_variant(surface: str, eps_inside: bool, bias_correction: bool, decay: str, eps: float,
                      weight_decay: float, steps: int, pytorch: bool = False):
    """Trajectory (steps + 1, 2) of AdamW with lr_t = SWITCH_LR·η_t, η_t = 1/(1 + k t), in the
    conventions switched (``tnn_lib.optim.adamw_convention_step``).

    ``pytorch=True`` runs ``tnn_lib.optim.adamw_step`` itself (the reference trajectory).
    """
    w, state = np.array(SURFACES[surface][2], dtype=float), {}
    path = [w.copy()]
    with np.errstate(all="ignore"):
        for t in range(int(steps)):
            eta = 1.0 / (1.0 + SCHEDULE_K * t)
            g = gradient(surface, w)
            if pytorch:
                optim.adamw_step(w, g, state, lr=SWITCH_LR * eta, eps=eps, weight_decay=weight_decay)
            else:
                optim.adamw_convention_step(w, g, state, lr=SWITCH_LR, multiplier=eta, eps=eps,
                                            weight_decay=weight_decay, eps_inside=eps_inside,
                                            bias_correction=bias_correction, decay=decay)
            if not np.all(np.isfinite(w)) or np.abs(w).max() > ESCAPE:
                break
            path.append(w.copy())
    path = np.array(path)
    path.setflags(write=False)
    return path


def _build_switchboard(fig):
    """Axes and artists of the switchboard, created once per figure (blitting, as `_build_race`)."""
    from tnn_lib.widgets._blit import use_blitting  # slow import (see AUTHORING.md)

    ax, ax_d = _two_panels(fig)
    a = dict(ax=ax, ax_d=ax_d, **_surface_axes(ax, SWITCH_DEFAULTS["surface"]))
    a["ref"], = ax.plot([0], [0], "-", color="tab:blue", lw=2.0, label="PyTorch AdamW")
    a["alt"], = ax.plot([0], [0], "--", color="tab:orange", lw=2.0)
    a["start"], = ax.plot([0], [0], "o", color="k", ms=5)
    a["dist"], = ax_d.plot([0], [0], color="tab:orange")
    ax_d.set_ylim(-17.5, 2)
    ax_d.set_xlabel("step")
    ax_d.set_title("log₁₀ distance from PyTorch's trajectory", y=1.0)   # y given: see _build_race
    ax.set_title(" ", y=1.0)
    use_blitting(fig, [a["ref"], a["alt"], a["start"], a["minimum"], a["dist"]], overlay=[ax.title], partial=True)
    return a


def draw_switchboard(state, surface=SWITCH_DEFAULTS["surface"], eps_inside=SWITCH_DEFAULTS["eps_inside"],
                     bias_correction=SWITCH_DEFAULTS["bias_correction"], decay=SWITCH_DEFAULTS["decay"],
                     eps=SWITCH_DEFAULTS["eps"], weight_decay=SWITCH_DEFAULTS["weight_decay"],
                     steps=SWITCH_DEFAULTS["steps"]):
    """Redraw `fig`: PyTorch's AdamW trajectory and the switched one (left), their distance per step (right).

    Returns ``pytorch`` and ``switched`` trajectories, ``distance`` per step (over the common
    length), ``max_distance``, ``final_distance`` and a ``summary``.
    """
    eps, weight_decay, steps = float(eps), float(weight_decay), int(steps)
    ref = run_adamw_variant(surface, False, True, "lr", eps, weight_decay, steps, pytorch=True)
    alt = run_adamw_variant(surface, bool(eps_inside), bool(bias_correction), str(decay), eps, weight_decay, steps)
    k = min(len(ref), len(alt))
    dist = np.linalg.norm(ref[:k] - alt[:k], axis=1)
    state = widget_state(state)
    fig = state.fig
    a = state.ensure(_build_switchboard)
    ax, ax_d = a["ax"], a["ax_d"]
    _set_surface(fig, a, surface)
    a["ref"].set_data(ref[:, 0], ref[:, 1])
    a["alt"].set_data(alt[:, 0], alt[:, 1])
    a["start"].set_data([ref[0, 0]], [ref[0, 1]])
    switched = [name for name, on in (("ε inside √", eps_inside), ("no bias correction", not bias_correction),
                                      ("decay × η_t", decay != "lr")) if on]
    label = "switched: " + (", ".join(switched) if switched else "nothing (PyTorch)")
    a["alt"].set_label(label)
    _set_legend(fig, a, ax, [a["ref"], a["alt"]], label, fontsize=7, loc="lower left")
    ax.set_title(f"AdamW on the {SURFACES[surface][3]}, lr {SWITCH_LR}·η_t, λ = {weight_decay:g}, ε = {eps:.0e}")
    a["dist"].set_data(np.arange(k), np.log10(np.maximum(dist, 1e-17)))
    ax_d.set_xlim(0, round_axis_end(steps))            # round: the cached background survives most steps
    maxd, final = float(dist.max()), float(dist[-1])
    summary = (f"max distance from the PyTorch-convention trajectory: {maxd:.3g}; after {k - 1} steps: {final:.3g}"
               + ("" if switched else " (all switches in PyTorch's convention)"))
    return dict(pytorch=np.array(ref), switched=np.array(alt), distance=dist, max_distance=maxd,
                final_distance=final, summary=summary)


def convention_switchboard(surface: str = SWITCH_DEFAULTS["surface"], eps: float = SWITCH_DEFAULTS["eps"],
                           weight_decay: float = SWITCH_DEFAULTS["weight_decay"], steps: int = SWITCH_DEFAULTS["steps"]):
    """Toggles for the conventions where the lecture notes and the AdamW paper differ from PyTorch."""
    import ipywidgets as widgets  # slow import (see AUTHORING.md)

    from tnn_lib.widgets.app import WidgetApp, new_figure  # slow import (see AUTHORING.md)

    controls = dict(
        surface=widgets.Dropdown(options=[(v[3], k) for k, v in SURFACES.items()], value=surface,
                                 description="surface"),
        eps_inside=widgets.ToggleButtons(options=[("ε outside √ (PyTorch)", False), ("ε inside √ (notes)", True)],
                                         value=False, description="ε placement"),
        bias_correction=widgets.ToggleButtons(options=[("on (PyTorch)", True), ("off", False)], value=True,
                                              description="bias correction"),
        decay=widgets.ToggleButtons(options=[("× lr (PyTorch)", "lr"), ("× η_t (paper)", "schedule")],
                                    value="lr", description="AdamW decay"),
        eps=widgets.FloatLogSlider(value=eps, base=10, min=-8, max=0, step=0.05, description="ε value",
                                   readout_format=".1e"),
        weight_decay=widgets.FloatSlider(value=weight_decay, min=0.0, max=0.5, step=0.005, readout_format=".3f",
                                          description="λ"),
        steps=widgets.IntSlider(value=steps, min=10, max=500, step=10, description="steps"),
    )
    return WidgetApp("Convention switchboard: notes and paper vs PyTorch", controls, draw_switchboard,
                     new_figure(11.0, 4.2), warm=[dict(surface=k) for k in SURFACES],   # (as the race's)
                     description="Each switch moves one convention away from PyTorch's AdamW; the right "
                                 "panel shows how far the trajectory moves (0 when every switch is PyTorch's).")
