"""Schedule and landscape explorer: a schedule's learning rate and where it takes gradient descent.

Two surfaces from the lecture notes' landscape: a quadratic **valley**
``f = ½(x² + κy²)`` (condition number κ, so 2/λ_max = 2/κ) and a **saddle**
``f = ½κx² − ½y² + ¼y⁴`` (a saddle at the origin, minima at (0, ±1), where the Hessian is
diag(κ, 2), so 2/λ_max = 2/max(κ, 2) there). Left: the learning rate of the chosen schedule per step
against the stability boundary 2/λ_max. Middle: the trajectory of gradient descent with
momentum on the surface. Right: the loss per step.

Every algorithm comes from :mod:`tnn_lib.optim` (the schedules, ``ReduceLROnPlateau``,
``momentum_step`` and ``max_stable_lr``). There is no module-level state: the factory makes
an :class:`ExplorerState` (a :class:`WidgetState`: the figure and its artists) and the update path is the plain
function :func:`draw_schedule_explorer` of that state and the control values.
"""
from __future__ import annotations


import numpy as np

from tnn_lib import optim
from tnn_lib.widgets._blit import round_axis_end
from tnn_lib.widgets.state import WidgetState, widget_state

SCHEDULES = ("constant", "step decay (×½ every 20)", "1/t decay", "cosine annealing",
             "warm-up then cosine", "plateau: ÷10 (ReduceLROnPlateau)")
SURFACES = ("valley", "saddle")
DEFAULTS = dict(surface="valley", schedule="constant", lr_scale=0.9, momentum=0.0, kappa=20.0, steps=60, noise=0.0)
KAPPAS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0)     # the κ slider's stops
FLOOR = {"valley": 0.0, "saddle": -0.25}                   # the minimum value of each surface
STARTS = {"valley": (-4.0, 1.0), "saddle": (-3.0, 0.02)}   # the saddle run starts just off the ridge


def hessian(surface: str, kappa: float) -> np.ndarray:
    """The Hessian that sets the stable rate: the valley's, or the saddle's at its minima."""
    if surface == "valley":
        return np.diag([1.0, float(kappa)])
    if surface == "saddle":
        return np.diag([float(kappa), 2.0])  # ∂²f/∂y² = −1 + 3y² = 2 at y = ±1
    raise ValueError(f"surface: expected one of {SURFACES}, got {surface!r}")


def loss(surface: str, kappa: float, x, y):
    if surface == "valley":
        return 0.5 * (x ** 2 + kappa * y ** 2)
    return 0.5 * kappa * x ** 2 - 0.5 * y ** 2 + 0.25 * y ** 4


def gradient(surface: str, kappa: float, w: np.ndarray) -> np.ndarray:
    x, y = w
    if surface == "valley":
        return np.array([x, kappa * y])
    return np.array([kappa * x, -y + y ** 3])


