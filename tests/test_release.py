"""Releasing from solutions/ reproduces notebooks/, and releases leak nothing."""
from __future__ import annotations

import shutil

import pytest

from autograder.course import ASSIGNMENTS
from autograder.release.notebooks import release
from notebook_tools import HIDDEN, SOLUTION, nbgrader_meta, read, released_notebook, source_notebook

PRESENT = [a for a in ASSIGNMENTS if source_notebook(a).exists()]


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory, root):
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(root / "solutions", course / "solutions")
    release(PRESENT, root=course, quiet=True)
    return course


@pytest.mark.parametrize("aid", PRESENT)
def test_release_reproduces_the_committed_notebook(aid, fresh_release):
    committed = released_notebook(aid)
    assert committed.exists(), f"notebooks/{aid}/{aid}.ipynb is missing: run `tnn-course release {aid}`"
    again = (fresh_release / "notebooks" / aid / f"{aid}.ipynb").read_bytes()
    assert again == committed.read_bytes(), (
        f"notebooks/{aid} differs from a fresh release of solutions/{aid}: run `tnn-course release {aid}`")


@pytest.mark.parametrize("aid", PRESENT)
def test_release_contains_no_solution_and_no_hidden_test(aid):
    src, rel = read(source_notebook(aid)), read(released_notebook(aid))
    text = released_notebook(aid).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"{aid}: the release contains {marker!r}"
    rel_by_id = {nbgrader_meta(c).get("grade_id"): c for c in rel.cells if nbgrader_meta(c).get("grade_id")}
    for cell in src.cells:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if not gid:
            continue
        assert gid in rel_by_id, f"{aid}: cell {gid} is missing from the release"
        released = rel_by_id[gid].source
        for block in SOLUTION.findall(cell.source) + HIDDEN.findall(cell.source):
            lines = [ln.strip() for ln in block.splitlines()
                     if ln.strip() and not ln.strip().startswith("#") and len(ln.strip()) > 12]
            leaked = [ln for ln in lines if ln in released]
            assert not leaked, f"{aid}: cell {gid} of the release contains solution/hidden lines {leaked[:3]}"
        if meta.get("solution") and cell.cell_type == "code" and gid.startswith("poll_"):
            assert f"{gid} = ..." in released, f"{aid}: poll {gid} is not released as `{gid} = ...`"
        elif meta.get("solution") and cell.cell_type == "code":
            assert "raise NotImplementedError" in released, f"{aid}: answer cell {gid} has no stub in the release"


@pytest.mark.parametrize("aid", PRESENT)
def test_every_poll_shows_its_name_and_its_options_to_the_student(aid):
    """A released poll answer cell names the variable to set and every allowed answer, and
    left as it is, its visible check reads as unanswered (NotImplementedError), not an error."""
    import ast

    from autograder.checks import check_choice
    rel = read(released_notebook(aid))
    polls = 0
    for i, cell in enumerate(rel.cells):
        gid = nbgrader_meta(cell).get("grade_id", "")
        if not (nbgrader_meta(cell).get("solution") and gid.startswith("poll_")):
            continue
        polls += 1
        test = next(c for c in rel.cells[i + 1:] if nbgrader_meta(c).get("grade"))
        calls = [n for n in ast.walk(ast.parse(test.source)) if isinstance(n, ast.Call)
                 and getattr(n.func, "id", "") == "check_choice"]
        assert calls, f"{aid}: the test cell after poll {gid} has no check_choice"
        options = ast.literal_eval(calls[0].args[2])
        missing = [o for o in options if str(o) not in cell.source]
        assert not missing, f"{aid}: poll {gid} does not show the options {missing} to the student"
        scope: dict = {}
        exec(cell.source, scope)
        with pytest.raises(NotImplementedError):
            check_choice(gid, scope[gid], options)
    assert polls >= 1, f"{aid} has no poll (the lecture's polls belong in every assignment)"
