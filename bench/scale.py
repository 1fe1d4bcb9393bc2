"""Grading at class scale: local ``--workers 2`` and a local Dask cluster of 2 worker processes.

    .venv/bin/python bench/scale.py [--submissions 2000] [--timeout 10] [--hostile 0.1] [--write-sample 200] [--scheduler-idle 20]

Builds a synthetic class of SUBMISSIONS submissions — 250 students × 8 assignments at the
default 2,000, fewer students for fewer — each a copy of a submission of the example class
(``tests/fixtures/example_class/submitted``) for that assignment: honest ones (correct, blank,
partial, a catalogued misconception, using the reference) and, for a fraction HOSTILE of
them, hostile ones (endless loops, memory bombs, megabytes of output, edited or deleted test
cells, tampering, invalid files). Then, in one run:

1. grades it with local ``--workers 2`` (SQLite gradebook);
2. grades it on a local Dask cluster — a ``dask scheduler`` and two ``dask worker``
   processes of one thread each, on 127.0.0.1 — with ``--scheduler`` (SQLite gradebook);
3. records results again, alone, into a fresh SQLite gradebook and a fresh PostgreSQL
   one (a throwaway server, fsync on), timing the client's gradebook write per submission
   (``--write-sample`` of them, spread over the class: 200 by default).

Prints submissions per second for each mode, the scheduler's overhead per task (the
client's time from submitting a task to holding its result, minus the worker's time
grading it and minus the time it waited on its worker behind the task before it) and its
parts, the scheduler process's own CPU time per task (above its idle background, measured
first), each worker's idle time between two tasks, the gradebook write time per submission, the peak memory of each worker
process (alone, and with its sandbox and student processes), whether anything was lost
and whether both modes gave identical grades; then a table of the machines a course needs
to grade 2,000 submissions in 10 minutes, worked out on paper from those figures.
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
EXAMPLES = ROOT / "tests" / "fixtures" / "example_class" / "submitted"
STUDENTS = 250


def synthetic_class(n: int, hostile_share: float, dest: Path, seed: int = 0) -> list[tuple[str, str, str]]:
    """(student, assignment, example it copies), n of them: student i // 8, assignment i % 8."""
    import numpy as np
    from autograder.course import ASSIGNMENTS
    rng = np.random.default_rng(seed)
    aids = [a for a in ASSIGNMENTS if any(EXAMPLES.glob(f"*/{a}"))]
    honest = {a: sorted(p.parent.name for p in EXAMPLES.glob(f"*/{a}") if not p.parent.name.startswith("hostile-"))
              for a in aids}
    hostile = {a: sorted(p.parent.name for p in EXAMPLES.glob(f"*/{a}") if p.parent.name.startswith("hostile-"))
               for a in aids}
    if not any(honest.values()):
        sys.exit("no example class: run tests/fixtures/example_class/build.py")
    chosen = []
    for i in range(n):
        aid = aids[i % len(aids)]
        student = f"s{i // len(aids):04d}"
        bad = hostile[aid] and rng.random() < hostile_share
        pool = hostile[aid] if bad else honest[aid]
        src = pool[int(rng.integers(len(pool)))]
        shutil.copytree(EXAMPLES / src / aid, dest / student / aid)
        chosen.append((student, aid, src))
    return chosen


