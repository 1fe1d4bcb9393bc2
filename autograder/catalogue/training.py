"""Exercises and misconceptions of ``07_training``: ``train_epoch``, ``evaluate``, and the
tools of "diagnosing a run" and "averaging": ``ema_update``, ``gradient_norms``,
``dead_relu_fraction``, ``ensemble_predict``.

``train_epoch`` and ``evaluate`` take a live model, so each check builds a small seeded
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

``ema_update`` is checked on what it returns **and** on both dicts afterwards (the average
updated in place, the parameters untouched); ``ensemble_predict`` on the mean probabilities
and every member's state afterwards (its members come in training mode, one in eval mode).
The inputs of ``dead_relu_fraction`` always hold, among the units, some that are dead with
exact zeros (so ``< 0`` shows), some that fire on a few rows only (so "dead on any row" and
"fraction of entries" show) and some that fire on every row (so the row-wise reading shows).
"""
from __future__ import annotations

import numpy as np

from autograder.catalogue import Exercise, Misconception
from tnn_lib import nn, optim, train
from tnn_lib.divergences import softmax_kl


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


# --------------------------------------------------------------------------- ema_update
_EMA_CASES = ("default_decay", "one_key", "model_params")


def _ema_inputs(rng, case=None, decay=0.995, K=3, D=5, H=4):
    if case is not None and case not in _EMA_CASES:
        _unknown("ema_update", case, _EMA_CASES)
    if case == "model_params":  # the dicts of two MLPs, as checkpoint averaging uses them
        src = _model(rng, D, H, 3, batchnorm=True, keep_prob=1.0)
        avg = {k: np.array(v) for k, v in src.params().items()}
        avg = {k: v + rng.standard_normal(v.shape) for k, v in avg.items()}
    else:
        shapes = [(D, H)] if case == "one_key" else [(D, H), (H,), (H, 2), (2,), (3, 3)][:max(2, int(K))]
        avg = {f"{i}.{'W' if len(sh) == 2 else 'b'}": rng.standard_normal(sh) for i, sh in enumerate(shapes)}
    params = {k: v + 0.5 * rng.standard_normal(v.shape) for k, v in avg.items()}
    if case == "default_decay":
        return {"avg": avg, "params": params}
    return {"avg": avg, "params": params, "decay": float(decay)}


def _call_ema(impl, inputs):
    """What ema_update returns, then both dicts as they are after the call."""
    args = [inputs["avg"], inputs["params"]] + ([inputs["decay"]] if "decay" in inputs else [])
    out = impl(*args)
    return out, inputs["avg"], inputs["params"]


# The wrong variants of ema_update.
def _ema_weights_swapped(avg, params, decay=0.995):
    for k in avg:
        avg[k][...] = (1 - decay) * avg[k] + decay * params[k]
    return avg


def _ema_new_dict(avg, params, decay=0.995):
    new = {}
    for k in avg:
        new[k] = decay * avg[k] + (1 - decay) * params[k]
    return new


def _ema_no_decay(avg, params, decay=0.995):
    for k in avg:
        avg[k] += (1 - decay) * params[k]
    return avg


# --------------------------------------------------------------------------- gradient_norms
_NORM_CASES = ("model_grads", "zero_gradient")


def _norm_inputs(rng, case=None, D=6, H=5, C=3):
    if case is not None and case not in _NORM_CASES:
        _unknown("gradient_norms", case, _NORM_CASES)
    if case == "model_grads":  # a real backward pass: Linear → BN → ReLU → Linear
        model = _model(rng, D, H, C, batchnorm=True, keep_prob=1.0)
        x, y = _data(rng, 12, D, C)
        logits = model.forward(x)
        model.backward(softmax_kl(logits, train.one_hot(y, C))[1])
        grads = {k: np.array(v) for k, v in model.grads().items()}
        grads["0.b"] = np.zeros(H)  # a bias feeding batch norm gets an exact zero gradient
        return {"grads": grads}
    scales = {"0.W": 1.0, "0.b": 0.3, "2.W": 20.0, "2.b": 0.01}  # layers of very different scales
    shapes = {"0.W": (D, H), "0.b": (H,), "2.W": (H, C), "2.b": (C,)}
    grads = {k: scales[k] * rng.standard_normal(shapes[k]) for k in shapes}
    if case == "zero_gradient":
        grads["0.b"][...] = 0.0
    return {"grads": grads}


