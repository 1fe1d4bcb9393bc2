"""Grading on a Dask distributed cluster: ``tnn-course grade SUBMISSIONS --scheduler tcp://HOST:PORT``.

One Dask task per submission. Each task runs the same grade-one path as a local worker
(:meth:`autograder.runners.worker.Grader.grade_task`), in a Dask worker process that keeps one
:class:`~autograder.runners.worker.Grader` (and so one warm sandbox) for its lifetime.

* **No shared file system.** The submitted files travel inside the task, as bytes. A worker
  needs the course installed (this checkout, or the same course directory and package):
  it reads the source notebooks from its own copy. What the client's gradebook recorded of
  the source (what nbgrader's ``OverwriteCells`` restores test cells from) travels with each
  task: a worker keeps no gradebook and imports no nbgrader.
* **The same course everywhere.** The client registers :class:`CoursePlugin`; on every
  worker, and on any worker that joins or restarts later, it compares a fingerprint of the
  worker's source notebooks, ``tnn_lib`` and grader (:func:`course_identity`) with the
  client's. A worker that matches gets the Dask resource :func:`resource_name`, and the
  client sends its tasks to the workers holding it; a worker that differs never gets it,
  and the client says which worker it refused and what differs. Each task checks the
  fingerprint again before grading: a task that lands on a refused worker is refused there
  and sent again, so a refused worker grades nothing.
* **Only data comes back.** A task returns a JSON string: the result the worker's grader
  produced from its own evaluation (the student's code ran in that worker's sandbox and
  reached the grader as data only, as with local workers). Dask moves that string between
  processes it trusts (its own pickling of a ``str``); nothing from a student process is
  ever pickled or unpickled.
* **The client alone writes.** Results come back to :func:`autograder.runners.grade.grade`, whose
  writer thread writes the result files and the gradebook as with local workers.
* **No worker waits between two submissions.** The client keeps one task per checked
  worker running and :data:`QUEUED_AHEAD` more waiting on it (for the class's last tasks,
  one per worker), so a worker starts its next submission the moment it ends one, without
  a round trip to the client; the client fetches each result as Dask tells it the task
  ended, and only then sends the next (with ``QUEUED_AHEAD = 0``, the next first).
* **Workers that die.** When a worker dies with a task, the scheduler runs it again on
  another worker; the scheduler's ``allowed-failures`` is set to 1 for this, so a
  submission that costs two workers ends as ``KilledWorker`` and is a ``grader-error`` for
  that submission alone. Dask counts a death against every task on that worker, the one
  waiting behind the one graded too; each task tells the client (a Dask event, pushed) when
  it begins, and the client counts only the deaths of workers that had begun grading it: a
  submission that was waiting is sent again, under a new key. A task whose preferred
  workers all left (Dask keeps it in ``no-worker`` even when another checked worker joins)
  is sent again the same way. The watchdog's clock of a task starts when it begins.
"""
from __future__ import annotations

import asyncio
import glob
import hashlib
import importlib.metadata
import json
import os
import queue
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import autograder
import tnn_lib
from autograder.course import course_root, source_notebooks
from autograder.defaults import GRADER_VERSION
from autograder.runners.worker import Grader, prepare_process
from autograder.sandbox.launch import clean_after
from autograder.settings import Settings

IGNORED_PARTS = {"__pycache__", ".ipynb_checkpoints", "examples"}
ALLOWED_FAILURES = 1          # a submission may be lost with one worker, not with two
# tasks waiting on each worker behind the one it grades: 1 removes the worker's idle time
# between two tasks (2.5 ms median against 10-23 ms with 0); 0 sends a worker its next task
# when Dask says the last one ended (INSTRUCTORS.md, section 5, for the throughput runs)
QUEUED_AHEAD = 1
ACCEPTED_TOPIC = "tnn-course-accepted"
PROFILER_CALLBACKS = ("profile", "profile-cycle")   # the worker's periodic callbacks stopped (CoursePlugin)
STREAM_INTERVAL = 0.001      # seconds: the client's stream to the scheduler (see DaskRunner)


