"""The shared machinery of the topic widgets: controls -> plain update -> PNG figure."""
from __future__ import annotations

import html
import io
import time
from typing import Callable

import ipywidgets as widgets

from matplotlib.figure import Figure  # (no pyplot: nothing is shown by side effect)

from tnn_lib.widgets.state import WidgetState, widget_state  # noqa: F401 - re-exported


# Text in a figure is at least this size (points): legible on a projector at 1080p, where a
# figure 11 to 12 inches wide spans about 1400 CSS px (12 pt → 19 px), and in JupyterLab.
MIN_FONT_PT = 12.0
# Figures are drawn at this resolution: in JupyterLab an 11-inch figure spans about 1100 CSS px,
# so 144 dpi gives 1.4 image pixels per CSS pixel (0.7 per device pixel at a device pixel ratio of 2).
DPI = 144


def legible(fig: Figure, min_pt: float = MIN_FONT_PT, done: set | None = None) -> None:
    """Raise every text of `fig` (titles, labels, legends, annotations, tick labels) to at
    least `min_pt` points. `done` holds the ids of axes whose tick labels were already raised."""
    from matplotlib.text import Text

    for ax in fig.axes:
        if done is not None and id(ax) in done:
            continue
        for axis in (ax.xaxis, ax.yaxis):
            labels = axis.get_ticklabels()
            size = labels[0].get_fontsize() if labels else min_pt
            if size < min_pt:
                axis.set_tick_params(which="both", labelsize=min_pt)
        if done is not None:
            done.add(id(ax))
    for t in fig.findobj(Text):
        if t.get_fontsize() < min_pt:
            t.set_fontsize(min_pt)


def new_figure(width: float = 9.0, height: float = 4.0, dpi: int = DPI) -> Figure:
    """A figure that belongs to no pyplot state; the update functions draw into it."""
    return Figure(figsize=(width, height), dpi=dpi, layout="constrained")


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes, as ``fig.savefig(format="png")`` draws it, but faster.

    One Agg render (savefig with a layout engine — even the ``"none"`` placeholder — lays
    all text out twice) and a zlib level-1 encode (matplotlib's default level costs several
    times more for a PNG that is only ~1.5× smaller). A figure with a blitting canvas
    (:mod:`tnn_lib.widgets._blit`) redraws only its dynamic artists.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    from tnn_lib.widgets._blit import encode_png

    canvas = fig.canvas
    if hasattr(canvas, "render_png"):
        return canvas.render_png()
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.set_layout_engine(None)           # same positions; no second text layout
    if type(canvas) is not FigureCanvasAgg:
        canvas = FigureCanvasAgg(fig)         # attaches itself to the figure (no pyplot state)
    canvas.draw()
    return encode_png(canvas.buffer_rgba())


def reference_png(fig: Figure) -> bytes:
    """matplotlib's own ``savefig`` PNG of `fig`, every artist drawn (slow; for comparisons in tests)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None})  # (options: no blitting)
    return buf.getvalue()


# The widgets' own layout, in JupyterLab and in lecture mode alike (the header carries it):
# controls as wide as their text (no label cut off, ipywidgets otherwise gives every control
# a fixed width), sliders of a readable length, toggle buttons as wide as their caption.
STYLE = """<style>
.tnn-widget .tnn-control.widget-inline-hbox { width: auto; max-width: 100%; }
.tnn-widget .tnn-control .widget-label { overflow: visible; text-overflow: clip; max-width: none; }
.tnn-widget .tnn-control.widget-hslider .slider-container { flex: 0 0 auto; width: 220px; }
.tnn-widget .tnn-control .widget-toggle-button { width: auto !important; min-width: 3em; padding: 0 0.8em;
  white-space: nowrap; overflow: visible; }
