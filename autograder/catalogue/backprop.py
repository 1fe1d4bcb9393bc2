"""Exercises and misconceptions of ``00_backprop``: the linear layer, three activation
backwards and the numerical gradient.

Backward exercises are called with the cache of the *reference* forward (the layouts are
in :mod:`tnn_lib.layers`): ``linear`` caches ``(x, W, b)``, ``relu`` caches ``z``,
``sigmoid`` and ``tanh`` cache their *output*. Every case has a batch of at least two rows
and a non-square ``W`` in the default sizes, so a transposed or un-summed gradient shows
in the shapes as well as in the numbers.
"""
from __future__ import annotations

import numpy as np

from autograder.catalogue import Exercise, Misconception
from tnn_lib import layers
from tnn_lib.gradcheck import numerical_gradient as _ref_numerical_gradient


def _unknown(name, case, cases):
    if case is not None and case not in cases:
        raise ValueError(f"{name}: unknown case {case!r}; expected one of {list(cases)}")


# ------------------------------------------------------------------------------- linear
LINEAR_CASES = ("batch_of_two", "wide", "large_values")


def _linear_inputs(rng, case=None, N=3, D=4, M=2):
    """x (N, D), W (D, M), b (M,) and an upstream gradient dout (N, M)."""
    _unknown("linear", case, LINEAR_CASES)
    if case == "batch_of_two":
        N = 2
    elif case == "wide":
        N, D, M = 5, 3, 11
    N, D, M = int(N), int(D), int(M)
    if N < 2:
        raise ValueError(f"linear: expected a batch of at least 2 rows, got N={N}")
    scale = 1e3 if case == "large_values" else 1.0
    return {"x": rng.standard_normal((N, D)) * scale, "W": rng.standard_normal((D, M)),
            "b": rng.standard_normal(M) + 0.5, "dout": rng.standard_normal((N, M))}


def _linear_forward_call(impl, inputs):
    out = impl(inputs["x"], inputs["W"], inputs["b"])
    if not isinstance(out, tuple) or len(out) != 2:
        raise ValueError("linear_forward must return a pair (out, cache)")
    return out[0]


def _linear_backward_call(impl, inputs):
    _, cache = layers.linear_forward(inputs["x"], inputs["W"], inputs["b"])
    return impl(inputs["dout"], cache)


def _lf_no_bias(x, W, b):
    return x @ W, (x, W, b)


def _lf_bias_as_threshold(x, W, b):
    return x @ W - b, (x, W, b)


def _lb_dW_transposed(dout, cache):
    x, W, _ = cache
    return dout @ W.T, dout.T @ x, dout.sum(axis=0)


def _lb_db_not_summed(dout, cache):
    x, W, _ = cache
    return dout @ W.T, x.T @ dout, dout.copy()


def _lb_divided_by_N(dout, cache):
    x, W, _ = cache
    n = x.shape[0]
    return dout @ W.T / n, x.T @ dout / n, dout.sum(axis=0) / n


def _lb_params_divided_by_N(dout, cache):
    x, W, _ = cache
    n = x.shape[0]
    return dout @ W.T, x.T @ dout / n, dout.sum(axis=0) / n      # dx left as it is


def _lb_db_kept_2d(dout, cache):
    x, W, _ = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0, keepdims=True)   # shape (1, M), not (M,)


# ------------------------------------------------------------------------------- activations
ACT_CASES = ("batch_of_two", "saturated", "mostly_negative", "three_d")


def _act_inputs(rng, case=None, N=3, D=5):
    """z (N, D) (or (2, 3, 4) for case "three_d") and an upstream gradient dout of its shape.

    Every case has entries of both signs, none exactly 0, 1 or −1, and dout has both signs.
    """
    _unknown("activation", case, ACT_CASES)
    shape = (int(N), int(D))
    if case == "batch_of_two":
        shape = (2, int(D))
    elif case == "three_d":
        shape = (2, 3, 4)
    z = rng.standard_normal(shape) * 2.0
    if case == "saturated":
        z = rng.standard_normal(shape) * 15.0
    elif case == "mostly_negative":
        z = z - 3.0
    z.flat[0], z.flat[1] = -abs(z.flat[0]) - 0.1, abs(z.flat[1]) + 0.3   # both signs, always
    z[np.abs(np.abs(z) - 1.0) < 1e-3] += 0.01
    dout = rng.standard_normal(shape) + 0.2
    dout.flat[0], dout.flat[2] = abs(dout.flat[0]) + 0.1, -abs(dout.flat[2]) - 0.1   # both signs, always
    return {"z": z, "dout": dout}


