"""The tampering submissions of the example class (``hostile-tamper-*``, written by
tests/fixtures/example_class/build.py), graded with the whole class after an honest student,
into the same output folder and gradebook (the session's one grading of the example class:
``example_class_run`` of conftest.py), and checked:

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
import sysconfig
from pathlib import Path

import pytest

from conftest import HONEST_AID, HONEST_FIRST, HONEST_SOURCE
from grading_tools import ROOT
from hostile_tools import MARK, gradebook_scores

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]  # alone, it waits for the session's grading of the class

EXAMPLES = ROOT / "tests" / "fixtures" / "example_class"
EXPECTED = json.loads((EXAMPLES / "expected.json").read_text())["students"] if (EXAMPLES / "expected.json").exists() \
    else {}
TAMPER = sorted(s for s in EXPECTED if s.startswith("hostile-tamper-"))


@pytest.fixture(scope="module")
def graded(example_class_run):
    if not TAMPER:
        pytest.skip("no tampering submissions: run tests/fixtures/example_class/build.py")
    run = dict(example_class_run)
    run["tamper_results"] = [r for r in run["summary"].results if r["student"] in TAMPER]
    return run


def test_the_corpus_is_there():
    assert len(TAMPER) >= 30, TAMPER
    aids = {aid for s in TAMPER for aid in EXPECTED[s]}
    assert {"00_backprop", "01_divergences", "05_optimizers", "06_regularization", "07_training"} <= aids


def test_the_honest_student_is_graded_as_expected(graded):
    result = json.loads(graded["honest"]["text"])
    rows = {c["grade_id"]: (c["points"], c["status"], c["misconception"]) for c in result["notebooks"][HONEST_AID]["cells"]}
    want = {g: (e["points"], e["status"], e["misconception"]) for g, e in EXPECTED[HONEST_SOURCE][HONEST_AID].items()}
    assert rows == want
    assert graded["honest"]["scores"]["score"] == graded["honest"]["scores"]["max_score"] > 0


def test_every_tampering_notebook_is_graded(graded):
    results = {(r["student"], r["assignment"]): r for r in graded["tamper_results"]}
    assert set(results) == {(s, aid) for s in TAMPER for aid in EXPECTED[s]}
    bad = {f"{s}/{aid}/{name}": (nb["state"], nb.get("message", "")) for (s, aid), r in results.items()
           for name, nb in r["notebooks"].items() if nb["state"] != "graded"}
    assert not bad, bad
    assert not [n for n in graded["summary"].not_graded if n[0] in TAMPER]


def test_tampering_earns_exactly_the_honest_work(graded):
    problems = []
    for r in graded["tamper_results"]:
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
        for r in graded["tamper_results"]:
            sub = gb.find_submission(r["assignment"], r["student"])
            want = sum(e["points"] for e in EXPECTED[r["student"]][r["assignment"]].values())
            assert sub.score == pytest.approx(want), (r["student"], r["assignment"], sub.score, want)


def test_the_honest_student_is_untouched(graded):
    assert graded["honest_file"].read_text() == graded["honest"]["text"]
    assert gradebook_scores(graded["db_url"], HONEST_FIRST, HONEST_AID) == graded["honest"]["scores"]


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
