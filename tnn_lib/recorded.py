"""Recorded results of the reference, as data (JSON and ``.npz``, never pickle).

The student edition holds no answer, so what its visible checks compare with was computed
at release time and recorded here: ``tnn_lib/recorded/<assignment>.json`` and ``.npz``
(written by ``autograder.release.record``). Two kinds of records:

* ``calls``: the calls of exercises (and near-twins) that the visible checks and test cells
  made, with their arguments, their result and what they changed in their arguments. A
  stub of the edition (:mod:`tnn_lib.student`) that is called with the arguments of a
  recorded call (numbers equal to 1e-9 relative) replays it: the result, and the changes to
  the arguments (a Generator's state, an optimizer's state dict, the arrays it updated);
* ``checks``: per exercise and case, the reference's outcome and every catalogued
  misconception's (read by ``autograder.checks``).

The repository has no recorded data; nothing here is used there.
"""
from __future__ import annotations

import inspect
import json
import math
import re
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent / "recorded"
RTOL = 1e-9


class Unrecordable(TypeError):
    pass


# ----------------------------------------------------------------------------------------
# values <-> JSON + arrays
# ----------------------------------------------------------------------------------------
class Encoder:
    """Turns a value into JSON, its arrays into entries of ``arrays`` (the ``.npz``)."""

    def __init__(self, arrays: dict | None = None, prefix: str = "a"):
        self.arrays = {} if arrays is None else arrays
        self.prefix = prefix

    def _array(self, a) -> str:
        key = f"{self.prefix}{len(self.arrays)}"
        self.arrays[key] = np.array(a, copy=True)
        return key

    def encode(self, v, depth: int = 0, objects: bool = True):
        if depth > 12:
            raise Unrecordable("nested too deep")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            return v if abs(v) < 2**53 else {"big": str(v)}
        if isinstance(v, float):
            return v if math.isfinite(v) else {"float": repr(v)}
        if isinstance(v, np.ndarray):
            if v.dtype == object:
                raise Unrecordable("an array of objects")
            return {"array": self._array(v)}
        if isinstance(v, np.generic):
            return {"scalar": self._array(v)}
        if isinstance(v, tuple):
            return {"tuple": [self.encode(x, depth + 1, objects) for x in v]}
        if isinstance(v, list):
            return [self.encode(x, depth + 1, objects) for x in v]
        if isinstance(v, dict):
            return {"dict": [[self.encode(k, depth + 1, objects), self.encode(x, depth + 1, objects)]
                             for k, x in v.items()]}
        if isinstance(v, np.random.Generator):
            return {"generator": _jsonable(v.bit_generator.state)}
        if inspect.isfunction(v) or inspect.isbuiltin(v) or inspect.ismethod(v) or inspect.isclass(v):
            return {"function": _function_id(v)}
        if objects and hasattr(v, "__dict__"):
            return {"object": type(v).__qualname__,
                    "state": self.encode({k: x for k, x in vars(v).items() if not callable(x)}, depth + 1, objects)}
        raise Unrecordable(f"a value of type {type(v).__name__}")


def _function_id(f) -> str:
    """A function by its name and where it is defined (a test cell's lambda: its line), not
    by its module, which differs between the release's run and the student's."""
    code = getattr(f, "__code__", None)
    where = f"cell:{code.co_firstlineno}" if _in_a_cell(code) else ""
    bound = getattr(f, "__defaults__", None)   # lambda v, j=j: … in a loop: one function per j
    extra = f"({', '.join(repr(d) for d in bound)})" if bound and all(
        isinstance(d, (int, float, str, bool)) for d in bound) else ""
    return f"{getattr(f, '__qualname__', type(f).__name__)}@{where}{extra}{_reads(f)}"


def _in_a_cell(code) -> bool:
    """Whether `code` was compiled from a notebook cell: ``<test>`` when the checks run the
    test cells (release, grading, ``tnn-course check``), a file of ipykernel's (JupyterLab) or
    ``<ipython-input-…>``: the same function is the same in all of them."""
    name = getattr(code, "co_filename", "") or ""
    return name.startswith("<") or bool(re.search(r"ipykernel_\d+", name))


def _reads(f) -> str:
    """The plain values (numbers, text, None) a test cell's function reads from its cell or
    its closure, as ``[name=value, …]``: ``lambda v: … inverted=inverted`` in a loop over
    ``inverted`` is one function per value (not one function whose first call is replayed
    for all)."""
    code = getattr(f, "__code__", None)
    if code is None or not _in_a_cell(code):
        return ""
    plain = (bool, int, float, str, type(None))
    seen = {}
    for name, cell in zip(code.co_freevars, getattr(f, "__closure__", None) or ()):
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if isinstance(v, plain):
            seen[name] = v
    g = getattr(f, "__globals__", {}) or {}
    for name in code.co_names:
        if name in g and isinstance(g[name], plain) and not name.startswith("__"):
            seen.setdefault(name, g[name])
    return "[" + ", ".join(f"{k}={v!r}" for k, v in sorted(seen.items())) + "]" if seen else ""


