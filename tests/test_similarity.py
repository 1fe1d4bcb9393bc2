"""Similar answers (autograder.similarity.fingerprints): a corpus of honest answers is never flagged, planted
copies of the reference, the solution and classmates are, and named for their source."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from autograder.similarity.fingerprints import compare_exercise, fingerprint
from autograder.similarity.report import course_sources, reference_source, write_similarity
from similarity_corpus import HONEST, HONEST_ADAM, first_function, half, rename, reorder

ROOT = Path(__file__).resolve().parent.parent
BN = ("02_batchnorm", "batchnorm_forward")
SM = ("01_divergences", "softmax")
CG = ("06_regularization", "clip_grad_norm")
NG = ("00_backprop", "numerical_gradient")
SK = ("01_divergences", "softmax_kl")


def _solution(aid, ex):
    return course_sources(ROOT, aid).sources[ex][("solution", f"solutions/{aid}/{aid}.ipynb")]


def _stub(aid, ex):
    return course_sources(ROOT, aid).given[ex][0]


def planted():
    """{(assignment, exercise): {student: (answer, kind of source, source)}}."""
    ref = {key: first_function(reference_source(key[1])) for key in (BN, CG, NG)}
    return {
        BN: {"cp_ref_renamed": (rename(ref[BN]), "reference", f"tnn_lib.batchnorm.{BN[1]}"),
             "cp_ref_reordered": (reorder(rename(ref[BN], "w")), "reference", f"tnn_lib.batchnorm.{BN[1]}"),
             "cp_mate_loops": (rename(HONEST[BN]["bn_loops"]), "student", "bn_loops")},
        SM: {"cp_mate_sm_loops": (rename(HONEST[SM]["sm_loops"]), "student", "sm_loops")},
        SK: {"cp_solution_reordered": (reorder(rename(_solution(*SK))), "solution", f"solutions/{SK[0]}/{SK[0]}.ipynb")},
        CG: {"cp_ref_clip_reordered": (reorder(rename(ref[CG])), "reference", f"tnn_lib.optim.{CG[1]}")},
        NG: {"cp_half_ref": (half(rename(ref[NG]), "    x = np.asarray(x)\n    grad = np.zeros(x.shape)"),
                             "reference", f"tnn_lib.gradcheck.{NG[1]}"),
             "cp_mate_unravel": (rename(HONEST[NG]["ng_unravel"]), "student", "ng_unravel")},
    }


HINTS = {
    CG: {"cg_hints": '''def clip_grad_norm(grads, max_norm):
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
    for g in grads.values():
        g *= min(1, max_norm / (total + 1e-6))
    return float(total)
'''},
}


@pytest.fixture(scope="module")
def run():
    """Each exercise of the corpus compared as a class (the honest answers, a stub left as
    released and the hint-only answers), then that class again with each planted copy added
    on its own (a class has a copy or two, not a third of it)."""
    plants = planted()
    found, classes = [], {}
    for key in HONEST:
        aid, ex = key
        answers = dict(HONEST[key])
        answers.update(HINTS.get(key, {}))
        answers[f"stub_{ex}"] = _stub(aid, ex)
        course = course_sources(ROOT, aid)
        classes[key] = answers
        found += compare_exercise(aid, ex, answers, course.sources[ex], course.given[ex])
        for st, (src, _, _) in plants.get(key, {}).items():
            found += [m for m in compare_exercise(aid, ex, dict(answers, **{st: src}), course.sources[ex],
                                                  course.given[ex]) if st in (m.student, m.other)]
    return {"found": found, "plants": plants, "classes": classes}


def _is_planted(plants, key, student):
    return student in plants.get(key, {})


def test_normalising_forgets_names_layout_comments_and_order_of_independent_steps():
    ref = first_function(reference_source("batchnorm_forward"))
    assert fingerprint(rename(ref)).tokens == fingerprint(ref).tokens
    assert fingerprint(reorder(rename(ref))).tokens == fingerprint(ref).tokens
    # ... but not the order of steps that depend on each other, nor the operations
    a = "def f(x):\n    y = x * 2\n    z = y + 1\n    return z\n"
    b = "def f(x):\n    z = x + 1\n    y = z * 2\n    return y\n"
    assert fingerprint(a).tokens != fingerprint(b).tokens
    assert fingerprint("y = np.sum(x, axis=0)").tokens != fingerprint("y = np.mean(x, axis=0)").tokens


def test_winnowing_finds_every_shared_run_of_the_guarantee_length_and_batches_like_one_by_one():
    import numpy as np
    from autograder.similarity.fingerprints import K, W, fingerprint_many, kgram_hashes, winnow
    rng = np.random.default_rng(5)
    vocab = ["V", "=", "+", "(", ")", "N", ";", "np", ".", "sum", "*", ","]
    docs = [" ".join(rng.choice(vocab, size=int(rng.integers(1, 60)))) for _ in range(60)]
    many = fingerprint_many(docs)
    for d in many:        # batched hashing and winnowing = the textbook per-document version
        assert d.prints == winnow(kgram_hashes(d.tokens)), d.source
    # any run of W + K - 1 tokens shared by two documents shares a winnowed fingerprint
    for _ in range(50):
        run = list(rng.choice(vocab, size=W + K - 1))
        a = list(rng.choice(vocab, size=int(rng.integers(0, 20)))) + run + list(rng.choice(vocab, size=5))
        b = list(rng.choice(vocab, size=int(rng.integers(0, 20)))) + run
        pa, pb = winnow(kgram_hashes(a)), winnow(kgram_hashes(b))
        assert set(pa) & set(pb)


def test_planted_copies_are_flagged_and_named_for_their_source(run):
    missed = []
    for key, plants in run["plants"].items():
        for student, (_, kind, source) in plants.items():
            mine = [m for m in run["found"] if (m.assignment, m.exercise) == key and student in (m.student, m.other)]
            if not any(m.kind == kind and source in (m.other, m.student) for m in mine):
                missed.append((student, kind, source, [(m.kind, m.other, m.score) for m in mine]))
            if kind in ("reference", "solution"):
                best = max((m for m in mine if m.kind != "student"), key=lambda m: (m.score, m.other_share))
                assert best.kind == kind, (student, best)
    assert not missed, missed


def test_honest_answers_are_never_flagged_against_each_other(run):
    false = [m for m in run["found"] if m.kind == "student"
             and not _is_planted(run["plants"], (m.assignment, m.exercise), m.student)
             and not _is_planted(run["plants"], (m.assignment, m.exercise), m.other)]
    assert not false, [(m.exercise, m.student, m.other, m.score) for m in false]


def test_stubs_and_hint_only_answers_are_never_flagged(run):
    quiet = {"bn_hints"} | {s for h in HINTS.values() for s in h} | {f"stub_{ex}" for _, ex in HONEST}
    loud = [m for m in run["found"] if m.student in quiet or m.other in quiet]
    assert not loud, [(m.exercise, m.student, m.kind, m.other, m.score) for m in loud]


def test_detection_figures(run, capsys):
    plants = run["plants"]
    n_planted = sum(len(p) for p in plants.values())
    caught = sum(any(m.kind == kind and source in (m.other, m.student) and student in (m.student, m.other)
                     for m in run["found"] if (m.assignment, m.exercise) == key)
                 for key, p in plants.items() for student, (_, kind, source) in p.items())
    honest_pairs = sum(len([s for s in c if not _is_planted(plants, key, s)]) * (len([s for s in c if not
                       _is_planted(plants, key, s)]) - 1) // 2 for key, c in run["classes"].items())
    false = [m for m in run["found"] if not _is_planted(plants, (m.assignment, m.exercise), m.student)
             and (m.kind != "student" or not _is_planted(plants, (m.assignment, m.exercise), m.other))]
    with capsys.disabled():
        print(f"\nsimilarity corpus: flagged {caught} / {n_planted} planted copies; {len(false)} false flags "
              f"among {honest_pairs} honest pairs (and honest answers vs reference/solution/variants)")
    assert caught == n_planted and not false


def test_the_baseline_discounts_code_many_students_share():
    aid, ex = BN
    course = course_sources(ROOT, aid)
    copy = HONEST[BN]["bn_loops"]
    small = {"a": copy, "b": rename(copy), **{k: v for k, v in HONEST[BN].items() if k != "bn_loops"}}
    assert any(m.kind == "student" for m in compare_exercise(aid, ex, small, course.sources[ex], course.given[ex]))
    # the same two answers, in a class where that code is what a third of the class wrote
    crowd = dict(small, **{f"c{i}": rename(copy, f"c{i}x") for i in range(6)})
    assert not [m for m in compare_exercise(aid, ex, crowd, course.sources[ex], course.given[ex])
                if m.kind == "student"]


def test_hostile_answers_are_read_never_run_and_escaped(tmp_path):
    evil = ("def batchnorm_forward(z, gamma, beta, eps=1e-5):\n    import os; os.system('touch PWNED')\n"
            "    '''</pre><script>alert(1)</script>'''\n    return z  # </pre><script>x</script>\n")
    odd = {"deep": "x = " + "(" * 5000 + "1" + ")" * 5000, "unclosed": "def f(:\n  '''", "nul": "a\0b = 1",
           "bytes": "\udcff = 1", "huge": "x = 1\n" * 200_000, "evil": evil}
    loops = HONEST[BN]["bn_loops"]
    copy = evil.replace("return z", "pass") + rename(loops) + "# </pre><script>y</script>\n"
    results = [{"student": st, "assignment": BN[0], "notebooks": {BN[0]: {"answers": {BN[1]: src}, "cells": []}}}
               for st, src in {**odd, "mate": loops, "<b>x</b>": copy}.items()]
    page, found = write_similarity(tmp_path, results, ROOT)
    text = page.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text and "<b>x</b>" not in text
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()
    assert any({m.student, m.other} == {"<b>x</b>", "mate"} for m in found)


def test_similarity_command_rebuilds_page_csv_and_link_from_result_files(tmp_path, monkeypatch):
    from autograder.cli.main import main
    from autograder.pages.report import write_report
    out = tmp_path / "grading"
    plants = planted()
    results = []
    for key in (BN, SK, NG):
        one = dict(list(plants[key].items())[:1])      # one copy of each source per class
        for st, src in {**HONEST[key], **{s: p[0] for s, p in one.items()}}.items():
            r = {"student": st, "assignment": key[0], "notebooks": {key[0]: {
                "state": "graded", "answers": {key[1]: src, "poll_x": "poll_x = 'a'"},
                "cells": [{"grade_id": f"test_{key[1]}", "exercise": key[1], "points": 1.0, "max_points": 1.0,
                           "status": "passed", "misconception": "", "message": ""}]}}}
            path = out / "results" / st / f"{key[0]}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(r))
            results.append(r)
    write_report(out, sorted(results, key=lambda r: (r["student"], r["assignment"])))
    assert "similarity.html" not in (out / "report.html").read_text()
    assert main(["similarity", str(out), "--course-dir", str(ROOT), "--workers", "1"]) == 0
    assert "similarity.html" in (out / "report.html").read_text()
    with open(out / "similarity.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    got = {(r["student"], r["source_kind"], r["source"]) for r in rows}
    assert ("cp_solution_reordered", "solution", f"solutions/{SK[0]}/{SK[0]}.ipynb") in got
    assert ("cp_ref_renamed", "reference", f"tnn_lib.batchnorm.{BN[1]}") in got
    assert ("cp_half_ref", "reference", f"tnn_lib.gradcheck.{NG[1]}") in got
    page = (out / "similarity.html").read_text()
    assert "Similar to the tnn_lib reference" in page and "Similar to the instructor&#x27;s solution" in page
    assert "<mark>" in page
    first, first_csv = page, (out / "similarity.csv").read_text()
    # rebuilt, in two processes: the same page and table
    import autograder.similarity.report
    monkeypatch.setattr(autograder.similarity.report, "PARALLEL_MIN_ANSWERS", 0)
    assert main(["similarity", str(out), "--course-dir", str(ROOT), "--workers", "2"]) == 0
    assert (out / "similarity.html").read_text() == first
    assert (out / "similarity.csv").read_text() == first_csv
    assert main(["similarity", str(tmp_path / "nothing")]) == 2


# ----------------------------------------------------------------------------------------
# copies of a source are listed however many students share them (rule 5)
# ----------------------------------------------------------------------------------------
AD = ("05_optimizers", "adam_step")


def _adam_class(verbatim: int, renamed: int, comments: bool = True):
    solution = _solution(*AD)
    if not comments:
        solution = "\n".join(ln.split("  #")[0] for ln in solution.splitlines()) + "\n"
    answers = dict(HONEST_ADAM)
    copies = {f"copy_v{i}": solution for i in range(verbatim)}
    copies.update({f"copy_r{i}": rename(solution, f"r{i}x") for i in range(renamed)})
    answers.update(copies)
    return answers, copies


def _flagged(answers, passed, key=AD):
    course = course_sources(ROOT, key[0])
    return compare_exercise(key[0], key[1], answers, course.sources[key[1]], course.given[key[1]], passed=passed)


def test_a_solution_handed_in_by_many_is_listed_however_many_share_it():
    """05's adam_step as the class of the issue: honest, independently written answers (all
    correct: they equal tnn_lib's on every step) and seven who hand in the solution, four word
    for word and three with every local name renamed: far more than the class's baseline."""
    answers, copies = _adam_class(4, 3)
    found = _flagged(answers, passed=set(answers))
    against = {m.student for m in found if m.kind == "solution"}
    assert against == set(copies), [(m.student, m.kind, m.other, m.evidence) for m in found]
    honest = [m for m in found if m.student in HONEST_ADAM or m.other in HONEST_ADAM]
    assert not honest, [(m.student, m.kind, m.other, m.score, m.evidence) for m in honest]
    m = next(m for m in found if m.student == "copy_r0" and m.kind == "solution")
    assert m.fewest == len(copies) and "# first moment estimate" in m.evidence, m


