"""The checks that graded test cells call.

A graded test cell of a workbook notebook is a few lines such as::

    from autograder.checks import check
    check("linear_forward", linear_forward, seed=0)             # a small fixed case
    check("linear_forward", linear_forward, seed=3, N=7, D=5, M=2)

`check` draws the inputs of the named exercise from a seeded generator (see
:mod:`autograder.catalogue`), runs the student's function and the `tnn_lib`
reference on copies of them, and compares the results with ``rel_error < tol``.
When they differ it runs the catalogued wrong variants of the exercise on the
same inputs; if one of them reproduces the student's output — on this case, on every
other case of the same exercise in the test cell (see :func:`cell_source`) and on the
exercise's ``diagnostic_cases`` — the failure names that misconception and gives a hint.
Otherwise it reports the first differing values. The messages are identical in a student's
own run (``tnn-course check``) and in grading, which reads the machine-readable first line of
the message:

    ``TNN-MISCONCEPTION <id>``  a catalogued misconception matched
    ``TNN-REFERENCE-USED``      the answer called the reference for its own exercise

When no single misconception is established, the pairs of composable misconceptions
(:func:`autograder.catalogue.pairs_for`) are tried under the same rule; one that matches on
every case names both mistakes, each on a line that ``PARTIAL_ID`` reads back (as the parts
of an answer with several mistakes are named), without the tag line.
"""
from __future__ import annotations

import ast
import contextlib
import contextvars
import copy
import functools
import io
import os
import re
import reprlib
import sys
import traceback
import warnings
from dataclasses import dataclass

import numpy as np

from autograder import catalogue
from autograder.source import strip_magics

try:  # the student edition's helpers and records; autograder works without them
    from tnn_lib import student as _student
    from tnn_lib.recorded import STORE as _STORE
except ImportError:
    _student = _STORE = None

# what graded test cells import; the grader's sandbox gets a stand-in of each of these names
# (autograder.sandbox.launch.checks_stub), generated from this list
__all__ = ["check", "check_choice", "check_poll", "CheckFailure"]

MISCONCEPTION_TAG = "TNN-MISCONCEPTION"
REFERENCE_TAG = "TNN-REFERENCE-USED"
# "Part of your answer (dW) shows a known mistake: <title> [<id>]." — one of several mistakes
PARTIAL_PHRASE = "shows a known mistake:"
PARTIAL_ID = re.compile(re.escape(PARTIAL_PHRASE) + r".*? \[([A-Za-z0-9_.-]+)\]\.$", re.M)


class CheckFailure(AssertionError):
    """A graded check failed; the message is written for the student.

    In a notebook it shows as that message alone (IPython's ``_render_traceback_``): no
    machine-readable tag line, no frame of the grader's code. ``str()`` of it, which grading
    reads, keeps the tag line.
    """

    def _render_traceback_(self):
        return readable(str(self), "✗ check failed")


def readable(message: str, head: str) -> list:
    """The lines a notebook shows for a failed check: `head` in bold red, then the message
    without its machine-readable tag lines."""
    lines = [ln for ln in message.splitlines()
             if not (ln.startswith(MISCONCEPTION_TAG) or ln.startswith(REFERENCE_TAG))]
    if _student is not None:  # broken at spaces: JupyterLab's output otherwise breaks long lines mid-word
        lines = _student.wrap(lines)
    return [f"\x1b[1;31m{head}\x1b[0m"] + lines


def _unanswered(err: NotImplementedError, name: str, what: str) -> NotImplementedError:
    """`err` (kept a NotImplementedError: grading reads that as unanswered), shown in a
    notebook as one line instead of a traceback through the stub and this module."""
    text = str(err) or what
    err._render_traceback_ = lambda: readable(text if text.startswith(name) else f"{name}: {text}", "… not answered yet")
    return err


class Passed(int):
    """What a passing check returns: true (``== True``), and shown as nothing in a notebook;
    the cell's one line ``✓ …`` comes from :func:`_after_cell` instead."""

    def __new__(cls):
        return super().__new__(cls, 1)

    def __repr__(self):
        return "True"

    def _ipython_display_(self):
        pass


# A notebook cell that ran a check, or that JupyterLab says is a graded test cell, and raised
# nothing ends with one short line, the same in every notebook.
PASSED_LINE = "✓ passed: the visible checks of this cell (hidden tests run after submission)"
POLL_LINE = "✓ answered; graded after submission"
_ran = {"check": 0, "poll": 0}


def _count(kind: str) -> None:
    _ran[kind] += 1
    _watch_cells()


def _is_test_cell_in_frontend(shell) -> bool:
    """Whether the request being executed carries a graded test cell's nbgrader metadata
    (JupyterLab sends the cell's metadata with it; other clients do not)."""
    try:
        meta = shell.kernel.get_parent().get("metadata", {}) or {}
    except Exception:
        return False
    nb = meta.get("nbgrader") or {}
    return bool(nb.get("grade")) and not nb.get("solution")


def _after_cell(result) -> None:
    ran, _ran["check"], _ran["poll"] = dict(_ran), 0, 0
    if not getattr(result, "success", False):
        return
    if ran["check"] or (not ran["poll"] and _is_test_cell_in_frontend(_shell())):
        print(PASSED_LINE)
    elif ran["poll"]:
        print(POLL_LINE)


