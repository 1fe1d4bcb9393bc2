"""A PostgreSQL gradebook (`--db postgresql://…`): a real server (Debian's postgresql, a
throwaway cluster made by initdb, run as an unprivileged user), `tnn-course release` and
`tnn-course grade` into it, and nbgrader's own `export` and formgrader API reading it give
the same scores as the SQLite gradebook of the same class."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grading_tools import ROOT, tnn_course
from pg_tools import Postgres

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "tests" / "fixtures" / "example_class" / "submitted"
# every kind of outcome, in three assignments, the broken files included
PAIRS = [(s, a) for a in ("00_backprop", "02_batchnorm", "05_optimizers")
         for s in ("correct", "blank", "partial", "uses-reference")] + \
    [("hostile-edited-test", "00_backprop"), ("hostile-deleted-test", "00_backprop"),
     ("hostile-invalid-json", "00_backprop"), ("hostile-missing", "00_backprop")]


@pytest.fixture(scope="module")
def pg():
    with Postgres(durable=False) as server:
        yield server


@pytest.fixture(scope="module")
def graded(pg, tmp_path_factory):
    base = tmp_path_factory.mktemp("pg")
    subs = base / "submitted"
    for s, a in PAIRS:
        (subs / s).mkdir(parents=True, exist_ok=True)
        os.symlink(EXAMPLES / s / a, subs / s / a)
    urls = {"sqlite": f"sqlite:///{base / 'gradebook.db'}", "postgresql": pg.url("gradebook")}
    for kind, url in urls.items():
        r = tnn_course("grade", subs, "--db", url, "--output", base / f"out-{kind}", "--workers", "2",
                       "--timeout", "10", "-q", timeout=900)
        assert r.returncode == 1, r.stderr     # the invalid and the missing notebook are not graded
    return base, urls


def export(url: str, dest: Path) -> list[dict]:
    r = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "export", f"--db={url}", f"--to={dest}"],
                       cwd=dest.parent, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    with open(dest, newline="") as f:
        return sorted(({k: row[k] for k in ("assignment", "student_id", "raw_score", "score", "max_score")}
                       for row in csv.DictReader(f)), key=lambda d: (d["assignment"], d["student_id"]))


def test_nbgrader_export_gives_the_same_scores_from_postgresql_as_from_sqlite(graded):
    base, urls = graded
    rows = {kind: export(url, base / f"export-{kind}.csv") for kind, url in urls.items()}
    # nbgrader exports every student for every assignment (0 where nothing was submitted)
    students, aids = {st for st, _ in PAIRS}, {a for _, a in PAIRS}
    assert sorted((r["assignment"], r["student_id"]) for r in rows["postgresql"]) == \
        sorted((a, st) for a in aids for st in students)
    assert rows["postgresql"] == rows["sqlite"]
    # and they are grades.csv's sums
    sums: dict = {}
    with open(base / "out-postgresql" / "grades.csv", newline="") as f:
        for r in csv.DictReader(f):
            sums[(r["assignment"], r["student"])] = sums.get((r["assignment"], r["student"]), 0.0) + float(r["points"])
    exported = {(r["assignment"], r["student_id"]): float(r["score"]) for r in rows["postgresql"]}
    assert {k: v for k, v in exported.items() if k[::-1] in PAIRS} == sums
    assert all(v == 0 for k, v in exported.items() if k[::-1] not in PAIRS)
    assert any(v > 0 for v in sums.values()) and any(v == 0 for v in sums.values())


def test_formgrader_reads_the_postgresql_gradebook(graded):
    """The formgrader's own API (what its pages show) over the PostgreSQL gradebook."""
    from nbgrader.apps.api import NbGraderAPI

    from autograder.course import nbgrader_config
    base, urls = graded
    seen = {}
    for kind, url in urls.items():
        api = NbGraderAPI(config=nbgrader_config(ROOT, url))
        seen[kind] = {(sub["student"], a): (sub["score"], sub["max_score"], sub["autograded"])
                      for a in ("00_backprop", "02_batchnorm", "05_optimizers") for sub in api.get_submissions(a)}
    assert seen["postgresql"] == seen["sqlite"] and len(seen["postgresql"]) == len(PAIRS)
    assert seen["postgresql"][("correct", "02_batchnorm")][0] == seen["postgresql"][("correct", "02_batchnorm")][1]


def test_release_records_the_source_cells_in_postgresql(pg, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions" / "03_dropout", course / "solutions" / "03_dropout")
    url = pg.url("release")
    r = tnn_course("release", "03_dropout", "--course-dir", course, "--db", url)
    assert r.returncode == 0, r.stderr
    released = course / "notebooks" / "03_dropout" / "03_dropout.ipynb"
    assert released.read_bytes() == (ROOT / "notebooks" / "03_dropout" / "03_dropout.ipynb").read_bytes()
    import nbformat
    from nbgrader.api import Gradebook

    from autograder.outcomes.cells import is_test_cell, nbgrader_meta
    src = nbformat.read(str(course / "solutions" / "03_dropout" / "03_dropout.ipynb"), as_version=4)
    tests = {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"]) for c in src.cells if is_test_cell(c)}
    with Gradebook(url) as gb:
        nb = gb.find_notebook("03_dropout", "03_dropout")
        assert {c.name: c.max_score for c in nb.grade_cells} == tests
        assert all(c.checksum for c in nb.source_cells)
