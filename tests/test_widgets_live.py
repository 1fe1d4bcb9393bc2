"""Redraws that follow the hand (tnn_lib.widgets.app.LiveRedraw), without a browser.

A change from the browser reaches a control as ipywidgets' comm handler applies it,
``control.set_state({"value": v})``; these tests send such changes directly, as fast as a
drag does, and check what the widget drew: the last value wins (no backlog), drafts at the
lower resolution while values keep coming, and a full-resolution frame of the last value
(pixel for pixel what a plain synchronous redraw draws) once they stop.
"""
from __future__ import annotations

import functools
import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from tnn_lib.widgets import app as app_mod
from tnn_lib.widgets.app import DRAFT_SCALE, WidgetApp, from_browser, new_figure
from tnn_lib.widgets._blit import encode_png


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _size(png: bytes) -> tuple:
    return Image.open(io.BytesIO(png)).size


def _line_app(delay: float = 0.0):
    """A small WidgetApp whose draw records each value it drew (and takes `delay` s)."""
    import ipywidgets as widgets

    drawn = []

    def draw(state, x=1.0):
        if state.artists is None:
            ax = state.fig.subplots()
            state.artists = dict(line=ax.plot([0, 1], [0, x])[0])
            ax.set_ylim(0, 10)
        state.artists["line"].set_ydata([0, x])
        time.sleep(delay)
        drawn.append(x)
        return dict(summary=f"x = {x}")

    controls = dict(x=widgets.FloatSlider(value=1.0, min=0.0, max=10.0, step=0.1, description="x"))
    return WidgetApp("line", controls, draw, new_figure(4, 2, dpi=100)), drawn


def test_sliders_update_continuously():
    app, _ = _line_app()
    assert app.controls["x"].continuous_update is True


def test_a_change_from_python_is_drawn_at_once_and_a_change_from_the_browser_by_the_thread():
    app, drawn = _line_app()
    app.controls["x"].value = 2.0                        # from Python: synchronous
    assert drawn[-1] == 2.0 and app.live._thread is None
    app.controls["x"].set_state({"value": 3.0})          # as the comm handler applies a browser change
    assert app.live.idle(30)
    assert drawn[-1] == 3.0 and app.live._thread is not None
    assert app.live.frames[-1][0] == "full"
    assert app.status.value == "<span>x = 3.0</span>"


def test_from_browser_reads_the_property_lock():
    app, _ = _line_app()
    seen = []
    app.controls["x"].observe(lambda ch: seen.append(from_browser(ch)), names="value")
    app.controls["x"].value = 4.0
    app.controls["x"].set_state({"value": 5.0})
    assert seen == [False, True]
    import ipywidgets as widgets
    menu, seen = widgets.Dropdown(options=["a", "b", "c"]), []   # a selection control syncs its index
    menu.observe(lambda ch: seen.append(from_browser(ch)), names="value")
    menu.value = "b"
    menu.set_state({"index": 2})
    assert seen == [False, True]


def test_a_drag_draws_drafts_then_the_last_value_at_full_resolution():
    app, drawn = _line_app(delay=0.03)
    full = _size(app.image.value)
    sizes, lock = [], threading.Lock()
    app.image.observe(lambda ch: sizes.append(_size(ch["new"])), names="value")
    values = [round(1.0 + 0.1 * i, 1) for i in range(60)]
    for v in values:                                     # 60 moves, one every 10 ms: faster than a frame
        app.controls["x"].set_state({"value": v})
        time.sleep(0.01)
    assert app.live.idle(30)
    drawn_during = drawn[1:]                             # drawn[0]: the first refresh
    assert drawn_during[-1] == values[-1], "the last value must be the one shown"
    assert len(drawn_during) < len(values), "every value drawn: a backlog instead of the last one winning"
    assert drawn_during == sorted(drawn_during), "values drawn out of order"
    qualities = [q for q, _ in app.live.frames]
    assert "draft" in qualities and qualities[-1] == "full"
    draft = (round(full[0] * DRAFT_SCALE), round(full[1] * DRAFT_SCALE))
    assert draft in sizes and sizes[-1] == full
    assert app.fig.dpi == 100                            # the dpi is restored after every draft


