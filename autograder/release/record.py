"""Record, at release time, what the student edition's visible checks need from the reference.

For every exercise of an assignment whose answer the edition does not hold, on every case
of its visible checks (the literal ``check(...)`` calls of the released notebook's test cells)
and on its diagnostic cases:

* the reference's outcome and every catalogued misconception's, and every pair's of composable
  misconceptions (output, or the error's type name), in ``checks``;
* every call of a stubbed function (an exercise's reference or a near-twin) made while the
  inputs are drawn and the reference and the misconceptions run (a backward check builds
  its cache with the reference forward; a training check runs the layers' forwards), in
  ``calls``.

It also runs every visible test cell of the released notebook (with the solution's answers,
and with the references as the answers) with ``check`` switched off, recording the calls of
stubbed functions the cells make (``ref.linear_forward(x, W, b)`` in a numerical-gradient
check). A case that a hidden test of ``solutions/`` uses is never recorded (:func:`hidden_cases`).

Data only: JSON and ``.npz`` (:mod:`tnn_lib.recorded`), never pickle.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import io
import json
import re
import sys
import warnings
from pathlib import Path

import numpy as np

import autograder.checks as checks
from autograder.catalogue import all_exercises, get_exercise, misconceptions_for, pairs_for
from autograder.checks import check_cases, _quiet_run, _case_key, case_key
from autograder.course import COURSE
from autograder.evaluation.testcells import setup_cells, strip_magics
from autograder.outcomes.cells import exercise_of
from tnn_lib.recorded import Encoder, Unrecordable, draw

REGION = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")
SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


class _DedupEncoder(Encoder):
    """An encoder whose equal arrays share one entry of the ``.npz``."""

    def __init__(self, arrays, prefix="a"):
        super().__init__(arrays, prefix)
        self.seen: dict[bytes, str] = {}

    def _array(self, a) -> str:
        a = np.array(a, copy=True)
        h = hashlib.sha1(a.dtype.str.encode() + repr(a.shape).encode() + a.tobytes()).digest()
        if h not in self.seen:
            self.seen[h] = key = f"{self.prefix}{len(self.arrays)}"
            self.arrays[key] = a
        return self.seen[h]


def _mutable(v) -> bool:
    return isinstance(v, (np.ndarray, dict, list, np.random.Generator)) or (
        hasattr(v, "__dict__") and not callable(v))


class Recorder:
    """Records the calls of the functions in `targets` ({code object: name}) made while active
    (through any alias), with their arguments (in signature order), result and the arguments'
    state after the call."""

    def __init__(self, targets: dict, enc: _DedupEncoder, skip: set | None = None, transparent=()):
        self.targets, self.enc, self.skip = targets, enc, skip or set()
        # recorded, but the calls they make are recorded too: the notebook's own exercises,
        # whose edition calls run the student's function (which may call stubs) rather than
        # replaying; any other recorded call is replayed whole, so its inner calls never
        # happen in the edition and are not recorded
        self.transparent = set(transparent)
        self.calls: list[dict] = []
        self.keys: set[str] = set()
        self._stack: list = []

    def _params(self, code):
        n = code.co_argcount + code.co_kwonlyargcount
        names = list(code.co_varnames[:n])
        var = code.co_varnames[n] if code.co_flags & inspect.CO_VARARGS else None
        return names[:code.co_argcount], var

    def _global(self, frame, event, arg):
        if event != "call" or frame.f_code not in self.targets:
            return None
        if any(not c["transparent"] for c in self._stack):   # inside a call replayed whole
            return None
        name = self.targets[frame.f_code]
        if name in self.skip or frame.f_code.co_kwonlyargcount or frame.f_code.co_flags & inspect.CO_VARKEYWORDS:
            return None
        pos, var = self._params(frame.f_code)
        loc = frame.f_locals
        args = [loc[p] for p in pos] + (list(loc[var]) if var else [])
        try:
            before = [self.enc.encode(a) for a in args]
        except Unrecordable:
            return None
        self._stack.append({"frame": frame, "name": name, "args": args, "before": before, "raised": None,
                            "transparent": name in self.transparent})
        frame.f_trace_lines = False
        return self._local

    def _local(self, frame, event, arg):
        if not self._stack or self._stack[-1]["frame"] is not frame:
            return self._local
        top = self._stack[-1]
        if event == "exception":
            top["raised"] = f"{arg[0].__name__}: {arg[1]}"
        elif event == "return":
            self._stack.pop()
            raised = top["raised"] if arg is None else None
            try:
                result = self.enc.encode(arg)
                after = [self.enc.encode(a) if _mutable(a) else None for a in top["args"]]
            except Unrecordable:
                return self._local
            key = top["name"] + json.dumps(top["before"], sort_keys=True)
            if key not in self.keys:
                self.keys.add(key)
                rec = {"name": top["name"], "args": top["before"], "after": after, "result": result}
                if raised:
                    rec["raised"] = raised
                self.calls.append(rec)
        return self._local

    def __enter__(self):
        self._old = sys.gettrace()
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc):
        sys.settrace(self._old)
        return False


# ----------------------------------------------------------------------------------------
def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _is_test(cell) -> bool:
    m = _meta(cell)
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def visible_cases(root: Path, aid: str, name: str) -> list[dict]:
    out = []
    for cell in _cells(root / "notebooks" / aid / f"{aid}.ipynb"):
        if _is_test(cell):
            for kw in check_cases("".join(cell["source"]), name):
                if kw not in out:
                    out.append(kw)
    return out


def hidden_cases(root: Path, aid: str, name: str) -> list[dict]:
    """The cases of exercise `name` that the hidden tests of ``solutions/<aid>`` check."""
    out = []
    for cell in _cells(root / "solutions" / aid / f"{aid}.ipynb"):
        if not _is_test(cell):
            continue
        hidden, mode = [], None
        for line in "".join(cell["source"]).splitlines():
            m = REGION.match(line)
            if m:
                mode = None if m.group(1) == "END" else m.group(2)
            elif mode == "HIDDEN TESTS":
                hidden.append(line)
        for kw in check_cases("\n".join(hidden), name):
            if kw not in out:
                out.append(kw)
    return out


def targets(stubbed: dict[str, set[str]]) -> dict:
    """{code object: name} of the functions the edition stubs ({module stem: names})."""
    out = {}
    for stem, names in stubbed.items():
        mod = importlib.import_module(f"tnn_lib.{stem.replace('/', '.')}")
        for n in names:
            fn = getattr(mod, n, None)
            if inspect.isfunction(fn):
                out[fn.__code__] = n
    return out


def _outcome(ex, impl, inputs, enc):
    ok, value = _quiet_run(ex, impl, inputs)
    if not ok:
        return [False, value]
    try:
        return [True, enc.encode(value, objects=False)]
    except Unrecordable:
        return [False, "Unrecordable"]


def _solution_answers(root: Path, aid: str) -> dict[str, str]:
    return {_meta(c)["grade_id"]: SOLUTION_MARKERS.sub("", "".join(c["source"]))
            for c in _cells(root / "solutions" / aid / f"{aid}.ipynb")
            if _meta(c).get("solution") and c.get("cell_type") == "code"}


@contextlib.contextmanager
def _quiet():
    import matplotlib  # slow import (see AUTHORING.md)
    matplotlib.use("Agg")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def _run_test_cells(root: Path, aid: str, rec: Recorder, with_references: bool, variant=None) -> None:
    """Run the released notebook's visible test cells (check switched off) under `rec`:
    with the solution's answers, or the references as the answers (`with_references`), or
    with the solution's answers but exercise ``variant[0]``'s answer being the function
    ``variant[1]`` (a misconception's: a student with that mistake makes its calls).
    ``with_references="others"``: the cell's own exercise is the solution's, every other
    answer the reference (a student whose other answers call the tnn_lib reference)."""
    import matplotlib.pyplot as plt  # slow import (see AUTHORING.md)
    cells = _cells(root / "notebooks" / aid / f"{aid}.ipynb")
    answers = _solution_answers(root, aid)
    lesson = ["".join(c["source"]) for c in cells
              if c.get("cell_type") == "code" and not _is_test(c) and not _meta(c).get("solution")]
    tests = [(_meta(c).get("grade_id", ""), "".join(c["source"])) for c in cells if _is_test(c)]
    known = all_exercises()
    saved = checks.check
    checks.check = lambda *a, **k: checks.Passed()
    try:
        for tid, src in tests:
            ns = {"__name__": "__record__"}
            mine = exercise_of(tid, list(answers))
            with _quiet():
                try:
                    with rec:   # a lesson cell's calls (07's digits, standardized by 06's standardize)
                        for s in setup_cells(lesson, [src], list(answers)):
                            exec(compile(strip_magics(s), "<setup>", "exec"), ns)  # noqa: S102 - the course's cells
                    for gid, a in answers.items():
                        if with_references and gid in known and not (with_references == "others" and gid == mine):
                            ns[gid] = known[gid].reference
                        else:
                            exec(compile(strip_magics(a), "<answer>", "exec"), ns)  # noqa: S102
                    if variant is not None:
                        if not re.search(rf"\b{re.escape(variant[0])}\b", src):
                            continue   # the cell does not call it
                        ns[variant[0]] = variant[1]
                except Exception:  # noqa: BLE001 - a lesson cell the edition cannot run: nothing to record
                    continue
                with rec:
                    try:
                        exec(compile(strip_magics(src), "<test>", "exec"), ns)  # noqa: S102 - the source's test
                    except Exception:  # noqa: BLE001
                        pass
            plt.close("all")
    finally:
        checks.check = saved


def record_assignment(root: Path, aid: str, stubbed: dict[str, set[str]]) -> tuple[dict, dict, dict]:
    """(meta, arrays, sizes) of the recorded data of assignment `aid`: `stubbed` is what the
    edition stubs ({module stem: names})."""
    arrays: dict = {}
    enc = _DedupEncoder(arrays)
    code_names = targets(stubbed)
    stub_names = set(code_names.values())
    checks_out: dict = {}
    calls: list = []
    seen: set = set()

    def keep(rec):
        for c in rec.calls:
            k = c["name"] + json.dumps(c["args"], sort_keys=True)
            if k not in seen:
                seen.add(k)
                calls.append(c)

    solved = _solutions_on_references(root, aid)
    for name in COURSE[aid]:
        if name not in stub_names and not _is_stubbed_class(name, stubbed):
            continue
        ex = get_exercise(name)
        cases = []
        for kw in visible_cases(root, aid, name) + [dict(k) for k in ex.diagnostic_cases]:
            if _case_key(kw) not in {_case_key(c) for c in cases}:
                cases.append(kw)
        hidden = {_case_key(kw) for kw in hidden_cases(root, aid, name)}
        clash = [kw for kw in cases if _case_key(kw) in hidden]
        if clash:
            raise ValueError(f"{aid}: {name}: a hidden test uses the case(s) {clash}, which the visible checks or "
                             "the diagnostic cases also use: the edition would record them; choose other seeds")
        out = {}
        for kw in cases:
            args = dict(kw)
            seed, case, _ = args.pop("seed", 0), args.pop("case", None), args.pop("tol", None)
            rec = Recorder(code_names, enc, skip={name}, transparent=set(COURSE[aid]) - {name})
            with _quiet(), rec:
                inputs = ex.make_inputs(np.random.default_rng(seed), case=case, **args)
                who = {"reference": _outcome(ex, ex.reference, inputs, enc)}
                for m in misconceptions_for(name) + pairs_for(name):   # a pair: both mistakes at once
                    who[m.id] = _outcome(ex, m.impl, inputs, enc)
                if name in solved:   # the calls of a student's answer whose other answers call the references
                    _outcome(ex, solved[name], inputs, enc)
            out[case_key(kw)] = who
            keep(rec)
        checks_out[name] = out
    own = set(COURSE[aid])
    for with_refs in (False, True, "others"):   # "others": the cell's exercise answered, the rest the references
        rec = Recorder(code_names, enc, transparent=own)
        _run_test_cells(root, aid, rec, with_refs)
        keep(rec)
    for name in COURSE[aid]:   # the calls a test cell's own code makes through a student's mistake
        for m in misconceptions_for(name):
            if m.impl is not None:
                rec = Recorder(code_names, enc, transparent=own)
                _run_test_cells(root, aid, rec, False, variant=(name, m.impl))
                keep(rec)
    meta = {"assignment": aid, "checks": checks_out, "calls": calls}
    for c in calls:
        c["result"] = _as_draws(c["result"], c["args"], arrays)
    used: set = set()
    _arrays_used(meta, used)
    arrays = {k: a for k, a in arrays.items() if k in used}
    return meta, arrays, {"cases": sum(len(v) for v in checks_out.values()), "calls": len(calls)}


def _is_stubbed_class(name, stubbed) -> bool:
    return any(name in names for names in stubbed.values())


def write_recorded(dest: Path, root: Path, aid: str, stubbed: dict[str, set[str]]) -> dict:
    """Write ``<dest>/<aid>.json`` and ``.npz``; return their sizes and counts."""
    meta, arrays, counts = record_assignment(root, aid, stubbed)
    dest.mkdir(parents=True, exist_ok=True)
    jpath, zpath = dest / f"{aid}.json", dest / f"{aid}.npz"
    blobs, meta["packed"] = pack(arrays)
    jpath.write_text(json.dumps(meta, sort_keys=True, separators=(",", ":")), encoding="utf-8")
    buf = io.BytesIO()
    np.savez_compressed(buf, **blobs)
    zpath.write_bytes(buf.getvalue())
    return {"assignment": aid, "bytes": jpath.stat().st_size + zpath.stat().st_size, **counts}


def pack(arrays: dict) -> tuple[dict, dict]:
    """The arrays as one flat blob per dtype (``.npz`` members ``<dtype>``) and their index
    ``{key: [dtype, offset, shape]}``: thousands of small arrays, each its own ``.npy`` member
    with a 128-byte header and a zip entry, take several times their size; one compressed
    stream per dtype does not (see :func:`tnn_lib.recorded.unpack`)."""
    parts: dict[str, list] = {}
    sizes: dict[str, int] = {}
    index = {}
    for key, a in arrays.items():
        a = np.asarray(a)
        dt = a.dtype.str
        index[key] = [dt, sizes.get(dt, 0), list(a.shape)]
        parts.setdefault(dt, []).append(a.ravel())
        sizes[dt] = sizes.get(dt, 0) + a.size
    blobs = {f"blob{i}": np.concatenate(v) for i, v in enumerate(parts.values())}
    names = {dt: f"blob{i}" for i, dt in enumerate(parts)}
    return blobs, {k: [names[dt], off, shape] for k, (dt, off, shape) in index.items()}


DRAW_MIN = 4096   # elements: a smaller result is stored as it is


def _as_draws(j, args, arrays):
    """`j` (a recorded result) with every large float array that is exactly ``scale ·`` a draw
    (``standard_normal`` or ``random``) of a Generator the call was given, as that draw's
    recipe (:func:`tnn_lib.recorded.decode` draws it again): 04's test draws 400×300 weight
    matrices, 1 MB each as numbers, a few bytes as a recipe. Exact or not at all."""
    if isinstance(j, list):
        return [_as_draws(x, args, arrays) for x in j]
    if not isinstance(j, dict):
        return j
    if "tuple" in j:
        return {"tuple": [_as_draws(x, args, arrays) for x in j["tuple"]]}
    if "array" not in j:
        return j
    a = arrays[j["array"]]
    if a.dtype != np.float64 or a.size < DRAW_MIN:
        return j
    for state in [x["generator"] for x in args if isinstance(x, dict) and "generator" in x]:
        for method in ("standard_normal", "random"):
            recipe = {"generator": state, "method": method, "shape": list(a.shape), "scale": 1.0}
            d = draw(recipe, scale=False)
            i = int(np.argmax(np.abs(d)))
            if d.flat[i] == 0:
                continue
            s0 = float(a.flat[i] / d.flat[i])
            if s0 == 0:
                continue   # zeros: they compress to nothing, and keep their sign
            for s in (s0, float(np.nextafter(s0, np.inf)), float(np.nextafter(s0, -np.inf))):
                if np.array_equal(d * s, a):
                    return {"draw": dict(recipe, scale=s)}
            if method == "random":   # Generator.uniform(low, high): low + (high - low) · random
                s1, b1 = (float(v) for v in np.polyfit(d.ravel(), a.ravel(), 1))
                lows = [float(b1 + k * np.spacing(b1)) for k in range(-64, 65)]
                for low in lows:
                    for s in (-2 * low, s1):
                        if np.array_equal(low + s * d, a):
                            return {"draw": dict(recipe, scale=s, shift=low)}
    return j


def _arrays_used(j, out: set) -> None:
    if isinstance(j, list):
        for x in j:
            _arrays_used(x, out)
    elif isinstance(j, dict):
        for k, v in j.items():
            if k in ("array", "scalar") and isinstance(v, str):
                out.add(v)
            else:
                _arrays_used(v, out)


def _solutions_on_references(root: Path, aid: str) -> dict:
    """{exercise: the solution's answer}, each defined where the notebook's other answers are
    the tnn_lib references (and the notebook's imports ran): an answer that calls another
    exercise of its notebook calls the reference, as a student's does whose other answer
    calls it."""
    known = all_exercises()
    answers = _solution_answers(root, aid)
    imports = "\n".join(ln for c in _cells(root / "notebooks" / aid / f"{aid}.ipynb")
                        if c.get("cell_type") == "code" and not _is_test(c) and not _meta(c).get("solution")
                        for ln in "".join(c["source"]).splitlines() if ln.startswith(("import ", "from ")))
    out = {}
    for gid, src in answers.items():
        if gid not in known:
            continue
        ns = {"__name__": "__record__"}
        try:
            with _quiet():
                exec(compile(strip_magics(imports), "<setup>", "exec"), ns)  # noqa: S102 - the course's cells
                ns.update({g: known[g].reference for g in answers if g in known and g != gid})
                exec(compile(strip_magics(src), "<answer>", "exec"), ns)  # noqa: S102
        except Exception:  # noqa: BLE001 - nothing to record for it
            continue
        if callable(ns.get(gid)):
            out[gid] = ns[gid]
    return out
