"""One grading at a time per output folder and per gradebook.

``tnn-course grade`` (local workers, ``--scheduler`` and ``--verify`` alike) takes, before it
reads a result file or touches the gradebook:

* **a lock file** ``DIR/.tnn-grade.lock`` for its output folder and, for a SQLite gradebook,
  ``<gradebook>.tnn-grade.lock`` beside the database file. The file is never deleted; it is
  held with ``flock``, which the kernel releases when the holding process ends however it
  ends (SIGKILL included), and it says who holds it: PID, host, start time, the process's
  start tick and the machine's boot id. A lock whose holder is gone is *stale*: it is taken
  over when its host is this host and its PID is not running (or now belongs to another
  process, or the machine rebooted since). A lock recorded by another host is never taken
  over automatically: this host cannot see that process (delete the file once that run is
  known to be gone).
* **a PostgreSQL advisory lock** (``pg_try_advisory_lock``) when the gradebook is PostgreSQL,
  held by a connection of its own for the whole run, so it covers runs on other machines
  and ends with the run's connection (a killed run's connection is closed by its kernel).
  The holding connection's ``application_name`` says which run holds it.

A second run finds the lock held, says by whom, and stops (:class:`GradingLocked`), or,
with ``wait=True``, tries again every second until the holder is done.
"""
from __future__ import annotations

import datetime
import errno
import fcntl
import hashlib
import json
import os
import socket
import time
from pathlib import Path

LOCK_NAME = ".tnn-grade.lock"
# the advisory lock's key: one 64-bit number for "tnn-course grade", per database
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"tnn-course grade: the gradebook").digest()[:8], "big", signed=True)
APP_PREFIX = "tnn-course grade"


class GradingLocked(RuntimeError):
    """Another grading holds the output folder or the gradebook."""


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _proc_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat): a PID
    reused by a later process has another."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def me(what: str) -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "boot_id": _boot_id(),
            "proc_start": _proc_start(os.getpid()),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "what": what}


def describe(rec: dict) -> str:
    return f"PID {rec.get('pid')} on host {rec.get('host')}, started {rec.get('started')}"


def stale_reason(rec: dict) -> str | None:
    """Why the holder recorded in `rec` is gone, or None when it may still be running."""
    if rec.get("host") != socket.gethostname():
        return None
    if rec.get("boot_id") and _boot_id() and rec["boot_id"] != _boot_id():
        return "this machine has restarted since"
    if rec.get("pid") == os.getpid():
        return "it was left by this process"
    pid = rec.get("pid")
    if not isinstance(pid, int) or not pid_running(pid):
        return f"PID {pid} is not running"
    if rec.get("proc_start") and _proc_start(pid) and rec["proc_start"] != _proc_start(pid):
        return f"PID {pid} now belongs to another process"
    return None


_HELD: set = set()   # the descriptors that hold this process's locks (a lock file, a PostgreSQL socket)


def held_descriptors() -> list:
    """The file descriptors holding the locks this process has taken: a process forked from
    it must not keep them (a lock would outlive this process while that one runs)."""
    return sorted(_HELD)


