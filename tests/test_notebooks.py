"""Every source notebook runs top to bottom with its tests passing; every released
notebook runs until its first exercise fails with NotImplementedError, nothing earlier."""
from __future__ import annotations

import shutil
import time

import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from autograder.course import ASSIGNMENTS, COURSE
from notebook_tools import nbgrader_meta, read, released_notebook, source_notebook

pytestmark = pytest.mark.slow

PRESENT = [a for a in ASSIGNMENTS if source_notebook(a).exists()]


def test_every_assignment_of_the_course_map_has_a_notebook():
    missing = [a for a in ASSIGNMENTS if not source_notebook(a).exists()]
    assert not missing, f"source notebooks missing for {missing}"


def _run(path, tmp_path):
    work = tmp_path / path.name
    shutil.copy(path, work)
    nb = read(work)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    return nb, client


@pytest.mark.parametrize("aid", PRESENT)
def test_solution_notebook_executes_with_all_tests_passing(aid, tmp_path):
    nb, client = _run(source_notebook(aid), tmp_path)
    t0 = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{aid}: a cell failed in the solution notebook:\n{str(err)[-3000:]}")
    seconds = time.perf_counter() - t0
    print(f"{aid}: executed in {seconds:.1f} s")
    graded = [c for c in nb.cells if nbgrader_meta(c).get("grade")]
    assert graded, f"{aid} has no graded test cells"
    ids = {nbgrader_meta(c).get("grade_id") for c in nb.cells}
    for fn in COURSE[aid]:
        assert fn in ids, f"{aid}: no answer cell with grade_id {fn!r}"
        assert f"test_{fn}" in ids, f"{aid}: no graded test cell test_{fn}"
    # nbgrader's own rule: an error or any stderr output in a test cell gives it 0 points
    from nbgrader.utils import determine_grade
    for c in graded:
        if c.cell_type == "code" and not nbgrader_meta(c).get("solution"):
            got, most = determine_grade(c)
            noise = [o.get("text", o.get("evalue", ""))[:300] for o in c.outputs
                     if o.output_type == "error" or o.get("name") == "stderr"]
            assert got == most, f"{aid}: {nbgrader_meta(c)['grade_id']} earns {got}/{most} under nbgrader: {noise}"


@pytest.mark.parametrize("aid", [a for a in PRESENT if released_notebook(a).exists()])
def test_released_notebook_stops_first_at_an_unanswered_exercise(aid, tmp_path):
    nb, client = _run(released_notebook(aid), tmp_path)
    failed = None
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as err:
                failed = (index, cell, err)
                break
    assert failed is not None, f"{aid}: the released notebook ran without any NotImplementedError"
    index, cell, err = failed
    meta = nbgrader_meta(cell)
    assert err.ename == "NotImplementedError", (
        f"{aid}: cell {index} failed with {err.ename} before any exercise was reached:\n{str(err)[-2000:]}")
    assert meta.get("grade") or meta.get("solution"), (
        f"{aid}: cell {index} raised NotImplementedError but is not an exercise cell")