def _backward_call(forward):
    def call(impl, inputs):
        _, cache = forward(inputs["z"])
        return impl(inputs["dout"], cache)
    return call


def _sigmoid(a):
    return layers.sigmoid_forward(a)[0]


def _relu_identity(dout, cache):
    return dout.copy()


def _relu_uses_output(dout, cache):
    return dout * np.maximum(cache, 0.0)


def _relu_on_gradient(dout, cache):
    return np.maximum(dout, 0.0)


def _sig_applied_twice(dout, cache):
    s = _sigmoid(cache)          # the cache already is σ(z)
    return dout * s * (1.0 - s)


def _sig_tanh_formula(dout, cache):
    return dout * (1.0 - cache**2)


def _sig_forgot_upstream(dout, cache):
    return cache * (1.0 - cache)


def _tanh_not_squared(dout, cache):
    return dout * (1.0 - cache)


def _tanh_applied_twice(dout, cache):
    t = np.tanh(cache)           # the cache already is tanh(z)
    return dout * (1.0 - t**2)


def _tanh_sigmoid_formula(dout, cache):
    return dout * cache * (1.0 - cache)


# ------------------------------------------------------------------------------- numerical gradient
NUMGRAD_CASES = ("vector", "large_h", "one_element")


def _numgrad_inputs(rng, case=None, N=2, D=3, M=2):
    """The point x (N, D) of f(x) = Σ ½(tanh(x W) − t)², a small network's L2 loss, with
    W (D, M), t (N, M); and the step h. x is float64."""
    _unknown("numerical_gradient", case, NUMGRAD_CASES)
    N, D, M = int(N), int(D), int(M)
    shape = (N, D)
    if case == "vector":
        shape = (D,)
    elif case == "one_element":
        shape = (1, 1)
    D = shape[-1]
    return {"x": rng.standard_normal(shape), "W": rng.standard_normal((D, M)),
            "t": rng.uniform(-0.5, 0.5, size=shape[:-1] + (M,)),
            "h": 1e-3 if case == "large_h" else 1e-5}


def _numgrad_f(W, t):
    def f(x):
        return 0.5 * float(np.sum((np.tanh(x @ W) - t) ** 2))
    return f


def _numgrad_call(impl, inputs):
    """Returns (gradient, x after the call): x must be left exactly as it was."""
    x = inputs["x"]
    grad = impl(_numgrad_f(inputs["W"], inputs["t"]), x, inputs["h"])
    return grad, x.copy()