def _jsonable(state):
    if isinstance(state, dict):
        return {k: _jsonable(x) for k, x in state.items()}
    if isinstance(state, (np.integer,)):
        return int(state)
    return state


def decode(j, arrays):
    """The value `j` encodes (objects come back as :class:`Recorded` shells)."""
    if j is None or isinstance(j, (bool, str, int, float)):
        return j
    if isinstance(j, list):
        return [decode(x, arrays) for x in j]
    if "array" in j:
        return np.array(arrays[j["array"]], copy=True)
    if "scalar" in j:
        return arrays[j["scalar"]][()]
    if "tuple" in j:
        return tuple(decode(x, arrays) for x in j["tuple"])
    if "dict" in j:
        return {_key(decode(k, arrays)): decode(x, arrays) for k, x in j["dict"]}
    if "float" in j:
        return float(j["float"])
    if "big" in j:
        return int(j["big"])
    if "generator" in j:
        g = np.random.default_rng()
        g.bit_generator.state = j["generator"]
        return g
    if "draw" in j:
        return draw(j["draw"])
    if "function" in j:
        return Recorded("function", j["function"])
    if "object" in j:
        return Recorded(j["object"], decode(j["state"], arrays))
    raise ValueError(f"unknown record {sorted(j)}")


def draw(recipe: dict, scale: bool = True):
    """A recorded result that was ``scale ·`` the first draw (``recipe["method"]``:
    ``standard_normal`` or ``random``) of a Generator in the recorded state (``shift +
    scale · draw`` when it has a shift: ``Generator.uniform``): drawn again."""
    g = np.random.default_rng()
    g.bit_generator.state = recipe["generator"]
    d = getattr(g, recipe["method"])(tuple(recipe["shape"]))
    if not scale:
        return d
    return recipe["shift"] + recipe["scale"] * d if "shift" in recipe else d * recipe["scale"]


def _key(k):
    return tuple(k) if isinstance(k, list) else k


class Recorded:
    """An object (or a function) as recorded: its type's name and its data."""

    def __init__(self, kind, state):
        self.kind, self.state = kind, state


# ----------------------------------------------------------------------------------------
# matching a call with a recorded one
# ----------------------------------------------------------------------------------------
def matches(live, j, arrays, rtol: float = RTOL) -> bool:
    """Whether the live value `live` equals the recorded `j` (numbers to `rtol`)."""
    if j is None or isinstance(j, (bool, str)):
        return live is j or (not isinstance(live, np.ndarray) and live == j)
    if isinstance(j, (int, float)):
        try:
            return not isinstance(live, (np.ndarray, list, tuple, dict)) and _close(float(live), float(j), rtol)
        except (TypeError, ValueError):
            return False
    if isinstance(j, list):
        return isinstance(live, list) and len(live) == len(j) and all(matches(a, b, arrays, rtol) for a, b in zip(live, j))
    if "array" in j or "scalar" in j:
        rec = arrays[j.get("array", j.get("scalar"))]
        try:
            got = np.asarray(live)
        except Exception:  # noqa: BLE001
            return False
        if got.shape != rec.shape or got.dtype.kind != rec.dtype.kind and not (
                got.dtype.kind in "fiub" and rec.dtype.kind in "fiub"):
            return False
        if rec.dtype.kind not in "fciub":
            return bool(np.array_equal(got, rec))
        return bool(np.allclose(got, rec, rtol=rtol, atol=1e-300, equal_nan=True))
    if "tuple" in j:
        return isinstance(live, tuple) and len(live) == len(j["tuple"]) and all(
            matches(a, b, arrays, rtol) for a, b in zip(live, j["tuple"]))
    if "dict" in j:
        if not isinstance(live, dict) or len(live) != len(j["dict"]):
            return False
        for k, x in j["dict"]:
            key = _key(decode(k, arrays))
            if key not in live or not matches(live[key], x, arrays, rtol):
                return False
        return True
    if "float" in j:
        try:
            return _close(float(live), float(j["float"]), rtol)
        except (TypeError, ValueError):
            return False
    if "big" in j:
        return live == int(j["big"])
    if "generator" in j:
        return isinstance(live, np.random.Generator) and _jsonable(live.bit_generator.state) == j["generator"]
    if "function" in j:
        return callable(live) and _function_id(live) == j["function"]
    if "object" in j:
        return type(live).__qualname__ == j["object"] and hasattr(live, "__dict__") and matches(
            {k: x for k, x in vars(live).items() if not callable(x)}, j["state"], arrays, rtol)
    return False