def test_the_final_frame_after_a_drag_is_the_full_redraw_of_the_last_value():
    from tnn_lib.widgets import widgets_for_topic

    app = widgets_for_topic("02_batchnorm")[0]
    ref = widgets_for_topic("02_batchnorm")[0]
    for v in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25):
        app.controls["shift"].set_state({"value": v})
        time.sleep(0.005)
    assert app.live.idle(60)
    ref.controls["shift"].value = 2.25                  # drawn synchronously, from the same start
    assert app.live.frames[-1][0] == "full"
    assert _size(app.image.value) == _size(ref.image.value)
    diff = np.abs(_pixels(app.image.value) - _pixels(ref.image.value)).max(axis=-1)
    assert (diff > 8).mean() < 0.002


def test_an_error_in_a_background_redraw_is_shown_under_the_figure():
    app, _ = _line_app()

    def broken(state, x=1.0):
        raise RuntimeError("the draw failed for x = %s" % x)

    app.draw = broken
    app.controls["x"].set_state({"value": 6.0})
    assert app.live.idle(30)
    assert "tnn-error" in app.status.value and "the draw failed for x = 6.0" in app.status.value
    app.draw = _line_app()[0].draw                       # the next change draws again
    app.controls["x"].set_state({"value": 7.0})
    assert app.live.idle(30)
    assert app.status.value == "<span>x = 7.0</span>"


def test_render_rejects_an_unknown_quality():
    app, _ = _line_app()
    with pytest.raises(ValueError, match="expected 'full' or 'draft'"):
        app.render("medium")


@pytest.mark.parametrize("channels", [3, 4])
def test_encode_png_round_trips_the_pixels(channels):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(37, 53, channels), dtype=np.uint8)
    if channels == 4:
        img[0, 0, 3] = 17                                # not opaque: the alpha channel is kept
    out = Image.open(io.BytesIO(encode_png(img)))
    assert out.mode == ("RGB" if channels == 3 else "RGBA")
    np.testing.assert_array_equal(np.asarray(out), img)
    opaque = img.copy()
    if channels == 4:                                    # opaque RGBA stays RGBA (no channel shuffle)
        opaque[..., 3] = 255
        out = Image.open(io.BytesIO(encode_png(opaque)))
        np.testing.assert_array_equal(np.asarray(out.convert("RGBA")), opaque)


def test_encode_png_rejects_other_arrays():
    with pytest.raises(ValueError, match="uint8 image"):
        encode_png(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8 image"):
        encode_png(np.zeros((4, 4, 3), np.float64))


def test_the_module_keeps_its_draft_scale_below_one():
    assert 0 < app_mod.DRAFT_SCALE < 1 and app_mod.SETTLE_S > 0


def test_a_setting_the_browser_comes_back_to_shows_its_kept_png_and_still_runs_the_draw():
    app, drawn = _line_app()
    first = bytes(app.image.value)
    renders = []
    png = app._png
    app._png = lambda: renders.append(1) or png()

    def from_browser(x):                                 # single changes (not a drag: no drafts)
        time.sleep(app_mod.DRAG_GAP_S + 0.05)
        app.controls["x"].set_state({"value": x})
        assert app.live.idle(30)

    from_browser(3.0)
    three = bytes(app.image.value)
    from_browser(1.0)                                    # back to the first figure: kept
    assert bytes(app.image.value) == first and drawn[-1] == 1.0 and len(renders) == 1
    from_browser(3.0)                                    # kept too
    assert bytes(app.image.value) == three and drawn[-1] == 3.0 and len(renders) == 1
    assert app.status.value == "<span>x = 3.0</span>"
    app.controls["x"].value = 5.0                        # a change from Python forgets the kept PNGs
    from_browser(3.0)
    assert len(renders) == 3 and bytes(app.image.value) == three


def test_a_drag_where_the_axis_follows_the_slider_ends_on_the_full_redraw_of_its_value():
    """The divergence explorer's y range follows p: every draft needs a background of its own,
    so drafts draw the whole figure once (not cached); the frame once the hand stopped is the
    same figure as the widget drawn afresh for that p (pixel for pixel up to drawing order)."""
    from tnn_lib.widgets import widgets_for_topic

    app = widgets_for_topic("01_divergences")[0]
    canvas = app.fig.canvas
    values = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.6, 0.7]
    for v in values:
        app.controls["p"].set_state({"value": v})
        time.sleep(0.02)
    assert app.live.idle(60)
    qualities = [q for q, _ in app.live.frames]
    assert "draft" in qualities and qualities[-1] == "full"
    assert canvas._draft_misses, "no draft drew a new axis range plainly"
    ref = widgets_for_topic("01_divergences")[0]
    ref.controls["p"].value = values[-1]
    assert app.last["p"] == values[-1] and _size(app.image.value) == _size(ref.image.value)
    diff = np.abs(_pixels(app.image.value) - _pixels(ref.image.value)).max(axis=-1)
    assert (diff > 8).mean() < 0.002


