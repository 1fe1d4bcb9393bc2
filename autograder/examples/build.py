"""Build the example class: ``python autograder/examples/build.py``.

From ``solutions/`` (the correct answers), ``notebooks/`` (the released notebooks) and the
misconception catalogue, writes nbgrader's layout ``submitted/<student>/<assignment>/`` and
``expected.json``: the exact points, status and misconception of every graded test cell of
every submission, derived from what each submission breaks (the catalogue guarantees that a
wrong variant differs from the reference, and from the other variants, on every case the
notebook checks), not from running the grader.

Students (one folder each; most of them submit every assignment):

* ``correct``, ``blank`` (the release as is), ``partial`` (the first half of the answers);
* ``uses-reference``: the first exercise answered by calling the ``tnn_lib`` reference;
* one student per catalogued misconception, named by its id: the correct notebook with that
  exercise's answer cell replaced by the misconception's wrong code;
* hostile submissions of ``HOSTILE_ASSIGNMENT``: ``hostile-loop``, ``hostile-memory``,
  ``hostile-output``, ``hostile-edited-test``, ``hostile-deleted-test``, ``hostile-reordered``,
  ``hostile-widget``, ``hostile-invalid-json``, ``hostile-not-a-notebook``, ``hostile-missing``;
* tampering submissions ``hostile-tamper-<trick>`` (:func:`tampering`, one assignment each, spread
  over 00, 01, 05, 06 and 07): the correct or the blank notebook, or a correct one with one
  answer that cheats, plus a trick against the grader — disarming the checks in the student's
  own process, answers that are not what they claim, the reference reached around the scan,
  the solutions read from disk, files written into the course, processes left running, the
  process ended, bytes written into the grader's channel, floods of output, crashes. Each is
  expected to earn exactly what its honest work earns. Anything a trick tries to leave behind
  is marked (files ``tnn-pwned-*``, processes ``sleep 98765x``) for
  ``tests/test_grading_hostile.py`` to look for.
"""
from __future__ import annotations

import ast
import copy
import inspect
import json
import re
import shutil
import sys
import textwrap
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402
from nbformat.v4 import new_code_cell as _new_code_cell  # noqa: E402
from autograder.catalogue import get_exercise, misconceptions_for  # noqa: E402
from autograder.course import COURSE  # noqa: E402
from autograder.outcomes import exercise_of, is_answer_cell, is_test_cell, nbgrader_meta  # noqa: E402


def new_code_cell(source: str):
    """A code cell whose id derives from its source, so that rebuilding the example class
    reproduces the committed files (nbformat draws a random id)."""
    import hashlib
    return _new_code_cell(source, id=hashlib.sha1(source.encode()).hexdigest()[:8])


HOSTILE_ASSIGNMENT = "00_backprop"
SUBMITTED = HERE / "submitted"
SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


# ----------------------------------------------------------------------------------------
# answers
# ----------------------------------------------------------------------------------------
def solution_answers(aid: str) -> dict[str, str]:
    """grade_id -> the source notebook's answer cell without the solution markers."""
    nb = nbformat.read(str(ROOT / "solutions" / aid / f"{aid}.ipynb"), as_version=4)
    return {nbgrader_meta(c)["grade_id"]: SOLUTION_MARKERS.sub("", c.source) for c in nb.cells if is_answer_cell(c)}


class Unsupported(Exception):
    pass


