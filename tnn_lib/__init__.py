"""tnn_lib — the exact numpy reference library of the tnn-workbook course.

Modules (one per topic, mirroring the notebooks):

    layers          linear layer and activations, forward/backward pairs
    gradcheck       numerical_gradient, rel_error
    divergences     softmax, L2, KL, softmax-KL and sigmoid-BCE from logits
    batchnorm       batch norm (forward, backward, Jacobian, inference statistics), layer norm
    dropout         dropout in both scaling conventions, Monte-Carlo prediction
    init            weight initialisation schemes (orthogonal included), LSUV, per-layer activation statistics
    optim           SGD, momentum, Nesterov, Adagrad, RMSprop, Adam, AdamW; clipping; schedules
    schedules       cosine annealing, linear warm-up, ReduceLROnPlateau, Rprop, QuickProp,
                    max_stable_lr (2/λ_max); re-exported by optim (notebook 08)
    regularization  L2/L1 penalties, early stopping, standardisation
    nn, train       a small Sequential MLP; train_epoch, evaluate, and the tools of 07 for diagnosing
                    and averaging runs: gradient_norms, dead_relu_fraction, ema_update, ensemble_predict
    data            scikit-learn's bundled digits and small synthetic data sets
    widgets         one live widget per topic (imports ipywidgets and matplotlib)

Conventions: float64 arrays, batch first, ``out = x @ W + b`` with ``W`` of shape
``(D_in, D_out)``; forward functions return ``(out, cache)``; backward functions take
``(dout, cache)``; randomness only through an explicit ``numpy.random.Generator``; bad
arguments raise ``ValueError`` saying what was expected.

Submodules load on first use, so ``import tnn_lib`` stays light.
"""
from __future__ import annotations

import importlib

from tnn_lib.student import install_notebook_hooks as _install_notebook_hooks

__version__ = "0.1.0"

_SUBMODULES = ("layers", "gradcheck", "divergences", "batchnorm", "dropout", "init", "optim",
               "schedules", "regularization", "nn", "train", "data", "widgets")

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"tnn_lib.{name}")
    raise AttributeError(f"module 'tnn_lib' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))


def _notebook_hooks() -> None:
    # in a notebook: an unanswered exercise that a cell needs shows as one line saying which
    # to implement first, never a traceback (tnn_lib.student.install_notebook_hooks)
    try:
        _install_notebook_hooks()
    except Exception:  # noqa: BLE001 - a display nicety never breaks an import
        pass


_notebook_hooks()