def _ng_one_sided(f, x, h=1e-5):
    grad = np.zeros_like(x)
    fx = f(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        grad[idx] = (f(x) - fx) / h
        x[idx] = old
    return grad


def _ng_forgot_restore(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        x[idx] += h
        f_plus = f(x)
        x[idx] -= 2 * h
        f_minus = f(x)
        grad[idx] = (f_plus - f_minus) / (2 * h)     # x[idx] is left at old − h
    return grad


def _ng_not_halved(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = f(x)
        x[idx] = old - h
        f_minus = f(x)
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / h
    return grad


# ------------------------------------------------------------------------------- registry
# Diagnostic shapes: N, D, M pairwise different and none 1, so a transposed product, a sum
# left out or a division by the batch size shows in the shapes or the numbers.
_LIN_DIAG = ({"seed": 104729, "N": 7, "D": 3, "M": 5},)
_ACT_DIAG = ({"seed": 104729, "N": 7, "D": 5},)
EXERCISES = [
    Exercise("linear_forward", layers.linear_forward, _linear_inputs, _linear_forward_call, output_name="out",
             diagnostic_cases=_LIN_DIAG),
    Exercise("linear_backward", layers.linear_backward, _linear_inputs, _linear_backward_call,
             output_name="(dx, dW, db)", diagnostic_cases=_LIN_DIAG),
    Exercise("relu_backward", layers.relu_backward, _act_inputs, _backward_call(layers.relu_forward),
             output_name="dz", diagnostic_cases=_ACT_DIAG),
    Exercise("sigmoid_backward", layers.sigmoid_backward, _act_inputs, _backward_call(layers.sigmoid_forward),
             output_name="dz", diagnostic_cases=_ACT_DIAG),
    Exercise("tanh_backward", layers.tanh_backward, _act_inputs, _backward_call(layers.tanh_forward),
             output_name="dz", diagnostic_cases=_ACT_DIAG),
    Exercise("numerical_gradient", _ref_numerical_gradient, _numgrad_inputs, _numgrad_call,
             mutates=True, output_name="(gradient, x after the call)"),
]

_M = Misconception
MISCONCEPTIONS = [
    _M("linear_forward", "linear-missing-bias", "you left out the bias: out = x·W",
       "out = x @ W + b, with b broadcast over the N rows — see 'A single unit'", _lf_no_bias),
    _M("linear_forward", "linear-bias-as-threshold", "you subtracted the bias (out = x·W − b), as for a threshold",
       "the bias is added: out = x @ W + b — a threshold T is the bias b = −T", _lf_bias_as_threshold),

    _M("linear_backward", "linear-dW-transposed", "dW = doutᵀ·x has shape (M, D): the product is in the wrong order",
       "dW = xᵀ @ dout, shape (D, M) like W: each weight W[i, j] collects x[n, i]·dout[n, j] over the batch",
       _lb_dW_transposed),
    _M("linear_backward", "linear-db-not-summed", "db is dout itself: the bias gradient was not summed over the batch",
       "b is shared by all N rows, so db = dout.sum(axis=0), shape (M,)", _lb_db_not_summed),
    _M("linear_backward", "linear-grads-divided-by-N", "you divided dx, dW and db by the batch size N",
       "the 1/N of the minibatch mean already sits in dout (the loss gradient); the layer only applies the chain rule",
       _lb_divided_by_N),
    _M("linear_backward", "linear-param-grads-divided-by-N", "you divided dW and db by the batch size N (dx is right)",
       "dout = dL/dout already carries the 1/N of the minibatch mean: dW = xᵀ @ dout and db = dout.sum(axis=0) "
       "sum over the batch without another 1/N", _lb_params_divided_by_N),
    _M("linear_backward", "linear-db-kept-2d", "db has shape (1, M): the sum over the batch kept its axis",
       "a gradient has the shape of its parameter: b is (M,), so db = dout.sum(axis=0) without keepdims=True",
       _lb_db_kept_2d),

    _M("relu_backward", "relu-passes-negative-gradient", "the gradient also flows where z < 0",
       "ReLU's derivative is 0 for z < 0: dz = dout * (z > 0) — a unit that is off passes no gradient",
       _relu_identity),
    _M("relu_backward", "relu-multiplied-by-output", "you multiplied dout by the ReLU output max(0, z) instead of its slope",
       "the derivative of max(0, z) is the step [z > 0] (0 or 1), not the activation value", _relu_uses_output),
    _M("relu_backward", "relu-applied-to-gradient", "you applied ReLU to the upstream gradient: max(0, dout)",
       "the mask comes from the forward input z (the cache), not from the sign of dout: dz = dout * (z > 0)",
       _relu_on_gradient),

    _M("sigmoid_backward", "sigmoid-applied-twice", "you applied σ to the cache again: the cache already holds σ(z)",
       "sigmoid_forward caches out = σ(z); the derivative is out * (1 − out), without another σ", _sig_applied_twice),
    _M("sigmoid_backward", "sigmoid-tanh-derivative", "you used tanh's derivative 1 − y² for the sigmoid",
       "σ'(z) = σ(z)(1 − σ(z)): dz = dout * out * (1 − out)", _sig_tanh_formula),
    _M("sigmoid_backward", "sigmoid-forgot-upstream", "you returned σ'(z) without multiplying by the upstream gradient",
       "chain rule: dz = dout * σ'(z)", _sig_forgot_upstream),

    _M("tanh_backward", "tanh-derivative-not-squared", "you used 1 − tanh(z) instead of 1 − tanh(z)²",
       "d tanh(z)/dz = 1 − tanh(z)²: dz = dout * (1 − out**2)", _tanh_not_squared),
    _M("tanh_backward", "tanh-applied-twice", "you applied tanh to the cache again: the cache already holds tanh(z)",
       "tanh_forward caches out = tanh(z); the derivative is 1 − out**2 without another tanh", _tanh_applied_twice),
    _M("tanh_backward", "tanh-sigmoid-derivative", "you used the sigmoid's derivative y(1 − y) for tanh",
       "d tanh(z)/dz = 1 − tanh(z)², not tanh(z)(1 − tanh(z))", _tanh_sigmoid_formula),

    _M("numerical_gradient", "numgrad-one-sided", "you used a one-sided difference (f(x + h) − f(x))/h",
       "use the central difference (f(x + h·e_i) − f(x − h·e_i)) / (2h): its error is O(h²), not O(h)",
       _ng_one_sided),
    _M("numerical_gradient", "numgrad-forgot-restore", "x[i] was not restored after perturbing it",
       "save old = x[i], evaluate at old + h and old − h, then set x[i] = old before the next coordinate",
       _ng_forgot_restore),
    _M("numerical_gradient", "numgrad-not-halved", "you divided the central difference by h instead of 2h",
       "the two points x + h and x − h are 2h apart: divide by 2h", _ng_not_halved),
]
