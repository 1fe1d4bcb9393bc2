"""Fast PNG updates for widgets whose axes do not change: draw the static part once.

Rendering tick labels, legends and axis text dominates a matplotlib PNG (≈ 100 ms for two
axes on a loaded machine); the moving parts (scatter points, lines, a histogram, titles)
take a few ms. :func:`use_blitting` gives a figure a canvas that renders the static
background once — the whole figure with the registered dynamic artists hidden — and, on
every ``savefig(..., format="png")`` at the figure's dpi, restores that background, draws
only the dynamic artists on it and encodes the PNG. The background is rebuilt whenever an
axis' limits or the figure's size change, so a draw function may still rescale an axis
(at full cost, once); a draw function that changes other static parts (a label, the image
behind a contour plot) calls :meth:`BlitCanvas.invalidate`. Any other ``savefig`` (another
format or dpi, extra options) takes matplotlib's ordinary path.

Optional ``overlay`` artists (typically legends) are static but must stay *above* the
dynamic ones: they are rendered once onto a transparent layer and composited over every
frame; that layer alone is re-rendered when an overlay text or legend label changes (or
after :meth:`BlitCanvas.invalidate_overlay`), which costs only the overlay's own text —
titles that change now and then are cheaper there than among the dynamic artists.
"""
from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text


def encode_png(rgba) -> bytes:
    """PNG bytes of an RGBA buffer (RGB when opaque), zlib level 1 (3–5× faster than the default, ~1.5× larger)."""
    from PIL import Image

    arr = np.asarray(rgba)
    img = Image.fromarray(arr)
    if arr[..., 3].min() == 255:          # opaque (the usual figure): drop the alpha channel
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="png", compress_level=1)
    return buf.getvalue()


class BlitCanvas(FigureCanvasAgg):
    """An Agg canvas that caches everything but ``dynamic`` artists between PNG saves."""

    def __init__(self, figure, dynamic=(), overlay=()):
        super().__init__(figure)
        self.dynamic = list(dynamic)
        self.overlay = list(overlay)
        self._background = None
        self._overlay_layer = None        # (row slice, col slice, rgb float array, alpha array) or None
        self._overlay_stale = True
        self._key = None
        self._overlay_version = None

    # ------------------------------------------------------------------ cache control
    def invalidate(self):
        """Rebuild the static background (and the overlay) on the next PNG."""
        self._background = None
        self._overlay_stale = True

    def invalidate_overlay(self):
        """Re-render only the overlay layer on the next PNG."""
        self._overlay_stale = True

    def _overlay_key(self):
        """What the overlay layer shows: visibility and text of its (legend) texts."""
        key = []
        for a in self.overlay:
            texts = a.get_texts() if hasattr(a, "get_texts") else [a] if hasattr(a, "get_text") else []
            key.append((id(a), a.get_visible(), tuple((t.get_text(), t.get_position()) for t in texts)))
        return tuple(key)

    def _static_key(self):
        fig = self.figure
        return (tuple(fig.get_size_inches()), fig.dpi,
                tuple(ax.get_xlim() + ax.get_ylim() + tuple(ax.get_position().bounds) for ax in fig.axes))

    # ------------------------------------------------------------------ rendering
    def _hidden(self, artists):
        """Hide `artists`; returns their visibility states to restore."""
        states = [(a, a.get_visible()) for a in artists]
        for a, _ in states:
            a.set_visible(False)
        return states

    def _rebuild(self):
        # an axes draw moves its title off the figure when the title is hidden: keep every
        # dynamic text where the last full draw put it
        places = [(a, a.get_position()) for a in self.dynamic + self.overlay if isinstance(a, Text)]
        states = self._hidden(self.dynamic + self.overlay)
        try:
            FigureCanvasAgg.draw(self)
        finally:
            for a, v in states:
                a.set_visible(v)
            for a, xy in places:
                a.set_position(xy)
        self._background = self.copy_from_bbox(self.figure.bbox)
        self._key = self._static_key()
        self._overlay_stale = True

    def _render_overlay(self):
        self._overlay_stale = False
        self._overlay_layer = None
        shown = [a for a in self.overlay if a.get_visible()]
        if not shown:
            return
        renderer = self.get_renderer()
        renderer.clear()                                  # transparent
        for a in shown:
            (a.axes or self.figure).draw_artist(a)
        arr = np.asarray(self.buffer_rgba())
        alpha = arr[..., 3]
        rows, cols = np.nonzero(alpha.any(axis=1))[0], np.nonzero(alpha.any(axis=0))[0]
        if rows.size == 0:
            return
        rs, cs = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
        crop = arr[rs, cs].astype(np.float32)
        self._overlay_layer = (rs, cs, crop[..., :3], crop[..., 3:] / 255.0)

    def render_png(self) -> bytes:
        if self._background is None or self._key != self._static_key():
            if self.figure.get_layout_engine() is not None:
                # lay the figure out once with everything visible (titles take their room),
                # then keep those positions for every background (None, not "none": the
                # placeholder engine would make savefig lay the text out twice)
                FigureCanvasAgg.draw(self)
                self.figure.set_layout_engine(None)
            self._rebuild()
        key = self._overlay_key()
        if self._overlay_stale or key != self._overlay_version:
            self._render_overlay()
            self._overlay_version = key
        self.restore_region(self._background)
        for a in self.dynamic:
            if a.get_visible():
                (a.axes or self.figure).draw_artist(a)
        arr = np.asarray(self.buffer_rgba())
        if self._overlay_layer is not None:
            rs, cs, rgb, alpha = self._overlay_layer
            under = arr[rs, cs, :3].astype(np.float32)
            arr[rs, cs, :3] = (rgb * alpha + under * (1.0 - alpha) + 0.5).astype(np.uint8)
        return encode_png(arr)

    def print_figure(self, filename, *args, **kwargs):
        fmt = kwargs.get("format")
        if fmt is None and isinstance(filename, str):
            fmt = filename.rsplit(".", 1)[-1].lower()
        plain = not args and set(kwargs) <= {"format", "dpi"} and kwargs.get("dpi", self.figure.dpi) == self.figure.dpi
        if fmt != "png" or not plain:
            self._background = None      # the ordinary path draws everything: re-cache afterwards
            return super().print_figure(filename, *args, **kwargs)
        data = self.render_png()
        if hasattr(filename, "write"):
            filename.write(data)
        else:
            with open(filename, "wb") as fh:
                fh.write(data)
        return None


def use_blitting(fig, dynamic, overlay=()):
    """Give `fig` a :class:`BlitCanvas` redrawing only the artists in `dynamic` (in that
    order, over the cached background), with the `overlay` artists composited on top."""
    BlitCanvas(fig, dynamic, overlay)          # the canvas attaches itself to the figure
    return fig
