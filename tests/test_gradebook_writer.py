"""The bulk gradebook writer (:class:`autograder.gradebook.writer.Writer`) writes exactly the
rows nbgrader's own ``SaveAutoGrades`` writes (:func:`autograder.gradebook.writer.record`, one
submission at a time), into SQLite and into PostgreSQL (a throwaway server).

A small class is graded once by ``tnn-course grade``; its result files and autograded notebooks
are then recorded into fresh gradebooks both ways, and every row of every table is compared
(natural keys in place of nbgrader's random ids). A second round, after a grader has given
manual scores, checks the rows that depend on what is already there (``needs_manual_grade``)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grading_tools import ROOT, tnn_course

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "tests" / "fixtures" / "example_class" / "submitted"
PAIRS = [(s, "00_backprop") for s in ("correct", "blank", "partial", "uses-reference", "hostile-edited-test",
                                      "hostile-deleted-test", "hostile-invalid-json", "hostile-missing")] + \
    [(s, "01_divergences") for s in ("correct", "blank", "kl-arguments-swapped")]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("writer")
    subs = base / "submitted"
    for s, a in PAIRS:
        (subs / s).mkdir(parents=True, exist_ok=True)
        os.symlink(EXAMPLES / s / a, subs / s / a)
    out = base / "out"
    r = tnn_course("grade", subs, "--db", f"sqlite:///{base / 'graded.db'}", "--output", out, "--workers", "2",
                   "--timeout", "10", "-q", timeout=900)
    assert r.returncode == 1, r.stderr[-3000:]     # the invalid and the missing notebook are not graded
    from autograder.runners.grade import load_results
    results = load_results(out)
    assert sorted((r["student"], r["assignment"]) for r in results) == sorted(PAIRS)
    # a timestamp for some of them, as nbgrader's submitted/<student>/<aid>/timestamp.txt gives
    for i, r in enumerate(results):
        r["timestamp"] = f"2026-03-0{1 + i % 3} 12:00:00.000000 UTC" if i % 2 else None
    return base, out, results


def _path(out: Path, r: dict):
    from autograder.runners.grade import autograded_path
    return lambda name: autograded_path(out, r["student"], r["assignment"], name)


def _fresh(url: str) -> None:
    from autograder.course import nbgrader_config
    from autograder.gradebook.writer import sync_gradebook
    config = nbgrader_config(ROOT, url)
    for aid in sorted({a for _, a in PAIRS}):
        sync_gradebook(ROOT, aid, url, config)
    return config


def rows(url: str) -> dict:
    """Every row of the gradebook's submission tables, keyed by names rather than ids, and
    the number of rows of every table."""
    from sqlalchemy import inspect, text

    from autograder.gradebook.writer import open_gradebook
    out = {}
    with open_gradebook(url) as gb:
        for table in inspect(gb.engine).get_table_names():
            out[f"count {table}"] = gb.db.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar()
        out["students"] = sorted((s.id, s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students)
        subs, grades, comments = [], [], []
        for a in gb.assignments:
            for sub in a.submissions:
                subs.append((a.name, sub.student.id, str(sub.timestamp), sub.extension))
                for snb in sub.notebooks:
                    key = (a.name, sub.student.id, snb.name)
                    subs.append(key + (snb.flagged, snb.late_submission_penalty))
                    grades += [key + (g.name, g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                               for g in snb.grades]
                    comments += [key + (c.name, c.auto_comment, c.manual_comment) for c in snb.comments]
        out["submissions"], out["grades"], out["comments"] = sorted(subs), sorted(grades), sorted(comments)
    return out


def _give_manual_scores(url: str) -> None:
    from autograder.gradebook.writer import open_gradebook
    with open_gradebook(url) as gb:
        for student, aid in [("correct", "00_backprop"), ("partial", "00_backprop"), ("blank", "01_divergences")]:
            g = min(gb.find_submission(aid, student).notebooks[0].grades, key=lambda g: g.name)
            g.manual_score = 0.5
        gb.db.commit()


def _compare(graded, url_a: str, url_b: str) -> None:
    from autograder.gradebook.writer import Writer, record
    _, out, results = graded
    config = _fresh(url_a)
    _fresh(url_b)
    for round_ in range(2):
        for r in results:                       # nbgrader's SaveAutoGrades, one submission at a time
            record(r, _path(out, r), url_a, r["timestamp"], config)
        with Writer(url_b, config) as w:         # the bulk writer: all of them in one batch
            assert w.write([(r, _path(out, r), r["timestamp"]) for r in results]) == []
            assert w.batch_errors == []          # written in one batch, not one by one
        a, b = rows(url_a), rows(url_b)
        for key in a:
            assert a[key] == b[key], (round_, key)
        if round_ == 0:
            _give_manual_scores(url_a)
            _give_manual_scores(url_b)
    # what was compared is not empty or uniform: every kind of row the writer sets is there
    grades = a["grades"]
    assert len(grades) > 20 and a["count grade"] == len(grades)
    assert 0.0 in {g[4] for g in grades} and any(g[4] and g[4] > 0 for g in grades)
    assert {g[7] for g in grades} == {True, False}
    assert {c[4] for c in a["comments"]} == {"No response.", None}
    assert any(s[2] != "None" for s in a["submissions"] if len(s) == 4)


def test_the_writer_writes_the_rows_of_save_autogrades_into_sqlite(graded, tmp_path):
    _compare(graded, f"sqlite:///{tmp_path / 'nbgrader.db'}", f"sqlite:///{tmp_path / 'writer.db'}")


def test_the_writer_writes_the_rows_of_save_autogrades_into_postgresql(graded):
    from pg_tools import Postgres
    with Postgres(durable=False) as pg:
        _compare(graded, pg.url("nbgrader"), pg.url("writer"))


def test_a_failing_batch_is_rolled_back_and_recorded_one_by_one(graded, tmp_path):
    """A submission that nbgrader cannot record (an autograded notebook with a grade cell the
    gradebook does not know) fails alone: the others are recorded as SaveAutoGrades would."""
    import nbformat

    from autograder.gradebook.writer import Writer, record
    _, out, results = graded
    url_a, url_b = f"sqlite:///{tmp_path / 'nbgrader.db'}", f"sqlite:///{tmp_path / 'writer.db'}"
    config = _fresh(url_a)
    _fresh(url_b)
    bad = next(r for r in results if r["student"] == "correct" and r["assignment"] == "00_backprop")
    name = next(iter(bad["notebooks"]))
    nb = nbformat.read(str(_path(out, bad)(name)), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    cell.metadata["nbgrader"]["grade_id"] = "not-in-the-gradebook"
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, str(broken))
    items = [(r, (lambda _n: broken) if r is bad else _path(out, r), r["timestamp"]) for r in results]
    for r, path, stamp in items:
        try:
            record(r, path, url_a, stamp, config)
        except Exception:  # noqa: BLE001 - the one nbgrader cannot record
            assert r is bad
    with Writer(url_b, config) as w:
        failed = w.write(items)
    assert [f[0] is bad for f in failed] == [True] and "not-in-the-gradebook" in failed[0][1]
    assert len(w.batch_errors) == 1 and "not-in-the-gradebook" in w.batch_errors[0]
    assert rows(url_a) == rows(url_b)


def test_the_source_is_synced_again_only_when_it_changed(tmp_path):
    """`sync_if_changed` skips nbgrader's SaveCells when the gradebook recorded this source,
    and syncs when the source changed or the gradebook lost the assignment."""
    import shutil

    import nbformat

    from autograder.course import nbgrader_config
    from autograder.gradebook.writer import open_gradebook, sync_if_changed
    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions" / "03_dropout", course / "solutions" / "03_dropout")
    url = f"sqlite:///{tmp_path / 'gb.db'}"
    config = nbgrader_config(course, url)
    assert sync_if_changed(course, "03_dropout", url, config) is True
    assert sync_if_changed(course, "03_dropout", url, config) is False

    def max_scores():
        with open_gradebook(url) as gb:
            return {c.name: c.max_score for c in gb.find_notebook("03_dropout", "03_dropout").grade_cells}
    before = max_scores()
    path = course / "solutions" / "03_dropout" / "03_dropout.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    cell.metadata["nbgrader"]["points"] = float(cell.metadata["nbgrader"]["points"]) + 1
    nbformat.write(nb, str(path))
    assert sync_if_changed(course, "03_dropout", url, config) is True
    after = max_scores()
    assert after[cell.metadata["nbgrader"]["grade_id"]] == before[cell.metadata["nbgrader"]["grade_id"]] + 1
    assert sync_if_changed(course, "03_dropout", url, config) is False
    with open_gradebook(url) as gb:
        gb.remove_assignment("03_dropout")
    assert sync_if_changed(course, "03_dropout", url, config) is True
    assert max_scores() == after


def test_nbgrader_package_deferred_keeps_every_name_of_the_package():
    """The grading parent imports nbgrader's gradebook API without the package's __init__
    (its server extensions); any name asked of the package afterwards runs that __init__,
    so the package then has the same names as when imported normally."""
    import subprocess
    import sys
    code = ("import json, sys\n"
            "from autograder.gradebook.writer import prepare\n"
            "prepare()\n"
            "import nbgrader.api, nbgrader.preprocessors\n"
            "from nbgrader import utils\n"
            "early = sorted(m for m in sys.modules if m.startswith('nbgrader.server_extensions'))\n"
            "import nbgrader\n"
            "version = nbgrader.__version__\n"
            "names = sorted(n for n in dir(nbgrader) if not n.startswith('__'))\n"
            "print(json.dumps([early, version, names, nbgrader.api.Gradebook.__module__, utils.__name__]))\n")
    normal = ("import json, nbgrader, nbgrader.api, nbgrader.preprocessors\n"
              "print(json.dumps([nbgrader.__version__, sorted(n for n in dir(nbgrader) if not n.startswith('__'))]))\n")
    run = [subprocess.run([sys.executable, "-c", c], capture_output=True, text=True, check=True, cwd=str(ROOT))
           for c in (code, normal)]
    early, version, names, gb_module, utils_name = json.loads(run[0].stdout.strip().splitlines()[-1])
    want_version, want_names = json.loads(run[1].stdout.strip().splitlines()[-1])
    assert early == [], early
    assert version == want_version and names == want_names
    assert "load_formgrader" in names and "server_extensions" in names
    assert gb_module == "nbgrader.api" and utils_name == "nbgrader.utils"


def test_nbgrader_is_imported_without_setuptools_and_its_unzip_still_works(tmp_path):
    """A grading opens the gradebook without importing setuptools (nbgrader.utils takes three
    functions of setuptools.archive_util, and setuptools' import reads every installed
    distribution's metadata); nbgrader's unzip then imports the real module and unpacks a
    real archive, and any other name of the module is the real one's."""
    import subprocess
    import sys
    import zipfile
    archive = tmp_path / "collected.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice/01_divergences/01_divergences.ipynb", '{"cells": []}')
    (tmp_path / "out").mkdir()
    code = ("import json, sys\n"
            "from autograder.gradebook.writer import prepare\n"
            "prepare()\n"
            "import nbgrader.api, nbgrader.preprocessors\n"
            "from nbgrader import utils\n"
            "before = sorted(m for m in sys.modules if m.split('.')[0] in ('setuptools', 'pkg_resources')\n"
            "                and m != 'setuptools.archive_util')\n"
            f"utils.unzip({str(archive)!r}, {str(tmp_path / 'out')!r}, zip_ext=['.zip'], create_own_folder=False)\n"
            "import setuptools.archive_util as real\n"
            "print(json.dumps([before, type(real).__name__, real.UnrecognizedFormat.__module__,\n"
            "                  'setuptools' in sys.modules]))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT))
    assert run.returncode == 0, run.stderr[-2000:]
    before, kind, error_module, imported = json.loads(run.stdout.strip().splitlines()[-1])
    assert before == [], before
    assert (tmp_path / "out" / "alice" / "01_divergences" / "01_divergences.ipynb").read_text() == '{"cells": []}'
    assert kind == "module" and error_module == "setuptools.archive_util" and imported
