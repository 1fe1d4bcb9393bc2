"""Exercises and misconceptions of ``07_training``: ``train_epoch`` and ``evaluate``.

Both take a live model, so each check builds a small seeded
:class:`tnn_lib.nn.Sequential` (``Linear → BatchNorm1d → ReLU → Dropout → Linear`` by
default) in ``make_inputs`` and compares what the call returns **and** the model's state
afterwards: every parameter, the batch-norm running statistics and the train/eval flag.

Random numbers are consumed in the reference's order, which the notebook states:

* the shuffle: ``order = rng.permutation(N)`` once per epoch, from the ``rng`` argument,
  then the minibatches ``order[0:B], order[B:2B], …`` in that order (a last batch of a
  single example joins the previous one);
* the dropout masks: each ``Dropout`` module draws from its *own* generator (given when
  the model was built) at every training-mode forward, so the answer must call
  ``model.forward`` once per minibatch, in order.

The model is handed over in **eval** mode to ``train_epoch`` (so forgetting
``model.train()`` shows) and in **train** mode to ``evaluate`` (so forgetting
``model.eval()`` shows); both must leave it in the mode it came in.
"""
from __future__ import annotations

import numpy as np

from autograder.catalogue import Exercise, Misconception
from tnn_lib import nn, optim, train


def _unknown(name, case, cases):
    raise ValueError(f"{name}: unknown case {case!r}; expected None or one of {sorted(cases)}")


def _model(rng, D, H, C, batchnorm=True, keep_prob=0.8):
    """A seeded MLP; its dropout masks come from its own generator."""
    return nn.make_mlp([D, H, C], np.random.default_rng(int(rng.integers(2**31))),
                       batchnorm=batchnorm, keep_prob=keep_prob)


def _data(rng, N, D, C):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, C, N)
    if N >= 2 * C:
        y[:C] = np.arange(C)  # every class present
    return x, y.astype(np.int64)


def _state(model):
    """Everything a training step or an evaluation could change, as plain arrays."""
    state = {k: np.array(v) for k, v in model.params().items()}
    for i, m in enumerate(model.modules):
        if hasattr(m, "running_mean"):
            state[f"{i}.running_mean"] = np.array(m.running_mean)
            state[f"{i}.running_var"] = np.array(m.running_var)
    state["training"] = bool(model.training)
    return state


# --------------------------------------------------------------------------- train_epoch
_TRAIN_CASES = ("no_batchnorm", "sgd_momentum", "one_batch", "last_batch_of_one")


def _train_inputs(rng, case=None, N=40, D=6, H=8, C=3, batch_size=8):
    if case is not None and case not in _TRAIN_CASES:
        _unknown("train_epoch", case, _TRAIN_CASES)
    if case == "one_batch":
        batch_size = N
    elif case == "last_batch_of_one":  # N = k·B + 1: the single last example joins the batch before
        N = 5 * batch_size + 1
    x, y = _data(rng, N, D, C)
    # no batch norm where a batch of one would reach it
    model = _model(rng, D, H, C, batchnorm=case not in ("no_batchnorm", "last_batch_of_one"))
    model.eval()  # handed over in eval mode: train_epoch must switch to train mode itself
    opt = optim.SGD(lr=0.1, momentum=0.9) if case == "sgd_momentum" else optim.AdamW(lr=0.01, weight_decay=0.01)
    return {"model": model, "optimizer": opt, "x": x, "y": y, "batch_size": int(batch_size),
            "rng": np.random.default_rng(int(rng.integers(2**31)))}


def _call_train(impl, inputs):
    loss = impl(inputs["model"], inputs["optimizer"], inputs["x"], inputs["y"], inputs["batch_size"],
                inputs["rng"])
    return loss, _state(inputs["model"])


