"""Grade the tampering submissions of the example class (``hostile-tamper-*``, written by
tests/fixtures/example_class/build.py) after an honest student, into the same output folder and
gradebook, and check that

* every test cell of every tampering submission gets exactly the points, status and
  misconception of tests/fixtures/example_class/expected.json: the points of the honest work it
  contains, nothing for the trick;
* every tampering notebook is graded (no grader-error);
* the honest student's result file and gradebook scores are untouched;
* nothing is left behind: no file named ``tnn-pwned-*`` under /tmp or the course directory,
  no new file in the course directory, no process ``sleep 98765x`` a second after grading.

The tricks mark whatever they try to leave behind with those names (see build.py's
``tampering``).
"""
from __future__ import annotations

import json
import os
import sysconfig
import time
from pathlib import Path

import pytest

from autograder.runners.grade import grade
from grading_tools import ROOT

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "tests" / "fixtures" / "example_class"
EXPECTED = json.loads((EXAMPLES / "expected.json").read_text())["students"] if (EXAMPLES / "expected.json").exists() \
    else {}
TAMPER = sorted(s for s in EXPECTED if s.startswith("hostile-tamper-"))
HONEST, HONEST_AID = "correct", "00_backprop"
MARK, PROCESS_MARK = "tnn-pwned-", b"98765"
SKIP_IN_ROOT = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis",
                "test-artifacts"}   # the browser tests' screenshots (gitignored), should they run meanwhile


def root_listing() -> set[str]:
    out = set()
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_IN_ROOT]
        rel = Path(top).relative_to(ROOT)
        out.update(str(rel / name) for name in dirs + files)
    return out


def marked_paths(top: Path, skip=()) -> list[str]:
    found = []
    for here, dirs, files in os.walk(top, onerror=lambda err: None):
        dirs[:] = [d for d in dirs if d not in skip]
        found += [os.path.join(here, n) for n in dirs + files if n.startswith(MARK)]
    return found


def marked_processes() -> dict[int, str]:
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if PROCESS_MARK in cmd:
            out[int(entry)] = cmd.replace(b"\0", b" ").decode(errors="replace").strip()
    return out


def gradebook_scores(db_url: str, student: str, aid: str) -> dict:
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        sub = gb.find_submission(aid, student)
        scores = {"score": sub.score, "max_score": sub.max_score}
        for nb in sub.notebooks:
            for g in nb.grades:
                scores[f"{nb.name}/{g.name}"] = (g.auto_score, g.manual_score, g.extra_credit, g.score, g.max_score,
                                                  g.needs_manual_grade)
    return scores


def link(subs: Path, student: str, aid: str) -> None:
    (subs / student).mkdir(parents=True, exist_ok=True)
    os.symlink(EXAMPLES / "submitted" / student / aid, subs / student / aid)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if not TAMPER:
        pytest.skip("no tampering submissions: run tests/fixtures/example_class/build.py")
    base = tmp_path_factory.mktemp("hostile")
    out, db_url = base / "out", f"sqlite:///{base / 'gradebook.db'}"
    honest_subs = base / "honest"
    link(honest_subs, HONEST, HONEST_AID)
    first = grade(honest_subs, workers=1, timeout=10, output=out, db_url=db_url, root=ROOT, progress=False)
    honest_file = out / "results" / HONEST / f"{HONEST_AID}.json"
    honest = {"summary": first, "text": honest_file.read_text(), "scores": gradebook_scores(db_url, HONEST, HONEST_AID)}

    before = {"root": root_listing(), "processes": marked_processes(),
              "marked": set(marked_paths(Path("/tmp")) + marked_paths(ROOT, SKIP_IN_ROOT))}
    subs = base / "tampering"
    for student in TAMPER:
        for aid in EXPECTED[student]:
            link(subs, student, aid)
    t0 = time.perf_counter()
    summary = grade(subs, workers=2, timeout=10, output=out, db_url=db_url, root=ROOT, progress=False)
    seconds = time.perf_counter() - t0
    time.sleep(1)
    after = {"root": root_listing(), "processes": marked_processes(),
             "marked": set(marked_paths(Path("/tmp")) + marked_paths(ROOT, SKIP_IN_ROOT))}
    return {"summary": summary, "out": out, "db_url": db_url, "honest": honest, "honest_file": honest_file,
            "before": before, "after": after, "seconds": seconds}


