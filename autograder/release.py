"""``tnn-course release``: regenerate ``notebooks/`` from ``solutions/`` with nbgrader."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from autograder.course import ASSIGNMENTS, course_root, nbgrader_config


def source_assignments(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "solutions").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))


POLL_PREFIX = "poll_"
NBGRADER_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def poll_stub(cell: dict) -> None:
    """A poll's answer cell (an nbgrader solution cell whose grade_id starts with ``poll_``)
    is released as ``poll_x = ...  # your answer`` instead of nbgrader's generic stub, so the
    student sees the name to set; the visible check then reads ``...`` as unanswered."""
    from nbgrader.utils import compute_checksum
    from nbformat import from_dict

    meta = cell.get("metadata", {}).get("nbgrader", {})
    gid = meta.get("grade_id", "")
    source = "".join(cell.get("source", ""))
    if not (meta.get("solution") and gid.startswith(POLL_PREFIX) and NBGRADER_STUB in source):
        return
    cell["source"] = source.replace(NBGRADER_STUB, f"{gid} = ...  # your answer")
    if "checksum" in meta:
        meta["checksum"] = compute_checksum(from_dict(cell))
    cell["source"] = cell["source"].splitlines(keepends=True)  # as Jupyter writes sources


def normalise_release(path: Path) -> None:
    """Write a released notebook in a stable form (sorted keys, one-space indent) so that
    releasing again reproduces the committed file byte for byte; give polls their stub."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            poll_stub(cell)
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def release(assignments=None, root=None, db_url=None, quiet=False) -> list[Path]:
    """Run nbgrader's generate_assignment for each assignment; return the released files."""
    from nbgrader.apps import NbGraderAPI

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
