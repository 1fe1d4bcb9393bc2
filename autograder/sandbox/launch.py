"""Start the student process in its sandbox, and end it with everything it started.

The sandbox is bubblewrap (Debian's ``bubblewrap``):

* no network (``--unshare-net``), its own PID, IPC and UTS namespaces, an unprivileged user
  (uid 65534) in its own user namespace, no capabilities;
* a read-only system: ``/usr``, ``/etc``, the Python installation and the environment's
  site-packages, nothing else of the host; the real ``tnn_lib`` and ``autograder``
  directories are hidden under empty directories even where they lie inside those;
* instead of them, a *runtime* directory (read-only): ``tnn_lib`` with the reference of
  every exercise of the assignment replaced by a stub that raises
  ``the reference of X is not available while grading``, a stub ``autograder.checks``
  (so that a released notebook's imports work; test cells never run here) and the
  student process's own code;
* an empty scratch directory as the working directory, holding a fresh copy of the
  assignment's data files, a small private ``/tmp``;
* limits on address space (memory), CPU time, file size and processes.

When the submission is done the sandbox's PID namespace is torn down: every process the
student's code started, including those that started their own session, is killed.

Where bubblewrap cannot run (another OS, no user namespaces) the student process runs
with the same limits but without file and network isolation, and :attr:`isolated` says so.
"""
from __future__ import annotations

import ast
import compileall
import hashlib
import json
import os
import resource
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import autograder
import tnn_lib
from autograder import defaults, checks
from autograder.catalogue import all_exercises
from autograder.sandbox.twins import twin_names
from autograder.sandbox import wire
from autograder.sandbox.peer import Peer

HERE = Path(__file__).resolve().parent
SANDBOX_FILES = ("__init__.py", "wire.py", "peer.py", "student.py")
UNAVAILABLE = "the reference of {name} is not available while grading"
SCRATCH_IN_SANDBOX = "/home/student"
RUNTIME_IN_SANDBOX = "/opt/tnn"


# ----------------------------------------------------------------------------------------
# the runtime directory: tnn_lib without the assignment's references
# ----------------------------------------------------------------------------------------
STUB_MODULE = '''"""Raised in the grader's sandbox by a reference that is not available there."""


class ReferenceUnavailable(RuntimeError):
    """The reference of an exercise of this assignment does not exist while grading."""
'''

def checks_stub() -> str:
    """A stand-in for :mod:`autograder.checks` inside the grader's sandbox, generated from
    ``checks.__all__``: graded test cells run in the grader, never here, so a notebook's
    imports of these names only need to succeed (a check defined later is never missing)."""
    out = ['"""A stand-in for autograder.checks inside the grader\'s sandbox.\n\nGraded test cells are run by '
           'the grader, in another process, never here; a notebook\'s\nimports of these names only need to '
           'succeed.\n"""\n']
    for name in checks.__all__:
        obj = getattr(checks, name)
        if isinstance(obj, type):
            base = next(b for b in obj.__mro__[1:] if b.__module__ == "builtins")
            out.append(f"\n\nclass {name}({base.__name__}):\n    pass\n")
        elif callable(obj):
            out.append(f"\n\ndef {name}(*args, **kwargs):\n    return True\n")
        else:
            raise TypeError(f"autograder.checks.__all__ names {name}, neither a class nor a function")
    return "".join(out)


def strip_references(source: str, names: set[str]) -> str:
    """`source` with the top-level functions (and classes) in `names` replaced by stubs that raise."""
    tree = ast.parse(source)
    body = []
    changed = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            stub = ast.parse(
                f"def {node.name}(*args, **kwargs):\n"
                f"    from tnn_lib._unavailable import ReferenceUnavailable\n"
                f"    raise ReferenceUnavailable({UNAVAILABLE.format(name=node.name)!r})\n").body[0]
            ast.copy_location(stub, node)
            body.append(stub)
            changed = True
        elif isinstance(node, ast.ClassDef) and node.name in names:  # a class exercise (ReduceLROnPlateau)
            stub = ast.parse(
                f"class {node.name}:\n"
                f"    def __init__(self, *args, **kwargs):\n"
                f"        from tnn_lib._unavailable import ReferenceUnavailable\n"
                f"        raise ReferenceUnavailable({UNAVAILABLE.format(name=node.name)!r})\n").body[0]
            ast.copy_location(stub, node)
            body.append(stub)
            changed = True
        else:
            body.append(node)
    if not changed:
        return source
    tree.body = body
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def references_of(exercises) -> dict[str, set[str]]:
    """{module file stem: {function names}} of the references of `exercises`, and of their
    near-twins (:data:`autograder.sandbox.twins.TWINS`: other callables of `tnn_lib` that
    reproduce an answer, such as ``optim._adam`` for ``adam_step``)."""
    known = all_exercises()
    out: dict[str, set[str]] = {}
    for name in exercises:
        ex = known.get(name)
        if ex is None:
            continue
        ref = ex.reference
        mod = getattr(ref, "__module__", "") or ""
        if mod.startswith("tnn_lib."):
            out.setdefault(mod.split(".", 1)[1].replace(".", "/"), set()).add(ref.__name__)
    for stem, names in twin_names(exercises).items():
        out.setdefault(stem, set()).update(names)
    return out


