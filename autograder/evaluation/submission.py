"""Load and sanitise a submitted notebook: the first stage of grading.

* :func:`load_notebook` reads the file: a missing file, invalid JSON or JSON that is not a
  notebook is reported as such, with a message, instead of stopping anything; a malformed
  cell is repaired where it can be;
* :func:`sanitise` does what nbgrader's autograde preprocessors do — ``ClearOutput``,
  ``DeduplicateIds`` (nothing, once copies lost their ids), ``OverwriteKernelspec``, ``OverwriteCells`` (edited test cells are
  restored from the gradebook's source and checksums, deleted ones are put back) — from the
  rows the gradebook recorded of the source (:class:`~autograder.records.Recorded`, read by
  the grading parent), after restoring the source's nbgrader metadata of every cell (edited
  flags; copies become ordinary cells), and puts nbgrader's cells back in the source order
  (reordered cells). It imports no nbgrader: a worker's start would spend most of a second
  of CPU on that package (its server extensions, nbconvert's exporters, SQLAlchemy), on the
  path of every grading; ``tests/test_sanitise.py`` holds it to nbgrader's preprocessors.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.outcomes.cells import is_test_cell, nbgrader_meta
from autograder.records import Recorded

MAX_NOTEBOOK_BYTES = 50_000_000


# ----------------------------------------------------------------------------------------
# reading a submitted file
# ----------------------------------------------------------------------------------------
def load_notebook(path) -> tuple[NotebookNode | None, str, str]:
    """(notebook, state, message): state is "ok", "missing-notebook", "invalid-notebook" or
    "not-a-notebook". `path` is a file, or the submitted file's bytes (a task that travelled
    to a Dask worker)."""
    if isinstance(path, (bytes, bytearray)):
        raw = bytes(path)
    elif path is None or not Path(path).is_file():
        return None, "missing-notebook", "no notebook was submitted under this name"
    else:
        raw = Path(path).read_bytes()
    if len(raw) > MAX_NOTEBOOK_BYTES:
        return None, "not-a-notebook", f"the file is {len(raw) / 1e6:.0f} MB, too large for a notebook"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not-a-notebook", "the file is not a text file, so it cannot be a Jupyter notebook"
    text = text[1:] if text.startswith("\ufeff") else text   # a byte-order mark some editors write
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return None, "invalid-notebook", (f"the file is not valid notebook JSON ({err.msg} at line {err.lineno}, "
                                          f"column {err.colno}); was it saved completely? Open it in Jupyter, "
                                          "save it again and resubmit")
    except RecursionError:
        return None, "invalid-notebook", ("the file's JSON is nested far deeper than any notebook (thousands of "
                                          "brackets inside each other); open the notebook in Jupyter, save it "
                                          "again and resubmit")
    if isinstance(data, dict) and data.get("nbformat") == 3 and isinstance(data.get("worksheets"), list):
        data = _upgrade_v3(data)
        if data is None:
            return None, "invalid-notebook", ("the file is an old (version 3) Jupyter notebook that could not be "
                                              "upgraded; open it in Jupyter, save it again and resubmit")
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


def _upgrade_v3(data: dict) -> dict | None:
    """A version 3 notebook (cells in ``worksheets``) as a version 4 one, by nbformat's own
    upgrade; None when nbformat cannot read it."""
    try:
        from nbformat import v4  # slow import (see AUTHORING.md)
        nb = v4.upgrade(nbformat.from_dict(data), from_version=3, from_minor=int(data.get("nbformat_minor", 0) or 0))
        out = _plain(nb)
    except Exception:
        return None
    return out if isinstance(out, dict) and isinstance(out.get("cells"), list) else None


def _plain(node):
    """A NotebookNode as plain dicts and lists."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


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
# sanitising as nbgrader's preprocessors do, from the gradebook's record of the source
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


