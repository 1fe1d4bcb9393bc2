"""The similarity report of a graded class: ``similarity.html`` and ``similarity.csv``.

What each exercise's answers are compared with is found in the course itself: the `tnn_lib`
reference (introspected, with the module's helpers it calls), the instructor's solution (the
answer cell of ``solutions/<assignment>/``), the catalogue's variants and the released
notebook's given code (``notebooks/<assignment>/``). The answers come from the grader's
result files (``results/<student>/<assignment>.json``: the answer cells after sanitising),
so ``tnn-course similarity GRADING_DIR`` rebuilds the report without grading again. The
comparison itself is :mod:`autograder.similarity.fingerprints`.
"""
from __future__ import annotations

import concurrent.futures
import csv
import importlib
import inspect
import io
import json
import multiprocessing
import pkgutil
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import tnn_lib
from autograder import catalogue
from autograder.course import course_root
from autograder.files import atomic_write, esc
from autograder.outcomes.cells import is_answer_cell, nbgrader_meta
from autograder.pages.report import write_report
from autograder.similarity.fingerprints import (KINDS, LONG_SCORE, LONG_TOKENS, MIN_SCORE, MIN_TOKENS, RARE_MIN, RARE_SHARE,
                                   VERBATIM_NAMES, Match, compare_exercise, given_hashes)
from tnn_lib.topics import TOPICS

PARALLEL_MIN_ANSWERS = 2000   # smaller classes are compared in one process (starting more costs more)
CSV_COLUMNS = ["assignment", "exercise", "student", "source_kind", "source", "score", "shared_tokens",
               "student_share", "source_share", "fewest_answers_with_match", "answers", "evidence"]

# ----------------------------------------------------------------------------------------
# what an exercise's answers may be compared with
# ----------------------------------------------------------------------------------------
def _answer_cells(path: Path) -> tuple[dict, list]:
    """({grade id: source} of a notebook's answer cells, [every other text of it])."""
    import nbformat  # slow import (see AUTHORING.md)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:   # noqa: BLE001 - a course file that cannot be read adds nothing
        return {}, []
    answers, texts = {}, []
    for cell in nb.cells:
        if is_answer_cell(cell):
            answers[nbgrader_meta(cell)["grade_id"]] = cell.source
        else:
            texts.append(cell.source)
    return answers, texts


def reference_source(exercise: str) -> str | None:
    """The source of `tnn_lib`'s function (or class) `exercise`, found by introspection,
    with the module's helpers it calls."""
    for info in pkgutil.iter_modules(tnn_lib.__path__):
        if info.name.startswith("_") or info.name == "widgets":
            continue
        try:
            mod = importlib.import_module(f"tnn_lib.{info.name}")
        except Exception:   # noqa: BLE001
            continue
        obj = getattr(mod, exercise, None)
        if obj is not None and getattr(obj, "__module__", None) == mod.__name__:
            try:
                parts = [inspect.getsource(obj)]
            except (OSError, TypeError):
                return None
            # the module's helpers it calls (``adam_step`` is ``_adam``), other exercises'
            # references excepted: also copyable
            exercises = {e for t in TOPICS for e in t.exercises}
            code = getattr(obj, "__code__", None)
            for name in (code.co_names if code is not None else ()):
                helper = getattr(mod, name, None)
                if name not in exercises and name != exercise and inspect.isfunction(helper) \
                        and helper.__module__ == mod.__name__:
                    try:
                        parts.append(inspect.getsource(helper))
                    except (OSError, TypeError):
                        continue
            return "\n".join(parts)
    return None


def variant_sources(exercise: str) -> dict:
    """{misconception id: source} of the catalogue's variants of `exercise`."""
    out = {}
    try:
        _, misconceptions = catalogue._load()
    except Exception:   # noqa: BLE001
        return out
    for m in misconceptions.get(exercise, []):
        try:
            out[m.id] = inspect.getsource(m.impl)
        except (OSError, TypeError):
            continue
    return out


@dataclass
class Course:
    """What the answers of one assignment are compared with, per exercise: {exercise:
    {(kind, name): source}}, and the given texts of the released notebook."""
    sources: dict
    given: dict