.tnn-widget .tnn-control.widget-dropdown, .tnn-widget .tnn-control.widget-select-multiple { width: auto; }
.tnn-widget .tnn-control.widget-dropdown select { width: auto; max-width: 100%; }
.tnn-widget .tnn-controls { gap: 4px 24px; align-items: flex-start; }
</style>"""


class WidgetApp:
    """Controls wired to ``draw(state, **values)``; the figure is shown as a PNG image.

    Parameters
    ----------
    title : str
        Shown above the controls.
    controls : dict of name -> ipywidgets control
        Their ``value`` s are passed to `draw` by name.
    draw : callable
        ``draw(state, **values) -> dict`` redraws ``state.fig`` in place and returns the
        numbers it plotted (tests and benchmarks call it directly, without a browser).
    fig : matplotlib Figure, or a :class:`WidgetState` (its figure)
    extra : list of widgets shown under the figure (e.g. a text summary), optional.
    adjust : callable, optional
        ``adjust(app, name, new)`` runs when control `name` changes, before the redraw; the
        control values it sets cause no redraw of their own (one redraw per change).
    """

    def __init__(self, title: str, controls: dict, draw: Callable, fig, extra=None,
                 description: str = "", adjust: Callable | None = None):
        self.title = title
        self.controls = dict(controls)
        self.draw = draw
        self.state = widget_state(fig)
        self.adjust = adjust
        self._holding = False
        self._legible_axes = set()
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="1400px"))
        self.image.add_class("tnn-figure")
        self.status = widgets.HTML(value="")
        self.status.add_class("tnn-status")
        self.last = {}
        self.last_seconds = 0.0
        self.needed = None       # the one line "implement `X` first (…)" while the draw needs it
        self.driven_by = ""      # "driven by your `X`" when the draw ran on the student's code
        self.driven_extra = set()  # exercises an action (the Train button) ran on the student's code
        self.used = set()          # the exercises the last draw (and actions) ran on the student's code
        self._frozen = None   # (layout engine, axes it laid out): see refresh
        header = widgets.HTML(STYLE + f"<h3 class='tnn-title'>{title}</h3>"
                              + (f"<p class='tnn-description'>{description}</p>" if description else ""))
        header.add_class("tnn-header")
        for name, c in self.controls.items():
            c.add_class("tnn-control")
            c.add_class(f"tnn-control-{name}")
            c.style.description_width = "initial"
            c.observe(lambda change, name=name: self._changed(name, change), names="value")
        box = widgets.Box(list(self.controls.values()),
                          layout=widgets.Layout(display="flex", flex_flow="row wrap"))
        box.add_class("tnn-controls")
        self.widget = widgets.VBox([header, box, self.image, self.status] + list(extra or []))
        self.widget.add_class("tnn-widget")
        self.refresh()

    @property
    def fig(self) -> Figure:
        return self.state.fig

    def values(self) -> dict:
        return {name: c.value for name, c in self.controls.items()}

    def set_values(self, **values) -> None:
        """Set controls without a redraw per control; then one redraw (unless inside `adjust`)."""
        holding, self._holding = self._holding, True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._holding = holding
        if not holding:
            self.refresh()

    def _changed(self, name: str, change) -> None:
        if self._holding:
            return
        if self.adjust is not None:
            self._holding = True
            try:
                self.adjust(self, name, change["new"])
            finally:
                self._holding = False
        self.refresh()

    def refresh(self):
        """Redraw from the current control values and publish the new image.

        In the student edition a draw may need an exercise the student has not implemented
        yet: the status then says, in one line, which to implement first (and where) and the
        figure stays as it was; a draw that ran on the student's own implementations says so
        ("driven by your `adam_step`"). See :mod:`tnn_lib.student`."""
        from tnn_lib import student

        t0 = time.perf_counter()
        self.needed = None
        try:
            with student.tracking(isolated=True) as used:
                self.last = self.draw(self.state, **self.values()) or {}
        except NotImplementedError as err:
            line = student.needed_first(err)
            if line is None:
                raise
            self.last, self.needed, self.driven_by = {}, line, ""
            self.last_seconds = time.perf_counter() - t0
            self.status.value = f"<span class='tnn-needed'>{html.escape(line)}</span>"
            return
        self.used = set(used) | self.driven_extra
        legible(self.fig, done=self._legible_axes)
        self.image.value = self._png()
        self.last_seconds = time.perf_counter() - t0
        self._show_status()

    def _show_status(self) -> None:
        """The status line: the draw's summary, then whose code drove it (the student edition)."""
        from tnn_lib import student

        self.driven_by = student.driven_by(self.used)
        summary = self.last.get("summary") if isinstance(self.last, dict) else None
        parts = [f"<span>{summary}</span>"] if summary else []
        if self.driven_by:
            parts.append(f"<span class='tnn-driven'>{html.escape(self.driven_by)}</span>")
        self.status.value = "<br>".join(parts)

    def run_action(self, action: Callable) -> bool:
        """Run `action()` (a button's work, e.g. training) the way :meth:`refresh` runs a draw:
        an exercise not implemented yet shows as one line in the status (False is returned);
        the exercises it ran on the student's own code are named under later draws."""
        from tnn_lib import student

        try:
            with student.tracking(isolated=True) as used:
                action()
        except NotImplementedError as err:
            line = student.needed_first(err)
            if line is None:
                raise
            self.needed = line
            self.status.value = f"<span class='tnn-needed'>{html.escape(line)}</span>"
            return False
        self.driven_extra |= used
        if self.needed is None:
            self.used |= used
            self._show_status()
        return True

    def _png(self) -> bytes:
        """The figure's PNG; a constrained/tight layout is computed on the first render and
        then frozen (a layout engine re-lays out all text on every draw), and computed again
        only when the draw function replaced the figure's axes."""
        from matplotlib.layout_engine import PlaceHolderLayoutEngine

        fig = self.fig
        axes = list(fig.axes)
        if self._frozen is not None and fig.get_layout_engine() is None:
            engine, laid_out = self._frozen
            if len(laid_out) != len(axes) or any(a is not b for a, b in zip(laid_out, axes)):
                fig.set_layout_engine(engine)
        png = figure_png(fig)
        engine = fig.get_layout_engine()
        if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine) and fig.axes:
            self._frozen = (engine, list(fig.axes))
            fig.set_layout_engine(None)
        return png

    def _ipython_display_(self):  # displaying the app shows its widget
        from IPython.display import display
        display(self.widget)