def quicken(stream) -> None:
    """A Dask ``BatchedSend`` sending after at most :data:`STREAM_INTERVAL` (its
    ``interval``, seconds); anything else is left alone."""
    if stream is not None and isinstance(getattr(stream, "interval", None), float):
        stream.interval = min(stream.interval, STREAM_INTERVAL)


RESTART_SECONDS = 120.0       # what a worker restarted by the watchdog may take to come back


# ----------------------------------------------------------------------------------------
# the course's fingerprint
# ----------------------------------------------------------------------------------------
def _tree_hash(folder: Path, suffixes: tuple[str, ...] | None = None) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if not p.is_file() or IGNORED_PARTS & set(rel.parts) or p.suffix in (".pyc", ".db"):
            continue
        if suffixes is not None and p.suffix not in suffixes:
            continue
        h.update(str(rel.as_posix()).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def course_identity(root: Path | str | None = None) -> dict:
    """What must be the same on the client and on every worker: a hash of the source
    notebooks (``solutions/``, with their data files), of ``tnn_lib`` and of the grader
    (the ``autograder`` package, its grading version, and the versions of Python, numpy
    and nbgrader it runs with), and one fingerprint of all three."""
    import numpy  # slow import (see AUTHORING.md)

    root = course_root(root)
    parts = {
        "source notebooks": _tree_hash(root / "solutions"),
        "tnn_lib": _tree_hash(Path(tnn_lib.__file__).resolve().parent, (".py",)),
        "grader": hashlib.sha256((_tree_hash(Path(autograder.__file__).resolve().parent, (".py", ".json", ".html"))
                                  + f"|{GRADER_VERSION}|python {sys.version_info[0]}.{sys.version_info[1]}"
                                  f"|numpy {numpy.__version__}|nbgrader {importlib.metadata.version('nbgrader')}").encode()).hexdigest(),
    }
    fingerprint = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return {"parts": parts, "fingerprint": fingerprint}


def resource_name(fingerprint: str) -> str:
    """The Dask resource that marks a worker checked for this course."""
    return f"tnn-course-{fingerprint[:16]}"


def differences(mine: dict, theirs: dict) -> list[str]:
    return [k for k in mine["parts"] if mine["parts"][k] != theirs.get("parts", {}).get(k)]


# ----------------------------------------------------------------------------------------
# the worker's side
# ----------------------------------------------------------------------------------------
try:
    from distributed.diagnostics.plugin import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover - distributed is a dependency
    _PluginBase = object


class CoursePlugin(_PluginBase):
    """Installed on every worker by the client: checks the worker's course against the
    client's and, when it matches, gives the worker the resource that marks it checked."""

    def __init__(self, expected: dict):
        self.expected = expected
        self.name = resource_name(expected["fingerprint"])   # one plugin per course version

    async def setup(self, worker):
        loop = asyncio.get_running_loop()
        try:
            mine = await loop.run_in_executor(None, course_identity)
            why = ""
        except Exception as err:  # a worker without the course: say so, grade nothing
            mine, why = {"parts": {}, "fingerprint": ""}, f"{type(err).__name__}: {err}"
        differs = differences(self.expected, mine)
        status = {"ok": not differs, "differs": differs, "why": why, "fingerprint": mine["fingerprint"],
                             "name": str(worker.name), "address": worker.address, "host": socket.gethostname(),
                             "pid": os.getpid()}
        if not hasattr(worker, "tnn_course"):
            worker.tnn_course = {}
        worker.tnn_course[self.expected["fingerprint"]] = status
        if not differs:
            # Dask's statistical profiler samples every thread's stack every 10 ms: on a worker
            # that grades (Python-heavy sanitising and checks in the task's thread) it cost
            # 5-10 % of the grading time per submission against a local worker. Off here (the
            # dashboard's profile page stays empty; DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED
            # does the same at the worker's start)
            for name in PROFILER_CALLBACKS:
                callback = getattr(worker, "periodic_callbacks", {}).get(name)
                if callback is not None:
                    callback.stop()
            await worker.set_resources(**{self.name: 1})
        else:
            worker.log_event("tnn-course-refused", status)

        # the client learns of a worker it may use at once (it asked the scheduler for the list
        # every 2 s, in its submitting path)
        if not differs:
            worker.log_event(ACCEPTED_TOPIC, {"fingerprint": self.expected["fingerprint"], "address": worker.address})

    def transition(self, key, start, finish, *args, **kwargs):
        """When a grading task reached this worker (its first state here): the task's
        dispatch time, measured apart from any time it then waits behind the task running."""
        if isinstance(key, str) and key.startswith("tnn-grade-") and key not in _ARRIVED:
            if len(_ARRIVED) > 1000:           # tasks stolen away or cancelled before they ran
                _ARRIVED.clear()
            _ARRIVED[key] = time.time()

    def teardown(self, worker):
        """The worker's state (its grader and warm sandbox) ends with the worker. Each grading
        run registers this plugin again, which tears down the one before: the state is kept
        then, and the next run's first submission needs neither a new state nor a new
        sandbox (:func:`_state` makes them again if the settings or the course changed)."""
        if not _closing(worker):
            return
        with _STATE_LOCK:
            state = _STATE.pop("state", None)
        if state is not None:
            state.close()


def worker_status(fingerprint: str, dask_worker=None) -> dict | None:
    """Run on each worker by the client: what the plugin found for this course."""
    return getattr(dask_worker, "tnn_course", {}).get(fingerprint)


class _WorkerState:
    """One per Dask worker process: the course and one Grader (one warm sandbox) for the
    settings of the run."""

    def __init__(self, settings: Settings):
        prepare_process()
        _clean_stale()
        self.settings = settings
        self.root = course_root()
        self.base = Path(tempfile.mkdtemp(prefix=f"tnn-dask-worker-{os.getpid()}-"))
        self.checked: set[str] = set()               # assignments found in this worker's course
        self.settings_json: dict | None = None        # the settings as sent (see _state)
        self.course = ""                              # the course's fingerprint as sent (see _state)
        self.grader = Grader(settings.replace(scratch_base=str(self.base / "scratch")))
        (self.base / "scratch").mkdir()
        self.lock = threading.Lock()

    def check(self, aid: str) -> None:
        if aid not in self.checked:
            if not source_notebooks(self.root, aid):
                raise ValueError(f"this worker's course ({self.root}) has no assignment {aid}")
            self.checked.add(aid)

    def close(self):
        self.grader.close()
        clean_after(self.base / "scratch")
        shutil.rmtree(self.base, ignore_errors=True)


_STATE: dict = {}
_STATE_LOCK = threading.Lock()
_ARRIVED: dict = {}          # task key -> when it reached this worker (time.time())


def _clean_stale() -> None:
    """Folders of Dask grading processes of this machine that died (killed workers)."""
    for d in glob.glob(os.path.join(tempfile.gettempdir(), "tnn-dask-worker-*-*")):
        try:
            pid = int(Path(d).name.split("-")[3])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            if Path(d, "scratch").is_dir():
                clean_after(Path(d, "scratch"))
            shutil.rmtree(d, ignore_errors=True)


def _state(settings: dict, course: str) -> _WorkerState:
    """The worker's state for these settings (as JSON: compared as sent, not rebuilt per task)
    and this course's fingerprint: kept from one grading run to the next while both are the
    same (its warm sandbox with it), made again when either changed."""
    with _STATE_LOCK:
        state = _STATE.get("state")
        if state is None or state.settings_json != settings or state.course != course:
            if state is not None:
                state.close()
            state = _STATE["state"] = _WorkerState(Settings.from_json(settings))
            state.settings_json, state.course = settings, course
        return state


def _closing(worker) -> bool:
    """Whether `worker` (a Dask worker) is shutting down, rather than having one of its
    plugins replaced."""
    status = getattr(getattr(worker, "status", None), "name", "")
    return status in ("stopping", "stopped", "closing", "closing_gracefully", "closed", "failed")


def grade_remote(task: str, *blobs: bytes) -> str:
    """The Dask task: grade one submission on this worker; returns a JSON string. `task` is
    the submission as JSON, each notebook's ``data`` the index in `blobs` of its file's bytes
    (None: no file).

    Before grading it tells the client, by a Dask event (pushed, no request), that this
    worker began it: the client's watchdog counts from there, and a worker's death counts
    against the submission it was grading only (not one queued behind it). The reply
    carries the worker's clock at the task's arrival, start, grading and end
    (``time.time()``), so that the client can split the scheduler's overhead into its parts."""
    began = time.time()
    task = json.loads(task)
    for info in task["notebooks"].values():
        info["data"] = None if info.get("data") is None else blobs[info["data"]]
    from distributed import get_worker  # slow import (see AUTHORING.md)
    worker = get_worker()
    arrived = _ARRIVED.pop(task["key"], began)
    status = getattr(worker, "tnn_course", {}).get(task["course"]) or {}
    if not status.get("ok") or status.get("fingerprint") != task["course"]:
        return json.dumps({"refused": {k: status.get(k) for k in ("name", "address", "host", "differs", "why")}})
    worker.log_event(task["topic"], [task["key"], worker.address])
    state = _state(task["settings"], task["course"])
    with state.lock:
        started = time.perf_counter()
        graded_from = time.time()
        state.check(task["assignment"])
        local = dict(task, source_dir=str(state.root / "solutions" / task["assignment"]))
        result = state.grader.grade_task(local)
        seconds = time.perf_counter() - started
        graded_to = time.time()
    body = json.dumps(result)
    meta = {"seconds": seconds, "worker": worker.address, "pid": os.getpid(),
            "clock": [arrived, began, graded_from, graded_to, time.time()]}
    return f'{{"meta": {json.dumps(meta)}, "result": {body}}}'


# ----------------------------------------------------------------------------------------
# the client's side
# ----------------------------------------------------------------------------------------
class _Flight:
    """A task in flight: its submission, its future, when it was submitted (the client's
    ``perf_counter`` and ``time.time()``), how long its payload took to build, and when its
    watchdog clock was last started again (0: never)."""
    __slots__ = ("task", "fut", "submitted", "wall", "prepare", "reset")

    def __init__(self, task, fut, submitted: float, wall: float, prepare: float):
        self.task, self.fut, self.submitted, self.wall, self.prepare, self.reset = \
            task, fut, submitted, wall, prepare, 0.0


class DaskRunner:
    """Runs grading tasks on a Dask cluster with the interface of
    :class:`autograder.runners.grade.WorkerPool`: ``run(tasks, payload, on_done, on_crash)``."""

    def __init__(self, address: str, settings: Settings, log, connect_timeout: float = 30.0,
                 watchdog: float | None = None):
        try:
            from distributed import Client  # slow import (see AUTHORING.md)
        except ImportError as err:  # pragma: no cover
            raise ValueError("--scheduler needs Dask distributed (pip install distributed)") from err
        if not isinstance(address, str) or "://" not in address:
            raise ValueError(f"--scheduler must be a Dask scheduler address such as tcp://HOST:8786, got {address!r}")
        self.log = log
        # what a worker grades with (the course and gradebook are the worker's own)
        self.settings = Settings(timeout=settings.timeout, budget=settings.budget, memory_mb=settings.memory_mb,
                                 max_output_bytes=settings.max_output_bytes)
        # a task that runs longer than this (its submission's budget normally ends it well
        # before) is given up: a grader-error for that submission, and its worker restarted
        self.watchdog = float(watchdog) if watchdog else self.settings.watchdog_seconds()
        self.identity = course_identity(settings.course)
        self.resource = resource_name(self.identity["fingerprint"])
        try:
            self.client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as err:
            raise ValueError(f"could not reach the Dask scheduler at {address}: {err}") from None
        # the client's stream to the scheduler sends a message at most every 10 ms after the
        # last (Dask's batching): a task submitted just after a release or a subscription
        # waited out the rest of those 10 ms (4-6 ms, most of its way to the scheduler).
        # Grading sends a few messages a second: this client's stream sends after 1 ms
        quicken(getattr(self.client, "scheduler_comm", None))
        self.settings_json = self.settings.to_json()
        # per task: "seconds" grading on its worker, "latency" from submission to its result at
        # the client (waiting behind another task included), "tasks" each one's clocks (_record)
        self.stats: dict = {"seconds": [], "latency": [], "workers": {}, "graded_by": {}, "tasks": []}
        self._refused: set = set()
        self._joined: list = []
        self.client.subscribe_topic("tnn-course-refused", lambda event: self._refusal(event[1]))
        self.client.subscribe_topic(ACCEPTED_TOPIC, lambda event: self._accepted(event[1]))
        # one retry on another worker, then KilledWorker (a lambda travels by value: the
        # scheduler needs no course installed)
        self.client.run_on_scheduler(lambda dask_scheduler, n=ALLOWED_FAILURES:
                                     setattr(dask_scheduler, "allowed_failures", n))
        plugin = CoursePlugin(self.identity)
        try:
            self.client.register_plugin(plugin, name=plugin.name)
        except Exception as err:  # a worker that cannot even load the grader
            self.client.close()
            raise ValueError(f"the Dask workers at {address} could not load the course's check ({type(err).__name__}: "
                             f"{err}); is this course installed on every worker?") from None
        statuses = self.client.run(worker_status, self.identity["fingerprint"], on_error="return")
        for addr, s in list(statuses.items()):
            if isinstance(s, BaseException):
                statuses[addr] = {"address": addr, "differs": ["course (it could not be checked)"],
                                  "why": f"{type(s).__name__}: {s}"}
        good = [a for a, s in statuses.items() if s and s.get("ok")]
        for addr, s in sorted(statuses.items()):
            if not (s and s.get("ok")):
                self._refusal(s or {"address": addr, "differs": ["(the check did not run)"]})
        if not good:
            self.client.close()
            raise ValueError(f"no worker of the Dask cluster at {address} has this course "
                             f"({len(statuses)} worker(s) refused; see above): install the same checkout on them")
        self.log(f"tnn-course grade: grading on {len(good)} Dask worker(s) at {address}")

    def _refusal(self, s: dict) -> None:
        key = s.get("address")
        if key in self._refused:
            return
        self._refused.add(key)
        what = ", ".join(s.get("differs") or []) or "?"
        why = f" ({s['why']})" if s.get("why") else ""
        self.log(f"tnn-course grade: refused Dask worker {s.get('name')} at {s.get('address')} on host "
                 f"{s.get('host')}: its {what} differ(s) from this course's{why}; it grades nothing "
                 "(install the same checkout there)")

    def _good_workers(self) -> list[str]:
        """The workers the plugin passed (those holding this course's resource)."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return sorted(a for a, w in info.items() if w.get("resources", {}).get(self.resource, 0) >= 1)

    def _accepted(self, msg) -> None:
        """A worker the plugin passed, pushed by the worker itself (one that joined or restarted)."""
        if isinstance(msg, dict) and msg.get("fingerprint") == self.identity["fingerprint"]:
            self._joined.append(msg.get("address"))

    def run(self, tasks, payload, on_done, on_crash):
        """Grade `tasks`: each checked worker grades one and has QUEUED_AHEAD more waiting
        on it, so that it starts the next the moment it ends one (no round trip to the
        client between two submissions)."""
        pending = list(tasks)
        pending.reverse()                       # pop() takes them in order
        # each task's future, put here by Dask the moment it ends (with the client's clock)
        ended: queue.Queue = queue.Queue()
        meta: dict = {}                         # key -> _Flight, the tasks in flight
        tries: dict = {}                        # id(task) -> keys it had (refusals, lost with workers)
        deaths: dict = {}                       # id(task) -> workers that died grading it, its earlier keys
        refusals: dict = {}
        run_id = secrets.token_hex(6)           # a new run never shares a task with a stopped one
        topic = f"tnn-began-{run_id}"
        began: dict = {}                        # key -> [(worker, client's perf_counter)], pushed by workers
        self.client.subscribe_topic(topic, lambda event: began.setdefault(event[1][0], []).append(
            (event[1][1], time.perf_counter())))
        good: list = [time.monotonic(), self._good_workers()]
        self._joined.clear()

        def good_workers() -> list:
            if self._joined:                    # pushed by a worker that joined or restarted
                good[1] = sorted(set(good[1]) | {self._joined.pop() for _ in range(len(self._joined))})
                joined[0] = True
            return good[1]

        def refresh() -> None:
            """The list from the scheduler (it also drops the workers that left), now and then
            and never between a task's end and the next submission; then the tasks left
            waiting for workers that left sent again."""
            good_workers()
            if time.monotonic() - good[0] > 10.0:
                good[:] = [time.monotonic(), self._good_workers()]
                joined[0] = bool(good[1])
            if joined[0] and meta:
                joined[0] = False
                self._send_again_stuck(meta, began, deaths, pending, on_crash)

        joined = [False]

        def capacity() -> int:
            """(1 + QUEUED_AHEAD) tasks in flight per checked worker, and one each for the
            class's last tasks (a task queued behind a long one would wait for it, or for
            Dask to move it, while another worker idles); with none (all restarting), wait
            for one."""
            waited = 0.0
            while not good_workers() and not meta:
                if waited == 0.0:
                    self.log("tnn-course grade: waiting for a Dask worker with this course")
                time.sleep(1.0)
                waited += 1.0
                good[:] = [time.monotonic(), self._good_workers()]
            n = len(good_workers())
            return max(1, (1 + QUEUED_AHEAD) * n if len(pending) > n else n)

        run = {"id": run_id, "topic": topic, "tries": tries, "meta": meta, "ended": ended, "pending": pending,
               "refusals": refusals, "deaths": deaths, "began": began, "release": []}

        def submit(task) -> None:
            self._submit(task, payload, run, good_workers())

        def fill() -> None:
            while pending and len(meta) < capacity():
                submit(pending.pop())

        def wait() -> float:
            """Seconds to wait for a task to end: until the watchdog's next deadline, at most 1."""
            first = min((self._clock(k, f, began) for k, f in meta.items()), default=time.perf_counter())
            return min(1.0, max(0.01, first + self.watchdog - time.perf_counter()))

        try:
            fill()
            while meta:                            # the tasks in flight (a given-up one is no longer)
                try:
                    fut, done_at = ended.get(timeout=wait())
                except queue.Empty:
                    self._give_up_overdue(meta, began, on_crash)
                    fill()
                    refresh()
                    fill()
                    continue
                if fut.key not in meta:           # given up by the watchdog: already reported
                    fut.release()
                    continue
                flight = meta.pop(fut.key)
                if not QUEUED_AHEAD:              # its worker is free: its next task first
                    fill()
                self._settle(fut, flight, done_at, run, on_done, on_crash)
                began.pop(fut.key, None)
                self._give_up_overdue(meta, began, on_crash)     # also while other tasks keep ending
                fill()
                self._release(run)
                refresh()
                fill()
        finally:
            self._release(run)
            try:
                self.client.unsubscribe_topic(topic)
            except Exception:
                pass

    @staticmethod
    def _release(run: dict) -> None:
        """The results fetched, released on the workers once the next tasks are sent (see _settle)."""
        done, run["release"] = run["release"], []
        for fut in done:
            fut.release()

    def _submit(self, task, payload, run: dict, workers: list) -> None:
        """Send one submission: its files as bytes, the course's fingerprint, the settings, the
        key of this try and the topic its worker says it began on."""
        t0 = time.perf_counter()
        body = payload(task)
        blobs = []     # the notebooks' files, as bytes; the task's "data" says which one is whose
        for info in body["notebooks"].values():
            path = info.pop("path")
            info["data"] = None if not path else len(blobs)
            if path:
                blobs.append(Path(path).read_bytes())
        tries = run["tries"]
        tries[id(task)] = tries.get(id(task), 0) + 1
        key = f"tnn-grade-{task.student}-{task.assignment}-{run['id']}-{tries[id(task)]}"
        body.update(course=self.identity["fingerprint"], settings=self.settings_json, key=key, topic=run["topic"])
        body.pop("source_dir", None)
        # the checked workers, as a preference: a task must never wait for a worker that
        # left (a restarted worker has a new address); one that lands elsewhere is refused
        # there by grade_remote's own check and sent again
        # the task as one JSON string and flat bytes: Dask walks the arguments of a task for
        # references to other tasks, on the client and again on the scheduler (on an idle
        # cluster, 60,000 numbers in a list reached the scheduler 2 ms later than as bytes)
        fut = self.client.submit(grade_remote, json.dumps(body), *blobs, key=key, pure=False, retries=0,
                                 workers=workers or None, allow_other_workers=True)
        run["meta"][fut.key] = _Flight(task, fut, time.perf_counter(), time.time(), time.perf_counter() - t0)
        ended = run["ended"]
        fut.add_done_callback(lambda f: ended.put((f, time.time())))

    def _settle(self, fut, flight, done_at: float, run: dict, on_done, on_crash) -> None:
        """A task that ended: its result recorded; refused, or lost with a worker it was only
        waiting on, sent again; else reported for its submission alone."""
        from distributed.scheduler import KilledWorker  # slow import (see AUTHORING.md)
        task = flight.task
        if fut.status == "finished":
            picked = time.time()
            text = fut.result()
            fetched = time.time()
            # released after the next submission went out (see run): the client batches what it
            # sends the scheduler, at most one batch per 10 ms, and a release sent first would
            # hold the next task back until that batch's 10 ms were over
            run["release"].append(fut)
            reply = json.loads(text)
            decoded = time.time()
            if "refused" in reply:
                self._refusal(reply["refused"])
                run["refusals"][id(task)] = run["refusals"].get(id(task), 0) + 1
                if run["refusals"][id(task)] <= 3:
                    run["pending"].append(task)
                else:
                    on_crash(task, "every worker that took it refused it: its course differs")
            else:
                m = reply["meta"]
                self._record(task, flight, m, len(text), done_at, picked, fetched, decoded)
                on_done(task, reply["result"])
        elif fut.status == "cancelled":
            raise RuntimeError(f"the Dask scheduler lost the task of {task.student}/{task.assignment} (was "
                               "it restarted?); run the same command again to go on where it stopped")
        else:
            err = fut.exception()
            fut.release()
            if isinstance(err, KilledWorker):
                # the scheduler counts a death against every task on that worker, the
                # one waiting behind the one graded too: only those it was grading count
                died = run["deaths"].get(id(task), 0) + len(run["began"].get(fut.key, ()))
                run["deaths"][id(task)] = died
                if died > ALLOWED_FAILURES:
                    on_crash(task, f"Dask workers died {died} times while grading it")
                elif run["tries"][id(task)] > ALLOWED_FAILURES + 3:
                    on_crash(task, f"the Dask workers it was sent to died or were restarted "
                                   f"{run['tries'][id(task)]} times ({died} while grading it)")
                else:                     # it was waiting on a worker that died: again
                    run["pending"].append(task)
            else:
                on_crash(task, f"{type(err).__name__}: {err}")

    def _record(self, task, flight, m: dict, size: int, done_at: float, picked: float, fetched: float,
                decoded: float) -> None:
        """Where the time of one task went (the worker's clock and the client's: one machine
        in the benchmark; across machines their offset shows in the dispatch and the return notice)."""
        arrived, began, graded_from, graded_to, end = m["clock"]
        s = self.stats
        s["seconds"].append(m["seconds"])
        s["latency"].append(time.perf_counter() - flight.submitted)
        s["workers"][m["worker"]] = s["workers"].get(m["worker"], 0) + 1
        s["graded_by"][f"{task.student}/{task.assignment}"] = m["worker"]
        s["tasks"].append({"key": flight.fut.key, "pid": m["pid"], "worker": m["worker"], "prepare": flight.prepare,
                           "submitted": flight.wall, "arrived": arrived, "began": began,
                           "graded_from": graded_from, "graded_to": graded_to, "end": end, "done": done_at,
                           "picked": picked, "fetched": fetched, "decoded": decoded, "result_bytes": size})

    def _send_again_stuck(self, meta: dict, began: dict, deaths: dict, pending: list, on_crash) -> None:
        """A task whose preferred workers have all left waits in Dask's ``no-worker`` state
        even when another worker with this course joins (Dask checks a joining worker against
        the list, not the fallback): such a task runs nowhere, and is sent again with a new
        key and today's list. Each time it began under the old key counts as a worker that
        died grading it."""
        keys = list(meta)
        try:
            stuck = self.client.run_on_scheduler(
                lambda dask_scheduler, keys=keys: [k for k in keys if k in dask_scheduler.tasks
                                                   and dask_scheduler.tasks[k].state == "no-worker"])
        except Exception:
            return
        for key in stuck:
            flight = meta.pop(key, None)
            if flight is None:
                continue
            try:
                flight.fut.cancel()
            except Exception:
                pass
            task = flight.task
            died = deaths.get(id(task), 0) + len(began.pop(key, ()))
            deaths[id(task)] = died
            if died > ALLOWED_FAILURES:
                on_crash(task, f"Dask workers died {died} times while grading it")
            else:
                pending.append(task)

    def _clock(self, key, flight, began: dict) -> float:
        """Since when `key` counts against the watchdog: since it began on its worker (a task
        waiting behind another is not overdue: that one has its own watchdog); one never seen
        to begin, as if it began once the tasks ahead of it had all used their watchdog, and
        a worker had been restarted."""
        b = began.get(key)
        since = b[-1][1] if b else flight.submitted + QUEUED_AHEAD * self.watchdog + RESTART_SECONDS
        return max(since, flight.reset)

    def _give_up_overdue(self, meta: dict, began: dict, on_crash) -> None:
        """The watchdog: a task running longer than :attr:`watchdog` is reported as a
        grader-error for its submission alone, cancelled, and the worker running it restarted
        (a thread stuck in a task cannot be stopped otherwise, and would hold that worker)."""
        now = time.perf_counter()
        for key, flight in list(meta.items()):
            if now - self._clock(key, flight, began) <= self.watchdog:
                continue
            task, fut = flight.task, flight.fut
            workers = []
            try:
                workers = [w for w, keys in self.client.processing().items() if key in keys]
            except Exception:
                pass
            b = began.get(key)
            if b and workers and b[-1][0] not in workers:
                # it began on a worker that died, and now waits on another: its clock starts again
                flight.reset = now
                continue
            meta.pop(key)
            try:
                fut.cancel()
            except Exception:
                pass
            if not b:   # it never began: no worker is stuck in it
                on_crash(task, f"no Dask worker began grading it in {now - flight.submitted:.0f} s; it was given up")
                continue
            if workers:
                self.log(f"tnn-course grade: {task.student}/{task.assignment} ran {self.watchdog:g} s on Dask worker "
                         f"{workers[0]}: given up, and that worker restarted")
                try:
                    self.client.restart_workers(workers, timeout=60, raise_for_error=False)
                except Exception as err:  # no nanny to restart it: it stays busy, the others go on
                    self.log(f"tnn-course grade: could not restart Dask worker {workers[0]}: {err}")
            on_crash(task, f"grading it took longer than {self.watchdog:g} s on a Dask worker (the watchdog); "
                           "it was stopped")

    def close(self):
        try:
            self.client.close()
        except Exception:
            pass
