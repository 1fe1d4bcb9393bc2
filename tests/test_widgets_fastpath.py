"""The fast PNG path (one Agg render, zlib level 1, blitting) shows what matplotlib's own
savefig shows: pixel-for-pixel for a plain figure, nearly so for the blitted widgets."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tnn_lib.widgets.app import figure_png, new_figure, reference_png


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def test_plain_figure_is_pixel_identical_to_savefig():
    fig = new_figure(6, 3)
    fig.set_layout_engine("none")
    ax = fig.subplots()
    ax.plot([0, 1, 2], [1, 0, 2], label="a line")
    ax.set_title("title")
    ax.legend()
    fast = figure_png(fig)
    assert fast[:4] == b"\x89PNG"
    np.testing.assert_array_equal(_pixels(fast), _pixels(reference_png(fig)))


@pytest.mark.parametrize("topic", ["00_backprop", "01_divergences", "04_initialization", "05_optimizers",
                                   "08_schedules_and_landscape"])
def test_blitted_widgets_match_a_full_render(topic):
    from tnn_lib.widgets import widgets_for_topic

    for app in widgets_for_topic(topic):
        fast, ref = _pixels(app.image.value), _pixels(reference_png(app.fig))
        assert fast.shape == ref.shape
        differing = (np.abs(fast - ref).max(axis=-1) > 8).mean()
        assert differing < 0.005, (app.title, differing)      # drawing order of a few overlapping pixels
        app.refresh()                                            # after a full render, the cache still holds
        assert app.image.value == figure_png(app.fig)


def _plain_canvas_png(fig) -> bytes:
    """`fig` as matplotlib alone draws it: savefig on a plain Agg canvas (none of the blitting
    canvas's kept glyphs, layouts or ticks), the figure's own canvas put back after."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    own = fig.canvas
    try:
        FigureCanvasAgg(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=fig.dpi)
    finally:
        fig.set_canvas(own)
    return buf.getvalue()


@pytest.mark.parametrize("topic, index, control, values", [
    ("01_divergences", 0, "p", [0.15, 0.8, 0.42]),                    # the axes follow p
    ("01_divergences", 1, "extent", [3.0, 19.5, 7.3, 3.0]),            # ... and the weight range
    ("05_optimizers", 0, "steps", [30, 1000, 160]),                     # the f panel's range alone
    ("08_schedules_and_landscape", 0, "kappa", [1.0, 200.0, 5.0]),      # the contours in the background
    ("08_schedules_and_landscape", 0, "steps", [5, 300, 45]),
])
def test_a_frame_after_a_new_axis_range_matches_a_full_render(topic, index, control, values):
    """A control that gives the figure a new background (new axis ranges and ticks, new
    contours) shows what matplotlib's own full render of that setting shows."""
    from tnn_lib.widgets import widgets_for_topic

    app = widgets_for_topic(topic)[index]
    for value in values:
        app.set_values(**{control: value})
        fast, ref = _pixels(app.image.value), _pixels(_plain_canvas_png(app.fig))
        assert fast.shape == ref.shape
        differing = np.abs(fast - ref).max(axis=-1) > 8
        assert differing.mean() < 0.002, (control, value, differing.mean())


def test_widget_state_is_explicit():
    """A widget's artists and data live in its WidgetState, none on the figure or in its module."""
    import importlib

    from tnn_lib.topics import TOPICS
    from tnn_lib.widgets import widgets_for_topic
    from tnn_lib.widgets.app import WidgetApp

    assert not hasattr(WidgetApp, "_on_change")
    for topic in TOPICS:
        module = importlib.import_module(f"tnn_lib.widgets.{topic.name}")
        assert not hasattr(module, "HISTORIES") and not hasattr(module, "_CONTROLLER"), topic.name
        for app in widgets_for_topic(topic.id):
            assert app.state.fig is app.fig and app.state.artists is not None, app.title
            assert not [k for k in vars(app.fig) if k.startswith("_tnn")], app.title


def test_kept_glyphs_draw_the_same_pixels_as_freetype():
    """The blitting canvas keeps glyph bitmaps (tnn_lib.widgets._blit): text drawn twice, at
    other sub-pixel positions, rotated and as mathtext, is pixel-identical to matplotlib's own."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from tnn_lib.widgets._blit import BlitCanvas

    def make():
        fig = new_figure(6, 3, dpi=200)
        fig.set_layout_engine("none")
        axes = fig.subplots(1, 2)
        for k, ax in enumerate(axes):
            ax.plot([0, 1], [0, 1], label=f"‖w‖ = {k + 0.37:.2f}, λ = 1e-0{k}")
            ax.set_title(f"degree {k + 11}, γ = 0.{k}5 — title", fontsize=12)
            ax.set_ylabel("rotated label gjpqy")
            ax.text(0.3, 0.4 + 0.013 * k, "at 30°", rotation=30)
            ax.legend()
        fig.suptitle(r"mathtext $\alpha^2 + \beta$")
        return fig

    plain = FigureCanvasAgg(make())
    plain.draw()
    kept = BlitCanvas(make(), [])
    for _ in range(2):                                   # bitmaps made, then bitmaps kept
        FigureCanvasAgg.draw(kept)
        np.testing.assert_array_equal(np.asarray(kept.buffer_rgba()), np.asarray(plain.buffer_rgba()))


def test_kept_text_layouts_draw_the_same_pixels_as_matplotlib():
    """The blitting canvas keeps each text's layout (tnn_lib.widgets._blit): the same strings
    with other alignments, rotations, sizes, line spacings and line alignments, laid out first
    in another figure with other properties, draw pixel-identical to matplotlib's own layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from tnn_lib.widgets import _blit
    from tnn_lib.widgets._blit import BlitCanvas

    strings = ["0.5", "−2.5", "w1", "two\nlines here", "log₁₀ f", r"$\sqrt{x}$ and text"]
    base = dict(ha="left", va="baseline", rotation=0, rotation_mode="default", fontsize=10, linespacing=1.2,
                multialignment="left")
    # each property changed alone (so a layout kept without it in its key would be drawn wrongly)
    variants = [base] + [dict(base, **{k: v}) for k, v in (
        ("ha", "right"), ("ha", "center"), ("va", "top"), ("va", "center_baseline"), ("rotation", 30),
        ("rotation", 90), ("rotation_mode", "anchor"), ("fontsize", 13), ("linespacing", 2.0),
        ("multialignment", "right"))] + [dict(base, rotation=30, rotation_mode="anchor"),
                                         dict(base, rotation=30, rotation_mode="anchor", ha="right", va="top")]

    def make(props: dict):
        fig = new_figure(6, 4, dpi=144)
        fig.set_layout_engine("none")
        ax = fig.subplots()
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        for i, s in enumerate(strings):
            ax.text(0.1 + 0.13 * i, 0.2 + 0.1 * (i % 5), s, **props)
        ax.set_xlabel("w1")
        ax.set_title("log₁₀ f", loc=props["ha"] if props["ha"] != "right" else "right")
        return fig

    for props in variants:
        plain = FigureCanvasAgg(make(props))
        plain.draw()
        kept = BlitCanvas(make(props), [])
        for _ in range(2):                       # layouts made (or met in another variant), then kept
            FigureCanvasAgg.draw(kept)
            np.testing.assert_array_equal(np.asarray(kept.buffer_rgba()), np.asarray(plain.buffer_rgba()),
                                          err_msg=str(props))
    assert len(_blit._TEXT_LAYOUTS) >= len(strings)     # the layouts were kept, and used


@pytest.mark.parametrize("widget", [0, 1])
def test_a_background_redrawn_in_one_axes_is_the_whole_figure_redrawn(widget):
    """The optimizer widgets redraw only the panel whose range follows `steps`
    (``use_blitting(..., partial=True)``): the same pixels as a canvas that redraws everything."""
    from tnn_lib.widgets import widgets_for_topic

    images = {}
    for partial in (True, False):
        app = widgets_for_topic("05_optimizers")[widget]
        app.fig.canvas.PARTIAL = partial
        app.fig.set_dpi(100)
        app.refresh()
        images[partial] = []
        for steps in (250, 350, 200):
            app.controls["steps"].value = steps
            images[partial].append(_pixels(app.image.value))
    for a, b in zip(images[True], images[False]):
        np.testing.assert_array_equal(a, b)


def test_an_overlay_artist_is_rendered_again_alone_when_its_text_changes():
    """A title in the overlay shows a control's value: when it changes only its layer is
    rendered again (the legend's is kept), and the frame is still matplotlib's whole figure."""
    from tnn_lib.widgets._blit import use_blitting

    fig = new_figure(6, 3, dpi=100)
    fig.set_layout_engine("none")
    ax = fig.subplots()
    line, = ax.plot([0, 1, 2], [1, 0, 2], label="a line")
    legend = ax.legend(loc="upper left")
    ax.set_title("value 1")
    use_blitting(fig, [line], overlay=[ax.title, legend])
    canvas = fig.canvas
    figure_png(fig)
    legend_layer = canvas._overlay_layers[(100, id(legend))]
    ax.set_title("value 2.5")
    line.set_ydata([2, 1, 0])
    fast = figure_png(fig)
    assert canvas._overlay_layers[(100, id(legend))] is legend_layer
    assert canvas._overlay_layers[(100, id(ax.title))][0][1][0][0] == "value 2.5"
    ref = _pixels(reference_png(fig))
    assert ((np.abs(_pixels(fast) - ref).max(axis=-1)) > 8).mean() < 0.002


@pytest.mark.parametrize("topic,control,values", [
    ("04_initialization", "nonlinearity", None),       # the axis label follows the control
    ("05_optimizers", "surface", None),                # the contours: a background per surface
    ("08_schedules_and_landscape", "kappa", (2.0, 20.0, 2.0)),
])
def test_backgrounds_kept_per_label_or_surface_show_that_setting(topic, control, values):
    """Backgrounds are kept per axis label and per the widget's tag (which surface's contours)
    instead of being thrown away: a setting chosen again shows its own figure."""
    from tnn_lib.widgets import widgets_for_topic

    app = widgets_for_topic(topic)[0]
    c = app.controls[control]
    if values is None:
        opts = [o[1] if isinstance(o, tuple) else o for o in c.options]
        values = (opts[1], opts[2 % len(opts)], opts[1], opts[0])
    for v in values:
        c.value = v
        fast, ref = _pixels(app.image.value), _pixels(reference_png(app.fig))
        app.refresh()                                   # (reference_png drew everything: cache again)
        assert fast.shape == ref.shape
        assert (np.abs(fast - ref).max(axis=-1) > 8).mean() < 0.005, (control, v)


def test_an_overlay_layer_is_kept_across_new_backgrounds_unless_its_artist_moved():
    """A new axis range makes a new background; the legend composited over it is rendered again
    only if its place changed (checked against its window extent), and the frame is matplotlib's
    whole figure either way."""
    from tnn_lib.widgets._blit import use_blitting

    fig = new_figure(6, 3, dpi=100)
    fig.set_layout_engine("none")
    ax = fig.subplots()
    line, = ax.plot([0, 1, 2], [1, 0, 2], label="a line")
    legend = ax.legend(loc="upper left")
    use_blitting(fig, [line], overlay=[legend])
    canvas = fig.canvas
    figure_png(fig)
    layer = canvas._overlay_layers[(100, id(legend))]
    ax.set_ylim(-1, 5)                                   # a new background, the legend in place
    fast = figure_png(fig)
    assert canvas._overlay_layers[(100, id(legend))] is layer
    assert ((np.abs(_pixels(fast) - _pixels(reference_png(fig))).max(axis=-1)) > 8).mean() < 0.002
    legend.set_loc("lower right")                         # moved: rendered again at its new place
    ax.set_ylim(-2, 5)
    fast = figure_png(fig)
    assert canvas._overlay_layers[(100, id(legend))] is not layer
    assert ((np.abs(_pixels(fast) - _pixels(reference_png(fig))).max(axis=-1)) > 8).mean() < 0.002


def _image_pixels(fig) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


@pytest.mark.parametrize("dpi", [72, 144, 200])
@pytest.mark.parametrize("origin", ["lower", "upper"])
def test_a_nearest_image_draws_the_pixels_matplotlib_draws(dpi, origin):
    """NearestImage keeps which data cell each screen pixel shows: one figure with it and one
    with matplotlib's AxesImage, drawn through the same sequence of data, colour limits,
    extents and axes ranges (the image filling its axes, overhanging them, smaller than them,
    a scalar alpha, a NaN that takes matplotlib's path), are equal pixel for pixel at every step."""
    from matplotlib.figure import Figure

    from tnn_lib.widgets._blit import NearestImage, nearest_image

    rng = np.random.default_rng(dpi)
    figs, images = [], []
    for fast in (False, True):
        fig = Figure(figsize=(5.3, 3.1), dpi=dpi)
        ax = fig.add_axes((0.11, 0.13, 0.83, 0.79))
        data = np.zeros((37, 29))
        im = (nearest_image(ax, data, origin=origin, cmap="Reds_r", aspect="auto") if fast
              else ax.imshow(data, origin=origin, cmap="Reds_r", aspect="auto", interpolation="nearest"))
        figs.append(fig)
        images.append(im)
    assert isinstance(images[1], NearestImage) and not isinstance(images[0], NearestImage)
    steps = [  # (extent, axes range, alpha, a NaN)
        ((-8, 8, -8, 8), (-8, 8, -8, 8), None, False),
        ((-3.7, 3.7, -3.7, 3.7), (-3.7, 3.7, -3.7, 3.7), None, False),     # the same map, kept
        ((-13.3, 13.3, -13.3, 13.3), (-13.3, 13.3, -13.3, 13.3), None, False),
        ((-5, 5, -5, 5), (-7, 6, -4, 9), None, False),                     # smaller than the axes
        ((-5, 5, -5, 5), (-2, 3.3, -4.1, 1), None, False),                 # overhanging: clipped
        ((-5, 5, -5, 5), (-5, 5, -5, 5), 0.35, False),
        ((-5, 5, -5, 5), (-5, 5, -5, 5), None, True),
        ((0, 1, 0, 2), (0, 1, 0, 2), None, False),
    ]
    changed = 0
    for extent, view, alpha, nan in steps:
        data = rng.standard_normal((37, 29)).cumsum(axis=1)
        if nan:
            data[5, 7] = np.nan
        for im in images:
            im.set_data(data)
            im.set_clim(float(np.nanmin(data)), float(np.nanpercentile(data, 95)))
            im.set_extent(extent)
            im.set_alpha(alpha)
            im.axes.set_xlim(*view[:2])
            im.axes.set_ylim(*view[2:])
        plain, kept = (_image_pixels(f) for f in figs)
        np.testing.assert_array_equal(kept, plain, err_msg=str((extent, view, alpha, nan)))
        changed += 1
    assert changed == len(steps)
    assert images[1]._kept_map is not None            # the fast path ran (and kept its map)