def test_a_renamed_copy_is_listed_when_longer_than_the_shortest_correct_answer():
    """A solution written at length (here: the verbose `adam_keys` as the solution), copied by
    five students with every name renamed: more than the shortest correct answer of the class
    (the honest `adam_terse`) by at least MIN_TOKENS tokens, so listed however many copy it;
    not when no shorter correct answer is known."""
    from autograder.similarity.fingerprints import MIN_TOKENS, _mark_given, fingerprint_many, given_hashes, shortest_correct
    course = course_sources(ROOT, AD[0])
    solution = HONEST_ADAM["adam_keys"]
    answers = {k: v for k, v in HONEST_ADAM.items() if k != "adam_keys"}
    copies = {f"copy_r{i}": rename(solution, f"r{i}x") for i in range(5)}
    answers.update(copies)
    docs = dict(zip(answers, fingerprint_many(list(answers.values()))))
    _mark_given(list(docs.values()), given_hashes(course.given[AD[1]]))
    own = {k: d.own for k, d in docs.items()}
    assert min(own.values()) == own["adam_terse"] and own["copy_r0"] - own["adam_terse"] >= MIN_TOKENS, own
    assert shortest_correct(docs, {}, {"adam_terse", "copy_r0"}) == own["adam_terse"]
    sources = {("solution", "verbose"): solution}

    def listed(passed):
        return [m for m in compare_exercise(AD[0], AD[1], answers, sources, course.given[AD[1]], passed=passed)
                if m.kind == "solution"]
    found = listed(set(answers))
    assert {m.student for m in found} == set(copies), [(m.student, m.evidence) for m in found]
    assert all("beyond the shortest correct answer" in m.evidence for m in found)
    assert not listed(set(copies))      # the copies alone: the solution is the shortest known


