"""Shortcuts to the reference: callables of `tnn_lib` other than an exercise's own reference
that reproduce its answer ("near-twins").

A reference is not the only door to an answer. ``optim._adam`` holds the body of
``adam_step``; ``leaky_relu_backward(dout, (z, 0.0))`` is ``relu_backward``;
``np.exp(log_softmax(z))`` is ``softmax``; the layer means and standard deviations of
``forward_activations`` are ``activation_statistics``. The student edition must hold none of
them, and the grading sandbox of an assignment must not offer them to its answers.

:func:`find_twins` finds them systematically, not case by case: for every exercise it calls
every function and every optimizer-like class reachable in `tnn_lib` (public or private,
except the exercise's own reference), through a few generic adapters of the arguments and of
the result, on the exercise's visible check cases and diagnostic cases, and reports each that
reproduces the reference's output on all of them. :data:`TWINS` is what it found, committed
(in :mod:`autograder.sandbox.twins`; ``tests/test_shortcuts.py`` runs the search and fails when it
finds one that is not listed):
the student edition stubs every twin (:mod:`autograder.release.edition`), and the grading sandbox of an
assignment stubs the twins of its exercises (:mod:`autograder.sandbox.launch`).
"""
from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import io
import json
import warnings

import numpy as np

from autograder.catalogue import get_exercise, all_exercises
from autograder.checks import check_cases, compare
from autograder.course import course_root
from autograder.sandbox.twins import TWINS, twin_names  # noqa: F401 - the table this search keeps complete

# modules searched (tnn_lib.<name>); data sets, widgets and the student registry hold no answer
MODULES = ("layers", "gradcheck", "divergences", "batchnorm", "dropout", "init", "optim", "schedules",
           "regularization", "nn", "train")


# ----------------------------------------------------------------------------------------
# the search
# ----------------------------------------------------------------------------------------
def candidates():
    """(dotted name, object) of every function and class defined in the searched modules."""
    out = []
    for m in MODULES:
        mod = importlib.import_module(f"tnn_lib.{m}")
        for name, obj in sorted(vars(mod).items()):
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and getattr(obj, "__module__", "") == mod.__name__:
                out.append((f"{m}.{name}", obj))
    return out


def _bind(sig, args, kwargs) -> dict:
    """The exercise's arguments by the reference's parameter names (`sig`: its signature)."""
    b = sig.bind(*args, **kwargs)
    b.apply_defaults()
    return dict(b.arguments)


