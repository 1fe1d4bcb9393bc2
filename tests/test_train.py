"""Tests for tnn_lib.train: one epoch, evaluation, and convergence on digits."""

import numpy as np
import pytest

from tnn_lib.data import load_digits_split
from tnn_lib.divergences import softmax_kl
from tnn_lib.nn import BatchNorm1d, Dropout, Linear, ReLU, Sequential, make_mlp
from tnn_lib.optim import SGD, AdamW
from tnn_lib.train import evaluate, one_hot, train_epoch


class RecordingOptimizer:
    """Plain SGD that counts its steps (one per minibatch)."""

    def __init__(self):
        self.calls = 0

    def step(self, params, grads):
        self.calls += 1
        for k in params:
            params[k] -= 0.1 * grads[k]


def _toy(seed=0, n=50):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    return x, y


def test_train_epoch_equals_manual_loop():
    x, y = _toy()
    m1 = make_mlp([4, 6, 3], np.random.default_rng(1), batchnorm=True)
    m2 = make_mlp([4, 6, 3], np.random.default_rng(1), batchnorm=True)
    loss = train_epoch(m1, SGD(0.1, momentum=0.9), x, y, 16, np.random.default_rng(7))
    # manual: same permutation, same batches (50 = 16 + 16 + 16 + 2), same optimizer
    opt, order, losses = SGD(0.1, momentum=0.9), np.random.default_rng(7).permutation(50), []
    for start in range(0, 50, 16):
        idx = order[start:start + 16]
        z = m2.forward(x[idx])
        d = np.eye(3)[y[idx]]
        l, dz = softmax_kl(z, d)
        m2.backward(dz)
        opt.step(m2.params(), m2.grads())
        losses.append(l)
    assert loss == pytest.approx(np.mean(losses), rel=1e-13)
    # The bias of the Linear layer feeding batch norm gets an exact gradient of 0 (BN removes
    # it), so after the steps it is round-off, ~1e-18, in both runs: a relative tolerance
    # would compare round-off with round-off. An absolute floor far below the parameters'
    # scale (about 0.1 to 1) covers it; the relative check still holds for everything else.
    assert np.abs(m1.params()["0.b"]).max() < 1e-12
    for k, p in m1.params().items():
        np.testing.assert_allclose(p, m2.params()[k], rtol=1e-13, atol=1e-14)


def test_last_batch_of_one_joins_the_previous_batch():
    x, y = _toy(n=33)
    model = Sequential(Linear(4, 5, np.random.default_rng(0)), BatchNorm1d(5), ReLU(),
                       Linear(5, 3, np.random.default_rng(1)))
    opt = RecordingOptimizer()
    train_epoch(model, opt, x, y, 16, np.random.default_rng(0))  # 16 + 17, not 16 + 16 + 1
    assert opt.calls == 2


def test_evaluate_uses_eval_mode_and_restores_mode():
    x, y = _toy()
    rng = np.random.default_rng(2)
    model = make_mlp([4, 8, 3], rng, batchnorm=True, keep_prob=0.5)
    model.forward(x)  # move the running statistics away from 0 and 1
    running = model[1].running_mean.copy()
    loss, acc = evaluate(model, x, y)
    assert model.training  # restored
    np.testing.assert_array_equal(model[1].running_mean, running)  # nothing updated
    assert evaluate(model, x, y) == (loss, acc)  # deterministic: dropout off
    model.eval()
    z = model.forward(x)
    assert loss == pytest.approx(np.mean(-np.log(np.exp(z[np.arange(50), y]) / np.exp(z).sum(1))), rel=1e-12)
    assert acc == np.mean(z.argmax(1) == y)
    evaluate(model, x, y)
    assert not model.training


def test_train_epoch_restores_eval_mode():
    x, y = _toy()
    model = make_mlp([4, 8, 3], np.random.default_rng(0), keep_prob=0.5).eval()
    train_epoch(model, SGD(0.1), x, y, 10, np.random.default_rng(0))
    assert not model.training and not model[3].training


def test_training_on_digits_reaches_95_percent_validation_accuracy():
    # He init, BN, dropout and AdamW: a handful of epochs on 1078 training images
    (xt, yt), (xv, yv), _ = load_digits_split()
    rng = np.random.default_rng(0)
    model = Sequential(Linear(64, 128, rng, scheme="he"), BatchNorm1d(128), ReLU(),
                       Dropout(0.8, rng), Linear(128, 10, rng, scheme="he"))
    opt = AdamW(lr=1e-2, weight_decay=1e-2)
    _, acc0 = evaluate(model, xv, yv)
    losses = [train_epoch(model, opt, xt, yt, 64, rng) for _ in range(6)]
    val_loss, acc = evaluate(model, xv, yv)
    assert acc0 < 0.5
    assert acc >= 0.95, acc
    assert losses[-1] < losses[0] and val_loss < 0.3


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize("call, match", [
    (lambda m, x, y: train_epoch(m, SGD(0.1), x, y, 0, np.random.default_rng(0)), "batch_size: expected an integer >= 1"),
    (lambda m, x, y: train_epoch(m, SGD(0.1), x, y, 8, 0), "rng: expected a numpy.random.Generator"),
    (lambda m, x, y: train_epoch(m, SGD(0.1), x, y[:-1], 8, np.random.default_rng(0)), "x and y: expected the same number of rows"),
    (lambda m, x, y: evaluate(m, x, y.astype(float)), "y: expected non-negative integer class labels"),
    (lambda m, x, y: evaluate(m, x, y - 1), "y: expected non-negative integer class labels"),
    (lambda m, x, y: evaluate(m, x, y + 3), r"y: expected labels in \[0, 3\)"),
    (lambda m, x, y: evaluate(m, x[:, 0], y), "x: expected a 2-D array"),
])
def test_bad_arguments_raise(call, match):
    x, y = _toy()
    with pytest.raises(ValueError, match=match):
        call(make_mlp([4, 5, 3], np.random.default_rng(0)), x, y)
