"""Training dashboard: an MLP on the digits, trained epoch by epoch when the lecturer
presses *Train*, with loss and accuracy curves and toggles for batch norm, dropout and the
optimizer.

Nothing trains on display (headless runs and grading never wait): the figure shows the
curves already trained for the chosen setting, or an empty chart asking for *Train*.
The update path is :func:`draw_training_dashboard` (plain function of the control values,
reading the histories that :func:`train_run` stores); training is :func:`train_run`, a
plain function too, which the button calls with a per-epoch callback.
"""
from __future__ import annotations

import contextlib
from functools import lru_cache

import numpy as np

try:  # comes with scikit-learn
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

from tnn_lib.widgets.state import widget_state
from tnn_lib import nn, optim
from tnn_lib.train import evaluate, train_epoch
from tnn_lib.data import load_digits_split
from tnn_lib.widgets.regularization import _plain_log_axis

OPTIMIZERS = ("adamw", "adam", "sgd_momentum", "sgd")
HIDDEN = 64
BATCH_SIZE = 64
KEEP_PROB = 0.8
DEFAULTS = dict(batchnorm=True, dropout=True, optimizer="adamw", epochs=20)



@lru_cache(maxsize=1)
def digits():
    """The standardized digits split of :func:`tnn_lib.data.load_digits_split` (cached: it never changes)."""
    return load_digits_split(0)


def make_optimizer(name: str):
    """The dropdown's optimizers with learning rates that work for this MLP."""
    if name == "adamw":
        return optim.AdamW(lr=3e-3, weight_decay=1e-2)
    if name == "adam":
        return optim.Adam(lr=3e-3)
    if name == "sgd_momentum":
        return optim.SGD(lr=0.05, momentum=0.9)
    if name == "sgd":
        return optim.SGD(lr=0.05)
    raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {name!r}")


def build_run(batchnorm: bool, dropout: bool, optimizer: str, seed: int = 0):
    """Model, optimizer and shuffling generator of one run, all from `seed`.

    ``rng = default_rng(seed)`` builds the MLP 64 → 64 → 10 (He init; the dropout masks
    come from the same generator) and then shuffles the minibatches.
    """
    rng = np.random.default_rng(seed)
    model = nn.make_mlp([64, HIDDEN, 10], rng, batchnorm=bool(batchnorm),
                        keep_prob=KEEP_PROB if dropout else 1.0)
    return model, make_optimizer(optimizer), rng


def history_key(batchnorm, dropout, optimizer, seed=0):
    return (bool(batchnorm), bool(dropout), str(optimizer), int(seed))


def train_run(batchnorm=DEFAULTS["batchnorm"], dropout=DEFAULTS["dropout"], optimizer=DEFAULTS["optimizer"],
              epochs=DEFAULTS["epochs"], seed=0, callback=None, histories=None):
    """Train from scratch for `epochs` epochs; record and return the history.

    After every epoch: ``train_epoch`` (its mean minibatch loss is ``train_loss``), then
    ``evaluate`` on the training split (``train_acc``) and on the validation split
    (``val_loss``, ``val_acc``). ``callback(history)``, if given, runs after each epoch (the
    dashboard redraws there). The history is also stored in the dict `histories` if given
    (the dashboard's state), under ``(batchnorm, dropout, optimizer, seed)``.
    """
    (x_tr, y_tr), (x_val, y_val), _ = digits()
    model, opt, rng = build_run(batchnorm, dropout, optimizer, seed)
    hist = dict(train_loss=[], train_acc=[], val_loss=[], val_acc=[])
    if histories is not None:
        histories[history_key(batchnorm, dropout, optimizer, seed)] = hist
    for _ in range(int(epochs)):
        with _one_blas_thread():
            hist["train_loss"].append(train_epoch(model, opt, x_tr, y_tr, BATCH_SIZE, rng))
            hist["train_acc"].append(evaluate(model, x_tr, y_tr)[1])
            loss, acc = evaluate(model, x_val, y_val)
        hist["val_loss"].append(loss)
        hist["val_acc"].append(acc)
        if callback is not None:
            callback(hist)
    return hist


