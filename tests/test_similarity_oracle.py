"""The faster similarity module flags exactly what the module before issue 27 flagged.

``fixtures/similarity_old/fingerprints_before_issue27.py`` is ``autograder/similarity/fingerprints.py``
as it was before the speed-ups (kept verbatim as the oracle; ``_variant_of_correct`` is in
it). Both compare the same synthetic classes (bench/similarity.py's: random answers built
from templates, planted copies of the reference and of classmates, and a class where a tenth
of the students hand in the solution), exercise by exercise, and every match — who, against
what, the scores, the shared tokens, the marks, the evidence — must be the same. Also the
Doc of each answer: tokens, spans, hashes and winnowed fingerprints."""
from __future__ import annotations

import sys
from dataclasses import astuple

import pytest

from grading_tools import ROOT



@pytest.fixture(scope="module")
def old(old_similarity):
    return old_similarity


def _jobs(students: int, seed: int, leak: float):
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    import similarity as bench

    from autograder.similarity.report import answers_of, course_sources, passed_of
    results, planted = bench.synthetic_class(students, seed, leak=leak)
    assert planted
    passed = passed_of(results)
    jobs = []
    for aid, exercises in sorted(answers_of(results).items()):
        course = course_sources(ROOT, aid)
        for ex, answers in sorted(exercises.items()):
            jobs.append((aid, ex, answers, course.sources.get(ex, {}), course.given.get(ex, []),
                         passed.get(aid, {}).get(ex, set())))
    return jobs


def _flat(matches) -> list:
    return [astuple(m) for m in matches]


@pytest.mark.parametrize("students,seed,leak", [(60, 0, 0.0), (60, 1, 0.1), (25, 2, 0.0)])
def test_the_same_matches_as_the_module_before_issue_27(old, students, seed, leak):
    from autograder.similarity import fingerprints as new
    jobs = _jobs(students, seed, leak)
    flagged = 0
    for aid, ex, answers, sources, given, passed in jobs:
        want = old.compare_exercise(aid, ex, answers, sources, given, passed=passed)
        got = new.compare_exercise(aid, ex, answers, sources, given, passed=passed)
        assert _flat(got) == _flat(want), (aid, ex)
        flagged += len(want)
    assert flagged > 0          # the classes have copies: the comparison is not of empty lists


def test_the_same_fingerprints_as_the_module_before_issue_27(old):
    import numpy as np

    from autograder.similarity import fingerprints as new
    sources = [src for job in _jobs(20, 3, 0.1) for src in list(job[2].values()) + list(job[3].values())]
    sources += ["", "x", "def f(:\n  return ((", "a = 'unterminated\nb = 1; c = 2", "x = 1\n" * 40]
    for n in (1, 7, len(sources)):   # one at a time, a few, all in one pass
        got, want = new.fingerprint_many(sources[:n]), old.fingerprint_many(sources[:n])
        for g, w in zip(got, want):
            assert (g.tokens, g.spans, g.prints, g.own) == (w.tokens, w.spans, w.prints, w.own)
            assert np.array_equal(g.hashes, w.hashes)
    toks = new.fingerprint(sources[0]).tokens
    assert np.array_equal(new.kgram_hashes(toks), old.kgram_hashes(toks))
    assert new.given_hashes(sources[:5]) == old.given_hashes(sources[:5])
