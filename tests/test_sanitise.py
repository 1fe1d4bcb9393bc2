"""The sanitising of a submission, done without nbgrader, against nbgrader's own preprocessors.

A worker sanitises a submitted notebook from the rows the gradebook recorded of the source
(``autograder.gradebook.writer.recorded_cells``), without importing nbgrader. The truth here is
nbgrader itself: its ``ClearOutput``, ``DeduplicateIds``, ``OverwriteKernelspec`` and
``OverwriteCells`` (reading a real gradebook that ``SaveCells`` filled), run around the same
steps of our own (metadata restored, unknown ids dropped, cells put back in order), as grading
did before. Both must give the same notebook, cell for cell, and the same notes, on every
notebook of the example class (the hostile and tampered ones included) and on tampered
copies of every released notebook made here.
"""
from __future__ import annotations

import copy
import json
import random
import sys

import nbformat
import pytest

from autograder.course import course_root, nbgrader_config, source_notebooks
from autograder.evaluation import submission
from autograder.gradebook.writer import recorded_cells, sync_gradebook
from autograder.outcomes.cells import nbgrader_meta
from autograder.records import Recorded
from autograder.runners.grade import source_layouts

ROOT = course_root()
EXAMPLES = ROOT / "tests" / "fixtures" / "example_class" / "submitted"
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and source_notebooks(ROOT, p.name))


