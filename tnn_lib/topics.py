"""The course's topics, in one registry: what every part of the workbook reads.

One :class:`Topic` per nbgrader assignment: its id (the notebook), its name (the
``tnn_lib.widgets`` module and the ``autograder.catalogue`` module), its title (lecture
mode), the functions students implement (the answer cells' grade ids, the exercises of
the catalogue) and its live widgets (factories of ``tnn_lib.widgets.<name>``; the first is
the topic's main widget).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    id: str
    name: str
    title: str
    exercises: tuple
    widgets: tuple


TOPICS = (
    Topic("00_backprop", "backprop", "Backpropagation and activation functions",
          ("linear_forward", "linear_backward", "relu_backward", "sigmoid_backward", "tanh_backward",
           "numerical_gradient"), ("activation_explorer",)),
    Topic("01_divergences", "divergences", "Divergences: L2 and KL",
          ("l2_divergence", "l2_divergence_grad", "kl_divergence", "kl_divergence_grad", "softmax", "softmax_kl",
           "sigmoid_bce"), ("divergence_explorer", "loss_surfaces")),
    Topic("02_batchnorm", "batchnorm", "Batch normalization",
          ("batchnorm_forward", "batchnorm_jacobian", "batchnorm_backward", "population_statistics",
           "layernorm_forward", "layernorm_backward", "weightnorm_backward"), ("covariate_shift",)),
    Topic("03_dropout", "dropout", "Dropout",
          ("dropout_forward", "dropout_backward", "scale_weights_for_test", "mc_dropout_predict"),
          ("dropout_scaling",)),
    Topic("04_initialization", "initialization", "Weight initialization",
          ("init_weights", "activation_statistics"), ("activation_statistics_explorer",)),
    Topic("05_optimizers", "optimizers", "Optimizers",
          ("sgd_step", "momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step", "adam_step", "adamw_step"),
          ("optimizer_race", "convention_switchboard")),
    Topic("06_regularization", "regularization", "Regularization and overfitting",
          ("l2_penalty", "l1_penalty", "clip_grad_value", "clip_grad_norm", "early_stopping_epoch", "standardize"),
          ("overfitting_explorer",)),
    Topic("07_training", "training", "Training a network end to end",
          ("train_epoch", "evaluate", "gradient_norms", "dead_relu_fraction", "ema_update", "ensemble_predict"),
          ("training_dashboard",)),
    Topic("08_schedules_and_landscape", "schedules", "Learning-rate schedules and the loss landscape",
          ("ReduceLROnPlateau", "cosine_annealing", "linear_warmup", "rprop_step", "quickprop_step", "max_stable_lr"),
          ("schedule_explorer",)),
)
BY_ID = {t.id: t for t in TOPICS}
