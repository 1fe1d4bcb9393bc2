"""Python source of notebook cells: the one place IPython's magics are taken out.

A code cell may hold IPython syntax: line magics (``%matplotlib inline``), shell lines
(``!ls``) and cell magics (``%%time`` on the first line). Everything that reads a cell as
Python (the test cells' setup, the reference scan, the check cases of a test cell, the
release's dependency reading) uses :func:`strip_magics`, so that they all agree on what a
cell's Python is.
"""
from __future__ import annotations

import ast
import re

_LINE_MAGIC = re.compile(r"^(\s*)[%!].*$")


def strip_magics(source: str, cell_body: bool = False) -> str:
    """`source` as Python: each line magic or shell line becomes ``pass`` at its own
    indentation (so a block stays a block). A cell magic on the first line makes the whole
    cell ``pass``, unless `cell_body` is true: then only that line becomes ``pass`` and the
    body is kept (``%%time`` and ``%%capture`` run their body as Python, which a scan for what
    the cell calls must see)."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        if not cell_body:
            return "pass\n"
        lines = ["pass"] + lines[1:]
    return "\n".join(_LINE_MAGIC.sub(r"\1pass", ln) for ln in lines) + "\n"


def parse_cell(source: str, cell_body: bool = False):
    """The AST of a code cell with its magics taken out (:func:`strip_magics`); None if it
    does not parse."""
    try:
        return ast.parse(strip_magics(source, cell_body))
    except (SyntaxError, ValueError):
        return None
