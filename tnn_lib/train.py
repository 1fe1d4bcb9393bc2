"""One training epoch and an evaluation pass (notebook ``07_training``).

The loss is the softmax-KL divergence of :func:`tnn_lib.divergences.softmax_kl` against
one-hot targets (for one-hot ``d`` it equals the cross-entropy −log softmax(z)_y), averaged
over the minibatch. ``model`` is anything with ``forward``, ``backward``, ``params()``,
``grads()``, ``train()``, ``eval()`` and ``training`` (e.g. :class:`tnn_lib.nn.Sequential`);
``optimizer`` anything with ``step(params, grads)`` (e.g. :class:`tnn_lib.optim.AdamW`).

Diagnosing and improving a run: :func:`gradient_norms` (per-layer gradient norms),
:func:`dead_relu_fraction` (units that never fire on a batch), :func:`ema_update`
(checkpoint averaging, the lecture notes' ``x_test = 0.995*x_test + 0.005*x``) and
:func:`ensemble_predict` (the mean of several models' softmax outputs).
"""

import numpy as np

import numbers

from tnn_lib._validate import check_array, check_int, check_same_keys
from tnn_lib.divergences import softmax, softmax_kl

__all__ = ["one_hot", "train_epoch", "evaluate", "ema_update", "ensemble_predict", "gradient_norms",
           "dead_relu_fraction"]


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


# --------------------------------------------------------------------------- diagnosing a run
def _array_dict(name, d, floating=False):
    if not isinstance(d, dict):
        raise ValueError(f"{name}: expected a dict of arrays (e.g. model.params()), got {type(d).__name__}")
    for key, v in d.items():
        if not isinstance(v, np.ndarray) or not (np.issubdtype(v.dtype, np.floating) if floating else (
                np.issubdtype(v.dtype, np.number) and not np.issubdtype(v.dtype, np.complexfloating))):
            want = "a float numpy array (updated in place)" if floating else "a real numeric numpy array"
            raise ValueError(f"{name}[{key!r}]: expected {want}, got "
                             f"{type(v).__name__}" + (f" of dtype {v.dtype}" if isinstance(v, np.ndarray) else ""))
    return d


def ema_update(avg, params, decay=0.995):
    """Checkpoint averaging: ``avg ← decay·avg + (1 − decay)·params``, in place; returns ``avg``.

    The lecture notes' running average of the parameter vector, kept beside training and
    used at test time: ``x_test = 0.995*x_test + 0.005*x`` after every update of ``x``.
    (PyTorch's ``torch.optim.swa_utils.AveragedModel`` with an EMA ``multi_avg_fn`` does the same.)

    Parameters
    ----------
    avg : dict of float ndarray
        The running average, e.g. ``avg_model.params()`` (the live arrays of a copy of the
        model, ``copy.deepcopy(model)`` at the start). Every array is updated in place, so a
        model whose ``params()`` it is follows.
    params : dict of ndarray, the same keys and shapes
        The current parameters, e.g. ``model.params()``; not modified.
    decay : float in [0, 1]
        The weight of the old average (0.995 in the notes).

    Returns
    -------
    avg : the same dict, holding the same (updated) arrays
    """
    _array_dict("avg", avg, floating=True)
    _array_dict("params", params)
    check_same_keys("avg", avg, "params", params)
    for key in avg:
        if avg[key].shape != params[key].shape:
            raise ValueError(f"avg[{key!r}] and params[{key!r}]: expected the same shape, "
                             f"got {avg[key].shape} and {params[key].shape}")
    if isinstance(decay, (bool, np.bool_)) or not isinstance(decay, (numbers.Real, np.number)) \
            or not 0.0 <= float(decay) <= 1.0:
        raise ValueError(f"decay: expected a number in [0, 1] (the weight of the old average), got {decay!r}")
    decay = float(decay)
    for key, a in avg.items():
        a[...] = decay * a + (1.0 - decay) * params[key]  # in place: the caller's arrays change
    return avg


def ensemble_predict(models, x):
    """The ensemble's prediction: the mean over the members of their softmax outputs.

    Each member is run in **eval** mode (dropout off, batch-norm running statistics) and
    handed back in the mode it came in; nothing else of it changes.

    Parameters
    ----------
    models : non-empty sequence of models (see the module docstring), all with C outputs
    x : ndarray, shape (N, D)

    Returns
    -------
    probs : ndarray, shape (N, C)
        ``(1/M) Σ_m softmax(model_m(x))``; every row sums to 1.
    """
    if isinstance(models, (str, bytes)) or not hasattr(models, "__len__") or not hasattr(models, "__iter__"):
        raise ValueError(f"models: expected a list of models, got {type(models).__name__}")
    models = list(models)
    if not models:
        raise ValueError("models: expected at least one model, got an empty list")
    for i, m in enumerate(models):
        if not all(callable(getattr(m, a, None)) for a in ("forward", "train", "eval")) \
                or not hasattr(m, "training"):
            raise ValueError(f"models[{i}]: expected a model with forward, train, eval and training, "
                             f"got {type(m).__name__}")
    x = check_array("x", x, ndim=2).astype(np.float64, copy=False)
    total = None
    for i, m in enumerate(models):
        was_training = m.training
        m.eval()
        try:
            z = m.forward(x)
        finally:
            _restore(m, was_training)
        z = check_array(f"models[{i}].forward(x)", z, ndim=2)
        if total is not None and z.shape != total.shape:
            raise ValueError(f"models[{i}]: expected outputs of shape {total.shape} like the first member's, "
                             f"got {z.shape}")
        p = softmax(z)
        total = p if total is None else total + p
    return total / len(models)


def gradient_norms(grads):
    """The L2 (Frobenius) norm of every array of a grads dict: ``{key: ‖g‖₂ = √Σ g²}``.

    Watching them per layer during training shows vanishing or exploding gradients
    (``torch.linalg.vector_norm(p.grad)`` per parameter in PyTorch). Unlike
    :func:`tnn_lib.optim.clip_grad_norm`, which returns one norm over all arrays together,
    this keeps one per array and changes nothing.

    Parameters
    ----------
    grads : dict of ndarray, e.g. ``model.grads()``

    Returns
    -------
    dict with the same keys, float values ≥ 0
    """
    _array_dict("grads", grads)
    return {key: float(np.sqrt(np.sum(np.square(g, dtype=np.float64)))) for key, g in grads.items()}


def dead_relu_fraction(z):
    """The fraction of ReLU units that are dead on a batch: ≤ 0 on **every** row.

    ``z`` is the batch of a ReLU layer's pre-activations, one column per unit. A unit whose
    input is ≤ 0 for every example outputs 0 and passes no gradient (ReLU′ = 0 there, and
    ``tnn_lib.layers.relu_backward`` uses 0 at z = 0 too), so its incoming weights never
    change: the lecture notes' "dead ReLU, will never activate, never update". Because
    ReLU(z) = 0 exactly where z ≤ 0, the same function counts dead units from the layer's
    outputs ``max(0, z)``.

    Parameters
    ----------
    z : ndarray, shape (N, D), N >= 1, no NaN

    Returns
    -------
    float in [0, 1]
        ``mean over the D columns of [all over the N rows of z ≤ 0]``.
    """
    z = check_array("z", z, ndim=2)
    if z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"z: expected at least one row and one unit, got shape {z.shape}")
    if np.isnan(z).any():
        raise ValueError("z: expected no NaN (a NaN pre-activation is neither dead nor alive)")
    return float(np.mean(np.all(z <= 0, axis=0)))