def test_a_draft_background_is_kept_only_the_second_time_it_is_needed():
    """A draft whose axis range has no kept background is drawn whole, plainly, and its
    background is not kept; the second draft needing it builds and keeps it (a drag whose
    axes do not move then blits from its second frame on). Both drafts show the same pixels."""
    from tnn_lib.widgets._blit import use_blitting

    app, _ = _line_app()
    use_blitting(app.fig, [app.state.artists["line"]])
    canvas = app.fig.canvas
    app.refresh()
    n = len(canvas._backgrounds)
    app.render("draft", {"x": 2.0})
    first = bytes(app.image.value)
    assert len(canvas._backgrounds) == n and len(canvas._draft_misses) == 1
    app.render("draft", {"x": 2.0})
    assert len(canvas._backgrounds) == n + 1
    np.testing.assert_array_equal(_pixels(first), _pixels(app.image.value))
    app.render("draft", {"x": 3.0})                     # blitted over the kept background
    assert len(canvas._backgrounds) == n + 1
    app.refresh()
    assert app.fig.dpi == 100 and _size(app.image.value) == (400, 200)


def test_warm_drafts_prepares_the_draft_background_and_shows_nothing_new():
    from tnn_lib.widgets import widgets_for_topic

    app = widgets_for_topic("02_batchnorm")[0]
    shown, dpi = bytes(app.image.value), app.fig.dpi
    canvas = app.fig.canvas
    app.warm_drafts()
    assert bytes(app.image.value) == shown and app.fig.dpi == dpi
    assert any(k[1] == dpi * DRAFT_SCALE for k in canvas._backgrounds)
    app.controls["shift"].set_state({"value": 1.0})       # a drag: the first draft blits at once
    app.controls["shift"].set_state({"value": 1.25})
    assert app.live.idle(60)
    assert not canvas._draft_misses


# --- the lecture's sliders: fine enough to follow the hand ------------------------------------

@functools.lru_cache(maxsize=1)
def _float_sliders():
    """(topic, control name, slider) for every float slider of the lecture widgets (built once)."""
    import ipywidgets as widgets

    from tnn_lib.widgets import TOPIC_WIDGETS, widgets_for_topic

    out = []
    for topic in TOPIC_WIDGETS:
        for app in widgets_for_topic(topic):
            for name, c in app.controls.items():
                if isinstance(c, (widgets.FloatSlider, widgets.FloatLogSlider)):
                    out.append((topic, name, c))
    return tuple(out)


