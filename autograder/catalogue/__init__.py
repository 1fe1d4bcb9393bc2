"""The exercise registry and the misconception catalogue, one module per topic.

Each topic module (``backprop``, ``divergences``, ``batchnorm``, ``dropout``,
``initialization``, ``optimizers``, ``regularization``, ``training``, ``schedules``) defines

* ``EXERCISES``: a list of :class:`Exercise` — how to draw an exercise's inputs from a
  seeded generator, how to call an implementation on them, and the `tnn_lib` reference;
* ``MISCONCEPTIONS``: a list of :class:`Misconception` — a named wrong variant of one
  exercise, a one-line title, and a hint that points to the formula in the notebook.

A misconception may also declare how it composes with others: ``factory`` (a function of
keyword flags that returns a wrong variant) and ``flags`` (the flags that make its own mistake).
For every two misconceptions of one exercise with the same factory and disjoint flag keys,
:func:`pairs_for` derives a :class:`Pair`, the variant with both mistakes,
``factory(**a.flags, **b.flags)``; the checks name both when an answer matches a pair on every
case (see AUTHORING.md, "Composable misconceptions").

`autograder.checks.check` uses both; grading reads the misconception ids back from
the failure messages.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from tnn_lib.topics import TOPICS as _TOPICS

TOPICS = tuple(t.name for t in _TOPICS)


def _call_positional(impl, inputs):
    return impl(*inputs.values())


@dataclass
class Exercise:
    """One function a student implements.

    make_inputs(rng, case=None, **sizes) -> dict of the arguments, in call order.
    call(impl, inputs) -> what is compared (default: ``impl(*inputs.values())``).
    diagnostic_cases: keyword arguments of extra cases on which a wrong answer must match a
    misconception's variant, as well as on the cases its test cell checks, to be named.
    For forward functions `call` keeps only ``out``; for backward functions it builds
    the cache with the *reference* forward and passes it to ``impl``.
    """

    name: str
    reference: Callable
    make_inputs: Callable[..., dict]
    call: Callable[[Callable, dict], Any] = _call_positional
    tol: float = 1e-7
    mutates: bool = False          # optimizer steps and clipping update arguments in place
    output_name: str = "output"
    topic: str = ""
    # Extra cases (check's keyword arguments) a misconception must also match on before it
    # is named: shapes and values where the catalogued mistakes cannot coincide.
    diagnostic_cases: tuple = ({"seed": 104729},)


@dataclass
class Misconception:
    """A catalogued wrong answer: `impl` has the exercise's signature.

    factory, flags: optional; ``factory(**flags)`` is this mistake as a variant that composes
    with the other misconceptions of the exercise declared with the same factory (see
    :func:`pairs_for`). Without `impl`, `impl` is ``factory(**flags)``; with one (a variant
    written out as a student would write it), the two must agree on every case checked
    (tests/test_catalogue.py). In the student edition `factory` is the factory's name as text, ``"<_adam>"``.
    """

    exercise: str
    id: str
    title: str
    hint: str
    impl: Callable = field(default=None, repr=False)
    factory: Any = field(default=None, repr=False)
    flags: dict | None = None

    def __post_init__(self):
        if (self.factory is None) != (self.flags is None):
            raise ValueError(f"{self.id}: a composable misconception declares both factory and flags")
        if self.impl is None and callable(self.factory):
            self.impl = self.factory(**self.flags)


def _factory_name(factory) -> str:
    """``"<name>"`` of a factory; in the student edition `factory` is already that text."""
    return factory if isinstance(factory, str) else f"<{getattr(factory, '__qualname__', repr(factory))}>"


@dataclass
class Pair:
    """Two composable misconceptions of one exercise made at once: `impl` is the variant with
    both mistakes (None in the student edition, which holds its recorded outcomes instead)."""

    exercise: str
    id: str
    parts: tuple
    impl: Callable = field(default=None, repr=False)


_cache: dict = {}


def _load():
    if "all" not in _cache:
        exercises, misconceptions = {}, {}
        for topic in TOPICS:
            try:
                mod = importlib.import_module(f"autograder.catalogue.{topic}")
            except ModuleNotFoundError as err:
                if err.name == f"autograder.catalogue.{topic}":
                    continue
                raise
            for ex in getattr(mod, "EXERCISES", []):
                ex.topic = topic
                exercises[ex.name] = ex
            for m in getattr(mod, "MISCONCEPTIONS", []):
                misconceptions.setdefault(m.exercise, []).append(m)
        _cache["all"] = (exercises, misconceptions)
    return _cache["all"]


def get_exercise(name: str) -> Exercise:
    exercises, _ = _load()
    if name not in exercises:
        raise ValueError(f"unknown exercise {name!r}; expected one of {sorted(exercises)}")
    return exercises[name]


def all_exercises() -> dict:
    return dict(_load()[0])


def misconceptions_for(name: str) -> list:
    return list(_load()[1].get(name, []))


def pairs_for(name: str) -> list:
    """The pairs of composable misconceptions of exercise `name`: every two declared with the
    same factory and disjoint flag keys, in catalogue order; id ``<first id>+<second id>``."""
    if ("pairs", name) not in _cache:
        _cache[("pairs", name)] = derive_pairs(name, misconceptions_for(name))
    return list(_cache[("pairs", name)])


def derive_pairs(name: str, misconceptions) -> list:
    """The :class:`Pair` of every two composable `misconceptions` of exercise `name`."""
    ms = [m for m in misconceptions if m.flags is not None and m.exercise == name]
    out = []
    for i, a in enumerate(ms):
        for b in ms[i + 1:]:
            if _factory_name(a.factory) != _factory_name(b.factory) or set(a.flags) & set(b.flags):
                continue
            impl = a.factory(**a.flags, **b.flags) if callable(a.factory) else None
            out.append(Pair(name, f"{a.id}+{b.id}", (a, b), impl))
    return out


def find_misconception(mid: str):
    for ms in _load()[1].values():
        for m in ms:
            if m.id == mid:
                return m
    return None