def build_runtime(exercises, cache_dir: Path | None = None) -> Path:
    """The runtime directory for an assignment whose exercises are `exercises` (cached by
    content: the same sources and exercises give the same directory)."""
    lib = Path(tnn_lib.__file__).resolve().parent
    refs = references_of(exercises)
    h = hashlib.sha256(repr(sorted((k, sorted(v)) for k, v in refs.items())).encode())
    files = sorted(p for p in lib.rglob("*.py") if "__pycache__" not in p.parts)
    for p in files + [HERE / f for f in SANDBOX_FILES]:
        h.update(str(p).encode() + p.read_bytes())
    h.update(sys.version.encode())
    base = Path(cache_dir or Path(tempfile.gettempdir()) / f"tnn-runtime-{os.getuid()}")
    target = base / h.hexdigest()[:20]
    if (target / ".complete").is_file():
        return target
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=_mkdir(base)))
    for p in files:
        rel = p.relative_to(lib)
        dest = tmp / "tnn_lib" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        stem = str(rel.with_suffix("")).replace(os.sep, "/")
        text = p.read_text(encoding="utf-8")
        dest.write_text(strip_references(text, refs[stem]) if stem in refs else text, encoding="utf-8")
    (tmp / "tnn_lib" / "_unavailable.py").write_text(STUB_MODULE)
    (tmp / "autograder").mkdir()
    (tmp / "autograder" / "__init__.py").write_text('"""Stand-in: the grader is not in the sandbox."""\n')
    (tmp / "autograder" / "checks.py").write_text(checks_stub())
    (tmp / "tnn_sandbox").mkdir()
    for f in SANDBOX_FILES:
        shutil.copy(HERE / f, tmp / "tnn_sandbox" / f)
    compileall.compile_dir(str(tmp), quiet=1, force=True)
    (tmp / ".complete").write_text("ok\n")
    for d, _, fs in os.walk(tmp):
        os.chmod(d, 0o755)
        for f in fs:
            os.chmod(os.path.join(d, f), 0o644)
    try:
        os.rename(tmp, target)
    except OSError:  # another worker built it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


# ----------------------------------------------------------------------------------------
# bubblewrap
# ----------------------------------------------------------------------------------------
_BWRAP_OK: bool | None = None


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def bwrap_works() -> bool:
    """Whether bubblewrap is installed and can create its namespaces here."""
    global _BWRAP_OK
    if _BWRAP_OK is None:
        exe = bwrap_path()
        if exe is None or os.environ.get("TNN_SANDBOX") == "off":
            _BWRAP_OK = False
        else:
            try:
                r = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-all", "--unshare-user", "--uid", "65534",
                                    "--die-with-parent", "--", "/bin/true"], capture_output=True, timeout=20)
                _BWRAP_OK = r.returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                _BWRAP_OK = False
    return _BWRAP_OK


def _python_roots() -> list[str]:
    """Directories the student's Python needs: the installation and the environment."""
    roots = set()
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
              os.path.dirname(os.path.realpath(sys.executable))):
        if p:
            roots.add(os.path.realpath(p))
            roots.add(os.path.abspath(p))
    roots = sorted(roots)
    # keep the outermost only
    out = []
    for r in roots:
        if not any(r != o and r.startswith(o.rstrip("/") + "/") for o in roots):
            out.append(r)
    return out


def _hidden_dirs() -> list[str]:
    """The real tnn_lib and autograder packages (and the course directory) if they are inside
    a directory the sandbox shows."""
    out = [os.path.dirname(os.path.realpath(tnn_lib.__file__)), os.path.dirname(os.path.realpath(autograder.__file__))]
    return out


