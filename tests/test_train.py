"""Tests for tnn_lib.train: one epoch, evaluation, and convergence on digits."""

import numpy as np
import pytest

from tnn_lib.data import load_digits_split
from tnn_lib.divergences import softmax_kl
from tnn_lib.nn import BatchNorm1d, Dropout, Linear, ReLU, Sequential, make_mlp
from tnn_lib.optim import SGD, AdamW
from tnn_lib.train import (dead_relu_fraction, ema_update, ensemble_predict, evaluate, gradient_norms, one_hot,
                             train_epoch)


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


# --------------------------------------------------------------------------- checkpoint averaging
def test_ema_update_is_the_notes_running_average_in_place():
    avg = {"W": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([0.0, -8.0])}
    params = {"W": np.array([[201.0, 2.0], [-197.0, 4.0]]), "b": np.array([1000.0, 0.0])}
    arrays = {k: v for k, v in avg.items()}
    before = {k: v.copy() for k, v in params.items()}
    out = ema_update(avg, params)  # decay 0.995: x_test = 0.995*x_test + 0.005*x
    assert out is avg and all(avg[k] is arrays[k] for k in avg)  # the caller's arrays, updated
    # 0.995·1 + 0.005·201 = 2, 0.995·3 − 0.005·197 = 2, 0.005·1000 = 5, 0.995·(−8) = −7.96
    np.testing.assert_allclose(avg["W"], [[2.0, 2.0], [2.0, 4.0]], rtol=1e-14)
    np.testing.assert_allclose(avg["b"], [5.0, -7.96], rtol=1e-14)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])  # params untouched


def test_ema_update_follows_a_model_through_its_live_params():
    # avg_model.params() holds the live arrays: updating them in place moves the averaged model
    rng = np.random.default_rng(0)
    model = make_mlp([3, 4, 2], rng)
    avg_model = make_mlp([3, 4, 2], np.random.default_rng(1))
    for k, p in avg_model.params().items():
        p[...] = 0.0
    ema_update(avg_model.params(), model.params(), decay=0.9)
    for k, p in model.params().items():
        np.testing.assert_allclose(avg_model.params()[k], 0.1 * p, rtol=1e-14, atol=0)
    # decay 0: the average becomes the parameters; decay 1: it stays
    ema_update(avg_model.params(), model.params(), decay=0.0)
    for k, p in model.params().items():
        np.testing.assert_array_equal(avg_model.params()[k], p)
    snapshot = {k: v.copy() for k, v in avg_model.params().items()}
    ema_update(avg_model.params(), {k: v + 1.0 for k, v in model.params().items()}, decay=1.0)
    for k, v in snapshot.items():
        np.testing.assert_array_equal(avg_model.params()[k], v)


def test_ema_of_a_constant_sequence_converges_geometrically():
    avg = {"w": np.zeros(3)}
    target = {"w": np.array([1.0, -2.0, 4.0])}
    for _ in range(200):
        ema_update(avg, target, decay=0.98)
    np.testing.assert_allclose(avg["w"], (1 - 0.98 ** 200) * target["w"], rtol=1e-12)


# --------------------------------------------------------------------------- ensembles
def test_ensemble_predict_is_the_mean_of_softmax_outputs_in_eval_mode():
    x, y = _toy()
    rng = np.random.default_rng(3)
    models = [make_mlp([4, 6, 3], np.random.default_rng(s), batchnorm=True, keep_prob=0.5) for s in range(3)]
    for m in models:
        train_epoch(m, AdamW(lr=0.05), x, y, 10, rng)  # move weights and running statistics
    models[1].eval()  # one member comes in eval mode, the others in training mode
    modes = [m.training for m in models]
    before = [{k: v.copy() for k, v in m.params().items()} | {"rm": m[1].running_mean.copy(),
                                                              "rv": m[1].running_var.copy()} for m in models]
    probs = ensemble_predict(models, x)
    assert probs.shape == (50, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-14)
    assert [m.training for m in models] == modes  # every member handed back in its mode
    for m, b in zip(models, before):  # and nothing else changed
        for k, v in m.params().items():
            np.testing.assert_array_equal(v, b[k])
        np.testing.assert_array_equal(m[1].running_mean, b["rm"])
        np.testing.assert_array_equal(m[1].running_var, b["rv"])
    # independently: eval-mode logits by hand (BN with running statistics, no dropout)
    expected = np.zeros((50, 3))
    for m in models:
        lin1, bn, lin2 = m[0], m[1], m[4]
        h = x @ lin1.W + lin1.b
        h = bn.gamma * (h - bn.running_mean) / np.sqrt(bn.running_var + bn.eps) + bn.beta
        z = np.maximum(h, 0) @ lin2.W + lin2.b
        e = np.exp(z - z.max(axis=1, keepdims=True))
        expected += e / e.sum(axis=1, keepdims=True) / 3
    np.testing.assert_allclose(probs, expected, rtol=1e-12)


def test_ensemble_of_one_is_the_softmax_of_its_eval_logits():
    x, _ = _toy()
    m = make_mlp([4, 5, 3], np.random.default_rng(0), keep_prob=0.5)
    probs = ensemble_predict([m], x)
    z = m.eval().forward(x)
    np.testing.assert_allclose(probs, np.exp(z) / np.exp(z).sum(1, keepdims=True), rtol=1e-12)


