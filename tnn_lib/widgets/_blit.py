"""Fast PNG updates for widgets whose axes do not change: draw the static part once.

Rendering tick labels, legends and axis text dominates a matplotlib PNG (≈ 100 ms for two
axes on a loaded machine); the moving parts (scatter points, lines, a histogram, titles)
take a few ms. :func:`use_blitting` gives a figure a canvas that renders the static
background once — the whole figure with the registered dynamic artists hidden — and, on
every ``savefig(..., format="png")`` at the figure's dpi, restores that background, draws
only the dynamic artists on it and encodes the PNG. The background is rebuilt whenever an
axis' limits or the figure's size change, so a draw function may still rescale an axis
(at full cost, once). Any other ``savefig`` (another format or dpi, extra options) takes
matplotlib's ordinary path.
"""
from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg


class BlitCanvas(FigureCanvasAgg):
    """An Agg canvas that caches everything but ``dynamic`` artists between PNG saves."""

    def __init__(self, figure, dynamic=()):
        super().__init__(figure)
        self.dynamic = list(dynamic)
        self._background = None
        self._key = None

    def _static_key(self):
        fig = self.figure
        return (tuple(fig.get_size_inches()), fig.dpi,
                tuple(ax.get_xlim() + ax.get_ylim() for ax in fig.axes))

    def _rebuild(self):
        for a in self.dynamic:
            a.set_visible(False)
        try:
            FigureCanvasAgg.draw(self)
        finally:
            for a in self.dynamic:
                a.set_visible(True)
        self._background = self.copy_from_bbox(self.figure.bbox)
        self._key = self._static_key()

    def render_png(self) -> bytes:
        from PIL import Image

        if self._background is None or self._key != self._static_key():
            if self.figure.get_layout_engine() is not None:
                # lay the figure out once with everything visible (titles take their room),
                # then keep those positions for every background
                FigureCanvasAgg.draw(self)
                self.figure.set_layout_engine("none")
            self._rebuild()
        self.restore_region(self._background)
        for a in self.dynamic:
            (a.axes or self.figure).draw_artist(a)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(self.buffer_rgba())).save(buf, format="png", compress_level=1)
        return buf.getvalue()

    def print_figure(self, filename, *args, **kwargs):
        fmt = kwargs.get("format")
        if fmt is None and isinstance(filename, str):
            fmt = filename.rsplit(".", 1)[-1].lower()
        plain = not args and set(kwargs) <= {"format", "dpi"} and kwargs.get("dpi", self.figure.dpi) == self.figure.dpi
        if fmt != "png" or not plain:
            return super().print_figure(filename, *args, **kwargs)
        data = self.render_png()
        if hasattr(filename, "write"):
            filename.write(data)
        else:
            with open(filename, "wb") as fh:
                fh.write(data)
        return None


def use_blitting(fig, dynamic):
    """Give `fig` a :class:`BlitCanvas` redrawing only the artists in `dynamic`."""
    BlitCanvas(fig, dynamic)          # the canvas attaches itself to the figure
    return fig