def test_the_corpus_is_there():
    assert len(TAMPER) >= 30, TAMPER
    aids = {aid for s in TAMPER for aid in EXPECTED[s]}
    assert {"00_backprop", "01_divergences", "05_optimizers", "06_regularization", "07_training"} <= aids


def test_the_honest_student_is_graded_as_expected(graded):
    result = json.loads(graded["honest"]["text"])
    rows = {c["grade_id"]: (c["points"], c["status"], c["misconception"]) for c in result["notebooks"][HONEST_AID]["cells"]}
    want = {g: (e["points"], e["status"], e["misconception"]) for g, e in EXPECTED[HONEST][HONEST_AID].items()}
    assert rows == want
    assert graded["honest"]["scores"]["score"] == graded["honest"]["scores"]["max_score"] > 0


def test_every_tampering_notebook_is_graded(graded):
    results = {(r["student"], r["assignment"]): r for r in graded["summary"].results}
    assert set(results) == {(s, aid) for s in TAMPER for aid in EXPECTED[s]}
    bad = {f"{s}/{aid}/{name}": (nb["state"], nb.get("message", "")) for (s, aid), r in results.items()
           for name, nb in r["notebooks"].items() if nb["state"] != "graded"}
    assert not bad, bad
    assert not graded["summary"].not_graded


def test_tampering_earns_exactly_the_honest_work(graded):
    problems = []
    for r in graded["summary"].results:
        want = EXPECTED[r["student"]][r["assignment"]]
        for name, nb in r["notebooks"].items():
            got = {c["grade_id"]: (c["points"], c["status"], c["misconception"]) for c in nb["cells"]}
            exp = {g: (e["points"], e["status"], e["misconception"]) for g, e in want.items()}
            if got != exp:
                diff = {g: (got.get(g), exp[g]) for g in exp if got.get(g) != exp[g]}
                msgs = {c["grade_id"]: c["message"][:200] for c in nb["cells"] if c["grade_id"] in diff}
                problems.append(f"{r['student']}/{r['assignment']}: {diff} {msgs}")
    assert not problems, "\n".join(problems)
    # the result files and the gradebook say the same
    from nbgrader.api import Gradebook
    with Gradebook(graded["db_url"]) as gb:
        for r in graded["summary"].results:
            sub = gb.find_submission(r["assignment"], r["student"])
            want = sum(e["points"] for e in EXPECTED[r["student"]][r["assignment"]].values())
            assert sub.score == pytest.approx(want), (r["student"], r["assignment"], sub.score, want)


def test_the_honest_student_is_untouched(graded):
    assert graded["honest_file"].read_text() == graded["honest"]["text"]
    assert gradebook_scores(graded["db_url"], HONEST, HONEST_AID) == graded["honest"]["scores"]


def test_nothing_is_left_behind(graded):
    before, after = graded["before"], graded["after"]
    left = sorted(after["marked"] - before["marked"])
    assert not left, f"files left by the tricks: {left}"
    purelib = Path(sysconfig.get_paths()["purelib"])
    assert not list(purelib.glob(f"{MARK}*")), "a file written into the environment's site-packages"
    new = sorted(after["root"] - before["root"])
    assert not new, f"new files in the course directory: {new}"
    alive = {pid: cmd for pid, cmd in after["processes"].items() if pid not in before["processes"]}
    assert not alive, f"processes that outlived grading: {alive}"