def _shell():
    """The running IPython shell, if any. Without IPython imported there is none: this
    module is imported by grading processes that never start one, and importing IPython
    only to learn that costs them a third of a second."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        return ipython.get_ipython()
    except Exception:
        return None


def _watch_cells() -> None:
    """Register :func:`_after_cell` once with the running IPython kernel, if any."""
    shell = _shell()
    if shell is None or getattr(shell, "_tnn_checks_watch", False) or not hasattr(shell, "events"):
        return
    shell.events.register("post_run_cell", _after_cell)
    shell._tnn_checks_watch = True


def _watch_test_cells() -> None:
    """At import: in JupyterLab, a test cell that calls no check (plain asserts) gets the line too."""
    try:
        _watch_cells()
    except Exception:
        pass


@dataclass
class Outcome:
    """What a comparison found: ``ok`` or the first difference, in words."""

    ok: bool
    detail: str = ""


# ----------------------------------------------------------------------------------------
# comparison
# ----------------------------------------------------------------------------------------
def short(v) -> str:
    """repr of an answer for a message, cut to a readable length whatever its size."""
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxstring, r.maxother = 3, 6, 6, 6, 120, 120
    try:
        return r.repr(v)
    except Exception:
        return f"a {type(v).__name__}"


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return repr(v)


_KIND_NAMES = {"c": "complex numbers", "U": "text", "S": "bytes", "M": "dates", "m": "time spans", "V": "raw records"}


def _wrong_kind(got, expected) -> str:
    """Why `got` is not real numbers where `expected` is (an empty string when it is): a
    complex result must not pass by losing its imaginary part in a cast to float, nor text
    that happens to parse as numbers. The exercises' docstrings ask for real (float) values;
    an integer or boolean array still compares by value."""
    try:
        want = np.asarray(expected).dtype.kind
    except Exception:
        want = "f"
    if want == "c":
        return ""
    if isinstance(got, (complex, np.complexfloating)):
        kind, dtype = "c", np.asarray(got).dtype
    elif isinstance(got, (np.ndarray, np.generic)):
        kind, dtype = got.dtype.kind, got.dtype
    elif isinstance(got, (list, tuple)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dtype = np.asarray(got).dtype
        except Exception:
            return ""
        kind = dtype.kind
        if kind == "O" and any(isinstance(v, (complex, np.complexfloating))
                               for v in np.asarray(got, dtype=object).ravel()[:100_000]):
            kind = "c"
    else:
        return ""
    if kind == "O" and isinstance(got, np.ndarray):
        if any(isinstance(v, (complex, np.complexfloating, str, bytes)) for v in got.ravel()[:100_000]):
            return ("got an array of Python objects holding complex numbers or text (dtype object); "
                    "expected real numbers (float)")
        return ""
    if kind in _KIND_NAMES:
        return f"got {_KIND_NAMES[kind]} (dtype {dtype}); expected real numbers (float)"
    return ""


def compare(got, expected, tol: float = 1e-7, where: str = "output") -> Outcome:
    """Compare nested tuples/lists/dicts of arrays and numbers with the SPEC's rel_error.
    `got` must be real numbers where `expected` is: complex values (whose imaginary part a
    cast to float would drop), text and other dtypes fail with a message saying so."""
    why = getattr(got, "_tnn_why", None) if type(got).__name__ == "Opaque" else None
    if why:   # a value the student's code keeps in its own process: the grader does not read it
        return Outcome(False, f"{where}: {why}")
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return Outcome(False, f"{where}: expected a dict with keys {sorted(expected)}, got {type(got).__name__}")
        if set(got) != set(expected):
            return Outcome(False, f"{where}: expected keys {sorted(expected)}, got keys {sorted(got)}")
        for k in expected:
            out = compare(got[k], expected[k], tol, f"{where}[{k!r}]")
            if not out.ok:
                return out
        return Outcome(True)
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return Outcome(False, f"{where}: expected a tuple of {len(expected)} values, got {type(got).__name__}")
        if len(got) != len(expected):
            return Outcome(False, f"{where}: expected {len(expected)} values, got {len(got)}")
        for i, (g, e) in enumerate(zip(got, expected)):
            out = compare(g, e, tol, f"{where}[{i}]")
            if not out.ok:
                return out
        return Outcome(True)
    if isinstance(expected, (bool, np.bool_, str)) or expected is None:
        if got is expected or (not isinstance(got, np.ndarray) and got == expected):
            return Outcome(True)
        return Outcome(False, f"{where}: expected {expected!r}, got {short(got)}")
    if isinstance(expected, (int, np.integer)) and not isinstance(expected, bool):
        try:
            if not isinstance(got, (np.ndarray, list, tuple)) and int(got) == got and int(got) == int(expected):
                return Outcome(True)
        except (TypeError, ValueError, OverflowError):
            pass
        return Outcome(False, f"{where}: expected the integer {int(expected)}, got {short(got)}")
    try:
        exp = np.asarray(expected, dtype=float)
    except (TypeError, ValueError):
        # not numbers (a Generator, a model, a function): only the type can be compared here
        if type(got) is type(expected):
            return Outcome(True)
        return Outcome(False, f"{where}: expected a {type(expected).__name__}, got {type(got).__name__}")
    wrong = _wrong_kind(got, expected)
    if wrong:
        return Outcome(False, f"{where}: {wrong}")
    try:
        arr = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return Outcome(False, f"{where}: expected numbers of shape {exp.shape}, got {type(got).__name__}")
    if arr.shape != exp.shape:
        return Outcome(False, f"{where}: expected shape {exp.shape}, got shape {arr.shape}")
    if arr.size == 0:
        return Outcome(True)
    same = (arr == exp) | (np.isnan(arr) & np.isnan(exp))   # inf matches inf, NaN matches NaN
    if not np.all(np.isfinite(arr) | same):
        idx = np.unravel_index(int(np.argmax(~(np.isfinite(arr) | same))), arr.shape)
        return Outcome(False, f"{where}: got a non-finite value {arr[idx]} at index {tuple(int(i) for i in idx)}"
                              f" where {_fmt(exp[idx])} was expected")
    with np.errstate(invalid="ignore"):
        err = np.abs(arr - exp) / np.maximum(1e-8, np.abs(arr) + np.abs(exp))
    err = np.where(np.isnan(err), np.where(same, 0.0, np.inf), err)
    worst = float(np.max(err))
    if worst < tol:
        return Outcome(True)
    idx = np.unravel_index(int(np.argmax(err > tol)), arr.shape)
    at = f" at index {tuple(int(i) for i in idx)}" if arr.ndim else ""
    # the error shown is the one of the entry shown; the worst entry, when another, with its values
    far = np.unravel_index(int(np.argmax(err)), arr.shape)
    worse = (f"; the largest is {worst:.2g} at index {tuple(int(i) for i in far)}: got {_fmt(arr[far])}, "
             f"expected {_fmt(exp[far])}") if arr.ndim and far != idx and worst > float(err[idx]) else ""
    return Outcome(False, f"{where}{at}: got {_fmt(arr[idx])}, expected {_fmt(exp[idx])} "
                          f"(relative error {float(err[idx]):.2g} = |got − expected| / (|got| + |expected|), "
                          f"tolerance {tol:g}{worse})")


# ----------------------------------------------------------------------------------------
# detecting a call of the reference
# ----------------------------------------------------------------------------------------
class _ReferenceWatch:
    """Records whether the code object of a reference function runs (any call path)."""

    def __init__(self, codes):
        self.codes = {c for c in codes if c is not None}
        self.called = False
        self._old = None

    def _profile(self, frame, event, arg):
        if event == "call" and frame.f_code in self.codes:
            self.called = True

    def __enter__(self):
        self._old = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self._old)
        return False


def _code_of(fn):
    return getattr(fn, "__code__", None)


def _codes_of(ref):
    """The code objects whose running means the reference runs: a function's own, or every
    method's (and property's) of a class exercise such as ReduceLROnPlateau."""
    if not isinstance(ref, type):
        return [_code_of(ref)]
    codes = []
    for klass in ref.__mro__[:-1]:
        for v in vars(klass).values():
            for f in (v, getattr(v, "__func__", None), getattr(v, "fget", None), getattr(v, "fset", None)):
                codes.append(_code_of(f))
    return codes


# ----------------------------------------------------------------------------------------
# the public checks
# ----------------------------------------------------------------------------------------
def _describe_inputs(inputs) -> str:
    parts = []
    for k, v in inputs.items():
        if isinstance(v, np.ndarray):
            parts.append(f"{k}: array {v.shape}")
        elif callable(v):
            parts.append(f"{k}: function")
        elif isinstance(v, dict):
            parts.append(f"{k}: dict of {len(v)}")
        elif isinstance(v, (int, float, str, bool)) or v is None:
            parts.append(f"{k}={v!r}")
        else:
            parts.append(f"{k}: {type(v).__name__}")
    return ", ".join(parts)


HIDDEN_CASE = "a hidden test case (its inputs, and what your code printed or raised on it, are not shown)"
_HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)


def hidden_lines(source: str | None) -> set[int]:
    """The line numbers (from 1) of a test cell's hidden region(s)."""
    out: set[int] = set()
    for m in _HIDDEN_REGION.finditer(source or ""):
        first = source.count("\n", 0, m.start()) + 1
        out.update(range(first, first + source.count("\n", m.start(), m.end()) + 1))
    return out


