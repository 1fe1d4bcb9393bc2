"""tnn_lib.schedules (re-exported by tnn_lib.optim): values worked by hand from the
documented semantics (PyTorch's for ReduceLROnPlateau, Rprop, CosineAnnealingLR, LinearLR;
Fahlman's secant rule for QuickProp) and the 2/λ_max stability boundary."""
import math

import numpy as np
import pytest

from tnn_lib import optim
from tnn_lib.optim import (ReduceLROnPlateau, cosine_annealing, linear_warmup, max_stable_lr,
                           quickprop_step, rprop_step)


# --------------------------------------------------------------------------- cosine / warm-up
def test_cosine_closed_form_points():
    assert cosine_annealing(0.1, 0, 10) == 0.1
    assert cosine_annealing(0.1, 10, 10, eta_min=0.01) == pytest.approx(0.01, abs=1e-15)
    assert cosine_annealing(0.1, 5, 10) == pytest.approx(0.05, abs=1e-15)          # half-way: the mean
    assert cosine_annealing(0.2, 10 / 3, 10) == pytest.approx(0.2 * 0.75, abs=1e-15)  # cos(π/3) = ½
    assert cosine_annealing(0.1, 20, 10, eta_min=0.02) == pytest.approx(0.1, abs=1e-15)  # a full period


def test_warmup_closed_form_points():
    assert linear_warmup(0.3, 0) == pytest.approx(0.1, abs=1e-15)           # start_factor 1/3
    assert linear_warmup(0.3, 5) == pytest.approx(0.3, abs=1e-15)           # t = total_iters
    assert linear_warmup(0.3, 4, total_iters=4, start_factor=0.25) == pytest.approx(0.3, abs=1e-15)
    assert linear_warmup(0.3, 3, total_iters=4, start_factor=0.25) == pytest.approx(0.3 * 13 / 16, abs=1e-15)
    assert linear_warmup(0.3, 50, total_iters=4, start_factor=0.25, end_factor=0.5) == pytest.approx(0.15, abs=1e-15)


@pytest.mark.parametrize("fn, kwargs, name", [
    (cosine_annealing, dict(lr0=0.1, t=1, T_max=0), "T_max"),
    (cosine_annealing, dict(lr0=-0.1, t=1, T_max=3), "lr0"),
    (cosine_annealing, dict(lr0=0.1, t=-1, T_max=3), "t"),
    (cosine_annealing, dict(lr0=0.1, t=1, T_max=3, eta_min=-1), "eta_min"),
    (linear_warmup, dict(lr0=0.1, t=1, total_iters=0), "total_iters"),
    (linear_warmup, dict(lr0=0.1, t=1, start_factor=0.0), "start_factor"),
    (linear_warmup, dict(lr0=0.1, t=1, start_factor=1.5), "start_factor"),
    (linear_warmup, dict(lr0=0.1, t=1, end_factor=1.5), "end_factor"),
])
def test_schedule_bad_input(fn, kwargs, name):
    with pytest.raises(ValueError, match=name):
        fn(**kwargs)


# --------------------------------------------------------------------------- ReduceLROnPlateau
def _run(sched, metrics):
    return [sched.step(m) for m in metrics]


def test_plateau_min_rel_patience():
    s = ReduceLROnPlateau(1.0, patience=2)
    # 1 best; 1, 1 bad (2 ≤ patience); the third bad epoch reduces; the count restarts at 0
    assert _run(s, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01])
    assert s.num_bad_epochs == 0 and s.last_epoch == 7 and s.best == 1.0


def test_plateau_rel_threshold_is_relative():
    s = ReduceLROnPlateau(1.0, patience=0, threshold=0.1)          # better means < 0.9·best
    assert _run(s, [10.0, 9.5, 8.9]) == pytest.approx([1.0, 0.1, 0.1])
    assert s.best == 8.9
    s = ReduceLROnPlateau(1.0, patience=0, threshold=0.1, threshold_mode="abs")  # < best − 0.1
    assert _run(s, [10.0, 9.5, 9.45]) == pytest.approx([1.0, 1.0, 0.1])
    assert s.best == 9.5


def test_plateau_max_mode():
    s = ReduceLROnPlateau(1.0, mode="max", patience=1, threshold=0.1)     # better: > 1.1·best
    assert _run(s, [0.5, 0.54, 0.55, 0.6, 0.7]) == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.1])
    assert s.best == 0.7
    s = ReduceLROnPlateau(1.0, mode="max", patience=0, threshold=0.05, threshold_mode="abs")
    assert _run(s, [0.5, 0.56, 0.62, 0.66]) == pytest.approx([1.0, 1.0, 1.0, 0.1])


