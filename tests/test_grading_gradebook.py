"""The gradebook is the record: one grading at a time, runs killed part-way, repair, manual
grades kept — with a SQLite gradebook and a PostgreSQL one (a throwaway server).

A small class of the example class's ``01_divergences`` (three students with different
scores) is graded once, undisturbed, per gradebook kind: its ``grades.csv`` is the truth the
disturbed runs are compared with. After every disturbance, the gradebook (read with
nbgrader's own API), the result files and ``grades.csv`` must say the same for every
student, and ``grades.csv`` must be the undisturbed run's."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grading_tools import PY, ROOT, grades_by_student, tnn_course

pytestmark = pytest.mark.slow

AID = "01_divergences"
EXAMPLES = ROOT / "tests" / "fixtures" / "example_class" / "submitted"
STUDENTS = ("correct", "partial", "kl-arguments-swapped")
KILLER = Path(__file__).with_name("kill_at_write.py")
GRADE_ARGS = ("--workers", "2", "--timeout", "10", "-q")
ENV = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{Path(__file__).parent}")


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------
def make_class(base: Path) -> Path:
    subs = base / "submitted"
    for s in STUDENTS:
        (subs / s).mkdir(parents=True, exist_ok=True)
        if not (subs / s / AID).exists():
            os.symlink(EXAMPLES / s / AID, subs / s / AID)
    return subs


def start(*args, tool=None) -> subprocess.Popen:
    """`tnn-course ARGS` in a session of its own (optionally under kill_at_write.py)."""
    cmd = [PY, str(KILLER), *map(str, tool), "--"] if tool else [PY, "-m", "autograder.cli.main"]
    cmd += [str(a) for a in args]
    return subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV)


def finish(proc: subprocess.Popen, timeout=900) -> subprocess.CompletedProcess:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"tnn-course did not finish: {err[-3000:]}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def holds_lock(out: Path, pid: int) -> bool:
    try:
        rec = json.loads((out / ".tnn-grade.lock").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return rec.get("pid") == pid and not rec.get("released")


def wait_until(pred, proc: subprocess.Popen, what: str, limit=600) -> None:
    """Poll `pred` while `proc` runs (the limit only stops a hung test)."""
    deadline = time.monotonic() + limit
    while not pred():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.1)


def results_of(out: Path) -> dict:
    return {p.parent.name: json.loads(p.read_text()) for p in (out / "results").glob(f"*/{AID}.json")}


def assert_record_agrees(out: Path, db_url: str, truth: Path) -> None:
    """gradebook = result files = grades.csv for every student, and grades.csv = the truth."""
    from nbgrader.api import Gradebook
    csv_rows = grades_by_student(out / "grades.csv")
    assert csv_rows == grades_by_student(truth)
    results = results_of(out)
    assert set(results) == set(csv_rows) == set(STUDENTS)
    with Gradebook(db_url) as gb:
        assert sorted(s.id for s in gb.students) == sorted(STUDENTS)
        for student in STUDENTS:
            res = {c["grade_id"]: float(c["points"]) for c in results[student]["notebooks"][AID]["cells"]}
            assert res == {r["grade_id"]: float(r["points"]) for r in csv_rows[student]}, student
            snb = gb.find_submission_notebook(AID, AID, student)
            assert {g.name: g.auto_score for g in snb.grades} == res, student
            # every row nbgrader's add_submission makes is there (SaveAutoGrades and formgrader need them)
            nb = snb.notebook
            assert len(snb.grades) == len(nb.grade_cells) + len(nb.task_cells), student
            assert len(snb.comments) == len(nb.solution_cells) + len(nb.task_cells), student
            assert gb.find_submission(AID, student).score == pytest.approx(sum(res.values())), student


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


# ----------------------------------------------------------------------------------------
# fixtures: a PostgreSQL server, and one undisturbed grading per gradebook kind
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg():
    from pg_tools import Postgres
    with Postgres(durable=False) as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def kind(request):
    return request.param


class Gradebooks:
    """New gradebooks of one kind."""

    def __init__(self, kind, pg, base: Path):
        self.kind, self.pg, self.base, self.n = kind, pg, base, 0

    def new(self) -> str:
        self.n += 1
        if self.kind == "sqlite":
            return sqlite_url(self.base / f"gradebook-{self.n}.db")
        return self.pg.url(f"gradebook_{self.n}")


@pytest.fixture(scope="module")
def undisturbed(kind, request, tmp_path_factory):
    """The class graded once with nothing in the way; the number of gradebook writes it made."""
    pg = request.getfixturevalue("pg") if kind == "postgresql" else None
    base = tmp_path_factory.mktemp(f"record-{kind}")
    subs = make_class(base)
    books = Gradebooks(kind, pg, base)
    db = books.new()
    count = base / "writes.txt"
    r = finish(start("grade", subs, "--db", db, "--output", base / "out", *GRADE_ARGS, tool=("count", count)))
    assert r.returncode == 0, r.stderr[-3000:]
    writes = int(count.read_text())
    truth = base / "out" / "grades.csv"
    scores = {st: sum(float(x["points"]) for x in rows) for st, rows in grades_by_student(truth).items()}
    assert len(set(scores.values())) == len(STUDENTS), scores   # three different scores: a mix-up would show
    assert_record_agrees(base / "out", db, truth)
    return {"kind": kind, "base": base, "subs": subs, "books": books, "db": db, "out": base / "out",
            "truth": truth, "writes": writes}


# ----------------------------------------------------------------------------------------
# the lock, on its own
# ----------------------------------------------------------------------------------------
HOLDER = """
import sys, time
from autograder.gradebook.lock import GradingLock
lock = GradingLock(sys.argv[1], sys.argv[2]).acquire()
print("held", flush=True)
sys.stdin.readline()
lock.release()
"""


def hold(out: Path, db_url: str) -> subprocess.Popen:
    p = subprocess.Popen([PY, "-c", HOLDER, str(out), db_url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, env=ENV)
    assert p.stdout.readline().strip() == "held"
    return p


def test_a_held_lock_names_its_holder_and_a_dead_holder_is_taken_over(tmp_path):
    from autograder.gradebook.lock import GradingLock, GradingLocked
    db = sqlite_url(tmp_path / "gradebook.db")
    holder = hold(tmp_path / "out", db)
    with pytest.raises(GradingLocked) as err:
        GradingLock(tmp_path / "out", db).acquire()
    assert f"PID {holder.pid} on host {socket.gethostname()}" in str(err.value) and "--wait" in str(err.value)
    # another output folder, the same gradebook: the gradebook's own lock file
    with pytest.raises(GradingLocked) as err:
        GradingLock(tmp_path / "other", db).acquire()
    assert f"the gradebook {tmp_path / 'gradebook.db'}" in str(err.value) and f"PID {holder.pid}" in str(err.value)
    assert not list((tmp_path / "other").glob("*.json"))
    holder.kill()                     # SIGKILL: no release, the record stays
    holder.wait()
    rec = json.loads((tmp_path / "out" / ".tnn-grade.lock").read_text())
    assert rec["pid"] == holder.pid and "released" not in rec
    said = []
    lock = GradingLock(tmp_path / "out", db, log=said.append).acquire()
    assert any(f"took over the stale lock" in s and f"PID {holder.pid} is not running" in s for s in said), said
    assert json.loads((tmp_path / "out" / ".tnn-grade.lock").read_text())["pid"] == os.getpid()
    lock.release()
    assert json.loads((tmp_path / "out" / ".tnn-grade.lock").read_text())["released"]


def test_stale_records_on_this_host_are_taken_over_and_other_hosts_are_respected(tmp_path):
    from autograder.gradebook.lock import GradingLock, GradingLocked, _proc_start, me
    out, db = tmp_path / "out", sqlite_url(tmp_path / "gb.db")
    path = out / ".tnn-grade.lock"
    out.mkdir()
    dead = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    alive_pid = os.getppid()          # alive, but with another start time than recorded: a reused PID
    for rec, why in [(dict(me("x"), pid=dead_pid), f"PID {dead_pid} is not running"),
                     (dict(me("x"), pid=alive_pid, proc_start=str(int(_proc_start(alive_pid)) + 1)),
                      f"PID {alive_pid} now belongs to another process"),
                     (dict(me("x"), boot_id="another-boot"), "this machine has restarted since")]:
        path.write_text(json.dumps(rec))
        said = []
        GradingLock(out, db, log=said.append).acquire().release()
        assert any(why in s for s in said), (why, said)
    # a record of a run on another host: this host cannot see that process; never taken over
    path.write_text(json.dumps(dict(me("x"), host="grader-7.example.org", pid=4242)))
    with pytest.raises(GradingLocked) as err:
        GradingLock(out, db).acquire()
    assert "PID 4242 on host grader-7.example.org" in str(err.value) and f"delete {path}" in str(err.value)
    assert json.loads(path.read_text())["host"] == "grader-7.example.org"   # left as it was


def test_wait_waits_for_the_holder(tmp_path):
    import threading

    from autograder.gradebook.lock import GradingLock
    db = sqlite_url(tmp_path / "gradebook.db")
    holder = hold(tmp_path / "out", db)
    said, got = [], []
    t = threading.Thread(target=lambda: got.append(GradingLock(tmp_path / "out", db, wait=True, log=said.append,
                                                                poll=0.1).acquire()))
    t.start()
    while not said:                   # it says it waits, and for whom, before the holder lets go
        time.sleep(0.05)
    assert not got and f"PID {holder.pid}" in said[0] and said[0].startswith("tnn-course grade: waiting")
    holder.communicate("go\n")        # the holder releases
    t.join()
    assert got and json.loads((tmp_path / "out" / ".tnn-grade.lock").read_text())["pid"] == os.getpid()
    got[0].release()


def test_postgresql_advisory_lock_names_its_holder_and_ends_with_its_connection(pg, tmp_path):
    from autograder.gradebook.lock import GradingLock, GradingLocked
    db = pg.url("advisory")
    holder = hold(tmp_path / "a", db)
    with pytest.raises(GradingLocked) as err:    # another output folder: only the advisory lock is shared
        GradingLock(tmp_path / "b", db).acquire()
    assert "PostgreSQL advisory lock" in str(err.value)
    assert f"PID {holder.pid} on host {socket.gethostname()}" in str(err.value)
    holder.kill()                     # SIGKILL: its connection closes, the server lets the lock go
    holder.wait()
    said = []
    GradingLock(tmp_path / "b", db, wait=True, poll=0.1, log=said.append).acquire().release()


def test_scheduler_runs_take_the_same_lock(tmp_path):
    """The lock comes before the choice of local workers or Dask: a ``--scheduler`` run is
    refused by a held lock before it contacts any scheduler."""
    subs = make_class(tmp_path)
    db = sqlite_url(tmp_path / "gradebook.db")
    holder = hold(tmp_path / "out", db)
    r = tnn_course("grade", subs, "--db", db, "--output", tmp_path / "other", "--scheduler", "tcp://127.0.0.1:9")
    holder.communicate("go\n")
    assert r.returncode == 3, r.stderr
    assert f"PID {holder.pid}" in r.stderr and "the gradebook" in r.stderr


# ----------------------------------------------------------------------------------------
# two gradings at once
# ----------------------------------------------------------------------------------------
def test_two_runs_at_once_each_started_first(undisturbed):
    u = undisturbed
    subs, db, out_a, out_b = u["subs"], u["db"], u["out"], u["base"] / "out-b"
    run_a = ("grade", subs, "--db", db, "--output", out_a, "--regrade", *GRADE_ARGS)
    run_b = ("grade", subs, "--db", db, "--output", out_b, *GRADE_ARGS)
    gradebook_lock = "PostgreSQL advisory lock" if u["kind"] == "postgresql" else "the gradebook"
    for first_args, first_out, second_args, second_out in [(run_a, out_a, run_b, out_b), (run_b, out_b, run_a, out_a)]:
        before = {p: p.stat().st_mtime_ns for p in (second_out / "results").rglob("*.json")} \
            if second_out.exists() else {}
        first = start(*first_args)
        wait_until(lambda: holds_lock(first_out, first.pid), first, "the first run holding its lock")
        second = finish(start(*second_args))
        assert second.returncode == 3, second.stderr[-3000:]
        assert f"PID {first.pid} on host {socket.gethostname()}" in second.stderr and gradebook_lock in second.stderr
        after = {p: p.stat().st_mtime_ns for p in (second_out / "results").rglob("*.json")} \
            if second_out.exists() else {}
        assert after == before, "the refused run wrote results"
        r = finish(first)
        assert r.returncode == 0, r.stderr[-3000:]
        assert_record_agrees(first_out, db, u["truth"])
    # the same output folder and gradebook: a run with --wait waits for the first, then goes on
    first = start(*run_a)
    wait_until(lambda: holds_lock(out_a, first.pid), first, "the first run holding its lock")
    waiter = start("grade", subs, "--db", db, "--output", out_a, "--wait", *GRADE_ARGS)
    r = finish(first)
    w = finish(waiter)
    assert r.returncode == 0 and w.returncode == 0, (r.stderr[-2000:], w.stderr[-2000:])
    assert f"waiting: the output folder {out_a} is being graded by another `tnn-course grade` (PID {first.pid}" \
        in w.stderr
    assert f"0 graded in this run, {len(STUDENTS)} kept" in w.stdout
    assert_record_agrees(out_a, db, u["truth"])


# ----------------------------------------------------------------------------------------
# manual grading during a run
# ----------------------------------------------------------------------------------------
def test_manual_grades_given_during_a_run_are_kept(undisturbed):
    """A TA grades by hand (nbgrader's Gradebook API, what formgrader calls) while a
    ``--regrade`` records every submission again: the manual scores, extra credit and
    comments stay, the autograder's scores are the result files'."""
    from nbgrader.api import Gradebook

    from autograder.gradebook.writer import prepare
    prepare()                          # the TA's process waits for SQLite's writer like ours
    u = undisturbed
    out, db = u["out"], u["db"]
    old = {p: p.stat().st_mtime_ns for p in (out / "results").rglob("*.json")}
    run = start("grade", u["subs"], "--db", db, "--output", out, "--regrade", "--workers", "1", "--timeout", "10",
                "-q")
    wait_until(lambda: holds_lock(out, run.pid), run, "the run holding its lock")
    manual = {}

    def give(student: str, k: int) -> None:
        with Gradebook(db) as gb:
            snb = gb.find_submission_notebook(AID, AID, student)
            g = sorted(snb.grades, key=lambda g: g.name)[k]
            c = sorted(snb.comments, key=lambda c: c.name)[k]
            g.manual_score, g.extra_credit = 0.25 + k, 0.5
            c.manual_comment = f"seen by a TA ({student}, {k})"
            gb.db.commit()
            manual[(student, g.name, c.name)] = (g.manual_score, g.extra_credit, c.manual_comment)

    give(STUDENTS[0], 0)                           # before any submission is recorded again
    wait_until(lambda: any(p.stat().st_mtime_ns != t for p, t in old.items()), run, "a submission graded again")
    for k, student in enumerate(STUDENTS):         # while the others are graded and recorded
        give(student, k + 1)
    r = finish(run)
    assert r.returncode == 0, r.stderr[-3000:]
    assert all(p.stat().st_mtime_ns != t for p, t in old.items()), "the run did not record everything again"
    results = results_of(out)
    with Gradebook(db) as gb:
        for (student, gname, cname), (score, extra, comment) in manual.items():
            snb = gb.find_submission_notebook(AID, AID, student)
            g = next(x for x in snb.grades if x.name == gname)
            c = next(x for x in snb.comments if x.name == cname)
            points = next(x["points"] for x in results[student]["notebooks"][AID]["cells"] if x["grade_id"] == gname)
            assert (g.manual_score, g.extra_credit, c.manual_comment) == (score, extra, comment), student
            assert g.auto_score == points and g.score == score + extra
    # the manual grades are the graders' own: the comparison with the result files is of autograder scores
    v = tnn_course("grade", "--verify", "--db", db, "--output", out)
    assert v.returncode == 0 and "agrees with the result files of all 3" in v.stdout, v.stdout + v.stderr
    with Gradebook(db) as gb:                     # remove them again for the tests after this one
        for (student, gname, cname) in manual:
            snb = gb.find_submission_notebook(AID, AID, student)
            for g in snb.grades:
                g.manual_score, g.extra_credit, g.needs_manual_grade = None, None, False
            for c in snb.comments:
                c.manual_comment = None
        gb.db.commit()
    assert_record_agrees(out, db, u["truth"])


# ----------------------------------------------------------------------------------------
# runs killed part-way
# ----------------------------------------------------------------------------------------
# where in the run's gradebook writes the SIGKILL comes: spread over the run, differently per kind
KILL_AT = {"sqlite": (0.04, 0.5, 0.9), "postgresql": (0.15, 0.6, 0.97)}


def test_runs_killed_inside_gradebook_writes_are_repaired_by_a_rerun(undisturbed):
    """Fresh gradings of the class, each SIGKILLed (process group: grader, workers,
    sandboxes) right after its Nth gradebook write statement, before that transaction
    commits — N spread from the source cells' writes at the start to the last submission's
    — then the same command again, plain."""
    u = undisturbed
    assert u["writes"] > 20, u["writes"]
    for i, fraction in enumerate(KILL_AT[u["kind"]]):
        n = max(1, int(fraction * u["writes"]))
        db, out = u["books"].new(), u["base"] / f"killed-{i}"
        args = ("grade", u["subs"], "--db", db, "--output", out, *GRADE_ARGS)
        killed = finish(start(*args, tool=("kill", n)))
        assert killed.returncode == -signal.SIGKILL, (n, killed.stderr[-3000:])
        held = json.loads((out / ".tnn-grade.lock").read_text())
        assert "released" not in held                 # a crash leaves its lock file behind ...
        r = tnn_course(*args, timeout=900)
        assert r.returncode == 0, (n, r.stderr[-3000:])
        assert f"took over the stale lock {out / '.tnn-grade.lock'}" in r.stderr   # ... and the rerun takes it
        assert f"PID {held['pid']} is not running" in r.stderr
        assert_record_agrees(out, db, u["truth"])


# ----------------------------------------------------------------------------------------
# the comparison and repair, and --verify
# ----------------------------------------------------------------------------------------
def _copy(u: dict, name: str) -> tuple[str, Path]:
    """A copy of the undisturbed gradebook and output folder."""
    base = u["base"] / name
    shutil.copytree(u["out"], base / "out", symlinks=True)
    if u["kind"] == "sqlite":
        import sqlite3
        src = sqlite3.connect(u["db"].removeprefix("sqlite:///"))
        dst = sqlite3.connect(base / "gradebook.db")
        src.backup(dst)
        dst.close()
        src.close()
        return sqlite_url(base / "gradebook.db"), base / "out"
    import psycopg
    pg = u["books"].pg
    with psycopg.connect(host="127.0.0.1", port=pg.port, user="tnn", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{u["db"].rsplit("/", 1)[1]}"')
    return f"postgresql://tnn@127.0.0.1:{pg.port}/{name}", base / "out"


def _refuse_writes(db: str) -> None:
    """Make the gradebook refuse updates of grades and new comments (a trigger)."""
    if db.startswith("sqlite"):
        import sqlite3
        con = sqlite3.connect(db.removeprefix("sqlite:///"))
        con.execute("CREATE TRIGGER no_grades BEFORE UPDATE ON grade BEGIN SELECT RAISE(ABORT, 'read-only'); END")
        con.execute("CREATE TRIGGER no_comments BEFORE INSERT ON comment BEGIN SELECT RAISE(ABORT, 'read-only'); END")
        con.commit()
        con.close()
        return
    from sqlalchemy import create_engine, text
    engine = create_engine(db)
    with engine.begin() as conn:
        conn.execute(text("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'read-only'; END $$ "
                          "LANGUAGE plpgsql"))
        conn.execute(text("CREATE TRIGGER no_grades BEFORE UPDATE ON grade FOR EACH ROW EXECUTE FUNCTION refuse()"))
        conn.execute(text("CREATE TRIGGER no_comments BEFORE INSERT ON comment FOR EACH ROW EXECUTE FUNCTION "
                          "refuse()"))
    engine.dispose()


def _damage(db: str, student: str) -> None:
    """What two runs at once did to s00: a task comment gone, the scores of others."""
    from nbgrader.api import Gradebook
    with Gradebook(db) as gb:
        snb = gb.find_submission_notebook(AID, AID, student)
        gb.db.delete(sorted(snb.comments, key=lambda c: c.name)[0])
        for g in snb.grades:
            g.auto_score = 0.0 if g.auto_score else 1.0
        gb.db.commit()


def test_verify_repairs_a_damaged_gradebook_and_names_what_it_cannot(undisturbed):
    from nbgrader.api import Gradebook, MissingEntry
    u = undisturbed
    db, out = _copy(u, "verify")
    _damage(db, "correct")
    with Gradebook(db) as gb:                        # and one submission gone altogether
        gb.remove_submission(AID, "partial")
    with pytest.raises(MissingEntry):               # nbgrader's own writer now fails, as in the report
        from autograder.gradebook.writer import record
        from autograder.course import nbgrader_config
        res = results_of(out)["correct"]
        record(res, lambda name: out / "autograded" / "correct" / AID / f"{name}.ipynb", db, res["timestamp"],
               nbgrader_config(ROOT, db))
    v = tnn_course("grade", "--verify", "--db", db, "--output", out)
    assert v.returncode == 0, v.stdout + v.stderr
    assert "recorded again 2 submission(s)" in v.stdout and "correct/01_divergences" in v.stdout
    assert "partial/01_divergences (no submission in the gradebook)" in v.stderr
    assert_record_agrees(out, db, u["truth"])
    # grades.csv is made from the result files: a damaged one is written again
    (out / "grades.csv").write_text((out / "grades.csv").read_text().replace(",1,1,passed", ",0,1,passed", 1))
    v = tnn_course("grade", "--verify", "--db", db, "--output", out)
    assert v.returncode == 0 and "grades.csv was written again" in v.stdout, v.stdout + v.stderr
    assert_record_agrees(out, db, u["truth"])
    # what cannot be recorded again (its autograded notebook is gone) is named, exit 1
    _damage(db, "kl-arguments-swapped")
    shutil.rmtree(out / "autograded" / "kl-arguments-swapped")
    v = tnn_course("grade", "--verify", "--db", db, "--output", out)
    assert v.returncode == 1, v.stdout + v.stderr
    assert "NOT in the gradebook as graded: kl-arguments-swapped/01_divergences" in v.stderr
    assert "differs from the results of 1 student(s): kl-arguments-swapped" in v.stderr
    # a plain rerun grades that submission again (its result is not kept without it) and agrees
    r = tnn_course("grade", u["subs"], "--db", db, "--output", out, *GRADE_ARGS)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "1 graded in this run, 2 kept" in r.stdout
    assert_record_agrees(out, db, u["truth"])


def test_a_run_whose_gradebook_cannot_be_repaired_exits_1_naming_the_students(undisturbed):
    """No "kept … but could not record it" with exit 0: a gradebook that refuses the writes
    (here: triggers refuse updates of grades and new comments) fails the run, naming the students."""
    u = undisturbed
    db, out = _copy(u, "readonly")
    _damage(db, "correct")
    _refuse_writes(db)
    r = tnn_course("grade", u["subs"], "--db", db, "--output", out, *GRADE_ARGS)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "could not record correct/01_divergences in the gradebook" in r.stderr
    assert "differs from the results of 1 student(s): correct;" in r.stderr
    assert "kept correct" not in r.stderr
