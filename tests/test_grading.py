"""Grading a small class of a tiny course (built in a temp dir): exact grades, hostile
submissions, hidden tests never in feedback, workers=1 vs 2, crash safety and resume,
exit status, the gradebook, and `tnn-course check`."""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import time

import pytest
from nbformat.v4 import new_code_cell

from autograder.runners.grade import CSV_COLUMNS, grade, read_csv
from grading_tools import (CORRECT, HIDDEN_LINE, PY, ROOT, TINY, grades_by_student, make_course, released,
                           tnn_course, with_answers, write_submission)

pytestmark = pytest.mark.slow

NO_BIAS = "def linear_forward(x, W, b):\n    return x @ W, (x, W, b)\n"
# passes the visible checks, raises on the hidden case's shape: a traceback would show the hidden line
HIDDEN_ONLY = ("def linear_forward(x, W, b):\n    if x.shape[0] == 7:\n        raise ValueError('seven rows')\n"
               "    return x @ W + b, (x, W, b)\n")
NOISY = ("import sys\ndef linear_forward(x, W, b):\n    np.exp(np.full(2, 1000.0))  # overflow warning\n"
         "    print('debug', file=sys.stderr)\n    return x @ W + b, (x, W, b)\n")
P = {"test_linear_forward": 1, "test_linear_forward_2": 2, "test_relu_backward": 2}

# student -> {grade_id: (points, status, misconception)}, from what each submission breaks
EXPECTED = {
    "correct": {g: (p, "passed", "") for g, p in P.items()},
    "blank": {g: (0, "unanswered", "") for g in P},
    "nobias": {"test_linear_forward": (0, "misconception", "linear-missing-bias"),
               "test_linear_forward_2": (0, "misconception", "linear-missing-bias"),
               "test_relu_backward": (2, "passed", "")},
    "hiddenonly": {"test_linear_forward": (1, "passed", ""), "test_linear_forward_2": (0, "failed", ""),
                   "test_relu_backward": (2, "passed", "")},
    "reference": {"test_linear_forward": (0, "reference-used", ""), "test_linear_forward_2": (0, "reference-used", ""),
                  "test_relu_backward": (2, "passed", "")},
    "loop": {"test_linear_forward": (0, "timeout", ""), "test_linear_forward_2": (0, "timeout", ""),
             "test_relu_backward": (2, "passed", "")},
    "bomb": {"test_linear_forward": (1, "passed", ""), "test_linear_forward_2": (2, "passed", ""),
             "test_relu_backward": (0, "error", "")},
    "spam": {g: (p, "passed", "") for g, p in P.items()},
    "warns": {g: (p, "passed", "") for g, p in P.items()},
    "edited": {g: (p, "passed", "") for g, p in P.items()},
    "deleted": {g: (p, "passed", "") for g, p in P.items()},
    "reordered": {g: (p, "passed", "") for g, p in P.items()},
    "widget": {g: (p, "passed", "") for g, p in P.items()},
    "badjson": {g: (0, "invalid-notebook", "") for g in P},
    "notnb": {g: (0, "not-a-notebook", "") for g in P},
    "missing": {g: (0, "missing-notebook", "") for g in P},
}
NOT_GRADED = {"badjson", "notnb", "missing"}


