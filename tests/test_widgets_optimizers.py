"""The optimizer race and the convention switchboard, without a browser."""
from __future__ import annotations

import numpy as np
import pytest

from tnn_lib import optim
from tnn_lib.widgets.app import new_figure
from tnn_lib.widgets.optimizers import (BASE_LR, ESCAPE, OPTIMIZERS, SURFACES, SWITCH_LR, SCHEDULE_K,
                                        convention_switchboard, draw_race,
                                        draw_switchboard, gradient, optimizer_race)

STEPS = {"SGD": lambda w, g, s, lr, mu: optim.sgd_step(w, g, s, lr),
         "Momentum": lambda w, g, s, lr, mu: optim.momentum_step(w, g, s, lr, mu),
         "Nesterov": lambda w, g, s, lr, mu: optim.nesterov_step(w, g, s, lr, mu),
         "Adagrad": lambda w, g, s, lr, mu: optim.adagrad_step(w, g, s, lr),
         "RMSprop": lambda w, g, s, lr, mu: optim.rmsprop_step(w, g, s, lr),
         "Adam": lambda w, g, s, lr, mu: optim.adam_step(w, g, s, lr)}


def test_gradients_are_those_of_the_surfaces():
    rng = np.random.default_rng(0)
    for name, (f, *_rest) in SURFACES.items():
        for p in rng.uniform(-2, 2, size=(5, 2)):
            h = 1e-6
            num = [(f(p + h * e)[0] - f(p - h * e)[0]) / (2 * h) for e in np.eye(2)]
            np.testing.assert_allclose(gradient(name, p), num, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize("lr_scale,momentum,steps", [(1.0, 0.9, 200), (0.1, 0.0, 10), (10.0, 0.99, 1000)])
def test_trajectories_equal_tnn_lib_runs(surface, lr_scale, momentum, steps):
    out = draw_race(new_figure(), surface=surface, lr_scale=lr_scale, momentum=momentum, steps=steps)
    assert set(out["paths"]) == set(OPTIMIZERS)
    for name, path in out["paths"].items():
        lr = BASE_LR[surface][name] * lr_scale
        w, state, expected = np.array(out["start"]), {}, [np.array(out["start"])]
        with np.errstate(all="ignore"):
            for _ in range(steps):
                STEPS[name](w, gradient(surface, w), state, lr, momentum)
                if not np.all(np.isfinite(w)) or np.abs(w).max() > ESCAPE:
                    break
                expected.append(w.copy())
        np.testing.assert_array_equal(path, np.array(expected), err_msg=f"{surface}/{name}")


def test_defaults_reach_the_minimum_of_the_valley_and_escape_the_saddle():
    valley = draw_race(new_figure(), surface="valley")
    assert np.linalg.norm(valley["final"]["Adam"] - np.array([4.0, 0.0])) < 0.05
    assert valley["final"]["SGD"][0] < valley["final"]["Momentum"][0]  # SGD crawls along the valley
    saddle = draw_race(new_figure(), surface="saddle")
    assert abs(saddle["final"]["Adam"][1]) > 5  # the adaptive methods escape the ridge


def test_start_point_and_selection_are_used():
    out = draw_race(new_figure(), surface="beale", optimizers=("Adam",), x0=-2.0, y0=2.0, steps=10)
    assert list(out["paths"]) == ["Adam"]
    np.testing.assert_array_equal(out["paths"]["Adam"][0], [-2.0, 2.0])
    assert draw_race(new_figure(), optimizers=())["summary"] == "no optimizer selected"


def test_the_legend_names_the_optimizers_and_the_summary_gives_their_learning_rates():
    """The legend names each optimizer (and a run that left the plot), not its lr, so a new lr
    does not draw a new legend; the summary under the figure gives every lr, BASE_LR × lr ×."""
    from tnn_lib.widgets.state import WidgetState

    state = WidgetState(new_figure())
    left_seen = 0
    for surface, scale in (("beale", 1.0), ("beale", 2.5), ("valley", 0.3), ("saddle", 9.0)):
        out = draw_race(state, surface=surface, lr_scale=scale)
        legend = state.fig.axes[0].get_legend()
        labels = [t.get_text() for t in legend.get_texts()]
        assert [label.split(" — ")[0] for label in labels] == list(OPTIMIZERS)
        for name, label in zip(OPTIMIZERS, labels):
            left = len(out["paths"][name]) < 201
            left_seen += left
            assert label == (f"{name} — left the plot" if left else name), (surface, scale, label)
        lrs = out["summary"].split("lr: ")[1].split(" · ")
        assert lrs == [f"{name} {BASE_LR[surface][name] * scale:.2g}" for name in OPTIMIZERS], out["summary"]
    assert left_seen > 0          # some run left the plot (the saddle at 9 × its learning rates)


def test_race_controls_change_the_image_and_surface_moves_the_start():
    app = optimizer_race()
    before = app.image.value
    for name, value in [("lr_scale", 0.5), ("momentum", 0.5), ("x0", 2.0), ("steps", 50), ("optimizers", ("SGD",))]:
        app.controls[name].value = value
        assert app.image.value != before, f"changing {name} did not change the image"
        before = app.image.value
    app.controls["surface"].value = "saddle"
    assert (app.controls["x0"].value, app.controls["y0"].value) == SURFACES["saddle"][2]
    assert app.last["start"] == SURFACES["saddle"][2]


def _variant_run(surface, steps=40, **switches):
    w, state, path = np.array(SURFACES[surface][2], dtype=float), {}, []
    for t in range(steps):
        eta = 1.0 / (1.0 + SCHEDULE_K * t)
        optim.adamw_convention_step(w, gradient(surface, w), state, lr=SWITCH_LR, multiplier=eta, eps=1e-3,
                                    weight_decay=0.1, **switches)
        path.append(w.copy())
    return np.array(path)


def test_variant_step_in_pytorch_convention_is_adamw_step():
    for surface in SURFACES:
        w, state, ref = np.array(SURFACES[surface][2], dtype=float), {}, []
        for t in range(40):
            lr = SWITCH_LR / (1.0 + SCHEDULE_K * t)
            optim.adamw_step(w, gradient(surface, w), state, lr=lr, eps=1e-3, weight_decay=0.1)
            ref.append(w.copy())
        np.testing.assert_allclose(_variant_run(surface), np.array(ref), rtol=1e-12, atol=1e-12)


def test_variant_switches_match_the_notes_and_paper_forms():
    # ε inside the root, no decay: tnn_lib's lecture form of Adam
    w, state, ref = np.array(SURFACES["valley"][2], dtype=float), {}, []
    w2, state2, alt = w.copy(), {}, []
    for t in range(30):
        optim.adam_lecture_step(w, gradient("valley", w), state, lr=0.1, eps=1e-3)
        optim.adamw_convention_step(w2, gradient("valley", w2), state2, lr=0.1, eps=1e-3, weight_decay=0.0,
                                    eps_inside=True)
        ref.append(w.copy()), alt.append(w2.copy())
    np.testing.assert_allclose(alt, ref, rtol=1e-12, atol=1e-12)
    # decay × schedule multiplier: the paper's AdamW
    w, state, ref = np.array(SURFACES["beale"][2], dtype=float), {}, []
    w2, state2, alt = w.copy(), {}, []
    for t in range(30):
        eta = 1.0 / (1.0 + SCHEDULE_K * t)
        optim.adamw_paper_step(w, gradient("beale", w), state, lr=0.1, weight_decay=0.2, multiplier=eta)
        optim.adamw_convention_step(w2, gradient("beale", w2), state2, lr=0.1, multiplier=eta, weight_decay=0.2,
                                    decay="schedule")
        ref.append(w.copy()), alt.append(w2.copy())
    np.testing.assert_allclose(alt, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("surface", list(SURFACES))
def test_switchboard_distance_zero_in_pytorch_convention_and_positive_otherwise(surface):
    fig = new_figure()
    assert draw_switchboard(fig, surface=surface)["max_distance"] == 0.0
    for switch in [dict(eps_inside=True), dict(bias_correction=False), dict(decay="schedule")]:
        out = draw_switchboard(fig, surface=surface, **switch)
        assert out["max_distance"] > 0, (surface, switch)
    # extremes of the sliders
    for eps, wd, steps in [(1e-8, 0.0, 10), (1.0, 0.5, 500)]:
        out = draw_switchboard(fig, surface=surface, eps=eps, weight_decay=wd, steps=steps, eps_inside=True)
        assert np.all(np.isfinite(out["distance"]))
    assert draw_switchboard(fig, surface=surface, weight_decay=0.0, decay="schedule")["max_distance"] == 0.0


def test_switchboard_controls_change_the_image():
    app = convention_switchboard()
    before = app.image.value
    assert "0" in app.last["summary"] and app.last["max_distance"] == 0.0
    for name, value in [("eps_inside", True), ("bias_correction", False), ("decay", "schedule"),
                        ("eps", 1e-2), ("weight_decay", 0.3), ("steps", 60), ("surface", "beale")]:
        app.controls[name].value = value
        assert app.image.value != before, f"changing {name} did not change the image"
        before = app.image.value
