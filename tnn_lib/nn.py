"""A small ``Sequential`` of modules for the training notebook and the widgets (``07_training``).

Every module has ``forward(x) -> out``, ``backward(dout) -> dx`` (gradient w.r.t. the last
forward's input; parameter gradients are stored on the module), ``params()`` and
``grads()`` (dicts with equal keys, ``params()`` holding the live arrays so an optimizer
step in place changes the model), ``train()`` and ``eval()`` (both return the module).
:class:`Sequential` prefixes the keys with the module's index: ``"0.W"``, ``"0.b"``,
``"1.gamma"``, … The modules wrap the functional forward/backward pairs of
:mod:`tnn_lib.layers`, :mod:`tnn_lib.batchnorm` and :mod:`tnn_lib.dropout`.
"""

import numpy as np

from tnn_lib import batchnorm as _bn
from tnn_lib._modes import TrainEvalMode
from tnn_lib._validate import check_choice, check_int, check_prob
from tnn_lib.dropout import dropout_backward, dropout_forward
from tnn_lib.init import init_weights
from tnn_lib.layers import (linear_backward, linear_forward, relu_backward, relu_forward,
                            sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward)

__all__ = ["Module", "Linear", "ReLU", "Tanh", "Sigmoid", "BatchNorm1d", "Dropout",
           "Sequential", "make_mlp"]


class Module(TrainEvalMode):
    """Base class: no parameters, a ``training`` flag, and a cache from the last forward."""

    _cache = None

    def params(self):
        return {}

    def grads(self):
        return {}

    def _last_cache(self):
        if self._cache is None:
            raise ValueError(f"{type(self).__name__}.backward: expected a forward call first, got none")
        return self._cache


class Linear(Module):
    """Affine layer ``out = x @ W + b``; ``W`` (D_in, D_out) from :func:`init_weights`, ``b = 0``.

    ``W=`` gives the initial weights instead (a copy is kept; `rng` and `scheme` are then
    unused): a lesson before ``04_initialization`` builds layers without that exercise.
    """

    def __init__(self, D_in, D_out, rng=None, scheme="he", W=None):
        if W is not None:
            W = np.array(W, dtype=float)
            if W.shape != (check_int("D_in", D_in, minimum=1), check_int("D_out", D_out, minimum=1)):
                raise ValueError(f"W: expected an array of shape ({D_in}, {D_out}), got shape {W.shape}")
            self.W = W
        else:
            self.W = init_weights(D_in, D_out, scheme, rng)
        self.b = np.zeros(self.W.shape[1])
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)

    def forward(self, x):
        out, self._cache = linear_forward(x, self.W, self.b)
        return out

    def backward(self, dout):
        dx, self.dW, self.db = linear_backward(dout, self._last_cache())
        return dx

    def params(self):
        return {"W": self.W, "b": self.b}

    def grads(self):
        return {"W": self.dW, "b": self.db}


class _Activation(Module):
    _forward = _backward = None

    def forward(self, x):
        out, self._cache = type(self)._forward(x)
        return out

    def backward(self, dout):
        return type(self)._backward(dout, self._last_cache())


class ReLU(_Activation):
    """``max(0, x)``, elementwise."""
    _forward, _backward = staticmethod(relu_forward), staticmethod(relu_backward)


class Tanh(_Activation):
    """``tanh(x)``, elementwise."""
    _forward, _backward = staticmethod(tanh_forward), staticmethod(tanh_backward)


class Sigmoid(_Activation):
    """``1 / (1 + exp(−x))``, elementwise."""
    _forward, _backward = staticmethod(sigmoid_forward), staticmethod(sigmoid_backward)


class BatchNorm1d(_bn.BatchNorm1d):
    """:class:`tnn_lib.batchnorm.BatchNorm1d` with ``params()`` ``{gamma, beta}`` and ``grads()``."""

    def params(self):
        return {"gamma": self.gamma, "beta": self.beta}

    def grads(self):
        return {"gamma": self.dgamma, "beta": self.dbeta}