def _call_by_name(fn, named: dict, extra: dict | None = None):
    """Call `fn` with the arguments of `named` whose names it has (its defaults for the rest)."""
    sig = inspect.signature(fn)
    kw = {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in named:
            kw[p.name] = named[p.name]
        elif extra and p.name in extra:
            kw[p.name] = extra[p.name]
        elif p.default is p.empty:
            raise TypeError(f"no value for {p.name}")
    return fn(**kw)


def _layer_stats(out):
    if isinstance(out, (list, tuple)) and out and all(isinstance(h, tuple) and h for h in out):
        out = [h[-1] for h in out]   # per layer (…, output): its outputs
    if isinstance(out, (list, tuple)) and out and all(isinstance(h, np.ndarray) for h in out):
        return np.array([h.mean() for h in out]), np.array([h.std() for h in out])
    raise TypeError("not a list of arrays")


OUTPUTS = {  # how a candidate's result may be turned into the exercise's
    "": lambda out: out,
    "exp": lambda out: np.exp(out),
    "[0]": lambda out: out[0],
    "layer statistics": _layer_stats,
}


def _adapters(ref, fn):
    """(description, impl) pairs: `fn` made to take the exercise's arguments."""
    is_class = inspect.isclass(fn)
    ins = []
    if not is_class:
        ins.append(("f(*args)", lambda a, k: fn(*a, **k)))
        ins.append(("f(by name)", lambda a, k: _call_by_name(fn, _bind(ref, a, k))))
        # a flag or slope of a more general function set to 0 or 1 (leaky ReLU with slope 0)
        ins.append(("f(*args[:-1], (args[-1], 0.0))", lambda a, k: fn(*a[:-1], (a[-1], 0.0), **k)))
        ins.append(("f(by name, flags False)", lambda a, k: _call_by_name(
            fn, _bind(ref, a, k), {p: False for p in ("decoupled", "eps_inside")})))
        ins.append(("f(by name, decoupled)", lambda a, k: _call_by_name(
            fn, _bind(ref, a, k), {"decoupled": True, "eps_inside": False})))
    else:
        for meth in ("_update", "update", "step"):
            if callable(getattr(fn, meth, None)):
                def via_class(a, k, meth=meth):
                    named = _bind(ref, a, k)
                    if "beta1" in named and "beta2" in named:
                        named["betas"] = (named["beta1"], named["beta2"])
                    obj = _call_by_name(fn, named)
                    state = named.get("state")
                    if isinstance(state, dict):     # one object per trajectory: keep it in the state
                        obj = state.setdefault("__twin_object__", obj)
                        obj.lr = named.get("lr", getattr(obj, "lr", None))
                    m = getattr(obj, meth)
                    try:
                        return _call_by_name(m, named)
                    except TypeError:
                        return m(*a[:2]) if meth != "step" else m(*a)
                ins.append((f"{fn.__name__}(by name).{meth}(...)", via_class))
    return [(f"{i} -> {o}" if o else i, _compose(ia, OUTPUTS[o])) for i, ia in ins for o in OUTPUTS]


def _compose(arg_adapter, out_adapter):
    def impl(*a, **k):
        out = arg_adapter(a, k)
        if out is None and a and isinstance(a[0], np.ndarray):  # an in-place update (a class's _update)
            out = a[0]
        return out_adapter(out)
    return impl


class ReferenceUnavailable(RuntimeError):
    """Raised by a reference while the search runs without it (as in the grading sandbox)."""


def _raise_unavailable(*args, **kwargs):
    # runs with the globals of the function whose code it replaces: reach the class by import
    raise __import__("autograder.release.shortcuts", fromlist=["_"]).ReferenceUnavailable("the reference is not available")


@contextlib.contextmanager
def unavailable(ref):
    """While inside: the reference `ref` (a function, or a class exercise's methods) raises
    wherever it is reached from (aliases, a class's ``staticmethod`` of it), as in the sandbox."""
    fns = []
    if inspect.isclass(ref):
        for v in vars(ref).values():
            f = getattr(v, "__func__", v)
            if inspect.isfunction(f):
                fns.append(f)
    else:
        fns.append(ref)
    saved = [(f, f.__code__) for f in fns if not f.__code__.co_freevars]
    try:
        for f, _ in saved:
            f.__code__ = _raise_unavailable.__code__
        yield
    finally:
        for f, code in saved:
            f.__code__ = code


def exercise_cases(name: str) -> list[dict]:
    """The cases of exercise `name` the search runs: its visible checks in the released
    notebooks, and its diagnostic cases."""
    cases = []
    for path in sorted((course_root() / "notebooks").glob("*/*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell.get("cell_type") == "code":
                for kw in check_cases("".join(cell.get("source", "")), name):
                    if kw not in cases:
                        cases.append(kw)
    for kw in get_exercise(name).diagnostic_cases:
        if kw not in cases:
            cases.append(dict(kw))
    return cases or [{"seed": 0}]


def _outcome(ex, impl, inputs):
    with np.errstate(all="ignore"), warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return ex.call(impl, copy.deepcopy(inputs))


def find_twins(exercises=None) -> dict[str, list[tuple[str, str]]]:
    """{exercise: [(dotted name, adapter)]}: every callable of `tnn_lib` other than the
    exercise's reference that, through an adapter, reproduces the reference's output on
    every case of :func:`exercise_cases`."""
    known = all_exercises()
    names = list(exercises) if exercises else list(known)
    pool = candidates()
    found: dict[str, list[tuple[str, str]]] = {}
    for name in names:
        ex = known[name]
        made = []
        for kw in exercise_cases(name):
            kw = dict(kw)
            seed, case, tol = kw.pop("seed", 0), kw.pop("case", None), kw.pop("tol", None)
            inputs = ex.make_inputs(np.random.default_rng(seed), case=case, **kw)
            made.append((inputs, _outcome(ex, ex.reference, inputs), ex.tol if tol is None else tol))
        signature = inspect.signature(ex.reference)
        with unavailable(ex.reference):
            found.update(_search(ex, name, signature, pool, made))
    return found


def _search(ex, name, signature, pool, made) -> dict:
    found: dict[str, list[tuple[str, str]]] = {}
    if True:
        for dotted, fn in pool:
            if fn is ex.reference:
                continue
            for how, impl in _adapters(signature, fn):
                ok = True
                for inputs, expected, tol in made:
                    try:
                        got = _outcome(ex, impl, inputs)
                    except Exception:  # noqa: BLE001 - does not take these arguments
                        ok = False
                        break
                    if not compare(got, expected, tol).ok:
                        ok = False
                        break
                if ok:
                    found.setdefault(name, []).append((dotted, how))
                    break
    return found


def main(argv=None) -> int:
    """``python -m autograder.release.shortcuts``: print what the search finds, and what TWINS lacks."""
    found = find_twins()
    missing = 0
    for ex, hits in found.items():
        for dotted, how in hits:
            listed = dotted in TWINS.get(ex, ())
            missing += not listed
            print(f"{ex:24s} {dotted:34s} {how}{'' if listed else '   <- NOT IN TWINS'}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