def _called_from_hidden_tests() -> bool:
    """Whether the running `check` was called from a line of the hidden region of the test
    cell being graded (the cell's source is known while `cell_source` is in force)."""
    lines = hidden_lines(_CELL_SOURCE.get())
    if not lines:
        return False
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith("<") and frame.f_lineno in lines


def run_exercise(ex, impl, inputs):
    """Call `impl` the way exercise `ex` is called, on a deep copy of `inputs`."""
    return ex.call(impl, copy.deepcopy(inputs))


def check(name: str, student_fn, seed: int = 0, case: str | None = None, tol: float | None = None, **sizes):
    """Check the student's implementation of exercise `name` on one seeded case.

    Raises `CheckFailure` (an AssertionError) with a message for the student when the
    answer differs from the reference; re-raises `NotImplementedError` untouched so that
    an unanswered exercise reads as such. In the student edition the reference's and the
    misconceptions' outcomes are the recorded ones (:class:`_Truth`); the messages are the same.
    """
    with _checking(name):
        return _check(name, student_fn, seed, case, tol, **sizes)


def _check(name: str, student_fn, seed: int = 0, case: str | None = None, tol: float | None = None, **sizes):
    ex = catalogue.get_exercise(name)
    if not callable(student_fn):
        raise CheckFailure(f"{name}: expected a function, got {type(student_fn).__name__}")
    rng = np.random.default_rng(seed)
    inputs = ex.make_inputs(rng, case=case, **sizes)
    tol = ex.tol if tol is None else tol
    hidden = _called_from_hidden_tests()
    # a hidden case is described by nothing: not its inputs, not what the answer printed or
    # raised on it (a student's code could print a hidden input and read it on the page)
    shown = _describe_inputs(inputs)
    here = _case_kwargs(seed, case, sizes)
    truth = _Truth(ex, here, inputs)

    code = _code_of(ex.reference)
    if student_fn is ex.reference or (code is not None and _code_of(student_fn) is code):
        raise CheckFailure(f"{REFERENCE_TAG}\n{name}: your answer is the tnn_lib reference itself; "
                           "implement it yourself: an answer that uses the reference earns no points.")
    pristine = copy.deepcopy(inputs)
    work = copy.deepcopy(inputs)
    watch = _ReferenceWatch(_codes_of(ex.reference))
    # Anything the answer writes to stderr (numpy's RuntimeWarnings included) is caught here:
    # nbgrader gives a test cell 0 points for any stderr output, and a correct answer that
    # evaluates both branches of np.where must not lose its points for a warning. What was
    # caught is shown to the student when the check fails, where it is often the clue.
    noise = io.StringIO()
    try:
        with watch, warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(noise):
            warnings.simplefilter("always")
            got = ex.call(student_fn, work)
    except NotImplementedError as err:
        raise _unanswered(err, name, "the function still raises NotImplementedError")
    except CheckFailure:
        raise
    except Exception as err:  # the student's code raised: say what and where, briefly
        ename = getattr(err, "ename", type(err).__name__)  # from the student process: its own type name
        if _own_reference(err):  # the edition's stub of this very exercise: as the repository says
            raise CheckFailure(f"{REFERENCE_TAG}\n{name}: your answer calls the tnn_lib reference {name}; "
                               "implement it yourself: an answer that uses the reference earns no points.") from None
        if ename == "ReferenceUnavailable":
            raise CheckFailure(f"{REFERENCE_TAG}\n{name}: your answer calls the tnn_lib reference ({err}); "
                               "implement it yourself: an answer that uses the reference earns no points.") from None
        where = getattr(err, "student_where", None)
        line = f"\nat {where}" if where else ("" if where is not None else _student_line(err))
        if hidden:
            raise CheckFailure(f"{name} raised {ename} on {HIDDEN_CASE}{line}") from None
        raise CheckFailure(f"{name} raised {ename}: {err}{line}\n"
                           f"(inputs: {shown})") from None
    said = "" if hidden else _warnings_note(caught, noise.getvalue())
    if watch.called:
        raise CheckFailure(f"{REFERENCE_TAG}\n{name}: your answer calls the tnn_lib reference {name}; "
                           "implement it yourself: an answer that uses the reference earns no points.")
    if not ex.mutates:
        changed = compare(work, pristine, tol=1e-15, where="input")
        if not changed.ok:
            raise CheckFailure(f"{name} modified its input arguments"
                               f"{' on ' + HIDDEN_CASE if hidden else ' (' + changed.detail + ')'}; "
                               "work on copies, e.g. x = x.copy() or out = x * mask.")
    expected = truth.expected()
    out = compare(got, expected, tol, where=ex.output_name)
    if out.ok:
        _count("check")
        return Passed()
    alts, matched = [], []
    for m in catalogue.misconceptions_for(name):
        ok, alt = truth.run(m)
        if not ok:
            continue
        if compare(got, alt, tol).ok:
            matched.append(m)
        alts.append((m, alt))
    others = [kw for kw in _cell_cases_of(name) + list(ex.diagnostic_cases) if _case_key(kw) != _case_key(here)]
    named = _established(ex, student_fn, matched, others)
    cascade = _cascade_note(name, student_fn)
    if len(named) == 1:
        m = named[0]
        if hidden:
            raise CheckFailure(f"{MISCONCEPTION_TAG} {m.id}\n{name}: {m.title}.\nHint: {m.hint}\n"
                               f"(on {HIDDEN_CASE}){cascade}")
        raise CheckFailure(f"{MISCONCEPTION_TAG} {m.id}\n{name}: {m.title}.\nHint: {m.hint}\n"
                           f"(first difference: {out.detail}; inputs: {shown}){said}{cascade}")
    pair = _established_pair(ex, student_fn, got, truth, tol, others) if not named else None
    if pair is not None:
        where = f"(on {HIDDEN_CASE})" if hidden else f"(first difference: {out.detail}; inputs: {shown}){said}"
        raise CheckFailure(f"{name}: {pair_text(pair)}\n{where}{cascade}")
    if hidden:
        raise CheckFailure(f"{name}: the result is not right on {HIDDEN_CASE}{cascade}")
    confirmed = _partial_confirmed(ex, student_fn, got, expected, alts, others, tol)
    note = _partial_note(got, expected, confirmed, tol, ex.output_name)
    if not note:
        note = _per_mode_note(ex, student_fn, matched, others)
    raise CheckFailure(f"{name}: {out.detail}\n(inputs: {shown}){said}{note}{cascade}")


