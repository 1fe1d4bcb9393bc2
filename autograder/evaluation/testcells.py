"""Test-cell evaluation: the graded test cells run here, never where the student's code runs.

:func:`evaluate_tests` runs every graded test cell of a notebook, from the source's text
(hidden tests included), in the grader's own namespace: the course's setup cells from the
source notebook, plus, for the test cell of exercise X, one name bound to the student's X —
a proxy into the student process while grading (:class:`SandboxedStudent`), the student's
own object in ``tnn-course check`` (:class:`LocalStudent`). A test of X sees no other
exercise of the student. The verdict is what the grader's own code raises or does not raise.

Both :class:`SandboxedStudent` and :class:`LocalStudent` run the notebook's other cells in
order (every cell but the graded test cells), with a time limit per cell and a budget for
the whole submission; a cell that hangs or ends the interpreter costs only itself: the
process is restarted, the cells before it are replayed (each within about the time it took
the first time), and the rest goes on. Once the budget is spent nothing more runs, and the
test cells not yet graded are timed out; those graded before keep their points.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import io
import os
import signal
import sys
import time
import traceback
import types
import warnings
from dataclasses import dataclass

from autograder import defaults
from autograder.source import strip_magics
from autograder.checks import (HIDDEN_CASE, MISCONCEPTION_TAG, REFERENCE_TAG, CheckFailure, cell_source, hidden_lines,
                               check_cases)
from autograder.outcomes.cells import DEAD_ENAME, NOT_RUN_ENAME, TIMEOUT_ENAME, clean, error_output, exercise_of, read_error
from autograder.sandbox.peer import CellTimeout, ProcessDied, Proxy
from autograder.catalogue import all_exercises
from autograder.outcomes.diagnose import diagnose, diagnose_pair
from autograder.sandbox.wire import WireError

UNSENDABLE_ENAME = "Unsendable"


# CPython 3.11 keeps one recursion counter per process for building AST objects: two threads
# that parse at once (a Dask worker's event loop formats tracebacks with ``ast.parse`` for
# their carets while its grading thread parses cells) can trip its consistency check
AST_RACE = "AST constructor recursion depth mismatch"


def interpreter_race(err: BaseException) -> bool:
    """Whether `err` is that race: a chance failure of the grader's process, not of the
    notebook, which a second grading does not meet. The same error sent back by the student
    process (``from_student``) is the student's, as any other."""
    return (isinstance(err, SystemError) and AST_RACE in str(err)
            and not getattr(err, "from_student", False))


def free_names(source: str) -> set[str]:
    """Names a cell reads that it does not bind itself (by a rough, conservative reading)."""
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return set()
    loads, stores = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else stores).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stores.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            stores.add(node.name)
        elif isinstance(node, ast.arg):
            stores.add(node.arg)
    return loads - stores - set(dir(builtins))


def bound_names(source: str) -> set[str]:
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return set()
    out = set()
    for node in tree.body:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                out.add(sub.id)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                out.update((a.asname or a.name).split(".")[0] for a in sub.names)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
    return out


def setup_cells(lesson_sources: list[str], test_sources: list[str], answers) -> list[str]:
    """The source notebook's cells the grader runs before the tests: the first code cell (the
    imports) and every other lesson cell that binds a name the test cells read."""
    need = set().union(*(free_names(s) for s in test_sources)) - set(answers) if test_sources else set()
    out = []
    for i, src in enumerate(lesson_sources):
        if i == 0 or bound_names(src) & need:
            out.append(src)
    return out