def _ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def build_class(course, subs):
    good = with_answers(course, **CORRECT)
    write_submission(subs, "correct", good)
    write_submission(subs, "blank", released(course))
    write_submission(subs, "nobias", with_answers(course, linear_forward=NO_BIAS,
                                                  relu_backward=CORRECT["relu_backward"]))
    write_submission(subs, "hiddenonly", with_answers(course, linear_forward=HIDDEN_ONLY,
                                                      relu_backward=CORRECT["relu_backward"]))
    write_submission(subs, "reference", with_answers(
        course, linear_forward="def linear_forward(x, W, b):\n    return ref.linear_forward(x, W, b)\n",
        relu_backward=CORRECT["relu_backward"]))
    write_submission(subs, "loop", with_answers(course, linear_forward="def linear_forward(x, W, b):\n    while True:"
                                                "\n        pass\n", relu_backward=CORRECT["relu_backward"]))
    # the memory bomb defines relu_backward only after allocating: it never gets defined
    write_submission(subs, "bomb", with_answers(course, linear_forward=CORRECT["linear_forward"],
                                                relu_backward="bomb = [b'x' * 10**8 for _ in range(60)]\n" + CORRECT["relu_backward"]))
    # correct, but numpy warns and the answer prints to stderr: nbgrader would give 0 for that
    write_submission(subs, "warns", with_answers(course, linear_forward=NOISY, relu_backward=CORRECT["relu_backward"]))
    nb = copy.deepcopy(good)
    nb.cells.insert(3, new_code_cell("for i in range(100000):\n    print('spam ' * 40)"))
    write_submission(subs, "spam", nb)
    nb = copy.deepcopy(good)
    nb.cells[_ids(nb).index("test_linear_forward")].source = "pass  # trust me"
    write_submission(subs, "edited", nb)
    nb = copy.deepcopy(good)
    del nb.cells[_ids(nb).index("test_linear_forward_2")]
    write_submission(subs, "deleted", nb)
    nb = copy.deepcopy(good)
    nb.cells.append(nb.cells.pop(_ids(nb).index("relu_backward")))
    nb.cells.insert(2, new_code_cell("scratch = 1"))
    write_submission(subs, "reordered", nb)
    nb = copy.deepcopy(good)
    nb.cells.insert(2, new_code_cell("import ipywidgets as w\nw.interact(lambda k: k, k=(0, 10))"))
    write_submission(subs, "widget", nb)
    write_submission(subs, "badjson", '{"cells": [{"cell_type": "code", "source": "x = 1"')
    write_submission(subs, "notnb", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (subs / "missing" / TINY).mkdir(parents=True)
    (subs / "missing" / TINY / "answers.py").write_text("print('I used a script')\n")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    course = make_course(base)
    subs = base / "submitted"
    build_class(course, subs)
    summary = grade(subs, workers=2, timeout=8, output=base / "out2", root=course, memory_mb=2048, progress=False)
    return {"base": base, "course": course, "subs": subs, "summary": summary, "out": base / "out2"}


def test_grades_csv_has_the_spec_columns(tiny):
    with open(tiny["out"] / "grades.csv", encoding="utf-8") as f:
        assert f.readline().strip() == ",".join(CSV_COLUMNS)


def test_each_student_gets_exactly_the_expected_grades(tiny):
    got = grades_by_student(tiny["out"] / "grades.csv")
    assert set(got) == set(EXPECTED)
    for student, cells in EXPECTED.items():
        rows = {r["grade_id"]: (float(r["points"]), r["status"], r["misconception"]) for r in got[student]}
        want = {g: (float(p), s, m) for g, (p, s, m) in cells.items()}
        assert rows == want, f"{student}: {rows} != {want}"


def test_exit_status_and_not_graded_list(tiny):
    s = tiny["summary"]
    assert {st for st, _, _ in s.not_graded} == NOT_GRADED
    assert s.exit_status == 1


def test_feedback_for_every_student_names_misconception_and_reasons(tiny):
    fb = tiny["out"] / "feedback"
    for student in EXPECTED:
        assert (fb / student / f"{TINY}.html").is_file(), student
    nobias = (fb / "nobias" / f"{TINY}.html").read_text()
    from autograder.catalogue import find_misconception
    m = find_misconception("linear-missing-bias")
    import html
    assert html.escape(m.title, quote=True) in nobias and html.escape(m.hint, quote=True) in nobias
    assert "uses the tnn_lib reference" in (fb / "reference" / f"{TINY}.html").read_text()
    assert "did not finish within 8 s" in (fb / "loop" / f"{TINY}.html").read_text()
    assert "MemoryError" in (fb / "bomb" / f"{TINY}.html").read_text()
    assert "was edited; the original was restored" in (fb / "edited" / f"{TINY}.html").read_text()
    assert "was missing from your notebook" in (fb / "deleted" / f"{TINY}.html").read_text()
    assert "output was cut" in (fb / "spam" / f"{TINY}.html").read_text()
    assert "not valid notebook JSON" in (fb / "badjson" / f"{TINY}.html").read_text()
    assert "seven rows" in (fb / "hiddenonly" / f"{TINY}.html").read_text()


def test_hidden_tests_never_reach_feedback(tiny):
    secret = HIDDEN_LINE.split("#")[0].strip()
    for path in (tiny["out"] / "feedback").rglob("*.html"):
        text = path.read_text()
        assert "SECRET-HIDDEN-LINE" not in text and "424242" not in text and "seed=77" not in text, path
        assert secret not in text and "Traceback" not in text and "BEGIN HIDDEN" not in text, path
    # ... though grading ran them: the hidden-only failure is caught
    assert "hidden tests run here" in (tiny["out"] / "feedback" / "correct" / f"{TINY}.html").read_text()


def test_report_has_embedded_plots(tiny):
    text = (tiny["out"] / "report.html").read_text()
    assert text.count("data:image/svg+xml;base64,") == 3 and "data:image/png" not in text
    assert "linear-missing-bias" in text


def test_grade_writes_the_similarity_report_linked_from_the_class_report(tiny):
    from autograder.similarity.report import CSV_COLUMNS as SIM_COLUMNS
    out = tiny["out"]
    assert "href='similarity.html'" in (out / "report.html").read_text()
    assert "Similar answers" in (out / "similarity.html").read_text()
    with open(out / "similarity.csv", encoding="utf-8") as f:
        assert f.readline().strip() == ",".join(SIM_COLUMNS)


def test_gradebook_holds_the_same_scores(tiny):
    from nbgrader.api import Gradebook
    rows = read_csv(tiny["out"] / "grades.csv")
    with Gradebook(f"sqlite:///{tiny['course'] / 'gradebook.db'}") as gb:
        for student in EXPECTED:
            want = sum(float(r["points"]) for r in rows if r["student"] == student)
            assert gb.find_submission(TINY, student).score == pytest.approx(want), student


def test_one_worker_gives_identical_results(tiny):
    out1 = tiny["base"] / "out1"
    s1 = grade(tiny["subs"], workers=1, timeout=8, output=out1, root=tiny["course"], memory_mb=2048, progress=False)
    assert (out1 / "grades.csv").read_text() == (tiny["out"] / "grades.csv").read_text()
    for student in EXPECTED:
        a = (out1 / "results" / student / f"{TINY}.json").read_text()
        b = (tiny["out"] / "results" / student / f"{TINY}.json").read_text()
        assert a == b, student
        assert (out1 / "feedback" / student / f"{TINY}.html").read_text() == \
            (tiny["out"] / "feedback" / student / f"{TINY}.html").read_text(), student
    assert s1.not_graded == tiny["summary"].not_graded


def test_grading_again_reuses_results_and_changes_nothing(tiny):
    before = {p: p.stat().st_mtime_ns for p in (tiny["out"] / "results").rglob("*.json")}
    csv = (tiny["out"] / "grades.csv").read_text()
    grade(tiny["subs"], workers=2, timeout=8, output=tiny["out"], root=tiny["course"], memory_mb=2048, progress=False)
    assert (tiny["out"] / "grades.csv").read_text() == csv
    after = {p: p.stat().st_mtime_ns for p in (tiny["out"] / "results").rglob("*.json")}
    graded = {p.parent.name for p in before if EXPECTED.get(p.parent.name) and p.parent.name not in NOT_GRADED}
    assert all(before[p] == after[p] for p in before if p.parent.name in graded), "graded results were redone"


def _grade_with_a_parent_killer(tmp_path, tiny):
    """Grade 'correct', 'nobias' and a correct notebook whose last cell kills its parent."""
    subs = tmp_path / "submitted"
    for student in ("correct", "nobias"):
        (subs / student).mkdir(parents=True)
        os.symlink(tiny["subs"] / student / TINY, subs / student / TINY)
    nb = with_answers(tiny["course"], **CORRECT)
    nb.cells.append(new_code_cell("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"))
    write_submission(subs, "killer", nb)
    s = grade(subs, workers=1, timeout=8, output=tmp_path / "out", root=tiny["course"], memory_mb=2048,
              progress=False)
    rows = grades_by_student(tmp_path / "out" / "grades.csv")
    return s, rows


def test_a_submission_that_kills_its_parent_reaches_only_its_sandbox(tmp_path, tiny):
    """In the sandbox the parent of the student's process is the warm sandbox, never the
    grading worker: killing it costs that process, which is restarted, and nothing else."""
    from autograder.sandbox.launch import bwrap_works
    assert bwrap_works(), "bubblewrap must work here (the README's commands and .ci/run install it)"
    s, rows = _grade_with_a_parent_killer(tmp_path, tiny)
    for student in ("correct", "nobias", "killer"):
        want = EXPECTED["correct" if student == "killer" else student]
        assert [(r["points"], r["status"]) for r in rows[student]] == [(f"{want[g][0]:g}", want[g][1]) for g in P]
    assert s.exit_status == 0 and not s.not_graded


def test_a_worker_killed_by_a_submission_loses_nothing_else(tmp_path, tiny, monkeypatch):
    # without the sandbox the student's process is the worker's child, and can kill it
    monkeypatch.setenv("TNN_SANDBOX", "off")
    s, rows = _grade_with_a_parent_killer(tmp_path, tiny)
    assert {r["status"] for r in rows["killer"]} == {"grader-error"}
    for student in ("correct", "nobias"):
        assert [(r["points"], r["status"]) for r in rows[student]] == \
            [(f"{EXPECTED[student][g][0]:g}", EXPECTED[student][g][1]) for g in P]
    assert s.exit_status == 1 and [x[0] for x in s.not_graded] == ["killer"]
    # without bubblewrap, grading says so: in each result, feedback page and the class report
    kept = json.loads((tmp_path / "out" / "results" / "correct" / f"{TINY}.json").read_text())
    nbres = next(iter(kept["notebooks"].values()))
    assert nbres["isolated"] is False and any("bubblewrap" in n for n in nbres["notes"])
    assert "bubblewrap" in (tmp_path / "out" / "feedback" / "correct" / f"{TINY}.html").read_text()
    assert "isolation was off" in (tmp_path / "out" / "report.html").read_text()


def test_a_killed_run_resumes_with_identical_results(tmp_path, tiny):
    out = tmp_path / "out"
    kinds = ["correct", "nobias", "hiddenonly", "reference", "blank", "edited"]
    # three of each kind: a class long enough to be killed part way (results are written in
    # batches, and a tiny submission grades in a fraction of a second)
    students = [f"{st}{i}" for i in range(3) for st in kinds]
    subs = tmp_path / "submitted"
    for st in students:
        (subs / st).mkdir(parents=True)
        os.symlink(tiny["subs"] / st[:-1] / TINY, subs / st / TINY)
    cmd = [PY, "-m", "autograder.cli.main", "grade", subs, "--course-dir", tiny["course"], "--output", out,
           "--workers", "1", "--timeout", "8", "--memory-mb", "2048", "-q"]
    proc = subprocess.Popen([str(c) for c in cmd], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    deadline = time.time() + 240
    while time.time() < deadline and len(list((out / "results").rglob("*.json"))) < 2:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = list((out / "results").rglob("*.json"))
    assert 2 <= len(done) < len(students), "the run was not interrupted in the middle"
    kept = {p: p.read_text() for p in done}
    r = tnn_course("grade", subs, "--course-dir", tiny["course"], "--output", out, "--workers", "2",
                   "--timeout", "8", "--memory-mb", "2048", "-q")
    assert r.returncode == 0, r.stderr
    assert all(p.read_text() == text for p, text in kept.items()), "results graded before the kill changed"
    got = grades_by_student(out / "grades.csv")
    full = grades_by_student(tiny["out"] / "grades.csv")
    assert got == {st: [dict(row, student=st) for row in full[st[:-1]]] for st in students}


def test_flat_folder_needs_assignment_and_grades_with_it(tmp_path, tiny):
    flat = tmp_path / "flat"
    write_submission(flat, "ann", with_answers(tiny["course"], **CORRECT), layout="flat")
    write_submission(flat, "ben", released(tiny["course"]), layout="flat")
    r = tnn_course("grade", flat, "--course-dir", tiny["course"], "--output", tmp_path / "o")
    assert r.returncode == 2 and "--assignment" in r.stderr
    r = tnn_course("grade", flat, "--assignment", TINY, "--course-dir", tiny["course"], "--output", tmp_path / "o",
                   "--workers", "2", "-q")
    assert r.returncode == 0, r.stderr
    rows = grades_by_student(tmp_path / "o" / "grades.csv")
    assert [r["points"] for r in rows["ann"]] == ["1", "2", "2"] and [r["points"] for r in rows["ben"]] == ["0"] * 3
    assert (tmp_path / "o" / "feedback" / "ann" / f"{TINY}.html").is_file()


@pytest.mark.parametrize("args,needle", [
    (["grade", "{missing}"], "no such folder"),
    (["grade", "{subs}", "--assignment", "nope"], "unknown assignment"),
    (["grade", "{subs}", "--workers", "0"], "--workers"),
    (["grade", "{subs}", "--timeout", "-3"], "--timeout"),
    (["grade", "{subs}", "--workers", "two"], "--workers"),
    (["check", "{missing}"], "no such notebook"),
])
def test_bad_command_lines_exit_2_with_a_message(tiny, tmp_path, args, needle):
    args = [a.format(missing=tmp_path / "nothing-here", subs=tiny["subs"]) for a in args]
    r = tnn_course(*args, "--course-dir", tiny["course"]) if args[0] == "grade" else tnn_course(*args)
    assert r.returncode == 2 and needle in r.stderr, r.stderr


def test_check_passes_a_correct_notebook(tiny):
    r = tnn_course("check", tiny["subs"] / "correct" / TINY / f"{TINY}.ipynb")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS  test_linear_forward (1/1)" in r.stdout and "3 of 3 visible test cells pass" in r.stdout


def test_check_names_the_misconception_like_grading(tiny):
    r = tnn_course("check", tiny["subs"] / "nobias" / TINY / f"{TINY}.ipynb")
    assert r.returncode == 1
    from autograder.catalogue import find_misconception
    m = find_misconception("linear-missing-bias")
    assert "FAIL  test_linear_forward (0/1)  [misconception]" in r.stdout
    assert m.title in r.stdout and m.hint in r.stdout
    block = r.stdout.split("FAIL  test_linear_forward (0/1)")[1].split("\nFAIL")[0].split("\nPASS")[0]
    assert block.count(m.hint) == 1 and block.count(m.title) == 1, r.stdout  # said once per test cell
    assert "TNN-MISCONCEPTION" not in r.stdout, r.stdout  # the machine-readable tag is grading's
    result = json.loads((tiny["out"] / "results" / "nobias" / f"{TINY}.json").read_text())
    message = result["notebooks"][TINY]["cells"][0]["message"]
    rest = [ln for ln in message.splitlines() if m.title not in ln and m.hint not in ln]
    assert rest and all(ln in r.stdout for ln in rest), (rest, r.stdout)   # the rest as grading says it


def _leftovers() -> set:
    import glob
    found = set(glob.glob("/tmp/tnn-worker-*")) | set(glob.glob("/tmp/tnn-scratch-*"))
    found |= set(glob.glob("/sys/fs/cgroup/*/tnn-sandbox-*")) | set(glob.glob("/sys/fs/cgroup/*/*/*/tnn-sandbox-*"))
    return found


def test_a_worker_kept_busy_past_its_budget_is_replaced_and_leaves_nothing(tmp_path, tiny):
    """The watchdog: a submission that keeps its worker busy beyond the worker's budget (here
    a cell that sleeps within the cell limit, with a budget shorter than it) costs that
    worker; its task is retried once, then reported; the sandboxes, scratch folders and
    cgroups of the killed workers are cleaned up."""
    before = _leftovers()
    subs = tmp_path / "submitted"
    (subs / "correct").mkdir(parents=True)
    os.symlink(tiny["subs"] / "correct" / TINY, subs / "correct" / TINY)
    nb = with_answers(tiny["course"], **CORRECT)
    nb.cells.insert(1, new_code_cell("import time\ntime.sleep(40)"))
    write_submission(subs, "sleeper", nb)
    # the budget leaves a loaded machine room to grade the correct submission within it
    s = grade(subs, workers=1, timeout=50, output=tmp_path / "out", root=tiny["course"], memory_mb=2048,
              progress=False, worker_budget=12)
    rows = grades_by_student(tmp_path / "out" / "grades.csv")
    assert {r["status"] for r in rows["sleeper"]} == {"grader-error"}
    assert [(r["points"], r["status"]) for r in rows["correct"]] == \
        [(f"{EXPECTED['correct'][g][0]:g}", EXPECTED["correct"][g][1]) for g in P]
    assert [x[0] for x in s.not_graded] == ["sleeper"]
    assert _leftovers() <= before


def test_a_workers_first_message_names_the_answer_cells_of_its_first_notebook():
    """The head start a worker gets (its sandbox is built for these answers before nbgrader
    is imported) is read as plain JSON; it must be the layout's own list, read with
    nbformat and nbgrader, for every assignment."""
    from pathlib import Path

    from autograder.course import course_root, source_notebooks
    from autograder.runners.grade import _first_answers, layout_of
    root = course_root(None)
    aids = sorted(p.name for p in (root / "solutions").iterdir() if p.is_dir() and source_notebooks(root, p.name))
    assert len(aids) >= 9
    for aid in aids:
        expected = layout_of(source_notebooks(root, aid)[0]).answers
        assert expected and _first_answers(root, aid) == expected, aid
    assert _first_answers(Path(root), "no_such_assignment") == []