# The wrong variants of gradient_norms.
def _norms_squared(grads):
    return {k: float(np.sum(g ** 2)) for k, g in grads.items()}


def _norms_global(grads):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    return {k: total for k in grads}


def _norms_spectral(grads):
    return {k: float(np.linalg.norm(g, 2)) for k, g in grads.items()}


# --------------------------------------------------------------------------- dead_relu_fraction
_DEAD_CASES = ("relu_output", "layer_with_biases")


def _dead_inputs(rng, case=None, N=8, dead=2, zero_dead=1, some=3, alive=2):
    if case is not None and case not in _DEAD_CASES:
        _unknown("dead_relu_fraction", case, _DEAD_CASES)
    if case == "layer_with_biases":  # ReLU outputs of a layer whose large negative biases killed 3 units
        x = rng.standard_normal((40, 6))
        W = rng.standard_normal((6, 6))
        b = np.array([-50.0, -50.0, -50.0, 0.0, 0.0, 0.0])
        return {"z": np.maximum(x @ W + b, 0.0)}
    N = max(int(N), 3)
    if case == "relu_output":  # ReLU outputs: dead units are exact zeros; no unit fires on row 0
        alive = 0
    cols = []
    for _ in range(int(dead)):      # < 0 on every row
        cols.append(-rng.integers(1, 4, N).astype(float))
    for _ in range(int(zero_dead)):  # <= 0 on every row, with exact zeros: dead too
        c = -rng.integers(0, 3, N).astype(float)
        c[0] = 0.0
        cols.append(c)
    for _ in range(int(some)):      # fires on a few rows only (never on row 0): alive
        c = -rng.integers(0, 4, N).astype(float)
        c[1 + rng.choice(N - 1, size=int(rng.integers(1, N - 1)), replace=False)] = rng.integers(1, 4)
        cols.append(c)
    for _ in range(int(alive)):     # fires on every row
        cols.append(rng.integers(1, 4, N).astype(float))
    z = np.stack(cols, axis=1)[:, rng.permutation(len(cols))]
    if case == "relu_output":
        z = np.maximum(z, 0.0)
    return {"z": z}


# The wrong variants of dead_relu_fraction.
def _dead_entries(z):
    return float(np.mean(z <= 0))


def _dead_strict(z):
    return float(np.mean(np.all(z < 0, axis=0)))


def _dead_any_row(z):
    return float(np.mean(np.any(z <= 0, axis=0)))


def _dead_rows(z):
    return float(np.mean(np.all(z <= 0, axis=1)))


# --------------------------------------------------------------------------- ensemble_predict
_ENSEMBLE_CASES = ("no_batchnorm", "two_members")


def _ensemble_inputs(rng, case=None, M=3, N=20, D=5, H=7, C=4):
    if case is not None and case not in _ENSEMBLE_CASES:
        _unknown("ensemble_predict", case, _ENSEMBLE_CASES)
    if case == "two_members":
        M = 2
    x, y = _data(rng, N, D, C)
    models = []
    for i in range(max(2, int(M))):
        m = _model(rng, D, H, C, batchnorm=case != "no_batchnorm", keep_prob=0.7)
        opt = optim.AdamW(lr=0.02)
        for _ in range(2):  # a little training: weights and running statistics move
            train.train_epoch(m, opt, x, y, 8, rng)
        models.append(m.eval() if i == 1 else m.train())  # member 1 in eval mode, the rest training
    return {"models": models, "x": rng.standard_normal((N, D))}


def _call_ensemble(impl, inputs):
    probs = impl(inputs["models"], inputs["x"])
    return probs, [_state(m) for m in inputs["models"]]