class CpuShare:
    """Where the machine's CPU went during a run: the machine's busy seconds (psutil's
    system-wide times), this process's (the grading parent or Dask client, its threads), and
    those of `others` (name -> psutil.Process: the scheduler, the nannies)."""

    def __init__(self, others: dict | None = None):
        import psutil
        self.psutil, self.others = psutil, dict(others or {})
        self.t0, self.machine0, self.me0 = time.perf_counter(), self._busy(), time.process_time()
        self.others0 = {k: self._cpu(p) for k, p in self.others.items()}

    def _busy(self) -> float:
        t = self.psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0)

    @staticmethod
    def _cpu(proc) -> float:
        try:
            return sum(proc.cpu_times()[:2])
        except Exception:  # noqa: BLE001 - gone: counted as nothing more
            return 0.0

    def done(self) -> str:
        wall = time.perf_counter() - self.t0
        machine = self._busy() - self.machine0
        me = time.process_time() - self.me0
        parts = {k: self._cpu(p) - self.others0[k] for k, p in self.others.items()}
        rest = machine - me - sum(parts.values())
        cores = os.cpu_count() or 1
        text = ", ".join(f"{k} {v:.1f}" for k, v in [("this process", me), *parts.items()])
        return (f"machine busy {machine:.1f} of {cores * wall:.1f} core-seconds ({100 * machine / (cores * wall):.1f} %): "
                f"{text}, the worker processes with their sandboxes {rest:.1f} "
                f"({rest / wall:.2f} cores on average)")


class PeakMemory:
    """Samples the resident memory of each worker process and of its process tree."""

    def __init__(self, roots):
        self.roots = roots                    # callable -> {label: psutil.Process}
        self.peak: dict = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import psutil
        while not self.stop.is_set():
            try:
                for label, proc in self.roots().items():
                    try:
                        own = proc.memory_info().rss
                        tree = own + sum(c.memory_info().rss for c in proc.children(recursive=True))
                    except psutil.Error:
                        continue
                    old = self.peak.get(label, (0, 0))
                    self.peak[label] = (max(old[0], own), max(old[1], tree))
            except Exception:
                pass
            self.stop.wait(0.25)

    def done(self) -> dict:
        self.stop.set()
        self.thread.join()
        return self.peak


def local_workers():
    import psutil
    me = psutil.Process()
    return {f"local pid {c.pid}": c for c in me.children()
            if "multiprocessing" in " ".join(c.cmdline()) and "resource_tracker" not in " ".join(c.cmdline())}


def dask_workers(cluster):
    import psutil

    def roots():
        out = {}
        for name, nanny in cluster.workers.items():
            try:
                kids = [c for c in psutil.Process(nanny.pid).children()
                        if "resource_tracker" not in " ".join(c.cmdline())]
            except psutil.Error:
                continue
            for c in kids:
                out[f"dask {name} pid {c.pid}"] = c
        return out
    return roots


def scores(csv_path: Path) -> dict:
    import csv
    out: dict = {}
    with open(csv_path, newline="") as f:
        for r in csv.DictReader(f):
            out[(r["student"], r["assignment"])] = out.get((r["student"], r["assignment"]), 0.0) + float(r["points"])
    return out


def gradebook_write_times(out: Path, results, url: str) -> list[float]:
    """The client's gradebook write (what grade()'s writer thread does per submission)."""
    from autograder.course import nbgrader_config
    from autograder.runners.grade import record_in_gradebook, sync_gradebook
    config = nbgrader_config(ROOT, url)
    for aid in sorted({r["assignment"] for r in results}):
        sync_gradebook(ROOT, aid, url, config)
    times = []
    for r in results:
        t0 = time.perf_counter()
        record_in_gradebook(r, out, url, r.get("timestamp"), config)
        times.append(time.perf_counter() - t0)
    return times


def dask_parts(tasks: list[dict]) -> tuple[dict, list, int]:
    """Where each Dask task's time went, from the clocks the runner records per task
    (:meth:`autograder.runners.dask_cluster.DaskRunner._record`), in seconds; the idle gaps
    of each worker process between two tasks; how many of those next tasks were already
    waiting on the worker when the one before ended."""
    parts: dict = {k: [] for k in ("dispatch", "before", "after", "notice", "pickup", "fetch", "decode",
                                   "overhead", "queued", "prepare", "bytes")}
    for t in tasks:
        one = {"dispatch": t["arrived"] - t["submitted"], "before": t["graded_from"] - t["began"],
               "after": t["end"] - t["graded_to"], "notice": t["done"] - t["end"], "pickup": t["picked"] - t["done"],
               "fetch": t["fetched"] - t["picked"], "decode": t["decoded"] - t["fetched"]}
        for k, v in one.items():
            parts[k].append(v)
        parts["overhead"].append(sum(one.values()))
        parts["queued"].append(t["began"] - t["arrived"])
        parts["prepare"].append(t["prepare"])
        parts["bytes"].append(t["result_bytes"])
    gaps, ahead = [], 0
    by_pid: dict = {}
    for t in tasks:
        by_pid.setdefault(t["pid"], []).append(t)
    for ts in by_pid.values():
        ts.sort(key=lambda t: t["began"])
        for prev, nxt in zip(ts, ts[1:]):
            gaps.append(nxt["began"] - prev["end"])
            ahead += nxt["arrived"] <= prev["end"]
    return parts, gaps, ahead


