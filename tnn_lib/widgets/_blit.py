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
import math
import struct
import zlib

import numpy as np

from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.axis import Axis
from matplotlib.image import AxesImage, _resample
from matplotlib.text import Text
from matplotlib.transforms import Affine2D, Bbox, IdentityTransform

try:  # a dependency
    from isal import isal_zlib
except ImportError:  # pragma: no cover
    isal_zlib = None


def _deflate():
    """The fastest zlib-format compressor at hand: ISA-L's level 0 (``isal``, a dependency;
    ~20× zlib's level 1 for a figure, output ~30 % larger), else zlib's level 1."""
    if isal_zlib is not None:
        return lambda data: isal_zlib.compress(data, 0)
    return lambda data: zlib.compress(data, 1)                # pragma: no cover - isal is a dependency


_compress = _deflate()


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def encode_png(rgba) -> bytes:
    """PNG bytes of an RGBA (or RGB) buffer, written directly: no row filter (a figure's flat
    colours compress well unfiltered) and a fast deflate (see `_deflate`). An RGBA buffer is
    written as RGBA even when opaque: dropping the alpha channel is a strided copy that costs
    more than twice the compression of the extra bytes (≈ 40 ms of a 2200 × 840 figure).
    About 20× faster than Pillow's PNG at its fastest level, for a file about 20 % larger;
    any PNG decoder reads it (tests compare the pixels with Pillow's)."""
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype != np.uint8:
        raise ValueError(f"expected an (h, w, 3 or 4) uint8 image, got {arr.dtype} {arr.shape}")
    h, w, c = arr.shape
    raw = np.empty((h, w * c + 1), np.uint8)
    raw[:, 0] = 0                              # filter type 0 (none) on every row
    raw[:, 1:] = arr.reshape(h, w * c)         # whole rows: a contiguous copy
    header = struct.pack(">IIBBBBB", w, h, 8, 2 if c == 3 else 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", _compress(raw.data))
            + _chunk(b"IEND", b""))


# --------------------------------------------------------------------------- glyph cache
# matplotlib (3.11) renders text glyph by glyph with FreeType, each at its sub-pixel position:
# ≈ 0.1–0.2 ms a glyph at 200 dpi, 15–20 ms for one title — most of a blitted redraw. A glyph's
# bitmap depends only on the font, size, dpi, transform and the fractional part of its position
# (a whole-pixel shift of the hinted outline shifts the bitmap exactly), so bitmaps are kept
# per that key and drawn again at the whole-pixel offset: the same pixels, without FreeType.
_GLYPHS: dict = {}
_GLYPHS_KEEP = 50_000


def _draw_glyphs_cached(renderer, gc, x, y, angle, glyphs, boxes):
    """RendererAgg._draw_text_glyphs_and_boxes with the glyph bitmaps kept (see above)."""
    from matplotlib.ft2font import RenderMode  # slow import (see AUTHORING.md)

    if boxes or not gc.get_antialiased():
        return RendererAgg._draw_text_glyphs_and_boxes(renderer, gc, x, y, angle, glyphs, boxes)
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    load_flags = get_hinting_flag()
    height = renderer.height
    matrices = {}
    for font, size, glyph_index, slant, extend, dx, dy in glyphs:        # dy is upwards
        matrix = matrices.get((slant, extend))
        if matrix is None:
            m = (0x10000 * np.array([[cos, -sin], [sin, cos]]) @ [[extend, extend * slant], [0, 1]]).round().astype(int)
            matrix = matrices[(slant, extend)] = (m, tuple(m.ravel()))
        px = round(0x40 * (x + dx * cos - dy * sin))
        py = round(0x40 * (height - y + dx * sin + dy * cos))            # FreeType's y is upwards
        key = (font.fname, font.family_name, font.style_name, size, renderer.dpi, glyph_index, matrix[1],
               px & 63, py & 63, load_flags)
        hit = _GLYPHS.get(key)
        if hit is None:
            font.set_size(size, renderer.dpi)
            font._set_transform(matrix[0], [px & 63, py & 63])
            bitmap = font._render_glyph(glyph_index, load_flags, RenderMode.NORMAL)
            hit = (np.array(bitmap.buffer), bitmap.left, bitmap.top)
            if len(_GLYPHS) >= _GLYPHS_KEEP:
                _GLYPHS.clear()
            _GLYPHS[key] = hit
        buffer, left, top = hit
        # draw_text_image's y is downwards & the bitmap's bottom side
        renderer._renderer.draw_text_image(buffer, left + (px >> 6), int(height) - (top + (py >> 6)) + buffer.shape[0],
                                           0, gc)