# The wrong variants of ensemble_predict, numpy only.
def _ensemble_votes(models, x):
    votes = 0.0
    for model in models:
        was_training = model.training
        model.eval()
        z = model.forward(x)
        if was_training:
            model.train()
        onehot = np.zeros_like(z)
        onehot[np.arange(len(z)), np.argmax(z, axis=1)] = 1.0
        votes = votes + onehot
    return votes / len(models)


def _ensemble_softmax_of_mean_logits(models, x):
    total = 0.0
    for model in models:
        was_training = model.training
        model.eval()
        z = model.forward(x)
        if was_training:
            model.train()
        total = total + z
    z = total / len(models)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _ensemble_mean_logits(models, x):
    total = 0.0
    for model in models:
        was_training = model.training
        model.eval()
        z = model.forward(x)
        if was_training:
            model.train()
        total = total + z
    return total / len(models)


def _ensemble_left_in_eval(models, x):
    total = 0.0
    for model in models:
        model.eval()
        z = model.forward(x)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        total = total + e / e.sum(axis=1, keepdims=True)
    return total / len(models)


def _ensemble_train_mode(models, x):
    total = 0.0
    for model in models:
        z = model.forward(x)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        total = total + e / e.sum(axis=1, keepdims=True)
    return total / len(models)


# --------------------------------------------------------------------------- registry
EXERCISES = [
    Exercise(name="train_epoch", reference=train.train_epoch, make_inputs=_train_inputs, call=_call_train,
             mutates=True, tol=1e-6, output_name="(returned loss, model state after the epoch)"),
    Exercise(name="evaluate", reference=train.evaluate, make_inputs=_eval_inputs, call=_call_eval,
             mutates=True, tol=1e-7, output_name="(loss, accuracy, model state after)"),
    Exercise(name="ema_update", reference=train.ema_update, make_inputs=_ema_inputs, call=_call_ema,
             mutates=True, output_name="(returned avg, avg after the call, params after the call)"),
    Exercise(name="gradient_norms", reference=train.gradient_norms, make_inputs=_norm_inputs,
             output_name="norms"),
    Exercise(name="dead_relu_fraction", reference=train.dead_relu_fraction, make_inputs=_dead_inputs,
             output_name="fraction"),
    Exercise(name="ensemble_predict", reference=train.ensemble_predict, make_inputs=_ensemble_inputs,
             call=_call_ensemble, mutates=True, output_name="(probabilities, members' states after)"),
]

_TRAIN_HINT = ("see 'One epoch': model.train(); order = rng.permutation(N); for each minibatch forward, "
               "softmax_kl, backward, optimizer.step; return the mean of the minibatch losses; "
               "restore the mode the model came in")