def _established_pair(ex, student_fn, got, truth, tol, others):
    """The one pair of composable misconceptions (:func:`autograder.catalogue.pairs_for`) whose
    variant, both mistakes at once, the answer matches on this case and on every case of
    `others` (the cell's other cases and the diagnostic cases); None when none or several do."""
    pairs = catalogue.pairs_for(ex.name)
    if not pairs:
        return None
    matched = []
    for p in pairs:
        ok, alt = truth.run(p)
        if ok and compare(got, alt, tol).ok:
            matched.append(p)
    found = _established(ex, student_fn, matched, others) if matched else []
    return found[0] if len(found) == 1 else None


def pair_text(pair) -> str:
    """Both mistakes of `pair`, each on a line grading reads back (PARTIAL_ID), with its hint."""
    a, b = pair.parts
    return (f"your answer shows two known mistakes at once (together they give exactly your result, on every "
            f"case checked):\n1. Your answer {PARTIAL_PHRASE} {a.title} [{a.id}].\nHint: {a.hint}\n"
            f"2. Your answer also {PARTIAL_PHRASE} {b.title} [{b.id}].\nHint: {b.hint}")


def _cascade_note(name: str, student_fn) -> str:
    """When the answer calls the student's own answer to another exercise (adamw_step calling
    adam_step) and that one fails its own first check, say so: the numbers alone point at
    the wrong function."""
    try:
        code, glb = student_fn.__code__, student_fn.__globals__
    except AttributeError:
        return ""
    failing = []
    for other in dict.fromkeys(code.co_names):
        if other == name or other not in catalogue.all_exercises():
            continue
        fn = glb.get(other)
        if not callable(fn) or fn is catalogue.get_exercise(other).reference:
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                _check(other, fn, seed=0)
        except CheckFailure:
            failing.append(other)
        except Exception:  # noqa: BLE001 - unanswered or broken: also not a working dependency
            failing.append(other)
    if not failing:
        return ""
    said = ", ".join(f"your {o}" for o in failing)
    return (f"\nYour {name} calls {said}, which fails its own check "
            f"(check(\"{failing[0]}\", {failing[0]}, seed=0)): fix {'it' if len(failing) == 1 else 'them'} first.")


