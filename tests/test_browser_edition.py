"""The student edition in real headless Chromium: Run All on a blank notebook, then on the
same notebook with its answers, in the JupyterLab the edition's own settings give.

The edition is written by the public command, ``tnn-course release 02_batchnorm
--student-edition DIR`` (in a copy of the course), and its JupyterLab imports the edition's
own `tnn_lib` and `autograder` (PYTHONPATH, as the edition's venv would) with the edition's
Jupyter config path and settings (what its workbook.py passes). Where the edition's
`tnn_lib` holds stubs (``EDITION = True`` in its tnn_lib/student.py), the lesson and the
widget must say which exercise to implement first and, once answered, that they ran on the
student's code; where it still holds the references, they must simply work. The test reads
which of the two it got from the edition itself and says so in its output.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from browser_tools import ROOT, JupyterLab, artifacts_dir, run_all_in_jupyterlab
from test_browser import browser, page  # noqa: F401 - the fixtures: one headless Chromium, a fresh page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1800)]
AID = "02_batchnorm"

OUTPUTS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell')).map((c, i) => {
  const errs = Array.from(c.querySelectorAll(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"));
  const texts = Array.from(c.querySelectorAll(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']"));
  return {i, source: (c.querySelector('.jp-InputArea-editor') || {}).innerText || '',
          errors: errs.map(e => {
            const pre = e.querySelector('pre') || e;
            const lh = parseFloat(getComputedStyle(pre).lineHeight);
            return {text: e.innerText, lines: e.innerText.replace(/\\n+$/, '').split('\\n').length,
                    shown: Math.round(pre.getBoundingClientRect().height / lh), overflow: pre.scrollWidth > pre.clientWidth + 1};
          }),
          stdout: texts.map(t => t.innerText).join(''),
          status: Array.from(c.querySelectorAll('.tnn-status')).map(s => s.innerText).join('\\n')};
})"""


def _tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _write_edition(tmp_path: Path) -> tuple[Path, str]:
    course = tmp_path / "course"
    for d in ("solutions", "notebooks", "tnn_lib", "autograder", "jupyterlab"):
        shutil.copytree(ROOT / d, course / d, ignore=shutil.ignore_patterns("__pycache__", "examples", "*.db"))
    shutil.copy(ROOT / "LICENSE", course / "LICENSE")
    help_text = subprocess.run([_tool("tnn-course"), "release", "--help"], capture_output=True, text=True).stdout
    answers = ["--answers", "00_backprop,01_divergences"] if "--answers" in help_text else []
    out = subprocess.run([_tool("tnn-course"), "release", AID, "--course-dir", str(course),
                          "--student-edition", str(tmp_path / "edition"), *answers],
                         cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout + out.stderr
    return tmp_path / "edition", " ".join(answers)


def _answered_copy(notebooks: Path) -> str:
    """A student's copy of the notebook with the answers of solutions/ in its answer cells."""
    import nbformat
    src = nbformat.read(ROOT / "solutions" / AID / f"{AID}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in src.cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(notebooks / AID / f"{AID}.ipynb", as_version=4)
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if c.cell_type == "code" and meta.get("solution"):
            c.source = answers[meta["grade_id"]]
    rel = f"{AID}/{AID}_answered.ipynb"
    nbformat.write(nb, notebooks / rel)
    return rel


def test_run_all_in_the_student_edition_blank_then_answered(page, browser, tmp_path):
    import nbformat
    edition, answers = _write_edition(tmp_path)
    stubbed = "EDITION = True" in (edition / "tnn_lib" / "student.py").read_text()
    print(f"edition: {'stubbed (EDITION = True)' if stubbed else 'references (EDITION = False): no stubs yet'}"
          f"{'; ' + answers if answers else ''}")
    notebooks = edition / "notebooks"
    answered = _answered_copy(notebooks)
    blank = f"{AID}/{AID}.ipynb"
    n = len(nbformat.read(notebooks / blank, as_version=4).cells)
    with JupyterLab(notebooks, tmp_path / "jupyter", package=edition,
                    settings_args=[f"--LabApp.app_settings_dir={edition / 'jupyterlab'}"],
                    config_path=edition / "jupyter") as lab:
        state = run_all_in_jupyterlab(page, lab, blank, n)
        cells = page.evaluate(OUTPUTS)
        config = json.loads(page.evaluate("() => document.getElementById('jupyter-config-data').textContent"))
        page.screenshot(path=str(artifacts_dir() / "edition-run-all-blank.png"), full_page=True)
        state2 = run_all_in_jupyterlab(page, lab, answered, n)
        done = page.evaluate(OUTPUTS)
        page.screenshot(path=str(artifacts_dir() / "edition-run-all-answered.png"), full_page=True)

    # the edition's JupyterLab: no news question, nbgrader's instructor extensions disabled
    assert state["ran"] == state["code"] and not state["news"], state
    disabled = config.get("disabledExtensions", [])
    assert "@jupyter/nbgrader:create-assignment" in disabled and "@jupyter/nbgrader:formgrader" in disabled, disabled

    # blank: every failing cell shows a line or two, broken at spaces only, never a traceback
    errors = [(c["i"], e) for c in cells for e in c["errors"]]
    assert errors
    for i, e in errors:
        assert "Traceback" not in e["text"] and "tnn_lib/" not in e["text"], (i, e["text"])
        assert e["text"].startswith(("… not answered yet", "✗ check failed")), (i, e["text"])
        assert e["shown"] == e["lines"] and not e["overflow"], (
            f"cell {i}: {e['lines']} lines of text shown on {e['shown']} lines: the browser broke them: {e['text']!r}")
    by_source = {c["source"]: c for c in cells}
    undo = next(c for s, c in by_source.items() if "γ = √(Var + ε), β = E" in s)     # a lesson cell
    assert [e["text"] for e in undo["errors"]] and undo["errors"][0]["text"].startswith(
        "… not answered yet: implement `batchnorm_forward` first (notebook 02_batchnorm, section 2."), undo
    bn_cell = next(c for s, c in by_source.items() if "BatchNorm1d(1)" in s)         # a tnn_lib class
    widget = next(c for c in cells if c["status"])
    if stubbed:
        assert bn_cell["errors"] and "implement `batchnorm_forward` first" in bn_cell["errors"][0]["text"], bn_cell
        assert "implement `batchnorm_forward` first (notebook 02_batchnorm" in widget["status"], widget
    else:
        # BatchNorm1d runs tnn_lib's reference; the cell then needs the student's own population_statistics
        assert [e["text"] for e in bn_cell["errors"]] and "implement `population_statistics` first" in \
            bn_cell["errors"][0]["text"], bn_cell
        assert "implement" not in widget["status"], widget

    # answered: nothing fails; in a stubbed edition the lesson and the widget name the student's code
    assert state2["ran"] == state2["code"], state2
    failing = [(c["i"], e["text"]) for c in done for e in c["errors"]]
    assert not failing, failing
    bn_done = next(c for c in done if "BatchNorm1d(1)" in c["source"])
    widget_done = next(c for c in done if c["status"])
    assert "implement" not in widget_done["status"]
    if stubbed:
        assert "↳ this cell ran on your own code: driven by your `batchnorm_forward`" in bn_done["stdout"], bn_done
        assert "driven by your `batchnorm_forward`" in widget_done["status"], widget_done
    else:
        assert "driven by" not in bn_done["stdout"] + widget_done["status"]
    print("blank:", [e["text"].replace("\n", " ")[:160] for _, e in errors][:6], "| widget:", widget["status"])
    print("answered widget:", widget_done["status"])
    assert not browser.external, browser.external
