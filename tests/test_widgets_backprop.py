"""The activation explorer's update path, called without a browser: the numbers it plots
against independent computations, at the controls' extremes and defaults."""
from __future__ import annotations

import numpy as np
import pytest

from tnn_lib.widgets import backprop as w
from tnn_lib.widgets.app import figure_png, new_figure


@pytest.fixture(scope="module")
def fig():
    return new_figure(11.0, 3.8)


def _direct_dead(bias, scale):
    """Count dead units directly: z ≤ 0 on every input."""
    z = scale * w.layer_data()[0] + bias
    return float(np.mean(np.all(z <= 0, axis=0)))


def _direct_saturated(name, bias, scale):
    z = scale * w.layer_data()[0] + bias
    h = 1e-6
    fwd = {"relu": lambda v: np.maximum(v, 0), "leaky_relu": lambda v: np.where(v > 0, v, 0.01 * v),
           "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0))),
           "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh}[name]
    if name == "relu":
        deriv = (z > 0).astype(float)
    else:
        deriv = (fwd(z + h) - fwd(z - h)) / (2 * h)
    return float(np.mean(deriv < w.SAT_FRACTION * w.max_derivative(name)))


@pytest.mark.parametrize("activation", w.ACTIVATIONS)
@pytest.mark.parametrize("bias,scale", [(0.0, 1.0), (w.BIAS_RANGE[0], 0.1), (w.BIAS_RANGE[1], 10.0),
                                        (-3.0, 1.0), (w.BIAS_RANGE[0], 10.0)])
def test_fractions_match_a_direct_count(fig, activation, bias, scale):
    out = w.draw_activation(fig, activation=activation, bias_init=bias, weight_scale=scale)
    assert out["dead_fraction"] == pytest.approx(_direct_dead(bias, scale), abs=1e-12)
    assert out["saturated_fraction"] == pytest.approx(_direct_saturated(activation, bias, scale), abs=2e-3)
    assert 0.0 <= out["saturated_fraction"] <= 1.0
    assert out["zero_gradient_fraction"] == (out["dead_fraction"] if activation == "relu" else 0.0)


def test_dead_fraction_extremes_and_monotone(fig):
    out = w.draw_activation(fig)                                  # defaults: ReLU, b = 0
    assert out["dead_fraction"] == 0.0                            # a unit with zero bias is active on some input
    assert np.all(np.diff(out["dead_curve"]) <= 0)               # more bias, fewer dead units
    assert w.draw_activation(fig, bias_init=w.BIAS_RANGE[0], weight_scale=0.1)["dead_fraction"] == 1.0
    assert out["saturated_fraction"] == pytest.approx(0.5, abs=0.02)   # ReLU: z ~ N(0, 1) is negative half the time


def test_function_and_derivative_against_formulas(fig):
    z = w.Z_GRID
    out = w.draw_activation(fig, activation="sigmoid")
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(out["phi"], s, rtol=1e-12)
    np.testing.assert_allclose(out["dphi"], s * (1 - s), rtol=1e-10)
    out = w.draw_activation(fig, activation="tanh")
    np.testing.assert_allclose(out["dphi"], 1 - np.tanh(z) ** 2, atol=1e-12)
    # the shaded saturated intervals are where the derivative is small
    for lo, hi in out["saturated_intervals"]:
        inside = (z > lo + 1e-9) & (z < hi - 1e-9)
        assert np.all(out["dphi"][inside] < w.SAT_FRACTION)
    out = w.draw_activation(fig, activation="leaky_relu")
    assert out["saturated_intervals"] == [] and out["saturated_fraction"] == 0.0


def test_every_control_changes_the_image(fig):
    base = dict(w.DEFAULTS)
    w.draw_activation(fig, **base)
    ref = figure_png(fig)
    for key, value in (("activation", "tanh"), ("bias_init", -3.0), ("weight_scale", 5.0),
                       ("show_derivative", False)):
        w.draw_activation(fig, **{**base, key: value})
        assert figure_png(fig) != ref, f"changing {key} did not change the image"
    w.draw_activation(fig, **base)
    assert figure_png(fig) == ref                                 # drawing is a function of the controls


def test_factory_builds_headless():
    app = w.activation_explorer()
    assert set(app.controls) == {"activation", "bias_init", "weight_scale", "show_derivative"}
    assert app.image.value[:4] == b"\x89PNG"
    app.controls["activation"].value = "elu"
    assert "elu" in app.last["summary"]
    with pytest.raises(ValueError):
        w.draw_activation(new_figure(), activation="swish")