def bwrap_command(runtime: Path, scratch: Path, fd: int, python: str, zygote: bool = False) -> list[str]:
    cmd = [bwrap_path(), "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
           "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    for d in ("/usr", "/etc"):
        cmd += ["--ro-bind", d, d]
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            cmd += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            cmd += ["--ro-bind", d, d]
    # the private /tmp first: the Python installation or the environment may live under /tmp
    # (a checkout in a temporary directory), and their binds must go on top of it
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(defaults.TMP_MB * 1024 * 1024), "--tmpfs", "/tmp"]
    roots = [r for r in _python_roots() if not r.startswith(("/usr/", "/etc/"))]
    for r in roots:
        cmd += ["--ro-bind", r, r]
    for d in _hidden_dirs():
        if any(d == r or d.startswith(r.rstrip("/") + "/") for r in roots + ["/usr", "/etc"]):
            cmd += ["--tmpfs", d, "--remount-ro", d]
    cmd += ["--ro-bind", str(runtime), RUNTIME_IN_SANDBOX,
            "--bind", str(scratch), SCRATCH_IN_SANDBOX, "--remount-ro", "/", "--chdir", SCRATCH_IN_SANDBOX,
            "--setenv", "TNN_SANDBOX_KEEP", ":".join(r for r in roots if r.startswith("/tmp/"))]
    args = ["zygote", str(fd), SCRATCH_IN_SANDBOX] if zygote else [str(fd)]
    cmd += ["--", python, "-I", "-c",
            f"import sys; sys.path.insert(0, {RUNTIME_IN_SANDBOX!r}); "
            f"from tnn_sandbox.student import main; main({args!r})"]
    return cmd


# ----------------------------------------------------------------------------------------
# the student process
# ----------------------------------------------------------------------------------------
BASE_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
            "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "TQDM_DISABLE": "1", "LANG": "C.UTF-8",
            "NBGRADER_EXECUTION": "autograde"}


class Limits:
    def __init__(self, memory_mb: int = defaults.MEMORY_MB, cpu_seconds: int = defaults.CPU_SECONDS,
                 processes: int = defaults.PROCESSES, file_mb: int = defaults.FILE_MB):
        self.memory_mb, self.cpu_seconds, self.processes, self.file_mb = memory_mb, cpu_seconds, processes, file_mb

    def apply(self):  # in the child, before exec
        if self.memory_mb > 0:
            lim = self.memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
        resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_seconds, self.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.file_mb * 1024 * 1024,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (self.processes, self.processes))
        except (ValueError, OSError):
            pass


class Cgroups:
    """A pids (and, where possible, memory) cgroup for one sandbox: every process it starts
    counts against ``pids.max``. RLIMIT_NPROC alone does not hold where grading runs as root,
    since the sandbox's user is root outside it, which the kernel exempts. Created when the
    cgroup file system lets us (cgroup v1 controllers or v2), else :attr:`dirs` is empty."""

    def __init__(self, processes: int, memory_mb: int, ledger: Path | None = None):
        self.dirs: list[str] = []
        self.ledger = ledger
        name = f"tnn-sandbox-{secrets.token_hex(8)}"
        for controller, settings in (("pids", {"pids.max": str(processes)}),
                                     ("memory", {"memory.limit_in_bytes": str((memory_mb + 512) << 20),
                                                 "memory.max": str((memory_mb + 512) << 20)})):
            base = _cgroup_base(controller)
            if base is None:
                continue
            path = os.path.join(base, name)
            try:
                os.mkdir(path)
            except OSError:
                continue
            wrote = False
            for key, value in settings.items():
                try:
                    with open(os.path.join(path, key), "w") as f:
                        f.write(value)
                    wrote = True
                except OSError:
                    pass
            if wrote and os.path.exists(os.path.join(path, "cgroup.procs")):
                self.dirs.append(path)
                if self.ledger is not None:   # so that whoever cleans up after a killed worker finds it
                    with open(self.ledger, "a") as f:
                        f.write(path + "\n")
            else:
                _rmdir(path)

    @property
    def limits_processes(self) -> bool:
        return any(os.path.exists(os.path.join(d, "pids.max")) for d in self.dirs)

    def enter(self):  # in the child, before exec
        for d in self.dirs:
            try:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
            except OSError:
                pass

    def remove(self):
        for d in self.dirs:
            for _ in range(20):
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        pids = [int(x) for x in f.read().split()]
                except OSError:
                    pids = []
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                if _rmdir(d):
                    break
                time.sleep(0.05)
        self.dirs = []


