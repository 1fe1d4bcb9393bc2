"""The student edition simulated in the repository's own process, for tests.

`simulate_edition(monkeypatch)` does to the loaded `tnn_lib` what the edition's release
does to its files: every exercise becomes a stub of the contract form
``return _student.implementation("NAME")(...)`` carrying ``__tnn_stub__ = "NAME"``, and
``tnn_lib.student.EDITION`` is True. Every binding of the reference is replaced: module
globals (``from tnn_lib.layers import linear_forward`` in ``nn``) and the staticmethods
classes keep (``Adam._fn``, ``ReLU._backward``). It returns the references by name, so a
test can register them as "the student's answers", or register its own.

`simulate_edition_in_kernel()` is the same as code for a notebook kernel (nbclient), run
as its first cell.
"""
from __future__ import annotations

import importlib
import pkgutil

MODULES = ("layers", "gradcheck", "divergences", "batchnorm", "dropout", "init", "optim", "schedules",
           "regularization", "nn", "train", "data")


def make_stub(name: str):
    from tnn_lib import student

    def stub(*args, **kwargs):
        return student.implementation(name)(*args, **kwargs)

    stub.__name__ = stub.__qualname__ = name
    stub.__tnn_stub__ = name
    return stub


def _modules():
    import tnn_lib
    mods = [importlib.import_module(f"tnn_lib.{m}") for m in MODULES]
    import tnn_lib.widgets as w
    for info in pkgutil.iter_modules(w.__path__):
        try:
            mods.append(importlib.import_module(f"tnn_lib.widgets.{info.name}"))
        except ImportError:
            pass
    return [tnn_lib] + mods


def _plan(released=()):
    """[(owner, attribute, new value)] and the references by name; the exercises of the
    assignments in `released` keep their reference (``--answers``)."""
    from autograder.catalogue import get_exercise
    from tnn_lib import student
    from tnn_lib.topics import BY_ID
    kept = {n for aid in released for n in BY_ID[aid].exercises}
    names = student.exercises()
    for name in names:          # the checks keep comparing with the reference, as in the repository
        get_exercise(name)
    mods = _modules()
    refs = {}
    for mod in mods:
        for name in names:
            obj = mod.__dict__.get(name)
            if obj is not None and getattr(obj, "__module__", "").startswith("tnn_lib") and name not in refs:
                refs[name] = obj
    missing = names - set(refs)
    if missing:
        raise AssertionError(f"exercises not found in tnn_lib: {sorted(missing)}")
    by_id = {id(f): n for n, f in refs.items() if n not in kept}
    stubs = {n: make_stub(n) for n in refs}
    changes = []
    for mod in mods:
        for attr, value in list(vars(mod).items()):
            if id(value) in by_id:
                changes.append((mod, attr, stubs[by_id[id(value)]]))
            elif isinstance(value, type) and value.__module__.startswith("tnn_lib"):
                for cattr, cval in list(vars(value).items()):
                    if isinstance(cval, staticmethod) and id(cval.__func__) in by_id:
                        changes.append((value, cattr, staticmethod(stubs[by_id[id(cval.__func__)]])))
    return changes, refs


REFERENCES: dict = {}   # name -> the reference, while an edition is simulated


def simulate_edition(monkeypatch, released=()) -> dict:
    from tnn_lib import student
    changes, refs = _plan(released)
    monkeypatch.setattr(__import__(__name__), "REFERENCES", refs)
    for owner, attr, new in changes:
        monkeypatch.setattr(owner, attr, new)
    monkeypatch.setattr(student, "EDITION", True)
    student.forget()
    return refs


def install_in_process(released=()) -> dict:
    """As :func:`simulate_edition`, for good (a notebook kernel's process)."""
    from tnn_lib import student
    global REFERENCES
    changes, refs = _plan(released)
    REFERENCES = refs
    for owner, attr, new in changes:
        setattr(owner, attr, new)
    student.EDITION = True
    student.forget()
    return refs


def kernel_cell(tests_dir, released=()) -> str:
    """The source of a first notebook cell that turns the kernel into the simulated edition
    (with the answers of the assignments in `released`)."""
    return (f"import sys; sys.path.insert(0, {str(tests_dir)!r})\n"
            f"import edition_tools; edition_tools.install_in_process({tuple(released)!r}); del edition_tools, sys")


def checked_as_in_the_edition(check, name, fn, **kwargs):
    """``check(name, fn, ...)`` in the simulated edition. The repository's checks make their
    inputs with tnn_lib (a softmax for KL's inputs, the reference forward's cache for a
    backward), which the edition's checks take from recorded data instead: while the check
    runs, the references stand in for exercises the student has not registered; only `name`
    is registered by it."""
    from tnn_lib import student
    if not REFERENCES:
        return check(name, fn, **kwargs)
    missing = {n: f for n, f in REFERENCES.items() if n != name and student.registered(n) is None}
    for n, f in missing.items():
        student.register(n, f)
    try:
        return check(name, fn, **kwargs)
    finally:
        for n in missing:
            student.forget(n)