# ----------------------------------------------------------------------------------------
# naming a misconception: only when its variant matches on every case
# ----------------------------------------------------------------------------------------
# A wrong variant can coincide with another mistake on one case (L2 divided by the C columns
# equals L2 without the ½ when N = 2C), so a misconception is named only when the answer
# matches its variant on every case the test cell checks (known while `cell_source` is in
# force: grading and `tnn-course check` run every graded cell inside it) and on the
# exercise's own `diagnostic_cases`, shapes chosen so that different mistakes cannot agree.
_CELL_SOURCE: contextvars.ContextVar = contextvars.ContextVar("tnn_cell_source", default=None)


@contextlib.contextmanager
def cell_source(source: str | None):
    """While a graded test cell runs: its source, so that a failing `check` can confirm a
    misconception on the cell's other `check` cases of the same exercise."""
    token = _CELL_SOURCE.set(source)
    try:
        yield
    finally:
        _CELL_SOURCE.reset(token)


def check_cases(source: str, exercise: str) -> list[dict]:
    """Keyword arguments of the literal ``check("<exercise>", fn, …)`` calls in a test cell."""
    cases = []
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return cases
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == exercise):
            try:
                kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
            except ValueError:
                continue
            if kwargs not in cases:
                cases.append(kwargs)
    return cases


def _cell_cases_of(name: str) -> list[dict]:
    source = _CELL_SOURCE.get()
    if not source:
        return []
    return check_cases(source, name)


def _case_kwargs(seed, case, sizes) -> dict:
    kw = {"seed": seed, **sizes}
    if case is not None:
        kw["case"] = case
    return kw


def _case_key(kw: dict):
    kw = {k: v for k, v in kw.items() if k != "tol"}
    kw.setdefault("seed", 0)
    if kw.get("case") is None:
        kw.pop("case", None)
    return tuple(sorted((k, repr(v)) for k, v in kw.items()))


def _case_inputs(ex, kw: dict):
    """(inputs, tol) of the case `kw` (check's keyword arguments), or None if it is not one."""
    kw = dict(kw)
    seed, case, tol = kw.pop("seed", 0), kw.pop("case", None), kw.pop("tol", None)
    try:
        return ex.make_inputs(np.random.default_rng(seed), case=case, **kw), (ex.tol if tol is None else tol)
    except Exception:  # noqa: BLE001 - not a case of this exercise: it confirms nothing
        return None


