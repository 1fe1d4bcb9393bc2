"""Tests for tnn_lib.optim against hand-written torch.optim formulas (no torch needed)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnn_lib import optim
from tnn_lib.optim import (SGD, Adagrad, Adam, AdamW, RMSprop, adagrad_step, adam_lecture_step,
                           adam_step, adamw_convention_step, adamw_paper_step, adamw_step, clip_grad_norm, clip_grad_value,
                           exponential_decay, inverse_time_decay, momentum_lecture_step,
                           momentum_step, nesterov_lookahead_step, nesterov_step,
                           rmsprop_lecture_step, rmsprop_step, sgd_step, step_decay)

STEPS = 6


def _problem(seed=0, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), [rng.standard_normal(shape) for _ in range(STEPS)]


def _run(step, w0, grads, **hyper):
    w, state = w0.copy(), {}
    for g in grads:
        out = step(w, g, state, **hyper)
        assert out is w  # in place, returns w
    return w


# --------------------------------------------------------------------------- references
# Each loop transcribes the algorithm box of the torch.optim documentation, element by element.
def ref_sgd(w0, grads, lr):
    w = w0.copy()
    for g in grads:
        w = w - lr * g
    return w


def ref_momentum(w0, grads, lr, mu, nesterov=False):
    w, buf = w0.copy(), None
    for g in grads:
        buf = g.copy() if buf is None else mu * buf + g  # torch: b_1 = g_1
        w = w - lr * (g + mu * buf if nesterov else buf)
    return w


def ref_adagrad(w0, grads, lr, eps):
    w, total = w0.copy(), np.zeros_like(w0)
    for g in grads:
        total = total + g**2
        w = w - lr * g / (np.sqrt(total) + eps)
    return w


def ref_rmsprop(w0, grads, lr, alpha, eps, eps_inside=False):
    w, sq = w0.copy(), np.zeros_like(w0)
    for g in grads:
        sq = alpha * sq + (1 - alpha) * g**2
        w = w - lr * g / (np.sqrt(sq + eps) if eps_inside else np.sqrt(sq) + eps)
    return w


def ref_adam(w0, grads, lr, b1, b2, eps, wd=0.0, decoupled=False, eps_inside=False):
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w * (1 - lr * wd)
        elif wd:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps)
    return w


CASES = [
    (sgd_step, dict(lr=0.1), lambda w, g: ref_sgd(w, g, 0.1)),
    (momentum_step, dict(lr=0.1, momentum=0.8), lambda w, g: ref_momentum(w, g, 0.1, 0.8)),
    (momentum_step, dict(lr=0.1), lambda w, g: ref_momentum(w, g, 0.1, 0.9)),
    (nesterov_step, dict(lr=0.1, momentum=0.7), lambda w, g: ref_momentum(w, g, 0.1, 0.7, True)),
    (adagrad_step, dict(lr=0.3, eps=1e-3), lambda w, g: ref_adagrad(w, g, 0.3, 1e-3)),
    (adagrad_step, dict(), lambda w, g: ref_adagrad(w, g, 0.01, 1e-10)),
    (rmsprop_step, dict(lr=0.02, alpha=0.9, eps=1e-2), lambda w, g: ref_rmsprop(w, g, 0.02, 0.9, 1e-2)),
    (rmsprop_step, dict(), lambda w, g: ref_rmsprop(w, g, 0.01, 0.99, 1e-8)),
    (rmsprop_lecture_step, dict(lr=0.02, alpha=0.9, eps=1e-2),
     lambda w, g: ref_rmsprop(w, g, 0.02, 0.9, 1e-2, eps_inside=True)),
    (adam_step, dict(), lambda w, g: ref_adam(w, g, 1e-3, 0.9, 0.999, 1e-8)),
    (adam_step, dict(lr=0.05, beta1=0.8, beta2=0.9, eps=1e-3, weight_decay=0.3),
     lambda w, g: ref_adam(w, g, 0.05, 0.8, 0.9, 1e-3, wd=0.3)),
    (adamw_step, dict(), lambda w, g: ref_adam(w, g, 1e-3, 0.9, 0.999, 1e-8, wd=0.01, decoupled=True)),
    (adamw_step, dict(lr=0.05, beta1=0.8, beta2=0.9, eps=1e-3, weight_decay=0.3),
     lambda w, g: ref_adam(w, g, 0.05, 0.8, 0.9, 1e-3, wd=0.3, decoupled=True)),
    (adam_lecture_step, dict(lr=0.05, eps=1e-2),
     lambda w, g: ref_adam(w, g, 0.05, 0.9, 0.999, 1e-2, eps_inside=True)),
]


@pytest.mark.parametrize("step, hyper, reference", CASES)
def test_step_matches_torch_formula(step, hyper, reference):
    w0, grads = _problem()
    np.testing.assert_allclose(_run(step, w0, grads, **hyper), reference(w0, grads), rtol=1e-12, atol=1e-14)


def test_adam_bias_correction_first_step_is_lr_times_sign():
    # m̂ = g, v̂ = g² after one step: the first Adam step is lr·sign(g) (up to eps).
    w, g = np.zeros(4), np.array([3.0, -0.2, 1e-3, -50.0])
    adam_step(w, g, {}, lr=0.1, eps=0.0)
    np.testing.assert_allclose(w, -0.1 * np.sign(g), rtol=1e-13)


def test_adam_weight_decay_differs_from_adamw():
    w0, grads = _problem()
    a = _run(adam_step, w0, grads, lr=0.05, weight_decay=0.5)
    b = _run(adamw_step, w0, grads, lr=0.05, weight_decay=0.5)
    assert np.abs(a - b).max() > 1e-3


def test_momentum_lecture_form_equals_torch_for_constant_lr_only():
    w0, grads = _problem(1)
    np.testing.assert_allclose(_run(momentum_lecture_step, w0, grads, lr=0.1, momentum=0.9),
                               _run(momentum_step, w0, grads, lr=0.1, momentum=0.9), rtol=1e-12)
    lrs = [0.1, 0.1, 0.1, 0.01, 0.01, 0.01]
    a, b, sa, sb = w0.copy(), w0.copy(), {}, {}
    for lr, g in zip(lrs, grads):
        momentum_lecture_step(a, g, sa, lr=lr, momentum=0.9)
        momentum_step(b, g, sb, lr=lr, momentum=0.9)
    assert np.abs(a - b).max() > 1e-2  # PyTorch rescales the old velocity by the new lr


def test_nesterov_lookahead_equals_torch_form_after_change_of_variables():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((4, 4))
    A = A @ A.T + np.eye(4)
    c = rng.standard_normal(4)
    grad = lambda x: A @ (x - c)  # noqa: E731
    lr, rho = 0.05, 0.9
    x, s_look = rng.standard_normal(4), {}
    p, s_torch = x.copy(), {}  # x̃_0 = x_0 + ρ·v_0 = x_0
    for _ in range(20):
        nesterov_lookahead_step(x, grad, s_look, lr=lr, momentum=rho)
        nesterov_step(p, grad(p), s_torch, lr=lr, momentum=rho)
        np.testing.assert_allclose(p, x + rho * s_look["v"], rtol=1e-11, atol=1e-13)  # x̃ = x + ρv
        np.testing.assert_allclose(s_torch["v"], -s_look["v"] / lr, rtol=1e-11, atol=1e-13)


def test_adamw_paper_form_relates_to_torch_form():
    w0, grads = _problem(3)
    a = _run(adamw_step, w0, grads, lr=0.01, weight_decay=0.2)
    b = _run(adamw_paper_step, w0, grads, lr=0.01, weight_decay=0.01 * 0.2, multiplier=1.0)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    # a schedule multiplier η_t scales both parts of the paper's step
    c = _run(adamw_paper_step, w0, grads, lr=0.02, weight_decay=0.004, multiplier=0.5)
    np.testing.assert_allclose(c, b, rtol=1e-12)


def _convention_by_hand(w0, grads, lr, eps, wd, etas, eps_inside, bias_correction, decay, b1=0.9, b2=0.999):
    """AdamW written out step by step from the formulas, each convention a plain branch."""
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, (g, eta) in enumerate(zip(grads, etas), start=1):
        w = w - (lr * eta * wd if decay == "lr" else eta * wd) * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mh, vh = (m / (1 - b1**t), v / (1 - b2**t)) if bias_correction else (m, v)
        w = w - lr * eta * mh / (np.sqrt(vh + eps) if eps_inside else np.sqrt(vh) + eps)
    return w


@pytest.mark.parametrize("eps_inside", [False, True])
@pytest.mark.parametrize("bias_correction", [True, False])
@pytest.mark.parametrize("decay", ["lr", "schedule"])
def test_adamw_convention_step_against_the_formulas(eps_inside, bias_correction, decay):
    w0, grads = _problem(4)
    etas = [1.0 / (1.0 + 0.1 * t) for t in range(len(grads))]
    w, state = w0.copy(), {}
    for g, eta in zip(grads, etas):
        adamw_convention_step(w, g, state, lr=0.05, eps=1e-3, weight_decay=0.3, multiplier=eta,
                              eps_inside=eps_inside, bias_correction=bias_correction, decay=decay)
    want = _convention_by_hand(w0, grads, 0.05, 1e-3, 0.3, etas, eps_inside, bias_correction, decay)
    np.testing.assert_allclose(w, want, rtol=1e-11, atol=1e-13)
    assert not np.allclose(want, w0)


def test_adamw_convention_step_defaults_are_pytorch_and_paper():
    w0, grads = _problem(5)
    a = _run(adamw_step, w0, grads, lr=0.02, weight_decay=0.1)
    np.testing.assert_array_equal(_run(adamw_convention_step, w0, grads, lr=0.04, weight_decay=0.1, multiplier=0.5), a)
    b = _run(adamw_paper_step, w0, grads, lr=0.02, weight_decay=0.1, multiplier=0.5)
    np.testing.assert_array_equal(
        _run(adamw_convention_step, w0, grads, lr=0.02, weight_decay=0.1, multiplier=0.5, decay="schedule"), b)
    with pytest.raises(ValueError, match="decay"):
        adamw_convention_step(w0.copy(), grads[0], {}, decay="alpha")


# --------------------------------------------------------------------------- convergence
QUADRATIC_OPTIMIZERS = [
    (sgd_step, dict(lr=0.2)), (momentum_step, dict(lr=0.05)), (nesterov_step, dict(lr=0.05)),
    (adagrad_step, dict(lr=0.5)), (rmsprop_step, dict(lr=0.01)), (adam_step, dict(lr=0.05)),
    (adamw_step, dict(lr=0.05, weight_decay=0.0)), (rmsprop_lecture_step, dict(lr=0.01)),
    (adam_lecture_step, dict(lr=0.05)), (momentum_lecture_step, dict(lr=0.05)),
]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dim=st.integers(1, 5))
def test_every_optimizer_drives_a_convex_quadratic_to_its_minimum(seed, dim):
    # f(w) = ½ Σ a_i (w_i − c_i)², curvatures a_i in [0.5, 2], start 1–3 away per coordinate
    rng = np.random.default_rng(seed)
    a, c = rng.uniform(0.5, 2.0, dim), rng.uniform(-3, 3, dim)
    w0 = c + rng.choice([-1, 1], dim) * rng.uniform(1, 3, dim)
    f = lambda w: 0.5 * np.sum(a * (w - c) ** 2)  # noqa: E731
    for step, hyper in QUADRATIC_OPTIMIZERS:
        w, state = w0.copy(), {}
        for _ in range(400):
            step(w, a * (w - c), state, **hyper)
        assert f(w) < 1e-3 * f(w0), (step.__name__, f(w), f(w0))


# --------------------------------------------------------------------------- classes
def _dicts(rng, keys=("0.W", "0.b", "1.gamma")):
    shapes = {"0.W": (3, 2), "0.b": (2,), "1.gamma": (2,)}
    return {k: rng.standard_normal(shapes[k]) for k in keys}


def _functional(kind, hyper, wd):
    """The functional step a class should perform, with L2 decay folded into g where torch does."""
    def l2(fn, **kw):
        return lambda w, g, s: fn(w, g + wd * w, s, **kw)
    if kind == "sgd":
        return l2(sgd_step, lr=hyper["lr"])
    if kind == "momentum":
        return l2(momentum_step, lr=hyper["lr"], momentum=hyper["momentum"])
    if kind == "nesterov":
        return l2(nesterov_step, lr=hyper["lr"], momentum=hyper["momentum"])
    if kind == "adagrad":
        return l2(adagrad_step, lr=hyper["lr"])
    if kind == "rmsprop":
        return l2(rmsprop_step, lr=hyper["lr"])
    fn = adam_step if kind == "adam" else adamw_step
    return lambda w, g, s: fn(w, g, s, lr=hyper["lr"], beta1=0.8, beta2=0.95, weight_decay=wd)


def _class(kind, hyper, wd):
    lr, mu = hyper["lr"], hyper["momentum"]
    return {"sgd": lambda: SGD(lr, weight_decay=wd),
            "momentum": lambda: SGD(lr, momentum=mu, weight_decay=wd),
            "nesterov": lambda: SGD(lr, momentum=mu, nesterov=True, weight_decay=wd),
            "adagrad": lambda: Adagrad(lr, weight_decay=wd),
            "rmsprop": lambda: RMSprop(lr, weight_decay=wd),
            "adam": lambda: Adam(lr, betas=(0.8, 0.95), weight_decay=wd),
            "adamw": lambda: AdamW(lr, betas=(0.8, 0.95), weight_decay=wd)}[kind]()


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]),
       lr=st.floats(1e-3, 0.5), momentum=st.floats(0.1, 0.95), wd=st.sampled_from([0.0, 0.1]),
       seed=st.integers(0, 2**32 - 1))
def test_classes_agree_with_functional_steps_step_for_step(kind, lr, momentum, wd, seed):
    rng = np.random.default_rng(seed)
    hyper = dict(lr=lr, momentum=momentum)
    params = _dicts(rng)
    ref = {k: v.copy() for k, v in params.items()}
    states = {k: {} for k in params}
    opt, step = _class(kind, hyper, wd), _functional(kind, hyper, wd)
    for _ in range(4):
        grads = _dicts(rng)
        live = params["0.W"]
        opt.step(params, grads)
        assert params["0.W"] is live  # updated in place
        for k in ref:
            step(ref[k], grads[k], states[k])
            np.testing.assert_allclose(params[k], ref[k], rtol=1e-13, atol=1e-15)


def test_class_lr_is_settable_and_used():
    rng = np.random.default_rng(0)
    params, grads = _dicts(rng), _dicts(rng)
    w0 = params["0.b"].copy()
    opt = SGD(0.1)
    opt.lr = 0.5
    opt.step(params, grads)
    np.testing.assert_allclose(params["0.b"], w0 - 0.5 * grads["0.b"], rtol=1e-14)
    with pytest.raises(ValueError, match="lr: expected a non-negative number"):
        opt.lr = -1.0


# --------------------------------------------------------------------------- clipping
arrays = st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)), min_size=1, max_size=4)


@settings(max_examples=50, deadline=None)
@given(shapes=arrays, scale=st.floats(1e-3, 1e3), max_norm=st.floats(1e-2, 10.0),
       seed=st.integers(0, 2**32 - 1))
def test_clip_grad_norm_sets_the_global_norm(shapes, scale, max_norm, seed):
    rng = np.random.default_rng(seed)
    grads = {str(i): scale * rng.standard_normal(s) for i, s in enumerate(shapes)}
    before = {k: g.copy() for k, g in grads.items()}
    total_before = math.sqrt(sum(float(np.sum(g**2)) for g in before.values()))
    total = clip_grad_norm(grads, max_norm)
    assert total == pytest.approx(total_before, rel=1e-12)
    after = math.sqrt(sum(float(np.sum(g**2)) for g in grads.values()))
    if total_before > max_norm:
        # torch's coefficient max_norm / (total + 1e-6): the norm is max_norm up to that 1e-6
        assert after == pytest.approx(max_norm * total / (total + 1e-6), rel=1e-12)
        assert after == pytest.approx(max_norm, rel=2e-6 / total)
        for k in grads:  # all arrays scaled by the same factor: direction kept
            np.testing.assert_allclose(grads[k], before[k] * (after / total), rtol=1e-12)
    else:
        for k in grads:
            np.testing.assert_array_equal(grads[k], before[k])


@settings(max_examples=50, deadline=None)
@given(shapes=arrays, clip=st.floats(0.0, 5.0), seed=st.integers(0, 2**32 - 1))
def test_clip_grad_value_bounds(shapes, clip, seed):
    rng = np.random.default_rng(seed)
    grads = {str(i): 3 * rng.standard_normal(s) for i, s in enumerate(shapes)}
    before = {k: g.copy() for k, g in grads.items()}
    assert clip_grad_value(grads, clip) is None
    for k, g in grads.items():
        assert np.all(np.abs(g) <= clip)
        inside = np.abs(before[k]) <= clip
        np.testing.assert_array_equal(g[inside], before[k][inside])
        np.testing.assert_array_equal(g[~inside], clip * np.sign(before[k][~inside]))


def test_clip_grad_norm_leaves_small_gradients_alone_and_returns_float():
    grads = {"a": np.array([3.0, 4.0])}
    assert clip_grad_norm(grads, 10.0) == 5.0
    np.testing.assert_array_equal(grads["a"], [3.0, 4.0])
    clip_grad_norm(grads, 1.0)
    np.testing.assert_allclose(grads["a"], np.array([0.6, 0.8]) * 5 / (5 + 1e-6), rtol=1e-15)


# --------------------------------------------------------------------------- schedules
def test_schedules_exact_values():
    assert step_decay(0.1, 0) == 0.1
    assert step_decay(0.1, 9) == 0.1
    assert step_decay(0.1, 10) == 0.05
    assert step_decay(0.1, 25) == 0.1 * 0.25
    assert step_decay(1.0, 7, drop=0.1, every=3) == pytest.approx(0.01, rel=1e-15)
    assert exponential_decay(0.1, 0, 0.5) == 0.1
    assert exponential_decay(0.1, 2, 0.5) == pytest.approx(0.1 * math.exp(-1.0), rel=1e-15)
    assert inverse_time_decay(0.1, 3, 0.5) == pytest.approx(0.04, rel=1e-15)
    assert inverse_time_decay(0.1, 0, 0.5) == 0.1


# --------------------------------------------------------------------------- bad input
W = np.zeros(3)
G = np.ones(3)


@pytest.mark.parametrize("call, match", [
    (lambda: sgd_step(W.copy(), G, {}, lr=-0.1), "lr: expected a non-negative number"),
    (lambda: adam_step(W.copy(), G, {}, eps=-1e-8), "eps: expected a non-negative number"),
    (lambda: rmsprop_step(W.copy(), G, {}, eps=-1.0), "eps: expected a non-negative number"),
    (lambda: adagrad_step(W.copy(), G, {}, eps=-1.0), "eps: expected a non-negative number"),
    (lambda: adam_step(W.copy(), G, {}, beta1=1.0), r"beta1: expected a number in \[0, 1\)"),
    (lambda: adamw_step(W.copy(), G, {}, beta2=-0.1), "beta2: expected a non-negative number"),
    (lambda: momentum_step(W.copy(), G, {}, lr=0.1, momentum=1.0), r"momentum: expected a number in \[0, 1\)"),
    (lambda: nesterov_step(W.copy(), G, {}, lr=0.1, momentum=-0.5), "momentum: expected a non-negative"),
    (lambda: rmsprop_step(W.copy(), G, {}, alpha=1.5), r"alpha: expected a number in \[0, 1\)"),
    (lambda: adamw_step(W.copy(), G, {}, weight_decay=-0.1), "weight_decay: expected a non-negative"),
    (lambda: sgd_step(W.copy(), np.ones(4), {}, lr=0.1), r"w and dw: expected the same shape"),
    (lambda: sgd_step([0.0, 0.0, 0.0], G, {}, lr=0.1), "w: expected a float numpy array"),
    (lambda: sgd_step(np.zeros(3, dtype=int), G, {}, lr=0.1), "w: expected a float numpy array"),
    (lambda: sgd_step(W.copy(), G, None, lr=0.1), "state: expected a dict"),
    (lambda: nesterov_lookahead_step(W.copy(), G, {}, lr=0.1), "grad_fn: expected a callable"),
    (lambda: SGD(-1.0), "lr: expected a non-negative number"),
    (lambda: SGD(0.1, momentum=1.0), r"momentum: expected a number in \[0, 1\)"),
    (lambda: SGD(0.1, nesterov=True), "nesterov: Nesterov momentum requires momentum > 0"),
    (lambda: Adam(betas=(0.9, 1.0)), r"betas\[1\]: expected a number in \[0, 1\)"),
    (lambda: AdamW(betas=0.9), "betas: expected a pair"),
    (lambda: Adam(eps=-1.0), "eps: expected a non-negative number"),
    (lambda: Adagrad(weight_decay=-1.0), "weight_decay: expected a non-negative"),
    (lambda: RMSprop(alpha=1.0), r"alpha: expected a number in \[0, 1\)"),
    (lambda: SGD(0.1).step({"a": W.copy()}, {"b": G}), r"params and grads: expected the same keys"),
    (lambda: SGD(0.1).step([W.copy()], [G]), "params, grads: expected two dicts"),
    (lambda: clip_grad_norm({"a": G.copy()}, -1.0), "max_norm: expected a non-negative number"),
    (lambda: clip_grad_value({"a": G.copy()}, -1.0), "clip_value: expected a non-negative number"),
    (lambda: clip_grad_value([G.copy()], 1.0), "grads: expected a dict"),
    (lambda: clip_grad_norm({"a": [1.0, 2.0]}, 1.0), r"grads\['a'\]: expected a float numpy array"),
    (lambda: step_decay(-0.1, 3), "lr0: expected a non-negative number"),
    (lambda: step_decay(0.1, 3, every=0), "every: expected an integer >= 1"),
    (lambda: step_decay(0.1, -1), "epoch: expected an integer >= 0"),
    (lambda: exponential_decay(0.1, 1, -2.0), "k: expected a non-negative number"),
    (lambda: inverse_time_decay(0.1, -1, 2.0), "t: expected a non-negative number"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_public_names():
    for name in ["sgd_step", "momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step",
                 "adam_step", "adamw_step", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW",
                 "clip_grad_value", "clip_grad_norm", "step_decay", "exponential_decay",
                 "inverse_time_decay"]:
        assert name in optim.__all__ and callable(getattr(optim, name))


# --------------------------------------------------------------------------- in-place contracts
def _grads_dict(seed=0, scale=10.0):
    rng = np.random.default_rng(seed)
    return {"W": scale * rng.standard_normal((3, 4)), "b": scale * rng.standard_normal(4)}


@pytest.mark.parametrize("clip, arg", [(clip_grad_value, 2.0), (clip_grad_norm, 3.0)])
def test_clipping_changes_the_dicts_arrays_in_place_and_nothing_else(clip, arg):
    """As torch.nn.utils.clip_grad_*_: the arrays the caller holds are clipped; the dict keeps
    its keys and its array objects, and other references to other arrays are untouched."""
    grads = _grads_dict()
    held = dict(grads)                       # the caller's own references to the arrays
    before = {k: v.copy() for k, v in grads.items()}
    bystander = before["W"].copy()           # an array not in the dict
    keys = list(grads)
    clip(grads, arg)
    assert list(grads) == keys and all(grads[k] is held[k] for k in keys)
    np.testing.assert_array_equal(bystander, before["W"])
    if clip is clip_grad_value:
        for k in keys:
            np.testing.assert_array_equal(held[k], np.clip(before[k], -arg, arg))
    else:
        total = np.sqrt(sum(np.sum(v * v) for v in before.values()))
        for k in keys:
            np.testing.assert_allclose(held[k], before[k] * arg / (total + 1e-6), rtol=1e-14)
        assert abs(np.sqrt(sum(np.sum(v * v) for v in held.values())) - arg) < 1e-5


def test_clip_grad_norm_below_max_norm_leaves_the_arrays_bit_for_bit():
    grads = _grads_dict(scale=0.01)
    before = {k: v.copy() for k, v in grads.items()}
    total = clip_grad_norm(grads, 100.0)
    assert total == pytest.approx(np.sqrt(sum(np.sum(v * v) for v in before.values())), rel=1e-14)
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])


@pytest.mark.parametrize("make", [lambda: SGD(lr=0.1, momentum=0.9, weight_decay=0.1), lambda: Adagrad(lr=0.1),
                                  lambda: RMSprop(lr=0.01), lambda: Adam(lr=0.01, weight_decay=0.1),
                                  lambda: AdamW(lr=0.01)])
def test_optimizer_classes_update_params_in_place_and_never_touch_grads(make):
    """step(params, grads): every parameter array is updated in place (the same objects, as a
    model that holds them needs), the dict keeps its keys, and the gradients are read only."""
    opt = make()
    params, grads = _grads_dict(1, 1.0), _grads_dict(2, 1.0)
    held = dict(params)
    p_before, g_before = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in grads.items()}
    g_held = dict(grads)
    for _ in range(3):
        opt.step(params, grads)
    assert list(params) == list(held) and all(params[k] is held[k] for k in held)
    assert all(grads[k] is g_held[k] for k in g_held)
    for k in grads:
        np.testing.assert_array_equal(grads[k], g_before[k])
        assert not np.array_equal(params[k], p_before[k]), f"{k} was not updated"