_EMA_HINT = "see 'Checkpoint averaging'"
_NORMS_HINT = "see 'Per-layer gradient norms'"
_DEAD_HINT = "see 'Dead ReLUs'"
_ENSEMBLE_HINT = "see 'An ensemble of seeds'"
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
    # ema_update
    Misconception("ema_update", "ema-weights-swapped", "you swapped the weights: the average kept (1 − decay) "
                  "of itself and took decay of the new parameters", "avg ← decay·avg + (1 − decay)·params: with "
                  "decay = 0.995 the average moves only 0.5 % of the way to the current weights "
                  "(x_test = 0.995*x_test + 0.005*x) — " + _EMA_HINT, impl=_ema_weights_swapped),
    Misconception("ema_update", "ema-new-dict", "you returned a new dict and left avg as it was",
                  "update the caller's arrays in place, avg[k][...] = … (or avg[k] *= decay; avg[k] += …): "
                  "the average is usually the live params() of a copy of the model, which a new dict does not "
                  "change — " + _EMA_HINT, impl=_ema_new_dict),
    Misconception("ema_update", "ema-no-decay", "you added (1 − decay)·params to the average without "
                  "multiplying the average by decay", "both terms are weighted, decay·avg + (1 − decay)·params, "
                  "so that the weights sum to 1 and a constant parameter is its own average — " + _EMA_HINT,
                  impl=_ema_no_decay),
    # gradient_norms
    Misconception("gradient_norms", "grad-norms-squared", "you returned the squared norms Σg², without the "
                  "square root", "the L2 norm is √(Σ g²), np.linalg.norm(g) or np.sqrt(np.sum(g**2)) — "
                  + _NORMS_HINT, impl=_norms_squared),
    Misconception("gradient_norms", "grad-norms-global", "you returned one global norm over all arrays for "
                  "every key", "that is clip_grad_norm's total; here each array gets its own norm, so the layers "
                  "can be compared — " + _NORMS_HINT, impl=_norms_global),
    Misconception("gradient_norms", "grad-norms-spectral", "for matrices you computed np.linalg.norm(g, 2), "
                  "the largest singular value, not the L2 norm of the entries", "for a 2-D array "
                  "np.linalg.norm(g, 2) is the spectral norm; the Frobenius norm √(Σ g²) is np.linalg.norm(g) "
                  "(no ord) — " + _NORMS_HINT, impl=_norms_spectral),
    # dead_relu_fraction
    Misconception("dead_relu_fraction", "dead-relu-entries", "you returned the fraction of entries that are ≤ 0, "
                  "not the fraction of units dead on every row", "a unit (a column) is dead when it is ≤ 0 for "
                  "every example: np.mean(np.all(z <= 0, axis=0)); a unit that is off on half the rows still "
                  "learns — " + _DEAD_HINT, impl=_dead_entries),
    Misconception("dead_relu_fraction", "dead-relu-strict", "you tested z < 0 instead of z ≤ 0",
                  "at z = 0 ReLU outputs 0 and its gradient is 0 as well, so a unit that is never positive is "
                  "dead; z < 0 also misses every dead unit when you pass ReLU outputs, which are exactly 0 — "
                  + _DEAD_HINT, impl=_dead_strict),
    Misconception("dead_relu_fraction", "dead-relu-any-row", "you counted units that are ≤ 0 on any row, not "
                  "on every row", "np.all(z <= 0, axis=0), not np.any: a unit that fires on some examples "
                  "still gets gradients from them — " + _DEAD_HINT, impl=_dead_any_row),
    Misconception("dead_relu_fraction", "dead-relu-rows", "you took the fraction of rows (examples) on which "
                  "every unit is ≤ 0: axis=1 instead of axis=0", "units are the columns of z (N, D): reduce over "
                  "the rows, np.all(z <= 0, axis=0), then average over the D units — " + _DEAD_HINT,
                  impl=_dead_rows),
    # ensemble_predict
    Misconception("ensemble_predict", "ensemble-votes", "you averaged the members' argmax votes, not their "
                  "softmax outputs", "average the probabilities, softmax(model.forward(x)) per member: the "
                  "result is a distribution over the classes that keeps each member's confidence — "
                  + _ENSEMBLE_HINT, impl=_ensemble_votes),
    Misconception("ensemble_predict", "ensemble-softmax-of-mean-logits", "you averaged the logits and took "
                  "the softmax of the mean", "softmax is not linear: the mean of the softmax outputs is not the "
                  "softmax of the mean logits; take the softmax of each member first — " + _ENSEMBLE_HINT,
                  impl=_ensemble_softmax_of_mean_logits),
    Misconception("ensemble_predict", "ensemble-mean-logits", "you returned the mean of the logits, without "
                  "any softmax", "each member's output is turned into probabilities, softmax(z), and the "
                  "probabilities are averaged — " + _ENSEMBLE_HINT, impl=_ensemble_mean_logits),
    Misconception("ensemble_predict", "ensemble-left-in-eval", "you left the members in eval mode",
                  "remember each member's was_training = model.training and restore it after its forward pass, "
                  "as evaluate does — " + _ENSEMBLE_HINT, impl=_ensemble_left_in_eval),
    Misconception("ensemble_predict", "ensemble-train-mode", "you ran the members in training mode: dropout was "
                  "on and batch norm used (and updated) the batch statistics", "call model.eval() before each "
                  "member's forward pass and restore its mode afterwards — " + _ENSEMBLE_HINT,
                  impl=_ensemble_train_mode),
]
