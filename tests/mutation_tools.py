"""Mutation testing of the course's answers: a small AST mutator applied to every answer cell
of solutions/ (one change at a time), and the exercise's own test cells (visible and hidden)
run against each mutant. A mutant that still passes every test cell *survives*; every survivor
must be listed, with the reason it is equivalent, in tests/mutation_survivors.txt.

Mutation operators (one site at a time, inside the answer's functions and classes, docstrings
excepted):
  cmp     a comparison made strict or loose (< ↔ <=, > ↔ >=), == ↔ !=
  arith   + ↔ −, × ↔ ÷ (binary and augmented assignments)
  const   a number changed: 0 → 1, 1 → 2, k → 2k (defaults of the signature included)
  keepdims  keepdims=True ↔ False
  axis    axis=k → the other axis (0 ↔ 1, −1 → 0)
  copy    ``a.copy()`` → ``a`` and ``np.copy(a)`` → ``a``

How a notebook runs here (as nbgrader runs it, without a kernel): its set-up cells (code cells
made only of imports, definitions and assignments) and its answer cells, in order, then the
test cells of one exercise with the mutant in place of its answer cell. Lesson cells (plots,
training runs, widgets) are not run; a test cell that needs one of them is run after the lesson
cell that defines what it needs (``_needs``).
"""
from __future__ import annotations

import ast
import contextlib
import copy
import io
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from notebook_tools import nbgrader_meta, read, source_notebook

ROOT = Path(__file__).resolve().parent.parent
SURVIVORS = ROOT / "tests" / "mutation_survivors.txt"
TIMEOUT = 20          # seconds for one mutant's test cells; a mutant that loops for ever is killed by it

_SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
_SWAP_OP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}
_SYM = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
        ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


@dataclass
class Mutant:
    exercise: str
    key: str            # "<exercise>:<line in the cell>:<operator> <from> -> <to>", stable while the cell is
    source: str         # the whole answer cell, mutated


def _docstring_nodes(tree) -> set:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.add(id(body[0].value))
    return out


def _sites(tree):
    """(node, operator, description, apply) for every mutation site of the tree."""
    docs = _docstring_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _SWAP_CMP:
                    new = _SWAP_CMP[type(op)]
                    yield node, "cmp", f"{_SYM[type(op)]} -> {_SYM[new]}", (lambda n, i=i, new=new: n.ops.__setitem__(i, new()))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _SWAP_OP:
            new = _SWAP_OP[type(node.op)]
            yield node, "arith", f"{_SYM[type(node.op)]} -> {_SYM[new]}", (lambda n, new=new: setattr(n, "op", new()))
        elif isinstance(node, ast.Constant) and id(node) not in docs and type(node.value) in (int, float):
            v = node.value
            new = 1 if v == 0 else (2 if v == 1 else v * 2)
            new = type(v)(new) if isinstance(v, float) else new
            yield node, "const", f"{v!r} -> {new!r}", (lambda n, new=new: setattr(n, "value", new))
        elif isinstance(node, ast.keyword) and node.arg == "keepdims" and isinstance(node.value, ast.Constant):
            v = node.value.value
            yield node, "keepdims", f"keepdims={v} -> {not v}", (lambda n: setattr(n.value, "value", not n.value.value))
        elif isinstance(node, ast.keyword) and node.arg == "axis" and isinstance(node.value, (ast.Constant, ast.UnaryOp)):
            try:
                v = ast.literal_eval(node.value)
            except ValueError:
                continue
            if isinstance(v, int):
                new = {0: 1, 1: 0}.get(v, 0)
                yield node, "axis", f"axis={v} -> {new}", (lambda n, new=new: setattr(n, "value", ast.Constant(new)))
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr == "copy" and not node.args and not node.keywords:
                yield node, "copy", ".copy() dropped", None
            elif isinstance(f, ast.Attribute) and f.attr == "copy" and isinstance(f.value, ast.Name) \
                    and f.value.id in ("np", "numpy") and len(node.args) == 1:
                yield node, "copy", "np.copy() dropped", None