def _cgroup_base(controller: str) -> str | None:
    """Our own cgroup's directory for `controller` (v1), or of the v2 hierarchy if it has it."""
    try:
        lines = open("/proc/self/cgroup").read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        if controller in ctrls.split(","):
            base = os.path.join("/sys/fs/cgroup", controller, path.lstrip("/"))
            return base if os.path.isdir(base) else None
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        if ctrls == "":
            for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
                base = os.path.join(root, path.lstrip("/"))
                try:
                    if controller in open(os.path.join(base, "cgroup.controllers")).read().split():
                        return base
                except OSError:
                    continue
    return None


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def wait_ready(proc, timeout: float) -> None:
    """Wait until a student process (`proc.peer`) says it is ready, at most `timeout` s."""
    if proc.ready:
        return
    proc.peer.deadline = time.monotonic() + timeout
    try:
        msg, _ = proc.peer.recv()
    finally:
        proc.peer.deadline = None
    if msg.get("op") != "ready":
        raise wire.WireError("the student process did not start properly")
    proc.namespaces = msg.get("namespaces") is True   # what it says of itself: for notes, never for a grade
    proc.ready = True


class StudentProcess:
    """One sandboxed student interpreter, reachable through :attr:`peer`."""

    def __init__(self, runtime: Path, data_dir: Path | None, limits: Limits, sandbox: bool | None = None,
                 startup_timeout: float = 60):
        self.isolated = bwrap_works() if sandbox is None else (sandbox and bwrap_works())
        self.scratch = Path(tempfile.mkdtemp(prefix="tnn-scratch-"))
        os.chmod(self.scratch, 0o777)
        if data_dir is not None:
            for f in Path(data_dir).iterdir():  # the assignment's data files
                if f.is_file() and f.suffix != ".ipynb":
                    shutil.copy(f, self.scratch)
        self.token = secrets.token_hex(16)
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()
        env = dict(BASE_ENV, HOME="/tmp" if self.isolated else str(self.scratch), MPLCONFIGDIR="/tmp/mpl"
                   if self.isolated else str(self.scratch / ".mpl"), IPYTHONDIR="/tmp/ipython" if self.isolated
                   else str(self.scratch / ".ipython"), TNN_SANDBOX_TOKEN=self.token,
                   PATH="/usr/local/bin:/usr/bin:/bin")
        if self.isolated:
            cmd = bwrap_command(runtime, self.scratch, fd, sys.executable)
            cwd = "/"
        else:
            cmd = [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(runtime)!r}); "
                   f"from tnn_sandbox.student import main; main([{str(fd)!r}])"]
            cwd = str(self.scratch)
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, pass_fds=(fd,), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=limits.apply, start_new_session=True)
        theirs.close()
        self.channel = wire.Channel(ours)
        self.peer = Peer(self.channel, "g", strict=True)
        self.started = time.monotonic()
        self.startup_timeout = startup_timeout
        self.ready = False

    def wait_ready(self):
        wait_ready(self, self.startup_timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None and not self.peer.broken

    def kill(self):
        """End the student process and every process it started."""
        self.channel.close()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if not self.isolated:
            kill_by_token(self.token)
        shutil.rmtree(self.scratch, ignore_errors=True)


def kill_by_token(token: str) -> int:
    """Without a PID namespace: kill every process whose environment carries `token` (the
    student's processes, including those that left the session). Returns how many."""
    needle = f"TNN_SANDBOX_TOKEN={token}".encode()
    killed = 0
    for _ in range(3):
        found = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        os.kill(int(entry), signal.SIGKILL)
                        found += 1
            except (OSError, ProcessLookupError):
                continue
        killed += found
        if not found:
            break
        time.sleep(0.05)
    return killed


# ----------------------------------------------------------------------------------------
# a warm sandbox that forks one child per submission
# ----------------------------------------------------------------------------------------
class Zygote:
    """One bubblewrap sandbox per worker, with numpy, matplotlib and IPython imported once.

    For each submission it forks a fresh child in a new, empty scratch directory
    (:meth:`fork`); afterwards :meth:`reap` has it kill every other process of the sandbox
    (``kill(-1)`` in its PID namespace) and empty its ``/tmp``. The zygote itself never
    runs student code and is not dumpable, so a child cannot trace it or read its memory; a
    child that kills or stops it only makes the grader start a new one.
    """

    def __init__(self, runtime: Path, limits: Limits, startup_timeout: float = 60, base: Path | None = None):
        self.runtime, self.limits = runtime, limits
        self.cgroups = Cgroups(limits.processes, limits.memory_mb,
                               ledger=Path(base) / "cgroups" if base is not None else None)
        self.scratch_root = Path(tempfile.mkdtemp(prefix="tnn-scratch-", dir=base))
        os.chmod(self.scratch_root, 0o755)
        self.token = secrets.token_hex(16)
        self.count = 0
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()
        env = dict(BASE_ENV, HOME="/tmp", MPLCONFIGDIR="/tmp/mpl", IPYTHONDIR="/tmp/ipython",
                   TNN_SANDBOX_TOKEN=self.token, PATH="/usr/local/bin:/usr/bin:/bin")
        def enter():
            self.cgroups.enter()
            limits.apply()

        self.proc = subprocess.Popen(bwrap_command(runtime, self.scratch_root, fd, sys.executable, zygote=True),
                                     cwd="/", env=env, pass_fds=(fd,), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=enter, start_new_session=True)
        theirs.close()
        self.sock = ours
        self.buf = b""
        self.startup_timeout = startup_timeout
        self.ready = False

    def _line(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                raise TimeoutError("the sandbox did not answer")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("the sandbox ended")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def wait_ready(self):
        if not self.ready:
            if self._line(self.startup_timeout).get("op") != "ready":
                raise OSError("the sandbox did not start")
            self.ready = True

    def alive(self) -> bool:
        return self.proc.poll() is None

    def fork(self, data_dir: Path | None) -> "Child":
        self.wait_ready()
        self.count += 1
        self.clean_scratch()
        name = secrets.token_hex(16)       # not guessable: nothing can be planted for the next one
        scratch = self.scratch_root / name
        scratch.mkdir()
        os.chmod(scratch, 0o777)
        if data_dir is not None:
            for f in Path(data_dir).iterdir():  # the assignment's data files, a fresh copy
                if f.is_file() and f.suffix != ".ipynb":
                    shutil.copy(f, scratch)
        self.sock.sendall(json.dumps({"op": "fork", "dir": name, "tmp_mb": defaults.TMP_MB,
                                      "shm_mb": defaults.SHM_MB}).encode() + b"\n")
        if self.buf or not select.select([self.sock], [], [], 30)[0]:
            raise OSError("the sandbox did not fork")
        data, fds, _, _ = socket.recv_fds(self.sock, 4096, 1)
        if not data or len(fds) != 1:
            for f in fds:
                os.close(f)
            raise OSError("the sandbox did not fork")
        self.buf += data.split(b"\n", 1)[1] if b"\n" in data else b""
        return Child(self, socket.socket(fileno=fds[0]), scratch)

    def clean_scratch(self):
        """Remove whatever a student's code left in the scratch root (beside its own folder)."""
        for entry in list(os.scandir(self.scratch_root)):
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass

    def reap(self, timeout: float = 20) -> bool:
        """Kill the child and everything it started; True when the sandbox is clean again."""
        try:
            self.sock.sendall(b'{"op": "reap"}\n')
            return self._line(timeout).get("op") == "reaped"
        except (OSError, EOFError, TimeoutError, ValueError):
            return False

    def kill(self):
        try:
            self.sock.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.cgroups.remove()
        shutil.rmtree(self.scratch_root, ignore_errors=True)


class Child:
    """A student process forked by a :class:`Zygote` (the same interface as StudentProcess)."""

    isolated = True

    def __init__(self, zygote: Zygote, sock, scratch: Path):
        self.zygote, self.scratch = zygote, scratch
        self.channel = wire.Channel(sock)
        self.peer = Peer(self.channel, "g", strict=True)
        self.ready = False

    def wait_ready(self):
        wait_ready(self, 30)

    def alive(self) -> bool:
        return not self.peer.broken and self.zygote.alive()

    def kill(self):
        self.channel.close()
        clean = self.zygote.alive() and self.zygote.reap()
        if not clean:
            self.zygote.kill()
        else:
            self.zygote.clean_scratch()


def clean_after(base: Path) -> None:
    """What a grading worker that was killed left: the cgroups it listed and its scratch
    folders (its sandboxes died with it: bubblewrap's --die-with-parent)."""
    base = Path(base)
    try:
        paths = (base / "cgroups").read_text().split()
    except OSError:
        paths = []
    c = Cgroups.__new__(Cgroups)
    c.dirs, c.ledger = [p for p in paths if p], None
    c.remove()
    shutil.rmtree(base, ignore_errors=True)