def test_the_short_answer_everyone_writes_is_not_listed_however_common():
    """softmax's solution is the short answer most students write: ten students writing it,
    each with their own names, are not listed against it, nor against each other."""
    aid, ex = SM
    natural = _solution(aid, ex)
    answers = dict(HONEST[SM])
    answers.update({f"natural{i}": rename(natural, f"n{i}x") for i in range(10)})
    found = _flagged(answers, passed=set(answers), key=SM)
    assert not found, [(m.student, m.kind, m.other, m.evidence) for m in found]


@pytest.mark.browser
@pytest.mark.timeout(600)
def test_similarity_page_keeps_to_the_window_and_counts_in_words(tmp_path):
    """At 1920×1080 in Chromium, nothing outside the code panes is wider than the page's
    column although an answer has a 300-character line (the panes scroll), and one match
    reads "1 match"."""
    from browser_tools import Static, artifacts_dir, chromium_path, launch
    chromium_path()
    from playwright.sync_api import sync_playwright
    loops = HONEST[BN]["bn_loops"]
    long_line = loops.replace("    return gamma", "    unused = z" + " + z" * 75 + "\n    return gamma")
    answers = {**{k: v for k, v in HONEST[BN].items() if k != "bn_loops"}, "bn_loops": long_line,
               "mate": rename(long_line)}
    results = [{"student": st, "assignment": BN[0], "notebooks": {BN[0]: {"answers": {BN[1]: src}, "cells": []}}}
               for st, src in answers.items()]
    page_path, found = write_similarity(tmp_path, results, ROOT)
    text = page_path.read_text()
    assert len(found) == 1 and "1 match in 1 exercise." in text and "1 matches" not in text, found
    with Static(tmp_path) as url, sync_playwright() as pw:
        ctx = launch(pw, tmp_path / "profile", viewport={"width": 1920, "height": 1080})
        try:
            page = ctx.new_page()
            page.goto(url + "similarity.html")
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            m = page.evaluate("""() => ({
              width: document.documentElement.scrollWidth,
              body: document.body.getBoundingClientRect().right,
              right: Math.max(...Array.from(document.querySelectorAll('body *'))
                       .filter(e => !e.parentElement.closest('pre')).map(e => e.getBoundingClientRect().right)),
              panes: Array.from(document.querySelectorAll('pre')).map(p => [p.scrollWidth, p.clientWidth])})""")
            page.screenshot(path=str(artifacts_dir() / "similarity-1080p.png"))
        finally:
            ctx.close()
    assert m["width"] <= 1920 and m["right"] <= m["body"] + 1, m
    assert any(sw > cw for sw, cw in m["panes"]), m     # the long line scrolls inside its pane


