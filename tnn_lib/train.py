"""One training epoch and an evaluation pass (notebook ``07_training``).

The loss is the softmax-KL divergence of :func:`tnn_lib.divergences.softmax_kl` against
one-hot targets (for one-hot ``d`` it equals the cross-entropy −log softmax(z)_y), averaged
over the minibatch. ``model`` is anything with ``forward``, ``backward``, ``params()``,
``grads()``, ``train()``, ``eval()`` and ``training`` (e.g. :class:`tnn_lib.nn.Sequential`);
``optimizer`` anything with ``step(params, grads)`` (e.g. :class:`tnn_lib.optim.AdamW`).
"""

import numpy as np

from tnn_lib._validate import check_array, check_int
from tnn_lib.divergences import softmax_kl

__all__ = ["one_hot", "train_epoch", "evaluate"]


def one_hot(y, num_classes):
    """One-hot rows: ``d[n, y[n]] = 1``. ``y`` (N,) ints in [0, num_classes) → ``d`` (N, num_classes)."""
    y = _labels(y)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    if y.size and y.max() >= num_classes:
        raise ValueError(f"y: expected labels in [0, {num_classes}) for {num_classes} outputs, "
                         f"got a label {y.max()}")
    d = np.zeros((y.size, num_classes))
    d[np.arange(y.size), y] = 1.0
    return d


def _labels(y):
    y = check_array("y", y, ndim=1)
    if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise ValueError(f"y: expected non-negative integer class labels, got dtype {y.dtype}"
                         + (f" with minimum {y.min()}" if y.size else ""))
    return y


def _data(x, y):
    x = check_array("x", x, ndim=2).astype(np.float64, copy=False)
    y = _labels(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y: expected the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] == 0:
        raise ValueError("x: expected at least one example, got 0 rows")
    return x, y


def _restore(model, was_training):
    if was_training:
        model.train()
    else:
        model.eval()


def train_epoch(model, optimizer, x, y, batch_size, rng):
    """One pass over ``(x, y)`` in minibatches shuffled by ``rng``; returns the mean minibatch loss.

    For each minibatch: ``z = model.forward(xb)``, ``loss, dz = softmax_kl(z, one_hot(yb))``,
    ``model.backward(dz)``, ``optimizer.step(model.params(), model.grads())``. The model is
    run in training mode and left in the mode it had before. If the last minibatch would
    hold a single example it joins the previous one (batch norm cannot train on a batch of one).

    Parameters
    ----------
    model, optimizer : see the module docstring
    x : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)
    batch_size : int >= 1
    rng : numpy.random.Generator

    Returns
    -------
    float
        Mean over the minibatches of their mean loss.
    """
    x, y = _data(x, y)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    n = x.shape[0]
    order = rng.permutation(n)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()  # fold a last batch of one into the previous batch
    bounds = starts[1:] + [n]
    was_training = model.training
    model.train()
    losses = []
    try:
        for start, stop in zip(starts, bounds):
            idx = order[start:stop]
            z = model.forward(x[idx])
            loss, dz = softmax_kl(z, one_hot(y[idx], z.shape[1]))
            model.backward(dz)
            optimizer.step(model.params(), model.grads())
            losses.append(loss)
    finally:
        _restore(model, was_training)
    return float(np.mean(losses))


def evaluate(model, x, y):
    """Loss and accuracy on ``(x, y)`` in eval mode; the model's mode is restored afterwards.

    Parameters
    ----------
    model : see the module docstring
    x : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)

    Returns
    -------
    loss : float
        Mean softmax-KL (= cross-entropy) over the N examples.
    accuracy : float
        Fraction of rows whose largest logit is at the true label.
    """
    x, y = _data(x, y)
    was_training = model.training
    model.eval()
    try:
        z = model.forward(x)
    finally:
        _restore(model, was_training)
    loss, _ = softmax_kl(z, one_hot(y, z.shape[1]))
    return float(loss), float(np.mean(np.argmax(z, axis=1) == y))