def test_continuous_sliders_have_a_stop_for_about_every_mouse_move_and_their_defaults_on_a_stop():
    """A drag across half a track passes a new value on (nearly) every mouse move only if the
    track has about 100 stops (a quantity counted in whole units, 01's flipped labels out of
    100 examples, has its own finest step); a default between two stops would be moved by the
    front end to one of them, so every default is a stop. Stops counted in the slider's own
    units (the exponent for a log slider)."""
    import ipywidgets as widgets

    sliders = _float_sliders()
    assert len(sliders) >= 15
    for topic, name, c in sliders:
        log = isinstance(c, widgets.FloatLogSlider)
        n_stops = round((c.max - c.min) / c.step) + 1
        where = np.log(c.value) / np.log(c.base) if log else c.value
        k = (where - c.min) / c.step
        assert abs(k - round(k)) < 1e-6, f"{topic} {name}: default {c.value} is not a stop of the slider"
        if (topic, name) == ("01_divergences", "label_noise"):
            from tnn_lib.widgets.divergences import N_EXAMPLES
            assert c.step == pytest.approx(1 / N_EXAMPLES), "one flipped label per stop"
        else:
            assert n_stops >= 90, f"{topic} {name}: {n_stops} stops"


def test_readouts_tell_neighbouring_stops_apart():
    """The readout of two neighbouring stops differs (enough digits for the finer step)."""
    import ipywidgets as widgets

    for topic, name, c in _float_sliders():
        fmt = c.readout_format
        log = isinstance(c, widgets.FloatLogSlider)
        lo, hi = c.min, c.max
        exps = np.arange(lo, hi + c.step / 2, c.step)
        values = c.base ** exps if log else exps
        shown = [format(float(v), fmt) for v in values]
        same = [(a, b) for a, b in zip(shown, shown[1:]) if a == b]
        assert not same, f"{topic} {name}: readout {fmt!r} shows {same[0]} for two stops"


def test_a_race_swept_over_many_learning_rates_keeps_a_bounded_number_of_runs():
    """The race continues runs kept per (surface, optimizer, lr, momentum, start); a drag over
    a finely stepped lr slider makes a new key per value: the runs kept stay bounded."""
    from tnn_lib.widgets import optimizers as o

    o._RUNS.clear()
    o.run_optimizer.cache_clear()
    n = o._RUNS_KEEP + 40
    for k in range(n):
        path = o.run_optimizer("valley", "SGD", 1e-3 * (1 + k / n), 0.0, (1.0, 1.0), 3)
        assert path.shape == (4, 2)
    assert len(o._RUNS) == o._RUNS_KEEP
    assert o.run_optimizer.cache_info().maxsize is not None
    o._RUNS.clear()
    o.run_optimizer.cache_clear()


def test_every_cache_of_the_widget_modules_is_bounded():
    """Caches keyed by control values (finer sliders make more keys) have a maximum size."""
    import importlib

    from tnn_lib.widgets import TOPIC_WIDGETS

    found = 0
    for mod_name, _ in TOPIC_WIDGETS.values():
        mod = importlib.import_module(f"tnn_lib.widgets.{mod_name}")
        for attr, fn in vars(mod).items():
            info = getattr(fn, "cache_info", None)
            if callable(info) and getattr(fn, "__module__", None) == mod.__name__:
                found += 1
                assert info().maxsize is not None, f"{mod_name}.{attr}: unbounded cache"
    assert found >= 10


# --- the seventh round: the costly controls of 01, 05 and 08 ---------------------------------

def test_a_drag_of_the_weight_range_draws_coarse_drafts_and_ends_on_the_full_frame_of_its_value():
    """01's weight range: a new range at every value of a drag. The drafts compute the
    surfaces on the coarser grid and add nothing to the surfaces' caches; the frame once the
    hand stopped is the full grid's, pixel for pixel the widget's full frame of that range."""
    from tnn_lib.widgets import divergences as dv_w
    from tnn_lib.widgets import widgets_for_topic

    app = widgets_for_topic("01_divergences")[1]
    # the hand stops only after the last value: a machine so loaded that two of the values
    # 10 ms apart came SETTLE_S apart would otherwise draw a full frame in the middle
    app.live.settle = 2.0
    grids = []
    draw = app.draw
    app.draw = lambda state, **v: grids.append((state.draft, v["extent"])) or draw(state, **v)
    cached = dv_w.perceptron_surfaces.cache_info().currsize
    values = [round(8.0 + 0.1 * k, 1) for k in range(1, 16)]
    for v in values:
        app.controls["extent"].set_state({"value": v})
        time.sleep(0.01)
    assert app.live.idle(60)
    qualities = [q for q, _ in app.live.frames]
    assert "draft" in qualities and qualities[-1] == "full"
    drafts = [e for d, e in grids if d]
    assert drafts and grids[-1] == (False, values[-1])
    assert app.last["l2"].shape == (dv_w.GRID, dv_w.GRID)
    # only the ranges drawn at full quality (the drag's first value, a single change, and its
    # last) were cached, none of the drafts' alone
    fulls = {e for d, e in grids if not d}
    assert len(fulls) <= 3 and set(drafts) - fulls
    assert dv_w.perceptron_surfaces.cache_info().currsize <= cached + len(fulls)
    ref = widgets_for_topic("01_divergences")[1]
    ref.controls["extent"].value = values[-1]
    np.testing.assert_array_equal(_pixels(app.image.value), _pixels(ref.image.value))