def test_a_handed_in_variant_is_listed_unless_the_answer_passed():
    """A student who hands in a catalogue variant (here adam-l2-changes-dw, with its names
    renamed) is listed against it; the same text in an answer that passed every test cell
    cannot carry the variant's mistake and is not (what it shares is the correct part)."""
    from autograder.similarity.report import variant_sources
    variant = variant_sources(AD[1])["adam-l2-changes-dw"].replace("_adam_l2_into_dw", "adam_step")
    answers = dict(HONEST_ADAM)
    answers["cp_variant"] = rename(variant, "q")
    wrong = _flagged(answers, passed=set(HONEST_ADAM))
    hits = [(m.kind, m.other) for m in wrong if m.student == "cp_variant"]
    assert ("variant", "adam-l2-changes-dw") in hits, hits
    right = _flagged(answers, passed=set(answers))
    assert not [m for m in right if m.kind == "variant"], [(m.student, m.other) for m in right]


def test_course_sources_are_read_again_when_a_notebook_changes(tmp_path):
    """course_sources is kept per process (the grading parent reads it while the workers
    grade): the same files give the same object; an edited solution gives the new answer."""
    import os
    import shutil

    aid, ex = SK
    course = tmp_path / "course"
    for part in ("solutions", "notebooks"):
        shutil.copytree(ROOT / part / aid, course / part / aid)
    first = course_sources(course, aid)
    assert course_sources(course, aid) is first
    path = course / "solutions" / aid / f"{aid}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == ex:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = src.replace("### END SOLUTION", "    edited_marker = 1\n    ### END SOLUTION")
    stat = path.stat()
    path.write_text(json.dumps(nb), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = course_sources(course, aid)
    assert second is not first
    key = ("solution", f"solutions/{aid}/{aid}.ipynb")
    assert "edited_marker" in second.sources[ex][key] and "edited_marker" not in first.sources[ex][key]
