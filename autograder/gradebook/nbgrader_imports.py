"""nbgrader's modules without what a grading does not use on the way.

:func:`nbgrader_package_deferred`: nbgrader's package ``__init__`` (its server extensions)
runs only when something asks the package itself for a name.

``nbgrader.utils`` (imported by ``nbgrader.api``, the gradebook's models) takes three
functions of ``setuptools.archive_util``, which it calls only to unpack an archive of
collected submissions. Importing that module imports the whole ``setuptools`` package,
``pkg_resources`` with it, which reads every installed distribution's metadata: 0.3 s of CPU
in every grading that opens a gradebook, as long as the rest of nbgrader's API.

:func:`without_setuptools` puts a stand-in under that module's name before nbgrader is
imported: the same three functions, which import the real module on their first call (and
so does any other name asked of it). Nothing changes where setuptools is already imported.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types

ARCHIVE_UTIL = "setuptools.archive_util"
FUNCTIONS = ("unpack_archive", "unpack_tarfile", "unpack_zipfile")


class _StandIn(types.ModuleType):
    """``setuptools.archive_util`` until something is asked of it that the three functions
    are not: then the real module, imported at that moment."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(real_archive_util(), name)


def real_archive_util() -> types.ModuleType:
    """The real ``setuptools.archive_util``, imported now if the stand-in holds its place."""
    held = sys.modules.get(ARCHIVE_UTIL)
    if not isinstance(held, _StandIn):
        return importlib.import_module(ARCHIVE_UTIL)
    del sys.modules[ARCHIVE_UTIL]
    try:
        return importlib.import_module(ARCHIVE_UTIL)
    except BaseException:
        sys.modules[ARCHIVE_UTIL] = held
        raise


def _deferred(name: str):
    def call(*args, **kwargs):
        return getattr(real_archive_util(), name)(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"setuptools.archive_util.{name}, imported at its first call"
    return call


def without_setuptools() -> bool:
    """Put the stand-in in place unless setuptools (or the stand-in) is imported already;
    returns whether it was put in place now."""
    if ARCHIVE_UTIL in sys.modules or "setuptools" in sys.modules:
        return False
    stand_in = _StandIn(ARCHIVE_UTIL, "stand-in for setuptools.archive_util (autograder.gradebook.nbgrader_imports)")
    for name in FUNCTIONS:
        setattr(stand_in, name, _deferred(name))
    sys.modules[ARCHIVE_UTIL] = stand_in
    return True


def nbgrader_package_deferred() -> None:
    """Let this process import nbgrader's modules (its gradebook API, its preprocessors)
    without running its package's ``__init__`` until something asks the package itself for a
    name. That ``__init__`` imports nbgrader's Jupyter server extensions (tornado,
    jupyter_server, nbgrader's apps and, through them, nbconvert): half of what importing
    ``nbgrader.api`` costs (0.5 s of CPU → 0.26 s), none of which a grading uses. The package
    module is made by the import system from nbgrader's own spec (``__path__``, ``__file__``);
    a name looked up on it (``nbgrader.__version__``, a server extension's loader) runs the
    real ``__init__`` first (PEP 562's module ``__getattr__``; a submodule's name imports
    that submodule, as the package would), so nothing behaves otherwise.
    Nothing happens when nbgrader is imported already."""
    if "nbgrader" in sys.modules:
        return
    spec = importlib.util.find_spec("nbgrader")
    if spec is None or spec.loader is None:
        return   # not installed: the import that follows says so
    module = importlib.util.module_from_spec(spec)
    done = []

    def __getattr__(name):
        if not name.startswith("__") and importlib.util.find_spec(f"nbgrader.{name}") is not None:
            return importlib.import_module(f"nbgrader.{name}")   # `from nbgrader import utils`
        if not done:
            done.append(True)
            del module.__getattr__
            spec.loader.exec_module(module)   # the package's own __init__, in this module
            return getattr(module, name)
        raise AttributeError(f"module 'nbgrader' has no attribute {name!r}")

    module.__getattr__ = __getattr__
    sys.modules["nbgrader"] = module