# The same for a text's layout (its glyphs and their positions, FreeType's kerning and
# shaping): matplotlib lays a text out again at every draw (≈ 1–2 ms a tick label), though
# it depends only on the string, the font and its size and the dpi.
_LAYOUTS: dict = {}
_LAYOUTS_KEEP = 20_000


def _draw_text_cached(renderer, gc, x, y, s, prop, angle, ismath=False, mtext=None):
    """RendererAgg.draw_text with the layout of plain (not math) text kept (see above)."""
    if ismath:
        return RendererAgg.draw_text(renderer, gc, x, y, s, prop, angle, ismath, mtext)
    features = mtext.get_fontfeatures() if mtext is not None else None
    language = mtext.get_language() if mtext is not None else None
    size = prop.get_size_in_points()
    flags = get_hinting_flag()
    try:
        key = (s, hash(prop), size, renderer.dpi, features if features is None else tuple(features), language, flags)
        hash(key)
    except TypeError:                                   # pragma: no cover - unhashable features
        return RendererAgg.draw_text(renderer, gc, x, y, s, prop, angle, ismath, mtext)
    items = _LAYOUTS.get(key)
    if items is None:
        font = renderer._prepare_font(prop)
        items = [(item.ft_object, item.glyph_index, item.x, item.y)
                 for item in font._layout(s, flags=flags, features=features, language=language)]
        if len(_LAYOUTS) >= _LAYOUTS_KEEP:
            _LAYOUTS.clear()
        _LAYOUTS[key] = items
    renderer._draw_text_glyphs_and_boxes(
        gc, x, y, angle, ((ft, size, glyph, 0, 1, dx, dy) for ft, glyph, dx, dy in items), [])


# And a text's whole layout (its box, lines and their offsets from the text's anchor), which
# matplotlib computes twice per tick label and draw (for the label's box, then to draw it):
# ≈ 30 % of rebuilding a background whose ticks changed (01's weight range, 08's κ). It
# depends only on the text's properties below, not on where the text is; kept for the
# renderers of blitting canvases only (a student's own figures take matplotlib's path).
_TEXT_LAYOUTS: dict = {}
_TEXT_LAYOUTS_KEEP = 20_000
_plain_get_layout = Text._get_layout


def _layout_key(text: Text, renderer):
    """What `text`'s layout depends on, or None when it is not kept (wrapped or TeX text, or
    a renderer that is not a blitting canvas's)."""
    if not vars(renderer).get("_tnn_layouts") or text.get_wrap() or text.get_usetex():
        return None
    try:
        key = (type(text), text.get_text(), hash(text._fontproperties), text._linespacing,
               text._get_multialignment(), text.get_rotation(), text.get_rotation_mode(),
               text._horizontalalignment, text._verticalalignment, text.get_parse_math(),
               text.get_figure(root=True).dpi, renderer.dpi)
        hash(key)
    except (TypeError, AttributeError):
        return None
    return key


def _get_layout_kept(text: Text, renderer):
    """``Text._get_layout`` with the result kept per :func:`_layout_key` (a fresh box each call)."""
    key = _layout_key(text, renderer)
    if key is None:
        return _plain_get_layout(text, renderer)
    hit = _TEXT_LAYOUTS.get(key)
    if hit is None:
        bbox, lines, corner = _plain_get_layout(text, renderer)
        if len(_TEXT_LAYOUTS) >= _TEXT_LAYOUTS_KEEP:
            _TEXT_LAYOUTS.clear()
        hit = _TEXT_LAYOUTS[key] = (bbox.bounds, tuple(lines), corner)
    bounds, lines, corner = hit
    return Bbox.from_bounds(*bounds), list(lines), corner