def _close(a: float, b: float, rtol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= rtol * max(abs(a), abs(b))


def restore(live, j, arrays):
    """Write the recorded state `j` into the live value (in place): what a call changed."""
    if isinstance(live, np.ndarray) and isinstance(j, dict) and "array" in j:
        rec = arrays[j["array"]]
        if live.shape == rec.shape and live.flags.writeable:
            live[...] = rec
    elif isinstance(live, np.random.Generator) and isinstance(j, dict) and "generator" in j:
        live.bit_generator.state = j["generator"]
    elif isinstance(live, dict) and isinstance(j, dict) and "dict" in j:
        seen = set()
        for k, x in j["dict"]:
            key = _key(decode(k, arrays))
            seen.add(key)
            if key in live and _mutable(live[key]):
                restore(live[key], x, arrays)
            else:
                live[key] = decode(x, arrays)
        for key in [k for k in live if k not in seen]:
            del live[key]
    elif isinstance(live, list) and isinstance(j, list):
        if len(live) == len(j):
            for i, x in enumerate(j):
                if _mutable(live[i]):
                    restore(live[i], x, arrays)
                else:
                    live[i] = decode(x, arrays)
        else:
            live[:] = decode(j, arrays)
    elif isinstance(j, dict) and "object" in j and hasattr(live, "__dict__"):
        state = vars(live)
        for k, x in j["state"]["dict"]:
            key = _key(decode(k, arrays))
            if key in state and _mutable(state[key]):
                restore(state[key], x, arrays)
            else:
                try:
                    setattr(live, key, decode(x, arrays))
                except Exception:  # noqa: BLE001 - a read-only property: leave it
                    pass


def _mutable(v) -> bool:
    return isinstance(v, (np.ndarray, dict, list, np.random.Generator)) or hasattr(v, "__dict__") and not callable(v)


# ----------------------------------------------------------------------------------------
# the store
# ----------------------------------------------------------------------------------------
def unpack(members: dict, packed: dict | None) -> dict:
    """The recorded arrays by key: slices of the per-dtype blobs (``packed``: ``{key: [blob,
    offset, shape]}``, written by ``autograder.release.record.pack``), or the members
    themselves when the data were not packed."""
    if packed is None:
        return members
    out = {}
    for key, (blob, offset, shape) in packed.items():
        size = int(np.prod(shape, dtype=np.int64))
        a = members[blob][offset:offset + size].reshape(shape)
        a.flags.writeable = False
        out[key] = a
    return out


class Store:
    """Every assignment's records of this edition (loaded on first use)."""

    def __init__(self, folder: Path = HERE):
        self.folder = folder
        self._calls: dict[str, list] | None = None
        self._checks: dict | None = None

    def _load(self):
        if self._calls is not None:
            return
        self._calls, self._checks = {}, {}
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            meta = json.loads(path.read_text(encoding="utf-8"))
            with np.load(path.with_suffix(".npz"), allow_pickle=False) as z:
                arrays = unpack({k: z[k] for k in z.files}, meta.get("packed"))
            for rec in meta.get("calls", []):
                self._calls.setdefault(rec["name"], []).append((rec, arrays))
            for name, cases in meta.get("checks", {}).items():
                self._checks.setdefault(name, {}).update({k: (v, arrays) for k, v in cases.items()})

    def calls(self, name: str) -> list:
        self._load()
        return self._calls.get(name, [])

    def check(self, name: str, key: str):
        """The recorded outcomes of exercise `name` on case `key`, or None."""
        self._load()
        got = self._checks.get(name, {}).get(key)
        if got is None:
            return None
        j, arrays = got
        return {who: (o[0], decode(o[1], arrays) if o[0] else o[1]) for who, o in j.items()}

    def exercises(self) -> set[str]:
        self._load()
        return set(self._checks)

    def replay(self, name: str, args: tuple):
        """(True, result) of a recorded call of `name` with these arguments (which it then
        changes as the recorded call did), or (False, None)."""
        for rec, arrays in self.calls(name):
            if len(rec["args"]) == len(args) and all(matches(a, j, arrays) for a, j in zip(args, rec["args"])):
                for a, j in zip(args, rec["after"]):
                    if j is not None:
                        restore(a, j, arrays)
                if rec.get("raised"):
                    raise ValueError(rec["raised"])
                return True, decode(rec["result"], arrays)
        return False, None


STORE = Store()