def test_a_new_axis_range_drawn_in_place_has_the_pixels_of_a_kept_background():
    """plain_first (01's p and weight range): a full frame whose background is new is drawn in
    place, in the same layers, and the background is kept only when a second frame needs it;
    the pixels are those of the frame blitted over a kept background."""
    from tnn_lib.widgets import widgets_for_topic

    for widget, control, values in ((0, "p", (0.3, 0.72)), (1, "extent", (5.5, 12.3))):
        app = widgets_for_topic("01_divergences")[widget]
        canvas = app.fig.canvas
        assert canvas.plain_first
        for v in values:
            n = len(canvas._backgrounds)
            app.controls[control].value = v
            in_place = _pixels(app.image.value)
            assert len(canvas._backgrounds) == n, "a background kept at its first frame"
            app.refresh()                                  # the second frame of that range: kept now
            assert len(canvas._backgrounds) == n + 1
            np.testing.assert_array_equal(_pixels(app.image.value), in_place)
            canvas.plain_first = False                     # the layered path of every other widget
            canvas.invalidate()
            app.refresh()
            np.testing.assert_array_equal(_pixels(app.image.value), in_place)
            canvas.plain_first = True


def _choose_surface_from_the_browser(app, surface: str):
    """Choose `surface` in 05's race as the browser does; the surfaces its draw ran for and the
    PNG renders it made meanwhile (none when a kept frame was shown)."""
    renders, drawn = [], []
    png, draw = app._png, app.draw
    app._png = lambda: renders.append(1) or png()
    app.draw = lambda state, **v: drawn.append(v["surface"]) or draw(state, **v)
    index = [o[1] for o in app.controls["surface"].options].index(surface)
    app.controls["surface"].set_state({"index": index})
    assert app.live.idle(60)
    return drawn, renders


def test_warm_draws_the_named_settings_ahead_and_the_first_choice_shows_a_kept_figure():
    """05's race names its surfaces (with the starts a new surface moves to) as worth drawing
    ahead: after warm_drafts the page's figure is unchanged, and a first choice of another
    surface from the browser runs the draw but renders nothing; the figure is the full frame
    of that surface."""
    from tnn_lib.widgets import widgets_for_topic

    app = widgets_for_topic("05_optimizers")[0]
    assert {w["surface"] for w in app.warm} == {"beale", "valley", "saddle"}
    shown = _pixels(app.image.value)
    app.warm_drafts()
    np.testing.assert_array_equal(_pixels(app.image.value), shown)
    assert len(app._frames) == 3
    drawn, renders = _choose_surface_from_the_browser(app, "valley")
    assert drawn == ["valley"] and renders == []
    ref = widgets_for_topic("05_optimizers")[0]
    ref.controls["surface"].value = "valley"
    np.testing.assert_array_equal(_pixels(app.image.value), _pixels(ref.image.value))


def test_warm_settings_are_drawn_at_the_controls_values_then():
    app, drawn = _line_app()
    app.warm = [dict(x=4.0), dict(x=1.0)]                 # the second is the current setting
    app.warm_drafts()
    assert drawn[1:] == [4.0, 1.0]                        # ahead, then the current one shown again
    assert [(k[0], dict(k[4])["x"]) for k in app._frames] == [("full", 4.0), ("full", 1.0)]   # both kept
    assert app.controls["x"].value == 1.0 and app.last["summary"] == "x = 1.0"