def _nbgrader_sanitise(nb, layout, resources, config):
    """Grading's sanitising as it was built on nbgrader's preprocessors (the oracle)."""
    from nbgrader.preprocessors import ClearOutput, DeduplicateIds, OverwriteCells, OverwriteKernelspec

    class RestoreCells(OverwriteCells):
        def add_missing_grade_cells(self, nb, resources):
            source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
            order = [c.name for c in source_nb.source_cells]
            sources = {c.name: c for c in source_nb.source_cells}
            solutions = {c.name for c in source_nb.solution_cells}
            for grade_cell in source_nb.grade_cells:
                present = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
                if grade_cell.name in present:
                    continue
                cell = self.missing_cell_transform(sources[grade_cell.name], grade_cell.max_score,
                                                   is_solution=grade_cell.name in solutions)
                at = 0
                for prev in reversed(order[:order.index(grade_cell.name)]):
                    if prev in present:
                        at = present.index(prev) + 1
                        break
                nb.cells.insert(at, cell)
            return nb, resources

    notes = []
    dropped = submission._drop_unknown_ids(nb, set(layout.order))
    if dropped:
        notes.append(f"cells marked {', '.join(sorted(set(dropped)))} are not part of the assignment; "
                     "they were run as ordinary cells")
    notes += submission._restore_metadata(nb, layout)
    before = {nbgrader_meta(c).get("grade_id"): c.source for c in nb.cells if submission.is_test_cell(c)}
    for pp in (ClearOutput, DeduplicateIds, OverwriteKernelspec):
        nb, resources = pp(config=config).preprocess(nb, resources)
    nb, resources = RestoreCells(config=config, add_missing_cells=True).preprocess(nb, resources)
    for gid, _points in layout.tests:
        if gid not in before:
            notes.append(f"the test cell {gid} was missing from your notebook; the original was put back")
    for gid, src in before.items():
        if gid in layout.released and layout.released[gid].strip() != src.strip():
            notes.append(f"the test cell {gid} was edited; the original was restored (test cells are locked)")
    if submission._source_order(nb, layout.order):
        notes.append("the assignment's cells were not in their original order; they were run in that order "
                     "(your own cells moved along with the cell above them)")
    return nb, notes


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """A gradebook with every assignment's source recorded by nbgrader (``SaveCells``), its
    record as grading reads it, and the layouts."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('sanitise') / 'gradebook.db'}"
    config = nbgrader_config(ROOT, db_url)
    recorded, layouts = {}, {}
    for aid in ASSIGNMENTS:
        sync_gradebook(ROOT, aid, db_url, config)
        recorded[aid] = recorded_cells(db_url, aid)
        layouts[aid] = source_layouts(ROOT, aid)
    return {"db_url": db_url, "config": config, "recorded": recorded, "layouts": layouts}


def _both(gradebook, aid: str, name: str, nb):
    """(ours, nbgrader's): each (notebook as JSON, notes), or the error each raised."""
    layout, config = gradebook["layouts"][aid][name], gradebook["config"]
    resources = {"nbgrader": {"db_url": gradebook["db_url"], "assignment": aid, "notebook": name, "student": "s"}}
    out = []
    for run in (lambda n: submission.sanitise(n, layout, gradebook["recorded"][aid][name].to_json()),
                lambda n: _nbgrader_sanitise(n, layout, resources, config)):
        try:
            got, notes = run(nbformat.from_dict(copy.deepcopy(nb)))
            out.append((json.loads(json.dumps(got, sort_keys=True)), notes))
        except Exception as err:  # noqa: BLE001 - compared: both must fail alike
            out.append(("raised", type(err).__name__, str(err)))
    return out


def _submitted_notebooks():
    for student in sorted(EXAMPLES.iterdir()):
        for aid_dir in sorted(p for p in student.iterdir() if p.is_dir()):
            for path in sorted(aid_dir.glob("*.ipynb")):
                yield student.name, aid_dir.name, path


def test_the_record_is_what_nbgrader_reads(gradebook):
    """The rows read with SQLAlchemy alone are those of nbgrader's own gradebook API."""
    from nbgrader.api import Gradebook
    with Gradebook(gradebook["db_url"]) as gb:
        for aid in ASSIGNMENTS:
            for name, rec in gradebook["recorded"][aid].items():
                nb = gb.find_notebook(name, aid)
                assert rec.kernelspec == nb.kernelspec
                assert rec.cells == {c.name: {"cell_type": c.cell_type, "locked": c.locked, "source": c.source,
                                              "checksum": c.checksum} for c in nb.source_cells}
                assert rec.points == {c.name: c.max_score for c in nb.grade_cells}
                assert sorted(rec.solutions) == sorted(c.name for c in nb.solution_cells)
                assert rec.tasks == {c.name: c.max_score for c in nb.task_cells}
                assert rec.cells and rec.points, f"{aid}/{name}: nothing recorded"
                assert Recorded.from_json(json.loads(json.dumps(rec.to_json()))) == rec


def test_checksum_is_nbgraders(gradebook):
    """Our cell checksum against nbgrader's ``compute_checksum`` on every nbgrader cell of the
    sources, and on edited copies (source, type, flags, points)."""
    from nbgrader.utils import compute_checksum
    rng = random.Random(7)
    seen = 0
    for aid in ASSIGNMENTS:
        for path in source_notebooks(ROOT, aid):
            for cell in nbformat.read(str(path), as_version=4).cells:
                if "grade_id" not in cell.metadata.get("nbgrader", {}):
                    continue
                variants = [cell]
                for _ in range(3):
                    c = copy.deepcopy(cell)
                    meta = c.metadata.nbgrader
                    meta["grade"], meta["solution"] = rng.random() < 0.5, rng.random() < 0.5
                    meta["locked"] = rng.random() < 0.5
                    meta["points"] = rng.choice([0, 1, 2.5, "3"])
                    c.source += rng.choice(["", " ", "\n# é", "x = 1"])
                    variants.append(c)
                for c in variants:
                    assert submission.cell_checksum(c) == compute_checksum(c)
                    seen += 1
    assert seen > 100


def test_every_example_notebook_is_sanitised_as_nbgrader_does(gradebook):
    """Every notebook of the example class (correct, blank, every misconception, hostile,
    tampered): the same notebook and notes as nbgrader's preprocessors give."""
    compared, differing = 0, []
    for student, aid, path in _submitted_notebooks():
        if aid not in gradebook["layouts"] or path.stem not in gradebook["layouts"][aid]:
            continue
        nb, state, _ = submission.load_notebook(path)
        if state != "ok":
            continue
        ours, theirs = _both(gradebook, aid, path.stem, nb)
        compared += 1
        if ours != theirs:
            differing.append(f"{student}/{aid}/{path.name}")
    assert compared > 250, compared
    assert not differing, differing


def _tamperings(nb: dict, layout, rng: random.Random):
    """Named edits of a released notebook, as students make them (and worse)."""
    tests = [i for i, c in enumerate(nb["cells"]) if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]
    answers = [i for i, c in enumerate(nb["cells"]) if nbgrader_meta(c).get("solution")]
    locked = [i for i, c in enumerate(nb["cells"]) if nbgrader_meta(c).get("locked") and not nbgrader_meta(c).get("grade")]

    def edit(fn):
        out = copy.deepcopy(nb)
        fn(out["cells"])
        return out

    def meta(cells, i):
        return cells[i]["metadata"]["nbgrader"]

    yield "as released", copy.deepcopy(nb)
    if tests:
        t = rng.choice(tests)
        yield "a test cell deleted", edit(lambda cells: cells.pop(t))
        yield "every test cell deleted", edit(lambda cells: [cells.pop(i) for i in sorted(tests, reverse=True)])
        yield "a test cell edited", edit(lambda cells: cells[t].__setitem__("source", "assert True\n"))
        yield "a test cell made markdown", edit(lambda cells: cells[t].update(cell_type="markdown", source="# gone"))
        yield "a test cell's points raised", edit(lambda cells: meta(cells, t).__setitem__("points", 1000))
        yield "a test cell unlocked and ungraded", edit(lambda cells: meta(cells, t).update(grade=False, locked=False))
        yield "a test cell's nbgrader metadata removed", edit(lambda cells: cells[t]["metadata"].pop("nbgrader"))
        yield "a test cell copied", edit(lambda cells: cells.insert(0, copy.deepcopy(cells[t])))
        yield "a test cell moved to the top", edit(lambda cells: cells.insert(0, cells.pop(t)))
        yield "a test cell claims an unknown id", edit(lambda cells: meta(cells, t).__setitem__("grade_id", "mine"))
        yield "a test cell with outputs", edit(lambda cells: cells[t].update(
            outputs=[{"output_type": "stream", "name": "stdout", "text": "ok\n"}], execution_count=3,
            metadata=dict(cells[t]["metadata"], collapsed=True, scrolled=True)))
        if len(tests) > 1:
            a, b = sorted(rng.sample(tests, 2))
            yield "two test cells deleted", edit(lambda cells: [cells.pop(b), cells.pop(a)])
    if answers:
        s = rng.choice(answers)
        yield "an answer cell made a test cell", edit(lambda cells: meta(cells, s).update(grade=True, points=5))
        yield "an answer cell deleted", edit(lambda cells: cells.pop(s))
        yield "an answer cell made markdown", edit(lambda cells: cells[s].update(cell_type="markdown"))
    if locked:
        k = rng.choice(locked)
        yield "a locked cell edited", edit(lambda cells: cells[k].__setitem__("source", "changed"))
        yield "a locked cell unlocked and edited", edit(lambda cells: (meta(cells, k).__setitem__("locked", False),
                                                                      cells[k].__setitem__("source", "mine")))
    out = copy.deepcopy(nb)
    out["metadata"]["kernelspec"] = {"name": "other", "display_name": "Other", "language": "python"}
    yield "another kernelspec", out
    out = copy.deepcopy(nb)
    out["metadata"].pop("kernelspec", None)
    yield "no kernelspec", out
    out = copy.deepcopy(nb)
    rng.shuffle(out["cells"])
    yield "cells shuffled", out


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_tampered_notebooks_are_sanitised_as_nbgrader_does(gradebook, aid):
    """Each released notebook of `aid`, edited in every way :func:`_tamperings` knows: the same
    notebook and notes as nbgrader's preprocessors give (or the same error)."""
    rng = random.Random(aid)
    compared = 0
    for path in sorted((ROOT / "notebooks" / aid).glob("*.ipynb")):
        layout = gradebook["layouts"][aid][path.stem]
        released = json.loads(path.read_text(encoding="utf-8"))
        for what, nb in _tamperings(released, layout, rng):
            loaded, state, message = submission.load_notebook(json.dumps(nb).encode())
            assert state == "ok", (what, message)
            ours, theirs = _both(gradebook, aid, path.stem, loaded)
            assert ours == theirs, f"{aid}/{path.name}: {what}"
            compared += 1
    assert compared >= 15


def test_a_worker_grades_without_nbgrader(tmp_path):
    """The worker's modules and a whole sanitising import no nbgrader (and no SQLAlchemy)."""
    import subprocess
    code = ("import sys, json, nbformat\n"
            "import autograder.runners.worker as w\n"
            "from autograder.evaluation import submission\n"
            f"rec, lay = json.load(open({str(tmp_path / 'args.json')!r}))\n"
            "from autograder.records import Layout\n"
            f"nb = nbformat.read({str(next((ROOT / 'notebooks' / ASSIGNMENTS[1]).glob('*.ipynb')))!r}, as_version=4)\n"
            "submission.sanitise(nb, Layout.from_json(lay), rec)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('nbgrader', 'sqlalchemy'))))\n")
    aid = ASSIGNMENTS[1]
    name = next((ROOT / "notebooks" / aid).glob("*.ipynb")).stem
    db_url = f"sqlite:///{tmp_path / 'gb.db'}"
    sync_gradebook(ROOT, aid, db_url, nbgrader_config(ROOT, db_url))
    (tmp_path / "args.json").write_text(json.dumps([recorded_cells(db_url, aid)[name].to_json(),
                                                    source_layouts(ROOT, aid)[name].to_json()]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
