"""The divergence widgets' update paths, called without a browser, against independent truth."""
from __future__ import annotations

import numpy as np
import pytest

from tnn_lib import divergences as dv
from tnn_lib.widgets import divergences as w
from tnn_lib.widgets.app import figure_png, new_figure


@pytest.fixture(scope="module")
def fig():
    return new_figure(11.0, 3.6)


@pytest.mark.parametrize("p", [0.0, 0.05, 0.3, 0.5, 0.8, 1.0])
def test_minima_at_the_target(fig, p):
    out = w.draw_divergences(fig, p=p)
    step = w.Y_GRID[1] - w.Y_GRID[0]
    assert abs(out["y_min_l2"] - min(max(p, w.Y_GRID[0]), w.Y_GRID[-1])) <= step
    assert abs(out["y_min_kl"] - min(max(p, w.Y_GRID[0]), w.Y_GRID[-1])) <= step
    if 0 < p < 1:
        zstep = w.Z_GRID[1] - w.Z_GRID[0]
        assert abs(out["z_min_kl"] - np.log(p / (1 - p))) <= zstep
        assert abs(out["z_min_l2"] - np.log(p / (1 - p))) <= zstep


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
def test_curves_equal_the_reference_divergences(fig, p):
    out = w.draw_divergences(fig, p=p)
    y = out["y_grid"]
    Y, D = np.stack([y, 1 - y], 1), np.tile([p, 1 - p], (len(y), 1))
    # per-point binary KL and L2 (on the single output y) from tnn_lib.divergences
    kl = np.array([dv.kl_divergence(Y[i:i + 1], D[i:i + 1]) for i in range(0, len(y), 50)])
    np.testing.assert_allclose(out["kl_y"][::50], kl, rtol=1e-10, atol=1e-14)
    l2 = np.array([dv.l2_divergence(y[i:i + 1, None], np.array([[p]])) for i in range(0, len(y), 50)])
    np.testing.assert_allclose(out["l2_y"][::50], l2, rtol=1e-12, atol=1e-15)
    z = out["z_grid"]
    bce = np.array([dv.sigmoid_bce(z[i:i + 1, None], np.array([[p]]))[0] for i in range(0, len(z), 40)])
    ent = (p * np.log(p) if p > 0 else 0) + ((1 - p) * np.log(1 - p) if p < 1 else 0)
    np.testing.assert_allclose(out["kl_z"][::40], bce + ent, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_only_kl_is_convex_in_z(fig, p):
    out = w.draw_divergences(fig, p=p)
    # both convex in y: non-negative second differences
    for key in ("l2_y", "kl_y"):
        assert np.all(np.diff(out[key], 2) >= -1e-12), key
    assert out["min_d2_kl_z"] >= 0 and np.all(np.diff(out["kl_z"], 2) >= -1e-12)
    assert out["min_d2_l2_z"] < 0 and out["l2_nonconvex_z"]
    assert np.any(np.diff(out["l2_z"], 2) < 0)                   # the curve itself bends the wrong way


def test_second_derivative_formula_matches_finite_differences():
    z, h = np.linspace(-6, 6, 25), 1e-4
    for p in (0.1, 0.5, 1.0):
        f = lambda v: 0.5 * (1 / (1 + np.exp(-v)) - p) ** 2
        fd = (f(z + h) - 2 * f(z) + f(z - h)) / h**2
        np.testing.assert_allclose(w.l2_second_derivative_in_z(z, p), fd, atol=1e-6)


def test_explorer_controls_change_the_image(fig):
    w.draw_divergences(fig, **w.DEFAULTS)
    ref = figure_png(fig)
    for key, value in (("p", 0.8), ("show", "KL"), ("mark_nonconvex", False)):
        w.draw_divergences(fig, **{**w.DEFAULTS, key: value})
        assert figure_png(fig) != ref, key
    w.draw_divergences(fig, **w.DEFAULTS)
    assert figure_png(fig) == ref


@pytest.fixture(scope="module")
def sfig():
    return new_figure(12.0, 3.6)


# 300: a range so wide that e^z would overflow (the surfaces' terms then take the direct exp)
@pytest.mark.parametrize("extent,noise", [(8.0, 0.2), (1.0, 0.0), (20.0, 0.45), (4.0, 0.3), (300.0, 0.1)])
def test_surfaces_equal_the_reference_losses(sfig, extent, noise):
    out = w.draw_loss_surfaces(sfig, extent=extent, label_noise=noise)
    x, d = w.perceptron_data(noise)
    assert x.shape == (100, 2) and set(np.unique(d)) <= {0.0, 1.0}
    for i, j in ((0, 0), (40, 17), (80, 80), (13, 66)):
        wv = np.array([out["w1"][j], out["w2"][i]])
        z = (x @ wv)[:, None]
        with np.errstate(over="ignore"):         # e^(−z) = inf for z ≪ 0: y = 0, as it should
            y = 1 / (1 + np.exp(-z))
        assert out["l2"][i, j] == pytest.approx(dv.l2_divergence(y, d[:, None]), rel=1e-10)
        assert out["kl"][i, j] == pytest.approx(dv.sigmoid_bce(z, d[:, None])[0], rel=1e-10)
    assert out["l2_min"] == pytest.approx(out["l2"].min()) and out["kl_min"] == pytest.approx(out["kl"].min())
    assert out["cut_kl_convex"]


def test_kl_surface_minimum_is_logistic_regression(sfig):
    """The grid minimum of KL is within a grid step of the logistic-regression optimum (Newton)."""
    out = w.draw_loss_surfaces(sfig, extent=8.0, label_noise=0.2)
    x, d = w.perceptron_data(0.2)
    wv = np.zeros(2)
    for _ in range(50):
        y = 1 / (1 + np.exp(-x @ wv))
        g = x.T @ (y - d) / len(d)
        H = (x * (y * (1 - y))[:, None]).T @ x / len(d)
        wv -= np.linalg.solve(H, g)
    step = out["w1"][1] - out["w1"][0]
    assert np.all(np.abs(out["w_min_kl"] - wv) <= step)
    assert not out["cut_l2_convex"]                               # L2 bends the wrong way along the same cut


def test_surface_controls_change_the_image(sfig):
    base = dict(w.SURFACE_DEFAULTS)
    w.draw_loss_surfaces(sfig, **base)
    ref = figure_png(sfig)
    for key, value in (("extent", 15.0), ("label_noise", 0.0), ("colour_scale", "log")):
        w.draw_loss_surfaces(sfig, **{**base, key: value})
        assert figure_png(sfig) != ref, key


def test_factories_build_headless():
    a, b = w.divergence_explorer(), w.loss_surfaces()
    assert a.image.value[:4] == b"\x89PNG" and b.image.value[:4] == b"\x89PNG"
    a.controls["p"].value = 0.9
    assert "p = 0.90" in a.last["summary"]
    with pytest.raises(ValueError):
        w.draw_divergences(new_figure(), p=1.5)


@pytest.mark.parametrize("extent,noise", [(8.0, 0.2), (1.3, 0.0), (19.7, 0.45)])
def test_draft_surfaces_are_the_same_losses_on_every_other_grid_point(extent, noise):
    """A draft of a new weight range computes the surfaces on DRAFT_GRID: the same formulas at
    every other point of the full grid (the reference losses at those weights), not cached."""
    assert w.DRAFT_GRID < w.GRID and (w.GRID - 1) % (w.DRAFT_GRID - 1) == 0
    before = (w.perceptron_surfaces.cache_info().currsize, w._surface_terms.cache_info().currsize)
    w1, w2, l2, kl = w.draft_surfaces(extent, noise)
    assert (w.perceptron_surfaces.cache_info().currsize, w._surface_terms.cache_info().currsize) == before
    assert l2.shape == kl.shape == (w.DRAFT_GRID, w.DRAFT_GRID)
    np.testing.assert_allclose(w1, np.linspace(-extent, extent, w.GRID)[::2], rtol=0, atol=1e-12)
    x, d = w.perceptron_data(noise)
    for i, j in ((0, 0), (20, 7), (40, 40), (5, 33)):
        z = (x @ np.array([w1[j], w2[i]]))[:, None]
        assert l2[i, j] == pytest.approx(dv.l2_divergence(1 / (1 + np.exp(-z)), d[:, None]), rel=1e-10)
        assert kl[i, j] == pytest.approx(dv.sigmoid_bce(z, d[:, None])[0], rel=1e-10)
    full = w.perceptron_surfaces(extent, noise)
    np.testing.assert_allclose(l2, full[2][::2, ::2], rtol=1e-9)
    np.testing.assert_allclose(kl, full[3][::2, ::2], rtol=1e-9)


def test_a_draft_of_a_new_weight_range_is_coarse_and_any_other_frame_full(sfig):
    """The draw computes the coarse grid only for a draft whose weight range was not drawn
    before; a draft at the range last drawn (a drag of the label noise) and every full-quality
    frame use the full grid, whose numbers are those of perceptron_surfaces."""
    from tnn_lib.widgets.state import WidgetState

    state = WidgetState(sfig)
    full = w.draw_loss_surfaces(state, extent=6.0, label_noise=0.2)
    assert full["l2"].shape == (w.GRID, w.GRID)
    state.draft = True
    draft = w.draw_loss_surfaces(state, extent=6.5, label_noise=0.2)            # a new range
    assert draft["l2"].shape == (w.DRAFT_GRID, w.DRAFT_GRID)
    i, j = np.unravel_index(int(np.argmin(draft["kl"])), draft["kl"].shape)
    assert tuple(draft["w_min_kl"]) == (draft["w1"][j], draft["w2"][i])
    same = w.draw_loss_surfaces(state, extent=6.0, label_noise=0.3)            # the range drawn last
    assert same["l2"].shape == (w.GRID, w.GRID)
    state.draft = False
    again = w.draw_loss_surfaces(state, extent=6.5, label_noise=0.2)
    ref = w.perceptron_surfaces(6.5, 0.2)
    np.testing.assert_array_equal(again["l2"], ref[2])
    np.testing.assert_array_equal(again["kl"], ref[3])
