"""The overfitting explorer's update path, without a browser: its numbers against an
independent computation, the controls' extremes, and that each control changes the image."""
from __future__ import annotations

import numpy as np
import pytest

from tnn_lib.widgets.app import figure_png, new_figure
from tnn_lib.widgets.regularization import (DEFAULTS, STEPS, draw_overfitting, features, fit_curves,
                                            overfitting_explorer, sample_data)


@pytest.fixture
def fig():
    return new_figure(9.5, 3.6)


def test_defaults_draw_and_report_finite_numbers(fig):
    out = draw_overfitting(fig)
    assert out["train_curve"].shape == out["val_curve"].shape == (STEPS,)
    assert np.all(np.isfinite(out["train_curve"])) and np.all(np.isfinite(out["val_curve"]))
    assert out["weights"].shape == (DEFAULTS["degree"] + 1,)
    assert figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_early_stopping_point_is_the_argmin_of_the_validation_curve(fig):
    for lam, degree, n in [(1e-6, 12, 12), (1e-2, 5, 30), (1.0, 15, 4)]:
        out = draw_overfitting(fig, lam=lam, degree=degree, n_points=n)
        assert out["stop_step"] == int(np.argmin(out["val_curve"]))
        assert out["val_loss_early"] == pytest.approx(out["val_curve"].min())
        assert out["val_loss_early"] <= out["val_loss"]


def test_curves_are_the_losses_of_the_plotted_weights(fig):
    out = draw_overfitting(fig, lam=1e-3, degree=9, n_points=15)
    x, y, x_val, y_val = sample_data(15)
    train = 0.5 * np.mean((features(x, 9) @ out["weights"] - y) ** 2)
    val = 0.5 * np.mean((features(x_val, 9) @ out["weights"] - y_val) ** 2)
    assert out["train_loss"] == pytest.approx(train, rel=1e-10)
    assert out["val_loss"] == pytest.approx(val, rel=1e-10)


def test_gradient_descent_approaches_the_ridge_solution():
    """Independent truth: the minimiser of ½·mean (Xw − y)² + ½λ‖w‖² in closed form."""
    lam, degree, n = 1e-1, 4, 20
    r = fit_curves(lam, degree, n)
    x, y, _, _ = sample_data(n)
    X = features(x, degree)
    w_star = np.linalg.solve(X.T @ X / n + lam * np.eye(degree + 1), X.T @ y / n)
    np.testing.assert_allclose(r["w"], w_star, atol=1e-6)


def test_larger_lambda_gives_smaller_weights(fig):
    norms = [draw_overfitting(fig, lam=lam, degree=12, n_points=12)["weight_norm"]
             for lam in (1e-6, 1e-3, 1e-1, 1.0)]
    assert all(a > b for a, b in zip(norms, norms[1:])), norms


def test_overfitting_shows_with_high_degree_and_few_points(fig):
    over = draw_overfitting(fig, lam=1e-6, degree=15, n_points=12)
    simple = draw_overfitting(fig, lam=1e-6, degree=3, n_points=12)
    assert over["train_loss"] < simple["train_loss"]      # fits the training points better
    assert over["val_loss"] > simple["val_loss"]          # and generalises worse
    assert over["val_loss"] > over["val_loss_early"]      # early stopping helps


def test_more_data_reduces_the_validation_loss(fig):
    few = draw_overfitting(fig, lam=1e-6, degree=12, n_points=8)
    many = draw_overfitting(fig, lam=1e-6, degree=12, n_points=80)
    assert many["val_loss"] < few["val_loss"]


@pytest.mark.parametrize("values", [dict(lam=1e-6, degree=1, n_points=4), dict(lam=1.0, degree=15, n_points=80),
                                    dict(lam=1e-6, degree=15, n_points=4), dict(lam=1.0, degree=1, n_points=80)])
def test_extremes_of_the_controls(fig, values):
    out = draw_overfitting(fig, **values)
    assert np.all(np.isfinite(out["weights"])) and np.isfinite(out["val_loss"])
    assert 0 <= out["stop_step"] < STEPS
    figure_png(fig)


def test_each_control_changes_the_image():
    app = overfitting_explorer()
    base = app.image.value
    for name, value in [("lam", 0.1), ("degree", 3), ("n_points", 40)]:
        old = app.controls[name].value
        app.controls[name].value = value
        assert app.image.value != base, f"changing {name} did not change the image"
        app.controls[name].value = old
        assert app.image.value == base


def test_gradient_descent_iterates_equal_the_step_by_step_loop():
    """fit_curves computes all iterates at once (closed form of the linear GD step): they are
    those of the plain loop w ← w − η(Xᵀ(Xw − y)/n + ∇penalty), the penalty from l2_penalty."""
    from tnn_lib.regularization import l2_penalty

    for lam, degree, n in [(1e-4, 12, 12), (1e-6, 15, 4), (1.0, 3, 80)]:
        r = fit_curves(lam, degree, n)
        x, y, x_val, y_val = sample_data(n)
        X, Xv = features(x, degree), features(x_val, degree)
        lr = 1.0 / (np.linalg.eigvalsh(X.T @ X / n).max() + lam)
        w = np.zeros(degree + 1)
        for t in range(STEPS):
            w = w - lr * (X.T @ (X @ w - y) / n + l2_penalty({"w": w}, lam)[1]["w"])
            if t in (0, 9, 99, STEPS - 1):
                assert r["train"][t] == pytest.approx(0.5 * np.mean((X @ w - y) ** 2), rel=1e-7)
                assert r["val"][t] == pytest.approx(0.5 * np.mean((Xv @ w - y_val) ** 2), rel=1e-7)
        np.testing.assert_allclose(r["w"], w, rtol=1e-7, atol=1e-9)


def _pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def test_fast_image_matches_a_full_render():
    """The blitted PNG (cached background, fits and curves redrawn, titles and legends
    composited) nearly equals matplotlib's own savefig of the figure, before and after a change."""
    from tnn_lib.widgets.app import reference_png

    app = overfitting_explorer()
    for name, value in [(None, None), ("lam", 1e-2), ("degree", 3), ("n_points", 40)]:
        if name is not None:
            app.controls[name].value = value
        fast, ref = _pixels(app.image.value), _pixels(reference_png(app.fig))
        assert fast.shape == ref.shape
        differing = (np.abs(fast - ref).max(axis=-1) > 8).mean()
        assert differing < 0.005, (name, differing)     # drawing order of a few overlapping pixels
        app.refresh()                                       # after a full render, the cache still holds
        assert app.image.value == figure_png(app.fig)