class _DropCopy(ast.NodeTransformer):
    def __init__(self, target_index):
        self.target, self.i = target_index, -1

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        is_copy = (isinstance(f, ast.Attribute) and f.attr == "copy" and not node.args and not node.keywords) or (
            isinstance(f, ast.Attribute) and f.attr == "copy" and isinstance(f.value, ast.Name)
            and f.value.id in ("np", "numpy") and len(node.args) == 1)
        if not is_copy:
            return node
        self.i += 1
        if self.i != self.target:
            return node
        return node.args[0] if node.args else f.value


def mutants_of(exercise: str, source: str) -> list[Mutant]:
    """Every single-site mutant of an answer cell (only inside its functions and classes)."""
    tree = ast.parse(source)
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    inside = {id(x) for d in defs for x in ast.walk(d)}
    out, seen = [], {}
    sites = [s for s in _sites(tree) if id(s[0]) in inside]
    for node, op, desc, apply in sites:
        mutated = copy.deepcopy(tree)
        if op == "copy":
            # the copy calls are numbered in visiting order of the transformer (post-order)
            order = [id(n) for n in _copy_calls_postorder(tree)]
            _DropCopy(order.index(id(node))).visit(mutated)
        else:
            # ast.walk visits both trees in the same order: a node pairs with its copy
            apply(_pair(tree, mutated, node))
        line = getattr(node, "lineno", None) or getattr(getattr(node, "value", None), "lineno", 0)
        base = f"{exercise}:{line}:{op} {desc}"
        seen[base] = seen.get(base, 0) + 1
        key = base if seen[base] == 1 else f"{base} #{seen[base]}"
        out.append(Mutant(exercise, key, ast.unparse(ast.fix_missing_locations(mutated))))
    return out


def _pair(tree, mutated, node):
    for a, b in zip(ast.walk(tree), ast.walk(mutated)):
        if a is node:
            return b
    raise LookupError("node not found")


def _copy_calls_postorder(tree):
    out = []

    class V(ast.NodeVisitor):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if (isinstance(f, ast.Attribute) and f.attr == "copy" and not node.args and not node.keywords) or (
                    isinstance(f, ast.Attribute) and f.attr == "copy" and isinstance(f.value, ast.Name)
                    and f.value.id in ("np", "numpy") and len(node.args) == 1):
                out.append(node)
    V().visit(tree)
    return out


# ---------------------------------------------------------------------------------------- notebooks

def _is_setup(src: str) -> bool:
    """A code cell of imports, definitions and plain assignments only (no loops, no plots)."""
    try:
        tree = ast.parse(_strip_magics(src))
    except SyntaxError:
        return False
    ok = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)
    calls = [n for n in tree.body if isinstance(n, ast.Expr)]
    if not tree.body or not all(isinstance(n, ok) or n in calls for n in tree.body):
        return False
    for n in calls:   # a bare call of a lesson function (a widget, a plot) makes it a lesson cell
        if "plt." in ast.unparse(n) or not isinstance(n.value, ast.Call):
            return False
        if isinstance(n.value.func, ast.Name) and n.value.func.id not in ("threadpool_limits", "print"):
            return False
    return True


def _strip_magics(src: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())


@dataclass
class Exercise:
    assignment: str
    name: str
    answer: str               # the answer cell's source
    tests: list               # the source of every graded test cell of this exercise