# what nbgrader's OverwriteCells writes at the top of a graded cell it puts back
# (its ``missing_cell_notification``, which the course does not configure)
MISSING_CELL_NOTE = ("This cell (id:{cell_id}) was missing from the submission. "
                     "It was added back by nbgrader.\n\n")


def _is_grade(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("grade", False))


def _is_solution(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("solution", False))


def _is_locked(cell) -> bool:
    """nbgrader's ``utils.is_locked``: a solution cell never is, a grade cell always is."""
    if "nbgrader" not in cell.metadata or _is_solution(cell):
        return False
    return True if _is_grade(cell) else bool(cell.metadata["nbgrader"].get("locked", False))


def cell_checksum(cell) -> str:
    """nbgrader's ``utils.compute_checksum`` of a cell (what ``SaveCells`` records and
    ``OverwriteCells`` compares): MD5 of its source, type, flags, id and points."""
    meta = cell.metadata["nbgrader"]
    m = hashlib.md5()
    for part in (cell.source, cell.cell_type, str(_is_grade(cell)), str(_is_solution(cell)), str(_is_locked(cell)),
                 meta["grade_id"]):
        m.update(str(part).encode("utf-8"))
    if _is_grade(cell):
        m.update(str(float(meta["points"])).encode("utf-8"))
    return m.hexdigest()


def _set_cell_type(cell, cell_type: str) -> None:
    """nbgrader's ``OverwriteCells.update_cell_type``."""
    if cell.cell_type == cell_type:
        return
    if cell_type == "code":
        cell.cell_type, cell.outputs, cell.execution_count = "code", [], None
    elif cell_type == "markdown":
        cell.cell_type = "markdown"
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def _missing_cell(gid: str, source: dict, points: float, solution: bool = False, task: bool = False):
    """nbgrader's ``OverwriteCells.missing_cell_transform``: a deleted grade (or task) cell of
    the source, as it puts it back."""
    meta = {"grade": not task, "grade_id": gid, "locked": source["locked"], "checksum": source["checksum"],
            "cell_type": source["cell_type"], "points": points, "solution": False}
    cell = {"cell_type": source["cell_type"], "metadata": {"deletable": False, "editable": False, "nbgrader": meta},
            "source": MISSING_CELL_NOTE.format(cell_id=gid) + source["source"]}
    if cell["cell_type"] == "code":
        cell["execution_count"], cell["outputs"] = None, []
        cell["source"] = "# " + cell["source"]
    if solution:
        del cell["metadata"]["editable"]
        meta["solution"] = True
    elif task:
        meta["task"] = True
    meta["schema_version"] = 3
    return nbformat.from_dict(cell)


def _clear_outputs(nb) -> None:
    """nbgrader's ``ClearOutput`` (nbconvert's ``ClearOutputPreprocessor``)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            for key in ("collapsed", "scrolled"):
                cell.metadata.pop(key, None)


def _overwrite_kernelspec(nb, recorded: Recorded) -> None:
    """nbgrader's ``OverwriteKernelspec``: the source's kernelspec, when it recorded one."""
    kernelspec = json.loads(recorded.kernelspec) if recorded.kernelspec is not None else None
    if kernelspec:
        nb.metadata["kernelspec"] = kernelspec


def _overwrite_cell(cell, recorded: Recorded) -> None:
    """nbgrader's ``OverwriteCells.preprocess_cell``: type, locked flag, points and checksum
    from the gradebook, and a locked cell's source when its checksum differs."""
    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
    if gid is None:
        return
    source = recorded.cells.get(gid)
    if source is None:
        del cell.metadata["nbgrader"]["grade_id"]
        return
    meta = cell.metadata["nbgrader"]
    if cell.cell_type != source["cell_type"]:
        _set_cell_type(cell, source["cell_type"])
    if _is_locked(cell) != source["locked"]:
        meta["locked"] = source["locked"]
    if _is_grade(cell) and float(meta["points"]) != recorded.points[gid]:
        meta["points"] = recorded.points[gid]
    meta["checksum"] = source["checksum"]
    if source["locked"] and cell_checksum(cell) != source["checksum"]:
        cell.source = source["source"]
        if cell_checksum(cell) != source["checksum"]:
            raise RuntimeError(f"Inconsistent checksums for cell {gid}")