def cells_to_run(cells, lesson_sources, answer_indices) -> list:
    """Which of the notebook's cells (a list of (index, source)) the student process runs.

    Every cell the student wrote or changed runs: the answer cells and any cell whose text is
    not one of the source notebook's lesson cells. A lesson cell left as released is the
    course's, not the student's work: it runs only when it is the first code cell (the
    imports) or binds a name that a cell which runs reads (so a helper a lesson cell
    defines is there for an answer that uses it). The others only draw figures and widgets,
    often from the references that are absent while grading; skipping them costs the
    student nothing."""
    lesson = {src.strip() for src in lesson_sources}
    keep = set()
    needed: set[str] = set()
    for idx, src in cells:
        if idx in answer_indices or src.strip() not in lesson:
            keep.add(idx)
            needed |= free_names(src)
    first = cells[0][0] if cells else None
    for idx, src in reversed(cells):
        if idx in keep:
            continue
        if idx == first or bound_names(src) & needed:
            keep.add(idx)
            needed |= free_names(src)
    return [(i, s) for i, s in cells if i in keep]


# ----------------------------------------------------------------------------------------
# the student's side
# ----------------------------------------------------------------------------------------
class Missing:
    pass


MISSING = Missing()


class _StudentBase:
    """Runs the notebook's cells (``cells``: a list of (index, source)) and answers lookups.

    Each cell may run `timeout` seconds; the whole submission may run until `deadline` (a
    ``time.monotonic()`` value: the submission's budget), after which nothing more runs and
    the cells (and test cells) not yet done are timed out. A cell that times out or ends the
    process costs only itself: a new process replays the cells before it, each with a limit
    from the time it took the first time (so a replay costs about what the first run did,
    never a cell's full limit), and the rest goes on. There is no cap on restarts: the budget
    bounds them."""

    def __init__(self, cells, timeout: float, deadline: float | None = None):
        self.cells = list(cells)
        self.timeout = float(timeout)
        self.deadline = deadline
        self.results: dict[int, dict] = {}
        self.broken: set[int] = set()
        self.took: dict[int, float] = {}    # seconds each cell took the first time
        self.restarts = 0
        self.out_of_budget = False

    # subclasses: _start(), _run(source, seconds) -> dict, lookup(name), close(), _alive()
    def left(self) -> float:
        """Seconds of the submission's budget left (inf without one)."""
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def cell_limit(self, seconds: float | None = None) -> float:
        """The limit of the next cell or call: its own, or what is left of the budget."""
        return max(0.0, min(self.timeout if seconds is None else seconds, self.left()))

    def run_all(self):
        self._start()
        pos = 0
        while pos < len(self.cells):
            idx, src = self.cells[pos]
            if self.cell_limit() <= 0:
                self._budget_spent(pos)
                return
            res = self._timed(idx, src, self.cell_limit())
            self.results[idx] = res
            if res["status"] == "timeout" and self.left() <= 0:
                res["budget"] = True
                self._budget_spent(pos + 1)
                return
            if res["status"] in ("timeout", "died"):
                self.broken.add(idx)
                if not self._restart(upto=pos):
                    self._budget_spent(pos + 1)
                    return
            pos += 1

    def _budget_spent(self, pos: int):
        self.out_of_budget = True
        for j, _ in self.cells[pos:]:
            self.results[j] = {"status": "timeout", "budget": True}

    def _timed(self, idx, src, limit) -> dict:
        t0 = time.monotonic()
        res = self._run_guarded(src, limit)
        if res["status"] in ("ok", "error"):
            self.took.setdefault(idx, time.monotonic() - t0)
        return res

    def _run_guarded(self, src, limit) -> dict:
        try:
            return self._run(src, limit)
        except CellTimeout:
            return {"status": "timeout"}
        except ProcessDied:
            return {"status": "died"}
        except WireError:  # the cell wrote into the grader's channel: that process is done
            return {"status": "died", "protocol": True}

    def replay_limit(self, idx) -> float:
        """A replayed cell's limit: twice what it took the first time, plus a second."""
        took = self.took.get(idx)
        return self.timeout if took is None else min(self.timeout, 2 * took + 1.0)

    def _restart(self, upto: int | None = None) -> bool:
        """A new process with the cells before position `upto` (all when None) replayed.
        False when the budget ran out first."""
        while True:
            if self.left() <= 0:
                self.out_of_budget = True
                return False
            self.restarts += 1
            self.close()
            self._start()
            ok = True
            for idx, src in self.cells[:len(self.cells) if upto is None else upto]:
                if idx in self.broken:
                    continue
                limit = self.cell_limit(self.replay_limit(idx))
                if limit <= 0:
                    self.out_of_budget = True
                    return False
                res = self._run_guarded(src, limit)
                if res["status"] in ("timeout", "died"):
                    if self.left() <= 0:
                        self.out_of_budget = True
                        return False
                    self.broken.add(idx)   # it behaves differently when run again: left out from now on
                    ok = False
                    break
            if ok:
                return True

    def recover(self) -> bool:
        """After a test cell's call timed out or killed the process: start again."""
        return self._restart(upto=None)