def _one_blas_thread():
    """Small matrices: one BLAS thread is ~10× faster than several competing for 2 busy cores."""
    if threadpool_limits is None:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _build(fig):
    """Axes and artists, created once per figure; later draws only move data.

    Blitting (:mod:`tnn_lib.widgets._blit`): axes, ticks and labels are rendered once per
    axis range (ranges are rounded, so they rarely change, even while training); an update
    redraws the curves, the titles and the "press Train" message, with the legends
    composited on top.
    """
    from matplotlib.ticker import MaxNLocator  # slow import (see AUTHORING.md)

    from tnn_lib.widgets._blit import use_blitting  # slow import (see AUTHORING.md)

    fig.clear()
    fig.set_layout_engine(None)  # fixed margins: a layout engine would lay the text out at every draw
    ax_loss, ax_acc = fig.subplots(1, 2, gridspec_kw=dict(left=0.07, right=0.99, bottom=0.14, top=0.9,
                                                          wspace=0.2))
    a = dict(ax_loss=ax_loss, ax_acc=ax_acc)
    a["train_loss"], = ax_loss.plot([], [], "-o", ms=3, color="tab:red", label="train (mean minibatch loss)")
    a["val_loss"], = ax_loss.plot([], [], "-o", ms=3, color="tab:purple", label="validation")
    a["train_acc"], = ax_acc.plot([], [], "-o", ms=3, color="tab:red", label="train")
    a["val_acc"], = ax_acc.plot([], [], "-o", ms=3, color="tab:purple", label="validation")
    a["best"] = ax_loss.axvline(0, color="tab:green", ls="--", lw=1, label="min. validation loss")
    ax_loss.set_yscale("log")
    _plain_log_axis(ax_loss.yaxis)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss (cross-entropy)")
    legend_loss = ax_loss.legend(fontsize=8, loc="upper right")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.set_title(" ", fontsize=10)
    legend_acc = ax_acc.legend(fontsize=8, loc="lower right")
    a["message"] = ax_loss.text(0.5, 0.5, "", transform=ax_loss.transAxes, ha="center", va="center",
                                fontsize=11, color="0.3")
    # titles change with the setting and (accuracy) with every epoch: drawn with the curves
    use_blitting(fig, [a["train_loss"], a["val_loss"], a["train_acc"], a["val_acc"], a["best"], a["message"],
                       ax_loss.title, ax_acc.title], overlay=[legend_loss, legend_acc])
    return a


def _axis_ranges(epochs: int, curves: dict, n: int):
    """x range up to `epochs`; loss on whole decades, accuracy from a multiple of 0.1: the
    cached background survives most setting changes, and most epochs while training.
    (The x range follows `epochs` exactly: before training it is all the figure shows of
    the slider's value.)"""
    xmax = max(int(epochs), 1)
    losses = np.concatenate([curves["train_loss"], curves["val_loss"]])
    losses = losses[np.isfinite(losses)]                  # a diverged run: show what is finite
    if not n or not losses.size:
        return (0.5, xmax + 0.5), (0.01, 3.0), (0.0, 1.005)
    lo, hi = max(losses.min(), 1e-4), max(losses.max(), 1e-4)
    loss = (10.0 ** np.floor(np.log10(lo) - 0.1), 10.0 ** np.ceil(np.log10(hi) + 0.1))
    acc_lo = min(curves["train_acc"].min(), curves["val_acc"].min())
    acc = (max(0.0, np.floor(10 * (acc_lo - 0.03)) / 10), 1.005)
    return (0.5, xmax + 0.5), loss, acc