def _put_back_missing(nb, layout, recorded: Recorded) -> None:
    """nbgrader's ``OverwriteCells`` with ``add_missing_cells``, putting a deleted grade cell
    back after the nearest earlier cell of the source that is still there (nbgrader's own
    version fails when the cell just before it is missing too), and a deleted task cell at
    the end, as nbgrader does."""
    order = [gid for gid in layout.order if gid in recorded.cells] + \
        [gid for gid in recorded.cells if gid not in layout.order]
    for gid in order:
        if gid not in recorded.points:
            continue
        present = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        if gid in present:
            continue
        cell = _missing_cell(gid, recorded.cells[gid], recorded.points[gid], solution=gid in recorded.solutions)
        at = 0
        for prev in reversed(order[:order.index(gid)]):
            if prev in present:
                at = present.index(prev) + 1
                break
        nb.cells.insert(at, cell)
    present = [c["metadata"]["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c["metadata"]]
    for gid, points in recorded.tasks.items():
        if gid not in present and gid in recorded.cells:
            nb.cells.append(_missing_cell(gid, recorded.cells[gid], points, task=True))


def _restore_metadata(nb, layout) -> list[str]:
    """Before nbgrader sees the notebook: the first cell that claims a grade id of the source
    gets that cell's nbgrader metadata back (an edited ``grade``/``solution`` flag would make
    nbgrader's OverwriteCells fail on its checksum); later cells claiming the same id (a
    copied cell) become ordinary cells, which still run. Returns notes."""
    notes, seen = [], set()
    known = layout.meta
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


def sanitise(nb, layout, recorded) -> tuple:
    """nbgrader's autograde sanitising (``ClearOutput``, ``DeduplicateIds``,
    ``OverwriteKernelspec``, ``OverwriteCells`` with missing cells put back; a copied cell
    loses its id first, so ``DeduplicateIds`` finds nothing), done from the
    gradebook's `recorded` source (:class:`~autograder.records.Recorded`) without importing
    nbgrader, plus putting cells back in order, by the source's
    :class:`~autograder.records.Layout`; returns (notebook, notes).
    ``tests/test_sanitise.py`` compares it with nbgrader's own preprocessors."""
    recorded = Recorded.from_json(recorded)
    notes = []
    dropped = _drop_unknown_ids(nb, set(layout.order))
    if dropped:
        notes.append(f"cells marked {', '.join(sorted(set(dropped)))} are not part of the assignment; "
                     "they were run as ordinary cells")
    notes += _restore_metadata(nb, layout)
    before = {nbgrader_meta(c).get("grade_id"): c.source for c in nb.cells if is_test_cell(c)}
    _clear_outputs(nb)
    # nbgrader's DeduplicateIds has nothing left to do: after _drop_unknown_ids and
    # _restore_metadata one cell at most claims each id of the source
    _overwrite_kernelspec(nb, recorded)
    for cell in nb.cells:
        _overwrite_cell(cell, recorded)
    _put_back_missing(nb, layout, recorded)
    for gid, _points in layout.tests:
        if gid not in before:
            notes.append(f"the test cell {gid} was missing from your notebook; the original was put back")
    for gid, src in before.items():
        if gid in layout.released and layout.released[gid].strip() != src.strip():
            notes.append(f"the test cell {gid} was edited; the original was restored (test cells are locked)")
    if _source_order(nb, layout.order):
        notes.append("the assignment's cells were not in their original order; they were run in that order "
                     "(your own cells moved along with the cell above them)")
    return nb, notes