Text._get_layout = _get_layout_kept


# Within one draw of a blitting canvas's figure an axis computes its ticks (locator, formatter,
# every tick moved and relabelled) three times: to draw them, and twice more to place its label
# clear of the tick labels. Kept for the length of one draw (`_one_draw`), per axis, range and
# place: the same ticks, computed once.
_plain_update_ticks = Axis._update_ticks


def _update_ticks_kept(axis):
    memo = getattr(getattr(axis.get_figure(root=True), "canvas", None), "_tick_memo", None)
    if memo is None:
        return _plain_update_ticks(axis)
    key = (id(axis), tuple(axis.get_view_interval()), axis.axes.bbox.bounds)
    ticks = memo.get(key)
    if ticks is None:
        ticks = memo[key] = _plain_update_ticks(axis)
    return ticks


Axis._update_ticks = _update_ticks_kept


# --------------------------------------------------------------------------- nearest images
class NearestImage(AxesImage):
    """An :class:`~matplotlib.image.AxesImage` drawn with nearest-neighbour interpolation whose
    mapping from screen pixels to data cells is kept while its geometry stays the same.

    matplotlib resamples the data to the screen at every draw (Agg's resampler on the float
    data, then the norm and colour map on every screen pixel: ≈ 3 ms for an 81 × 81 image on
    430 × 390 pixels). With nearest-neighbour interpolation each screen pixel shows one data
    cell, and which one depends only on the data's shape, the output size and the transform.
    So the first draw of a geometry resamples the cells' numbers (1 … M·N) with matplotlib's
    own resampler, and its coverage (the alpha matplotlib computes), and keeps them; every
    draw then colours the M × N cells and gathers them. The same pixels as matplotlib's path
    (a test compares them at several sizes and resolutions). Masked data, array or no limits
    of the colour scale (norm not scaled), an unsampled draw or another interpolation take
    matplotlib's path."""

    _kept_map = None          # (geometry, data cell per pixel, coverage alpha, all covered)

    def _make_image(self, A, in_bbox, out_bbox, clip_bbox, magnification=1.0, unsampled=False,
                    round_to_pixel_border=True):
        alpha = self.get_alpha()
        if (unsampled or not round_to_pixel_border or A.ndim != 2 or A.dtype.kind != "f"
                or self.get_interpolation() != "nearest" or np.ndim(alpha) > 0 or not self.norm.scaled()
                or np.ma.getmaskarray(A).any()):
            return super()._make_image(A, in_bbox, out_bbox, clip_bbox, magnification, unsampled,
                                       round_to_pixel_border)
        # the geometry as matplotlib's _make_image computes it
        clipped = Bbox.intersection(out_bbox, clip_bbox)
        if clipped is None:
            return None, 0, 0, None
        ext = clipped.extents * magnification
        x0, y0 = np.floor(ext[0] + 0.5), np.ceil(ext[1] - 0.5 - 1e-8)
        x1, y1 = np.floor(ext[2] + 0.5 + 1e-8), np.ceil(ext[3] - 0.5)
        box = Bbox.from_extents([x0, y0, x1, y1])
        if box.width == 0 or box.height == 0:
            return None, 0, 0, None
        t0 = Affine2D().translate(0, -A.shape[0]).scale(1, -1) if self.origin == "upper" else IdentityTransform()
        t0 += (Affine2D().scale(in_bbox.width / A.shape[1], in_bbox.height / A.shape[0])
               .translate(in_bbox.x0, in_bbox.y0) + self.get_transform())
        t = t0 + Affine2D().scale(magnification).translate(-box.x0, -box.y0)
        out_shape = (int(box.height), int(box.width))
        # cells → pixels: the same map when only the data's extent and the axes' range moved
        # together (a widget's image filling its axes), up to rounding far below a pixel
        key = (A.shape, out_shape, self.origin, tuple(np.round(t.get_matrix().ravel(), 9)))
        if self._kept_map is None or self._kept_map[0] != key:
            cells = np.arange(1.0, A.size + 1.0).reshape(A.shape)             # 0: no cell (outside)
            where = _resample(self, cells, out_shape, t)
            cover = _resample(self, np.ones(A.shape, np.float32), out_shape, t, resample=True)
            cover[np.isnan(cover)] = 1
            index = where.astype(np.intp).ravel() - 1
            self._kept_map = (key, np.where(index < 0, A.size, index), cover, bool((cover == 1).all()))
        _, index, cover, covered = self._kept_map
        colours = self.to_rgba(self.norm(A), bytes=True, norm=False).reshape(-1, 4)
        colours = np.concatenate([colours, np.zeros((1, 4), np.uint8)])       # the last: outside
        out = colours.view(np.uint32).ravel()[index].view(np.uint8).reshape(out_shape + (4,))
        scalar = self._get_scalar_alpha()
        if not (covered and scalar == 1.0):
            out[:, :, 3] = out[:, :, 3].astype(np.float32) * cover * scalar
        return out, box.x0 / magnification, box.y0 / magnification, t