def schedule_rates(schedule: str, lr0: float, steps: int) -> np.ndarray | None:
    """The rate at steps 0 … steps − 1 of a fixed schedule (None for the plateau rule,
    whose rate depends on the losses)."""
    t = range(steps)
    if schedule == SCHEDULES[0]:
        return np.full(steps, lr0)
    if schedule == SCHEDULES[1]:
        return np.array([optim.step_decay(lr0, k, drop=0.5, every=20) for k in t])
    if schedule == SCHEDULES[2]:
        return np.array([optim.inverse_time_decay(lr0, k, k=0.05) for k in t])
    if schedule == SCHEDULES[3]:
        return np.array([optim.cosine_annealing(lr0, k, T_max=max(steps - 1, 1)) for k in t])
    if schedule == SCHEDULES[4]:
        warm = max(steps // 10, 1)
        return np.array([optim.linear_warmup(lr0, k, total_iters=warm, start_factor=0.1) if k < warm else
                         optim.cosine_annealing(lr0, k - warm, T_max=max(steps - 1 - warm, 1)) for k in t])
    if schedule == SCHEDULES[5]:
        return None
    raise ValueError(f"schedule: expected one of {SCHEDULES}, got {schedule!r}")


def run(surface: str, schedule: str, lr0: float, momentum: float, kappa: float, steps: int, noise: float = 0.0):
    """Gradient descent with (PyTorch) momentum under the schedule: (path (steps+1, 2),
    losses (steps+1,), rates (steps,)). ``noise`` adds Gaussian noise of that standard
    deviation to every gradient (a stochastic gradient, from a fixed seed), so a constant
    rate stalls at a noise floor; the plateau rule watches loss − min. A run that blows up
    stops where |w| > 1e6."""
    w, state = np.array(STARTS[surface], dtype=float), {}
    rng = np.random.default_rng(0)
    path, losses = [w.copy()], [float(loss(surface, kappa, *w))]
    fixed = schedule_rates(schedule, lr0, steps)
    plateau = (optim.ReduceLROnPlateau(lr0, patience=10, cooldown=5, threshold=0.01, min_lr=lr0 * 1e-3)
               if fixed is None else None)
    rates = []
    for k in range(steps):
        lr = fixed[k] if fixed is not None else plateau.lr
        rates.append(lr)
        g = gradient(surface, kappa, w) + noise * rng.standard_normal(2)
        optim.momentum_step(w, g, state, lr=lr, momentum=momentum)
        path.append(w.copy())
        losses.append(float(loss(surface, kappa, *w)))
        if not np.all(np.abs(w) < 1e6):
            break
        if plateau is not None:
            plateau.step(losses[-1] - FLOOR[surface])
    return np.array(path), np.array(losses), np.array(rates)


class ExplorerState(WidgetState):
    """The explorer's :class:`WidgetState`: its figure, the artists the draw updates, and the
    surface and κ its contours were drawn for (one per widget, no globals)."""

    def __init__(self, fig):
        super().__init__(fig, surface=None, kappa=None)


def _setup(fig) -> dict:
    ax_lr, ax_path, ax_loss = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.3, 1]})
    a = {}
    a["ax_lr"], a["ax_path"], a["ax_loss"] = ax_lr, ax_path, ax_loss
    a["lr"], = ax_lr.plot([], [], color="tab:blue", label="learning rate")
    a["limit"] = ax_lr.axhline(1.0, color="tab:red", ls="--", lw=1.2, label="2/λ_max")
    ax_lr.set_xlabel("step")
    ax_lr.set_ylabel("learning rate")
    legend = ax_lr.legend(fontsize=7, loc="upper right")
    a["path"], = ax_path.plot([], [], "o-", ms=2, lw=1, color="tab:green")
    a["start"], = ax_path.plot([], [], "ks", ms=5)
    ax_path.set_xlim(-4.5, 4.5)
    ax_path.set_ylim(-2.0, 2.0)
    ax_path.set_xlabel("x")
    ax_path.set_ylabel("y")
    a["loss"], = ax_loss.semilogy([], [], color="tab:purple")
    from matplotlib.ticker import LogLocator, NullLocator  # slow import (see AUTHORING.md)
    ax_loss.yaxis.set_major_locator(LogLocator(numticks=6))   # few labels: the text is most of a redraw
    ax_loss.yaxis.set_minor_locator(NullLocator())
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss − min")
    # blitting (tnn_lib.widgets._blit): axes, ticks, labels and contours are rendered once per
    # axis range (and surface, κ); an update draws the curves and titles, the legend on top
    from tnn_lib.widgets._blit import use_blitting  # slow import (see AUTHORING.md)
    for ax in (ax_lr, ax_path, ax_loss):
        ax.set_title(" ", fontsize=9, y=1.0)   # y given: no search of the tick labels per draw (where it lands anyway)
    use_blitting(fig, [a["lr"], a["limit"], a["path"], a["start"], a["loss"], ax_lr.title, ax_path.title,
                       ax_loss.title], overlay=[legend])
    return a


def _contours(state: WidgetState, surface: str, kappa: float):
    if state.data["surface"] == surface and state.data["kappa"] == kappa:
        return
    ax = state.artists["ax_path"]
    for c in state.artists.pop("contours", []):
        c.remove()
    gx, gy = np.meshgrid(np.linspace(-4.5, 4.5, 121), np.linspace(-2.0, 2.0, 61))
    f = loss(surface, kappa, gx, gy)
    levels = np.geomspace(0.02, f.max(), 14) if surface == "valley" else np.linspace(f.min(), f.max(), 20)
    state.artists["contours"] = [ax.contour(gx, gy, f, levels=levels, colors="0.75", linewidths=0.6)]
    state.data["surface"], state.data["kappa"] = surface, kappa
    if hasattr(state.fig.canvas, "static_tag"):
        state.fig.canvas.static_tag = (surface, kappa)   # the contours are part of the cached background