def _loaded_names(fdef) -> set[str]:
    """Names the function reads that it does not bind itself (globals or closure cells)."""
    bound = {a.arg for a in ast.walk(fdef.args) if isinstance(a, ast.arg)}
    bound |= {n.id for n in ast.walk(fdef) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    return {n.id for n in ast.walk(fdef) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound


def _literal(v) -> bool:
    if isinstance(v, (int, float, str, bool, type(None))):
        return True
    return isinstance(v, tuple) and all(_literal(x) for x in v)


class _Inline(ast.NodeTransformer):
    """Replace reads of closure cells and module constants by their literal values, so that
    the answer cell defines no global the notebook's own cells could overwrite."""

    def __init__(self, values):
        self.values = values

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.values:
            return ast.copy_location(ast.parse(repr(self.values[node.id]), mode="eval").body, node)
        return node

    def visit_IfExp(self, node):  # `a if False else b` -> `b`
        node = self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return node.body if node.test.value else node.orelse
        return node

    def visit_If(self, node):  # `if True: a` -> `a`
        node = self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return (node.body if node.test.value else node.orelse) or ast.Pass()
        return node


def function_source(fn, name: str, exercise_ref, seen=None) -> str:
    """Standalone source of `fn` renamed `name`: its imports and helpers, with closure values
    and module constants written in place."""
    seen = set() if seen is None else seen
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    fdef = tree.body[0] if tree.body else None
    if isinstance(fdef, ast.ClassDef) and isinstance(fn, type):  # a class exercise (ReduceLROnPlateau)
        return _class_source(fn, fdef, name)
    if not isinstance(fdef, ast.FunctionDef):
        raise Unsupported("not a def")
    code = fn.__code__
    cells = {n: c.cell_contents for n, c in zip(code.co_freevars, fn.__closure__ or ())}
    pre, constants = [], {}
    for n in sorted(_loaded_names(fdef)):
        if n in cells:
            v = cells[n]
        elif n in fn.__globals__:
            v = fn.__globals__[n]
        else:
            continue  # a builtin
        if v is exercise_ref or getattr(v, "__name__", "") == "<lambda>":
            raise Unsupported(f"{n} is the reference or a lambda")
        if isinstance(v, types.ModuleType):
            pre.append(f"import {v.__name__}" if n == v.__name__ else f"import {v.__name__} as {n}")
        elif isinstance(v, types.FunctionType) and v.__module__.startswith("autograder.catalogue"):
            if n not in seen:
                seen.add(n)
                pre.append(function_source(v, n, exercise_ref, seen))
        elif isinstance(v, types.FunctionType) and v.__module__.startswith("tnn_lib"):
            pre.append(f"from {v.__module__} import {v.__name__}" + (f" as {n}" if n != v.__name__ else ""))
        elif _literal(v):
            constants[n] = v
        else:
            raise Unsupported(f"{n} is a {type(v).__name__}")
    if not constants and not fdef.decorator_list:  # a plain function: its own text, renamed
        body = re.sub(rf"^def {re.escape(fdef.name)}\(", f"def {name}(", textwrap.dedent(inspect.getsource(fn)))
    else:
        fdef = _Inline(constants).visit(fdef)
        fdef.name, fdef.decorator_list = name, []
        body = ast.unparse(ast.fix_missing_locations(fdef))
    return "\n".join(dict.fromkeys(p for p in pre if p)) + ("\n\n\n" if pre else "") + body.rstrip() + "\n"


def _class_source(cls, cdef, name: str) -> str:
    """A wrong variant written as a class: its own text, renamed, when it reads nothing but
    builtins, numpy as np and math (as a student's answer cell would)."""
    import builtins
    mod = sys.modules[cls.__module__]
    bound = {a.arg for a in ast.walk(cdef) if isinstance(a, ast.arg)}
    bound |= {n.id for n in ast.walk(cdef) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    loaded = {n.id for n in ast.walk(cdef) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound
    for n in sorted(loaded):
        v = getattr(mod, n, None) if hasattr(mod, n) else None
        if hasattr(builtins, n) or n in ("self",) or v is None:
            continue
        if not (isinstance(v, types.ModuleType) and v.__name__ in ("numpy", "math")):
            raise Unsupported(f"{n} is a {type(v).__name__}")
    src = textwrap.dedent(inspect.getsource(cls))
    body = re.sub(rf"^class {re.escape(cdef.name)}\b", f"class {name}", src)
    pre = [f"import {v.__name__}" + (f" as {n}" if n != v.__name__ else "")
           for n in sorted(loaded) if isinstance(v := getattr(mod, n, None), types.ModuleType)]
    return "\n".join(pre) + ("\n\n\n" if pre else "") + body.rstrip() + "\n"


def notebook_cases(aid: str, exercise: str) -> list[dict]:
    """The keyword arguments of every check of `exercise` in the source notebook's test cells."""
    from autograder.outcomes import check_cases
    nb = nbformat.read(str(ROOT / "solutions" / aid / f"{aid}.ipynb"), as_version=4)
    cases = []
    for cell in nb.cells:
        if is_test_cell(cell):
            cases += [kw for kw in check_cases(cell.source, exercise) if kw not in cases]
    return cases or [{"seed": 0}]


def misconception_answer(m, aid: str) -> tuple[str, bool]:
    """(answer cell source, written out in full?) for misconception `m`: the wrong variant's
    own source when, compiled on its own, it gets the same verdict as the catalogue's
    variant on every check of the notebook (and that verdict names `m` at least once)."""
    ex = get_exercise(m.exercise)
    try:
        src = function_source(m.impl, m.exercise, ex.reference)
        ns: dict = {}
        exec(compile(src, f"<{m.id}>", "exec"), ns)
        cases = notebook_cases(aid, m.exercise)
        mine = [_tag_of(m.exercise, ns[m.exercise], kw) for kw in cases]
        theirs = [_tag_of(m.exercise, m.impl, kw) for kw in cases]
        if mine == theirs and m.id in mine:
            return f"# {m.title}\n{src}", True
    except (Unsupported, OSError, TypeError, SyntaxError, KeyError, StopIteration, NameError):
        pass
    return (f"# {m.title}\nfrom autograder.catalogue import find_misconception\n"
            f"{m.exercise} = find_misconception({m.id!r}).impl\n"), False


def _tag_of(name, fn, kwargs=None):
    import warnings
    from autograder.checks import MISCONCEPTION_TAG, CheckFailure, check
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(name, fn, **(kwargs or {"seed": 0}))
    except CheckFailure as err:
        first = str(err).splitlines()[0]
        return first[len(MISCONCEPTION_TAG):].strip() if first.startswith(MISCONCEPTION_TAG) else "failed"
    except Exception as err:  # noqa: BLE001 - the same error from both is the same verdict
        return type(err).__name__
    return None


def reference_answer(name: str) -> str:
    ref = get_exercise(name).reference
    return (f"from {ref.__module__} import {ref.__name__} as _theirs\n\n\ndef {name}(*args, **kwargs):\n"
            f"    return _theirs(*args, **kwargs)\n")


# ----------------------------------------------------------------------------------------
# notebooks and expectations
# ----------------------------------------------------------------------------------------
def released(aid: str):
    return nbformat.read(str(ROOT / "notebooks" / aid / f"{aid}.ipynb"), as_version=4)


def with_answers(aid: str, answers: dict[str, str]):
    nb = released(aid)
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if is_answer_cell(cell) and gid in answers:
            cell.source = answers[gid]
    return nb


def tests_of(aid: str) -> list[tuple[str, str, float]]:
    """(test grade_id, exercise, points) of the source notebook, in order."""
    nb = nbformat.read(str(ROOT / "solutions" / aid / f"{aid}.ipynb"), as_version=4)
    answers = [nbgrader_meta(c)["grade_id"] for c in nb.cells if is_answer_cell(c)]
    return [(nbgrader_meta(c)["grade_id"], exercise_of(nbgrader_meta(c)["grade_id"], answers) or "",
             float(nbgrader_meta(c)["points"])) for c in nb.cells if is_test_cell(c)]


def _runnable(source: str) -> str:
    return "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines())


_BASE: dict = {}


def base_namespace(aid: str) -> dict:
    """The globals after running the source notebook's cells (answers and tests included)
    in this process: what the test cells see in a correct submission."""
    if aid not in _BASE:
        import contextlib
        import io
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        nb = nbformat.read(str(ROOT / "solutions" / aid / f"{aid}.ipynb"), as_version=4)
        ns = {"__name__": "__main__"}
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for cell in nb.cells:
                if cell.cell_type == "code":
                    try:  # a cell that fails here fails in every submission alike
                        exec(compile(_runnable(cell.source), f"<{aid}>", "exec"), ns)
                    except Exception:
                        pass
                    plt.close("all")
        _BASE[aid] = ns
    return _BASE[aid]


class _Hang(BaseException):
    """Stands in for an endless loop when expectations are computed: the cell never ends."""


def _status(err: BaseException) -> tuple[str, str]:
    from autograder.checks import MISCONCEPTION_TAG, REFERENCE_TAG
    first = (str(err).splitlines() or [""])[0].strip()
    if first.startswith(REFERENCE_TAG):
        return "reference-used", ""
    if first.startswith(MISCONCEPTION_TAG):
        return "misconception", first[len(MISCONCEPTION_TAG):].strip()
    if isinstance(err, _Hang):
        return "timeout", ""
    if isinstance(err, NotImplementedError):
        return "unanswered", ""
    if isinstance(err, AssertionError):
        return "failed", ""
    return "error", ""


def evaluate(aid: str, answers: dict[str, str], reference_users=()) -> dict:
    """Expected rows of a submission whose answer cells are `answers`, found by running the
    source's test cells (hidden tests included) in this process on a copy of the correct
    notebook's globals with these answers executed in it: no kernel, no nbgrader."""
    import contextlib
    import io
    import warnings
    ns = dict(base_namespace(aid), _Hang=_Hang)
    stubs, out = set(), {}
    src_nb = nbformat.read(str(ROOT / "solutions" / aid / f"{aid}.ipynb"), as_version=4)
    tests = {gid: (ex, points) for gid, ex, points in tests_of(aid)}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cell in src_nb.cells:  # answers and tests in the notebook's order, as a kernel runs them
            gid = nbgrader_meta(cell).get("grade_id")
            if is_answer_cell(cell) and gid in answers:
                try:
                    exec(compile(_runnable(answers[gid]), f"<{gid}>", "exec"), ns)
                except NotImplementedError:
                    stubs.add(gid)
                    ns.pop(gid, None)
                except Exception:
                    pass
            if not is_test_cell(cell):
                continue
            ex, points = tests[gid]
            try:
                from autograder.checks import cell_source
                with cell_source(cell.source):  # as grading runs a test cell
                    exec(compile(_runnable(cell.source), f"<{gid}>", "exec"), ns)
                status, mid = "passed", ""
            except (Exception, _Hang) as err:
                status, mid = _status(err)
                if isinstance(err, AssertionError) and status == "failed":  # grading's diagnosis
                    from autograder.catalogue import all_exercises
                    from autograder.diagnose import diagnose
                    from autograder.outcomes import check_cases
                    if ex in all_exercises():
                        found = diagnose(ex, ns.get(ex), check_cases(cell.source, ex) or [{"seed": 0}])
                        if found:
                            status, mid = "misconception", found
            if ex in reference_users:
                status, mid = "reference-used", ""
            if ex in stubs and status in ("error", "failed"):
                status = "unanswered"
            out[gid] = {"points": points if status == "passed" else 0.0, "status": status, "misconception": mid}
    return out


def expect(aid: str, broken: dict[str, tuple[str, str]] | None = None, everything: str | None = None,
           only: str | None = None) -> dict:
    """Expected rows: exercises in `broken` (exercise -> (status, misconception)) earn 0,
    the rest full points; `everything` gives every test that status and 0 points; `only`
    keeps the rows of that exercise."""
    out = {}
    for gid, ex, points in tests_of(aid):
        if only is not None and ex != only:
            continue
        if everything:
            out[gid] = {"points": 0.0, "status": everything, "misconception": ""}
        elif broken and ex in broken:
            status, mid = broken[ex]
            out[gid] = {"points": 0.0, "status": status, "misconception": mid}
        else:
            out[gid] = {"points": points, "status": "passed", "misconception": ""}
    return out


def write(student: str, aid: str, nb_or_bytes) -> None:
    path = SUBMITTED / student / aid / f"{aid}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb_or_bytes, bytes):
        path.write_bytes(nb_or_bytes)
    else:
        path.write_text(json.dumps(nb_or_bytes, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                        encoding="utf-8")


def _ids(nb):
    return [nbgrader_meta(c).get("grade_id") for c in nb.cells]


def hostile(aid: str, good: dict, expected: dict) -> None:
    exercises = [ex for ex in COURSE[aid] if ex in good]
    first, second = exercises[0], exercises[1]
    loop = dict(good, **{first: good[first].rstrip() + "\n\n\ndef " + first + "(*args, **kwargs):\n"
                         "    while True:  # an endless loop\n        pass\n"})
    write("hostile-loop", aid, with_answers(aid, loop))
    expected["hostile-loop"][aid] = evaluate(aid, dict(good, **{first: f"def {first}(*args, **kwargs):\n"
                                                                       "    raise _Hang()\n"}))
    bomb = dict(good, **{second: f"import numpy as np\n\n\ndef {second}(*args, **kwargs):\n    hoard = []\n"
                         "    while True:  # a memory bomb: 800 MB more each time round\n"
                         "        hoard.append(np.empty(10**8))\n"})
    write("hostile-memory", aid, with_answers(aid, bomb))
    expected["hostile-memory"][aid] = evaluate(aid, dict(good, **{second: f"def {second}(*args, **kwargs):\n"
                                                                         "    raise MemoryError()\n"}))
    nb = with_answers(aid, good)
    nb.cells.insert(_ids(nb).index(first) + 1, new_code_cell("for i in range(400_000):\n    print('all work and no "
                                                            "play makes Jack a dull boy ' * 2)"))
    write("hostile-output", aid, nb)
    expected["hostile-output"][aid] = expected["correct"][aid]
    nb = with_answers(aid, good)
    for cell in nb.cells:
        if is_test_cell(cell):
            cell.source = "# the tests are fine, trust me\npass"
    write("hostile-edited-test", aid, nb)
    expected["hostile-edited-test"][aid] = expected["correct"][aid]
    nb = with_answers(aid, good)
    nb.cells = [c for c in nb.cells if not (is_test_cell(c) and nbgrader_meta(c)["grade_id"].startswith(f"test_{first}"))]
    write("hostile-deleted-test", aid, nb)
    expected["hostile-deleted-test"][aid] = expected["correct"][aid]
    nb = with_answers(aid, good)
    i = _ids(nb).index(second)
    moved = nb.cells.pop(i)
    nb.cells.append(moved)
    nb.cells.insert(1, new_code_cell("# my scratch work\nscratch = [1, 2, 3]"))
    nb.cells.append(new_code_cell("print('done', scratch)"))
    write("hostile-reordered", aid, nb)
    expected["hostile-reordered"][aid] = expected["correct"][aid]
    nb = with_answers(aid, good)
    nb.cells.insert(2, new_code_cell("import ipywidgets as widgets\nwidgets.interact(lambda n: n * n, n=(0, 10))"))
    write("hostile-widget", aid, nb)
    expected["hostile-widget"][aid] = expected["correct"][aid]
    text = json.dumps(with_answers(aid, good), indent=1, sort_keys=True)
    write("hostile-invalid-json", aid, text[: len(text) // 2].encode())
    expected["hostile-invalid-json"][aid] = expect(aid, everything="invalid-notebook")
    write("hostile-not-a-notebook", aid, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10 screenshot of my notebook")
    expected["hostile-not-a-notebook"][aid] = expect(aid, everything="not-a-notebook")
    # notebook files: a byte-order mark, the old nbformat 3, JSON nested 100,000 deep
    text = json.dumps(with_answers(aid, good), indent=1, sort_keys=True, ensure_ascii=False)
    write("hostile-bom", aid, b"\xef\xbb\xbf" + text.encode("utf-8"))
    expected["hostile-bom"][aid] = expected["correct"][aid]
    write("hostile-nbformat3", aid, nbformat.writes(nbformat.convert(with_answers(aid, good), 3), version=3).encode())
    expected["hostile-nbformat3"][aid] = expected["correct"][aid]
    write("hostile-deep-json", aid, b"[" * 100_000 + b"]" * 100_000)
    expected["hostile-deep-json"][aid] = expect(aid, everything="invalid-notebook")
    folder = SUBMITTED / "hostile-missing" / aid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my_answers.py").write_text("# I wrote my answers in a script instead\n")
    expected["hostile-missing"][aid] = expect(aid, everything="missing-notebook")


# ----------------------------------------------------------------------------------------
# tampering submissions: the correct or blank notebook plus a trick against the grader
# ----------------------------------------------------------------------------------------
# Every trick that tries to leave something behind uses a marker that
# tests/test_grading_hostile.py looks for afterwards: files named tnn-pwned-*, processes
# `sleep 98765x`.
PWNED = "tnn-pwned-"


def _tampered(student: str, aid: str, base: str, cell: str | list | None = None, answers: dict | None = None) -> dict:
    """Write `student`'s notebook of `aid`: the correct (`base` "correct") or released ("blank")
    answers, with `answers` replacing some of them and `cell` (a cell of the student's own, or
    a list of them) inserted after the first code cell, the imports. Returns the answers written."""
    good = solution_answers(aid)
    stubs = {nbgrader_meta(c)["grade_id"]: c.source for c in released(aid).cells if is_answer_cell(c)}
    written = dict(good if base == "correct" else stubs, **(answers or {}))
    nb = with_answers(aid, written)
    if cell is not None:
        first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        nb.cells[first + 1:first + 1] = [new_code_cell(c) for c in ([cell] if isinstance(cell, str) else cell)]
    write(student, aid, nb)
    return written


def _raises(name: str, args: str, error: str = "TypeError") -> str:
    """An answer that raises `error` when called: what the grader sees of an answer whose
    return value may not be sent to it (the call raises TypeError on the grader's side), or
    whose call broke the channel (a WireError, a ValueError)."""
    return f"def {name}({args}):\n    raise {error}('stands for a call that fails on the grader side')\n"


def tampering(expected: dict, assignments) -> list[str]:
    """The hostile-tamper-* students (see the module docstring). Returns their names."""
    root = str(ROOT)
    made = []

    def add(student, aid, rows):
        expected[student][aid] = rows
        made.append(student)

    def correct(aid):
        return copy.deepcopy(expected["correct"][aid])

    def blank(aid):
        return copy.deepcopy(expected["blank"][aid])

    # -- 00_backprop: answers that cheat in what they return or raise, or how they reach the reference
    aid = "00_backprop"
    if aid in assignments:
        # a str subclass that equals everything: it reaches the grader as the plain string 'small'
        # (the wire sends a str subclass as str), which is a wrong answer
        s = "hostile-tamper-str-subclass-poll"
        _tampered(s, aid, "correct", answers={"poll_dead_relu_gradient": (
            "class AlwaysRight(str):\n    def __eq__(self, other):\n        return True\n\n"
            "    def __ne__(self, other):\n        return False\n\n    __hash__ = str.__hash__\n\n\n"
            "poll_dead_relu_gradient = AlwaysRight('small')\n")})
        add(s, aid, evaluate(aid, dict(solution_answers(aid), poll_dead_relu_gradient="poll_dead_relu_gradient = 'small'\n")))
        # an object that turns into the right array when numpy asks (__array__) cannot be sent:
        # for the grader the call raises TypeError
        s = "hostile-tamper-array-protocol"
        _tampered(s, aid, "correct", answers={"linear_forward": (
            "import numpy as np\n\n\nclass LooksRight:\n    def __init__(self, x, W, b):\n        self.x, self.W, self.b = x, W, b\n\n"
            "    def __array__(self, dtype=None, copy=None):\n        return self.x @ self.W + self.b\n\n"
            "    def __eq__(self, other):\n        return True\n\n\n"
            "def linear_forward(x, W, b):\n    return LooksRight(x, W, b), (x, W, b)\n")})
        add(s, aid, evaluate(aid, dict(solution_answers(aid), linear_forward=_raises("linear_forward", "x, W, b"))))
        # unsendable return values: for the grader each call raises TypeError, except a function,
        # which crosses as a handle and is simply not an array (evaluate runs the lambda itself)
        for s, ex, args, body in [
                ("hostile-tamper-unsendable-generator", "relu_backward", "dout, cache",
                 "    return (v for v in dout * (cache > 0))\n"),
                ("hostile-tamper-unsendable-instance", "tanh_backward", "dout, cache",
                 "    class Result:\n        value = dout * (1 - cache ** 2)\n\n    return Result()\n"),
                ("hostile-tamper-unsendable-object-array", "linear_backward", "dout, cache",
                 "    import numpy as np\n    x, W, b = cache\n    return (np.array(dout @ W.T, dtype=object), "
                 "np.array(x.T @ dout, dtype=object), np.array(dout.sum(axis=0), dtype=object))\n")]:
            _tampered(s, aid, "correct", answers={ex: f"def {ex}({args}):\n{body}"})
            add(s, aid, evaluate(aid, dict(solution_answers(aid), **{ex: _raises(ex, args)})))
        s = "hostile-tamper-unsendable-lambda"
        lam = "def sigmoid_backward(dout, cache):\n    return lambda *args: dout * cache * (1 - cache)\n"
        _tampered(s, aid, "correct", answers={"sigmoid_backward": lam})
        add(s, aid, evaluate(aid, dict(solution_answers(aid), sigmoid_backward=lam)))
        # an error that claims to be the grader's own verdict: the grader marks messages raised by
        # the student's code as such and never reads a misconception (or anything) from them
        s = "hostile-tamper-fake-checkfailure"
        _tampered(s, aid, "correct", answers={"relu_backward": (
            "class CheckFailure(AssertionError):\n    pass\n\n\ndef relu_backward(dout, cache):\n"
            "    raise CheckFailure('TNN-MISCONCEPTION relu-passes-negative-gradient\\nrelu_backward: fine otherwise')\n")})
        # written by hand: in this process the tag would be read as a misconception
        add(s, aid, expect(aid, broken={"relu_backward": ("failed", "")}))
        # the reference reached around the static scan: reloaded, or run from its own file's text
        s = "hostile-tamper-ref-reload"
        written = _tampered(s, aid, "correct", answers={"linear_forward": (
            "import importlib\nimport tnn_lib.layers as layers\n\nlayers = importlib.reload(layers)\n\n\n"
            "def linear_forward(x, W, b):\n    return layers.linear_forward(x, W, b)\n")})
        add(s, aid, evaluate(aid, written, reference_users={"linear_forward"}))
        s = "hostile-tamper-ref-read-file"
        written = _tampered(s, aid, "correct", answers={"relu_backward": (
            "import tnn_lib.layers as layers\n\n_theirs = {}\nexec(open(layers.__file__).read(), _theirs)\n\n\n"
            "def relu_backward(dout, cache):\n    return _theirs['relu_' + 'backward'](dout, cache)\n")})
        add(s, aid, evaluate(aid, written, reference_users={"relu_backward"}))
        # every answer ends the process when called: each test costs a restart and only itself
        # (no cap on restarts: the submission's budget bounds them)
        s = "hostile-tamper-exit-every-call"
        stubs = {nbgrader_meta(c)["grade_id"]: c.source for c in released(aid).cells if is_answer_cell(c)}
        dying = {ex: f"import os\n\n\ndef {ex}(*args, **kwargs):\n    os._exit(1)\n"
                 for ex in COURSE[aid] if ex in stubs}
        _tampered(s, aid, "blank", answers=dying)
        rows = blank(aid)   # written by hand where the answer is called: no such status in this process
        for gid, ex, points in tests_of(aid):
            if ex in dying:
                rows[gid] = {"points": 0.0, "status": "kernel-died", "misconception": ""}
        add(s, aid, rows)
        # what one student leaves for the next on the same worker: a read-only folder in /tmp,
        # /tmp itself read-only, /dev/shm filled, System V shared memory (each student has its own)
        s = "hostile-tamper-leave-behind"
        _tampered(s, aid, "correct", (
            "# leave things for the next student\nimport ctypes\nimport os\n\n"
            f"os.makedirs('/tmp/{PWNED}ro/inside', exist_ok=True)\nos.chmod('/tmp/{PWNED}ro', 0o555)\n"
            "try:\n    with open('/dev/shm/" + PWNED + "shm', 'wb') as f:\n        for i in range(300):\n"
            "            f.write(b'x' * (1 << 20))\nexcept OSError:\n    pass\n"
            "libc = ctypes.CDLL(None)\nlibc.shmget(0x7E57, 16 << 20, 0o1666)\nos.chmod('/tmp', 0o555)\n"))
        add(s, aid, correct(aid))
        # cells that hang, more of them than any cap on restarts, before correct answers
        s = "hostile-tamper-many-hangs"
        _tampered(s, aid, "correct", ["while True:  # scratch that never ends\n    pass\n"] * 7)
        add(s, aid, correct(aid))

    # -- 01_divergences: a blank notebook that disarms the checks in its own process (the graded
    # tests run in the grader's, so nothing changes)
    aid = "01_divergences"
    if aid in assignments:
        tricks = {
            "input-transformer": (
                "# blank out every cell that looks like a test before IPython runs it\nip = get_ipython()\n\n\n"
                "def no_tests(lines):\n    if any(ln.lstrip().startswith(('check', 'assert', 'from autograder')) "
                "for ln in lines):\n        return ['pass\\n']\n    return lines\n\n\n"
                "ip.input_transformers_cleanup.append(no_tests)\nip.input_transformers_post.append(no_tests)\n"),
            "replaced-checks": (
                "# every check passes\nimport builtins\nimport numpy as np\nimport autograder.checks as checks\n\n"
                "checks.check = checks.check_choice = checks.check_poll = lambda *args, **kwargs: True\n"
                "np.allclose = np.isclose = np.array_equal = lambda *args, **kwargs: True\n"
                "builtins.check = builtins.check_choice = builtins.check_poll = checks.check\n"),
            "ipython-hooks": (
                "# no error is ever shown or recorded, and no assert is run\nimport ast\nip = get_ipython()\n"
                "ip.showtraceback = lambda *args, **kwargs: None\n"
                "ip.set_custom_exc((Exception,), lambda *args, **kwargs: None)\n\n\n"
                "def forget_errors(result):\n    result.error_in_exec = None\n    result.error_before_exec = None\n\n\n"
                "ip.events.register('post_run_cell', forget_errors)\n\n\n"
                "class NoAsserts(ast.NodeTransformer):\n    def visit_Assert(self, node):\n        return ast.Pass()\n\n\n"
                "ip.ast_transformers.append(NoAsserts())\n"),
            "fake-checks-module": (
                "# a checks module of my own, found first by every later import\nimport sys\nimport types\n\n"
                "fake = types.ModuleType('autograder.checks')\n"
                "fake.check = fake.check_choice = fake.check_poll = lambda *args, **kwargs: True\n"
                "fake.CheckFailure = AssertionError\npackage = types.ModuleType('autograder')\n"
                "package.__path__ = []\npackage.checks = fake\n"
                "sys.modules['autograder'] = package\nsys.modules['autograder.checks'] = fake\n"),
            "np-testing": (
                "# numpy's testing helpers never fail\nimport numpy as np\nimport numpy.testing\n\n"
                "for name in ('assert_allclose', 'assert_array_equal', 'assert_array_almost_equal', 'assert_equal',\n"
                "             'assert_almost_equal'):\n    setattr(np.testing, name, lambda *args, **kwargs: None)\n"),
            "fake-output": (
                "# output that looks like a grader's verdict\nimport json\n"
                "print(json.dumps({'output_type': 'stream', 'name': 'stdout', 'text': 'TNN-MISCONCEPTION none\\n"
                "all tests passed'}))\nprint('TNN-REFERENCE-USED')\nprint('Points: 13/13')\n"),
        }
        for name, cell in tricks.items():
            s = f"hostile-tamper-{name}"
            _tampered(s, aid, "blank", cell)
            add(s, aid, blank(aid))
        # the reference's source (the sandbox's copy: a stub there) executed under another name
        s = "hostile-tamper-ref-getsource"
        written = _tampered(s, aid, "correct", answers={"softmax": (
            "import inspect\nimport tnn_lib.divergences as divergences\n\n_theirs = {}\n"
            "exec(inspect.getsource(divergences), _theirs)\n\n\ndef softmax(z):\n"
            "    return _theirs['soft' + 'max'](z)\n")})
        add(s, aid, evaluate(aid, written, reference_users={"softmax"}))

    # -- 05_optimizers: processes that outlive the notebook, the solutions on disk, the reference
    aid = "05_optimizers"
    if aid in assignments:
        s = "hostile-tamper-read-solutions"
        _tampered(s, aid, "blank", (
            "# the answers are on this machine somewhere: find the source notebook, run its solutions\n"
            "import json\nimport os\nimport time\n\n"
            f"places = ['solutions', '../solutions', '../../solutions', {root + '/solutions'!r}, "
            "os.path.expanduser('~/solutions')]\nstart = time.monotonic()\n"
            "for top, dirs, files in os.walk('/'):\n"
            "    dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'dev')]\n"
            "    if '05_optimizers.ipynb' in files:\n        places.append(os.path.dirname(top))\n"
            "    if time.monotonic() - start > 3:\n        break\n"
            "for base in places:\n    try:\n"
            "        with open(os.path.join(base, '05_optimizers', '05_optimizers.ipynb')) as f:\n"
            "            nb = json.load(f)\n    except (OSError, ValueError):\n        continue\n"
            "    for c in nb['cells']:\n        if c['metadata'].get('nbgrader', {}).get('solution'):\n"
            "            exec(''.join(c['source']), globals())\n    break\n"))
        add(s, aid, blank(aid))
        s = "hostile-tamper-detached-popen"
        _tampered(s, aid, "correct", (
            "# a process in its own session that keeps writing files\nimport subprocess\n\n"
            "subprocess.Popen(['sh', '-c', 'while true; do for d in . /tmp ~ "
            f"{root}; do echo x > $d/{PWNED}loop; done; sleep 987654; done'],\n"
            "                 start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,\n"
            "                 stderr=subprocess.DEVNULL)\n"))
        add(s, aid, correct(aid))
        s = "hostile-tamper-fork-setsid"
        _tampered(s, aid, "correct", (
            "# a double fork: the grandchild leaves the session and lives on\nimport os\n\npid = os.fork()\n"
            "if pid == 0:\n    try:\n        os.setsid()\n        if os.fork() == 0:\n"
            f"            for d in ('.', '/tmp', {root!r}):\n                try:\n"
            f"                    open(os.path.join(d, '{PWNED}forked'), 'w').close()\n"
            "                except OSError:\n                    pass\n"
            "            os.execvp('sleep', ['sleep', '987653'])\n    finally:\n        os._exit(0)\n"
            "os.waitpid(pid, 0)\n"))
        add(s, aid, correct(aid))
        s = "hostile-tamper-fork-bomb"
        _tampered(s, aid, "correct", (
            "# as many processes as the system allows (a bounded bomb: 300)\nimport os\n\nchildren = []\n"
            "for i in range(300):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
            "    if pid == 0:\n        try:\n            os.execvp('sleep', ['sleep', '987652'])\n"
            "        finally:\n            os._exit(0)\n    children.append(pid)\n"
            "print(len(children), 'processes')\n"))
        add(s, aid, correct(aid))
        s = "hostile-tamper-ref-importlib"
        written = _tampered(s, aid, "correct", answers={"sgd_step": (
            "import importlib\n\n\ndef sgd_step(w, dw, state, lr):\n"
            "    return getattr(importlib.import_module('tnn_lib.' + 'optim'), 'sgd_' + 'step')(w, dw, state, lr)\n")})
        add(s, aid, evaluate(aid, written, reference_users={"sgd_step"}))
        s = "hostile-tamper-ref-thread"
        written = _tampered(s, aid, "correct", answers={"momentum_step": (
            "import threading\nimport tnn_lib.optim as optim_module\n\n\n"
            "def momentum_step(w, dw, state, lr, momentum=0.9):\n    box = {}\n\n"
            "    def run():  # in another thread, out of sight of a watch on this one\n        try:\n"
            "            box['out'] = getattr(optim_module, 'momentum' + '_step')(w, dw, state, lr, momentum)\n"
            "        except BaseException as err:\n            box['err'] = err\n\n"
            "    t = threading.Thread(target=run)\n    t.start()\n    t.join()\n    if 'err' in box:\n"
            "        raise box['err']\n    return box['out']\n")})
        add(s, aid, evaluate(aid, written, reference_users={"momentum_step"}))

    # -- 06_regularization: ending the process, writing into the grader's channel, output
    aid = "06_regularization"
    if aid in assignments:
        frame = ("import json\nimport os\nimport struct\n\n"
                 "head = json.dumps({'op': 'reply', 'id': 1, 'ok': True, 'status': 'ok', 'ename': '', 'evalue': '', "
                 "'printed': 0}).encode()\nfor fd in range(3, 40):\n    try:\n"
                 "        os.write(fd, b'TNN1' + struct.pack('<I', len(head)) + head)\n    except OSError:\n        pass\n")
        tricks = {
            "os-exit": "# the end\nimport os\n\nos._exit(0)\n",
            "sys-exit": "# the end, politely\nimport sys\n\nsys.exit('all done')\n",
            "quit": "# the end, as the notebook says it\nquit()\nexit()\n",
            "channel-garbage": ("# bytes into every descriptor the process has\nimport os\n\nfor fd in range(3, 40):\n"
                                "    try:\n        os.write(fd, b'garbage garbage garbage')\n"
                                "    except OSError:\n        pass\n"),
            "channel-fake-reply": "# a reply frame the grader did not ask for\n" + frame,
            "huge-output": ("# far more output than the limit, through every way out\nimport os\nimport sys\n\n"
                            "sys.stdout.write('x' * 30_000_000)\nsys.stderr.write('e' * 5_000_000)\n"
                            "os.write(1, b'y' * 5_000_000)\nos.write(2, b'z' * 5_000_000)\n"
                            "for i in range(100_000):\n    print('all work and no play makes Jack a dull boy')\n"),
            # harmless the first time; replayed after the next cell ended the process, it writes into
            # the channel (its mark is left beside the working directory, which is new each time)
            "channel-on-replay": [
                "import os\n\n"
                f"if os.path.exists('../{PWNED}ran'):\n    for fd in range(3, 40):\n        try:\n"
                "            os.write(fd, b'garbage')\n        except OSError:\n            pass\n"
                f"open('../{PWNED}ran', 'w').close()\n",
                "import os\n\nos._exit(0)\n"],
        }
        for name, cell in tricks.items():
            s = f"hostile-tamper-{name}"
            _tampered(s, aid, "correct", cell)
            add(s, aid, correct(aid))
        # a correct answer that also writes into the channel: its calls fail on the grader side
        s = "hostile-tamper-channel-in-answer"
        _tampered(s, aid, "correct", answers={"clip_grad_value": (
            "import os\nimport numpy as np\n\n\ndef clip_grad_value(grads, clip_value):\n"
            "    for fd in range(3, 40):\n        try:\n            os.write(fd, b'garbage')\n"
            "        except OSError:\n            pass\n    for k in grads:\n"
            "        np.clip(grads[k], -clip_value, clip_value, out=grads[k])\n    return grads\n")})
        add(s, aid, evaluate(aid, dict(solution_answers(aid), clip_grad_value=_raises(
            "clip_grad_value", "grads, clip_value", "ValueError"))))
        # an answer that ends the process when called: written by hand (no such status in this process)
        s = "hostile-tamper-exit-in-answer"
        _tampered(s, aid, "correct", answers={"early_stopping_epoch": (
            "import os\n\n\ndef early_stopping_epoch(val_losses, patience):\n    os._exit(3)\n")})
        add(s, aid, expect(aid, broken={"early_stopping_epoch": ("kernel-died", "")}))
        s = "hostile-tamper-ref-setprofile"
        written = _tampered(s, aid, "correct", answers={"l2_penalty": (
            "import sys\nimport tnn_lib.regularization as regularization\n\n\ndef l2_penalty(params, lam):\n"
            "    sys.setprofile(None)  # whatever watches the calls, off\n"
            "    return regularization.l2_penalty(params, lam)\n")})
        add(s, aid, evaluate(aid, written, reference_users={"l2_penalty"}))
        s = "hostile-tamper-ref-gc"
        written = _tampered(s, aid, "correct", answers={"l1_penalty": (
            "import gc\n\n\ndef l1_penalty(params, lam):\n    for obj in gc.get_objects():  # it is in memory somewhere\n"
            "        if callable(obj) and getattr(obj, '__name__', '') == 'l1_' + 'penalty' \\\n"
            "                and getattr(obj, '__module__', '') != '__main__':\n            return obj(params, lam)\n"
            "    raise RuntimeError('not found')\n")})
        add(s, aid, evaluate(aid, written, reference_users={"l1_penalty"}))

    # -- 07_training: writing into the course, the environment and elsewhere; deep recursion
    aid = "07_training"
    if aid in assignments:
        s = "hostile-tamper-write-course"
        targets = [f"{root}/{PWNED}write.txt", f"{root}/solutions/{aid}/threadpoolctl.py",
                   f"{root}/solutions/{aid}/{PWNED}write.txt", f"{root}/autograder/{PWNED}write.py",
                   f"{root}/tnn_lib/{PWNED}write.py", f"{root}/notebooks/{aid}/{PWNED}write.txt"]
        _tampered(s, aid, "correct", (
            "# files where the grader (or the next student) would run them\nimport os\nimport sysconfig\n\n"
            f"targets = {targets!r}\n"
            f"targets += [os.path.join(sysconfig.get_paths()['purelib'], '{PWNED}write.pth'),\n"
            f"            '/opt/tnn/{PWNED}write.py', '/tmp/{PWNED}write.txt', '{PWNED}write.txt',\n"
            f"            os.path.expanduser('~/{PWNED}write.txt'), '../{PWNED}write.txt']\n"
            "for p in targets:\n    try:\n        with open(p, 'w') as f:\n"
            f"            f.write(\"open('/tmp/{PWNED}ran', 'w').close()  # {PWNED}\\n\")\n"
            "    except OSError:\n        pass\n"))
        add(s, aid, correct(aid))
        # a C-level recursion far beyond the stack (json's parser with the limit raised): the
        # interpreter crashes; in a cell that costs the cell, in an answer each call of it
        crash = "sys.setrecursionlimit(10**6)\njson.loads('[' * 300_000 + ']' * 300_000)\n"
        s = "hostile-tamper-deep-recursion"
        _tampered(s, aid, "correct", "# deeper than the stack\nimport json\nimport sys\n\n" + crash)
        add(s, aid, correct(aid))
        s = "hostile-tamper-deep-recursion-answer"
        _tampered(s, aid, "correct", answers={"evaluate": (
            "import json\nimport sys\n\n\ndef evaluate(model, x, y):\n" + textwrap.indent(crash, "    "))})
        add(s, aid, expect(aid, broken={"evaluate": ("kernel-died", "")}))
    return made


def build(assignments=None) -> dict:
    from collections import defaultdict
    assignments = assignments or [a for a in COURSE if (ROOT / "solutions" / a / f"{a}.ipynb").is_file()
                                  and (ROOT / "notebooks" / a / f"{a}.ipynb").is_file()]
    if SUBMITTED.exists():
        shutil.rmtree(SUBMITTED)
    expected: dict = defaultdict(dict)
    written_out = {}
    for aid in assignments:
        good = solution_answers(aid)
        exercises = [ex for ex in COURSE[aid] if ex in good]
        stub_nb = released(aid)
        stubs = {nbgrader_meta(c)["grade_id"]: c.source for c in stub_nb.cells if is_answer_cell(c)}
        write("correct", aid, with_answers(aid, good))
        expected["correct"][aid] = evaluate(aid, good)
        write("blank", aid, stub_nb)
        expected["blank"][aid] = evaluate(aid, stubs)
        answered = exercises[: (len(exercises) + 1) // 2]
        polls = [g for g in good if g not in exercises]
        partial = dict(stubs, **{g: good[g] for g in answered + polls})
        write("partial", aid, with_answers(aid, partial))
        expected["partial"][aid] = evaluate(aid, partial)
        cheat = dict(good, **{exercises[0]: reference_answer(exercises[0])})
        write("uses-reference", aid, with_answers(aid, cheat))
        # while grading, the references of every exercise of the assignment are absent from the
        # student's process: an answer that calls the imported reference under its exercise's name
        # fails too (in 04, activation_statistics calls init_weights)
        leaning = {ex for ex in exercises[1:] if re.search(rf"\b{exercises[0]}\(", good[ex])}
        expected["uses-reference"][aid] = evaluate(aid, cheat, reference_users={exercises[0]} | leaning)
        for ex in exercises:
            for m in misconceptions_for(ex):
                src, full = misconception_answer(m, aid)
                written_out[m.id] = full
                answers = dict(good, **{ex: src})
                write(m.id, aid, with_answers(aid, answers))
                expected[m.id][aid] = evaluate(aid, answers)
        if aid == HOSTILE_ASSIGNMENT:
            hostile(aid, good, expected)
    tampering(expected, assignments)
    doc = {"about": "expected grades of autograder/examples/submitted, written by build.py from what each "
                    "submission breaks (the source's test cells run in-process on the correct notebook's globals "
                    "with the submission's answers; hostile cases by hand); tests/test_grading_examples.py grades "
                    "the class and compares",
           "students": {s: dict(sorted(a.items())) for s, a in sorted(expected.items())}}
    (HERE / "expected.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    inline = [m for m, full in written_out.items() if not full]
    print(f"wrote {sum(len(a) for a in expected.values())} submissions of {len(expected)} students "
          f"for {len(assignments)} assignments to {SUBMITTED}; {len(written_out) - len(inline)} of "
          f"{len(written_out)} misconceptions written out as the student's own code")
    if inline:
        print(f"{len(inline)} misconceptions could not be written out as standalone code and import the "
              f"catalogue's variant instead: {', '.join(sorted(inline))}")
    return doc


if __name__ == "__main__":
    build(sys.argv[1:] or None)