def nearest_image(ax, data, **kwargs) -> NearestImage:
    """``ax.imshow(data, interpolation="nearest", **kwargs)``, drawn as a :class:`NearestImage`
    (imshow sets the image up: aspect, clip path, norm, extent; only the drawing differs)."""
    im = ax.imshow(data, interpolation="nearest", **kwargs)
    im.__class__ = NearestImage       # a subclass adding no state but the kept map
    im._kept_map = None
    return im


class BlitCanvas(FigureCanvasAgg):
    """An Agg canvas that caches everything but ``dynamic`` artists between PNG saves."""

    def __init__(self, figure, dynamic=(), overlay=()):
        super().__init__(figure)
        self.dynamic = list(dynamic)
        self.overlay = list(overlay)
        # static background and overlay layer per static key (figure size, dpi, axis ranges): a
        # widget drawing drafts at a lower dpi during a drag and full frames at rest keeps both
        self._backgrounds = {}           # static key -> background region (the newest last)
        self._extents = {}               # static key -> where its static content lies (see _measure)
        # per overlay artist and dpi: (what it shows, its layer or None); an artist whose text
        # changed is rendered again alone (a title showing a control's value, not the legend too)
        self._overlay_layers = {}        # (dpi, id(artist)) -> (key, (rows, cols, rgb·alpha, 255 − alpha) or None, extent)
        self._overlay_stale = True
        # dpis at which a new background was drawn: each overlay layer kept at that dpi is checked
        # against its artist's window extent (≈ 0.2 ms) before it is used again, and rendered again
        # only if the artist moved (a legend placed "best", a layout changed); rendering one is
        # 5–17 ms at 200 dpi, made at every new background before
        self._overlay_moved = set()
        # draft frames (a dragged slider, see tnn_lib.widgets.app.LiveRedraw): a background is
        # cached only the second time a draft needs it; the first time the whole figure is drawn
        # once, plainly (a new axis range per value, as when an axis follows the slider, then
        # costs one draw, not a background, its measure, the overlay layer and the blit)
        self.drafting = False
        self._draft_misses = {}
        # full frames too, for a figure whose axes follow a control at every value (use_blitting's
        # plain_first: 01's p and weight range): a background is made at nearly every change and
        # rarely used again, so a new one is drawn in place first, in the same layers (the same
        # pixels; no copy of the background, no restore of it) and kept only the second time it
        # is needed. ``keep_backgrounds`` (set while lecture mode warms the widget up) keeps
        # every background at once.
        self.plain_first = False
        self.keep_backgrounds = False
        # what else the static content shows (e.g. which surface's contours): a widget that sets
        # it instead of calling invalidate() keeps a background per tag (a surface chosen again
        # comes back at once)
        self.static_tag = None

    # ------------------------------------------------------------------ cache control
    KEEP = 6  # static backgrounds kept (e.g. draft and full resolution, three axis ranges each)

    def invalidate(self):
        """Rebuild the static background (and the overlay) on the next PNG."""
        self._backgrounds.clear()
        self._draft_misses.clear()
        self._extents.clear()
        self._overlay_stale = True

    @property
    def _background(self):   # the newest background (None when there is none)
        return next(reversed(self._backgrounds.values()), None)

    def invalidate_overlay(self):
        """Re-render only the overlay layer on the next PNG."""
        self._overlay_stale = True

    @staticmethod
    def _artist_key(a):
        """What an overlay artist shows: its visibility and its (legend) texts and their places."""
        texts = a.get_texts() if hasattr(a, "get_texts") else [a] if hasattr(a, "get_text") else []
        return (a.get_visible(), tuple((t.get_text(), t.get_position()) for t in texts))

    def _overlay_key(self):
        """What the overlay layer shows: visibility and text of its (legend) texts."""
        return tuple((id(a),) + self._artist_key(a) for a in self.overlay)

    def _static_key(self):
        fig = self.figure
        # an axis label is part of the background's key: a widget whose label follows a control
        # (the initialization explorer's nonlinearity) keeps a background per label, no invalidate
        return (tuple(fig.get_size_inches()), fig.dpi,
                tuple(ax.get_xlim() + ax.get_ylim() + tuple(ax.get_position().bounds)
                      + (ax.xaxis.label.get_text(), ax.yaxis.label.get_text()) for ax in fig.axes),
                self.static_tag)

    # ------------------------------------------------------------------ rendering
    _tick_memo = None      # a dict while the figure is drawn (see _update_ticks_kept)

    def _draw_once(self, measure: bool = False):
        """``FigureCanvasAgg.draw``, each axis' ticks computed once (see `_update_ticks_kept`);
        with `measure`, returns :meth:`_measure` made with the same ticks."""
        self._tick_memo = {}
        try:
            FigureCanvasAgg.draw(self)
            return self._measure() if measure else None
        finally:
            self._tick_memo = None

    def get_renderer(self):
        renderer = super().get_renderer()
        if "_draw_text_glyphs_and_boxes" not in vars(renderer):          # a new renderer (size, dpi)
            renderer._tnn_layouts = True                                  # its texts' layouts kept
            renderer._draw_text_glyphs_and_boxes = (
                lambda gc, x, y, angle, glyphs, boxes, r=renderer: _draw_glyphs_cached(r, gc, x, y, angle, glyphs, boxes))
            renderer.draw_text = (
                lambda gc, x, y, s, prop, angle, ismath=False, mtext=None, r=renderer:
                _draw_text_cached(r, gc, x, y, s, prop, angle, ismath, mtext))
        return renderer

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
            extents = self._rebuild_axes() if self.PARTIAL else None
            if extents is None:
                # where the content lies matters only to a partial rebuild (tight boxes: ≈ 30 %
                # of a background's cost, every tick label laid out again)
                extents = self._draw_once(measure=self.PARTIAL)
        finally:
            for a, v in states:
                a.set_visible(v)
            for a, xy in places:
                a.set_position(xy)
        key = self._static_key()
        self._backgrounds.pop(key, None)
        self._backgrounds[key] = self.copy_from_bbox(self.figure.bbox)
        self._extents[key] = extents
        while len(self._backgrounds) > self.KEEP:
            oldest = next(iter(self._backgrounds))
            del self._backgrounds[oldest]
            self._extents.pop(oldest, None)
        self._overlay_moved.add(self.figure.dpi)          # the layout may have moved them: checked

    # a background whose axes changed range only in some axes is redrawn only there
    # (use_blitting(..., partial=True): measuring where each axes lies costs a little at every
    # full render, worth it where one panel's range follows a control and another is costly,
    # e.g. the optimizer race's f panel next to its contour plot)
    PARTIAL = False

    def _measure(self):
        """Where the static content lies, in pixels: each axes' tight box (ticks, labels, title
        included) and every figure-level artist's box; None when one cannot be measured."""
        renderer = self.get_renderer()
        fig = self.figure
        try:
            axes = [ax.get_tightbbox(renderer) for ax in fig.axes]
            others = [a.get_window_extent(renderer) for a in fig.get_children()
                      if a is not fig.patch and a not in fig.axes and a.get_visible()]
        except Exception:                                    # pragma: no cover - an exotic artist
            return None
        if any(b is None for b in axes):
            return None
        return dict(axes=[b.extents for b in axes], others=[b.extents for b in others])

    def _rebuild_axes(self):
        """Redraw only the axes whose range changed, over a kept background of the same size,
        dpi and axes positions: their old and new tight boxes are filled with the figure's
        colour and those axes drawn again (their static content; the dynamic and overlay
        artists are hidden by the caller). Refused (None) when such a box touches another
        axes' box or a figure-level artist, or the figure's colour is not opaque: the caller
        then draws the whole figure. Returns the new extents."""
        from matplotlib.colors import to_rgba  # slow import (see AUTHORING.md)

        fig = self.figure
        key = self._static_key()
        face = to_rgba(fig.patch.get_facecolor())
        if face[3] != 1.0 or not fig.patch.get_visible():
            return None
        for old in reversed(list(self._backgrounds)):
            ext = self._extents.get(old)
            if ext is None or old[:2] != key[:2] or old[3:] != key[3:] or len(old[2]) != len(key[2]):
                continue
            changed = [i for i, (a, b) in enumerate(zip(old[2], key[2])) if a != b]
            if changed and all(old[2][i][4:] == key[2][i][4:] for i in changed):
                break
        else:
            return None
        others = [b for j, b in enumerate(ext["axes"]) if j not in changed] + ext["others"]
        for i in changed:                                    # cheap refusal first: the old boxes
            o = ext["axes"][i]
            if any(o[0] - 3 < b[2] and b[0] < o[2] + 3 and o[1] - 3 < b[3] and b[1] < o[3] + 3 for b in others):
                return None
        renderer = self.get_renderer()
        self._tick_memo = {}
        try:
            return self._redraw_axes(fig, renderer, ext, old, changed, others, face)
        finally:
            self._tick_memo = None

    def _redraw_axes(self, fig, renderer, ext, old, changed, others, face):
        """:meth:`_rebuild_axes` once it found a kept background to redraw `changed` axes over."""
        try:
            new = {i: fig.axes[i].get_tightbbox(renderer) for i in changed}
        except Exception:                                    # pragma: no cover
            return None
        if any(b is None for b in new.values()):
            return None
        regions = []
        for i in changed:
            o, n = ext["axes"][i], new[i].extents
            regions.append((min(o[0], n[0]) - 3, min(o[1], n[1]) - 3, max(o[2], n[2]) + 3, max(o[3], n[3]) + 3))
        for r in regions:
            for b in others:
                if r[0] < b[2] and b[0] < r[2] and r[1] < b[3] and b[1] < r[3]:
                    return None
        self.restore_region(self._backgrounds[old])
        arr = np.asarray(self.buffer_rgba())
        h, w = arr.shape[:2]
        colour = np.array([round(255 * c) for c in face], np.uint8)
        for x0, y0, x1, y1 in regions:                       # display y is upwards, rows downwards
            r0, r1 = max(int(np.floor(h - y1)), 0), min(int(np.ceil(h - y0)), h)
            c0, c1 = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)), w)
            if r0 < r1 and c0 < c1:
                arr[r0:r1, c0:c1] = colour
        for i in changed:
            fig.axes[i].draw(renderer)
        axes = list(ext["axes"])
        for i in changed:
            axes[i] = new[i].extents
        return dict(axes=axes, others=ext["others"])

    def _overlay(self):
        """The layers of the shown overlay artists at the figure's dpi, each cropped to its own
        pixels (the compositing of every frame then touches only the legends' and titles'
        rectangles); an artist is rendered again only when what it shows changed."""
        dpi = self.figure.dpi
        if self._overlay_stale:
            self._overlay_layers.clear()
            self._overlay_stale = False
        ids = {id(a) for a in self.overlay}
        for k in [k for k in self._overlay_layers if k[1] not in ids]:   # artists no longer in the overlay
            del self._overlay_layers[k]
        if dpi in self._overlay_moved:
            self._overlay_moved.discard(dpi)
            for a in self.overlay:
                entry = self._overlay_layers.get((dpi, id(a)))
                if entry is not None and (entry[2] is None or entry[2] != self._extent(a)):
                    del self._overlay_layers[(dpi, id(a))]
        layers = []
        for a in self.overlay:
            key = self._artist_key(a)
            entry = self._overlay_layers.get((dpi, id(a)))
            if entry is None or entry[0] != key:
                layer, extent = self._render_overlay_artist(a) if key[0] else (None, None)
                entry = self._overlay_layers[(dpi, id(a))] = (key, layer, extent)
            if entry[1] is not None:
                layers.append(entry[1])
        return layers

    def _extent(self, a):
        """`a`'s window extent (x0, y0, x1, y1) in pixels, None when it cannot be measured."""
        try:
            return tuple(a.get_window_extent(self.get_renderer()).extents)
        except Exception:                                 # pragma: no cover - an exotic artist
            return None

    def _render_overlay_artist(self, a):
        """One overlay artist alone on a transparent canvas, cropped to its pixels (None: none),
        and its window extent (see :meth:`_extent`; None when it cannot be measured)."""
        renderer = self.get_renderer()
        renderer.clear()                                  # transparent
        (a.axes or self.figure).draw_artist(a)
        arr = np.asarray(self.buffer_rgba())
        h, w = arr.shape[:2]
        extent = self._extent(a)
        if extent is not None:                            # where to look: the artist's extent, padded
            x0, y0, x1, y1 = extent
            r0, r1 = max(int(h - y1) - 4, 0), min(int(h - y0) + 5, h)
            c0, c1 = max(int(x0) - 4, 0), min(int(x1) + 5, w)
        else:
            r0, r1, c0, c1 = 0, h, 0, w
        alpha = arr[r0:r1, c0:c1, 3]
        rows, cols = np.nonzero(alpha.any(axis=1))[0], np.nonzero(alpha.any(axis=0))[0]
        if rows.size == 0:
            return None, extent
        rs, cs = slice(r0 + rows[0], r0 + rows[-1] + 1), slice(c0 + cols[0], c0 + cols[-1] + 1)
        # premultiplied in integers: every frame then composites rgb·a + under·(255 − a),
        # rounded /255 exactly by shifts (the same pixels as float arithmetic, ~2× faster)
        crop = arr[rs, cs]
        a8 = crop[..., 3:].astype(np.uint16)
        return (rs, cs, crop[..., :3].astype(np.uint16) * a8, 255 - a8), extent

    def render_png(self) -> bytes:
        key = self._static_key()
        fresh = key not in self._backgrounds and (self.drafting or self.plain_first) and not self.keep_backgrounds \
            and self.figure.get_layout_engine() is None and key not in self._draft_misses
        if fresh:
            self._draft_misses[key] = True
            while len(self._draft_misses) > 64:
                self._draft_misses.pop(next(iter(self._draft_misses)))
            if self.drafting:
                self._draw_once()               # everything, once (see __init__)
                return encode_png(self.buffer_rgba())
            # a full frame (plain_first): the same layers as a kept background gives, drawn in
            # place (no copy of the background, no restore): the pixels of the blitted frame
            return self._composite(self._draw_static, fresh=True)
        if key not in self._backgrounds:
            if self.figure.get_layout_engine() is not None:
                # lay the figure out once with everything visible (titles take their room),
                # then keep those positions for every background (None, not "none": the
                # placeholder engine would make savefig lay the text out twice)
                self._draw_once()
                self.figure.set_layout_engine(None)
            self._rebuild()
            key = self._static_key()
        else:
            self._backgrounds[key] = self._backgrounds.pop(key)      # the newest
        background = self._backgrounds[key]
        return self._composite(lambda: self.restore_region(background))

    def _draw_static(self):
        """The static content drawn on the canvas, as :meth:`_rebuild` draws a background
        (the dynamic and overlay artists hidden), without keeping it."""
        places = [(a, a.get_position()) for a in self.dynamic + self.overlay if isinstance(a, Text)]
        states = self._hidden(self.dynamic + self.overlay)
        try:
            self._draw_once()
        finally:
            for a, v in states:
                a.set_visible(v)
            for a, xy in places:
                a.set_position(xy)

    def _composite(self, background, fresh=False) -> bytes:
        """The frame: `background()` puts the static content on the canvas, then the dynamic
        artists are drawn over it and the overlay layers composited on top; its PNG. `fresh`:
        the static content is new (its overlay layers are checked, as after a rebuild)."""
        if fresh:
            self._overlay_moved.add(self.figure.dpi)      # as after _rebuild
        layers = self._overlay()          # (before the background is drawn: they render on the canvas)
        self.get_renderer()               # of the figure's current size and dpi
        background()
        for a in self.dynamic:
            if a.get_visible():
                (a.axes or self.figure).draw_artist(a)
        arr = np.asarray(self.buffer_rgba())
        for rs, cs, premultiplied, inverse in layers:
            x = arr[rs, cs, :3] * inverse              # uint16: at most 255·255 + 255·255 + 128
            x += premultiplied
            x += 128
            arr[rs, cs, :3] = (x + (x >> 8)) >> 8      # round(x / 255) for 0 ≤ x < 65 536
        return encode_png(arr)

    def print_figure(self, filename, *args, **kwargs):
        fmt = kwargs.get("format")
        if fmt is None and isinstance(filename, str):
            fmt = filename.rsplit(".", 1)[-1].lower()
        plain = not args and set(kwargs) <= {"format", "dpi"} and kwargs.get("dpi", self.figure.dpi) == self.figure.dpi
        if fmt != "png" or not plain:
            self._backgrounds.clear()    # the ordinary path draws everything: re-cache afterwards
            return super().print_figure(filename, *args, **kwargs)
        data = self.render_png()
        if hasattr(filename, "write"):
            filename.write(data)
        else:
            with open(filename, "wb") as fh:
                fh.write(data)
        return None