_COURSES: dict = {}   # course_sources' results in this process, by the notebooks' names, sizes and times


def course_sources(root: Path, aid: str) -> Course:
    """What the answers of `aid` are compared with (:class:`Course`, not to be changed by the
    caller): kept for the process while the assignment's released and source notebooks keep
    their names, sizes and modification times (reading them validates each with nbformat's
    schema; the grading parent reads them on a thread while the workers grade)."""
    root = Path(root)
    files = sorted((root / "notebooks" / aid).glob("*.ipynb")) + sorted((root / "solutions" / aid).glob("*.ipynb"))
    key = (str(root.resolve()), aid, tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files))
    if key not in _COURSES:
        _COURSES[key] = _course_sources(root, aid)
    return _COURSES[key]


def warm_course_sources(root: Path, aids) -> None:
    """Read the :func:`course_sources` of `aids` ahead of the similarity report, and hash
    their given texts (:func:`~autograder.similarity.fingerprints.given_hashes`, kept for the
    process: half of the report's time for a class of one); a failure is met again, and
    reported, by the report itself."""
    for aid in aids:
        try:
            for texts in course_sources(root, aid).given.values():
                given_hashes(texts)
        except Exception:  # noqa: BLE001 - only a head start
            pass


def _course_sources(root: Path, aid: str) -> Course:
    sources, given = defaultdict(dict), defaultdict(list)
    shared = []
    for path in sorted((root / "notebooks" / aid).glob("*.ipynb")):
        answers, texts = _answer_cells(path)
        shared += texts
        for gid, src in answers.items():
            given[gid].append(src)
    for path in sorted((root / "solutions" / aid).glob("*.ipynb")):
        answers, _ = _answer_cells(path)
        for gid, src in answers.items():
            solution = "\n".join(ln for ln in src.splitlines() if ln.strip() not in
                                 ("### BEGIN SOLUTION", "### END SOLUTION"))
            sources[gid][("solution", f"solutions/{aid}/{path.name}")] = solution
            if not any(True for _ in (root / "notebooks" / aid).glob("*.ipynb")):
                given[gid].append(re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "", src, flags=re.S))
    for gid in list(sources):
        ref = reference_source(gid)
        if ref:
            sources[gid][("reference", f"tnn_lib.{_module_of(gid)}.{gid}")] = ref
        for mid, src in variant_sources(gid).items():
            sources[gid][("variant", mid)] = src
    return Course(dict(sources), {gid: given[gid] + shared for gid in set(given) | set(sources)} or {})


def _module_of(exercise: str) -> str:
    for info in pkgutil.iter_modules(tnn_lib.__path__):
        if not info.name.startswith("_") and info.name != "widgets":
            mod = importlib.import_module(f"tnn_lib.{info.name}")
            if getattr(getattr(mod, exercise, None), "__module__", None) == mod.__name__:
                return info.name
    return "?"


# ----------------------------------------------------------------------------------------
# a graded class
# ----------------------------------------------------------------------------------------
def answers_of(results: list) -> dict:
    """{assignment: {exercise: {student: answer source}}} of graded results (the answer
    cells as the grader saw them after sanitising); stubs left unanswered are skipped."""
    out = defaultdict(lambda: defaultdict(dict))
    for r in results:
        for nb in r.get("notebooks", {}).values():
            unanswered = {c.get("exercise") for c in nb.get("cells", []) if c.get("status") == "unanswered"}
            for gid, src in (nb.get("answers") or {}).items():
                if isinstance(gid, str) and isinstance(src, str) and gid not in unanswered:
                    out[r["assignment"]][gid][r["student"]] = src
    return out


def passed_of(results: list) -> dict:
    """{assignment: {exercise: {students whose answer passed every test cell of it}}}."""
    cells = defaultdict(lambda: defaultdict(dict))
    for r in results:
        for nb in r.get("notebooks", {}).values():
            for c in nb.get("cells", []):
                ex = c.get("exercise")
                if ex:
                    mine = cells[r["assignment"]][ex]
                    mine[r["student"]] = mine.get(r["student"], True) and c.get("status") == "passed"
    return {aid: {ex: {st for st, ok in sts.items() if ok} for ex, sts in exs.items()} for aid, exs in cells.items()}


