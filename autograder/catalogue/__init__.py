"""The exercise registry and the misconception catalogue, one module per topic.

Each topic module (``backprop``, ``divergences``, ``batchnorm``, ``dropout``,
``initialization``, ``optimizers``, ``regularization``, ``training``, ``schedules``) defines

* ``EXERCISES``: a list of :class:`Exercise` — how to draw an exercise's inputs from a
  seeded generator, how to call an implementation on them, and the `tnn_lib` reference;
* ``MISCONCEPTIONS``: a list of :class:`Misconception` — a named wrong variant of one
  exercise, a one-line title, and a hint that points to the formula in the notebook.

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
    """A catalogued wrong answer: `impl` has the exercise's signature."""

    exercise: str
    id: str
    title: str
    hint: str
    impl: Callable = field(repr=False)


_cache: dict[str, tuple[dict, dict]] = {}


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


def find_misconception(mid: str):
    for ms in _load()[1].values():
        for m in ms:
            if m.id == mid:
                return m
    return None