class FileLock:
    """The lock file at `path` (see the module docstring)."""

    def __init__(self, path: Path, what: str):
        self.path = Path(path)
        self.what = what
        self.fd: int | None = None
        self.took_over: str | None = None     # the stale holder taken over, said once

    def _read(self, fd: int) -> dict:
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
        try:
            rec = json.loads(data.decode()) if data.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            rec = {}
        return rec if isinstance(rec, dict) else {}

    def try_acquire(self) -> dict | None:
        """Take the lock; returns None, or the record of the run that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            rec = self._read(fd)
            os.close(fd)
            return rec or {"pid": "?", "host": "?", "started": "?"}
        rec = self._read(fd)
        if rec.get("pid") is not None and not rec.get("released"):
            why = stale_reason(rec)
            if why is None:
                # flock says free, the record says held: a holder on another host (or a file
                # system without flock); respect the record
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                return rec
            self.took_over = f"took over the stale lock {self.path} of {describe(rec)} ({why})"
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(me(self.what), indent=1).encode() + b"\n")
        os.fsync(fd)
        self.fd = fd
        _HELD.add(fd)
        return None

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            rec = self._read(self.fd)
            rec["released"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)
            os.write(self.fd, json.dumps(rec, indent=1).encode() + b"\n")
        finally:
            _HELD.discard(self.fd)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def busy_message(self, rec: dict) -> str:
        other = "" if rec.get("host") in (socket.gethostname(), "?") else (
            f"; that host's process cannot be checked from here: if that run is gone, delete {self.path}")
        return f"{self.what} is being graded by another `tnn-course grade` ({describe(rec)}; lock {self.path}){other}"


class AdvisoryLock:
    """``pg_try_advisory_lock`` on the PostgreSQL gradebook, on a connection of its own."""

    def __init__(self, db_url: str):
        self.db_url = db_url
        self.engine = None
        self.conn = None
        self.fd = None

    def try_acquire(self) -> dict | None:
        from sqlalchemy import create_engine, text  # slow import (see AUTHORING.md)
        from sqlalchemy.pool import NullPool  # slow import (see AUTHORING.md)
        rec = me("the gradebook")
        app = f"{APP_PREFIX} pid={rec['pid']} host={rec['host']}"[:63]
        self.engine = create_engine(self.db_url, poolclass=NullPool,
                                    connect_args={"application_name": app})
        self.conn = self.engine.connect()
        got = self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        self.conn.commit()
        if got:
            try:
                self.fd = self.conn.connection.dbapi_connection.fileno()
                _HELD.add(self.fd)
            except Exception:  # noqa: BLE001 - a driver without fileno(): nothing to hand over
                self.fd = None
            return None
        holder = self.conn.execute(text(
            "SELECT a.application_name, a.backend_start, a.client_addr FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid = :hi AND l.objid = :lo"),
            {"hi": (ADVISORY_KEY >> 32) & 0xFFFFFFFF, "lo": ADVISORY_KEY & 0xFFFFFFFF}).first()
        self.conn.commit()
        self._close()
        if holder is None:
            return {"pid": "?", "host": "?", "started": "?"}
        fields = dict(part.split("=", 1) for part in (holder[0] or "").split() if "=" in part)
        return {"pid": fields.get("pid", "?"), "host": fields.get("host", str(holder[2] or "?")),
                "started": holder[1].astimezone().isoformat(timespec="seconds") if holder[1] else "?"}

    def _close(self) -> None:
        _HELD.discard(getattr(self, "fd", None))
        self.fd = None
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None
                self.engine.dispose()

    def release(self) -> None:
        if self.conn is None:
            return
        from sqlalchemy import text  # slow import (see AUTHORING.md)
        try:
            self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            self.conn.commit()
        finally:
            self._close()

    def busy_message(self, rec: dict) -> str:
        return (f"the PostgreSQL gradebook {_safe_url(self.db_url)} is being graded by another `tnn-course grade` "
                f"({describe(rec)}; PostgreSQL advisory lock {ADVISORY_KEY})")


def _safe_url(db_url: str) -> str:
    try:
        from sqlalchemy.engine import make_url  # slow import (see AUTHORING.md)
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:
        return "(gradebook)"


def sqlite_path(db_url: str) -> Path | None:
    from sqlalchemy.engine import make_url  # slow import (see AUTHORING.md)
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


def locks_for(output: Path, db_url: str) -> list:
    """The locks a grading of `output` into `db_url` takes, in the order it takes them."""
    from sqlalchemy.engine import make_url  # slow import (see AUTHORING.md)
    locks: list = [FileLock(Path(output) / LOCK_NAME, f"the output folder {output}")]
    db = sqlite_path(db_url)
    if db is not None:
        locks.append(FileLock(db.with_name(db.name + ".tnn-grade.lock"), f"the gradebook {db}"))
    elif make_url(db_url).get_backend_name() == "postgresql":
        locks.append(AdvisoryLock(db_url))
    return locks


class GradingLock:
    """All the locks of a grading, taken together or not at all."""

    def __init__(self, output: Path, db_url: str, wait: bool = False, log=None, poll: float = 1.0):
        self.locks = locks_for(output, db_url)
        self.wait = wait
        self.log = log or (lambda msg: None)
        self.poll = poll
        self.held: list = []

    def acquire(self) -> "GradingLock":
        said = None
        while True:
            busy = None
            for lock in self.locks:
                rec = lock.try_acquire()
                if rec is not None:
                    busy = lock.busy_message(rec)
                    break
                if getattr(lock, "took_over", None):
                    self.log(f"tnn-course grade: {lock.took_over}")
                    lock.took_over = None
                self.held.append(lock)
            if busy is None:
                return self
            self.release()
            if not self.wait:
                raise GradingLocked(f"{busy}. Wait for it to finish, or run again with --wait")
            if busy != said:
                self.log(f"tnn-course grade: waiting: {busy}")
                said = busy
            time.sleep(self.poll)

    def release(self) -> None:
        while self.held:
            self.held.pop().release()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
