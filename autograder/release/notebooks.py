"""``tnn-course release``: regenerate ``notebooks/`` from ``solutions/`` with nbgrader."""
from __future__ import annotations

import ast
import json
import logging
import os
from pathlib import Path

from autograder.course import ASSIGNMENTS, course_root, ensure_tools_on_path, nbgrader_config
from autograder.source import strip_magics


def source_assignments(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "solutions").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))


POLL_PREFIX = "poll_"
NBGRADER_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def poll_stub(cell: dict) -> None:
    """A poll's answer cell (an nbgrader solution cell whose grade_id starts with ``poll_``)
    is released as ``poll_x = ...  # your answer`` instead of nbgrader's generic stub, so the
    student sees the name to set; the visible check then reads ``...`` as unanswered."""
    from nbgrader.utils import compute_checksum  # slow import (see AUTHORING.md)
    from nbformat import from_dict  # slow import (see AUTHORING.md)

    meta = cell.get("metadata", {}).get("nbgrader", {})
    gid = meta.get("grade_id", "")
    source = "".join(cell.get("source", ""))
    if not (meta.get("solution") and gid.startswith(POLL_PREFIX) and NBGRADER_STUB in source):
        return
    cell["source"] = source.replace(NBGRADER_STUB, f"{gid} = ...  # your answer")
    if "checksum" in meta:
        meta["checksum"] = compute_checksum(from_dict(cell))
    cell["source"] = cell["source"].splitlines(keepends=True)  # as Jupyter writes sources


RUN_ALL_TAG = "raises-exception"


def _names(source: str) -> tuple[set, set]:
    """(names a cell binds, names it reads) — empty if it does not parse (magics, etc.)."""
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return set(), set()
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, (ast.Store, ast.Del)) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound, read


def keep_running(cells: list) -> None:
    """Tag ``raises-exception`` every code cell that fails while the student has not
    answered yet, so that Run All goes on past it: a graded test cell; a lesson cell that
    calls a function of an answer cell (its grade id, the name the student defines), or
    reads a name that such a cell binds (and so on down the notebook). JupyterLab sends a
    tagged cell with ``stop_on_error: false`` (the kernel does not drop the cells queued
    after it) and nbclient does not stop there. A failure still shows in its cell as an
    error, which nbgrader's Validate counts as failed for a test cell; grading and
    ``tnn-course check`` run the test cells themselves and never read the tag."""
    tainted = {c["metadata"]["nbgrader"].get("grade_id") for c in cells
               if c.get("cell_type") == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    tainted.discard(None)
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or meta.get("solution"):
            continue
        bound, read = _names("".join(cell.get("source", "")))
        if not (meta.get("grade") or read & tainted):
            continue
        if not meta.get("grade"):
            tainted |= bound
        tags = cell["metadata"].setdefault("tags", [])
        if RUN_ALL_TAG not in tags:
            tags.append(RUN_ALL_TAG)


def normalise_release(path: Path) -> None:
    """Write a released notebook in a stable form (sorted keys, one-space indent) so that
    releasing again reproduces the committed file byte for byte; give polls their stub and
    graded test cells the tag that lets Run All go past a failing check."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            poll_stub(cell)
    keep_running(nb.get("cells", []))
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def release(assignments=None, root=None, db_url=None, quiet=False) -> list[Path]:
    """Run nbgrader's generate_assignment for each assignment; return the released files."""
    from nbgrader.apps import NbGraderAPI  # slow import (see AUTHORING.md)

    ensure_tools_on_path()   # nbgrader runs the environment's `alembic` for the gradebook
    root = course_root(root)
    names = list(assignments) if assignments else source_assignments(root)
    unknown = [a for a in names if not (root / "solutions" / a).is_dir()]
    if unknown:
        raise ValueError(f"unknown assignment(s) {unknown}; expected names under {root / 'solutions'}: "
                         f"{source_assignments(root)}")
    cfg = nbgrader_config(root, db_url)
    if quiet:
        cfg.Application.log_level = logging.ERROR
    api = NbGraderAPI(config=cfg)
    if quiet:
        api.log.setLevel(logging.ERROR)
    out = []
    cwd = os.getcwd()
    try:
        os.chdir(root)
        for a in names:
            result = api.generate_assignment(a, force=True, create=True)
            if not result.get("success"):
                raise RuntimeError(f"nbgrader could not release {a}:\n{result.get('error') or result.get('log')}")
            for nb in sorted((root / "notebooks" / a).glob("*.ipynb")):
                normalise_release(nb)
                out.append(nb)
    finally:
        os.chdir(cwd)
    return out


__all__ = ["release", "ASSIGNMENTS"]
