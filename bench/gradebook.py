"""Gradebook write throughput: nbgrader's ``SaveAutoGrades`` one submission at a time against
the bulk :class:`autograder.gradebook.writer.Writer`, into PostgreSQL (a throwaway durable
server) and SQLite.

    .venv/bin/python bench/gradebook.py [--students 20] [--copies 10] [--batch 64]

Grades STUDENTS submissions of 01_divergences once (``tnn-course grade``), then records the
results COPIES times over under new student ids (STUDENTS × COPIES submissions, each with its
autograded notebook) into a fresh gradebook per method, and prints submissions per second
(the median of the per-batch rates, and the total) and whether the two gradebooks hold
identical rows (tests/test_gradebook_writer.py's comparison).
"""
from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=20)
    p.add_argument("--copies", type=int, default=10)
    p.add_argument("--batch", type=int, default=64)
    args = p.parse_args(argv)
    import grading as bench_grading
    from pg_tools import Postgres
    from test_gradebook_writer import rows

    from autograder.course import nbgrader_config
    from autograder.gradebook.writer import Writer, record, sync_gradebook
    from autograder.runners.grade import autograded_path, grade
    aid = "01_divergences"
    work = Path(tempfile.mkdtemp(prefix="tnn-bench-gradebook-"))
    try:
        subs = work / "submitted"
        bench_grading.synthetic_class(aid, args.students, subs)
        out = work / "out"
        summary = grade(subs, aid, workers=2, timeout=30, output=out, db_url=f"sqlite:///{work / 'graded.db'}",
                        root=ROOT, progress=False, log=lambda m: None)
        results = []
        for c in range(args.copies):
            for r in summary.results:
                r = copy.deepcopy(r)
                src = {name: autograded_path(out, r["student"], aid, name) for name in r["notebooks"]}
                r["student"] = f"c{c:02d}-{r['student']}"
                for name, path in src.items():
                    dest = autograded_path(out, r["student"], aid, name)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, dest)
                results.append(r)
        n = len(results)
        path_of = lambda r: (lambda name: autograded_path(out, r["student"], aid, name))  # noqa: E731
        print(f"{n} submissions of {aid} ({args.students} graded, recorded {args.copies} times under new ids)")

        def one_by_one(url):
            config = nbgrader_config(ROOT, url)
            sync_gradebook(ROOT, aid, url, config)
            times = []
            for r in results:
                t0 = time.perf_counter()
                record(r, path_of(r), url, r.get("timestamp"), config)
                times.append(time.perf_counter() - t0)
            return [1.0 / t for t in times], n / sum(times)

        def bulk(url):
            config = nbgrader_config(ROOT, url)
            sync_gradebook(ROOT, aid, url, config)
            rates, total, checking = [], 0.0, 0.0
            t0 = time.perf_counter()
            with Writer(url, config) as w:
                opened = time.perf_counter() - t0
                for i in range(0, n, args.batch):
                    chunk = results[i:i + args.batch]
                    t1 = time.perf_counter()
                    failed = w.write([(r, path_of(r), r.get("timestamp")) for r in chunk])
                    dt = time.perf_counter() - t1
                    assert not failed and not w.batch_errors, (failed, w.batch_errors)
                    rates.append(len(chunk) / dt)
                    total += dt
                    # what the grading's writer does next: the batch compared with the gradebook
                    t2 = time.perf_counter()
                    found = w.check(chunk)
                    checking += time.perf_counter() - t2
                    assert not found, found
            return rates, n / (total + opened), n / (total + opened + checking)

        table = []
        with Postgres(durable=True) as pg:
            for kind, url_a, url_b in (("PostgreSQL", pg.url("nbgrader"), pg.url("writer")),
                                       ("SQLite", f"sqlite:///{work / 'a.db'}", f"sqlite:///{work / 'b.db'}")):
                r_a, tot_a = one_by_one(url_a)
                r_b, tot_b, tot_c = bulk(url_b)
                same = rows(url_a) == rows(url_b)
                table.append((kind, statistics.median(r_a), tot_a, statistics.median(r_b), tot_b, tot_c, same))
        print(f"{'gradebook':11s} {'SaveAutoGrades subs/s':>22s} {'Writer subs/s':>14s} {'ratio':>6s} "
              f"{'Writer + check':>15s} {'identical rows':>15s}")
        for kind, med_a, tot_a, med_b, tot_b, tot_c, same in table:
            print(f"{kind:11s} {med_a:10.1f} (all {tot_a:6.1f}) {med_b:6.1f} (all {tot_b:6.1f}) "
                  f"{tot_b / tot_a:5.1f}x {tot_c:15.1f} {str(same):>15s}")
        print("(median of per-submission rates for SaveAutoGrades, of per-batch rates for the Writer; "
              f"'all': submissions / total seconds; batches of {args.batch}; 'Writer + check': each batch "
              "then compared with the gradebook, as a grading's writer does, submissions / total seconds)")
        return 0 if all(t[-1] for t in table) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
