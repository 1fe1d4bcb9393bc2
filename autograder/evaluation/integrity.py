"""Find answer cells that use the `tnn_lib` reference of their own exercise.

An answer cell (nbgrader ``grade_id`` = the exercise's name) may use the rest of
`tnn_lib`, but not the reference function it is asked to write: not by importing it
(``from tnn_lib.layers import linear_forward``), not through a module
(``ref.linear_forward``, ``getattr(ref, "linear_forward")``), not under another name
imported elsewhere in the notebook. The check engine catches calls at run time
(``TNN-REFERENCE-USED``); this static scan also catches answers that are never run.
"""
from __future__ import annotations

import ast

from autograder.source import parse_cell as _parse_cell


def parse_cell(source: str):
    """The AST of an answer cell with its magics taken out (a cell magic's body kept: it runs
    as Python); None if it does not parse."""
    return _parse_cell(source, cell_body=True)


def _is_tnn_lib(module: str | None) -> bool:
    return bool(module) and (module == "tnn_lib" or module.startswith("tnn_lib."))


def _bindings(trees, exercise):
    """(names bound to tnn_lib modules, other names bound to the reference `exercise`)."""
    modules, aliases = {"tnn_lib"}, set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if _is_tnn_lib(a.name):
                        modules.add(a.asname or a.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_tnn_lib(node.module):
                for a in node.names:
                    if a.name == exercise:
                        if a.asname and a.asname != exercise:
                            aliases.add(a.asname)
                    else:
                        modules.add(a.asname or a.name)
    return modules, aliases


def _root(node) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def reference_use(answer_source: str, exercise: str, notebook_sources=()) -> str | None:
    """Why the answer cell of `exercise` uses its reference (one line), or None."""
    tree = parse_cell(answer_source)
    if tree is None:
        return None
    return reference_use_parsed(tree, exercise, [t for t in (parse_cell(s) for s in notebook_sources)
                                                 if t is not None])


def reference_use_parsed(tree, exercise: str, notebook_trees=()) -> str | None:
    """:func:`reference_use` of an answer cell parsed already (`tree`, :func:`parse_cell`'s),
    the notebook's other code cells parsed already (`notebook_trees`, without None): a
    notebook's cells are parsed once for all its answers, not once per answer."""
    modules, aliases = _bindings([*notebook_trees, tree], exercise)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_tnn_lib(node.module):
            for a in node.names:
                if a.name in (exercise, "*"):
                    return f"line {line} imports {a.name} from {node.module}"
        if isinstance(node, ast.Attribute) and node.attr == exercise and _root(node.value) in modules:
            return f"line {line} uses {ast.unparse(node)}"
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in aliases:
            return f"line {line} uses {node.id}, the reference {exercise} imported from tnn_lib"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "eval", "exec", "__import__") \
                and any(isinstance(a, ast.Constant) and isinstance(a.value, str) and exercise in a.value
                        for a in node.args):
            return f"line {line} looks {exercise} up by name"
    return None
