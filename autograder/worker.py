"""Grade one submission: the part of grading that runs in a long-lived worker process.

A worker imports nbgrader and nbclient once, keeps a spare kernel warm (see
:mod:`autograder.execute`) and grades the submissions the parent sends it, one at a time:

1. read the file: a missing file, invalid JSON or JSON that is not a notebook is reported
   as such, with a message, instead of stopping anything;
2. sanitise it with nbgrader's own preprocessors — ``ClearOutput``, ``DeduplicateIds``,
   ``OverwriteKernelspec``, ``OverwriteCells`` (edited test cells are restored from the
   gradebook's source and checksums, deleted ones are put back) — and put nbgrader's cells
   back in the source order (reordered cells);
3. run it (memory limit, per-cell timeout, capped output);
4. ``LimitOutput``; an answer cell that uses its own exercise's reference (static scan)
   gets its test cells failed with ``TNN-REFERENCE-USED``;
5. read each graded test cell's outcome (:mod:`autograder.outcomes`).

The gradebook is only read here (by ``OverwriteCells``); the parent writes all results.
"""
from __future__ import annotations

import json
import os
import traceback
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.checks import REFERENCE_TAG
from autograder.integrity import reference_use
from autograder.outcomes import (clean, error_output, exercise_of, is_answer_cell, is_test_cell, nbgrader_meta,
                                 safe_lines, visible_source)

MAX_NOTEBOOK_BYTES = 50_000_000


# ----------------------------------------------------------------------------------------
# reading a submitted file
# ----------------------------------------------------------------------------------------
def load_notebook(path) -> tuple[NotebookNode | None, str, str]:
    """(notebook, state, message): state is "ok", "missing-notebook", "invalid-notebook" or
    "not-a-notebook"."""
    if path is None or not Path(path).is_file():
        return None, "missing-notebook", "no notebook was submitted under this name"
    raw = Path(path).read_bytes()
    if len(raw) > MAX_NOTEBOOK_BYTES:
        return None, "not-a-notebook", f"the file is {len(raw) / 1e6:.0f} MB, too large for a notebook"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not-a-notebook", "the file is not a text file, so it cannot be a Jupyter notebook"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return None, "invalid-notebook", (f"the file is not valid notebook JSON ({err.msg} at line {err.lineno}, "
                                          f"column {err.colno}); was it saved completely? Open it in Jupyter, "
                                          "save it again and resubmit")
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list) or "nbformat" not in data:
        return None, "not-a-notebook", "the file is JSON but not a Jupyter notebook (it has no list of cells)"
    try:
        data["cells"] = [_repair_cell(c) for c in data["cells"] if isinstance(c, dict)]
        data.setdefault("metadata", {})
        nb = nbformat.from_dict(data)
        if nb.nbformat < 4:
            nb = nbformat.convert(nb, 4)
    except Exception as err:  # a malformed notebook: say what, never stop the class
        return None, "invalid-notebook", f"the notebook could not be read: {type(err).__name__}: {err}"
    return nb, "ok", ""


def _repair_cell(cell: dict) -> dict:
    cell_type = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown", "raw") else "raw"
    src = cell.get("source", "")
    src = "".join(str(s) for s in src) if isinstance(src, list) else str(src)
    meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    out = {"cell_type": cell_type, "metadata": meta, "source": src}
    if "id" in cell and isinstance(cell["id"], str):
        out["id"] = cell["id"]
    if cell_type == "code":
        out["outputs"], out["execution_count"] = [], None
    elif isinstance(cell.get("attachments"), dict):
        out["attachments"] = cell["attachments"]
    return out


# ----------------------------------------------------------------------------------------
# sanitising with nbgrader's preprocessors
# ----------------------------------------------------------------------------------------
def _drop_unknown_ids(nb, known: set[str]) -> list[str]:
    """Cells that claim an nbgrader id the source does not have become plain cells."""
    dropped = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is not None and (not isinstance(meta, dict) or meta.get("grade_id") not in known):
            cell.metadata.pop("nbgrader", None)
            if isinstance(meta, dict) and meta.get("grade_id"):
                dropped.append(str(meta.get("grade_id")))
    return dropped