def notebook_plan(aid: str):
    """(cells to run first, in order, as (kind, grade_id, source)), {exercise: Exercise}."""
    nb = read(source_notebook(aid))
    prelude, exercises = [], {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id", "")
        if meta.get("solution") and not meta.get("grade"):
            prelude.append(("answer", gid, cell.source))
            if "def " in cell.source or "class " in cell.source:
                exercises[gid] = Exercise(aid, gid, cell.source, [])
        elif meta.get("grade"):
            prelude.append(("test", gid, cell.source))
        elif _is_setup(cell.source):
            prelude.append(("setup", gid, cell.source))
        else:
            prelude.append(("lesson", gid, cell.source))
    for kind, gid, src in prelude:
        if kind == "test":
            name = re.sub(r"_\d+$", "", gid[len("test_"):])
            if name in exercises:
                exercises[name].tests.append(src)
    return prelude, exercises


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds):
    def on_alarm(signum, frame):
        raise _Timeout(f"more than {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _exec(src, ns):
    src = _strip_magics(src)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        exec(compile(src, "<cell>", "exec"), ns)


def base_namespace(aid: str):
    """The namespace after the set-up and answer cells of a notebook (lesson and test cells not run)."""
    import matplotlib
    matplotlib.use("Agg")
    prelude, exercises = notebook_plan(aid)
    ns = {"__name__": "__main__"}
    for kind, gid, src in prelude:
        if kind == "answer":
            _exec(src, ns)
        elif kind == "setup":
            try:          # a set-up cell that needs a lesson cell's names is left out
                _exec(src, ns)
            except Exception:   # noqa: BLE001
                pass
    return ns, exercises


def _needs(aid: str, name: str, ns: dict) -> bool:
    """Run, into ns, the first lesson cell of the notebook that assigns `name` at top level."""
    prelude, _ = notebook_plan(aid)
    for kind, _gid, src in prelude:
        if kind != "lesson":
            continue
        try:
            tree = ast.parse(_strip_magics(src))
        except SyntaxError:
            continue
        targets = {t.id for n in tree.body if isinstance(n, ast.Assign) for tt in n.targets
                   for t in ast.walk(tt) if isinstance(t, ast.Name)}
        if name in targets:
            _exec(src, ns)
            return True
    return False


def run_tests(ns_base: dict, exercise: Exercise, answer: str) -> str | None:
    """None when every test cell of the exercise passes with `answer` in place; else why it failed."""
    ns = dict(ns_base)
    try:
        with _deadline(TIMEOUT):
            _exec(answer, ns)
            for src in exercise.tests:
                _exec(src, ns)
    except _Timeout as err:
        return f"timeout ({err})"
    except BaseException as err:   # noqa: BLE001 - any failure of a test cell kills the mutant
        if isinstance(err, KeyboardInterrupt):
            raise
        return f"{type(err).__name__}: {str(err)[:200]}"
    return None


def read_survivors(path: Path = SURVIVORS) -> dict:
    """{mutant key: reason} from the survivors file (lines "key  # reason"; '#' starts comments)."""
    out = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, reason = line.partition("  # ")
        out[key.strip()] = reason.strip()
    return out


def run_assignment(aid: str, only=None, sample: int | None = None, seed: int = 0, log=None):
    """Run the mutants of one notebook: returns (killed, survivors [(key, source)], seconds)."""
    import random
    t0 = time.perf_counter()
    ns, exercises = base_namespace(aid)
    killed, survived = 0, []
    for name, ex in exercises.items():
        if only and name not in only:
            continue
        failure = run_tests(ns, ex, ex.answer)
        for _ in range(3):      # a test cell that needs a lesson cell's name: run that lesson cell first
            missing = re.match(r"NameError: name '(\w+)' is not defined", failure or "")
            if not missing or not _needs(aid, missing.group(1), ns):
                break
            failure = run_tests(ns, ex, ex.answer)
        if failure:
            raise AssertionError(f"{aid}/{name}: the unmutated answer fails its own tests here: {failure}")
        ms = mutants_of(name, ex.answer)
        if sample is not None:
            ms = random.Random(f"{seed}:{name}").sample(ms, min(sample, len(ms)))
        for m in ms:
            why = run_tests(ns, ex, m.source)
            if why is None:
                survived.append((m.key, m.source))
            else:
                killed += 1
            if log:
                log(f"{m.key}: {'SURVIVED' if why is None else 'killed'}")
    return killed, survived, time.perf_counter() - t0
