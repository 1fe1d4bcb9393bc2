"""Grading on a real Dask cluster (`tnn-course grade --scheduler`): a `dask scheduler` and two
`dask worker` processes on 127.0.0.1, started here.

* a subset of the example class with every kind of submission, graded on the cluster, gets
  exactly expected.json's grades (the whole class: a ``full`` test, ``python3 workbook.py test
  -m full``);
* the same results, byte for byte, as local `--workers 2` (on a subset: the session's grading
  of the example class, ``example_class_run`` of conftest.py);
* a worker killed (by its PID) while it grades a submission: the submission is graded again
  on another worker, nothing is lost, the results are the same;
* a submission during which two workers die is `grader-error`, alone;
* a submission waiting on a worker (queued ahead) behind one that kills it twice, or behind
  one the watchdog gives up, is graded;
* a worker with a different course is refused, by name, and grades nothing;
* a client killed half-way resumes: what it had graded is kept, the rest is graded.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from autograder.runners.grade import grade
from dask_tools import Cluster
from grading_tools import PY, ROOT, grades_by_student, tnn_course

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "tests" / "fixtures" / "example_class"
EXPECTED = json.loads((EXAMPLES / "expected.json").read_text())["students"]
BROKEN = {"hostile-invalid-json", "hostile-not-a-notebook", "hostile-missing", "hostile-deep-json"}
SLOW = ("hostile-loop", "00_backprop")      # an endless loop: ~20 s of cell time limits
TIMEOUT = 10


def link_class(dest: Path, pairs) -> Path:
    for student, aid in pairs:
        (dest / student).mkdir(parents=True, exist_ok=True)
        os.symlink(EXAMPLES / "submitted" / student / aid, dest / student / aid)
    return dest


# a few of each kind, the slow one in the middle
SMALL = [("correct", "00_backprop"), ("partial", "02_batchnorm"), ("blank", "03_dropout"), SLOW,
         ("uses-reference", "05_optimizers"), ("hostile-edited-test", "00_backprop"),
         ("hostile-invalid-json", "00_backprop"), ("correct", "07_training")]
# compared with local workers: honest ones of every assignment, quick hostile ones
LOCAL = [("correct", a) for a in sorted(EXPECTED["correct"])] + \
    [("partial", "01_divergences"), ("adam-no-bias-correction", "05_optimizers")] + \
    [(s, "00_backprop") for s in ("hostile-deleted-test", "hostile-reordered", "hostile-output", "hostile-widget",
                                  "hostile-not-a-notebook")] + \
    [(s, a) for s, aids in sorted(EXPECTED.items()) if s in ("hostile-tamper-channel-fake-reply",
                                                            "hostile-tamper-ref-importlib") for a in aids]
# The suite grades a subset on the cluster: every kind of submission (every assignment's correct
# answer, blank, partial and misconception answers, hostile ones), what the other tests compare;
# the whole example class is graded locally once per session (conftest.py) and on the cluster by
# the `full` test at the end of this file (317 submissions), as a release check.
ALL = sorted(set(SMALL) | set(LOCAL) | {("partial", "01_divergences"), ("partial", "06_regularization"),
                                         ("correct", "01_divergences"), ("blank", "04_initialization")})
WHOLE = sorted((s, a) for s, aids in EXPECTED.items() for a in aids)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    try:
        c.start_worker("w1")
        c.start_worker("w2")
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def on_cluster(cluster, tmp_path_factory):
    base = tmp_path_factory.mktemp("dask-class")
    subs = link_class(base / "submitted", ALL)
    summary = grade(subs, scheduler=cluster.address, timeout=TIMEOUT, output=base / "out",
                    db_url=f"sqlite:///{base / 'gradebook.db'}", root=ROOT, progress=False)
    return summary, base


def results_of(out: Path, pairs) -> dict:
    return {(s, a): (out / "results" / s / f"{a}.json").read_text() for s, a in pairs}


def _grades_as_expected(summary, out: Path, pairs) -> None:
    got = grades_by_student(out / "grades.csv")
    problems = []
    for student, aid in pairs:
        rows = {r["grade_id"]: (float(r["points"]), r["status"], r["misconception"])
                for r in got.get(student, []) if r["assignment"] == aid}
        want = {g: (e["points"], e["status"], e["misconception"]) for g, e in EXPECTED[student][aid].items()}
        if rows != want:
            problems.append(f"{student}/{aid}: {[(g, rows.get(g), want[g]) for g in want if rows.get(g) != want[g]]}")
    assert not problems, "\n".join(problems)
    assert {s for s, _, _ in summary.not_graded} == BROKEN & {s for s, _ in pairs} and summary.exit_status == 1
    # both workers graded, one task each at a time
    assert len(summary.stats["workers"]) == 2 and sum(summary.stats["workers"].values()) == len(pairs)


def test_every_kind_of_submission_grades_on_the_cluster_exactly_as_expected(cluster, on_cluster):
    summary, base = on_cluster
    _grades_as_expected(summary, base / "out", ALL)
    # the workers that grade no longer run Dask's statistical profiler (see CoursePlugin)
    from autograder.runners.dask_cluster import PROFILER_CALLBACKS
    with cluster.client() as c:
        running = c.run(lambda dask_worker, names=PROFILER_CALLBACKS: [
            n for n in names if n in dask_worker.periodic_callbacks and dask_worker.periodic_callbacks[n].is_running()])
    assert running and all(v == [] for v in running.values()), running
    # the malloc thresholds their nannies pinned (MALLOC_TRIM_THRESHOLD_) are unpinned: a 1 MiB
    # temporary reuses the heap

    def probe(dask_worker):
        import resource
        import numpy as np
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(200):
            a = np.ones(2**17)
            del a
        return os.environ.get("MALLOC_TRIM_THRESHOLD_"), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    with cluster.client() as c:
        probed = c.run(probe)
    assert len(probed) == 2, probed
    for pinned, faults in probed.values():
        assert pinned == "65536" and faults < 2000, probed


def test_a_workers_sandbox_is_kept_from_one_grading_run_to_the_next(cluster, on_cluster, tmp_path):
    """Each run registers the course's plugin again (Dask tears the one before down): the
    worker's grader and its warm sandbox are kept, so the next run's first submission needs
    no new sandbox."""
    def sandboxes(dask_worker):
        from autograder.runners import dask_cluster
        state = dask_cluster._STATE.get("state")
        if state is None:
            return None
        return id(state), sorted(z.proc.pid for z in state.grader._zygotes.values() if z.alive())

    def run(i):
        subs = link_class(tmp_path / f"run{i}" / "submitted", [("correct", "01_divergences")])
        summary = grade(subs, scheduler=cluster.address, timeout=TIMEOUT, output=tmp_path / f"run{i}" / "out",
                        db_url=f"sqlite:///{tmp_path / 'gradebook.db'}", root=ROOT, progress=False)
        assert summary.exit_status == 0
        with cluster.client() as c:
            return summary, c.run(sandboxes)

    first, after_first = run(1)
    (graded_by,) = first.stats["workers"]
    assert after_first[graded_by] is not None and after_first[graded_by][1], after_first
    _, after_second = run(2)
    # the worker that graded run 1 kept its state and its sandbox, whichever worker graded run 2
    assert after_second[graded_by] == after_first[graded_by], (after_first, after_second)
    assert all(after_second[w][0] == after_first[w][0] for w in after_first if after_first[w]), (after_first,
                                                                                                  after_second)


def test_a_workers_state_is_made_again_for_other_settings_or_course_and_ends_with_the_worker():
    import types
    from autograder.runners import dask_cluster as dc
    from autograder.settings import Settings
    saved = dc._STATE.pop("state", None)
    made = []
    try:
        a, b = Settings(timeout=5).to_json(), Settings(timeout=6).to_json()
        made.append(dc._state(a, "fingerprint-1"))
        assert dc._state(a, "fingerprint-1") is made[0]
        made.append(dc._state(a, "fingerprint-2"))            # the course changed on this worker
        assert made[1] is not made[0] and not made[0].base.exists() and made[1].base.is_dir()
        made.append(dc._state(b, "fingerprint-2"))            # other settings
        assert made[2] is not made[1] and not made[1].base.exists()
        plugin = dc.CoursePlugin({"fingerprint": "fingerprint-2"})
        plugin.teardown(types.SimpleNamespace(status=types.SimpleNamespace(name="running")))   # replaced
        assert dc._STATE.get("state") is made[2] and made[2].base.is_dir()
        plugin.teardown(types.SimpleNamespace(status=types.SimpleNamespace(name="closing")))   # the worker ends
        assert dc._STATE.get("state") is None and not made[2].base.exists()
    finally:
        for state in made:
            state.close()
        dc._STATE.pop("state", None)
        if saved is not None:
            dc._STATE["state"] = saved


def test_a_dask_stream_is_quickened_and_nothing_else_is():
    from distributed.batched import BatchedSend
    from autograder.runners.dask_cluster import STREAM_INTERVAL, quicken
    stream = BatchedSend(interval="10ms")
    quicken(stream)
    assert stream.interval == STREAM_INTERVAL
    stream = BatchedSend(interval="0.5ms")
    quicken(stream)                                # never slower
    assert stream.interval == pytest.approx(0.0005)
    quicken(None)
    quicken(object())


@pytest.mark.timeout(3000)   # it may be the first to ask for the session's grading of the example class
def test_the_cluster_and_local_workers_give_identical_results(on_cluster, example_class_run, tmp_path):
    """LOCAL as the session's grading of the example class (two local workers, the same
    timeout) graded it; when that grading left some of them out (``TNN_EXAMPLES=subset``),
    LOCAL graded here with two local workers."""
    _, base = on_cluster
    pairs = LOCAL
    assert TIMEOUT == 10      # the session's grading's
    local_out = example_class_run["out"]
    if not all(a in example_class_run["pairs"].get(s, ()) for s, a in pairs):
        local_out = tmp_path / "out"
        subs = link_class(tmp_path / "submitted", pairs)
        grade(subs, workers=2, timeout=TIMEOUT, output=local_out, db_url=f"sqlite:///{tmp_path / 'gb.db'}",
              root=ROOT, progress=False)
    assert results_of(local_out, pairs) == results_of(base / "out", pairs)
    for s, a in pairs:
        local, remote = local_out / "feedback" / s / f"{a}.html", base / "out" / "feedback" / s / f"{a}.html"
        assert local.read_text() == remote.read_text(), (s, a)
        local, remote = (p / "autograded" / s / a / f"{a}.ipynb" for p in (local_out, base / "out"))
        assert local.is_file() == remote.is_file()
        if local.is_file():  # the same notebook, but for the random id nbgrader gives a test cell it puts back
            assert _without_ids(local) == _without_ids(remote), (s, a)


def _without_ids(path: Path) -> dict:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        cell.pop("id", None)
    return nb


def _grade_in_thread(cluster, subs, out, db):
    box = {}

    def run():
        try:
            box["summary"] = grade(subs, scheduler=cluster.address, timeout=TIMEOUT, output=out,
                                   db_url=f"sqlite:///{db}", root=ROOT, progress=False)
        except BaseException as err:  # noqa: BLE001 - re-raised by the test
            box["error"] = err
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def _kill_the_worker_grading(cluster, student, seen: set, timeout=240) -> str:
    """Wait until `student`'s task runs on a worker process not killed before, then kill that
    process with SIGKILL (its nanny starts a new one). Returns the address killed."""
    deadline = time.time() + timeout
    with cluster.client() as c:
        while time.time() < deadline:
            for addr, keys in c.processing().items():
                if addr in seen or not any(f"tnn-grade-{student}-" in str(k) for k in keys):
                    continue
                running = c.run(lambda dask_worker: [str(t.key) for t in dask_worker.state.executing],
                                workers=[addr]).get(addr, [])
                if any(f"tnn-grade-{student}-" in k for k in running):
                    pid = c.run(os.getpid, workers=[addr])[addr]
                    time.sleep(1.0)               # part-way through its first cells
                    os.kill(pid, signal.SIGKILL)
                    seen.add(addr)
                    return addr
            time.sleep(0.1)
    raise AssertionError(f"{student} was never seen running on a fresh worker")


def test_a_worker_killed_part_way_loses_nothing(cluster, on_cluster, tmp_path):
    _, base = on_cluster
    subs = link_class(tmp_path / "submitted", SMALL)
    thread, box = _grade_in_thread(cluster, subs, tmp_path / "out", tmp_path / "gb.db")
    killed = _kill_the_worker_grading(cluster, SLOW[0], set())
    thread.join(600)
    assert not thread.is_alive() and "error" not in box, box.get("error")
    summary = box["summary"]
    assert results_of(tmp_path / "out", SMALL) == results_of(base / "out", SMALL)
    assert {s for s, _, _ in summary.not_graded} == {"hostile-invalid-json"}
    assert summary.stats["graded_by"]["/".join(SLOW)] != killed, "graded again on another worker"
    cluster.wait_for(lambda info: len(info) == 2, "the nanny to restart the killed worker")


def test_a_submission_during_which_two_workers_die_is_a_grader_error_alone(cluster, on_cluster, tmp_path):
    """The test plays a submission that kills its worker: whichever worker grades the slow
    submission is killed, and again on the retry."""
    _, base = on_cluster
    subs = link_class(tmp_path / "submitted", SMALL)
    thread, box = _grade_in_thread(cluster, subs, tmp_path / "out", tmp_path / "gb.db")
    seen: set = set()
    _kill_the_worker_grading(cluster, SLOW[0], seen)
    _kill_the_worker_grading(cluster, SLOW[0], seen)
    thread.join(600)
    if thread.is_alive():  # say what the cluster is doing
        with cluster.client() as c:
            print("processing", c.processing(), "resources",
                  {a: (w.get("resources"), w.get("name")) for a, w in c.scheduler_info(n_workers=-1)["workers"].items()},
                  "used", c.run_on_scheduler(lambda dask_scheduler: {a: dict(ws.used_resources) for a, ws in
                                                                      dask_scheduler.workers.items()}),
                  "tasks", c.run_on_scheduler(lambda dask_scheduler: {str(k): (ts.state, ts.suspicious) for k, ts in
                                                                       dask_scheduler.tasks.items()}))
        for name in cluster.workers:
            print(name, cluster.log_text(name)[-1500:])
    assert not thread.is_alive() and "error" not in box, box.get("error")
    rows = grades_by_student(tmp_path / "out" / "grades.csv")
    assert {r["status"] for r in rows[SLOW[0]]} == {"grader-error"}
    others = [p for p in SMALL if p != SLOW]
    assert results_of(tmp_path / "out", others) == results_of(base / "out", others)
    assert sorted(s for s, _, _ in box["summary"].not_graded) == ["hostile-invalid-json", "hostile-loop"]
    page = (tmp_path / "out" / "feedback" / SLOW[0] / f"{SLOW[1]}.html").read_text()
    assert "Dask workers died 2 times" in page
    cluster.wait_for(lambda info: len(info) == 2, "the nannies to restart the killed workers")


@pytest.fixture
def one_worker(cluster, monkeypatch):
    """The cluster with w1 alone (w2 back afterwards), and one task queued ahead on it: each
    task behind the one graded waits on w1, the worker these tests kill or restart."""
    import autograder.runners.dask_cluster as dask_cluster
    monkeypatch.setattr(dask_cluster, "QUEUED_AHEAD", 1)
    cluster.wait_for(lambda info: len(info) == 2, "both workers")
    cluster.stop_worker("w2")
    try:
        yield cluster
    finally:
        cluster.start_worker("w2")
        cluster.wait_for(lambda info: len(info) == 2, "both workers")


def test_a_task_waiting_on_a_worker_that_dies_twice_is_graded(one_worker, on_cluster, tmp_path):
    """With one worker, the submission after the slow one waits on that worker behind it
    (each worker has one task queued ahead). The worker is killed twice while it grades the
    slow one: the slow one is a grader-error (two workers died grading it); the one that
    waited behind it through both deaths is graded, as if nothing happened (Dask counts a
    death against every task on the worker; the runner counts only the one being graded)."""
    _, base = on_cluster
    pairs = [SLOW, ("correct", "00_backprop"), ("partial", "02_batchnorm")]
    subs = link_class(tmp_path / "submitted", pairs)
    thread, box = _grade_in_thread(one_worker, subs, tmp_path / "out", tmp_path / "gb.db")
    seen: set = set()
    _kill_the_worker_grading(one_worker, SLOW[0], seen)
    _kill_the_worker_grading(one_worker, SLOW[0], seen)
    thread.join(600)
    assert not thread.is_alive() and "error" not in box, box.get("error")
    summary = box["summary"]
    assert [s for s, _, _ in summary.not_graded] == [SLOW[0]]
    assert "Dask workers died 2 times" in (tmp_path / "out" / "feedback" / SLOW[0] / f"{SLOW[1]}.html").read_text()
    assert results_of(tmp_path / "out", pairs[1:]) == results_of(base / "out", pairs[1:])
    one_worker.wait_for(lambda info: len(info) == 1, "the nanny to restart the killed worker")


def test_a_task_waiting_behind_one_the_watchdog_gives_up_is_graded(one_worker, tmp_path):
    """With one worker, the submission after the stuck one waits on that worker behind it
    (longer than the watchdog: its clock starts when it begins, not when it was sent). The
    watchdog gives up the stuck one and restarts the worker; the one behind it is graded on
    the restarted worker, as expected."""
    pairs = [SLOW, ("correct", "00_backprop"), ("partial", "02_batchnorm")]
    subs = link_class(tmp_path / "submitted", pairs)
    summary = grade(subs, scheduler=one_worker.address, timeout=900, budget=1800, output=tmp_path / "out",
                    db_url=f"sqlite:///{tmp_path / 'gb.db'}", root=ROOT, progress=False, worker_budget=30)
    assert [s for s, _, _ in summary.not_graded] == [SLOW[0]]
    assert "the watchdog" in (tmp_path / "out" / "feedback" / SLOW[0] / f"{SLOW[1]}.html").read_text()
    rows = grades_by_student(tmp_path / "out" / "grades.csv")     # other limits: other fingerprints
    for student, aid in pairs[1:]:
        assert {r["grade_id"]: (float(r["points"]), r["status"], r["misconception"]) for r in rows[student]} == \
            {g: (e["points"], e["status"], e["misconception"]) for g, e in EXPECTED[student][aid].items()}
    one_worker.wait_for(lambda info: len(info) == 1, "the restarted worker to come back")


def _other_course(tmp_path: Path, name: str, aid: str) -> Path:
    course = tmp_path / name
    shutil.copytree(ROOT / "solutions", course / "solutions")
    nb = course / "solutions" / aid / f"{aid}.ipynb"
    data = json.loads(nb.read_text())
    src = data["cells"][0]["source"]                  # one line more in one cell of one source notebook
    data["cells"][0]["source"] = src + "\n" if isinstance(src, str) else list(src) + ["\n"]
    nb.write_text(json.dumps(data, indent=1))
    return course


def test_a_worker_with_another_course_is_refused_by_name_and_grades_nothing(cluster, on_cluster, tmp_path):
    _, base = on_cluster
    cluster.start_worker("stranger", env={"TNN_COURSE_DIR": str(_other_course(tmp_path, "their-course", "03_dropout"))})
    try:
        pairs = [("correct", "00_backprop"), ("partial", "01_divergences"), ("blank", "04_initialization")]
        subs = link_class(tmp_path / "submitted", pairs)
        said: list = []
        summary = grade(subs, scheduler=cluster.address, timeout=TIMEOUT, output=tmp_path / "out",
                        db_url=f"sqlite:///{tmp_path / 'gb.db'}", root=ROOT, progress=False, log=said.append)
        refusals = [m for m in said if "refused Dask worker" in m]
        assert len(refusals) == 1 and "stranger" in refusals[0] and "source notebooks" in refusals[0], said
        stranger = next(a for a, w in cluster.workers_info().items() if w["name"] == "stranger")
        assert stranger in refusals[0] and stranger not in summary.stats["workers"]
        assert results_of(tmp_path / "out", pairs) == results_of(base / "out", pairs)
        # a client whose course no worker has: refused, with each worker named
        r = tnn_course("grade", subs, "--scheduler", cluster.address, "--course-dir",
                       _other_course(tmp_path, "yet-another", "04_initialization"), "--output", tmp_path / "o2", "--db",
                       f"sqlite:///{tmp_path / 'gb2.db'}", "-q")
        assert r.returncode == 2 and "no worker of the Dask cluster" in r.stderr, r.stderr
        assert all(n in r.stderr for n in ("w1", "w2", "stranger")), r.stderr
    finally:
        cluster.stop_worker("stranger")


def test_a_client_killed_half_way_resumes_with_nothing_graded_twice(cluster, on_cluster, tmp_path):
    _, base = on_cluster
    pairs = [p for p in SMALL if p != SLOW] + [("correct", "01_divergences"), ("partial", "06_regularization")]
    subs = link_class(tmp_path / "submitted", pairs)
    out = tmp_path / "out"
    cmd = [PY, "-m", "autograder.cli.main", "grade", subs, "--scheduler", cluster.address, "--output", out,
           "--db", f"sqlite:///{tmp_path / 'gb.db'}", "--timeout", str(TIMEOUT), "-q"]
    proc = subprocess.Popen([str(c) for c in cmd], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(ROOT),
                                                                TNN_COURSE_DIR=str(ROOT)))
    deadline = time.time() + 300
    while time.time() < deadline and len(list((out / "results").rglob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p: (p.read_text(), p.stat().st_mtime_ns) for p in (out / "results").rglob("*.json")}
    assert 2 <= len(done) < len(pairs), "the client was not stopped half-way"
    r = tnn_course("grade", subs, "--scheduler", cluster.address, "--output", out, "--db",
                   f"sqlite:///{tmp_path / 'gb.db'}", "--timeout", str(TIMEOUT), "-q")
    assert r.returncode == 1, r.stderr        # hostile-invalid-json is not graded
    assert f"({len(pairs) - len(done)} graded in this run, {len(done)} kept from an earlier one)" in r.stdout, \
        r.stdout
    assert all((p.read_text(), p.stat().st_mtime_ns) == v for p, v in done.items()), "kept results were redone"
    assert results_of(out, pairs) == results_of(base / "out", pairs)
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{tmp_path / 'gb.db'}") as gb:
        assert sorted((s.student_id, s.assignment.name) for a in {a for _, a in pairs}
                      for s in gb.assignment_submissions(a)) == sorted(pairs)


def test_the_budget_of_a_submission_holds_on_a_dask_worker(cluster, tmp_path):
    """The endless loop's submission with a cell limit far beyond its budget: the budget ends
    it on the Dask worker, it is graded (not a grader error), what was graded before keeps
    its points and the rest is `timeout`."""
    subs = link_class(tmp_path / "submitted", [SLOW])
    summary = grade(subs, scheduler=cluster.address, timeout=600, budget=15, output=tmp_path / "out",
                    db_url=f"sqlite:///{tmp_path / 'gb.db'}", root=ROOT, progress=False)
    assert not summary.not_graded, summary.not_graded
    result = json.loads((tmp_path / "out" / "results" / SLOW[0] / f"{SLOW[1]}.json").read_text())
    cells = result["notebooks"][SLOW[1]]["cells"]
    want = EXPECTED[SLOW[0]][SLOW[1]]
    assert {c["status"] for c in cells} <= {"passed", "timeout"}
    assert any("budget" in c["message"] for c in cells if c["status"] == "timeout")
    for c in cells:   # whatever was graded was graded right
        if c["status"] == "passed":
            assert want[c["grade_id"]]["status"] == "passed" and c["points"] == want[c["grade_id"]]["points"]


def test_a_stuck_dask_task_is_given_up_by_the_watchdog(cluster, tmp_path):
    """A task that runs past the watchdog (here the endless loop with a cell limit and a
    budget far beyond it) does not keep the client waiting: it is a grader-error alone, its
    worker is restarted, and the other submission is graded as expected."""
    subs = link_class(tmp_path / "submitted", [SLOW, ("correct", "00_backprop")])
    summary = grade(subs, scheduler=cluster.address, timeout=900, budget=1800, output=tmp_path / "out",
                    db_url=f"sqlite:///{tmp_path / 'gb.db'}", root=ROOT, progress=False, worker_budget=30)
    assert [s for s, _, _ in summary.not_graded] == [SLOW[0]]
    rows = grades_by_student(tmp_path / "out" / "grades.csv")
    assert {r["status"] for r in rows[SLOW[0]]} == {"grader-error"}
    assert {r["grade_id"]: float(r["points"]) for r in rows["correct"]} == \
        {g: e["points"] for g, e in EXPECTED["correct"]["00_backprop"].items()}
    page = (tmp_path / "out" / "feedback" / SLOW[0] / f"{SLOW[1]}.html").read_text()
    assert "the watchdog" in page
    cluster.wait_for(lambda info: len(info) == 2, "the restarted worker to come back")


@pytest.mark.full
@pytest.mark.timeout(3000)
def test_the_whole_example_class_grades_on_the_cluster_exactly_as_expected(cluster, tmp_path):
    """Every submission of the example class (317) on the cluster: exactly expected.json's
    grades (the default run grades ALL, a subset of every kind, above)."""
    cluster.wait_for(lambda info: len(info) == 2, "both workers")
    subs = link_class(tmp_path / "submitted", WHOLE)
    summary = grade(subs, scheduler=cluster.address, timeout=TIMEOUT, output=tmp_path / "out",
                    db_url=f"sqlite:///{tmp_path / 'gb.db'}", root=ROOT, progress=False)
    _grades_as_expected(summary, tmp_path / "out", WHOLE)