def test_plateau_cooldown():
    s = ReduceLROnPlateau(1.0, patience=0, cooldown=2, factor=0.5)
    # reduce at epoch 2; epochs 3, 4 in cooldown (bad epochs not counted); epoch 5 reduces
    assert _run(s, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) == pytest.approx([1.0, 0.5, 0.5, 0.5, 0.25, 0.25])
    s = ReduceLROnPlateau(1.0, patience=1, cooldown=1, factor=0.5)
    assert _run(s, [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]) == pytest.approx([1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_plateau_min_lr_and_eps():
    s = ReduceLROnPlateau(1.0, patience=0, min_lr=0.05)
    assert _run(s, [1.0, 1.0, 1.0, 1.0]) == pytest.approx([1.0, 0.1, 0.05, 0.05])
    s = ReduceLROnPlateau(1e-8, patience=0, eps=1e-8)          # a reduction of 9e-9 < eps: ignored
    assert _run(s, [1.0, 1.0]) == [1e-8, 1e-8]
    s = ReduceLROnPlateau(1.0, patience=0, factor=0.5, eps=0.5)  # 0.5 is not > eps: ignored
    assert _run(s, [1.0, 1.0]) == [1.0, 1.0]


def test_plateau_nan_is_bad_and_improvement_resets():
    s = ReduceLROnPlateau(1.0, patience=1)
    assert _run(s, [1.0, float("nan"), 0.5, float("nan"), float("nan")]) == pytest.approx([1, 1, 1, 1, 0.1])


@pytest.mark.parametrize("kwargs, name", [
    (dict(lr=-1), "lr"), (dict(lr=1, mode="mean"), "mode"), (dict(lr=1, factor=1.0), "factor"),
    (dict(lr=1, patience=-1), "patience"), (dict(lr=1, patience=1.5), "patience"),
    (dict(lr=1, threshold_mode="relative"), "threshold_mode"), (dict(lr=1, cooldown=-1), "cooldown"),
    (dict(lr=1, min_lr=-1), "min_lr"), (dict(lr=1, eps=-1), "eps"), (dict(lr=1, threshold=-1), "threshold"),
])
def test_plateau_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ReduceLROnPlateau(**kwargs)


def test_plateau_bad_metric():
    with pytest.raises(ValueError, match="metric"):
        ReduceLROnPlateau(1.0).step("0.5")


# --------------------------------------------------------------------------- Rprop
def test_rprop_per_element_sign_behaviour():
    w, state = np.array([0.0, 0.0, 0.0]), {}
    out = rprop_step(w, np.array([1.0, -1.0, 0.0]), state, lr=0.1)
    assert out is w and isinstance(state, dict)
    np.testing.assert_array_equal(w, [-0.1, 0.1, 0.0])            # first step: ±lr, nothing at g = 0
    rprop_step(w, np.array([2.0, 3.0, 1.0]), state, lr=0.1)      # same sign; flip; no trend
    np.testing.assert_allclose(w, [-0.1 - 0.12, 0.1, -0.1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(state["step_size"], [0.12, 0.05, 0.1], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(state["prev"], [2.0, 0.0, 1.0])  # the flipped gradient is zeroed
    rprop_step(w, np.array([1.0, 1.0, 1.0]), state, lr=0.1)      # after the flip: Δ unchanged
    np.testing.assert_allclose(w, [-0.22 - 0.144, 0.05, -0.22], rtol=0, atol=1e-15)
    np.testing.assert_allclose(state["step_size"], [0.144, 0.05, 0.12], rtol=0, atol=1e-15)
    assert state["step"] == 3


def test_rprop_clamps_step_sizes():
    w, state = np.zeros(2), {}
    for _ in range(4):
        rprop_step(w, np.array([1.0, 1.0]), state, lr=1.0, step_sizes=(1e-6, 1.5))
    np.testing.assert_allclose(state["step_size"], [1.5, 1.5])
    np.testing.assert_allclose(w, [-(1 + 1.2 + 1.44 + 1.5)] * 2)
    w, state = np.zeros(1), {}
    for k in range(6):
        rprop_step(w, np.array([(-1.0) ** k]), state, lr=1.0, step_sizes=(0.3, 50))
    # flips at steps 2, 4, 6 (the zeroed gradient leaves steps 3, 5 without trend): 1, .5, .5, .3 (clamped), .3
    np.testing.assert_allclose(state["step_size"], [0.3])


def test_rprop_bad_input():
    with pytest.raises(ValueError, match="etas"):
        rprop_step(np.zeros(2), np.ones(2), {}, etas=(1.2, 0.5))
    with pytest.raises(ValueError, match="step_sizes"):
        rprop_step(np.zeros(2), np.ones(2), {}, step_sizes=(1.0, 0.1))
    with pytest.raises(ValueError, match="w and dw"):
        rprop_step(np.zeros(2), np.ones(3), {})
    with pytest.raises(ValueError, match="state"):
        rprop_step(np.zeros(2), np.ones(2), None)
    with pytest.raises(ValueError, match="w:"):
        rprop_step([0.0, 0.0], np.ones(2), {})


# --------------------------------------------------------------------------- QuickProp
def test_quickprop_one_secant_step_to_the_minimum():
    a, c = np.array([6.0, 8.0]), np.array([1.0, -3.0])
    w, state = np.array([5.0, 2.0]), {}
    grad = lambda w: a * (w - c)
    out = quickprop_step(w, grad(w), state, lr=1.0 / 16)        # a gradient step: Δw = −lr·g
    assert out is w
    np.testing.assert_allclose(w, [5.0 - 1.5, 2.0 - 2.5], rtol=0, atol=1e-15)
    # secant: ratio (1 − lr·a)/(lr·a) ≤ max_growth = 1.75 for both, so the limit does not bind
    quickprop_step(w, grad(w), state, lr=1.0 / 16)               # secant: exactly the minimum
    np.testing.assert_allclose(w, c, rtol=0, atol=1e-14)


def test_quickprop_growth_limit_and_edge_cases():
    w, state = np.array([0.0, 0.0, 0.0]), {}
    quickprop_step(w, np.array([1.0, 1.0, 0.0]), state, lr=0.1, max_growth=1.75)
    np.testing.assert_allclose(w, [-0.1, -0.1, 0.0])
    # element 0: secant −0.1·0.9/0.1 = −0.9, limited to −0.175; element 1: g = g_prev, flat
    # secant: μ·Δw_prev = −0.175; element 2: no previous step: gradient step −0.1·2
    quickprop_step(w, np.array([0.9, 1.0, 2.0]), state, lr=0.1, max_growth=1.75)
    np.testing.assert_allclose(w, [-0.275, -0.275, -0.2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(state["prev_step"], [-0.175, -0.175, -0.2], rtol=0, atol=1e-15)
    quickprop_step(w, np.array([0.0, 0.0, 0.0]), state, lr=0.1)   # g = 0: the secant step is 0
    np.testing.assert_allclose(w, [-0.275, -0.275, -0.2], rtol=0, atol=1e-15)


def test_quickprop_bad_input():
    with pytest.raises(ValueError, match="max_growth"):
        quickprop_step(np.zeros(2), np.ones(2), {}, max_growth=0)
    with pytest.raises(ValueError, match="lr"):
        quickprop_step(np.zeros(2), np.ones(2), {}, lr=-1)


# --------------------------------------------------------------------------- max_stable_lr
def _gd_final_norm(H, lr, steps=2000):
    w = np.ones(H.shape[0])
    for _ in range(steps):
        w = w - lr * (H @ w)
    return np.linalg.norm(w)


def test_max_stable_lr_is_the_boundary():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    H = Q @ np.diag([5.0, 1.0, 0.2, 0.05]) @ Q.T
    H = 0.5 * (H + H.T)
    lr = max_stable_lr(H)
    assert lr == pytest.approx(2 / 5.0, rel=1e-12)
    assert _gd_final_norm(H, 0.99 * lr) < 1e-6       # converges in every direction
    assert _gd_final_norm(H, 1.01 * lr) > 1e6         # diverges along the top eigenvector
    assert max_stable_lr(np.diag([2.0, 0.5])) == pytest.approx(1.0, rel=1e-15)
    assert max_stable_lr(np.diag([2.0, 0.0])) == pytest.approx(1.0, rel=1e-15)   # semi-definite is fine
    assert max_stable_lr(np.zeros((2, 2))) == math.inf


@pytest.mark.parametrize("H, what", [
    (np.array([[1.0, 0.5], [0.0, 1.0]]), "symmetric"),
    (np.array([[1.0, 0.0], [0.0, -0.5]]), "positive semi-definite"),
    (np.ones((2, 3)), "square"),
    (np.ones(3), "2-D"),
    (np.array([[np.inf, 0], [0, 1.0]]), "finite"),
])
def test_max_stable_lr_bad_input(H, what):
    with pytest.raises(ValueError, match=what):
        max_stable_lr(H)


def test_reexported_from_optim():
    for name in ("cosine_annealing", "linear_warmup", "ReduceLROnPlateau", "rprop_step", "quickprop_step",
                 "max_stable_lr"):
        assert name in optim.__all__ and getattr(optim, name) is not None