# --------------------------------------------------------------------------- diagnostics
def test_gradient_norms_per_array_exact_values():
    grads = {"0.W": np.array([[1.0, 2.0], [2.0, 4.0]]),   # √(1+4+4+16) = 5
             "0.b": np.array([3.0, -4.0]),                # 5
             "1.gamma": np.zeros(4),                      # 0 (exactly, e.g. a bias before BN)
             "2.W": np.array([[12.0], [-5.0]])}           # 13
    before = {k: v.copy() for k, v in grads.items()}
    norms = gradient_norms(grads)
    assert list(norms) == list(grads)
    assert norms == {"0.W": 5.0, "0.b": 5.0, "1.gamma": 0.0, "2.W": 13.0}
    assert all(type(v) is float for v in norms.values())
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])


def test_gradient_norms_squared_sum_is_the_clipping_total():
    from tnn_lib.optim import clip_grad_norm
    m = make_mlp([4, 6, 3], np.random.default_rng(0), batchnorm=True)
    x, y = _toy()
    z = m.forward(x)
    m.backward(softmax_kl(z, one_hot(y, 3))[1])
    norms = gradient_norms(m.grads())
    assert set(norms) == set(m.grads())
    total = clip_grad_norm({k: v.copy() for k, v in m.grads().items()}, 1e9)
    assert np.sqrt(sum(v ** 2 for v in norms.values())) == pytest.approx(total, rel=1e-12)


def test_dead_relu_fraction_counts_units_dead_on_every_row():
    z = np.array([[-1.0, 0.0, 2.0, -3.0, 0.0],
                  [-2.0, 0.0, -1.0, 5.0, -1.0],
                  [-0.5, 0.0, -1.0, -1.0, 0.0]])
    # column 0: < 0 everywhere (dead); 1: exactly 0 everywhere (dead: ReLU' = 0 there);
    # 2 and 3: positive once (alive); 4: ≤ 0 everywhere with zeros (dead)
    assert dead_relu_fraction(z) == 3 / 5
    assert dead_relu_fraction(np.maximum(z, 0)) == 3 / 5  # the same from the ReLU outputs
    assert dead_relu_fraction(-np.ones((4, 3))) == 1.0
    assert dead_relu_fraction(np.ones((1, 3))) == 0.0
    assert type(dead_relu_fraction(z)) is float


def test_dead_relu_fraction_finds_units_killed_by_a_large_negative_bias():
    x = np.random.default_rng(0).standard_normal((200, 10))
    W = np.random.default_rng(1).standard_normal((10, 8))
    b = np.array([-100.0] * 3 + [0.0] * 5)  # three units can never fire on this data
    assert dead_relu_fraction(x @ W + b) == 3 / 8


@pytest.mark.parametrize("call, match", [
    (lambda: ema_update([np.zeros(2)], {"w": np.zeros(2)}), "avg: expected a dict of arrays"),
    (lambda: ema_update({"w": np.zeros(2)}, {"v": np.zeros(2)}), "avg and params: expected the same keys"),
    (lambda: ema_update({"w": np.zeros(2)}, {"w": np.zeros(3)}), r"avg\['w'\] and params\['w'\]: expected the same shape"),
    (lambda: ema_update({"w": np.zeros(2, dtype=int)}, {"w": np.zeros(2)}), r"avg\['w'\]: expected a float numpy array"),
    (lambda: ema_update({"w": [0.0, 1.0]}, {"w": np.zeros(2)}), r"avg\['w'\]: expected a float numpy array"),
    (lambda: ema_update({"w": np.zeros(2)}, {"w": np.zeros(2)}, decay=1.5), r"decay: expected a number in \[0, 1\]"),
    (lambda: ema_update({"w": np.zeros(2)}, {"w": np.zeros(2)}, decay="0.9"), r"decay: expected a number in \[0, 1\]"),
    (lambda: ensemble_predict([], np.zeros((2, 4))), "models: expected at least one model"),
    (lambda: ensemble_predict(make_mlp([4, 3], np.random.default_rng(0)), np.zeros((2, 4))), "models: expected a list"),
    (lambda: ensemble_predict([np.zeros(3)], np.zeros((2, 4))), r"models\[0\]: expected a model"),
    (lambda: ensemble_predict([make_mlp([4, 3], np.random.default_rng(0))], np.zeros(4)), "x: expected a 2-D array"),
    (lambda: ensemble_predict([make_mlp([4, 3], np.random.default_rng(0)), make_mlp([4, 2], np.random.default_rng(0))],
                              np.zeros((2, 4))), r"models\[1\]: expected outputs of shape \(2, 3\)"),
    (lambda: gradient_norms([np.zeros(2)]), "grads: expected a dict of arrays"),
    (lambda: gradient_norms({"w": "abc"}), r"grads\['w'\]: expected a real numeric numpy array"),
    (lambda: dead_relu_fraction(np.zeros(3)), "z: expected a 2-D array"),
    (lambda: dead_relu_fraction(np.zeros((0, 3))), "z: expected at least one row"),
    (lambda: dead_relu_fraction(np.array([[np.nan, 1.0]])), "z: expected no NaN"),
])
def test_diagnostics_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
