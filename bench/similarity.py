"""Similarity report speed: a synthetic class of STUDENTS × every exercise of the course.

    .venv/bin/python bench/similarity.py [--students 500] [--exercises N] [--seed 0] [--repeat 3] [--workers 1]

Each exercise of the topic registry (51 today; --exercises N: the first N of them) gets STUDENTS answers: the stub's header,
then 6 to 12 lines drawn from templates (assignments, numpy reductions, loops, branches,
returns) with random names and operators, so that most answers are distinct but share many
short, common passages, as a class does. One student in a hundred copies the reference
(renamed), one in a hundred a classmate (renamed). The whole report is then computed as
``tnn-course grade`` does (``autograder.similarity.report.compare_class``: the course's sources,
fingerprints, the per-exercise index, the flagged pairs) and timed; nothing is run.

Prints the seconds (median of --repeat runs, wall and CPU time), the pairs examined against
all pairs, and how many planted copies were flagged and how many other answers were.

Then a second class, the same but for a leaked solution: in every exercise LEAK (10 %) of the
students hand in the instructor's solution, half of them word for word, half with every local
name renamed (comments kept, as a copier who renames does). Every passage of it is then in far
more answers than the class's baseline allows. Prints how many of those copies are listed
against the solution (or the reference, which the solution often follows), verbatim and renamed
apart, and the other answers flagged in that class next to the honest class's.
"""
from __future__ import annotations

import argparse
import ast
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NAMES = ["a", "b", "c", "tmp", "acc", "total", "out", "res", "m", "s", "v", "w", "y", "k", "u", "t", "p", "q",
         "val", "cur", "nxt", "prev", "lo", "hi", "mid", "num", "den", "ratio", "scale", "shift"]
FUNCS = ["sum", "mean", "max", "min", "exp", "log", "sqrt", "abs", "square", "tanh", "cumsum", "argmax"]
OPS = ["+", "-", "*", "/", "@", "**"]
CMPS = ["<", ">", "<=", ">=", "==", "!="]


def _line(rng: random.Random, args: list) -> list:
    v = lambda: rng.choice(NAMES + args)  # noqa: E731
    n = lambda: str(rng.choice([0, 1, 2, -1, 0.5, 1e-8, 10]))  # noqa: E731
    kind = rng.randrange(9)
    if kind == 0:
        return [f"{v()} = {v()} {rng.choice(OPS)} {v()}"]
    if kind == 1:
        return [f"{v()} = np.{rng.choice(FUNCS)}({v()}, axis={rng.choice([0, 1, -1])})"]
    if kind == 2:
        return [f"{v()} = {v()}[{v()}] {rng.choice(OPS)} {n()}"]
    if kind == 3:
        return [f"for {rng.choice('ijkn')} in range({v()}.shape[{rng.choice([0, 1])}]):",
                f"    {v()} {rng.choice(['+=', '-=', '*='])} {v()} {rng.choice(OPS)} {n()}"]
    if kind == 4:
        return [f"if {v()} {rng.choice(CMPS)} {n()}:", f"    {v()} = np.{rng.choice(FUNCS)}({v()})"]
    if kind == 5:
        return [f"{v()} = ({v()} {rng.choice(OPS)} {v()}) {rng.choice(OPS)} ({v()} {rng.choice(OPS)} {n()})"]
    if kind == 6:
        return [f"{v()} = {v()}.{rng.choice(FUNCS[:4])}(axis={rng.choice([0, 1])}, keepdims=True)"]
    if kind == 7:
        return [f"{v()} = np.where({v()} {rng.choice(CMPS)} {n()}, {v()}, {n()})"]
    return [f"{v()} {rng.choice(['+=', '-=', '*='])} {n()} * {v()}"]


def _answer(rng: random.Random, header: str, args: list) -> str:
    body = []
    for _ in range(rng.randint(6, 12)):
        body += _line(rng, args)
    body.append(f"return {rng.choice(NAMES)}")
    return header + "\n" + "\n".join("    " + ln for ln in body) + "\n"


