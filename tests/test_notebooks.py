"""Every source notebook runs top to bottom with its tests passing; every released
notebook runs until its first exercise fails with NotImplementedError, nothing earlier."""
from __future__ import annotations

import re
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
            # one short line, the same in every notebook (a cell with only asserts gets it in
            # JupyterLab, which sends the cell's metadata; nbclient does not)
            from autograder.checks import PASSED_LINE, POLL_LINE
            shown = [o.get("text", "") or str(o.get("data", {}).get("text/plain", "")) for o in c.outputs]
            if re.search(r"\bcheck(_choice|_poll)?\(", c.source):
                line = POLL_LINE if nbgrader_meta(c)["grade_id"].startswith("test_poll_") else PASSED_LINE
                text = "".join(shown)   # the cell's own prints (if any), then the one line, once
                assert text.endswith(line + "\n") and text.count("✓") == 1 and "True" not in shown, (
                    f"{aid}: {nbgrader_meta(c)['grade_id']} shows {shown}")


def _widget_cells(nb) -> list:
    from tnn_lib.topics import TOPICS
    factories = [f for t in TOPICS for f in t.widgets]
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(f"{f}(" in c.source for f in factories)]


@pytest.mark.parametrize("aid", [a for a in PRESENT if released_notebook(a).exists()])
def test_released_notebook_runs_all_of_its_lesson(aid, tmp_path):
    """Run All on a fresh release (nothing answered; nbclient stops at the first error of an
    untagged cell): every code cell runs, every widget shows, each failing cell is a test
    cell or a lesson cell that needs an answer, and shows a readable message; nbgrader's
    Validate still counts every test cell as failed."""
    from autograder.release.notebooks import RUN_ALL_TAG
    nb, client = _run(released_notebook(aid), tmp_path)
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{aid}: Run All stopped at a cell that is not tagged {RUN_ALL_TAG}:\n{str(err)[-2000:]}")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{aid}: not every code cell ran"
    for i in _widget_cells(nb):
        shown = [o for o in nb.cells[i].outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert shown and not [o for o in nb.cells[i].outputs if o.output_type == "error"], (
            f"{aid}: widget cell {i} shows no widget: {nb.cells[i].outputs}")
    tests = [c for c in code if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]
    for c in code:
        errors = [o for o in c.outputs if o.output_type == "error"]
        if not errors:
            continue
        assert RUN_ALL_TAG in c.metadata.get("tags", []), f"{aid}: an untagged cell failed: {c.source[:200]}"
        if c in tests:
            shown = "\n".join(errors[0].traceback)
            # unanswered: a check says so in one line; an assert calling the stub shows the stub's own frame
            assert errors[0].ename == "NotImplementedError", shown
            assert "checks.py" not in shown and "TNN-" not in shown, shown
            if "Traceback" not in shown:
                assert "not answered yet" in shown, shown
        else:
            # a lesson cell that needs an unanswered exercise: one line naming it, no traceback
            shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(errors[0].traceback))
            assert "Traceback" not in shown and re.match(r"… not answered yet: implement `\w+` first \(notebook ",
                                                          shown), f"{aid}: a lesson cell shows {shown}"
    # nbgrader's Validate reports the graded cells with an error output as failed (its own method)
    from nbgrader.validator import Validator
    failed = Validator()._get_failed_cells(nb)
    assert len(failed) == len(tests), f"{aid}: Validate fails {len(failed)} of {len(tests)} unanswered test cells"
