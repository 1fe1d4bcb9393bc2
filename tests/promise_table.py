"""Every promise of every exercise's docstring in tnn_lib, one checkable statement each
(issue 26: "write down, per exercise, what its docstring promises and give each promise a test
case").

``PROMISES[exercise]`` is a list of :class:`Promise`: the statement, as the docstring (or its
module's docstring) makes it, and a test that takes the implementation and fails when it breaks
the statement. tests/test_promises.py runs each against the tnn_lib reference and, unless the
promise is ``ref_only`` (the notebook's own docstring words it differently, e.g. Adam's step
count ``step`` in tnn_lib and ``t`` in 05), against the solution notebook's answer too.

The truth each test compares with is independent of the code under test: exact values on
inputs whose arithmetic is exact (small integers, dyadic fractions), central differences of
the forward with a random upstream gradient, the formulas written out again here in plain
numpy, identities that hold exactly (a returned object *is* the argument), and the docstrings'
own examples. No comparison is a relative error of an exactly-zero quantity: zeros are
compared exactly, or with an absolute tolerance scaled by the inputs.

``VIOLATIONS`` names the promises a student's answer can break without changing its return
values on fresh inputs (an argument modified, a result not in place, a cache entry swapped):
for each, a wrapper that breaks it, which the exercise's own test cells (visible and hidden)
must reject (tests/test_promises.py, through tests/mutation_tools.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Promise:
    text: str
    test: Callable
    # True: the notebook's docstring does not make this promise in these words (reference only);
    # "solution": the notebook's docstring makes it and tnn_lib's does not (solution only)
    ref_only: bool | str = False


def R(seed=0):
    return np.random.default_rng(seed)


def num_grad(f, x, h=1e-6):
    """Central differences of scalar f at x (x copied; independent of tnn_lib.gradcheck)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f(x.copy())
        x[i] = old - h
        fm = f(x.copy())
        x[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g


def close(a, b, tol=1e-6):
    """|a − b| <= tol·max(|b|) entrywise: a tolerance scaled by the truth's size, never a
    relative error of single (possibly zero) entries."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-300)
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert err <= tol * scale, f"max |a − b| = {err:.3g} > {tol:g}·{scale:.3g}"


def unchanged(*arrays):
    """Copies of arrays, and a check that they are bitwise unchanged afterwards."""
    saved = [np.array(a, copy=True) for a in arrays]

    def check():
        for i, (a, s) in enumerate(zip(arrays, saved)):
            assert np.array_equal(a, s, equal_nan=True), f"argument {i} was modified"
    return check


def raises(exc, fn, *a, **k):
    try:
        fn(*a, **k)
    except exc:
        return
    raise AssertionError(f"expected {exc.__name__}")


def ints(rng, shape, lo=-4, hi=5):
    """Small integers as floats: sums and products of them are exact in any order."""
    return rng.integers(lo, hi, size=shape).astype(np.float64)


# ============================================================================ 00_backprop
def _lin_in(seed=0, N=4, D=3, M=5):
    r = R(seed)
    return ints(r, (N, D)), ints(r, (D, M)), ints(r, (M,))


def lf_values(fn):
    x, W, b = _lin_in()
    out, _ = fn(x, W, b)
    truth = np.array([[sum(x[n, d] * W[d, m] for d in range(3)) + b[m] for m in range(5)] for n in range(4)])
    assert np.array_equal(out, truth)
    assert out.shape == (4, 5)


def lf_cache(fn):
    x, W, b = _lin_in()
    _, cache = fn(x, W, b)
    assert isinstance(cache, tuple) and len(cache) == 3
    for got, want in zip(cache, (x, W, b)):
        assert np.array_equal(got, want)


def lf_unmodified(fn):
    x, W, b = _lin_in()
    ok = unchanged(x, W, b)
    fn(x, W, b)
    ok()


def _lin_cache(seed=1):
    r = R(seed)
    x, W, b = r.standard_normal((4, 3)), r.standard_normal((3, 5)), r.standard_normal(5)
    return (x, W, b), r.standard_normal((4, 5))


def lb_gradients(fn):
    (x, W, b), dout = _lin_cache()
    dx, dW, db = fn(dout, (x, W, b))
    L = lambda x_, W_, b_: np.sum(dout * (x_ @ W_ + b_))
    close(dx, num_grad(lambda v: L(v, W, b), x))
    close(dW, num_grad(lambda v: L(x, v, b), W))
    close(db, num_grad(lambda v: L(x, W, v), b))


def lb_shapes(fn):
    (x, W, b), dout = _lin_cache()
    dx, dW, db = fn(dout, (x, W, b))
    assert (dx.shape, dW.shape, db.shape) == ((4, 3), (3, 5), (5,))


def lb_unmodified(fn):
    (x, W, b), dout = _lin_cache()
    ok = unchanged(dout, x, W, b)
    fn(dout, (x, W, b))
    ok()


def relu_kink(fn):
    z = np.array([[-1.0, 0.0, 2.0], [0.0, 3.0, -0.0]])
    dout = np.array([[5.0, 7.0, 11.0], [13.0, 17.0, 19.0]])
    dz = fn(dout, z)
    assert np.array_equal(dz, np.array([[0.0, 0.0, 11.0], [0.0, 17.0, 0.0]]))


def relu_shape_any(fn):
    r = R(2)
    z, dout = r.standard_normal((2, 3, 4)), r.standard_normal((2, 3, 4))
    dz = fn(dout, z)
    assert dz.shape == z.shape
    assert np.array_equal(dz, np.where(z > 0, dout, 0.0))


def relu_unmodified(fn):
    r = R(3)
    z, dout = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    ok = unchanged(z, dout)
    fn(dout, z)
    ok()


def _act_backward(fn, f, seed):
    r = R(seed)
    z, dout = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    dz = fn(dout, f(z))
    close(dz, num_grad(lambda v: np.sum(dout * f(v)), z))
    assert dz.shape == z.shape


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def sig_grad(fn):
    _act_backward(fn, _sig, 4)


def sig_cache_is_output(fn):
    out = np.array([0.5, 0.25, 0.75])   # cache = σ(z), not z: dz = dout·out·(1 − out)
    assert np.array_equal(fn(np.ones(3), out), np.array([0.25, 0.1875, 0.1875]))


def tanh_grad(fn):
    _act_backward(fn, np.tanh, 5)


def tanh_cache_is_output(fn):
    out = np.array([0.5, -0.5, 0.0])    # dz = dout·(1 − out²)
    assert np.array_equal(fn(np.full(3, 2.0), out), np.array([1.5, 1.5, 2.0]))


def act_unmodified(fn):
    r = R(6)
    out, dout = np.tanh(r.standard_normal((3, 4))), r.standard_normal((3, 4))
    ok = unchanged(out, dout)
    fn(dout, out)
    ok()


def ng_accuracy(fn):
    # f = Σ x³: the central difference is exactly 3x² + h² (plus round-off ~ eps·|x³|/h)
    x = np.linspace(0.1, 0.6, 40)
    err = fn(lambda v: np.sum(v**3), x.copy()) - 3 * x**2
    assert abs(float(np.mean(err)) - 1e-10) < 2e-11, "the default step h is 1e-5 (error h² = 1e-10)"
    err = fn(lambda v: np.sum(v**3), x.copy(), h=1e-3) - 3 * x**2
    assert abs(float(np.mean(err)) - 1e-6) < 1e-9, "h is the step"


def ng_any_shape(fn):
    r = R(7)
    x = r.standard_normal((2, 3, 2))
    a = r.standard_normal((2, 3, 2))
    g = fn(lambda v: float(np.sum(a * v)), x)
    assert g.shape == x.shape
    close(g, a, 1e-8)


def ng_restored(fn):
    r = R(8)
    x = r.standard_normal((3, 4)) * 1e3 + 0.1    # values that x + h − h does not give back exactly
    saved = x.copy()
    fn(lambda v: float(np.sum(np.sin(v))), x)
    assert np.array_equal(x, saved), "x is restored exactly"


def ng_restored_on_raise(fn):
    x = np.array([0.1, 0.7, 1.3]) * 1e3
    saved = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return float(np.sum(v))
    try:
        fn(f, x)
    except RuntimeError:
        pass
    else:
        raise AssertionError("f's exception propagates")
    assert np.array_equal(x, saved), "x is restored also when f raises"


def ng_closure(fn):
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    g = fn(lambda _ignored: float(np.sum(x**2)), x)    # f reads x, not its argument
    close(g, 2 * x, 1e-8)


def ng_evaluations(fn):
    x = np.zeros((3, 2))
    calls = []
    fn(lambda v: calls.append(1) or 0.0, x)
    assert len(calls) == 2 * x.size


# ============================================================================ 01_divergences
def l2_value(fn):
    y = np.array([[0.5, 1.0], [2.0, -1.0], [0.0, 0.25]])
    d = np.array([[0.0, 1.0], [1.0, 1.0], [0.5, 0.25]])
    v = fn(y, d)
    assert isinstance(v, (float, np.floating)) and np.ndim(v) == 0
    assert float(v) == (0.5 * (0.25 + 0) + 0.5 * (1 + 4) + 0.5 * (0.25 + 0)) / 3


def l2g_value(fn):
    y = np.array([[0.5, 1.0], [2.0, -1.0]])
    d = np.array([[0.0, 1.0], [1.0, 1.0]])
    g = fn(y, d)
    assert np.array_equal(g, (y - d) / 2) and g.shape == (2, 2)


def l2g_is_gradient(fn):
    r = R(9)
    y, d = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    close(fn(y, d), num_grad(lambda v: 0.5 * np.sum((v - d) ** 2) / 3, y))


def _kl_truth(y, d):
    N = y.shape[0]
    return sum(d[n, i] * math.log(d[n, i] / y[n, i]) for n in range(N) for i in range(y.shape[1]) if d[n, i] > 0) / N


def kl_value(fn):
    r = R(10)
    y = r.dirichlet(np.ones(4), size=3)
    d = r.dirichlet(np.ones(4), size=3)
    v = fn(y, d)
    assert np.ndim(v) == 0
    assert abs(float(v) - _kl_truth(y, d)) <= 1e-12


def kl_zero_log_zero(fn):
    y = np.array([[0.5, 0.5, 0.0], [0.25, 0.25, 0.5]])
    d = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    v = fn(y, d)
    assert math.isfinite(v) and abs(v - (math.log(2) + 0.5 * math.log(2)) / 2) <= 1e-15


def kl_inf(fn):
    with np.errstate(all="ignore"):
        assert fn(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]])) == math.inf


def kl_one_hot_is_ce(fn):
    y = np.array([[0.25, 0.75], [0.5, 0.5], [0.125, 0.875]])
    d = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    assert abs(fn(y, d) - (-(math.log(0.75) + math.log(0.5) + math.log(0.125)) / 3)) <= 1e-15


def klg_value(fn):
    y = np.array([[0.25, 0.5, 0.25], [0.5, 0.0, 0.5]])
    d = np.array([[0.5, 0.0, 0.5], [0.5, 0.0, 0.5]])
    with np.errstate(all="raise"):      # an exact 0 where d = 0, computed without 0/0
        try:
            g = fn(y, d)
        except FloatingPointError:
            with np.errstate(all="ignore"):
                g = fn(y, d)
    assert np.array_equal(g, np.array([[-1.0, 0.0, -1.0], [-0.5, 0.0, -0.5]])), g
    assert g.shape == (2, 3)


def klg_is_gradient(fn):
    r = R(11)
    y, d = r.dirichlet(np.ones(4), size=3), r.dirichlet(np.ones(4), size=3)
    close(fn(y, d), num_grad(lambda v: _kl_truth(v, d), y, h=1e-7), 1e-5)


def sm_rows(fn):
    r = R(12)
    z = r.standard_normal((4, 5)) * 3
    s = fn(z)
    truth = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    close(s, truth, 1e-12)
    assert s.shape == z.shape


def sm_vector(fn):
    z = np.array([0.0, math.log(3.0)])
    s = fn(z)
    assert s.shape == (2,)
    close(s, np.array([0.25, 0.75]), 1e-15)


def sm_stable(fn):
    with np.errstate(over="raise", invalid="raise"):
        s = fn(np.array([[1000.0, 1000.0], [-1000.0, -1000.0 + math.log(3.0)], [1000.0, -1000.0]]))
    assert np.array_equal(s[0], [0.5, 0.5])
    close(s[1], np.array([0.25, 0.75]), 1e-12)
    assert s[2, 0] == 1.0 and s[2, 1] < 1e-300


def skl_value(fn):
    r = R(13)
    z, d = r.standard_normal((3, 4)), r.dirichlet(np.ones(4), size=3)
    loss, dz = fn(z, d)
    y = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert abs(loss - _kl_truth(y, d)) <= 1e-12 * 3
    close(dz, (y - d) / 3, 1e-12)
    assert dz.shape == (3, 4)


def skl_is_gradient(fn):
    r = R(14)
    z, d = r.standard_normal((3, 4)), r.dirichlet(np.ones(4), size=3)
    _, dz = fn(z, d)
    close(dz, num_grad(lambda v: fn(v, d)[0], z), 1e-6)


def skl_extreme(fn):
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]])
    d = np.array([[0.0, 1.0, 0.0], [0.0, 0.5, 0.5]])
    with np.errstate(all="ignore"):
        loss, dz = fn(z, d)
    # row 0: −log softmax(z)_1 = 2000 (exactly, to double precision); row 1: KL = 0
    assert abs(loss - 1000.0) <= 1e-9 and np.all(np.isfinite(dz))
    close(dz, np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]]) / 2, 1e-12)


def bce_value(fn):
    r = R(15)
    z, d = r.standard_normal((3, 2)) * 2, r.random((3, 2))
    loss, dz = fn(z, d)
    s = _sig(z)
    assert abs(loss - float(np.mean(-d * np.log(s) - (1 - d) * np.log(1 - s)))) <= 1e-12
    close(dz, (s - d) / z.size, 1e-12)


def bce_is_gradient(fn):
    r = R(16)
    z, d = r.standard_normal((2, 3)), r.random((2, 3))
    close(fn(z, d)[1], num_grad(lambda v: fn(v, d)[0], z), 1e-6)


def bce_extreme(fn):
    z = np.array([[1000.0, -1000.0, 1000.0, -1000.0]])
    d = np.array([[1.0, 1.0, 0.0, 0.0]])
    with np.errstate(all="ignore"):
        loss, dz = fn(z, d)
    assert loss == (0.0 + 1000.0 + 1000.0 + 0.0) / 4
    assert np.array_equal(dz, np.array([[0.0, -1.0, 1.0, 0.0]]) / 4)


def div_unmodified(fn, pair=True):
    r = R(17)
    a, b = r.random((3, 4)) + 0.1, r.dirichlet(np.ones(4), size=3)
    ok = unchanged(a, b)
    fn(a, b) if pair else fn(a)
    ok()


# ============================================================================ 02_batchnorm
def _bn_in(seed=20, N=6, D=3):
    r = R(seed)
    return r.standard_normal((N, D)) * 2 + 1, r.standard_normal(D), r.standard_normal(D)


def bnf_values(fn):
    z, g, b = _bn_in()
    out, cache = fn(z, g, b, eps=1e-3)
    mu, var = z.mean(0), ((z - z.mean(0)) ** 2).mean(0)
    close(out, g * (z - mu) / np.sqrt(var + 1e-3) + b, 1e-12)
    assert out.shape == z.shape


def bnf_cache(fn):
    z, g, b = _bn_in()
    _, cache = fn(z, g, b, eps=1e-3)
    assert isinstance(cache, tuple) and len(cache) == 6
    cz, zh, mu, var, cg, ceps = cache
    truth_var = ((z - z.mean(0)) ** 2).mean(0)         # biased: /N, not /(N−1); σ², not σ or √(σ²+ε)
    assert np.array_equal(cz, z) and np.array_equal(cg, g) and ceps == 1e-3
    assert mu.shape == var.shape == (3,) and zh.shape == z.shape
    close(mu, z.mean(0), 1e-12)
    close(var, truth_var, 1e-12)
    close(zh, (z - z.mean(0)) / np.sqrt(truth_var + 1e-3), 1e-12)


def bnf_default_eps(fn):
    z, g, b = _bn_in()
    assert fn(z, g, b)[1][5] == 1e-5


def bnf_unmodified(fn):
    z, g, b = _bn_in()
    ok = unchanged(z, g, b)
    fn(z, g, b)
    ok()


def bnf_rows(fn):
    z, g, b = _bn_in(N=2)
    fn(z, g, b)                   # N = 2 is enough
    raises(ValueError, fn, z[:1], g, b)


def _bn_cache(fn_forward, seed=21):
    z, g, b = _bn_in(seed, N=5, D=3)
    return z, g, b, R(seed + 1).standard_normal((5, 3))


def bnb_gradients(fn):
    from tnn_lib.batchnorm import batchnorm_forward
    z, g, b, dout = _bn_cache(batchnorm_forward)
    _, cache = batchnorm_forward(z, g, b, eps=1e-2)
    dz, dg, db = fn(dout, cache)
    L = lambda z_, g_, b_: np.sum(dout * batchnorm_forward(z_, g_, b_, eps=1e-2)[0])
    close(dz, num_grad(lambda v: L(v, g, b), z), 1e-6)
    close(dg, num_grad(lambda v: L(z, v, b), g), 1e-6)
    close(db, num_grad(lambda v: L(z, g, v), b), 1e-6)
    assert (dz.shape, dg.shape, db.shape) == ((5, 3), (3,), (3,))


def bnb_columns_sum_zero(fn):
    from tnn_lib.batchnorm import batchnorm_forward
    z, g, b, dout = _bn_cache(batchnorm_forward, 23)
    _, cache = batchnorm_forward(z, g, b)
    dz = fn(dout, cache)[0]
    scale = np.abs(dz).max(0) * dz.shape[0]
    assert np.all(np.abs(dz.sum(0)) <= 1e-12 * scale)


def bnb_dgamma_dbeta(fn):
    from tnn_lib.batchnorm import batchnorm_forward
    z, g, b, dout = _bn_cache(batchnorm_forward, 25)
    _, cache = batchnorm_forward(z, g, b)
    _, dg, db = fn(dout, cache)
    close(dg, (dout * cache[1]).sum(0), 1e-12)
    close(db, dout.sum(0), 1e-12)


def bnb_unmodified(fn):
    from tnn_lib.batchnorm import batchnorm_forward
    z, g, b, dout = _bn_cache(batchnorm_forward, 27)
    cache = batchnorm_forward(z, g, b)[1]
    ok = unchanged(dout, *cache[:5])
    fn(dout, cache)
    ok()


def _u(z, eps):
    return (z - z.mean()) / np.sqrt(z.var() + eps)


def bnj_values(fn):
    z = R(30).standard_normal(5)
    J = fn(z, eps=1e-2)
    num = np.stack([num_grad(lambda v: _u(v, 1e-2)[j], z) for j in range(5)])
    assert J.shape == (5, 5)
    close(J, num, 1e-6)


def bnj_symmetric_sums(fn):
    z = R(31).standard_normal(6) * 3
    J = fn(z)
    s = np.abs(J).max()
    assert np.all(np.abs(J - J.T) <= 1e-13 * s)
    assert np.all(np.abs(J.sum(0)) <= 1e-12 * s * 6) and np.all(np.abs(J.sum(1)) <= 1e-12 * s * 6)


def bnj_default_eps_and_B(fn):
    z = np.array([-1.0, 1.0])   # σ² = 1, s = √(1 + 1e-5): J = [[1, −1], [−1, 1]]·(1/(2s) − 1/(2s³))... exactly:
    s = math.sqrt(1 + 1e-5)
    truth = np.array([[1 / s - 1 / (2 * s) - 1 / (2 * s**3), -1 / (2 * s) + 1 / (2 * s**3)],
                      [-1 / (2 * s) + 1 / (2 * s**3), 1 / s - 1 / (2 * s) - 1 / (2 * s**3)]])
    close(fn(z), truth, 1e-9)


def bnj_one_row(fn):
    raises(ValueError, fn, np.array([1.0]))


def ps_values(fn):
    m = np.array([1.0, 2.0, 4.0, 5.0])
    v = np.array([2.0, 4.0, 4.0, 2.0])
    mean, var = fn(m, v, 4)
    assert float(mean) == 3.0 and float(var) == 3.0 * 4 / 3
    assert np.ndim(mean) == 0


def ps_matrix(fn):
    m = np.array([[1.0, 0.0], [3.0, 2.0]])
    v = np.array([[1.0, 2.0], [3.0, 4.0]])
    mean, var = fn(m, v, 2)
    assert mean.shape == var.shape == (2,)
    assert np.array_equal(mean, [2.0, 1.0]) and np.array_equal(var, [4.0, 6.0])


def ps_batch_size(fn):
    raises(ValueError, fn, np.ones(3), np.ones(3), 1)


def lnf_values(fn):
    r = R(32)
    x, g, b = r.standard_normal((4, 5)) * 2 + 1, r.standard_normal(5), r.standard_normal(5)
    out, cache = fn(x, g, b, eps=1e-3)
    mu = x.mean(1, keepdims=True)
    var = ((x - mu) ** 2).mean(1, keepdims=True)
    close(out, g * (x - mu) / np.sqrt(var + 1e-3) + b, 1e-12)
    cx, xh, cmu, cvar, cg, ceps = cache
    assert cmu.shape == cvar.shape == (4, 1) and ceps == 1e-3
    close(cvar, var, 1e-12)
    close(xh, (x - mu) / np.sqrt(var + 1e-3), 1e-12)


def lnf_batch_of_one(fn):
    x = np.array([[1.0, 3.0]])
    out, _ = fn(x, np.ones(2), np.zeros(2))
    close(out, np.array([[-1.0, 1.0]]) / math.sqrt(1 + 1e-5), 1e-12)


def lnb_gradients(fn):
    from tnn_lib.batchnorm import layernorm_forward
    r = R(33)
    x, g, b, dout = r.standard_normal((3, 4)), r.standard_normal(4), r.standard_normal(4), r.standard_normal((3, 4))
    _, cache = layernorm_forward(x, g, b, eps=1e-2)
    dx, dg, db = fn(dout, cache)
    L = lambda x_, g_, b_: np.sum(dout * layernorm_forward(x_, g_, b_, eps=1e-2)[0])
    close(dx, num_grad(lambda v: L(v, g, b), x), 1e-6)
    close(dg, num_grad(lambda v: L(x, v, b), g), 1e-6)
    close(db, num_grad(lambda v: L(x, g, v), b), 1e-6)
    assert (dx.shape, dg.shape, db.shape) == ((3, 4), (4,), (4,))


def lnb_unmodified(fn):
    from tnn_lib.batchnorm import layernorm_forward
    r = R(34)
    x, dout = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    cache = layernorm_forward(x, np.ones(4), np.zeros(4))[1]
    ok = unchanged(dout, *cache[:5])
    fn(dout, cache)
    ok()



def wnb_gradients(fn):
    from tnn_lib.batchnorm import weightnorm_forward
    r = R(35)
    v, g, dw = r.standard_normal((4, 3)), r.standard_normal(3), r.standard_normal((4, 3))
    _, cache = weightnorm_forward(v, g)
    dv, dg = fn(dw, cache)
    L = lambda v_, g_: np.sum(dw * weightnorm_forward(v_, g_)[0])
    close(dv, num_grad(lambda a: L(a, g), v), 1e-6)
    close(dg, num_grad(lambda a: L(v, a), g), 1e-6)
    assert (dv.shape, dg.shape) == ((4, 3), (3,))


def wnb_orthogonal(fn):
    # v = columns (3, 4, 0), (0, 0, 2) of norms 5 and 2, g = (2, -1): the formula worked by hand,
    # dg = dw·v/‖v‖ = (11/5, 4), dv = g/‖v‖ (dw − dg v/‖v‖), orthogonal to v
    v = np.array([[3.0, 0.0], [4.0, 0.0], [0.0, 2.0]])
    g, dw = np.array([2.0, -1.0]), np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 4.0]])
    dv, dg = fn(dw, (v, g, np.array([5.0, 2.0])))
    close(dg, np.array([11.0 / 5.0, 4.0]), 1e-12)
    close(dv, np.array([[2 / 5 * (1 - 33 / 25), -1 / 2 * 1.0],
                        [2 / 5 * (2 - 44 / 25), 0.0],
                        [0.0, -1 / 2 * (4 - 4.0)]]), 1e-12)
    assert np.all(np.abs((v * dv).sum(axis=0)) < 1e-12)


def wnb_unmodified(fn):
    from tnn_lib.batchnorm import weightnorm_forward
    r = R(36)
    v, dw = r.standard_normal((3, 2)), r.standard_normal((3, 2))
    cache = weightnorm_forward(v, np.array([1.5, -0.5]))[1]
    ok = unchanged(dw, *cache)
    fn(dw, cache)
    ok()

# ============================================================================ 03_dropout
def dof_mask_from_rng(fn):
    x = R(40).standard_normal((5, 6))
    out, cache = fn(x, 0.7, rng=R(41))
    m = (R(41).random(x.shape) < 0.7)
    assert np.array_equal(out, x * m / 0.7)
    assert cache[0].dtype == np.float64 and np.array_equal(cache[0], m.astype(float))
    assert cache[1:] == (0.7, True, True)


def dof_mask_precedence(fn):
    x = R(42).standard_normal((3, 4))
    m = R(43).random((3, 4)) < 0.5
    out, cache = fn(x, 0.5, rng=R(44), mask=m)          # the mask wins over rng, bool accepted
    assert np.array_equal(out, x * m / 0.5)
    assert cache[0].dtype == np.float64
    out2, _ = fn(x, 0.5, mask=m.astype(float), inverted=False)
    assert np.array_equal(out2, x * m)


def dof_test_mode(fn):
    x = R(45).standard_normal((3, 4))
    out, cache = fn(x, 0.8, train=False)                 # neither rng nor mask needed
    assert np.array_equal(out, x) and cache[0] is None and cache[1:] == (0.8, False, True)
    out, cache = fn(x, 0.8, train=False, inverted=False)
    assert np.array_equal(out, x * 0.8) and cache[0] is None


def dof_any_shape(fn):
    x = R(46).standard_normal((2, 3, 4))
    out, cache = fn(x, 0.5, rng=R(47))
    assert out.shape == x.shape and cache[0].shape == x.shape


def dof_unmodified(fn):
    x = R(48).standard_normal((3, 4))
    m = (R(49).random((3, 4)) < 0.5).astype(float)
    ok = unchanged(x, m)
    fn(x, 0.5, mask=m)
    ok()


def dof_keep_prob_range(fn):
    x = np.ones((2, 2))
    raises(ValueError, fn, x, 0.0, rng=R(0))
    raises(ValueError, fn, x, 1.5, rng=R(0))
    out, _ = fn(x, 1.0, rng=R(0))
    assert np.array_equal(out, x)


def dob_four_cases(fn):
    r = R(50)
    dout = r.standard_normal((3, 4))
    m = (r.random((3, 4)) < 0.6).astype(float)
    assert np.array_equal(fn(dout, (m, 0.6, True, True)), dout * m / 0.6)
    assert np.array_equal(fn(dout, (m, 0.6, True, False)), dout * m)
    assert np.array_equal(fn(dout, (None, 0.6, False, True)), dout)
    assert np.array_equal(fn(dout, (None, 0.6, False, False)), dout * 0.6)


def dob_is_gradient(fn):
    from tnn_lib.dropout import dropout_forward
    r = R(51)
    x, dout = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    m = (r.random((3, 4)) < 0.5).astype(float)
    _, cache = dropout_forward(x, 0.5, mask=m)
    close(fn(dout, cache), num_grad(lambda v: np.sum(dout * dropout_forward(v, 0.5, mask=m)[0]), x), 1e-8)


def dob_unmodified(fn):
    r = R(52)
    dout, m = r.standard_normal((3, 4)), (r.random((3, 4)) < 0.5).astype(float)
    ok = unchanged(dout, m)
    fn(dout, (m, 0.5, True, True))
    ok()


def swt_value(fn):
    W = np.array([[1.0, -2.0], [4.0, 0.5]])
    ok = unchanged(W)
    Wt = fn(W, 0.75)
    ok()
    assert Wt is not W and Wt.shape == W.shape and np.array_equal(Wt, 0.75 * W)


def mc_mean(fn):
    x = R(53).standard_normal((3, 2))

    def forward(x_, mask_rng):
        return np.tanh(x_ * (mask_rng.random(x_.shape) < 0.5) / 0.5)
    got = fn(forward, x, 0.5, 7, R(54))
    r = R(54)
    truth = sum(forward(x, r) for _ in range(7)) / 7
    close(got, truth, 1e-14)


def mc_same_rng(fn):
    seen = []
    rng = R(55)

    def forward(x_, mask_rng):
        seen.append(mask_rng)
        return x_
    fn(forward, np.ones(2), 0.5, 4, rng)
    assert len(seen) == 4 and all(s is rng for s in seen)


def mc_keep_prob_keyword(fn):
    got = []

    def fwd_kw(x_, mask_rng, keep_prob=None):
        got.append(keep_prob)
        return x_

    def fwd_kwargs(x_, mask_rng, **kw):
        got.append(kw.get("keep_prob"))
        return x_

    def fwd_two(x_, mask_rng):
        return x_ * 2
    fn(fwd_kw, np.ones(2), 0.3, 2, R(0))
    fn(fwd_kwargs, np.ones(2), 0.4, 1, R(0))
    assert got == [0.3, 0.3, 0.4]
    assert np.array_equal(fn(fwd_two, np.ones(2), 0.3, 3, R(0)), np.full(2, 2.0))


def mc_two_arguments(fn):
    got = []

    def forward(x_, mask_rng, *rest, **kw):
        got.append((rest, kw))
        return x_
    fn(forward, np.ones(2), 0.3, 2, R(0))
    assert got == [((), {}), ((), {})], "the notebook: call forward(x, rng) with these two arguments only"


def mc_validates(fn):
    f = lambda x_, r: x_
    raises(ValueError, fn, f, np.ones(2), 0.0, 2, R(0))
    raises(ValueError, fn, f, np.ones(2), 0.5, 0, R(0))


# ============================================================================ 04_initialization
def iw_shape_dtype(fn):
    from tnn_lib.init import SCHEMES
    for s in SCHEMES:
        W = fn(7, 3, s, R(60))
        assert W.shape == (7, 3) and W.dtype == np.float64, s


def iw_scales(fn):
    n_in, n_out = 400, 300
    want = {"small": 0.01, "unit": 1.0, "xavier": 1 / math.sqrt(n_in), "he": math.sqrt(2 / n_in),
            "glorot_uniform": math.sqrt(6 / (n_in + n_out)) / math.sqrt(3)}
    for s, std in want.items():
        W = fn(n_in, n_out, s, R(61))
        # 120,000 draws: the sample std is within 1 % of σ with overwhelming probability
        assert abs(W.std() / std - 1) < 0.01, (s, W.std(), std)
        assert abs(W.mean()) < 0.02 * std, s
    a = math.sqrt(6 / (n_in + n_out))
    assert np.abs(fn(n_in, n_out, "glorot_uniform", R(62))).max() <= a
    assert not np.any(fn(5, 4, "zeros", R(63)))


def iw_orthogonal(fn):
    for n_in, n_out in ((6, 4), (4, 6), (5, 5)):
        W = fn(n_in, n_out, "orthogonal", R(64))
        if n_in >= n_out:
            close(W.T @ W, np.eye(n_out), 1e-12)
        else:
            close(W @ W.T, np.eye(n_in), 1e-12)


def iw_orthogonal_recipe(fn):
    for n_in, n_out in ((6, 4), (4, 6)):
        A = R(65).standard_normal((n_in, n_out))
        B = A.T if n_in < n_out else A
        Q, Rr = np.linalg.qr(B)
        Q = Q * np.sign(np.diag(Rr))
        truth = Q.T if n_in < n_out else Q
        close(fn(n_in, n_out, "orthogonal", R(65)), truth, 1e-12)


def iw_unknown(fn):
    raises(ValueError, fn, 3, 3, "kaiming", R(0))


def as_values(fn):
    from tnn_lib.init import forward_activations
    x = R(66).standard_normal((50, 20))
    means, stds = fn(x, [20, 20, 20], "xavier", "tanh", R(67))
    Hs = forward_activations(x, [20, 20, 20], "xavier", "tanh", R(67))
    assert means.shape == stds.shape == (3,)
    close(means, np.array([np.mean(H) for H in Hs]), 1e-12)
    close(stds, np.array([np.std(H) for H in Hs]), 1e-12)


# ============================================================================ 05_optimizers
def _opt_run(fn, steps=3, seed=70, shape=(3, 4), **kw):
    r = R(seed)
    w = r.standard_normal(shape)
    grads = [r.standard_normal(shape) for _ in range(steps)]
    state, ws = {}, []
    for g in grads:
        out = fn(w, g, state, **kw)
        assert out is w, "returns the same array, updated in place"
        ws.append(w.copy())
    return r, grads, ws, state


def _opt_truth(kind, w0, grads, lr, **h):
    w = w0.copy()
    v = np.zeros_like(w); m = np.zeros_like(w); G = np.zeros_like(w)
    out = []
    for t, g in enumerate(grads, start=1):
        if kind == "sgd":
            w = w - lr * g
        elif kind == "momentum":
            v = h["mu"] * v + g; w = w - lr * v
        elif kind == "nesterov":
            v = h["mu"] * v + g; w = w - lr * (g + h["mu"] * v)
        elif kind == "adagrad":
            G = G + g * g; w = w - lr * g / (np.sqrt(G) + h["eps"])
        elif kind == "rmsprop":
            v = h["a"] * v + (1 - h["a"]) * g * g; w = w - lr * g / (np.sqrt(v) + h["eps"])
        elif kind in ("adam", "adamw"):
            if kind == "adamw":
                w = w - lr * h["wd"] * w
            else:
                g = g + h["wd"] * w
            m = h["b1"] * m + (1 - h["b1"]) * g
            v = h["b2"] * v + (1 - h["b2"]) * g * g
            mh, vh = m / (1 - h["b1"] ** t), v / (1 - h["b2"] ** t)
            w = w - lr * mh / (np.sqrt(vh) + h["eps"])
        out.append(w.copy())
    return out


_OPT = {  # exercise: (kind, explicit keywords, their truth names, defaults as documented)
    "sgd_step": ("sgd", dict(lr=0.1), {}, None),
    "momentum_step": ("momentum", dict(lr=0.1, momentum=0.7), dict(mu=0.7), dict(lr=0.1, mu=0.9)),
    "nesterov_step": ("nesterov", dict(lr=0.1, momentum=0.7), dict(mu=0.7), dict(lr=0.1, mu=0.9)),
    "adagrad_step": ("adagrad", dict(lr=0.05, eps=0.3), dict(eps=0.3), dict(lr=0.01, eps=1e-10)),
    "rmsprop_step": ("rmsprop", dict(lr=0.05, alpha=0.8, eps=0.3), dict(a=0.8, eps=0.3),
                     dict(lr=0.01, a=0.99, eps=1e-8)),
    "adam_step": ("adam", dict(lr=0.05, beta1=0.8, beta2=0.9, eps=0.3, weight_decay=0.2),
                  dict(b1=0.8, b2=0.9, eps=0.3, wd=0.2), dict(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0)),
    "adamw_step": ("adamw", dict(lr=0.05, beta1=0.8, beta2=0.9, eps=0.3, weight_decay=0.2),
                   dict(b1=0.8, b2=0.9, eps=0.3, wd=0.2), dict(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.01)),
}


def opt_formula(name):
    kind, kw, h, _ = _OPT[name]

    def test(fn):
        r = R(71)
        w0 = r.standard_normal((3, 4))
        grads = [r.standard_normal((3, 4)) for _ in range(4)]
        w, state = w0.copy(), {}
        for g, truth in zip(grads, _opt_truth(kind, w0, grads, kw["lr"], **h)):
            fn(w, g.copy(), state, **kw)
            close(w, truth, 1e-12)
    return test


def opt_defaults(name):
    kind, kw, h, dflt = _OPT[name]

    def test(fn):
        r = R(72)
        w0 = r.standard_normal((3, 4)) * 1e-3     # small, so that ε = 1e-8 vs 1e-7 shows
        grads = [r.standard_normal((3, 4)) * 1e-6 for _ in range(3)]
        lr = dflt["lr"]
        hh = {k: v for k, v in dflt.items() if k != "lr"}
        w, state = w0.copy(), {}
        needs_lr = name in ("momentum_step", "nesterov_step")
        for g, truth in zip(grads, _opt_truth(kind, w0, grads, lr, **hh)):
            fn(w, g, state, **({"lr": lr} if needs_lr else {}))
            close(w - w0, truth - w0, 1e-9)
    return test


def opt_in_place(name):
    kw = _OPT[name][1]

    def test(fn):
        w = R(73).standard_normal((2, 3))
        before = w.copy()
        out = fn(w, R(74).standard_normal((2, 3)), {}, **kw)
        assert out is w and not np.array_equal(w, before), "w is updated in place and returned"
    return test


def sgd_state_unused(fn):
    state = {}
    fn(np.ones(2), np.ones(2), state, lr=0.1)
    assert state == {}


def opt_dw_unmodified(name):
    kw = _OPT[name][1]

    def test(fn):
        r = R(75)
        w, state = r.standard_normal((2, 3)), {}
        for _ in range(3):
            dw = r.standard_normal((2, 3))
            ok = unchanged(dw)
            fn(w, dw, state, **kw)
            ok()
    return test


def opt_any_shape(name):
    kind, kw, h, _ = _OPT[name]

    def test(fn):
        r = R(76)
        w0 = r.standard_normal((2, 2, 3))
        g = r.standard_normal((2, 2, 3))
        w = w0.copy()
        fn(w, g, {}, **kw)
        close(w, _opt_truth(kind, w0, [g], kw["lr"], **h)[0], 1e-12)
    return test


_KEYS = {"sgd_step": set(), "momentum_step": {"v"}, "nesterov_step": {"v"}, "adagrad_step": {"G"},
         "rmsprop_step": {"v"}, "adam_step": {"m", "v", "step"}, "adamw_step": {"m", "v", "step"}}


def opt_state_keys(name):
    kw = _OPT[name][1]

    def test(fn):
        r = R(77)
        w, state = r.standard_normal((2, 3)), {}
        fn(w, r.standard_normal((2, 3)), state, **kw)
        assert set(state) == _KEYS[name], set(state)
        arrays = {k: state[k] for k in state if isinstance(state[k], np.ndarray)}
        fn(w, r.standard_normal((2, 3)), state, **kw)
        for k, a in arrays.items():
            assert state[k] is a, f"state[{k!r}] is updated in place, not replaced"
        if "step" in _KEYS[name]:
            assert state["step"] == 2
    return test


def clipv_in_place(fn):
    g1, g2 = np.array([[-7.0, 2.0], [6.0, -1.0]]), np.array([0.5, -5.5])
    grads = {"W": g1, "b": g2}
    fn(grads, 5.0)
    assert grads["W"] is g1 and grads["b"] is g2 and set(grads) == {"W", "b"}
    assert np.array_equal(g1, [[-5.0, 2.0], [5.0, -1.0]]) and np.array_equal(g2, [0.5, -5.0])


def clipn_in_place(fn):
    g1, g2 = np.array([[3.0, 0.0], [0.0, 0.0]]), np.array([4.0])
    grads = {"W": g1, "b": g2}
    total = fn(grads, 1.0)
    assert total == 5.0, "returns the norm before clipping"
    assert grads["W"] is g1 and grads["b"] is g2
    c = 1.0 / (5.0 + 1e-6)
    assert np.array_equal(g1, np.array([[3.0, 0.0], [0.0, 0.0]]) * c) or \
        np.allclose(g1, np.array([[3.0 * c, 0.0], [0.0, 0.0]]), rtol=1e-15, atol=0)
    assert abs(g2[0] - 4.0 * c) <= 1e-15


def clipn_below(fn):
    g = np.array([0.6, 0.8])
    grads = {"g": g}
    total = fn(grads, 2.0)
    assert abs(total - 1.0) <= 1e-15 and np.array_equal(g, [0.6, 0.8]), "min(1, …): never scaled up"


# ============================================================================ 06_regularization
def _params():
    return {"W1": np.array([[1.0, -2.0], [0.0, 0.5]]), "b1": np.array([3.0, 0.0]), "W2": np.array([[-1.0]])}


def l2p_values(fn):
    p = _params()
    ok = unchanged(*p.values())
    val, grads = fn(p, 0.5)
    ok()
    assert val == 0.5 * 0.5 * (1 + 4 + 0 + 0.25 + 9 + 0 + 1)
    assert set(grads) == set(p)
    for k in p:
        assert grads[k].shape == p[k].shape and np.array_equal(grads[k], 0.5 * p[k])


def l1p_values(fn):
    p = _params()
    ok = unchanged(*p.values())
    val, grads = fn(p, 0.5)
    ok()
    assert val == 0.5 * (1 + 2 + 0 + 0.5 + 3 + 0 + 1)
    assert set(grads) == set(p)
    for k in p:
        assert grads[k].shape == p[k].shape and np.array_equal(grads[k], 0.5 * np.sign(p[k]))
    assert grads["W1"][1, 0] == 0.0 and grads["b1"][1] == 0.0, "0 at W = 0"


def pen_lam_zero(fn):
    val, grads = fn(_params(), 0.0)
    assert val == 0.0 and all(not np.any(g) for g in grads.values())


def es_example(fn):
    assert fn([3, 2, 2.5, 1, 4, 5, 0], patience=2) == 3


def es_strict(fn):
    assert fn([2.0, 1.0, 1.0, 1.0, 1.0, 0.5], patience=3) == 1, "an equal loss does not improve"
    assert fn([2.0, 1.0, 1.0, 1.0, 1.0, 0.5], patience=4) == 5


def es_nan(fn):
    nan = float("nan")
    assert fn([1.0, nan, nan, 0.5], patience=2) == 0, "NaN epochs count as bad"
    assert fn([1.0, nan, 0.5], patience=2) == 2
    assert fn([nan, nan, nan], patience=1) == 0, "no finite loss: 0"
    assert fn([nan, 2.0, 1.0], patience=5) == 2


def es_no_stop(fn):
    assert fn([5.0, 4.0, 4.5, 3.0], patience=10) == 3
    assert fn([1.0], patience=1) == 0


def st_values(fn):
    x = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 2.0], [5.0, 5.0, 8.0]])
    ok = unchanged(x)
    xs, mean, std = fn(x)
    ok()
    assert xs is not x and not np.shares_memory(xs, x)
    assert np.array_equal(mean, [3.0, 5.0, 4.0])
    s0 = math.sqrt(8 / 3)                               # ddof = 0
    close(std, np.array([s0, 1.0, math.sqrt(8.0)]), 1e-15)
    assert np.array_equal(xs[:, 1], [0.0, 0.0, 0.0]), "a constant feature: std 1, only centred"
    close(xs[:, 0], np.array([-2.0, 0.0, 2.0]) / s0, 1e-15)


def st_given(fn):
    x = np.array([[1.0, 4.0], [3.0, 8.0]])
    xs, mean, std = fn(x, mean=np.array([1.0, 2.0]), std=np.array([2.0, 0.0]))
    assert np.array_equal(xs, [[0.0, 2.0], [1.0, 6.0]]) and np.array_equal(std, [2.0, 1.0])
    assert np.array_equal(mean, [1.0, 2.0])


# ============================================================================ 07_training
def _model(seed=80, bn=True, keep=1.0):
    from tnn_lib.nn import make_mlp
    return make_mlp([4, 6, 3], R(seed), batchnorm=bn, keep_prob=keep)


def _data(seed=81, N=11):
    r = R(seed)
    return r.standard_normal((N, 4)), r.integers(0, 3, N)


class _Recorder:
    def __init__(self):
        self.batches = []

    def step(self, params, grads):
        self.batches.append(None)


def te_mode_restored(fn):
    x, y = _data()
    for mode in ("train", "eval"):
        m = _model()
        getattr(m, mode)()
        fn(m, _Recorder(), x, y, 4, R(82))
        assert m.training == (mode == "train"), mode


def te_last_batch_of_one(fn):
    from tnn_lib.nn import Sequential
    x, y = _data(N=9)
    sizes = []
    m = _model()
    fwd = m.forward

    def forward(xb):
        sizes.append(len(xb))
        return fwd(xb)
    m.forward = forward
    fn(m, _Recorder(), x, y, 4, R(83))
    assert sorted(sizes) == [4, 5], sizes        # 4, 4, 1 → 4, 5


def te_mean_loss(fn):
    import copy
    from tnn_lib.divergences import softmax_kl
    from tnn_lib.train import one_hot
    x, y = _data(N=10)
    m = _model(bn=False)
    probe = copy.deepcopy(m)
    losses = []
    fwd = m.forward

    def forward(xb):
        z = fwd(xb)
        losses.append(softmax_kl(z, one_hot(y[[np.flatnonzero((x == row).all(1))[0] for row in xb]], 3))[0])
        return z
    m.forward = forward
    got = fn(m, _Recorder(), x, y, 4, R(84))      # the recorder does not move the weights
    assert len(losses) == 3 and abs(got - sum(losses) / 3) <= 1e-12


def te_shuffled_by_rng(fn):
    x, y = _data(N=12)
    seen = []
    m = _model(bn=False)
    fwd = m.forward

    def forward(xb):
        seen.append(xb.copy())
        return fwd(xb)
    m.forward = forward
    fn(m, _Recorder(), x, y, 12, R(85))
    fn(m, _Recorder(), x, y, 12, R(85))
    assert np.array_equal(seen[0], seen[1]), "the order is drawn from rng alone"
    assert sorted(map(tuple, seen[0])) == sorted(map(tuple, x)), "every example once"


def te_steps(fn):
    x, y = _data(N=11)
    rec = _Recorder()
    fn(_model(), rec, x, y, 5, R(86))
    assert len(rec.batches) == 2, "one optimizer step per minibatch (5, 6)"
    rec = _Recorder()
    fn(_model(), rec, x, y, 4, R(86))
    assert len(rec.batches) == 3, "one optimizer step per minibatch (4, 4, 3)"


def ev_values(fn):
    from tnn_lib.divergences import softmax
    x, y = _data(N=20)
    m = _model(keep=0.5)
    m.train()
    loss, acc = fn(m, x, y)
    assert m.training, "the mode is restored"
    m.eval()
    z = m.forward(x)
    p = softmax(z)
    assert abs(loss - float(np.mean(-np.log(p[np.arange(20), y])))) <= 1e-12
    assert acc == float(np.mean(np.argmax(z, 1) == y))
    loss2, _ = fn(m, x, y)
    assert not m.training and loss2 == loss


def gn_values(fn):
    g = {"W": np.array([[3.0, 0.0], [0.0, 4.0]]), "b": np.array([0.0, 0.0]), "c": np.array([-2.0])}
    ok = unchanged(*g.values())
    out = fn(g)
    ok()
    assert set(out) == {"W", "b", "c"} and out["W"] == 5.0 and out["b"] == 0.0 and out["c"] == 2.0
    assert all(isinstance(v, (float, np.floating)) for v in out.values())


def drf_values(fn):
    z = np.array([[-1.0, 0.0, 2.0, 0.0], [-3.0, 0.0, -1.0, 1.0], [0.0, 0.0, -1.0, 0.0]])
    ok = unchanged(z)
    assert fn(z) == 0.5, "z ≤ 0 on every row: columns 0 and 1"
    ok()
    assert fn(np.maximum(z, 0)) == 0.5, "the same from the outputs max(0, z)"
    assert fn(np.array([[-0.0, 1e-300]])) == 0.5


def ema_values(fn):
    a1, a2 = np.array([1.0, 2.0]), np.array([[4.0]])
    p1, p2 = np.array([3.0, -2.0]), np.array([[0.0]])
    avg, params = {"W": a1, "b": a2}, {"W": p1, "b": p2}
    ok = unchanged(p1, p2)
    out = fn(avg, params, decay=0.75)
    ok()
    assert out is avg and avg["W"] is a1 and avg["b"] is a2, "the same dict and arrays, in place"
    assert np.array_equal(a1, [1.5, 1.0]) and np.array_equal(a2, [[3.0]])


def ema_default(fn):
    a, p = np.array([1.0]), np.array([201.0])
    fn({"w": a}, {"w": p})
    assert abs(a[0] - 2.0) <= 1e-14, "decay 0.995"


def ens_values(fn):
    from tnn_lib.divergences import softmax
    x, _ = _data(N=7)
    models = [_model(seed=s, keep=0.5) for s in (90, 91)]
    models[0].train(); models[1].eval()
    probs = fn(models, x)
    assert models[0].training and not models[1].training, "each handed back in its mode"
    truth = []
    for m in models:
        was = m.training
        m.eval()
        truth.append(softmax(m.forward(x)))
        m.train() if was else None
    close(probs, (truth[0] + truth[1]) / 2, 1e-12)
    assert probs.shape == (7, 3)
    assert np.all(np.abs(probs.sum(1) - 1) <= 1e-12)


def ens_nothing_else(fn):
    x, _ = _data(N=5)
    m = _model(seed=92, keep=0.5)
    before = {k: v.copy() for k, v in m.params().items()}
    bn = [l for l in m.modules if hasattr(l, "running_mean")] if hasattr(m, "modules") else []
    stats = [(l.running_mean.copy(), l.running_var.copy()) for l in bn]
    m.train()
    fn([m], x)
    for k, v in m.params().items():
        assert np.array_equal(v, before[k])
    for l, (rm, rv) in zip(bn, stats):
        assert np.array_equal(l.running_mean, rm) and np.array_equal(l.running_var, rv)


# ============================================================================ 08_schedules_and_landscape
def _plateau_truth(metrics, lr, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                   cooldown=0, min_lr=0.0, eps=1e-8):
    best = math.inf if mode == "min" else -math.inf
    bad = cd = 0
    out = []
    for m in metrics:
        if mode == "min":
            better = m < (best * (1 - threshold) if threshold_mode == "rel" else best - threshold)
        else:
            better = m > (best * (1 + threshold) if threshold_mode == "rel" else best + threshold)
        if better:
            best, bad = m, 0
        else:
            bad += 1
        if cd > 0:
            cd -= 1
            bad = 0
        if bad > patience:
            new = max(lr * factor, min_lr)
            if lr - new > eps:
                lr = new
            cd, bad = cooldown, 0
        out.append(lr)
    return out


def rp_scenarios(cls):
    nan = float("nan")
    cases = [
        dict(lr=1.0, patience=2, metrics=[5, 5, 5, 5, 5, 5, 5, 5]),
        dict(lr=1.0, patience=0, cooldown=2, metrics=[5, 6, 6, 6, 6, 6, 6]),
        dict(lr=1.0, patience=1, factor=0.5, min_lr=0.3, metrics=[3] * 10),
        dict(lr=1.0, patience=1, mode="max", metrics=[1, 2, 2, 2, 3, 3, 3]),
        dict(lr=1.0, patience=0, threshold=0.1, metrics=[10, 9.5, 8.9, 8.5, 8.0]),
        dict(lr=1.0, patience=0, threshold=0.5, threshold_mode="abs", metrics=[10, 9.6, 9.4, 9.0, 8.8]),
        dict(lr=1.0, patience=0, mode="max", threshold=0.5, threshold_mode="abs", metrics=[1, 1.4, 1.6, 2.0]),
        dict(lr=1e-8, patience=0, metrics=[1, 2, 3], eps=1e-8),
        dict(lr=1.0, patience=1, metrics=[1, nan, nan, nan, 0.5]),
    ]
    for c in cases:
        c = dict(c)
        metrics, lr = c.pop("metrics"), c.pop("lr")
        s = cls(lr, **c)
        got = [s.step(m) for m in metrics]
        assert got == _plateau_truth(metrics, lr, **c), (c, got)
        assert s.lr == got[-1] and s.last_epoch == len(metrics)


def rp_attributes(cls):
    s = cls(0.5)
    assert s.lr == 0.5 and s.best == math.inf and s.num_bad_epochs == 0 and s.cooldown_counter == 0 \
        and s.last_epoch == 0
    assert cls(0.5, mode="max").best == -math.inf
    s.step(3.0)
    assert s.best == 3.0 and s.last_epoch == 1


def rp_defaults(cls):
    s = cls(1.0)
    lrs = [s.step(1.0) for _ in range(12)]
    assert lrs[:11] == [1.0] * 11, lrs
    assert abs(lrs[11] - 0.1) <= 1e-17, "factor 0.1 on the 11th bad epoch in a row (patience 10; the first step sets best)"


def rp_errors(cls):
    raises(ValueError, cls, 1.0, factor=1.0)
    raises(ValueError, cls, 1.0, mode="up")
    raises(ValueError, cls, 1.0, threshold_mode="x")
    raises(ValueError, cls, -1.0)


def cos_values(fn):
    assert fn(0.5, 0, 10) == 0.5
    assert abs(fn(0.5, 10, 10, eta_min=0.1) - 0.1) <= 1e-16
    assert abs(fn(0.4, 5, 10) - 0.2) <= 1e-16
    close(fn(1.0, 15, 10, 0.0), 0.5 * (1 + math.cos(1.5 * math.pi)), 1e-15)
    assert fn(1.0, 15, 10) > fn(1.0, 10, 10), "past T_max it rises again"
    assert isinstance(fn(1.0, 3, 10), float)


def lw_values(fn):
    assert abs(fn(0.3, 0) - 0.1) <= 1e-16, "start_factor 1/3 by default"
    assert fn(0.3, 5) == 0.3 and fn(0.3, 50) == 0.3, "end_factor 1 from t = total_iters = 5 on"
    assert abs(fn(1.0, 2, total_iters=4, start_factor=0.5, end_factor=0.9) - 0.7) <= 1e-15
    assert abs(fn(1.0, 9, total_iters=4, start_factor=0.5, end_factor=0.25) - 0.25) <= 1e-16


def rprop_rules(fn):
    w = np.zeros(4)
    st = {}
    fn(w, np.array([1.0, -1.0, 0.0, 2.0]), st, lr=0.1)
    assert np.array_equal(w, [-0.1, 0.1, 0.0, -0.1])
    assert {"prev", "step_size"} <= set(st)
    fn(w, np.array([3.0, 1.0, 5.0, 0.0]), st, lr=0.1)
    # same sign: Δ·1.2 and a step; flip: Δ·0.5, no step, prev 0; from 0: Δ kept; g = 0: no step
    close(st["step_size"], np.array([0.12, 0.05, 0.1, 0.1]), 1e-15)
    close(w, np.array([-0.22, 0.1, -0.1, -0.1]), 1e-15)
    assert np.array_equal(st["prev"], [3.0, 0.0, 5.0, 0.0])
    fn(w, np.array([1.0, 1.0, 1.0, 1.0]), st, lr=0.1)
    close(st["step_size"], np.array([0.144, 0.05, 0.12, 0.1]), 1e-15)


def rprop_state_keys(fn):
    w, st = np.zeros(2), {}
    fn(w, np.array([1.0, -1.0]), st, lr=0.1)
    assert set(st) == {"prev", "step_size", "step"} and st["step"] == 1
    prev, size = st["prev"], st["step_size"]
    fn(w, np.array([1.0, 1.0]), st, lr=0.1)
    assert st["step"] == 2 and st["prev"] is prev and st["step_size"] is size, "updated in place"


def rprop_bounds(fn):
    w, st = np.zeros(2), {}
    for _ in range(6):
        fn(w, np.array([1.0, 1.0]), st, lr=1.0, step_sizes=(0.0, 2.0))
    assert np.array_equal(st["step_size"], [2.0, 2.0])
    w, st = np.zeros(1), {}
    for k in range(6):
        fn(w, np.array([(-1.0) ** k]), st, lr=1.0, step_sizes=(0.2, 50.0))
    assert st["step_size"][0] >= 0.2 and abs(st["step_size"][0] - 0.2) <= 1e-15


def rprop_in_place(fn):
    w, dw = np.zeros(3), np.array([1.0, -2.0, 0.5])
    ok = unchanged(dw)
    assert fn(w, dw, {}) is w
    ok()
    assert np.array_equal(w, [-0.01, 0.01, -0.01]), "lr 0.01 by default"


def qp_rules(fn):
    w, st = np.array([0.0, 0.0]), {}
    fn(w, np.array([2.0, 0.0]), st, lr=0.5)
    assert np.array_equal(w, [-1.0, 0.0]) and set(st) == {"prev_grad", "prev_step"}
    # on ½·a(w − c)² with a = 2, c = 1: the secant step lands on c
    a, c = 2.0, 1.0
    w, st = np.array([3.0]), {}
    for _ in range(3):
        fn(w, a * (w - c), st, lr=0.1, max_growth=100.0)
    assert abs(w[0] - c) <= 1e-12


def qp_limit_and_flat(fn):
    w, st = np.array([0.0, 0.0, 0.0]), {}
    fn(w, np.array([1.0, 1.0, 0.0]), st, lr=1.0)          # Δw = [−1, −1, 0]
    fn(w, np.array([0.9, 1.0, 0.0]), st, lr=1.0)          # secant −1·0.9/0.1 = −9 → clipped −1.75; flat → −1.75; still
    close(w, np.array([-2.75, -2.75, 0.0]), 1e-15)
    assert np.array_equal(st["prev_grad"], [0.9, 1.0, 0.0])
    close(st["prev_step"], np.array([-1.75, -1.75, 0.0]), 1e-15)
    fn(w, np.array([0.0, 0.0, 0.0]), st, lr=1.0)          # g = 0 where g_prev ≠ 0: secant step 0
    close(w, np.array([-2.75, -2.75, 0.0]), 1e-15)


def qp_in_place(fn):
    w, dw = np.zeros(2), np.array([1.0, -1.0])
    ok = unchanged(dw)
    assert fn(w, dw, {}) is w
    ok()
    assert np.array_equal(w, [-0.01, 0.01]), "lr 0.01 by default"


def msl_values(fn):
    assert abs(fn(np.diag([1.0, 4.0])) - 0.5) <= 1e-15
    Q = np.linalg.qr(R(95).standard_normal((3, 3)))[0]
    H = Q @ np.diag([0.5, 2.0, 8.0]) @ Q.T
    H = (H + H.T) / 2
    assert abs(fn(H) - 0.25) <= 1e-12
    assert fn(np.zeros((2, 2))) == math.inf
    assert isinstance(fn(np.eye(2)), float)


def msl_errors(fn):
    raises(ValueError, fn, np.ones((2, 3)))
    raises(ValueError, fn, np.array([[1.0, 0.5], [0.0, 1.0]]))
    raises(ValueError, fn, np.diag([1.0, -0.5]))


def msl_tolerance(fn):
    H = np.array([[1.0, 0.0], [0.0, -3e-16]])          # a computed λ_min of −3e-16 is a zero eigenvalue
    assert fn(H) == 2.0
    H = np.array([[1.0, 1e-13], [0.0, 1.0]])           # |H − Hᵀ| ≤ 1e-12·s: symmetric
    assert abs(fn(H) - 2.0) <= 1e-12
    assert fn(np.diag([1e-20, 0.0])) == 2e20 or fn(np.diag([1e-20, 0.0])) == math.inf


# ============================================================================ the table
def _P(text, test, ref_only=False):
    return Promise(text, test, ref_only)


PROMISES = {
    "linear_forward": [
        _P("out = x @ W + b, shape (N, M)", lf_values),
        _P("cache is the tuple (x, W, b)", lf_cache),
        _P("x, W and b are not modified", lf_unmodified),
    ],
    "linear_backward": [
        _P("dx, dW, db are the gradients of Σ dout·out", lb_gradients),
        _P("shapes (N, D), (D, M), (M,)", lb_shapes),
        _P("dout and the cache are not modified", lb_unmodified),
    ],
    "relu_backward": [
        _P("dz = dout·[z > 0]: 0 at the kink z = 0", relu_kink),
        _P("any shape; dz has the shape of z", relu_shape_any),
        _P("dout and the cache (z) are not modified", relu_unmodified),
    ],
    "sigmoid_backward": [
        _P("dz is the gradient of Σ dout·σ(z)", sig_grad),
        _P("the cache is σ(z), the output", sig_cache_is_output),
        _P("dout and the cache are not modified", act_unmodified),
    ],
    "tanh_backward": [
        _P("dz is the gradient of Σ dout·tanh(z)", tanh_grad),
        _P("the cache is tanh(z), the output", tanh_cache_is_output),
        _P("dout and the cache are not modified", act_unmodified),
    ],
    "numerical_gradient": [
        _P("central differences with step h (default 1e-5): error h² on Σx³", ng_accuracy),
        _P("x of any shape; the gradient has x's shape", ng_any_shape),
        _P("x restored exactly", ng_restored),
        _P("x restored also if f raises", ng_restored_on_raise, ref_only=True),
        _P("f may close over x: perturbed in place", ng_closure),
        _P("2·x.size evaluations of f", ng_evaluations),
    ],
    "l2_divergence": [
        _P("(1/N) Σ ½‖y − d‖², a float", l2_value),
        _P("y and d are not modified", div_unmodified),
    ],
    "l2_divergence_grad": [
        _P("(y − d)/N, shape (N, C)", l2g_value),
        _P("the gradient of l2_divergence", l2g_is_gradient),
        _P("y and d are not modified", div_unmodified),
    ],
    "kl_divergence": [
        _P("(1/N) Σ d log(d/y), a float", kl_value),
        _P("0·log 0 = 0", kl_zero_log_zero),
        _P("inf where y = 0 and d > 0", kl_inf),
        _P("one-hot d: the cross-entropy", kl_one_hot_is_ce),
        _P("y and d are not modified", div_unmodified),
    ],
    "kl_divergence_grad": [
        _P("−d/(N·y); exactly 0 where d = 0, also where y = 0", klg_value),
        _P("the gradient of kl_divergence", klg_is_gradient),
        _P("y and d are not modified", div_unmodified),
    ],
    "softmax": [
        _P("exp(z_i)/Σ exp(z_j) per row, same shape", sm_rows),
        _P("a vector (C,) works, shape kept", sm_vector),
        _P("stable for any finite z (±1000)", sm_stable),
        _P("z is not modified", lambda fn: div_unmodified(fn, pair=False)),
    ],
    "softmax_kl": [
        _P("loss = KL(d ‖ softmax(z)), dz = (softmax(z) − d)/N, shape (N, C)", skl_value),
        _P("dz is the gradient of the loss", skl_is_gradient),
        _P("finite for logits ±1000", skl_extreme),
        _P("z and d are not modified", div_unmodified),
    ],
    "sigmoid_bce": [
        _P("mean BCE over z.size; dz = (σ(z) − d)/z.size", bce_value),
        _P("dz is the gradient of the loss", bce_is_gradient),
        _P("finite for any finite z (softplus form)", bce_extreme),
        _P("z and d are not modified", div_unmodified),
    ],
    "batchnorm_forward": [
        _P("out = γ(z − μ)/√(σ² + ε) + β, shape (N, D)", bnf_values),
        _P("cache = (z, ẑ, μ, σ², γ, ε), σ² the biased variance", bnf_cache),
        _P("ε defaults to 1e-5", bnf_default_eps),
        _P("N >= 2 (N = 1 raises ValueError)", bnf_rows, ref_only=True),
        _P("z, γ and β are not modified", bnf_unmodified),
    ],
    "batchnorm_backward": [
        _P("dz, dγ, dβ are the gradients of Σ dout·out", bnb_gradients),
        _P("each column of dz sums to 0", bnb_columns_sum_zero),
        _P("dγ = Σ dout·ẑ, dβ = Σ dout", bnb_dgamma_dbeta),
        _P("dout and the cache are not modified", bnb_unmodified),
    ],
    "batchnorm_jacobian": [
        _P("J[j, i] = du_j/dz_i, shape (B, B)", bnj_values),
        _P("symmetric; rows and columns sum to 0", bnj_symmetric_sums),
        _P("ε defaults to 1e-5", bnj_default_eps_and_B),
        _P("B >= 2 (B = 1 raises ValueError)", bnj_one_row, ref_only=True),
    ],
    "population_statistics": [
        _P("mean of means, B/(B−1)·mean of variances; a float for (K,)", ps_values),
        _P("(K, D) inputs give (D,) outputs", ps_matrix),
        _P("batch_size >= 2 (1 raises ValueError)", ps_batch_size, ref_only=True),
    ],
    "layernorm_forward": [
        _P("normalised per row; cache μ, σ² of shape (N, 1)", lnf_values),
        _P("works for a batch of one", lnf_batch_of_one),
    ],
    "layernorm_backward": [
        _P("dx, dγ, dβ are the gradients of Σ dout·out", lnb_gradients),
        _P("dout and the cache are not modified", lnb_unmodified),
    ],
    "weightnorm_backward": [
        _P("dv, dg are the gradients of Σ dw·w, w = g·v/‖v‖", wnb_gradients),
        _P("dg = dw·v/‖v‖, dv = g/‖v‖ (dw − dg v/‖v‖), orthogonal to v (exact values)", wnb_orthogonal),
        _P("dw and the cache are not modified", wnb_unmodified),
    ],
    "dropout_forward": [
        _P("mask = rng.random(x.shape) < keep_prob; out = x·m/keep_prob; cache mask float64", dof_mask_from_rng),
        _P("a given mask (0/1 or bool) takes precedence over rng; non-inverted out = x·m", dof_mask_precedence),
        _P("test mode: x (inverted) or x·keep_prob, mask None, needs no rng", dof_test_mode),
        _P("any shape", dof_any_shape),
        _P("x and the mask are not modified", dof_unmodified),
        _P("keep_prob in (0, 1]", dof_keep_prob_range, ref_only=True),
    ],
    "dropout_backward": [
        _P("the four cases of (train, inverted)", dob_four_cases),
        _P("the gradient of the forward", dob_is_gradient),
        _P("dout and the mask are not modified", dob_unmodified),
    ],
    "scale_weights_for_test": [
        _P("keep_prob·W, a new array; W not modified", swt_value),
    ],
    "mc_dropout_predict": [
        _P("the mean of n_samples forward(x, rng) passes", mc_mean),
        _P("the same rng is passed to every call", mc_same_rng),
        _P("keep_prob passed as a keyword when forward takes it (or **kwargs)", mc_keep_prob_keyword,
           ref_only=True),
        _P("(notebook 03) forward called with (x, rng) alone", mc_two_arguments, ref_only="solution"),
        _P("keep_prob and n_samples validated", mc_validates, ref_only=True),
    ],
    "init_weights": [
        _P("shape (fan_in, fan_out), float64, every scheme", iw_shape_dtype),
        _P("each scheme's distribution (std, bound, zeros)", iw_scales),
        _P("orthogonal: orthonormal columns (fan_in ≥ fan_out) or rows", iw_orthogonal),
        _P("orthogonal: torch's recipe (QR, signs of R's diagonal, transpose)", iw_orthogonal_recipe),
        _P("an unknown scheme raises ValueError", iw_unknown, ref_only=True),
    ],
    "activation_statistics": [
        _P("np.mean, np.std of each layer's activations, shape (len(widths),)", as_values),
    ],
    "clip_grad_value": [_P("every entry clipped to [−θ, θ], in place", clipv_in_place)],
    "clip_grad_norm": [
        _P("g·min(1, max/(total + 1e-6)) in place; returns the total before", clipn_in_place),
        _P("never scaled up", clipn_below),
    ],
    "l2_penalty": [
        _P("½λΣ‖W‖², grads λW with params' keys and shapes; params not modified", l2p_values),
        _P("λ = 0: zero", pen_lam_zero),
    ],
    "l1_penalty": [
        _P("λΣ|W|, grads λ sign(W), 0 at W = 0; params not modified", l1p_values),
        _P("λ = 0: zero", pen_lam_zero),
    ],
    "early_stopping_epoch": [
        _P("the docstring's example: 3", es_example),
        _P("improves only when strictly below every earlier loss", es_strict),
        _P("NaN never improves; no finite loss gives 0", es_nan),
        _P("patience never runs out: the first minimum", es_no_stop),
    ],
    "standardize": [
        _P("per-column mean and population std; std 0 → 1; a new array, x not modified", st_values),
        _P("a given mean and std are used (zeros in std → 1)", st_given),
    ],
    "train_epoch": [
        _P("the model's mode is restored", te_mode_restored),
        _P("a last minibatch of one joins the previous one", te_last_batch_of_one),
        _P("returns the mean over minibatches of their mean loss", te_mean_loss),
        _P("every example once, in an order drawn from rng", te_shuffled_by_rng),
        _P("one optimizer step per minibatch", te_steps),
    ],
    "evaluate": [_P("loss and accuracy in eval mode; mode restored", ev_values)],
    "gradient_norms": [_P("{key: ‖g‖₂} as floats; changes nothing", gn_values)],
    "dead_relu_fraction": [_P("the fraction of columns ≤ 0 on every row; also from max(0, z)", drf_values)],
    "ema_update": [
        _P("decay·avg + (1 − decay)·params, in place (same dict, same arrays); params not modified", ema_values),
        _P("decay defaults to 0.995", ema_default),
    ],
    "ensemble_predict": [
        _P("mean of the members' eval-mode softmax; each handed back in its mode; rows sum to 1", ens_values),
        _P("nothing else of a member changes (weights, running statistics)", ens_nothing_else),
    ],
    "ReduceLROnPlateau": [
        _P("torch's step semantics: patience, cooldown, min_lr, eps, mode, threshold, NaN", rp_scenarios),
        _P("attributes lr, best (±inf), num_bad_epochs, cooldown_counter, last_epoch", rp_attributes),
        _P("defaults: factor 0.1, patience 10", rp_defaults),
        _P("factor ≥ 1, an unknown mode or threshold_mode, lr < 0 raise ValueError", rp_errors, ref_only=True),
    ],
    "cosine_annealing": [_P("η₀ = lr0, η_Tmax = η_min, the closed form, rising past T_max; a float", cos_values)],
    "linear_warmup": [_P("η₀ = s·lr0, e·lr0 from t = T on, linear between; defaults 5, 1/3, 1", lw_values)],
    "rprop_step": [
        _P("the three sign rules; Δ starts at lr", rprop_rules),
        _P("state keys prev, step_size, step, arrays updated in place", rprop_state_keys, ref_only=True),
        _P("Δ within [Δ_min, Δ_max]", rprop_bounds),
        _P("w in place and returned; dw not modified; lr 0.01 by default", rprop_in_place),
    ],
    "quickprop_step": [
        _P("first step −lr·g; state keys prev_grad, prev_step; the secant lands on a quadratic's minimum",
           qp_rules),
        _P("clipped to μ|Δw_prev|; a flat secant takes μ·Δw_prev; g = 0 stays", qp_limit_and_flat),
        _P("w in place and returned; dw not modified; lr 0.01 by default", qp_in_place),
    ],
    "max_stable_lr": [
        _P("2/λ_max; inf for H = 0; a float", msl_values),
        _P("ValueError: not square, not symmetric, a negative eigenvalue", msl_errors),
        _P("round-off tolerances as documented", msl_tolerance),
    ],
}

for _name in _OPT:
    PROMISES[_name] = [
        _P("the documented update, over several steps", opt_formula(_name)),
        _P("the documented defaults", opt_defaults(_name)) if _OPT[_name][3] else
        _P("state unused (left empty)", sgd_state_unused),
        _P("w updated in place and returned", opt_in_place(_name)),
        _P("any shape", opt_any_shape(_name)),
        _P("dw is not modified", opt_dw_unmodified(_name)),
        _P("state keys as documented; state arrays updated in place", opt_state_keys(_name),
           ref_only=_name not in ("sgd_step",)),
    ]