def _rename(source: str, rng: random.Random) -> str:
    from tests.similarity_corpus import rename
    try:
        return rename(source, prefix=rng.choice("xyz"))
    except (SyntaxError, StopIteration, ValueError):
        return source


LEAK = 0.10


def synthetic_class(students: int, seed: int, leak: float = 0.0, exercises: int | None = None):
    """(results in the grader's format, {(student, exercise): planted source kind}); with
    `leak`, that share of the students hands in the solution (kinds ``solution verbatim``,
    ``solution renamed``); with `exercises`, only the first that many exercises of the registry."""
    from autograder.similarity.report import course_sources, reference_source
    from tests.similarity_corpus import first_function
    from tnn_lib.topics import TOPICS
    rng = random.Random(seed)
    ids = [f"s{i:04d}" for i in range(students)]
    kept = [(t, ex) for t in TOPICS for ex in t.exercises][:exercises]
    topics = [t for t in TOPICS if any(t is k for k, _ in kept)]
    answers = {(st, t.id): {} for st in ids for t in topics}
    planted = {}
    for t in topics:
        course = course_sources(ROOT, t.id)
        for ex in [ex for k, ex in kept if k is t]:
            stub = course.given.get(ex, [f"def {ex}(x):\n"])[0]
            try:
                fn = next(n for n in ast.parse(stub).body if isinstance(n, ast.FunctionDef))
                header, args = stub.splitlines()[fn.lineno - 1], [a.arg for a in fn.args.args]
            except (StopIteration, SyntaxError):
                header, args = f"def {ex}(x):", ["x"]
            ref = reference_source(ex)
            ref = ref or None
            for i, st in enumerate(ids):
                answers[(st, t.id)][ex] = _answer(rng, header, args)
            solution = next((src for (kind, _), src in course.sources.get(ex, {}).items() if kind == "solution"), None)
            if leak and solution:
                for i, st in enumerate(rng.sample(ids, max(2, round(leak * students)))):
                    answers[(st, t.id)][ex] = solution if i % 2 == 0 else _rename(solution, rng)
                    planted[(st, ex)] = "solution verbatim" if i % 2 == 0 else "solution renamed"
                continue
            for st in rng.sample(ids, max(1, students // 100)):
                if ref:
                    answers[(st, t.id)][ex] = _rename(ref, rng)
                    planted[(st, ex)] = "reference"
            used = set()         # a classmate copied from keeps its own answer
            for st in rng.sample(ids, max(1, students // 100)):
                if (st, ex) in planted or st in used:
                    continue
                source = rng.choice([s for s in ids if s != st and (s, ex) not in planted])
                used.add(source)
                answers[(st, t.id)][ex] = _rename(answers[(source, t.id)][ex], rng)
                planted[(st, ex)] = f"student {source}"
    # the grader's cells say which answers passed: the solution's copies do, the random ones do not
    results = [{"student": st, "assignment": aid, "notebooks": {aid: {
        "state": "graded", "answers": ans,
        "cells": [{"grade_id": f"test_{ex}", "exercise": ex,
                   "status": "passed" if planted.get((st, ex), "").startswith("solution") else "failed"}
                  for ex in ans]}}}
               for (st, aid), ans in sorted(answers.items())]
    return results, planted


def leaked_class(students: int, seed: int, workers: int, exercises: int | None = None) -> None:
    """The class where LEAK of the students copy the solution: how many are listed."""
    from autograder.similarity import report as similarity_report
    results, planted = synthetic_class(students, seed, leak=LEAK, exercises=exercises)
    t0 = time.perf_counter()
    found = similarity_report.compare_class(results, ROOT, workers=workers)
    seconds = time.perf_counter() - t0
    listed = {(m.student, m.exercise) for m in found if m.kind in ("solution", "reference")}
    for kind in ("solution verbatim", "solution renamed"):
        mine = [key for key, k in planted.items() if k == kind]
        print(f"  {kind}: {sum(key in listed for key in mine)} / {len(mine)} listed")
    exercises = {ex for _, ex in planted}
    missed = sorted({ex for (st, ex), k in planted.items() if (st, ex) not in listed})
    print(f"    exercises with a copy not listed: {len(missed)} of {len(exercises)}"
          + (f" ({', '.join(missed[:8])}{', …' if len(missed) > 8 else ''})" if missed else ""))
    others = {(m.student, m.exercise) for m in found if (m.student, m.exercise) not in planted} | \
        {(m.other, m.exercise) for m in found if m.kind == "student" and (m.other, m.exercise) not in planted}
    print(f"  other answers flagged in that class: {len(others)}; {seconds:.2f} s")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=500)
    p.add_argument("--exercises", type=int, default=None,
                   help="only the first N exercises of the registry (default: all of them)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workers", type=int, default=1, help="processes comparing the exercises (default 1)")
    args = p.parse_args(argv)
    from autograder.similarity import fingerprints as similarity
    from autograder.similarity import report as similarity_report
    if args.exercises is not None and args.exercises < 1:
        p.error(f"--exercises expects a positive number of exercises, got {args.exercises}")
    results, planted = synthetic_class(args.students, args.seed, exercises=args.exercises)
    n_ex = sum(len(nb["answers"]) for r in results[:len({r["assignment"] for r in results})]
               for nb in r["notebooks"].values())
    times, cpu, found, stats = [], [], [], {}
    for _ in range(args.repeat):
        similarity._text_hashes.cache_clear()
        stats = {}
        t0, c0 = time.perf_counter(), time.process_time()
        found = similarity_report.compare_class(results, ROOT, stats=stats, workers=args.workers)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    flagged = {(m.student, m.exercise) for m in found} | {(m.other, m.exercise) for m in found if m.kind == "student"}
    caught = sum(1 for (st, ex), kind in planted.items()
                 if any(m.exercise == ex and st in (m.student, m.other)
                        and (m.kind == kind or (m.kind == "student" and kind.startswith("student"))) for m in found))
    sources = {st for (st, ex), kind in planted.items() if kind.startswith("student")}
    others = {(st, ex) for st, ex in flagged if (st, ex) not in planted
              and not any(k == f"student {st}" and e == ex for (_, e), k in planted.items())}
    all_pairs = n_ex * args.students * (args.students - 1) // 2
    print(f"similarity: {args.students} students × {n_ex} exercises = {args.students * n_ex} answers, "
          f"{args.workers} process(es)")
    print(f"  time: {statistics.median(times):.2f} s (median of {args.repeat}: "
          + ", ".join(f"{t:.2f}" for t in times) + ")"
          + (f"; CPU time: {statistics.median(cpu):.2f} s (on a shared machine the wall time is the larger)"
             if args.workers == 1 else ""))
    print(f"  pairs examined: {stats.get('pairs', 0)} of {all_pairs} student pairs "
          f"({100.0 * stats.get('pairs', 0) / max(1, all_pairs):.3f} %); fingerprints indexed: "
          f"{stats.get('fingerprints', 0)}; of the time, reading and fingerprinting the answers: "
          f"{stats.get('seconds_fingerprinting', 0.0):.2f} s")
    print(f"  planted copies flagged: {caught} / {len(planted)}; other answers flagged: {len(others)} "
          f"(classmates copied from: {len(sources)})")
    for m in [m for m in found if (m.student, m.exercise) in others or (m.other, m.exercise) in others][:5]:
        print(f"    e.g. {m.exercise}: {m.student} ~ {m.kind} {m.other}: score {m.score:.2f}, {m.shared_tokens} tokens, "
              f"rarest passage in {m.fewest} answers")
    print(f"a class where {LEAK:.0%} of the students hand in the solution (half verbatim, half renamed):")
    leaked_class(args.students, args.seed, args.workers, args.exercises)
    return 0


if __name__ == "__main__":
    sys.exit(main())