def draw_schedule_explorer(state: WidgetState, surface=DEFAULTS["surface"], schedule=DEFAULTS["schedule"],
                           lr_scale=DEFAULTS["lr_scale"], momentum=DEFAULTS["momentum"],
                           kappa=DEFAULTS["kappa"], steps=DEFAULTS["steps"], noise=DEFAULTS["noise"]):
    """Redraw the explorer for the control values; ``lr_scale`` is lr₀ in units of 2/λ_max.

    Returns the numbers plotted: ``rates``, ``path``, ``losses``, ``max_stable_lr``,
    ``lr0``, ``diverged`` and a one-line ``summary``.
    """
    if surface not in SURFACES:
        raise ValueError(f"surface: expected one of {SURFACES}, got {surface!r}")
    kappa, steps, lr_scale = float(kappa), int(steps), float(lr_scale)
    if kappa < 1:
        raise ValueError(f"kappa: expected a condition number >= 1, got {kappa!r}")
    if steps < 1:
        raise ValueError(f"steps: expected at least 1, got {steps!r}")
    state = widget_state(state)
    state.data.setdefault("surface", None)
    state.data.setdefault("kappa", None)
    state.ensure(_setup)
    limit = optim.max_stable_lr(hessian(surface, kappa))
    lr0 = lr_scale * limit
    path, losses, rates = run(surface, schedule, lr0, float(momentum), kappa, steps, float(noise))
    diverged = bool(not np.all(np.abs(path[-1]) < 1e3))
    a = state.artists
    _contours(state, surface, kappa)
    a["lr"].set_data(np.arange(len(rates)), rates)
    a["limit"].set_ydata([limit, limit])
    a["ax_lr"].set_xlim(0, round_axis_end(max(steps - 1, 1)))   # round ends: the cached background
                                                                  # survives most step counts
    # the top rounded up (1, 1.5, 2, 3, 5, 7.5 × 10^k): the background survives most lr₀ changes
    a["ax_lr"].set_ylim(0, round_axis_end(1.4 * max(limit, float(np.max(rates)) if len(rates) else limit)))
    a["ax_lr"].set_title(f"{schedule}: lr₀ = {lr_scale:.2f} × 2/λ_max", fontsize=9)
    a["path"].set_data(np.clip(path[:, 0], -1e3, 1e3), np.clip(path[:, 1], -1e3, 1e3))
    a["start"].set_data([path[0, 0]], [path[0, 1]])
    where = ("valley ½(x² + κy²)" if surface == "valley" else "saddle ½κx² − ½y² + ¼y⁴") + f", κ = {kappa:g}"
    a["ax_path"].set_title(f"{where}; momentum {float(momentum):.2f}", fontsize=9)
    floor = FLOOR[surface]
    gap = np.maximum(np.where(np.isfinite(losses), losses - floor, 1e12), 1e-12)
    a["loss"].set_data(np.arange(len(gap)), np.minimum(gap, 1e12))
    a["ax_loss"].set_xlim(0, round_axis_end(max(steps, 1)))
    a["ax_loss"].set_ylim(1e-12, 1e4 if not diverged else 1e12)
    a["ax_loss"].set_title("diverged" if diverged else f"final loss − min = {gap[-1]:.2g}", fontsize=9)
    summary = (f"2/λ_max = {limit:.4g}, lr₀ = {lr0:.4g}; after {len(rates)} steps "
               + ("the run diverged" if diverged else f"loss − min = {gap[-1]:.3g} at ({path[-1, 0]:.3g}, {path[-1, 1]:.3g})"))
    return dict(rates=rates, path=path, losses=losses, max_stable_lr=limit, lr0=lr0, diverged=diverged,
                summary=summary)


def schedule_explorer(surface: str = DEFAULTS["surface"], schedule: str = DEFAULTS["schedule"],
                      lr_scale: float = DEFAULTS["lr_scale"], momentum: float = DEFAULTS["momentum"],
                      kappa: float = DEFAULTS["kappa"], steps: int = DEFAULTS["steps"],
                      noise: float = DEFAULTS["noise"]):
    """Surface and schedule menus; sliders for lr₀ (× 2/λ_max), momentum, κ, the number of steps
    and the gradient noise."""
    import ipywidgets as widgets  # slow import (see AUTHORING.md)

    from tnn_lib.widgets.app import WidgetApp, new_figure  # slow import (see AUTHORING.md)

    wide = dict(layout=widgets.Layout(width="320px"), style={"description_width": "initial"})
    controls = dict(
        surface=widgets.Dropdown(options=list(SURFACES), value=surface, description="surface", **wide),
        schedule=widgets.Dropdown(options=list(SCHEDULES), value=schedule, description="schedule", **wide),
        lr_scale=widgets.FloatSlider(value=lr_scale, min=0.05, max=1.3, step=0.01, description="lr₀ × λ_max/2", **wide),
        momentum=widgets.FloatSlider(value=momentum, min=0.0, max=0.95, step=0.01, description="momentum μ", **wide),
        kappa=widgets.SelectionSlider(options=sorted(set(KAPPAS) | {float(kappa)}), value=float(kappa),
                                      description="condition number κ", **wide),
        steps=widgets.IntSlider(value=steps, min=5, max=300, step=5, description="steps", **wide),
        noise=widgets.FloatSlider(value=noise, min=0.0, max=1.0, step=0.01, description="gradient noise σ", **wide),
    )
    state = ExplorerState(new_figure(12.0, 3.8))

    # drawn ahead in lecture mode (see WidgetApp's `warm`): every κ stop and the other surface, so a first
    # choice of one shows a kept figure, and the tick labels and glyphs of its axes are ready
    warm = [dict(kappa=k) for k in controls["kappa"].options] + [dict(surface=s) for s in SURFACES]
    return WidgetApp("Schedules and the landscape: 2/λ_max, momentum, saddles", controls, draw_schedule_explorer, state,
                     warm=warm,
                     description="Above the dashed line 2/λ_max gradient descent diverges along the steepest "
                                 "direction. Momentum speeds up the flat direction of a long valley; on the "
                                 "saddle, a start just off the ridge escapes along the negative curvature.")