class Dropout(Module):
    """Dropout with keep probability ``keep_prob`` (the lecture's α; PyTorch's p = 1 − keep_prob).

    In training a fresh Bernoulli(keep_prob) mask is drawn from ``rng`` at every forward,
    unless the attribute ``mask`` is set (an array of the input's shape, for gradient
    checks and demonstrations). ``inverted=True`` scales by 1/keep_prob in training and
    leaves test time alone; ``inverted=False`` is the lecture's first form (test × keep_prob).
    """

    def __init__(self, keep_prob, rng=None, inverted=True, mask=None):
        self.keep_prob = check_prob("keep_prob", keep_prob)
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng: expected a numpy.random.Generator or None, got {type(rng).__name__}")
        self.rng, self.inverted, self.mask = rng, bool(inverted), mask

    def forward(self, x):
        if self.training and self.mask is None and self.rng is None:
            raise ValueError("rng: expected a numpy.random.Generator to draw masks in training "
                             "(or a fixed mask), got None")
        out, self._cache = dropout_forward(x, self.keep_prob, rng=self.rng, mask=self.mask,
                                           train=self.training, inverted=self.inverted)
        return out

    def backward(self, dout):
        return dropout_backward(dout, self._last_cache())


class Sequential(Module):
    """Modules applied in order; ``backward`` runs them in reverse."""

    def __init__(self, *modules):
        for i, m in enumerate(modules):
            if not all(callable(getattr(m, a, None)) for a in ("forward", "backward", "train", "eval")):
                raise ValueError(f"modules[{i}]: expected a module with forward, backward, train "
                                 f"and eval, got {type(m).__name__}")
        self.modules = list(modules)

    def __len__(self):
        return len(self.modules)

    def __getitem__(self, i):
        return self.modules[i]

    def forward(self, x):
        for m in self.modules:
            x = m.forward(x)
        return x

    def backward(self, dout):
        for m in reversed(self.modules):
            dout = m.backward(dout)
        return dout

    def _collect(self, what):
        return {f"{i}.{k}": v for i, m in enumerate(self.modules)
                for k, v in (getattr(m, what)() if hasattr(m, what) else {}).items()}

    def params(self):
        return self._collect("params")

    def grads(self):
        return self._collect("grads")

    def train(self):
        self.training = True
        for m in self.modules:
            m.train()
        return self

    def eval(self):
        self.training = False
        for m in self.modules:
            m.eval()
        return self


def make_mlp(sizes, rng, activation="relu", batchnorm=False, keep_prob=1.0, scheme="he"):
    """MLP ``Linear → [BatchNorm1d] → activation → [Dropout]`` per hidden layer, linear output.

    Parameters
    ----------
    sizes : sequence of int, e.g. ``[64, 128, 10]`` (input, hidden…, output)
    rng : numpy.random.Generator, for the weights and the dropout masks
    activation : ``"relu"``, ``"tanh"`` or ``"sigmoid"``
    batchnorm : bool
    keep_prob : float in (0, 1]; 1 means no dropout layers
    scheme : initialization scheme of :func:`tnn_lib.init.init_weights`

    Returns
    -------
    Sequential, in training mode
    """
    acts = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
    check_choice("activation", activation, tuple(acts))
    keep_prob = check_prob("keep_prob", keep_prob)
    sizes = [check_int(f"sizes[{i}]", s, minimum=1) for i, s in enumerate(sizes)]
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least input and output sizes, got {sizes}")
    modules = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        modules.append(Linear(d_in, d_out, rng, scheme))
        if i == len(sizes) - 2:
            break  # the output layer is linear: logits
        if batchnorm:
            modules.append(BatchNorm1d(d_out))
        modules.append(acts[activation]())
        if keep_prob < 1.0:
            modules.append(Dropout(keep_prob, rng))
    return Sequential(*modules)