# The wrong variants, each a complete train_epoch with one mistake, written with numpy only
# (softmax_kl of one-hot targets spelled out: the mean of −log softmax at the label, and
# (softmax − d)/B as the gradient), as the example class puts them into answer cells.
def _train_no_shuffle(model, optimizer, x, y, batch_size, rng):
    n = x.shape[0]
    order = np.arange(n)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    was_training = model.training
    model.train()
    losses = []
    for start, stop in zip(starts, starts[1:] + [n]):
        idx = order[start:stop]
        z = model.forward(x[idx])
        d = np.zeros_like(z)
        d[np.arange(len(idx)), y[idx]] = 1.0
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-(d * log_p).sum() / len(idx))
        model.backward((np.exp(log_p) - d) / len(idx))
        optimizer.step(model.params(), model.grads())
        losses.append(loss)
    if not was_training:
        model.eval()
    return float(np.mean(losses))


def _train_summed_loss(model, optimizer, x, y, batch_size, rng):
    n = x.shape[0]
    order = rng.permutation(n)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    was_training = model.training
    model.train()
    losses = []
    for start, stop in zip(starts, starts[1:] + [n]):
        idx = order[start:stop]
        z = model.forward(x[idx])
        d = np.zeros_like(z)
        d[np.arange(len(idx)), y[idx]] = 1.0
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-(d * log_p).sum() / len(idx))
        model.backward((np.exp(log_p) - d) / len(idx))
        optimizer.step(model.params(), model.grads())
        losses.append(loss)
    if not was_training:
        model.eval()
    return float(np.sum(losses))


def _train_last_loss(model, optimizer, x, y, batch_size, rng):
    n = x.shape[0]
    order = rng.permutation(n)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    was_training = model.training
    model.train()
    losses = []
    for start, stop in zip(starts, starts[1:] + [n]):
        idx = order[start:stop]
        z = model.forward(x[idx])
        d = np.zeros_like(z)
        d[np.arange(len(idx)), y[idx]] = 1.0
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-(d * log_p).sum() / len(idx))
        model.backward((np.exp(log_p) - d) / len(idx))
        optimizer.step(model.params(), model.grads())
        losses.append(loss)
    if not was_training:
        model.eval()
    return float(losses[-1])


def _train_no_train_mode(model, optimizer, x, y, batch_size, rng):
    n = x.shape[0]
    order = rng.permutation(n)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    was_training = model.training
    losses = []
    for start, stop in zip(starts, starts[1:] + [n]):
        idx = order[start:stop]
        z = model.forward(x[idx])
        d = np.zeros_like(z)
        d[np.arange(len(idx)), y[idx]] = 1.0
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-(d * log_p).sum() / len(idx))
        model.backward((np.exp(log_p) - d) / len(idx))
        optimizer.step(model.params(), model.grads())
        losses.append(loss)
    if not was_training:
        model.eval()
    return float(np.mean(losses))


def _train_mode_not_restored(model, optimizer, x, y, batch_size, rng):
    n = x.shape[0]
    order = rng.permutation(n)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    model.train()
    losses = []
    for start, stop in zip(starts, starts[1:] + [n]):
        idx = order[start:stop]
        z = model.forward(x[idx])
        d = np.zeros_like(z)
        d[np.arange(len(idx)), y[idx]] = 1.0
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-(d * log_p).sum() / len(idx))
        model.backward((np.exp(log_p) - d) / len(idx))
        optimizer.step(model.params(), model.grads())
        losses.append(loss)
    return float(np.mean(losses))


def _train_batch_of_one(model, optimizer, x, y, batch_size, rng):
    n = x.shape[0]
    order = rng.permutation(n)
    starts = list(range(0, n, batch_size))
    was_training = model.training
    model.train()
    losses = []
    for start, stop in zip(starts, starts[1:] + [n]):
        idx = order[start:stop]
        z = model.forward(x[idx])
        d = np.zeros_like(z)
        d[np.arange(len(idx)), y[idx]] = 1.0
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-(d * log_p).sum() / len(idx))
        model.backward((np.exp(log_p) - d) / len(idx))
        optimizer.step(model.params(), model.grads())
        losses.append(loss)
    if not was_training:
        model.eval()
    return float(np.mean(losses))


# --------------------------------------------------------------------------- evaluate
_EVAL_CASES = ("eval_mode_model", "no_batchnorm", "ten_examples")