def draw_training_dashboard(state, batchnorm=DEFAULTS["batchnorm"], dropout=DEFAULTS["dropout"],
                            optimizer=DEFAULTS["optimizer"], epochs=DEFAULTS["epochs"], seed=0):
    """Redraw the curves of the run with these settings (first `epochs` epochs), if trained.

    The trained runs are ``state.data["histories"]`` (filled by :func:`train_run`).
    Returns the plotted curves (``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``,
    numpy arrays, empty before training), ``trained`` (number of epochs available) and
    ``best_epoch`` (1-based epoch of minimum validation loss, 0 when nothing is trained).
    """
    state = widget_state(state)
    hist = state.data.setdefault("histories", {}).get(history_key(batchnorm, dropout, optimizer, seed))
    fig = state.fig
    a = state.ensure(_build)
    n = min(int(epochs), len(hist["train_loss"])) if hist else 0
    curves = {k: np.asarray((hist or {}).get(k, [])[:n], dtype=float)
              for k in ("train_loss", "val_loss", "train_acc", "val_acc")}
    ep = np.arange(1, n + 1)
    for k, v in curves.items():
        a[k].set_data(ep, v)
    best = int(np.argmin(curves["val_loss"])) + 1 if n else 0
    a["best"].set_xdata([best, best])
    a["best"].set_visible(n > 0)
    setting = (f"{optimizer}, {'BN' if batchnorm else 'no BN'}, "
               f"{f'dropout keep {KEEP_PROB}' if dropout else 'no dropout'}")
    a["message"].set_text("" if n else f"{setting}\nnot trained yet: press Train")
    xlim, loss_lim, acc_lim = _axis_ranges(epochs, curves, n)
    for ax in (a["ax_loss"], a["ax_acc"]):
        ax.set_xlim(*xlim)
    a["ax_loss"].set_ylim(*loss_lim)
    a["ax_acc"].set_ylim(*acc_lim)
    a["ax_loss"].set_title(f"loss — {setting}", fontsize=10)
    a["ax_acc"].set_title(f"accuracy: validation {curves['val_acc'][-1]:.3f}" if n else "accuracy",
                          fontsize=10)
    out = dict(curves, trained=len(hist["train_loss"]) if hist else 0, best_epoch=best)
    out["summary"] = (f"epoch {n}: train loss {curves['train_loss'][-1]:.4f}, validation loss "
                      f"{curves['val_loss'][-1]:.4f}, validation accuracy {curves['val_acc'][-1]:.3f}; "
                      f"minimum validation loss at epoch {best}" if n else
                      "press Train to train this setting epoch by epoch")
    return out


def training_dashboard(batchnorm: bool = DEFAULTS["batchnorm"], dropout: bool = DEFAULTS["dropout"],
                       optimizer: str = DEFAULTS["optimizer"], epochs: int = DEFAULTS["epochs"]):
    """Toggles for BN and dropout, an optimizer dropdown, an epochs slider and a Train button."""
    import ipywidgets as widgets  # slow import (see AUTHORING.md)

    from tnn_lib.widgets.app import WidgetApp, new_figure  # slow import (see AUTHORING.md)

    controls = dict(
        batchnorm=widgets.Checkbox(value=batchnorm, description="batch norm"),
        dropout=widgets.Checkbox(value=dropout, description=f"dropout (keep {KEEP_PROB})"),
        optimizer=widgets.Dropdown(options=list(OPTIMIZERS), value=optimizer, description="optimizer"),
        epochs=widgets.IntSlider(value=epochs, min=1, max=60, description="epochs"),
    )
    button = widgets.Button(description="Train", button_style="primary", icon="play")
    button.add_class("tnn-train")
    app = WidgetApp("Training an MLP on the digits", controls, draw_training_dashboard, new_figure(9.5, 3.6),
                    extra=[button],
                    description="Pick a setting and press Train: the curves grow epoch by epoch. "
                                "Trained settings stay; switch between them to compare.")

    def on_click(_):
        button.disabled = True
        try:
            v = app.values()
            histories = app.state.data.setdefault("histories", {})
            key = history_key(v["batchnorm"], v["dropout"], v["optimizer"])

            def train():
                try:
                    train_run(v["batchnorm"], v["dropout"], v["optimizer"], v["epochs"],
                              callback=lambda hist: app.refresh(), histories=histories)
                except NotImplementedError:
                    histories.pop(key, None)   # (the student edition: an exercise to implement first)
                    raise

            app.run_action(train)
        finally:
            button.disabled = False

    button.on_click(on_click)
    app.train_button = button
    return app
