"""The training dashboard: it never trains by itself, its curves are those of a direct
tnn_lib.train run with the same seed, and its controls change the picture."""
from __future__ import annotations

import numpy as np
import pytest

from tnn_lib import nn, optim
from tnn_lib.data import load_digits_split
from tnn_lib.train import evaluate, train_epoch
from tnn_lib.widgets import training as dash
from tnn_lib.widgets.app import WidgetState, figure_png, new_figure


def _state():
    return WidgetState(new_figure(), histories={})


def test_display_does_not_train():
    app = dash.training_dashboard()
    assert app.state.data.get("histories", {}) == {}
    assert app.last["trained"] == 0 and app.last["train_loss"].size == 0
    assert "Train" in app.last["summary"]


@pytest.mark.parametrize("batchnorm,dropout,optimizer", [(True, True, "adamw"), (False, False, "sgd_momentum"),
                                                         (True, False, "adam"), (False, True, "sgd")])
def test_curves_equal_a_direct_run_with_the_same_seed(batchnorm, dropout, optimizer):
    state = _state()
    hist = dash.train_run(batchnorm, dropout, optimizer, epochs=3, seed=5, histories=state.data["histories"])
    out = dash.draw_training_dashboard(state, batchnorm, dropout, optimizer, epochs=3, seed=5)
    assert dash.draw_training_dashboard(new_figure(), batchnorm, dropout, optimizer, epochs=3, seed=5)["trained"] == 0
    # the same run written out with tnn_lib directly
    (x, y), (xv, yv), _ = load_digits_split(0)
    rng = np.random.default_rng(5)
    model = nn.make_mlp([64, dash.HIDDEN, 10], rng, batchnorm=batchnorm,
                        keep_prob=dash.KEEP_PROB if dropout else 1.0)
    opt = {"adamw": lambda: optim.AdamW(lr=3e-3, weight_decay=1e-2), "adam": lambda: optim.Adam(lr=3e-3),
           "sgd_momentum": lambda: optim.SGD(lr=0.05, momentum=0.9), "sgd": lambda: optim.SGD(lr=0.05)}[optimizer]()
    # exact equality needs the same arithmetic: the dashboard trains with BLAS on one thread,
    # and another thread count may split the matrix products differently and change their last bits
    for e in range(3):
        with dash._one_blas_thread():
            assert out["train_loss"][e] == train_epoch(model, opt, x, y, dash.BATCH_SIZE, rng)
            assert out["train_acc"][e] == evaluate(model, x, y)[1]
            assert (out["val_loss"][e], out["val_acc"][e]) == evaluate(model, xv, yv)
    assert hist["val_loss"] == list(out["val_loss"])
    assert out["best_epoch"] == int(np.argmin(out["val_loss"])) + 1


def test_epochs_slider_shows_a_prefix_of_the_run():
    fig = _state()
    dash.train_run(epochs=4, histories=fig.data["histories"])
    full = dash.draw_training_dashboard(fig, epochs=4)
    part = dash.draw_training_dashboard(fig, epochs=2)
    more = dash.draw_training_dashboard(fig, epochs=60)   # beyond what was trained
    np.testing.assert_array_equal(part["val_loss"], full["val_loss"][:2])
    assert more["train_loss"].size == 4 and more["trained"] == 4
    figure_png(fig.fig)


def test_button_trains_epoch_by_epoch_refreshing_the_figure():
    app = dash.training_dashboard(epochs=3)
    before = app.image.value
    images = []
    app.draw = lambda fig, **v: (images.append(v), dash.draw_training_dashboard(fig, **v))[1]
    app.train_button.click()
    assert len(images) == 3                      # one refresh per epoch
    assert app.last["trained"] == 3 and app.image.value != before
    assert not app.train_button.disabled


def test_each_control_changes_the_image():
    app = dash.training_dashboard(epochs=3)
    for setting in [(True, True, "adamw"), (False, True, "adamw"), (True, False, "adamw"), (True, True, "sgd")]:
        dash.train_run(*setting, epochs=3, histories=app.state.data["histories"])
    app.refresh()
    base = app.image.value
    assert app.last["trained"] == 3
    for name, value in [("batchnorm", False), ("dropout", False), ("optimizer", "sgd"), ("epochs", 2)]:
        old = app.controls[name].value
        app.controls[name].value = value
        assert app.image.value != base, f"changing {name} did not change the image"
        app.controls[name].value = old
    assert app.image.value == base


def test_untrained_setting_and_extremes_draw():
    fig = _state()
    for epochs in (1, 60):
        for opt in dash.OPTIMIZERS:
            out = dash.draw_training_dashboard(fig, batchnorm=False, dropout=False, optimizer=opt, epochs=epochs)
            assert out["trained"] == 0
    dash.train_run(False, False, "sgd", epochs=1, histories=fig.data["histories"])
    out = dash.draw_training_dashboard(fig, batchnorm=False, dropout=False, optimizer="sgd", epochs=60)
    assert out["trained"] == 1 and out["best_epoch"] == 1
    figure_png(fig.fig)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="optimizer"):
        dash.make_optimizer("lbfgs")


def _pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def test_fast_image_matches_a_full_render():
    """The blitted PNG (cached background, curves redrawn, titles, legends and the message
    composited) nearly equals matplotlib's own savefig, untrained, trained and switched."""
    from tnn_lib.widgets.app import reference_png

    app = dash.training_dashboard(batchnorm=False, epochs=3)     # untrained setting: the message
    dash.train_run(True, True, "adamw", epochs=3, histories=app.state.data["histories"])
    for name, value in [(None, None), ("batchnorm", True), ("epochs", 2), ("optimizer", "sgd")]:
        if name is not None:
            app.controls[name].value = value
        fast, ref = _pixels(app.image.value), _pixels(reference_png(app.fig))
        assert fast.shape == ref.shape
        differing = (np.abs(fast - ref).max(axis=-1) > 8).mean()
        assert differing < 0.005, (name, differing)     # drawing order of a few overlapping pixels
        app.refresh()                                       # after a full render, the cache still holds
        assert app.image.value == figure_png(app.fig)