def _eval_inputs(rng, case=None, N=30, D=6, H=8, C=3):
    if case is not None and case not in _EVAL_CASES:
        _unknown("evaluate", case, _EVAL_CASES)
    if case == "ten_examples":  # as many examples as classes
        N, C = 10, 10
    x, y = _data(rng, N, D, C)
    model = _model(rng, D, H, C, batchnorm=case != "no_batchnorm", keep_prob=0.7)
    # a little training so that the running statistics and weights are not the initial ones
    opt = optim.AdamW(lr=0.02)
    for _ in range(3):
        train.train_epoch(model, opt, x, y, 8, rng)
    if case == "eval_mode_model":
        model.eval()
    else:
        model.train()
    return {"model": model, "x": x, "y": y}


def _call_eval(impl, inputs):
    loss, acc = impl(inputs["model"], inputs["x"], inputs["y"])
    return loss, acc, _state(inputs["model"])


# The wrong variants of evaluate, numpy only like those of train_epoch.
def _eval_train_mode(model, x, y):
    was_training = model.training
    z = model.forward(x)
    if was_training:
        model.train()
    d = np.zeros_like(z)
    d[np.arange(len(y)), y] = 1.0
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-(d * log_p).sum() / len(y))
    correct = np.argmax(z, axis=1) == y
    accuracy = np.mean(correct)
    return float(loss), float(accuracy)


def _eval_mode_not_restored(model, x, y):
    model.eval()
    z = model.forward(x)
    d = np.zeros_like(z)
    d[np.arange(len(y)), y] = 1.0
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-(d * log_p).sum() / len(y))
    correct = np.argmax(z, axis=1) == y
    accuracy = np.mean(correct)
    return float(loss), float(accuracy)


def _eval_always_train_after(model, x, y):
    model.eval()
    z = model.forward(x)
    model.train()
    d = np.zeros_like(z)
    d[np.arange(len(y)), y] = 1.0
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-(d * log_p).sum() / len(y))
    correct = np.argmax(z, axis=1) == y
    accuracy = np.mean(correct)
    return float(loss), float(accuracy)


def _eval_summed_loss(model, x, y):
    was_training = model.training
    model.eval()
    z = model.forward(x)
    if was_training:
        model.train()
    d = np.zeros_like(z)
    d[np.arange(len(y)), y] = 1.0
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -(d * log_p).sum()
    correct = np.argmax(z, axis=1) == y
    accuracy = np.mean(correct)
    return float(loss), float(accuracy)


def _eval_accuracy_percent(model, x, y):
    was_training = model.training
    model.eval()
    z = model.forward(x)
    if was_training:
        model.train()
    d = np.zeros_like(z)
    d[np.arange(len(y)), y] = 1.0
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-(d * log_p).sum() / len(y))
    correct = np.argmax(z, axis=1) == y
    accuracy = 100.0 * np.mean(correct)
    return float(loss), float(accuracy)


def _eval_accuracy_count(model, x, y):
    was_training = model.training
    model.eval()
    z = model.forward(x)
    if was_training:
        model.train()
    d = np.zeros_like(z)
    d[np.arange(len(y)), y] = 1.0
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-(d * log_p).sum() / len(y))
    correct = np.argmax(z, axis=1) == y
    accuracy = np.sum(correct)
    return float(loss), float(accuracy)


def _eval_argmax_wrong_axis(model, x, y):
    was_training = model.training
    model.eval()
    z = model.forward(x)
    if was_training:
        model.train()
    d = np.zeros_like(z)
    d[np.arange(len(y)), y] = 1.0
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-(d * log_p).sum() / len(y))
    correct = np.argmax(z, axis=0) == y
    accuracy = np.mean(correct)
    return float(loss), float(accuracy)