class SandboxedStudent(_StudentBase):
    """The student's notebook in a sandboxed process (:mod:`autograder.sandbox.launch`)."""

    def __init__(self, cells, timeout, runtime, data_dir, limits, sandbox=None, zygote=None, zygote_factory=None,
                 deadline=None, max_output: int = defaults.MAX_OUTPUT_BYTES):
        super().__init__(cells, timeout, deadline)
        self.runtime, self.data_dir, self.limits, self.sandbox = runtime, data_dir, limits, sandbox
        self.max_output = int(max_output)   # characters of a cell's output the student process keeps
        self.proc = None
        self._spare = zygote
        self._spare_factory = zygote_factory
        self.isolated = None

    def _start(self):
        from autograder.sandbox.launch import StudentProcess  # not in the student edition
        for attempt in range(2):
            proc = None
            try:
                if self._spare is not None:   # a Zygote (or a factory of processes)
                    proc = self._spare.fork(self.data_dir)
                else:
                    proc = StudentProcess(self.runtime, self.data_dir, self.limits, sandbox=self.sandbox)
                proc.wait_ready()
                self.proc = proc
                self.isolated = proc.isolated
                return
            except (CellTimeout, ProcessDied, OSError, ValueError, EOFError, TimeoutError):
                if proc is not None:
                    proc.kill()
                if self._spare is not None and attempt == 0:
                    self._spare.kill()   # a sandbox that cannot fork is replaced, never retried
                    self._spare = self._spare_factory() if self._spare_factory else None
        raise OSError("the student process could not be started")

    @property
    def peer(self):
        return self.proc.peer

    def _run(self, src, limit) -> dict:
        self.peer.deadline = time.monotonic() + limit
        try:
            msg, _ = self.peer.request({"op": "run_cell", "source": src, "max_output": self.max_output})
        finally:
            self.peer.deadline = None
        return {"status": "ok" if msg.get("status") == "ok" else "error", "ename": str(msg.get("ename", ""))[:100],
                "evalue": str(msg.get("evalue", ""))[:2000], "printed": msg.get("printed", 0)
                if type(msg.get("printed")) is int else 0}

    def lookup(self, name: str):
        msg, buffers = self.peer.request({"op": "lookup", "name": name})
        if msg.get("missing"):
            return MISSING
        if not msg.get("ok"):
            return Unsendable(name, str(msg.get("message", ""))[:500])
        return self.peer.decoder(buffers).decode(msg.get("value"))

    @contextlib.contextmanager
    def limit(self, seconds: float):
        self.peer.deadline = time.monotonic() + seconds
        try:
            yield
        finally:
            if self.proc is not None:
                self.peer.deadline = None

    def close(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()


class Unsendable:
    """A student's name whose value may not cross to the grader."""

    def __init__(self, name, why):
        self.name, self.why = name, why


class LocalStudent(_StudentBase):
    """The notebook in this process (``tnn-course check`` on a student's own machine)."""

    def __init__(self, cells, timeout, cwd=None, deadline=None):
        super().__init__(cells, timeout, deadline)
        self.shell = None
        self.cwd = cwd
        self.deadline = None

    def _start(self):
        from IPython.core.interactiveshell import InteractiveShell  # slow import (see AUTHORING.md)
        if self.shell is None:
            main = sys.modules.get("__main__")
            self.shell = InteractiveShell.instance(colors="nocolor")
            if main is not None:  # IPython installs its own __main__; the host process keeps its own
                sys.modules["__main__"] = main
            self.shell.register_magic_function(lambda line="": None, "line", "matplotlib")
            self.shell.enable_gui = lambda gui=None: None
        self.shell.reset(new_session=False)

    def _run(self, src, limit) -> dict:
        old = os.getcwd()
        out = io.StringIO()
        try:
            if self.cwd:
                os.chdir(self.cwd)
            with _alarm(limit), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                result = self.shell.run_cell(src, store_history=False)
        finally:
            os.chdir(old)
        err = result.error_in_exec or result.error_before_exec
        if isinstance(err, CellTimeout):
            raise err
        if err is not None:
            return {"status": "error", "ename": type(err).__name__, "evalue": str(err)[:2000], "printed": 0}
        return {"status": "ok", "ename": "", "evalue": "", "printed": len(out.getvalue())}

    def lookup(self, name):
        return self.shell.user_ns.get(name, MISSING) if self.shell is not None else MISSING

    def limit(self, seconds: float):
        return _alarm(seconds)

    def recover(self) -> bool:
        return True  # one process: nothing to restart

    def close(self):
        pass

    def alive(self):
        return True


@contextlib.contextmanager
def _alarm(seconds: float):
    """Raise CellTimeout in this (main) thread after `seconds`."""
    if not hasattr(signal, "setitimer") or seconds <= 0:
        yield
        return

    def fire(*_):
        raise CellTimeout(f"did not finish within {seconds:g} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ----------------------------------------------------------------------------------------
# the grader's side
# ----------------------------------------------------------------------------------------
_SETUP_CACHE: dict = {}


def grader_namespace(setup_sources: list[str]) -> dict:
    """A fresh namespace with the course's setup cells run (trusted source-notebook code).

    The setup runs once per process; each call gets its own deep copy of the data it made
    (a student's in-place update of ``x_val`` through a proxy reaches this copy only), with
    modules, functions and classes shared."""
    key = tuple(setup_sources)
    if key not in _SETUP_CACHE:
        _SETUP_CACHE.clear()
        _SETUP_CACHE[key] = _run_setup(setup_sources)
    base = _SETUP_CACHE[key]
    shared = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
    try:
        return {k: (v if isinstance(v, shared) or k.startswith("__") else copy.deepcopy(v)) for k, v in base.items()}
    except Exception:  # something the setup made cannot be copied: run it again instead
        return _run_setup(setup_sources)


def _run_setup(setup_sources: list[str]) -> dict:
    import matplotlib  # slow import (see AUTHORING.md)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # slow import (see AUTHORING.md)
    ns = {"__name__": "__grader__"}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for src in setup_sources:
            exec(compile(strip_magics(src), "<setup>", "exec"), ns)  # noqa: S102 - the course's own cells
    plt.close("all")
    return ns


def _where(err: BaseException, visible: set[str], source_lines: list[str]) -> str:
    """Where an error was raised, quoting only lines the student can see."""
    parts = []
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename != "<test>" or not frame.lineno:
            continue
        line = source_lines[frame.lineno - 1].strip() if frame.lineno <= len(source_lines) else ""
        if line and line in visible:
            part = f"in the test: `{line[:160]}`"
            if not parts or parts[-1] != part:
                parts.append(part)
    theirs = getattr(err, "student_where", "")
    if theirs:
        parts.append(f"in your answer: {theirs}")
    return " → ".join(parts[-3:])


def _limit_of(student, timeout: float) -> float:
    """A test cell's limit: its own, or what is left of the submission's budget."""
    return student.cell_limit(timeout) if hasattr(student, "cell_limit") else timeout


BUDGET_SPENT = ("not graded: the time this submission may take (its budget) ran out before this test "
                "finished; the tests graded before keep their points")


def _failed_in(err: BaseException, lines: set[int]) -> bool:
    """Whether the test cell's own line that raised `err` is one of `lines` (its hidden region)."""
    if not lines:
        return False
    at = [f.lineno for f in traceback.extract_tb(err.__traceback__) if f.filename == "<test>"]
    return bool(at) and at[-1] in lines


def _diagnose(ex: str, fn, source: str) -> str | None:
    if ex not in all_exercises() or not callable(fn):
        return None
    return diagnose(ex, fn, check_cases(source, ex) or [{"seed": 0}])


def _diagnose_pair(ex: str, fn, source: str) -> str | None:
    """The text naming two composable misconceptions at once, when no single one is named."""
    if ex not in all_exercises() or not callable(fn):
        return None
    return diagnose_pair(ex, fn, check_cases(source, ex) or [{"seed": 0}])


@dataclass
class Raised:
    """What a test cell raised, as the student will read it: the error's name, its text
    (tags first), where it was raised (quoting only lines the student can see), and whether
    it was raised on a line of the cell's hidden region."""
    ename: str = ""
    text: str = ""
    where: str = ""
    in_hidden: bool = False


def _explain(err: BaseException, ex: str | None, ns: dict, student, timeout: float, source: str, visible: set[str],
             src_lines: list[str]) -> Raised:
    """A failure of the test cell: its verdict's text, with the misconception that explains it
    when the catalogue finds one (:func:`_diagnose`)."""
    ename = getattr(err, "ename", type(err).__name__)
    in_hidden = _failed_in(err, hidden_lines(source))
    evalue = ""
    tagged = str(err).startswith((MISCONCEPTION_TAG, REFERENCE_TAG))
    if isinstance(err, CheckFailure):
        ename = "CheckFailure"
    elif getattr(err, "from_student", False) and tagged:
        evalue = "(a message your code raised)\n"  # the student cannot write the grader's tags
    if in_hidden and getattr(err, "from_student", False):
        evalue += f"your code raised {ename} on {HIDDEN_CASE}"   # its message could quote the case
    else:
        evalue += str(err)
    if ename == "ReferenceUnavailable":
        evalue = f"{REFERENCE_TAG}\n{ex}: your answer calls the tnn_lib reference: {evalue}"
    where = "" if isinstance(err, CheckFailure) and tagged else _where(err, visible, src_lines)
    if ename in ("AssertionError", "CheckFailure") and not tagged and ex:
        try:
            with student.limit(_limit_of(student, timeout)), contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                found = _diagnose(ex, ns.get(ex), source)
                both = None if found else _diagnose_pair(ex, ns.get(ex), source)
        except (CellTimeout, ProcessDied):
            found = both = None
        if found:
            evalue = f"{MISCONCEPTION_TAG} {found}\n{evalue}"
        elif both:
            evalue = f"{evalue}\n{both}"
    return Raised(ename, evalue, where, in_hidden)


def _run_test(ex: str | None, source: str, ns: dict, student, timeout: float, budget_left: float,
              visible: set[str], out: io.StringIO) -> Raised:
    """Run one test cell's source in the grader's namespace `ns`, with the student's `ex`
    bound in it; what it raised (an empty :class:`Raised` when it passed)."""
    import matplotlib.pyplot as plt  # slow import (see AUTHORING.md)
    src_lines = strip_magics(source).splitlines()
    try:
        with student.limit(budget_left):
            if ex:
                value = student.lookup(ex)
                if isinstance(value, Unsendable):
                    raise CheckFailure(f"{ex}: {value.why}")
                if value is not MISSING:
                    ns[ex] = value
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()), \
                    warnings.catch_warnings(), cell_source(source):  # a check names a misconception only if every case of the cell agrees
                warnings.simplefilter("ignore")
                exec(compile("\n".join(src_lines) + "\n", "<test>", "exec"), ns)  # noqa: S102 - the source's test
    except CellTimeout:
        if budget_left < timeout:
            return Raised(TIMEOUT_ENAME, BUDGET_SPENT)
        return Raised(TIMEOUT_ENAME, f"this cell did not finish within {timeout:g} s (an endless loop in your "
                                     "code?); it was stopped and grading went on")
    except ProcessDied:
        return Raised(DEAD_ENAME, "your code ended the Python process while this cell ran (out of memory? "
                                  "os._exit?); grading went on without it")
    except BaseException as err:  # noqa: BLE001 - any failure of the test is its verdict
        if isinstance(err, KeyboardInterrupt) or interpreter_race(err):
            raise          # not the student's doing: the worker grades the notebook again
        return _explain(err, ex, ns, student, timeout, source, visible, src_lines)
    finally:
        plt.close("all")
    return Raised()


def _not_run_row(row: dict, student, budget_left: float) -> dict:
    """A test cell left ungraded: the budget is spent, or the student process is gone."""
    if budget_left <= 0 or getattr(student, "out_of_budget", False):
        row.update(status="timeout", message=BUDGET_SPENT)
        row["outputs"] = [_error(TIMEOUT_ENAME, BUDGET_SPENT)]
    else:
        row.update(status="not-run", message="not run: the student process could not be started again")
        row["outputs"] = [_error(NOT_RUN_ENAME, row["message"])]
    return row


def _verdict(row: dict, raised: Raised, points: float, ex: str | None, unanswered, printed: str) -> dict:
    """`row` filled from what the test cell raised: its status, points, misconception,
    message and outputs."""
    status, mid, message = "passed", None, ""
    if raised.ename:
        status, mid, message = read_error(raised.ename, raised.text)
        if status in ("error", "failed") and raised.where:
            message += f"\nwhere: {raised.where}"
        if status == "unanswered" or (ex in unanswered and status in ("error", "failed")):
            status = "unanswered"
            if not message.startswith("not answered"):
                message = "not answered yet: the answer cell still raises NotImplementedError"
        row["outputs"] = [_error(raised.ename, clean(raised.text))]
    else:
        row["points"] = float(points)
    if printed and not raised.in_hidden:   # what a failing hidden case printed stays unseen
        row["outputs"].insert(0, {"output_type": "stream", "name": "stdout", "text": printed[:20_000]})
    row.update(status=status, misconception=mid or "", message=message)
    return row


def evaluate_tests(tests, answers, student, setup_sources, timeout: float, visible_of=None,
                   unanswered=frozenset()) -> list[dict]:
    """Run the graded test cells `tests` (a list of (grade_id, source, points)) against
    `student`. Returns one dict per cell: grade_id, exercise, points, max_points, status,
    misconception, message, and ``outputs`` (nbformat outputs for the autograded notebook).
    `visible_of(grade_id)` gives the lines of a test the student may see quoted."""
    ns = grader_namespace(setup_sources)
    rows = []
    gave_up = False
    for gid, source, points in tests:
        ex = exercise_of(gid, answers)
        row = {"grade_id": gid, "exercise": ex or "", "max_points": float(points), "points": 0.0,
               "misconception": "", "message": "", "outputs": []}
        budget_left = _limit_of(student, timeout)
        if gave_up or budget_left <= 0:
            rows.append(_not_run_row(row, student, budget_left))
            continue
        for a in answers:
            ns.pop(a, None)
        out = io.StringIO()
        raised = _run_test(ex, source, ns, student, timeout, budget_left,
                           visible_of(gid) if visible_of else set(), out)
        rows.append(_verdict(row, raised, points, ex, unanswered, out.getvalue()))
        if raised.ename in (TIMEOUT_ENAME, DEAD_ENAME) or not student.alive():
            if not student.recover():
                gave_up = True
    return rows


_error = error_output


__all__ = ["evaluate_tests", "SandboxedStudent", "LocalStudent", "setup_cells", "strip_magics", "Proxy",
           "TIMEOUT_ENAME", "DEAD_ENAME", "NOT_RUN_ENAME"]