def scheduler_hops(tasks: list[dict], log: list) -> dict:
    """Each task's dispatch split at the scheduler (its transition log: the task received,
    then sent to a worker): client → scheduler, in the scheduler, scheduler → worker (s)."""
    seen: dict = {}
    for key, start, finish, when in log:
        seen.setdefault(key, {}).setdefault((start, finish), when)
    hops: dict = {"client → scheduler": [], "scheduler": [], "scheduler → worker": []}
    for t in tasks:
        s = seen.get(t.get("key"), {})
        got, sent = s.get(("released", "waiting")), s.get(("waiting", "processing"))
        if got is None or sent is None:
            continue
        hops["client → scheduler"].append(got - t["submitted"])
        hops["scheduler"].append(sent - got)
        hops["scheduler → worker"].append(t["arrived"] - sent)
    return hops


def speed_probe(rounds: int = 5) -> float:
    """Seconds of a fixed pure-Python loop (the median of `rounds`), run while nothing else of
    the benchmark runs: this machine's speed changes from minute to minute (a virtual machine
    sharing its host), and a comparison of two modes run one after the other means something
    only when the probe says the machine stayed the same."""
    times = []
    for _ in range(rounds):
        t0, s = time.perf_counter(), 0
        for i in range(1_000_000):
            s += i * i
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fmt_mb(b: float) -> str:
    return f"{b / 2**20:.0f} MiB"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--submissions", type=int, default=2000, help="how many (default 2000 = 250 students × 8)")
    p.add_argument("--timeout", type=float, default=10.0, help="cell time limit (default 10 s)")
    p.add_argument("--hostile", type=float, default=0.1, help="share of hostile submissions (default 0.1)")
    p.add_argument("--target-seconds", type=float, default=600.0, help="the deadline of the table (600 s)")
    p.add_argument("--scheduler-idle", type=float, default=20.0,
                   help="seconds the idle scheduler's own CPU is measured before the Dask run (default 20)")
    p.add_argument("--alone", type=int, default=10,
                   help="submissions then graded one at a time on the idle cluster, for the dispatch alone (default 10)")
    p.add_argument("--write-sample", type=int, default=200,
                   help="submissions whose gradebook write is timed one at a time (default 200, spread over the class)")
    args = p.parse_args(argv)
    if args.submissions < 1:
        sys.exit("--submissions must be at least 1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    from autograder.runners.grade import grade
    from dask_tools import Cluster
    from pg_tools import Postgres

    work = Path(tempfile.mkdtemp(prefix="tnn-bench-scale-"))
    try:
        subs = work / "submitted"
        chosen = synthetic_class(args.submissions, args.hostile, subs)
        n = len(chosen)
        n_hostile = sum(src.startswith("hostile-") for _, _, src in chosen)
        print(f"{n} submissions ({n // 8 + (n % 8 > 0)} students × up to 8 assignments; {n_hostile} hostile), "
              f"cell limit {args.timeout:g} s, machine: {os.cpu_count()} cores")

        # 1. local workers
        probes = [speed_probe()]
        mem = PeakMemory(local_workers)
        cpu = CpuShare()
        t0 = time.perf_counter()
        s_local = grade(subs, workers=2, timeout=args.timeout, output=work / "out-local",
                        db_url=f"sqlite:///{work / 'gb-local.db'}", root=ROOT, progress=False)
        t_local = time.perf_counter() - t0
        peak_local = mem.done()
        cpu_local = cpu.done()
        probes.append(speed_probe())

        # 2. a local Dask cluster of two worker processes
        # the scheduler keeps every transition of the run (its default keeps the last 1,000)
        os.environ["DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH"] = str(20 * n + 1000)
        cluster = Cluster()
        try:
            cluster.start_worker("w1")
            cluster.start_worker("w2")
            mem = PeakMemory(dask_workers(cluster))
            import psutil
            sched = psutil.Process(cluster.scheduler.pid)
            # the scheduler's own background (heartbeats, its monitors, work stealing's checks),
            # measured idle first: what it costs per task is what grading adds to it
            idle0, t_idle = sum(sched.cpu_times()[:2]), time.perf_counter()
            time.sleep(args.scheduler_idle)
            idle_rate = (sum(sched.cpu_times()[:2]) - idle0) / max(time.perf_counter() - t_idle, 1e-9)
            sched_cpu0 = sum(sched.cpu_times()[:2])
            wall0 = time.time()
            cpu = CpuShare({"scheduler": sched, **{f"nanny {name}": psutil.Process(proc.pid)
                                                   for name, proc in cluster.workers.items()}})
            t0 = time.perf_counter()
            s_dask = grade(subs, scheduler=cluster.address, timeout=args.timeout, output=work / "out-dask",
                           db_url=f"sqlite:///{work / 'gb-dask.db'}", root=ROOT, progress=False,
                           log=lambda m: None)
            t_dask = time.perf_counter() - t0
            wall1 = time.time()
            probes.append(speed_probe())
            sched_cpu = sum(sched.cpu_times()[:2]) - sched_cpu0
            cpu_dask = cpu.done()
            peak_dask = mem.done()
            with cluster.client() as c:      # the scheduler's clock of each task: received, sent on
                log = c.run_on_scheduler(lambda dask_scheduler: [
                    (e[0], e[1], e[2], e[-1]) for e in dask_scheduler.transition_log
                    if str(e[0]).startswith("tnn-grade-")])
            # 2b. the same path with nothing else running: one honest submission per grading,
            # so no other task, result write or sandbox shares the two cores with its dispatch
            # and return (what the scheduler and Dask's messages cost by themselves)
            alone = []
            honest = [(st, a) for st, a, src in chosen if not src.startswith("hostile-")]
            for i, (st, a) in enumerate(honest[::max(1, len(honest) // max(args.alone, 1))][:args.alone]):
                one = work / f"alone-{i}" / "submitted" / st
                one.mkdir(parents=True)
                os.symlink(subs / st / a, one / a)
                s1 = grade(one.parent, scheduler=cluster.address, timeout=args.timeout, output=work / f"alone-{i}" / "out",
                           db_url=f"sqlite:///{work / 'gb-alone.db'}", root=ROOT, progress=False, log=lambda m: None)
                alone += s1.stats["tasks"]
        finally:
            cluster.close()

        # 3. the gradebook's write time per submission
        sample = s_local.results[::max(1, math.ceil(len(s_local.results) / max(args.write_sample, 1)))]
        w_sqlite = gradebook_write_times(work / "out-local", sample, f"sqlite:///{work / 'gb-write.db'}")
        with Postgres(durable=True) as pg:
            w_pg = gradebook_write_times(work / "out-local", sample, pg.url("gradebook"))

        # what came out
        want = {(s, a) for s, a, _ in chosen}
        lost = {m: want - {(r["student"], r["assignment"]) for r in s.results} for m, s in
                (("local", s_local), ("dask", s_dask))}
        broken = {(s, a) for s, a, src in chosen if src in ("hostile-invalid-json", "hostile-not-a-notebook",
                                                             "hostile-missing")}
        unexpected = {m: {(x[0], x[1]) for x in s.not_graded} ^ broken for m, s in
                      (("local", s_local), ("dask", s_dask))}
        same_csv = (work / "out-local" / "grades.csv").read_text() == (work / "out-dask" / "grades.csv").read_text()
        same_scores = scores(work / "out-local" / "grades.csv") == scores(work / "out-dask" / "grades.csv")
        stats = s_dask.stats
        latency = [lat - sec for lat, sec in zip(stats["latency"], stats["seconds"])]
        task_s = stats["seconds"]
        parts, gaps, ahead = dask_parts(stats["tasks"])
        overhead = parts["overhead"]

        print()
        print(f"{'mode':36s} {'wall s':>8s} {'subs/s':>8s}")
        print(f"{'local --workers 2':36s} {t_local:8.1f} {n / t_local:8.2f}")
        print(f"{'Dask, 2 worker processes':36s} {t_dask:8.1f} {n / t_dask:8.2f}")
        print("machine speed probe (a fixed Python loop, median of 5, ms; more is slower): before the local run "
              f"{probes[0] * 1000:.0f}, between the two runs {probes[1] * 1000:.0f}, after the Dask run "
              f"{probes[2] * 1000:.0f}")
        print(f"CPU, local run: {cpu_local}")
        print(f"CPU, Dask run: {cpu_dask}")
        local_s = (s_local.stats or {}).get("seconds") or [float("nan")]
        print(f"grading time per submission on a Dask worker: median {statistics.median(task_s):.3f} s, "
              f"mean {statistics.fmean(task_s):.3f} s, max {max(task_s):.1f} s; on a local worker (payload sent → "
              f"result back): median {statistics.median(local_s):.3f} s, mean {statistics.fmean(local_s):.3f} s")
        print(f"scheduler overhead per task (dispatch + return: submit → result at the client, minus grading and "
              f"minus waiting on the worker behind the task before it): median {statistics.median(overhead) * 1000:.1f} "
              f"ms, mean {statistics.fmean(overhead) * 1000:.1f} ms")
        above = max(sched_cpu - idle_rate * t_dask, 0.0)
        print(f"the scheduler process's CPU: {sched_cpu:.1f} s during the Dask run ({len(task_s)} tasks, connecting "
              f"and the course check included), of which its idle background ({100 * idle_rate:.2f} % of a core, "
              f"measured for {args.scheduler_idle:g} s before) {idle_rate * t_dask:.1f} s: "
              f"{above / max(len(task_s), 1) * 1000:.1f} ms per task above it "
              f"({sched_cpu / max(len(task_s), 1) * 1000:.1f} ms with it)")
        if alone:
            one = dask_parts(alone)[0]
            print(f"  the same, one submission at a time on the idle cluster ({len(alone)} gradings): median "
                  f"{statistics.median(one['overhead']) * 1000:.1f} ms, max {max(one['overhead']) * 1000:.1f} ms; "
                  "parts (medians, ms): " + ", ".join(f"{k} {statistics.median(one[k]) * 1000:.1f}" for k in
                                                      ("dispatch", "before", "after", "notice", "pickup", "fetch",
                                                       "decode")))
        ms = {k: statistics.median(v) * 1000 for k, v in parts.items()}
        print(f"  its parts (medians, ms; worker's and client's clocks): dispatch (submitted → on the worker) "
              f"{ms['dispatch']:.1f}, on the worker before grading {ms['before']:.1f}, after (result to JSON) "
              f"{ms['after']:.1f}, return notice (worker's end → client's done callback) {ms['notice']:.1f}, "
              f"client's loop picks it up {ms['pickup']:.1f}, result fetch {ms['fetch']:.1f}, JSON decode "
              f"{ms['decode']:.1f}")
        hops = scheduler_hops(stats["tasks"], log)
        if hops["client → scheduler"]:
            print("  the dispatch, by the scheduler's clock (medians, ms): " + ", ".join(
                f"{k} {statistics.median(v) * 1000:.1f}" for k, v in hops.items()) + f" ({len(hops['scheduler'])} tasks)")
        print(f"  not counted: waiting on the worker behind the task before it median {ms['queued']:.0f} ms; the "
              f"client building a payload (reading the files) median {ms['prepare']:.1f} ms; result size median "
              f"{statistics.median(parts['bytes']) / 1000:.0f} kB (max {max(parts['bytes']) / 1000:.0f} kB)")
        if gaps:
            print(f"worker idle between two tasks (one's end → the next's start, same worker process): median "
                  f"{statistics.median(gaps) * 1000:.1f} ms, mean {statistics.fmean(gaps) * 1000:.1f} ms, max "
                  f"{max(gaps) * 1000:.0f} ms; the next task was already waiting on the worker for {ahead} of "
                  f"{len(gaps)}")
        if stats["tasks"]:
            first = min(t["arrived"] for t in stats["tasks"])
            last = max(t["decoded"] for t in stats["tasks"])
            print(f"Dask run's {t_dask:.1f} s: {first - wall0:.1f} s before the first task reached a worker "
                  f"(connecting, the course check on the client and the workers, planning), {last - first:.1f} s "
                  f"from there to the last result, {wall1 - last:.1f} s after it (writing, the class's reports); "
                  f"the workers graded {sum(task_s) / (2 * (last - first)):.0%} of those {last - first:.1f} s")
        print(f"client's time from submitting a task to holding its result, minus grading (waiting behind the task "
              f"before it included): median {statistics.median(latency) * 1000:.0f} ms")
        print(f"gradebook write per submission ({len(sample)} of them, one at a time): SQLite median {statistics.median(w_sqlite) * 1000:.1f} ms "
              f"(mean {statistics.fmean(w_sqlite) * 1000:.1f}), PostgreSQL median "
              f"{statistics.median(w_pg) * 1000:.1f} ms (mean {statistics.fmean(w_pg) * 1000:.1f})")
        for label, peaks in (("local", peak_local), ("dask", peak_dask)):
            for who, (own, tree) in sorted(peaks.items()):
                print(f"peak memory {who}: worker {fmt_mb(own)}, with its sandbox and student processes "
                      f"{fmt_mb(tree)}")
        print(f"lost: local {len(lost['local'])}, dask {len(lost['dask'])}; not graded beyond the {len(broken)} "
              f"broken files: local {len(unexpected['local'])}, dask {len(unexpected['dask'])}")
        print(f"identical grades.csv: {same_csv}; identical scores: {same_scores}")

        # the table, on paper
        per_sub = statistics.fmean(task_s)                    # worker-seconds per submission
        write = max(statistics.fmean(w_sqlite), statistics.fmean(w_pg))
        tree_peak = max(t for _, t in list(peak_local.values()) + list(peak_dask.values()))
        total = 2000
        workers_needed = math.ceil(total * per_sub / args.target_seconds)
        print()
        print(f"Machines to grade {total} submissions in {args.target_seconds / 60:g} minutes — worked out on paper "
              "from the figures above, not measured:")
        print(f"  work: {total} × {per_sub:.2f} s (mean grading time per submission on one worker process, with "
              f"this mix of {args.hostile:.0%} hostile) = {total * per_sub:.0f} worker-seconds → "
              f"{workers_needed} worker processes busy for {args.target_seconds:g} s")
        print(f"  the client writes the gradebook alone: {total} × {write * 1000:.0f} ms = {total * write:.0f} s "
              f"({'fits' if total * write < args.target_seconds else 'does NOT fit'} in {args.target_seconds:g} s); "
              f"the scheduler adds {statistics.fmean(overhead) * 1000:.0f} ms per task, spread over the workers")
        print(f"  one worker process per core, {fmt_mb(tree_peak)} peak each with its sandbox "
              "(the --memory-mb limit bounds a student process at 4 GiB)")
        print(f"  {'cores per machine':>18s} {'machines':>9s} {'worker processes':>17s} {'memory per machine':>19s}")
        for cores in (2, 4, 8, 16, 32, 64):
            machines = math.ceil(workers_needed / cores)
            print(f"  {cores:18d} {machines:9d} {machines * cores:17d} {fmt_mb(cores * tree_peak):>19s}")
        ok = same_csv and not any(lost.values()) and not any(unexpected.values())
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
