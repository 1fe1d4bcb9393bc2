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
  ``hostile-widget``, ``hostile-invalid-json``, ``hostile-not-a-notebook``, ``hostile-missing``.
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
    folder = SUBMITTED / "hostile-missing" / aid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my_answers.py").write_text("# I wrote my answers in a script instead\n")
    expected["hostile-missing"][aid] = expect(aid, everything="missing-notebook")


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
