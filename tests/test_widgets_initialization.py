"""The activation-statistics explorer's update path, without a browser."""
from __future__ import annotations

import numpy as np
import pytest

from tnn_lib import init
from tnn_lib.widgets.app import figure_png, new_figure
from tnn_lib.widgets.initialization import (DEFAULTS, LECTURE_STDS, _one_blas_thread,
                                            activation_statistics_explorer, draw_activation_statistics)

# The references below run with BLAS on one thread, as the widget computes: another thread
# count splits the products h @ W differently and changes their last bits, and a deep
# saturated net (20 tanh layers of unit weights) is chaotic and amplifies that round-off
# about 3× per layer, to ~1e-3 in single activations and ~1e-7 in the means by layer 20,
# which no tolerance of a few ulps covers. With the same products they agree to the last bit.


def _truth(depth, width, scheme, nonlinearity, n_samples):
    x = np.random.default_rng(0).standard_normal((n_samples, width))
    with _one_blas_thread():
        return init.activation_statistics(x, [width] * depth, scheme, nonlinearity, np.random.default_rng(1))


def _assert_same_means(got, means, stds):
    # a layer's mean is a sum of N·width activations of size ~std that nearly cancel (tanh
    # means ~1e-3 of the std): round-off is relative to the std, not to the mean itself
    for layer, (g, m, s) in enumerate(zip(got, means, stds)):
        assert abs(g - m) <= 1e-12 * (abs(m) + s), (layer, g, m, s)


@pytest.mark.parametrize("depth,width,scheme,nonlinearity", [
    (10, 100, "xavier", "tanh"),           # defaults
    (1, 20, "zeros", "relu"),              # extremes
    (20, 500, "unit", "tanh"),
    (20, 20, "he", "relu"),
    (5, 50, "glorot_uniform", "sigmoid"),
    (3, 20, "small", "linear"),
])
def test_numbers_equal_the_reference_statistics(depth, width, scheme, nonlinearity):
    n = 50 if width == 500 else DEFAULTS["n_samples"]
    out = draw_activation_statistics(new_figure(), depth=depth, width=width, scheme=scheme,
                                     nonlinearity=nonlinearity, n_samples=n)
    means, stds = _truth(depth, width, scheme, nonlinearity, n)
    _assert_same_means(out["means"], means, stds)
    np.testing.assert_allclose(out["stds"], stds, rtol=1e-12, atol=1e-300)
    assert out["hist"].shape == (depth, len(out["edges"]) - 1)
    assert np.all(out["hist"].sum(axis=1) == n * width)  # every value lands in a bin (clipped into range)
    assert out["grad_stds"].shape == (depth,)
    assert out["summary"]
    x = np.random.default_rng(0).standard_normal((n, width))          # the backward pass, too
    with _one_blas_thread():
        _, grad_stds = init.gradient_statistics(x, [width] * depth, scheme, nonlinearity, np.random.default_rng(1))
        acts = init.forward_activations(x, [width] * depth, scheme, nonlinearity, np.random.default_rng(1))
    np.testing.assert_allclose(out["grad_stds"], grad_stds, rtol=1e-12, atol=1e-300)
    lo, hi = out["edges"][0], out["edges"][-1]
    np.testing.assert_array_equal(out["hist"], [np.histogram(np.clip(h, lo, hi), bins=out["edges"])[0] for h in acts])


@pytest.mark.parametrize("scheme,nonlinearity", [("he", "relu"), ("glorot_uniform", "tanh"), ("small", "sigmoid")])
def test_depths_share_their_layers_in_any_order(scheme, nonlinearity):
    """The widget reuses the layers of one depth for another (and its draws across schemes):
    deeper after shallower and shallower after deeper are still the reference's nets."""
    n, width = 40, 50
    for depth in (2, 17, 20, 1, 9):
        out = draw_activation_statistics(new_figure(), depth=depth, width=width, scheme=scheme,
                                         nonlinearity=nonlinearity, n_samples=n)
        x = np.random.default_rng(0).standard_normal((n, width))
        with _one_blas_thread():
            means, stds = init.activation_statistics(x, [width] * depth, scheme, nonlinearity, np.random.default_rng(1))
            _, grad_stds = init.gradient_statistics(x, [width] * depth, scheme, nonlinearity, np.random.default_rng(1))
        _assert_same_means(out["means"], means, stds)
        np.testing.assert_allclose(out["stds"], stds, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(out["grad_stds"], grad_stds, rtol=1e-12, atol=1e-300)


def test_the_lecture_picture_shrinking_xavier_relu_and_steady_he():
    xr = draw_activation_statistics(new_figure(), scheme="xavier", nonlinearity="relu")["stds"]
    he = draw_activation_statistics(new_figure(), scheme="he", nonlinearity="relu")["stds"]
    assert xr[-1] < 0.1 * xr[0]              # halves the variance every layer
    assert 0.5 < he[-1] / he[0] < 2.0        # keeps it
    small = draw_activation_statistics(new_figure(), scheme="small", nonlinearity="tanh")
    xt = draw_activation_statistics(new_figure(), scheme="xavier", nonlinearity="tanh")
    assert small["stds"][-1] < 1e-9 * small["stds"][0]                  # activations collapse to 0 ...
    assert small["grad_stds"].max() < 1e-6 * xt["grad_stds"].min()     # ... and so do the weight gradients
    unit = draw_activation_statistics(new_figure(), scheme="unit", nonlinearity="tanh")
    assert unit["saturated"][-1] > 0.5      # saturated at ±1


def test_lecture_numbers_are_shown_where_the_lecture_has_a_table():
    out = draw_activation_statistics(new_figure(), scheme="he", nonlinearity="relu")
    np.testing.assert_array_equal(out["lecture_stds"], LECTURE_STDS[("he", "relu")])
    assert draw_activation_statistics(new_figure(), scheme="he", nonlinearity="tanh")["lecture_stds"] is None


def test_changing_a_control_changes_the_image():
    app = activation_statistics_explorer()
    before = app.image.value
    for name, value in [("scheme", "he"), ("nonlinearity", "relu"), ("depth", 4), ("width", 50)]:
        app.controls[name].value = value
        assert app.image.value != before, f"changing {name} did not change the image"
        before = app.image.value
    assert figure_png(app.fig)[:4] == b"\x89PNG"


def test_every_controls_extremes_draw():
    app = activation_statistics_explorer()
    c = app.controls
    extremes = [("depth", c["depth"].min), ("depth", c["depth"].max),
                ("width", c["width"].options[0]), ("width", c["width"].options[-1])]
    extremes += [("scheme", v) for _, v in c["scheme"].options] + [("nonlinearity", v) for v in c["nonlinearity"].options]
    extremes += [("width", c["width"].options[0]), ("depth", c["depth"].min)]
    for name, value in extremes:
        before = app.image.value
        if c[name].value == value:
            continue
        c[name].value = value
        out, depth = app.last, c["depth"].value
        assert app.image.value[:4] == b"\x89PNG" and app.image.value != before, (name, value)
        for key in ("means", "stds", "grad_stds", "saturated"):
            assert out[key].shape == (depth,) and np.all(np.isfinite(out[key])), (name, value, key)
        assert out["hist"].shape == (depth, len(out["edges"]) - 1)
        assert np.all(out["hist"].sum(axis=1) == DEFAULTS["n_samples"] * c["width"].value)
        assert f"{DEFAULTS['n_samples']} inputs" in app.fig.axes[0].get_title()   # the sample count is shown
