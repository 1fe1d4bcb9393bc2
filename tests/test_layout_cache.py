"""The cache of the source's layouts (``autograder.runners.grade.source_layouts``): what it
returns is what nbgrader's ``ClearHiddenTests`` and the grader make from the source now, for
every assignment; a changed source is never served an old layout; a damaged cache entry is
made again; and a cache that cannot be written only costs time."""
from __future__ import annotations

import json
import shutil

import nbformat
import pytest

from autograder.course import course_root, source_notebooks
from autograder.runners.grade import layout_of, source_layouts

ROOT = course_root(None)
AIDS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and source_notebooks(ROOT, p.name))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TNN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _plain(layouts: dict) -> dict:
    """Layouts as the JSON a worker receives (tuples become lists)."""
    return json.loads(json.dumps({k: v.to_json() for k, v in layouts.items()}, sort_keys=True))


def _fresh(root, aid):
    return _plain({p.stem: layout_of(p) for p in source_notebooks(root, aid)})


def test_cached_layouts_are_those_made_from_the_source(cache):
    assert len(AIDS) >= 9
    for aid in AIDS:
        first = source_layouts(ROOT, aid)
        again = source_layouts(ROOT, aid)   # from the cache
        assert first == again == {p.stem: layout_of(p) for p in source_notebooks(ROOT, aid)}, aid
        assert _plain(again) == _fresh(ROOT, aid), aid
    assert len(list(cache.glob("layouts-*.json"))) == len(AIDS)


def test_a_changed_source_gets_its_own_layouts(cache, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions" / "03_dropout", course / "solutions" / "03_dropout")
    before = source_layouts(course, "03_dropout")["03_dropout"]
    path = source_notebooks(course, "03_dropout")[0]
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    cell.metadata["nbgrader"]["points"] = float(cell.metadata["nbgrader"]["points"]) + 1
    nbformat.write(nb, str(path))
    after = source_layouts(course, "03_dropout")["03_dropout"]
    gid = cell.metadata["nbgrader"]["grade_id"]
    assert dict(after.tests)[gid] == dict(before.tests)[gid] + 1
    assert _plain({"n": after})["n"] == _fresh(course, "03_dropout")["03_dropout"]
    assert len(list(cache.glob("layouts-03_dropout-*.json"))) == 2


@pytest.mark.parametrize("damage", ["", "{not json", "[]", '{"03_dropout": 7}', '{"other": {}}'])
def test_a_damaged_entry_is_made_again(cache, damage):
    source_layouts(ROOT, "03_dropout")
    (entry,) = cache.glob("layouts-03_dropout-*.json")
    entry.write_text(damage)
    got = _plain(source_layouts(ROOT, "03_dropout"))
    assert got == _fresh(ROOT, "03_dropout")
    assert json.loads(entry.read_text()) == got   # and written again


def test_an_unwritable_cache_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TNN_CACHE_DIR", str(blocker / "cache"))
    assert _plain(source_layouts(ROOT, "03_dropout")) == _fresh(ROOT, "03_dropout")