def test_after_the_browser_leaves_a_widget_alone_its_warm_settings_are_drawn_ahead_quietly():
    """05's race in a notebook: after one change from the browser and WARM_AFTER_S without
    another, the other surfaces are drawn ahead at the controls' values then, and kept; the
    page's figure, status and numbers do not change meanwhile; a first choice of another
    surface then runs the draw but renders nothing, and shows that surface's full frame."""
    from tnn_lib.widgets import widgets_for_topic

    app = widgets_for_topic("05_optimizers")[0]
    app.live.warm_after = 0.05
    shown = []
    app.image.observe(lambda change: shown.append(change["new"]), names="value")
    app.controls["momentum"].set_state({"value": 0.5})
    assert app.live.idle(120, warmed=True)
    assert len(shown) == 1                                # the browser's change alone reached the page
    last, status = dict(app.last), app.status.value
    assert "0.5" in str(app.values()["momentum"]) and app.image.value == shown[0]
    kept = {dict(k[4])["surface"] for k in app._frames if dict(k[4])["momentum"] == 0.5}
    assert kept == {"beale", "valley", "saddle"}
    # the figure's artists are the page's setting again (matplotlib's own render of them, its
    # texts raised to the legible size as every rendered frame's are)
    app_mod.legible(app.fig)
    differing = (np.abs(_pixels(app.image.value) - _pixels(app_mod.reference_png(app.fig))).max(axis=-1) > 8).mean()
    assert differing < 0.005
    drawn, renders = _choose_surface_from_the_browser(app, "saddle")
    assert drawn == ["saddle"] and renders == [] and app.last["summary"] != last["summary"]
    assert app.status.value != status
    ref = widgets_for_topic("05_optimizers")[0]
    ref.controls["momentum"].value = 0.5
    ref.controls["surface"].value = "saddle"               # (its start moves to the saddle's)
    assert ref.values() == app.values()
    np.testing.assert_array_equal(_pixels(app.image.value), _pixels(ref.image.value))


def test_a_widget_the_browser_never_changed_draws_nothing_ahead():
    app, drawn = _line_app()
    app.warm = [dict(x=4.0), dict(x=5.0)]
    app.live.warm_after = 0.05
    app.controls["x"].value = 2.0                        # from Python (a notebook run, a test)
    time.sleep(0.5)
    assert drawn == [1.0, 2.0] and app.live._thread is None


def test_a_change_while_settings_are_drawn_ahead_goes_first_and_the_rest_follow():
    app, drawn = _line_app(delay=0.15)
    app.warm = [dict(x=float(v)) for v in range(2, 8)]
    app.live.warm_after = 0.05
    shown = []
    app.image.observe(lambda change: shown.append(change["new"]), names="value")
    app.controls["x"].set_state({"value": 1.5})
    t0 = time.time()
    while not app.live._warming and time.time() < t0 + 30:
        time.sleep(0.01)
    time.sleep(max(0.0, t0 + 1.5 * app_mod.DRAG_GAP_S - time.time()))   # a new change, not a drag
    assert app.live._warming
    app.controls["x"].set_state({"value": 9.0})
    assert app.live.idle(30)
    assert drawn[-1] == 9.0 and len(shown) == 2
    ahead = drawn[drawn.index(1.5) + 1:drawn.index(9.0)]
    assert 1 <= len(ahead) <= 2 and set(ahead) <= set(range(2, 8))     # at most the one being drawn
    assert app.live.idle(60, warmed=True)
    assert len(shown) == 2                                # drawing ahead showed nothing
    later = drawn[drawn.index(9.0) + 1:]
    assert set(ahead) | set(later[:-1]) == set(range(2, 8)) and later[-1] == 9.0   # then the page's own again
    assert app.last["summary"] == "x = 9.0"
    np.testing.assert_array_equal(_pixels(app.image.value), _pixels(shown[-1]))
