"""Helpers for the notebook tests: read nbgrader metadata, find `check(...)` calls."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)
SOLUTION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)


def source_notebook(aid: str) -> Path:
    return ROOT / "solutions" / aid / f"{aid}.ipynb"


def released_notebook(aid: str) -> Path:
    return ROOT / "notebooks" / aid / f"{aid}.ipynb"


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def read(path: Path):
    return nbformat.read(str(path), as_version=4)


def check_calls(nb) -> list[tuple[str, dict]]:
    """Every literal `check("name", fn, seed=…, case=…, **sizes)` in graded test cells,
    visible and hidden, as (exercise name, keyword arguments)."""
    calls = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        src = cell.source.replace("### BEGIN HIDDEN TESTS", "").replace("### END HIDDEN TESTS", "")
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                try:
                    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
                except ValueError:
                    continue
                calls.append((node.args[0].value, kwargs))
    return calls
