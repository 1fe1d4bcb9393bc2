"""The dropout-scaling widget's update path, without a browser: training and test
statistics against the expectations of the lecture notes, and a changing image."""
from __future__ import annotations

import numpy as np
import pytest

from tnn_lib.widgets.app import figure_png, new_figure
from tnn_lib.widgets.dropout import (CONVENTIONS, DEFAULTS, DRAWS, MAX_SAMPLES, _fixed, draw_dropout_scaling,
                                     dropout_scaling)

_H, _W, _ = _fixed()
FULL = float(_H @ _W)        # the network without dropout


def _tolerance(out):         # four standard errors of a mean over DRAWS masks
    return 4 * out["train_std"] / np.sqrt(DRAWS) + 1e-12


@pytest.mark.parametrize("keep_prob", [0.05, 0.5, 1.0])
@pytest.mark.parametrize("convention", CONVENTIONS[:2])
def test_correct_conventions_test_value_matches_the_training_mean(keep_prob, convention):
    out = draw_dropout_scaling(new_figure(), keep_prob=keep_prob, convention=convention)
    assert abs(out["train_mean"] - out["test_value"]) < _tolerance(out)
    expected = FULL if convention == CONVENTIONS[0] else keep_prob * FULL   # E[x·mask/α] = x, E[x·mask] = αx
    assert out["expected_train_mean"] == pytest.approx(expected)
    assert abs(out["train_mean"] - expected) < _tolerance(out)


@pytest.mark.parametrize("keep_prob", [0.05, 0.5])
def test_no_scaling_is_off_by_the_factor_keep_prob(keep_prob):
    out = draw_dropout_scaling(new_figure(), keep_prob=keep_prob, convention=CONVENTIONS[2])
    assert out["test_value"] == pytest.approx(FULL)
    assert abs(out["train_mean"] - keep_prob * FULL) < _tolerance(out)
    assert out["test_value"] - out["train_mean"] > 0.5 * (1 - keep_prob) * FULL


def test_keep_prob_one_is_no_dropout():
    for convention in CONVENTIONS:
        out = draw_dropout_scaling(new_figure(), keep_prob=1.0, convention=convention)
        assert out["train_std"] == pytest.approx(0.0, abs=1e-12)
        assert out["test_value"] == pytest.approx(FULL)


def test_forgot_eval_mode_gives_a_random_test_value():
    out = draw_dropout_scaling(new_figure(), keep_prob=0.5, convention=CONVENTIONS[3])
    assert abs(out["test_value"] - FULL) > 1e-6     # one random pass, not the expected network


@pytest.mark.parametrize("n_samples", [1, DEFAULTS["n_samples"], MAX_SAMPLES])
def test_monte_carlo_running_mean(n_samples):
    out = draw_dropout_scaling(new_figure(), keep_prob=0.5, n_samples=n_samples)
    assert out["mc_mean_a"].shape == (n_samples,)
    assert np.all((out["mc_mean_sigmoid"] > 0) & (out["mc_mean_sigmoid"] < 1))
    if n_samples == MAX_SAMPLES:   # converged to the single scaled pass within the Monte-Carlo error
        assert abs(out["mc_mean_a"][-1] - out["scaled_pass"]) < 4 * out["train_std"] / np.sqrt(n_samples)


def test_bad_keep_prob_and_convention_are_value_errors():
    with pytest.raises(ValueError, match="keep_prob"):
        draw_dropout_scaling(new_figure(), keep_prob=0.0)
    with pytest.raises(ValueError, match="convention"):
        draw_dropout_scaling(new_figure(), convention="drop")


@pytest.mark.parametrize("control,value", [("keep_prob", 0.05), ("keep_prob", 1.0), ("n_samples", MAX_SAMPLES),
                                           ("convention", CONVENTIONS[1]), ("convention", CONVENTIONS[3])])
def test_changing_a_control_changes_the_image(control, value):
    app = dropout_scaling()
    assert app.values() == DEFAULTS
    before = figure_png(app.fig)
    app.controls[control].value = value
    assert figure_png(app.fig) != before
    import ipywidgets as widgets
    assert {widgets.FloatSlider, widgets.Dropdown} <= {type(c) for c in app.controls.values()}


def test_titles_stay_inside_the_figure_after_cached_redraws():
    app = dropout_scaling()
    for step in ("first render", "after a change"):
        if step == "after a change":
            app.controls["keep_prob"].value = 0.3       # a redraw over the cached background
        renderer = app.fig.canvas.get_renderer()
        for ax in app.fig.axes:
            box = ax.title.get_window_extent(renderer)
            assert 0 <= box.y0 and box.y1 <= app.fig.bbox.y1, f"{step}: title {ax.title.get_text()!r} off the figure"