def use_blitting(fig, dynamic, overlay=(), partial=False, plain_first=False):
    """Give `fig` a :class:`BlitCanvas` redrawing only the artists in `dynamic` (in that
    order, over the cached background), with the `overlay` artists composited on top;
    ``partial=True``: a new background redraws only the axes whose range changed, when
    they overlap nothing else (see :meth:`BlitCanvas._rebuild_axes`); ``plain_first=True``:
    a frame whose background is new is drawn in place (the same layers and pixels), the
    background kept only when a second frame needs it (for axes that follow a control at
    every value)."""
    canvas = BlitCanvas(fig, dynamic, overlay)          # the canvas attaches itself to the figure
    canvas.PARTIAL = bool(partial)
    canvas.plain_first = bool(plain_first)
    return fig


NICE_STOPS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.5)


def round_axis_end(n: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 5, 7.5 × 10^k that is ≥ `n` (n > 0): an axis end for a
    control such as a number of steps. The axis then changes (and the cached background is
    rendered again, the slowest part of a redraw) only when the value passes a stop, not at
    every value; the curve fills at least half of the axis."""
    n = float(n)
    if not n > 0:
        return 1.0
    k = 10.0 ** np.floor(np.log10(n))
    for s in NICE_STOPS + (10.0,):
        if s * k >= n * (1 - 1e-12):
            return float(s * k)
    return float(10 * k)  # pragma: no cover
