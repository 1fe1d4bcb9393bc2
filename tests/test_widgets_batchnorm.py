"""The covariate-shift widget's update path, without a browser: numbers against
independent computations at the controls' extremes and defaults, and a changing image."""
from __future__ import annotations

import numpy as np
import pytest

from tnn_lib.widgets.app import figure_png, new_figure
from tnn_lib.widgets.batchnorm import DEFAULTS, EPS, MODES, covariate_shift, draw_covariate_shift, minibatches


@pytest.mark.parametrize("shift", [0.0, 5.0])
@pytest.mark.parametrize("gamma,beta", [(0.2, -3.0), (1.0, 0.0), (3.0, 3.0)])
def test_training_mode_puts_every_minibatch_at_beta_with_std_gamma(shift, gamma, beta):
    out = draw_covariate_shift(new_figure(), shift=shift, gamma=gamma, beta=beta, mode=MODES[0])
    z = minibatches(shift)
    np.testing.assert_allclose(out["raw_means"], z.mean(axis=1))
    np.testing.assert_allclose(out["bn_means"], beta, atol=1e-12)
    # the std is γ·σ/√(σ²+ε), computed here from the raw batches
    sd = z.std(axis=1)
    np.testing.assert_allclose(out["bn_stds"], gamma * sd / np.sqrt(sd**2 + EPS), rtol=1e-12)


def test_raw_minibatch_means_move_with_the_shift():
    a = draw_covariate_shift(new_figure(), shift=0.0)["raw_means"]
    b = draw_covariate_shift(new_figure(), shift=5.0)["raw_means"]
    spread_a, spread_b = np.ptp(a, axis=0).max(), np.ptp(b, axis=0).max()
    assert spread_b > spread_a + 5.0, (spread_a, spread_b)


def test_inference_mode_keeps_the_shift_between_batches():
    shift, gamma, beta = 5.0, 2.0, 1.0
    out = draw_covariate_shift(new_figure(), shift=shift, gamma=gamma, beta=beta, mode=MODES[1])
    z = minibatches(shift)
    mu = z.mean(axis=(0, 1))                       # mean of batch means (equal sizes)
    B = z.shape[1]
    var = B / (B - 1) * z.var(axis=1).mean(axis=0)  # the lecture notes' estimate
    expected = gamma * (z.mean(axis=1) - mu) / np.sqrt(var + EPS) + beta
    np.testing.assert_allclose(out["bn_means"], expected, rtol=1e-10)
    np.testing.assert_allclose(out["bn_means"].mean(axis=0), beta, atol=1e-10)
    assert np.ptp(out["bn_means"], axis=0).max() > 1.0


def test_unknown_mode_is_a_value_error():
    with pytest.raises(ValueError, match="mode"):
        draw_covariate_shift(new_figure(), mode="sometimes")


@pytest.mark.parametrize("control,value", [("shift", 0.0), ("gamma", 3.0), ("beta", -3.0), ("mode", MODES[1])])
def test_changing_a_control_changes_the_image(control, value):
    app = covariate_shift()
    before = figure_png(app.fig)
    assert app.values() == DEFAULTS
    app.controls[control].value = value
    assert figure_png(app.fig) != before
    assert app.image.value == figure_png(app.fig)


def test_the_app_has_a_slider_and_a_toggle_and_redraws_headless():
    import ipywidgets as widgets
    app = covariate_shift()
    kinds = {type(c) for c in app.controls.values()}
    assert widgets.FloatSlider in kinds and widgets.ToggleButtons in kinds
    assert "after BN" in app.last["summary"]
    assert app.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_other_savefig_formats_take_the_ordinary_path():
    fig = new_figure()
    draw_covariate_shift(fig)
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    assert b"<svg" in buf.getvalue()[:400]


def test_titles_stay_inside_the_figure_after_cached_redraws():
    app = covariate_shift()
    for step in ("first render", "after a change"):
        if step == "after a change":
            app.controls["gamma"].value = 2.0           # a redraw over the cached background
        renderer = app.fig.canvas.get_renderer()
        for ax in app.fig.axes:
            box = ax.title.get_window_extent(renderer)
            assert 0 <= box.y0 and box.y1 <= app.fig.bbox.y1, f"{step}: title {ax.title.get_text()!r} off the figure"