def _quiet_run(ex, impl, inputs):
    """(True, output) or (False, the error's type name): `impl` on a copy of `inputs`,
    its warnings and stderr swallowed."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            return True, run_exercise(ex, impl, inputs)
    except NotImplementedError:
        return False, "NotImplementedError"
    except Exception as err:  # noqa: BLE001 - an error is an outcome to compare
        return False, getattr(err, "ename", type(err).__name__)


def _agree(a, b, tol) -> bool:
    (ok_a, va), (ok_b, vb) = a, b
    if ok_a and ok_b:
        return compare(va, vb, tol).ok
    return not ok_a and not ok_b and va == vb


def _established(ex, student_fn, candidates, cases) -> list:
    """The `candidates` (misconceptions the answer already matched on one failing case) whose
    variants the answer also matches on every case of `cases`."""
    left = list(candidates)
    for kw in cases:
        if not left:
            break
        made = _case_inputs(ex, kw)
        if made is None:
            continue
        inputs, tol = made
        truth = _Truth(ex, kw, inputs)
        theirs = _quiet_run(ex, student_fn, inputs)
        left = [m for m in left if _agree(theirs, truth.run(m), tol)]
    return left


def _where_shown(ex, student_fn, candidates, cases) -> list:
    """Per mode: the `candidates` (matched on the failing case) whose variants the answer
    matches on every case of `cases` where the variant differs from the reference (every case
    the mistake speaks of), as (misconception, [cases where the variant is right and the
    answer is wrong: another mistake]). Only those with at least one such other case: a
    candidate without one is established outright."""
    found = []
    for m in candidates:
        elsewhere, ok = [], True
        for kw in cases:
            made = _case_inputs(ex, kw)
            if made is None:
                continue
            inputs, tol = made
            truth = _Truth(ex, kw, inputs)
            theirs, ref, var = _quiet_run(ex, student_fn, inputs), truth.run(None), truth.run(m)
            if not ref[0]:
                ok = False
                break
            if not _agree(var, ref, tol):          # a case this mistake shows in: the answer must show it
                if not _agree(theirs, var, tol):
                    ok = False
                    break
            elif not _agree(theirs, ref, tol):     # the mistake does not show here, yet the answer is wrong
                elsewhere.append(kw)
        if ok and elsewhere:
            found.append((m, elsewhere))
    return found


def _per_mode_note(ex, student_fn, matched, cases) -> str:
    """Two mistakes in different modes (training and test, say): name the one this case shows
    when the answer reproduces it on every checked case it speaks of, and say that other
    checked cases are wrong for another reason. Only a single such misconception is named."""
    if not matched or not cases:
        return ""
    try:
        found = _where_shown(ex, student_fn, matched, cases)
    except Exception:  # noqa: BLE001 - nothing can be named
        return ""
    if len(found) != 1:
        return ""
    m, elsewhere = found[0]
    # the kinds of those cases only (their seeds and sizes may be a hidden test's)
    kinds = sorted({repr(kw["case"]) if kw.get("case") else "the default" for kw in elsewhere})
    n = len(elsewhere)
    return (f"\nPart of your answer (this case, and every checked case where that mistake would show) "
            f"{PARTIAL_PHRASE} {m.title} [{m.id}].\nHint: {m.hint}\n"
            f"Where that mistake would not show, your answer is wrong for another reason as well: "
            f"{n} other checked case{'s' if n > 1 else ''} (case {', '.join(kinds)}).")


def _wrong_parts_reproduced(got, expected, alt, tol):
    """The parts (keys) in which variant `alt` differs from `expected`, if `got` reproduces
    every one of them exactly; else None."""
    exp, mine, theirs = _parts(expected), _parts(got), _parts(alt)
    if exp is None or mine is None or theirs is None or not (set(exp) == set(mine) == set(theirs)):
        return None
    wrong = [k for k in exp if not compare(theirs[k], exp[k], tol).ok]
    return wrong if wrong and all(compare(mine[k], theirs[k], tol).ok for k in wrong) else None


def _partial_confirmed(ex, student_fn, got, expected, alts, cases, tol) -> list:
    """The (misconception, output) pairs of `alts` whose wrong parts the answer reproduces on
    this case and on every case of `cases`: a part of an answer is said to show a known
    mistake only when it does so everywhere it is checked."""
    left = [(m, alt) for m, alt in alts if _wrong_parts_reproduced(got, expected, alt, tol)]
    for kw in cases:
        if not left:
            break
        made = _case_inputs(ex, kw)
        if made is None:
            continue
        inputs, case_tol = made
        truth = _Truth(ex, kw, inputs)
        ok, theirs = _quiet_run(ex, student_fn, inputs)
        ref_ok, ref = truth.run(None)
        if not ok or not ref_ok:
            return []
        kept = []
        for m, alt in left:
            v_ok, v = truth.run(m)
            if not v_ok:
                continue
            exp_parts, v_parts, mine = _parts(ref), _parts(v), _parts(theirs)
            if None in (exp_parts, v_parts, mine) or not set(exp_parts) == set(v_parts) == set(mine):
                continue
            wrong = [k for k in exp_parts if not compare(v_parts[k], exp_parts[k], case_tol).ok]
            if all(compare(mine[k], v_parts[k], case_tol).ok for k in wrong):
                kept.append((m, alt))
        left = kept
    return left


def established_misconception(name: str, student_fn, cases) -> str | None:
    """The id of the one catalogued misconception of exercise `name` whose variant the answer
    matches on every case of `cases` (check's keyword arguments) and on the exercise's
    diagnostic cases, while differing from the reference on at least one; else None."""
    with _checking(name):
        return _established_misconception(name, student_fn, cases)


def established_pair(name: str, student_fn, cases):
    """The one pair of composable misconceptions of exercise `name` (both mistakes at once)
    whose variant the answer matches on every case of `cases` and on the exercise's
    diagnostic cases, while differing from the reference on at least one; else None. Tried
    after a failing plain ``assert`` when no single misconception is established."""
    with _checking(name):
        pairs = catalogue.pairs_for(name)
        return _the_one_matched(catalogue.get_exercise(name), student_fn, cases, pairs) if pairs else None


def _established_misconception(name: str, student_fn, cases) -> str | None:
    m = _the_one_matched(catalogue.get_exercise(name), student_fn, cases, catalogue.misconceptions_for(name))
    return None if m is None else m.id


def _the_one_matched(ex, student_fn, cases, candidates):
    """The one of `candidates` (misconceptions or pairs) whose variant the answer matches on
    every case of `cases` and of the exercise's diagnostic cases, while the answer differs
    from the reference on at least one; else None (none, several, or an unanswered stub)."""
    if not callable(student_fn):
        return None
    every = []
    for kw in list(cases) + list(ex.diagnostic_cases):
        if _case_key(kw) not in {_case_key(k) for k in every}:
            every.append(kw)
    left, wrong = list(candidates), False
    for kw in every:
        made = _case_inputs(ex, kw)
        if made is None:
            continue
        inputs, tol = made
        truth = _Truth(ex, kw, inputs)
        theirs = _quiet_run(ex, student_fn, inputs)
        if not theirs[0] and theirs[1] == "NotImplementedError":
            return None
        wrong = wrong or not _agree(theirs, truth.run(None), tol)
        left = [m for m in left if _agree(theirs, truth.run(m), tol)]
        if not left:
            return None
    return left[0] if wrong and len(left) == 1 else None


# ----------------------------------------------------------------------------------------
# the reference's and the misconceptions' outcomes: computed, or recorded (student edition)
# ----------------------------------------------------------------------------------------
def case_key(kw: dict) -> str:
    """The key of a case (check's keyword arguments) in the recorded data."""
    return repr(_case_key(kw))


def _edition_records(name: str):
    """The recorded data of exercise `name` in the student edition, else None (the
    repository, or an exercise whose answer the edition holds)."""
    if _student is None or not _student.EDITION:
        return None
    return _STORE if name in _STORE.exercises() else None


class NotRecorded(CheckFailure):
    """A case the student edition has no recorded results for."""


class _Truth:
    """What the reference (``who=None``) and each misconception give on one case: run here
    in the repository, read from the data recorded at release time in the student edition
    (which holds neither the reference nor the misconceptions' code)."""

    def __init__(self, ex, kw: dict, inputs):
        self.ex, self.inputs, self.kw = ex, inputs, kw
        store = _edition_records(ex.name)
        self.recorded = None if store is None else store.check(ex.name, case_key(kw))
        if store is not None and self.recorded is None:
            raise NotRecorded(f"{ex.name}: the student edition has the expected results of this notebook's own "
                              f"checks only, and {_describe_kwargs(kw)} is not one of them")

    def run(self, m):
        """(True, output) or (False, the error's type name) of the reference (m=None) or of
        misconception `m` on this case."""
        if self.recorded is not None:
            return tuple(self.recorded.get("reference" if m is None else m.id, (False, "NotRecorded")))
        return _quiet_run(self.ex, self.ex.reference if m is None else m.impl, self.inputs)

    def expected(self):
        """The reference's output (its error raised as it is, as when it runs here)."""
        if self.recorded is None:
            return run_exercise(self.ex, self.ex.reference, self.inputs)
        ok, value = self.recorded["reference"]
        if not ok:
            raise RuntimeError(f"{self.ex.name}: the reference raised {value} on this case")
        return value


def _describe_kwargs(kw: dict) -> str:
    return "check(" + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")"


@contextlib.contextmanager
def _checking(name: str):
    """While exercise `name` is checked: the edition's stub of `name` replays nothing (an
    answer that calls it uses the reference)."""
    if _student is None:
        yield
        return
    _student._CHECKING.append(name)
    try:
        yield
    finally:
        _student._CHECKING.remove(name)


def _own_reference(err) -> bool:
    return _student is not None and isinstance(err, _student.OwnReference)


def _parts(value):
    """The top-level parts of a structured output (index or key -> value), else None."""
    if isinstance(value, (tuple, list)):
        return dict(enumerate(value))
    if isinstance(value, dict):
        return dict(value)
    return None


def _partial_note(got, expected, alts, tol, output_name: str, limit: int = 2) -> str:
    """When an answer with several outputs has more than one thing wrong, no catalogued
    variant reproduces all of it; but a variant whose wrong parts (say dW) the answer
    reproduces exactly, while other parts differ for another reason, still names a mistake
    the student made. Returns lines naming up to `limit` such mistakes, or ""."""
    exp, mine = _parts(expected), _parts(got)
    if exp is None or mine is None or set(exp) != set(mine) or len(exp) < 2:
        return ""
    names = [n.strip() for n in output_name.strip("()").split(",")]
    label = (lambda k: names[k]) if len(names) == len(exp) and all(isinstance(k, int) for k in exp) else repr
    differs = {k for k in exp if not compare(mine[k], exp[k], tol).ok}
    found, explained = [], set()
    for m, alt in alts:
        theirs = _parts(alt)
        if theirs is None or set(theirs) != set(exp):
            continue
        wrong = [k for k in exp if not compare(theirs[k], exp[k], tol).ok]
        if wrong and all(compare(mine[k], theirs[k], tol).ok for k in wrong):
            explained.update(wrong)
            found.append(f"\nPart of your answer ({', '.join(label(k) for k in wrong)}) {PARTIAL_PHRASE} "
                         f"{m.title} [{m.id}].\nHint: {m.hint}")
    if not found:
        return ""
    more = f"\n(and {len(found) - limit} more known mistakes)" if len(found) > limit else ""
    rest = differs - explained
    tail = ("\nTogether these explain every difference from the expected answer." if not rest else
            f"\n{', '.join(label(k) for k in sorted(rest, key=str))} differs for another reason as well.")
    return "".join(found[:limit]) + more + tail


def _student_line(err: BaseException) -> str:
    """The line of the student's own code that raised `err` (the deepest frame outside this
    package, the Python installation and its libraries), as "\nat `line` in fn"; "" if none."""
    ours = os.path.dirname(os.path.abspath(__file__))
    library = tuple({os.path.abspath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
    found = None
    for frame in traceback.extract_tb(err.__traceback__):
        path = os.path.abspath(frame.filename) if not frame.filename.startswith("<") else frame.filename
        if path.startswith(ours + os.sep) or path.startswith(library) or frame.filename.startswith("<frozen"):
            continue
        if frame.line:
            found = frame
    if found is None:
        return ""
    fn = f" in {found.name}" if found.name and found.name != "<module>" else ""
    return f"\nat `{found.line.strip()[:160]}`{fn}"


def _warnings_note(caught, stderr_text: str, limit: int = 3) -> str:
    """A line or two naming the warnings the answer raised (distinct messages, at most
    `limit`), for a failure message; "" when it raised none."""
    msgs: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if text not in msgs:
            msgs.append(text)
    extra = stderr_text.strip()
    if extra:
        msgs.append("stderr: " + extra.splitlines()[0][:200])
    if not msgs:
        return ""
    more = f" (and {len(msgs) - limit} more)" if len(msgs) > limit else ""
    return "\nYour code warned: " + "; ".join(msgs[:limit]) + more


def check_choice(name: str, answer, options) -> bool:
    """Visible part of a poll: the answer is one of the allowed options."""
    if answer is ...:
        raise _unanswered(NotImplementedError(f"{name}: replace ... with your answer"), name, "")
    if answer not in options:
        raise CheckFailure(f"{name}: expected one of {list(options)!r}, got {short(answer)}")
    _count("poll")
    return Passed()


def check_poll(name: str, answer, correct, why: str) -> bool:
    """Hidden part of a poll: the answer is the correct option; `why` explains it."""
    if answer != correct:
        raise CheckFailure(f"{name}: {short(answer)} is not right. {why}")
    _count("poll")
    return Passed()


# ----------------------------------------------------------------------------------------
# the student edition: a passing visible check registers the answer for lessons and widgets
# ----------------------------------------------------------------------------------------
def _edition_registry():
    """tnn_lib.student when this is the student edition (EDITION true), else None: in the
    repository, and so in grading (where the student's functions are proxies into the
    sandbox), nothing is ever registered."""
    return _student if getattr(_student, "EDITION", False) else None


def _registering(check_fn):
    """`check` that, in the student edition, registers the student's function (or class,
    e.g. ReduceLROnPlateau) with :func:`tnn_lib.student.register` when the check passes and
    withdraws it when a check of the same answer fails: the edition's stubs, and so the
    lessons, the `tnn_lib` classes and the widgets, then run on the student's own code."""
    @functools.wraps(check_fn)
    def check(name, student_fn, *args, **kwargs):
        try:
            passed = check_fn(name, student_fn, *args, **kwargs)
        except BaseException:
            registry = _edition_registry()
            if registry is not None and registry.registered(name) is student_fn:
                registry.forget(name)
            raise
        registry = _edition_registry()
        if registry is not None and callable(student_fn):
            registry.register(name, student_fn)
        return passed

    return check


check = _registering(check)
_watch_test_cells()