def _source_order(nb, order: list[str]) -> bool:
    """Put nbgrader's cells back in the source order; any other cell moves with the nbgrader
    cell it follows. Returns whether anything moved."""
    rank = {gid: i for i, gid in enumerate(order)}
    chunks, key = [[]], [-1]
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in rank:
            chunks.append([cell])
            key.append(rank[gid])
        else:
            chunks[-1].append(cell)
    new = [c for _, chunk in sorted(zip(key, chunks), key=lambda kc: kc[0]) for c in chunk]
    moved = [id(c) for c in new] != [id(c) for c in nb.cells]
    nb.cells = new
    return moved


def _restore_cells_class():
    from nbgrader import utils
    from nbgrader.preprocessors import OverwriteCells

    class RestoreCells(OverwriteCells):
        """nbgrader's OverwriteCells, putting a deleted test cell back after the nearest
        earlier cell of the source that is still there (nbgrader's own version fails when
        the cell just before it is missing too)."""

        def add_missing_grade_cells(self, nb, resources):
            source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
            order = [c.name for c in source_nb.source_cells]
            sources = {c.name: c for c in source_nb.source_cells}
            solutions = {c.name for c in source_nb.solution_cells}
            for grade_cell in source_nb.grade_cells:
                present = [c.metadata.get("nbgrader", {}).get("grade_id")
                           for c in nb.cells]
                if grade_cell.name in present:
                    continue
                self.log.warning("Missing grade cell %s, adding it back", grade_cell.name)
                cell = self.missing_cell_transform(sources[grade_cell.name], grade_cell.max_score,
                                                   is_solution=grade_cell.name in solutions)
                at = 0
                for prev in reversed(order[:order.index(grade_cell.name)]):
                    if prev in present:
                        at = present.index(prev) + 1
                        break
                nb.cells.insert(at, cell)
            return nb, resources

    return RestoreCells


def _restore_metadata(nb, layout: dict) -> list[str]:
    """Before nbgrader sees the notebook: the first cell that claims a grade id of the source
    gets that cell's nbgrader metadata back (an edited ``grade``/``solution`` flag would make
    nbgrader's OverwriteCells fail on its checksum); later cells claiming the same id (a
    copied cell) become ordinary cells, which still run. Returns notes."""
    notes, seen = [], set()
    known = layout.get("meta", {})
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if gid not in known:
            continue
        if gid in seen:
            cell.metadata.pop("nbgrader", None)
            notes.append(f"a second cell marked {gid} (a copy?) was run as an ordinary cell")
            continue
        seen.add(gid)
        source = dict(known[gid]["nbgrader"])
        if any(bool(meta.get(k)) != bool(source.get(k)) for k in ("grade", "solution", "locked")):
            notes.append(f"the nbgrader metadata of cell {gid} was edited; the original was restored")
        source.pop("checksum", None)
        cell.metadata["nbgrader"] = source
    return notes


def sanitise(nb, layout: dict, resources: dict, config) -> list[str]:
    """nbgrader's autograde sanitising, plus putting cells back in order; returns notes."""
    from nbgrader.preprocessors import ClearOutput, DeduplicateIds, OverwriteKernelspec
    notes = []
    dropped = _drop_unknown_ids(nb, set(layout["order"]))
    if dropped:
        notes.append(f"cells marked {', '.join(sorted(set(dropped)))} are not part of the assignment; "
                     "they were run as ordinary cells")
    notes += _restore_metadata(nb, layout)
    before = {nbgrader_meta(c).get("grade_id"): c.source for c in nb.cells if is_test_cell(c)}
    for pp in (ClearOutput, DeduplicateIds, OverwriteKernelspec):
        nb, resources = pp(config=config).preprocess(nb, resources)
    nb, resources = _restore_cells_class()(config=config, add_missing_cells=True).preprocess(nb, resources)
    for gid, _points in layout["tests"]:
        if gid not in before:
            notes.append(f"the test cell {gid} was missing from your notebook; the original was put back")
    for gid, src in before.items():
        if gid in layout["released"] and layout["released"][gid].strip() != src.strip():
            notes.append(f"the test cell {gid} was edited; the original was restored (test cells are locked)")
    if _source_order(nb, layout["order"]):
        notes.append("the assignment's cells were not in their original order; they were run in that order "
                     "(your own cells moved along with the cell above them)")
    return nb, notes


