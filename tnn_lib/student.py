"""The student's own implementations, where the student edition holds no answer.

In the instructor's repository every exercise of `tnn_lib` is the reference, and nothing
here is consulted. In the student edition (``tnn-course release --student-edition``) the
body of every exercise whose answer is not released is replaced by a stub that calls
:func:`implementation`:

    def adam_step(w, dw, config=None):
        return _student.implementation("adam_step")(w, dw, config)

so that the lessons, the `tnn_lib` classes (``BatchNorm1d``, the optimizer classes,
training) and the widgets run on the student's own code once it exists. A notebook's
visible check registers the student's function (:func:`register`) when it passes; until
then :func:`implementation` raises :class:`NotImplementedYet`, whose message names the
exercise to implement first and where, never a traceback from inside `tnn_lib`.

The registry lives in the kernel's memory only: a restarted kernel starts empty, and Run All
registers again as the checks pass.
"""
from __future__ import annotations

from typing import Callable

# True in the student edition (the release rewrites this line); False in the repository.
EDITION = False

_REGISTERED: dict[str, Callable] = {}


class NotImplementedYet(NotImplementedError):
    """An exercise the student has not implemented (or whose visible check has not passed
    yet) was needed by a lesson, a `tnn_lib` class or a widget."""

    def __init__(self, name: str):
        self.exercise = name
        super().__init__(f"implement `{name}` first ({home(name)}); this needs it, and it runs on "
                         f"your own `{name}` once its visible check passes")


def home(name: str) -> str:
    """Where exercise `name` is written: the notebook (and section, where known)."""
    from tnn_lib.topics import TOPICS

    for topic in TOPICS:
        if name in topic.exercises:
            section = SECTIONS.get(name)
            return f"notebook {topic.id}" + (f", {section}" if section else "")
    return "its notebook"


# exercise -> the section of its notebook where the student writes it (filled per notebook)
SECTIONS: dict[str, str] = {}


def register(name: str, fn: Callable) -> None:
    """Use `fn`, the student's own implementation of exercise `name`, wherever the edition
    has a stub for it."""
    if not callable(fn):
        raise ValueError(f"register({name!r}, fn): expected a function, got {type(fn).__name__}")
    _REGISTERED[name] = fn


def registered(name: str) -> Callable | None:
    """The student's registered implementation of `name`, or None."""
    return _REGISTERED.get(name)


def implementation(name: str) -> Callable:
    """The student's registered implementation of exercise `name`; raises
    :class:`NotImplementedYet` when there is none yet."""
    fn = _REGISTERED.get(name)
    if fn is None:
        raise NotImplementedYet(name)
    return fn


def forget(name: str | None = None) -> None:
    """Drop the registration of `name` (of every exercise when None)."""
    if name is None:
        _REGISTERED.clear()
    else:
        _REGISTERED.pop(name, None)
