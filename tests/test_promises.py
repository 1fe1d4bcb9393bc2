"""Every promise of every exercise's docstring has a test (tests/promise_table.py), run on the
tnn_lib reference and on the solution notebooks' answers; and the promises a wrong answer can
break without changing its return values (an argument modified, a result not in place, a cache
entry swapped, a mode not restored, a dtype) are caught by the exercise's own test cells."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import tnn_lib
from promise_table import PROMISES
from tnn_lib.topics import TOPICS

EXERCISES = {ex: t.id for t in TOPICS for ex in t.exercises}
CASES = [(ex, i) for ex in EXERCISES for i in range(len(PROMISES.get(ex, [])))]


def _id(case):
    ex, i = case
    return f"{ex}-{i}"


def test_every_exercise_has_its_promises_written_down():
    assert set(PROMISES) == set(EXERCISES), (set(EXERCISES) ^ set(PROMISES))
    assert all(len(ps) >= 1 for ps in PROMISES.values())


def _reference(name):
    for mod in ("layers", "gradcheck", "divergences", "batchnorm", "dropout", "init", "optim",
                "regularization", "train", "schedules"):
        m = __import__(f"tnn_lib.{mod}", fromlist=[name])
        if hasattr(m, name):
            return getattr(m, name)
    return getattr(tnn_lib, name)


@pytest.mark.parametrize("case", [c for c in CASES if PROMISES[c[0]][c[1]].ref_only != "solution"], ids=_id)
def test_the_reference_keeps_the_promise(case):
    ex, i = case
    PROMISES[ex][i].test(_reference(ex))


@functools.lru_cache(maxsize=None)
def _solution_namespace(aid):
    from mutation_tools import base_namespace
    return base_namespace(aid)


@pytest.mark.parametrize("case", [c for c in CASES if PROMISES[c[0]][c[1]].ref_only in (False, "solution")], ids=_id)
def test_the_solution_keeps_the_promise(case):
    ex, i = case
    ns, _ = _solution_namespace(EXERCISES[ex])
    PROMISES[ex][i].test(ns[ex])


# ---------------------------------------------------------------------------- violations
def _bump(a):
    """Change an argument in place (the first float array found in it)."""
    if isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating) and a.size:
        a.flat[0] += 1.0
        return True
    if isinstance(a, dict):
        return any(_bump(v) for v in a.values())
    if isinstance(a, (tuple, list)):
        return any(_bump(v) for v in a)
    return False


def modifies(pos):
    def wrap(good):
        def bad(*a, **k):
            out = good(*a, **k)
            assert _bump(a[pos]), "nothing to modify"
            return out
        return bad
    return wrap


def not_in_place(good):
    """w (or the grads dict's arrays) left alone: the update goes to a copy that is returned."""
    def bad(*a, **k):
        a = list(a)
        first = a[0]
        a[0] = {kk: v.copy() for kk, v in first.items()} if isinstance(first, dict) else first.copy()
        return good(*a, **k)
    return bad


def ema_replaces(good):
    def bad(avg, params, *a, **k):
        new = {kk: v.copy() for kk, v in avg.items()}
        good(new, params, *a, **k)
        avg.update(new)                     # new arrays in the caller's dict, the old ones stale
        return avg
    return bad


def cache_std_for_var(good):
    def bad(*a, **k):
        out, cache = good(*a, **k)
        c = list(cache)
        c[3] = np.sqrt(c[3] + c[5])
        return out, tuple(c)
    return bad


def cache_mask_bool(good):
    def bad(*a, **k):
        out, cache = good(*a, **k)
        if cache[0] is None:
            return out, cache
        return out, (cache[0].astype(bool),) + tuple(cache[1:])
    return bad


def float32(good):
    def bad(*a, **k):
        return good(*a, **k).astype(np.float32)
    return bad


def mode_flipped(good):
    def bad(model, *a, **k):
        out = good(model, *a, **k)
        model.eval() if model.training else model.train()
        return out
    return bad


def members_mode_flipped(good):
    def bad(models, *a, **k):
        out = good(models, *a, **k)
        for m in models:
            m.eval() if m.training else m.train()
        return out
    return bad


VIOLATIONS = {
    # exercise: [(promise broken, wrapper)]
    "linear_forward": [("x is not modified", modifies(0))],
    "linear_backward": [("dout is not modified", modifies(0))],
    "relu_backward": [("dout is not modified", modifies(0))],
    "sigmoid_backward": [("dout is not modified", modifies(0))],
    "tanh_backward": [("dout is not modified", modifies(0))],
    # "f may close over x" (an answer that perturbs a copy) is not in this list: graded, the
    # answer runs in the sandbox's process and a test cell's closure reads the grader's x, so a
    # hidden test of it fails every correct answer; the promise is tested on the reference and
    # the solution (tests/promise_table.py) and shown by the notebook's own lesson.
    "numerical_gradient": [("x restored exactly", modifies(1))],
    "l2_divergence": [("y is not modified", modifies(0))],
    "l2_divergence_grad": [("y is not modified", modifies(0))],
    "kl_divergence": [("y is not modified", modifies(0))],
    "kl_divergence_grad": [("y is not modified", modifies(0))],
    "softmax": [("z is not modified", modifies(0))],
    "softmax_kl": [("z is not modified", modifies(0))],
    "sigmoid_bce": [("z is not modified", modifies(0))],
    "batchnorm_forward": [("z is not modified", modifies(0)),
                          ("the cache holds σ², not √(σ² + ε)", cache_std_for_var)],
    "batchnorm_jacobian": [("z is not modified", modifies(0))],
    "batchnorm_backward": [("dout is not modified", modifies(0))],
    "population_statistics": [("the batch means are not modified", modifies(0))],
    "layernorm_forward": [("x is not modified", modifies(0)),
                          ("the cache holds σ², not √(σ² + ε)", cache_std_for_var)],
    "layernorm_backward": [("dout is not modified", modifies(0))],
    "weightnorm_backward": [("dw is not modified", modifies(0))],
    "dropout_forward": [("x is not modified", modifies(0)),
                        ("the cache's mask is float64", cache_mask_bool)],
    "dropout_backward": [("dout is not modified", modifies(0))],
    "scale_weights_for_test": [("W is not modified", modifies(0))],
    "mc_dropout_predict": [("x is not modified", modifies(1))],
    "init_weights": [("float64", float32)],
    "activation_statistics": [("x is not modified", modifies(0))],
    "l2_penalty": [("params are not modified", modifies(0))],
    "l1_penalty": [("params are not modified", modifies(0))],
    "clip_grad_value": [("in place", not_in_place)],
    "clip_grad_norm": [("in place", not_in_place)],
    "standardize": [("x is not modified", modifies(0))],
    "evaluate": [("the mode is restored", mode_flipped)],
    "train_epoch": [("the mode is restored", mode_flipped)],
    "gradient_norms": [("grads are not modified", modifies(0))],
    "dead_relu_fraction": [("z is not modified", modifies(0))],
    "ema_update": [("params are not modified", modifies(1)),
                   ("avg's arrays updated in place, not replaced", ema_replaces)],
    "ensemble_predict": [("each member handed back in its mode", members_mode_flipped)],
    "rprop_step": [("dw is not modified", modifies(1)), ("w in place", not_in_place)],
    "quickprop_step": [("dw is not modified", modifies(1)), ("w in place", not_in_place)],
    "max_stable_lr": [("the Hessian is not modified", modifies(0))],
}
for _opt in ("sgd_step", "momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step", "adam_step",
             "adamw_step"):
    VIOLATIONS[_opt] = [("dw is not modified", modifies(1)), ("w in place", not_in_place)]

VCASES = [(ex, i) for ex in EXERCISES for i in range(len(VIOLATIONS.get(ex, [])))]


def _run_with(ex, wrapper):
    import re

    from mutation_tools import _needs, run_tests
    aid = EXERCISES[ex]
    ns, exercises = _solution_namespace(aid)
    exercise = exercises[ex]
    answer = exercise.answer + f"\n{ex} = __violate__({ex})\n"
    ns["__violate__"] = wrapper
    why = run_tests(ns, exercise, answer)
    for _ in range(3):      # a test cell that needs a lesson cell's name: run that lesson cell first
        missing = re.match(r"NameError: name '(\w+)' is not defined", why or "")
        if not missing or not _needs(aid, missing.group(1), ns):
            break
        why = run_tests(ns, exercise, answer)
    return why


@pytest.mark.parametrize("case", VCASES, ids=_id)
def test_the_test_cells_catch_a_broken_promise(case):
    ex, i = case
    promise, wrapper = VIOLATIONS[ex][i]
    assert _run_with(ex, lambda f: f) is None, f"{ex}: the wrapped solution itself fails its test cells"
    why = _run_with(ex, wrapper)
    assert why is not None, f"{ex}: an answer that breaks '{promise}' passes every test cell"
