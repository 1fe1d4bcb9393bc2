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
    :class:`NotImplementedYet` when there is none yet.

    In the edition, where the release recorded calls of `name` (the visible checks' and
    test cells' own calls of the reference, :mod:`tnn_lib.recorded`), what it returns first
    replays the recorded call whose arguments these are, so that a check gives the same
    message as in the repository; other arguments go to the registered implementation."""
    fn = _REGISTERED.get(name)
    if EDITION and (name in _CHECKING or _recorded_calls(name)):
        return _Replaying(name, fn)
    if fn is None:
        raise NotImplementedYet(name)
    return fn


def near_twin(twin: str, exercise: str) -> Callable:
    """In the edition, a `tnn_lib` function that would reproduce `exercise`'s answer (a
    near-twin, such as ``forward_activations`` for ``activation_statistics``): what is
    registered under the twin's own name, else a recorded call, else :class:`NotImplementedYet`
    naming `exercise`."""
    fn = _REGISTERED.get(twin)
    if EDITION and (_recorded_calls(twin) or exercise in _CHECKING):
        return _Replaying(twin, fn, exercise)
    if fn is None:
        raise NotImplementedYet(exercise)
    return fn


def replayed(twin: str, exercise: str, args: tuple):
    """In the edition: (True, result) of a recorded call of near-twin `twin` with these
    arguments, else (False, None); raises :class:`OwnReference` while `exercise` is checked."""
    if not EDITION:
        return False, None
    if exercise in _CHECKING or twin in _CHECKING:
        raise OwnReference(f"the reference of {exercise} is not in the student edition")
    if not _recorded_calls(twin):
        return False, None
    from tnn_lib.recorded import STORE
    return STORE.replay(twin, args)


class OwnReference(RuntimeError):
    """A check's answer called the edition's stub of the very exercise it is checked for."""


# exercises whose visible check is running (autograder.checks): their stubs replay nothing
_CHECKING: list = []


def _recorded_calls(name: str) -> bool:
    try:
        from tnn_lib.recorded import STORE
    except ImportError:
        return False
    return bool(STORE.calls(name))


class _Replaying:
    def __init__(self, name, fn, exercise=None):
        self.name, self.fn, self.exercise = name, fn, exercise or name

    def __call__(self, *args, **kwargs):
        if self.exercise in _CHECKING or self.name in _CHECKING:
            raise OwnReference(f"the reference of {self.exercise} is not in the student edition")
        if not kwargs:
            from tnn_lib.recorded import STORE
            found, result = STORE.replay(self.name, args)
            if found:
                return result
        if self.fn is None:
            raise NotImplementedYet(self.exercise)
        return self.fn(*args, **kwargs)


def forget(name: str | None = None) -> None:
    """Drop the registration of `name` (of every exercise when None)."""
    if name is None:
        _REGISTERED.clear()
    else:
        _REGISTERED.pop(name, None)