def _job(args) -> tuple[list, dict]:
    stats: dict = {}
    *head, passed = args
    return compare_exercise(*head, stats=stats, passed=passed), stats


def compare_class(results: list, root: Path, stats=None, workers: int = 1) -> list[Match]:
    """Flagged matches of every exercise of graded `results` (see :func:`compare_exercise`),
    the exercises shared among `workers` processes."""
    jobs = []
    passed = passed_of(results)
    for aid, exercises in sorted(answers_of(results).items()):
        course = course_sources(root, aid)
        for ex, answers in sorted(exercises.items()):
            jobs.append((aid, ex, answers, course.sources.get(ex, {}), course.given.get(ex, []),
                         passed.get(aid, {}).get(ex, set())))
    if workers > 1 and len(jobs) > 1 and sum(len(j[2]) for j in jobs) >= PARALLEL_MIN_ANSWERS:
        with concurrent.futures.ProcessPoolExecutor(min(workers, len(jobs)),
                                                    mp_context=multiprocessing.get_context("spawn")) as pool:
            done = list(pool.map(_job, jobs))
    else:
        done = [_job(j) for j in jobs]
    found = []
    for matches, st in done:
        found += matches
        for k, v in st.items():
            if stats is not None:
                stats[k] = stats.get(k, 0) + v
    return found


def load_results(out: Path) -> list:
    results = []
    for path in sorted((Path(out) / "results").glob("*/*.json")):
        try:
            r = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(r, dict) and isinstance(r.get("student"), str) and isinstance(r.get("assignment"), str):
            results.append(r)
    return results


def write_similarity(out: Path, results: list, root: Path, workers: int = 1) -> tuple[Path, list]:
    """Write ``similarity.html`` and ``similarity.csv`` into `out`; returns the page and
    the flagged matches."""
    out = Path(out)
    found = compare_class(results, Path(root), workers=workers)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for m in found:
        w.writerow([m.assignment, m.exercise, m.student, m.kind, m.other, f"{m.score:.3f}", m.shared_tokens,
                    f"{m.student_share:.3f}", f"{m.other_share:.3f}", m.fewest, m.answers, m.evidence])
    atomic_write(out / "similarity.csv", buf.getvalue())
    page = out / "similarity.html"
    atomic_write(page, render(found, answers_of(results)))
    return page, found


def _highlight(source: str, marks: list) -> str:
    parts, pos = [], 0
    for a, b in marks:
        parts.append(esc(source[pos:a]))
        parts.append(f"<mark>{esc(source[a:b])}</mark>")
        pos = b
    parts.append(esc(source[pos:]))
    return "".join(parts)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


_KIND_TITLE = {"reference": "the tnn_lib reference", "solution": "the instructor's solution",
               "variant": "a catalogue variant", "student": "another student's answer"}


