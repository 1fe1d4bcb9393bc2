"""The schedule and landscape explorer's update path, without a browser: the 2/λ_max
boundary, the schedules' rates from tnn_lib, momentum on a long valley, escaping the saddle,
and the widget's conventions (no state kept on the figure or the module)."""
from __future__ import annotations

import numpy as np
import pytest

from tnn_lib import optim
from tnn_lib.widgets import schedules as explorer
from tnn_lib.widgets.app import figure_png, new_figure
from tnn_lib.widgets.schedules import SCHEDULES, ExplorerState, draw_schedule_explorer, schedule_explorer


def _draw(**values):
    return draw_schedule_explorer(ExplorerState(new_figure()), **values)


@pytest.mark.parametrize("kappa", [4.0, 50.0])
def test_the_boundary_2_over_lambda_max(kappa):
    below = _draw(kappa=kappa, lr_scale=0.99, steps=300)
    above = _draw(kappa=kappa, lr_scale=1.01, steps=300)
    assert below["max_stable_lr"] == pytest.approx(2 / kappa, rel=1e-12)
    assert not below["diverged"] and below["losses"][-1] < 1e-3 * below["losses"][0]
    assert above["losses"][-1] > 10 * above["losses"][0]       # grows along y at |1 − 2.02| per step


def test_rates_are_the_schedules_of_tnn_lib():
    out = _draw(schedule=SCHEDULES[3], steps=40, lr_scale=0.5, kappa=10.0)
    lr0 = 0.5 * 2 / 10.0
    np.testing.assert_allclose(out["rates"], [optim.cosine_annealing(lr0, t, T_max=39) for t in range(40)])
    out = _draw(schedule=SCHEDULES[1], steps=45, lr_scale=0.5, kappa=10.0)
    assert out["rates"][0] == pytest.approx(lr0) and out["rates"][44] == pytest.approx(lr0 / 4)


def test_plateau_schedule_divides_by_ten_at_the_noise_floor():
    # noisy gradients: a constant rate stalls at a noise floor; ÷10 on the plateau lowers it
    out = _draw(schedule=SCHEDULES[5], lr_scale=0.5, kappa=10.0, steps=200, noise=0.5)
    const = _draw(schedule=SCHEDULES[0], lr_scale=0.5, kappa=10.0, steps=200, noise=0.5)
    lr0 = 0.5 * 2 / 10.0
    ratios = sorted(set(np.round(out["rates"] / lr0, 12)))
    assert ratios[-1] == 1.0 and 0.1 in ratios                 # ÷10 at least once, never another factor
    assert all(r in (1.0, 0.1, 0.01, 0.001, 0.0001) for r in ratios)
    assert np.all(np.diff(out["rates"]) <= 0)
    assert np.mean(out["losses"][-50:]) < 0.5 * np.mean(const["losses"][-50:])


def test_momentum_speeds_up_the_long_valley():
    plain = _draw(kappa=100.0, lr_scale=0.9, momentum=0.0, steps=100)
    heavy = _draw(kappa=100.0, lr_scale=0.45, momentum=0.8, steps=100)
    assert heavy["losses"][-1] < 1e-3 * plain["losses"][-1]


def test_the_saddle_is_escaped_from_just_off_the_ridge():
    out = _draw(surface="saddle", lr_scale=0.5, kappa=1.0, steps=80)      # lr = 0.5: y grows ×1.5 per step
    assert abs(out["path"][0, 1]) < 0.05 and abs(abs(out["path"][-1, 1]) - 1.0) < 1e-3
    assert out["losses"][-1] == pytest.approx(-0.25, abs=1e-6)


def test_bad_controls():
    with pytest.raises(ValueError, match="surface"):
        _draw(surface="bowl")
    with pytest.raises(ValueError, match="schedule"):
        _draw(schedule="random")
    with pytest.raises(ValueError, match="kappa"):
        _draw(kappa=0.5)


def test_widget_conventions_and_a_changing_image():
    app = schedule_explorer()
    assert not [k for k in vars(app.fig) if k.startswith("_tnn")]
    assert not [k for k, v in vars(explorer).items() if isinstance(v, (list, dict, set)) and not k.isupper() and not k.startswith("__")]
    for name, c in app.controls.items():
        assert int(c.layout.width.rstrip("px")) >= 150, name
    first = figure_png(app.fig)
    app.controls["surface"].value = "saddle"
    assert app.last["max_stable_lr"] == pytest.approx(2 / 20)          # at the minima H = diag(κ, 2), κ = 20
    assert figure_png(app.fig) != first
    other = schedule_explorer()                 # two explorers share nothing
    other.controls["kappa"].value = 50.0
    assert app.last["max_stable_lr"] == pytest.approx(2 / 20) and other.last["max_stable_lr"] == pytest.approx(2 / 50)


@pytest.mark.parametrize("surface", ["valley", "saddle"])
def test_every_control_changes_the_run_on_both_surfaces(surface):
    base = dict(surface=surface, schedule=SCHEDULES[0], lr_scale=0.5, momentum=0.0, kappa=10.0, steps=40, noise=0.0)
    ref_out = _draw(**base)
    for name, value in [("schedule", SCHEDULES[3]), ("lr_scale", 0.6), ("momentum", 0.5), ("kappa", 20.0),
                        ("steps", 45), ("noise", 0.3)]:
        out = _draw(**dict(base, **{name: value}))
        assert out["path"].shape != ref_out["path"].shape or not np.array_equal(out["path"], ref_out["path"]), name