# ----------------------------------------------------------------------------------------
# grading one notebook
# ----------------------------------------------------------------------------------------
def _reference_users(nb) -> dict[str, str]:
    """Answers that use their own exercise's reference (static scan): {exercise: how}. Their
    test cells are failed with TNN-REFERENCE-USED, to tell the student why."""
    codes = [c.source for c in nb.cells if c.cell_type == "code"]
    found = {}
    for cell in nb.cells:
        if not is_answer_cell(cell):
            continue
        gid = nbgrader_meta(cell)["grade_id"]
        why = reference_use(cell.source, gid, [s for s in codes if s is not cell.source])
        if why:
            found[gid] = why
    return found


def _ungradable(layout, state, message) -> dict:
    cells = [{"grade_id": gid, "exercise": exercise_of(gid, layout["answers"]) or "", "points": 0.0,
              "max_points": float(points), "status": state, "misconception": "", "message": message,
              "source": ""} for gid, points in layout["tests"]]
    return {"state": state, "message": message, "notes": [], "cells": cells, "answers": {}, "autograded": None}


class Grader:
    """Grades notebooks in two processes each: the student's cells in a sandboxed student
    process, the graded test cells here (see :mod:`autograder.evaluate`). Keeps one warm
    sandbox (:class:`autograder.sandbox.launch.Zygote`) that forks each student process."""

    def __init__(self, timeout: float, memory_mb: int, max_output_bytes: int = 200_000, sandbox=None,
                 spare: bool = True):
        from autograder.sandbox.launch import Limits
        self.timeout, self.memory_mb, self.max_output_bytes = timeout, memory_mb, max_output_bytes
        self.limits = Limits(memory_mb=memory_mb)
        self.sandbox = sandbox
        self.keep_spare = spare
        self.runtimes: dict[str, Path] = {}
        self._zygotes: dict = {}

    def runtime(self, layout) -> Path:
        from autograder.sandbox.launch import build_runtime
        key = ",".join(sorted(layout["answers"]))
        if key not in self.runtimes:
            self.runtimes[key] = build_runtime(layout["answers"])
        return self.runtimes[key]

    def zygote(self, runtime):
        """The warm sandbox of this runtime (started on first use, restarted when it died);
        None where bubblewrap cannot run: then each submission gets a fresh process."""
        from autograder.sandbox.launch import Zygote, bwrap_works
        if self.sandbox is False or not bwrap_works():
            return None
        z = self._zygotes.get(runtime)
        if z is None or not z.alive():
            if z is not None:
                z.kill()
            for other in list(self._zygotes):   # one warm sandbox per worker
                self._zygotes.pop(other).kill()
            z = self._zygotes[runtime] = Zygote(runtime, self.limits)
        return z

    def close(self):
        for z in self._zygotes.values():
            z.kill()
        self._zygotes.clear()

    def grade_notebook(self, path, layout: dict, resources: dict, config, source_dir: str) -> dict:
        from autograder.evaluate import SandboxedStudent, cells_to_run, evaluate_tests
        nb, state, message = load_notebook(path)
        if nb is None:
            return _ungradable(layout, state, message)
        nb, notes = sanitise(nb, layout, resources, config)
        runtime = self.runtime(layout)
        data_dir = Path(source_dir)
        cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and not is_test_cell(c)]
        cells = cells_to_run(cells, layout.get("lesson", []), {i for i, c in enumerate(nb.cells) if is_answer_cell(c)})
        student = SandboxedStudent(cells, self.timeout, runtime, data_dir, self.limits, sandbox=self.sandbox,
                                   zygote=self.zygote(runtime), zygote_factory=lambda: self.zygote(runtime))
        try:
            student.run_all()
            stubs = {nbgrader_meta(nb.cells[i])["grade_id"] for i, r in student.results.items()
                     if is_answer_cell(nb.cells[i]) and r.get("ename") == "NotImplementedError"}
            tests = [(gid, layout["sources"][gid], points) for gid, points in layout["tests"]]
            shown = {gid: safe_lines(visible_source(layout["sources"][gid])) for gid, _ in layout["tests"]}
            rows = evaluate_tests(tests, layout["answers"], student, layout.get("setup", []), self.timeout,
                                  visible_of=shown.get, unanswered=stubs)
        finally:
            isolated = student.isolated
            student.close()
        if not isolated:
            notes.append("the sandbox (bubblewrap) was not available: your code ran with memory, time and process "
                         "limits but without file and network isolation")
        for i in sorted(student.results):
            r = student.results[i]
            cell = nb.cells[i]
            gid = nbgrader_meta(cell).get("grade_id")
            if r["status"] == "timeout":
                notes.append(f"cell {i + 1} did not finish within {self.timeout:g} s and was stopped")
            elif r["status"] == "died" and r.get("protocol"):
                notes.append(f"cell {i + 1} wrote into the grader's channel; that process was ended and the cell "
                             "was not run again")
            elif r["status"] == "died":
                notes.append(f"cell {i + 1} ended the Python process (out of memory? the limit is {self.memory_mb} "
                             "MiB; quit() or os._exit?); it was not run again")
            elif r["status"] == "not-run":
                notes.append(f"cell {i + 1} was not run: the student process had to be restarted too many times")
            if r.get("printed", 0) > self.max_output_bytes:
                notes.append(f"cell {i + 1} printed too much; its output was cut")
            if r["status"] == "error" and is_answer_cell(cell) and r.get("ename") != "NotImplementedError":
                notes.append(f"cell {i + 1} (your answer {gid}) raised {r.get('ename')}: {clean(r.get('evalue', ''))[:300]}")
        used = _reference_users(nb)
        by_id = {nbgrader_meta(c).get("grade_id"): c for c in nb.cells if is_test_cell(c)}
        out_rows = []
        for row in rows:
            gid = row["grade_id"]
            cell = by_id.get(gid)
            ex = row["exercise"]
            if ex in used:
                why = (f"{ex}: your answer uses the tnn_lib reference ({used[ex]}); implement it yourself: an "
                       "answer that uses the reference earns no points for this exercise.")
                row.update(points=0.0, status="reference-used", misconception="", message=why,
                           outputs=[error_output("CheckFailure", f"{REFERENCE_TAG}\n{why}")])
            if cell is not None:
                cell.outputs = [nbformat.from_dict(o) for o in row["outputs"]]
                cell.execution_count = None
            row.pop("outputs")
            row["source"] = visible_source(layout["sources"].get(gid, ""))
            out_rows.append(row)
        answers = {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if is_answer_cell(c)}
        return {"state": "graded", "message": "", "notes": notes, "cells": out_rows, "answers": answers,
                "isolated": bool(isolated), "autograded": nbformat.writes(nb)}

    def grade_task(self, task: dict, config) -> dict:
        """Grade every notebook of one (student, assignment) submission."""
        out = {"student": task["student"], "assignment": task["assignment"], "notebooks": {}}
        for name, info in task["notebooks"].items():
            resources = {"nbgrader": {"db_url": task["db_url"], "assignment": task["assignment"], "notebook": name,
                                      "student": task["student"]}, "metadata": {"path": task["source_dir"]}}
            try:
                res = self.grade_notebook(info["path"], info["layout"], resources, config, task["source_dir"])
            except Exception as err:  # the grader failed on this notebook: report it, go on
                res = _ungradable(info["layout"], "grader-error",
                                  f"the grader failed on this notebook: {type(err).__name__}: {err}")
                res["trace"] = traceback.format_exc()
            out["notebooks"][name] = res
        return out


def worker_main(conn, settings: dict) -> None:
    """Entry point of a worker process: grade the tasks received on `conn` until None."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from autograder.course import skip_slow_optional_imports
    skip_slow_optional_imports()
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = "1"
    from autograder.course import nbgrader_config
    import nbgrader.preprocessors  # noqa: F401  (import once, here)
    import logging
    import warnings
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Cell is missing an id field")
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except Exception:
        pass
    from autograder.gradebook import prepare
    prepare()  # WAL and a busy timeout: read the gradebook while the parent writes it
    config = nbgrader_config(settings["course"], settings["db_url"])
    grader = Grader(timeout=settings["timeout"], memory_mb=settings["memory_mb"],
                    max_output_bytes=settings["max_output_bytes"], sandbox=settings.get("sandbox"),
                    spare=settings.get("spare", True))
    try:
        while True:
            try:
                task = conn.recv()
            except EOFError:
                break
            if task is None:
                break
            conn.send(grader.grade_task(task, config))
    finally:
        grader.close()