def render(found: list, answers: dict) -> str:
    n_ex = sum(len(v) for v in answers.values())
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Similar answers</title><style>"
             "body{font-family:system-ui,sans-serif;max-width:90rem;margin:2rem auto;padding:0 1rem}"
             "td,th{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}"
             "table{border-collapse:collapse}.side{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1rem}"
             "pre{background:#f7f7f7;padding:.5rem;overflow:auto;font-size:.85rem}mark{background:#ffd84d}"
             "</style></head><body><h1>Similar answers</h1>",
             f"<p>{_count(len(found), 'match', 'matches')} in {_count(n_ex, 'exercise', 'exercises')}. "
             "<a href='report.html'>Class report</a>, "
             "<a href='similarity.csv'>similarity.csv</a>.</p>",
             "<p>Each answer was compared, without running it, with every classmate's answer to the same "
             "exercise, with the tnn_lib reference, the instructor's solution and the catalogue's variants: "
             "winnowed fingerprints of the code with comments, layout, variable names and literals normalised and "
             "independent statements put in one order (Schleimer, Wilkerson and Aiken 2003). Code given in the "
             "released notebook (the stub, its docstring and hints) never counts, nor code that many answers to "
             f"the exercise share (more than {RARE_SHARE:.0%} of them, at least {RARE_MIN}); code that a few share "
             "counts the more the fewer they are. <strong>Score</strong>: the share of one side's distinctive code "
             "(neither given nor common in the class) that the two share (against the reference, the solution or a "
             f"variant: the student's side). A match is listed when the shared code weighs at least {MIN_TOKENS} "
             f"tokens and the score is at least {MIN_SCORE:.0%}, or {LONG_TOKENS} tokens and {LONG_SCORE:.0%}. "
             "A match with the reference, the solution or a variant is also listed however many answers share it "
             f"when the answer is mostly that code (at least {MIN_TOKENS} tokens and {MIN_SCORE:.0%} of it) and it is "
             f"more than the answer everyone writes: {MIN_TOKENS} tokens or more beyond the shortest correct answer "
             f"known (the reference, the solution, the answers that passed), or at least {VERBATIM_NAMES} of the "
             "source's own names or one of its comments kept verbatim; the <em>evidence</em> column says which. "
             "<em>Shared code</em> counts the tokens highlighted; the share of each side counts their weight. This "
             "page says what matched and how unusual it is in this class; it judges nothing: an answer can "
             "resemble another for honest reasons.</p>"]
    by_ex = defaultdict(list)
    for m in found:
        by_ex[(m.assignment, m.exercise)].append(m)
    if not found:
        parts.append("<p>No answers are unusually similar.</p>")
    for (aid, ex), ms in sorted(by_ex.items()):
        parts.append(f"<h2>{esc(aid)}: <code>{esc(ex)}</code></h2>"
                     f"<p>{_count(ms[0].answers, 'answer', 'answers')} to this exercise.</p>")
        for kind in KINDS:
            group = [m for m in ms if m.kind == kind]
            if not group:
                continue
            parts.append(f"<h3>Similar to {esc(_KIND_TITLE[kind])}</h3><table><tr><th>student</th><th>similar to"
                         "</th><th>score</th><th>shared code</th><th>how unusual</th><th>evidence</th></tr>")
            for i, m in enumerate(group):
                anchor = esc(f"{aid}-{ex}-{kind}-{i}")
                parts.append(f"<tr><td><a href='#{anchor}'>{esc(m.student)}</a></td><td>{esc(m.other)}</td>"
                             f"<td>{m.score:.2f}</td><td>{m.shared_tokens} tokens: {m.student_share:.0%} of "
                             f"{esc(m.student)}'s distinctive code, {m.other_share:.0%} of {esc(m.other)}'s</td>"
                             f"<td>the rarest matched passage is in {m.fewest} of {m.answers} answers</td>"
                             f"<td>{esc(m.evidence)}</td></tr>")
            parts.append("</table>")
            for i, m in enumerate(group):
                anchor = esc(f"{aid}-{ex}-{kind}-{i}")
                parts.append(f"<details id='{anchor}'><summary>{esc(m.student)} and {esc(m.other)} "
                             f"({m.score:.2f})</summary><div class='side'><div><h4>{esc(m.student)}</h4><pre>"
                             f"{_highlight(m.student_source, m.student_marks)}</pre></div><div><h4>"
                             f"{esc(m.other)}</h4><pre>{_highlight(m.other_source, m.other_marks)}</pre></div>"
                             "</div></details>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def main_similarity(grading_dir, root=None, workers: int = 1) -> int:
    """``tnn-course similarity GRADING_DIR``: rebuild the page from the result files."""
    out = Path(grading_dir)
    if not (out / "results").is_dir():
        raise FileNotFoundError(f"{out} holds no graded results (no results/ folder): run tnn-course grade first")
    results = load_results(out)
    root = course_root(root)
    page, found = write_similarity(out, results, root, workers=workers)
    report = out / "report.html"
    if report.is_file() and "similarity.html" not in report.read_text(encoding="utf-8", errors="replace"):
        write_report(out, sorted(results, key=lambda r: (r["student"], r["assignment"])))
    print(f"{len(found)} similar answers in {len(results)} submissions: {page}, {out / 'similarity.csv'}")
    return 0