# --------------------------------------------------------------------------- registry
EXERCISES = [
    Exercise(name="train_epoch", reference=train.train_epoch, make_inputs=_train_inputs, call=_call_train,
             mutates=True, tol=1e-6, output_name="(returned loss, model state after the epoch)"),
    Exercise(name="evaluate", reference=train.evaluate, make_inputs=_eval_inputs, call=_call_eval,
             mutates=True, tol=1e-7, output_name="(loss, accuracy, model state after)"),
]

_TRAIN_HINT = ("see 'One epoch': model.train(); order = rng.permutation(N); for each minibatch forward, "
               "softmax_kl, backward, optimizer.step; return the mean of the minibatch losses; "
               "restore the mode the model came in")
_EVAL_HINT = ("see 'Evaluation': model.eval(), one forward pass, loss and argmax over the classes "
              "(axis=1), then put the model back in the mode it came in")

MISCONCEPTIONS = [
    # train_epoch
    Misconception("train_epoch", "train-epoch-no-shuffle", "you took the minibatches in the data's order "
                  "without shuffling", "draw order = rng.permutation(N) once per epoch and take "
                  "x[order[i:i+B]]: " + _TRAIN_HINT, impl=_train_no_shuffle),
    Misconception("train_epoch", "train-epoch-summed-loss", "you returned the sum of the minibatch losses, not "
                  "their mean", "return the mean over minibatches (np.mean(losses)); a sum grows with N "
                  "and cannot be compared with a validation loss", impl=_train_summed_loss),
    Misconception("train_epoch", "train-epoch-last-loss", "you returned the loss of the last minibatch only",
                  "return the mean of all minibatch losses of the epoch", impl=_train_last_loss),
    Misconception("train_epoch", "train-epoch-no-train-mode", "you trained without model.train(): batch norm "
                  "used its running statistics and dropout was off", "a model may arrive in eval mode (after "
                  "evaluate): " + _TRAIN_HINT, impl=_train_no_train_mode),
    Misconception("train_epoch", "train-epoch-mode-not-restored", "you left the model in training mode",
                  "remember was_training = model.training and restore it at the end (model.eval() if it came "
                  "in eval mode)", impl=_train_mode_not_restored),
    Misconception("train_epoch", "train-epoch-batch-of-one", "you trained on a last minibatch of a single "
                  "example", "when N = k·B + 1 the single last example joins the previous minibatch (batch "
                  "norm cannot normalise a batch of one)", impl=_train_batch_of_one),
    # evaluate
    Misconception("evaluate", "evaluate-train-mode", "you evaluated in training mode: dropout was active and "
                  "batch norm used (and updated) the batch statistics", "call model.eval() before the forward "
                  "pass: " + _EVAL_HINT, impl=_eval_train_mode),
    Misconception("evaluate", "evaluate-mode-not-restored", "you left the model in eval mode",
                  "training continues after evaluation: " + _EVAL_HINT, impl=_eval_mode_not_restored),
    Misconception("evaluate", "evaluate-always-train-after", "you switched the model to training mode "
                  "afterwards although it came in eval mode", "restore the mode it came in: "
                  "was_training = model.training", impl=_eval_always_train_after),
    Misconception("evaluate", "evaluate-summed-loss", "your loss is the sum over examples, not the mean",
                  "the loss is the mean softmax-KL (cross-entropy) over the N rows, as softmax_kl returns",
                  impl=_eval_summed_loss),
    Misconception("evaluate", "evaluate-accuracy-percent", "your accuracy is a percentage; it is a fraction "
                  "in [0, 1]", "accuracy = np.mean(np.argmax(z, axis=1) == y)", impl=_eval_accuracy_percent),
    Misconception("evaluate", "evaluate-accuracy-count", "your accuracy is the number of correct rows, not "
                  "the fraction", "accuracy = np.mean(np.argmax(z, axis=1) == y)", impl=_eval_accuracy_count),
    Misconception("evaluate", "evaluate-argmax-wrong-axis", "you took the argmax over the examples (axis=0) "
                  "instead of over the classes (axis=1)", "z has one row per example and one column per class: "
                  "the prediction of row n is np.argmax(z[n]), i.e. np.argmax(z, axis=1)",
                  impl=_eval_argmax_wrong_axis),
]
