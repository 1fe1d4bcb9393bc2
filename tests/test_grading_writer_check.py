"""The writer compares each batch with the gradebook as soon as it wrote it (in its own
gradebook session, while the workers grade the rest), and the end of the run reads again only
what the writer did not compare: a result the gradebook does not agree with is recorded
again either way."""
from __future__ import annotations

from autograder.gradebook import writer as gradebook_writer
from autograder.gradebook.writer import Writer, check
from autograder.runners import grade
from grading_tools import CORRECT, TINY, make_course, with_answers, write_submission


def _reads_at_the_end(monkeypatch) -> list:
    """The students whose results the end of the run reads back from the gradebook, per read."""
    reads: list = []

    def spy(results, db_url):
        reads.append(sorted(r["student"] for r in results))
        return check(results, db_url)

    monkeypatch.setattr(grade, "check", spy)
    return reads


def test_what_the_writer_wrote_wrong_is_found_by_its_own_check_and_recorded_again(tmp_path, monkeypatch):
    course = make_course(tmp_path)
    subs = tmp_path / "submitted"
    for student in ("ann", "ben"):
        write_submission(subs, student, with_answers(course, **CORRECT))
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"

    real = Writer._write_batch

    def wrong_for_ben(self, items):   # a writer's bug: ben's first score half a point too high
        real(self, items)
        if any(r["student"] == "ben" for r, _, _ in items):
            snb = self.gb.find_submission_notebook(TINY, TINY, "ben")
            first = sorted(snb.grades, key=lambda g: g.name)[0]
            first.auto_score = float(first.auto_score or 0) + 0.5
            self.gb.db.commit()

    monkeypatch.setattr(Writer, "_write_batch", wrong_for_ben)
    read_at_the_end = _reads_at_the_end(monkeypatch)
    summary = grade.grade(subs, assignment=TINY, workers=1, timeout=20, output=tmp_path / "out", db_url=db,
                          root=course, progress=False, log=lambda m: None)
    assert read_at_the_end == []                    # everything was compared by the writer already
    assert [(s, a) for s, a, _ in summary.repaired] == [("ben", TINY)], summary.repaired
    assert "points in the gradebook" in summary.repaired[0][2]
    assert summary.not_recorded == () and summary.exit_status == 0
    assert gradebook_writer.check(summary.results, db) == {}     # the gradebook agrees now


def test_results_kept_from_an_earlier_run_are_compared_at_the_end(tmp_path, monkeypatch):
    course = make_course(tmp_path)
    subs = tmp_path / "submitted"
    write_submission(subs, "ann", with_answers(course, **CORRECT))
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    args = dict(assignment=TINY, workers=1, timeout=20, output=tmp_path / "out", db_url=db, root=course,
                progress=False, log=lambda m: None)
    grade.grade(subs, **args)
    write_submission(subs, "ben", with_answers(course, **CORRECT))
    read_at_the_end = _reads_at_the_end(monkeypatch)
    summary = grade.grade(subs, **args)
    assert summary.graded_now == 1 and summary.exit_status == 0
    assert read_at_the_end == [["ann"]]             # ann's result was kept, ben's compared by the writer
