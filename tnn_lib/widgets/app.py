"""The shared machinery of the topic widgets: controls -> plain update -> PNG figure."""
from __future__ import annotations

import io
import time
from typing import Callable

import ipywidgets as widgets

from matplotlib.figure import Figure  # (no pyplot: nothing is shown by side effect)


def new_figure(width: float = 9.0, height: float = 4.0, dpi: int = 80) -> Figure:
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


class WidgetApp:
    """Controls wired to ``draw(fig, **values)``; the figure is shown as a PNG image.

    Parameters
    ----------
    title : str
        Shown above the controls.
    controls : dict of name -> ipywidgets control
        Their ``value`` s are passed to `draw` by name.
    draw : callable
        ``draw(fig, **values) -> dict`` redraws `fig` in place and returns the numbers it
        plotted (tests and benchmarks call it directly, without a browser).
    fig : matplotlib Figure
    extra : list of widgets shown under the figure (e.g. a text summary), optional.
    """

    def __init__(self, title: str, controls: dict, draw: Callable, fig: Figure, extra=None,
                 description: str = ""):
        self.title = title
        self.controls = dict(controls)
        self.draw = draw
        self.fig = fig
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="1400px"))
        self.image.add_class("tnn-figure")
        self.status = widgets.HTML(value="")
        self.status.add_class("tnn-status")
        self.last = {}
        self.last_seconds = 0.0
        self._frozen = None   # (layout engine, axes it laid out): see refresh
        header = widgets.HTML(f"<h3 class='tnn-title'>{title}</h3>" + (f"<p>{description}</p>" if description else ""))
        for name, c in self.controls.items():
            c.add_class("tnn-control")
            c.add_class(f"tnn-control-{name}")
            c.style.description_width = "initial"
            c.observe(self._on_change, names="value")
        box = widgets.Box(list(self.controls.values()),
                          layout=widgets.Layout(display="flex", flex_flow="row wrap"))
        box.add_class("tnn-controls")
        self.widget = widgets.VBox([header, box, self.image, self.status] + list(extra or []))
        self.widget.add_class("tnn-widget")
        self.refresh()

    def values(self) -> dict:
        return {name: c.value for name, c in self.controls.items()}

    def refresh(self):
        """Redraw from the current control values and publish the new image."""
        t0 = time.perf_counter()
        self.last = self.draw(self.fig, **self.values()) or {}
        self.image.value = self._png()
        self.last_seconds = time.perf_counter() - t0
        summary = self.last.get("summary") if isinstance(self.last, dict) else None
        self.status.value = f"<span>{summary}</span>" if summary else ""

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

    def _on_change(self, change):
        self.refresh()

    def _ipython_display_(self):  # displaying the app shows its widget
        from IPython.display import display
        display(self.widget)
