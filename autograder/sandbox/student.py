"""The student process: runs a student's notebook cells, and their functions on request.

Started by the grader inside the sandbox (``python -m tnn_sandbox.student FD``), with the
channel on file descriptor FD. It imports numpy, matplotlib and IPython while it waits (a
warm spare), then serves the grader's requests:

``run_cell``  run one cell of the notebook in an IPython shell (magics work); reply with
              whether it raised, and what
``lookup``    the value bound to a name: data as data, a function as a handle
``call``      call one of the handles (the grader's proxies do this)
``exit``      end

Nothing here is trusted by the grader: this file runs with the student's code and can be
changed by it. It only has to be useful to an honest notebook.
"""
from __future__ import annotations

import ctypes
import io
import json
import os
import shutil
import signal
import socket
import sys

from . import peer as _peer
from . import wire

class _Capped(io.TextIOBase):
    """A stdout that keeps at most `cap` characters per cell and counts the rest. The cap is
    the grader's (``max_output`` of each ``run_cell`` request: the run's
    ``Settings.max_output_bytes``, :mod:`autograder.defaults`); before one came, nothing is kept."""

    def __init__(self):
        self.size = 0
        self.cap = 0
        self.kept = io.StringIO()

    def writable(self):
        return True

    def write(self, s):
        s = str(s)
        self.size += len(s)
        if self.kept.tell() < self.cap:
            self.kept.write(s[:self.cap - self.kept.tell()])
        return len(s)

    def reset(self, cap=None):
        self.size = 0
        self.kept = io.StringIO()
        if type(cap) is int and cap >= 0:
            self.cap = cap


class StudentPeer(_peer.Peer):
    def __init__(self, channel):
        super().__init__(channel, "s", strict=False)
        self.shell = None

    def serve_other(self, msg, buffers):
        op = msg.get("op")
        if op == "run_cell":
            self._run_cell(msg)
        elif op == "lookup":
            self._lookup(msg)
        elif op == "exit":
            os._exit(0)
        else:
            self.send({"op": "reply", "id": msg.get("id"), "ok": False, "message": f"unknown op {op!r}"})

    def _run_cell(self, msg):
        out = sys.stdout
        out.reset(msg.get("max_output")) if isinstance(out, _Capped) else None
        status, ename, evalue = "ok", "", ""
        try:
            result = self.shell.run_cell(str(msg.get("source", "")), store_history=True, silent=False)
            err = result.error_in_exec or result.error_before_exec
            if err is not None:
                status, ename, evalue = "error", type(err).__name__, _peer._message(err)
        except BaseException as err:  # noqa: BLE001
            status, ename, evalue = "error", type(err).__name__, _peer._message(err)
        printed = out.size if isinstance(out, _Capped) else 0
        self.send({"op": "reply", "id": msg.get("id"), "ok": True, "status": status, "ename": ename[:100],
                   "evalue": evalue[:2000], "printed": printed})

    def _lookup(self, msg):
        ns = self.shell.user_ns if self.shell is not None else {}
        name = str(msg.get("name", ""))
        reply = {"op": "reply", "id": msg.get("id"), "ok": True}
        enc = self.encoder()
        if name not in ns:
            reply["missing"] = True
        else:
            try:
                reply["value"] = enc.encode(ns[name])
            except wire.WireError as err:
                enc = self.encoder()
                reply.update(ok=False, message=str(err))
            except Exception as err:  # noqa: BLE001
                enc = self.encoder()
                reply.update(ok=False, message=f"{type(err).__name__}: {_peer._message(err)}")
        self.send(reply, enc)


def _shell():
    from IPython.core.interactiveshell import InteractiveShell  # slow import (see AUTHORING.md)
    from traitlets.config import Config  # slow import (see AUTHORING.md)
    config = Config()
    config.HistoryManager.enabled = False   # no history thread: the zygote forks
    shell = InteractiveShell.instance(config=config, colors="nocolor", history_length=0)
    # `%matplotlib inline` in a notebook: there is no front end here, figures stay in Agg
    shell.register_magic_function(lambda line="": None, "line", "matplotlib")
    shell.enable_gui = lambda gui=None: None
    return shell


def _warm():
    import numpy  # noqa: F401  # slow import (see AUTHORING.md)
    import matplotlib  # slow import (see AUTHORING.md)
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401  # slow import (see AUTHORING.md)
    return _shell()


def serve(fd: int, shell, namespaces: bool | None = None) -> None:
    """Serve the grader on the channel `fd` until it ends."""
    channel = wire.fd_channel(fd)
    me = StudentPeer(channel)
    me.shell = shell
    sys.stdout = _Capped()
    sys.stderr = _Capped()
    me.send({"op": "ready", "pid": os.getpid(), "namespaces": namespaces})
    while True:
        try:
            msg, buffers = channel.recv()
        except (wire.ChannelClosed, wire.WireError):
            os._exit(0)
        if msg.get("op") == "call":
            me.serve_call(msg, buffers)
        else:
            me.serve_other(msg, buffers)


def _not_dumpable():
    """No ptrace and no /proc/<pid>/mem for processes of the same user (the children)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE, 0
    except Exception:
        pass


CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x08000000, 0x10000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000


def _own_namespaces(tmp_mb: int = 64, shm_mb: int = 64) -> bool:
    """Move this (forked) process into namespaces of its own, nested in the sandbox's:

    * a user and a PID namespace, so that nothing the student's code does can see or signal
      the zygote: the process continues as PID 1 of the new namespace;
    * a mount namespace with a new, empty ``/tmp`` and ``/dev/shm`` (memory file systems of
      ``tmp_mb`` and ``shm_mb`` MiB, owned by the student): whatever the student leaves
      there, a folder made read-only, ``/tmp`` itself made read-only, files filling
      ``/dev/shm``, is in this namespace only, and is gone with its memory when the last
      process of the namespace ends;
    * an IPC namespace: System V shared memory, semaphores and message queues are its own
      and are destroyed with it.

    Then every capability is dropped. The next student's process gets new ones: nothing is
    cleaned, nothing can carry over. Returns False where the kernel refuses (no nested
    user namespaces): the process stays a plain child in a session of its own."""
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    ok = libc.unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC) == 0
    if ok:
        try:   # the same ids inside: files made in the new /tmp belong to the student
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"{gid} {gid} 1")
        except OSError:
            pass
        pid = os.fork()                                    # the child is PID 1 of the new namespace
        if pid != 0:
            os._exit(0)
        _fresh_mounts(libc, tmp_mb, shm_mb)

        class Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        class Data(ctypes.Structure):
            _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                        ("inheritable", ctypes.c_uint32)]

        libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)())   # drop every capability
        libc.prctl(38, 1, 0, 0, 0)                                       # PR_SET_NO_NEW_PRIVS
    try:
        os.setsid()
    except OSError:
        pass
    return ok


def _mount(libc, source, target, fstype, flags, data):
    enc = (lambda v: v.encode() if isinstance(v, str) else v)
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _fresh_mounts(libc, tmp_mb: int, shm_mb: int) -> None:
    """New memory file systems on /tmp and /dev/shm in this mount namespace. The read-only
    binds of the Python environment that may lie under /tmp (TNN_SANDBOX_KEEP: a checkout in
    a temporary folder) are bound again on top of the new /tmp. A mount that fails ends the
    process: a student process never runs on the sandbox's shared /tmp."""
    keep = [k for k in os.environ.get("TNN_SANDBOX_KEEP", "").split(":") if k]
    try:
        _mount(libc, None, "/", None, MS_REC | MS_PRIVATE, None)
        held = {k: os.open(k, os.O_PATH | os.O_DIRECTORY) for k in keep if os.path.isdir(k)}
        _mount(libc, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_mb}m,mode=1777")
        for k, fd in held.items():
            os.makedirs(k, exist_ok=True)
            _mount(libc, f"/proc/self/fd/{fd}", k, None, MS_BIND | MS_REC, None)
            os.close(fd)
        if os.path.isdir("/dev/shm"):
            _mount(libc, "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={shm_mb}m,mode=1777")
    except OSError as err:
        try:
            os.write(2, f"the student process could not get its own /tmp: {err}\n".encode())
        finally:
            os._exit(70)


def _clean_tmp(top="/tmp"):
    """Empty /tmp, except the read-only binds of the Python environment that may sit under it
    (TNN_SANDBOX_KEEP): their parent directories are emptied around them."""
    keep = [k for k in os.environ.get("TNN_SANDBOX_KEEP", "").split(":") if k]
    for entry in os.listdir(top):
        path = os.path.join(top, entry)
        try:
            if any(path == k for k in keep):
                continue
            if any(k.startswith(path + "/") for k in keep) and os.path.isdir(path) and not os.path.islink(path):
                _clean_tmp(path)
            elif os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def zygote(fd: int, scratch_root: str) -> None:
    """Inside the sandbox: import once, then fork one fresh child per submission.

    Requests (one JSON line each): ``fork DIR`` answers with the child's channel (a file
    descriptor passed over the socket); ``reap`` kills every other process of the sandbox's
    PID namespace (``kill(-1)``: the child and whatever it started, sessions included). Each
    child has its own mount and IPC namespaces (:func:`_own_namespaces`), so its /tmp,
    /dev/shm and System V objects end with it; ``/tmp`` is emptied as well only for a kernel
    that refused those namespaces."""
    sock = socket.socket(fileno=fd)
    shell = _warm()
    _not_dumpable()
    sock.sendall(json.dumps({"op": "ready", "pid": os.getpid()}).encode() + b"\n")
    buf = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            os._exit(0)
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            msg = json.loads(line)
            if msg.get("op") == "fork":
                ours, theirs = socket.socketpair()
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    ours.close()
                    isolated = _own_namespaces(int(msg.get("tmp_mb") or 64), int(msg.get("shm_mb") or 64))
                    os.chdir(os.path.join(scratch_root, os.path.basename(str(msg.get("dir")))))
                    serve(theirs.detach(), shell, isolated)
                    os._exit(0)
                theirs.close()
                socket.send_fds(sock, [json.dumps({"op": "forked", "pid": pid}).encode() + b"\n"], [ours.fileno()])
                ours.close()
            elif msg.get("op") == "reap":
                try:
                    os.kill(-1, signal.SIGKILL)
                except OSError:
                    pass
                while True:
                    try:
                        if os.waitpid(-1, os.WNOHANG)[0] == 0:
                            break
                    except ChildProcessError:
                        break
                _clean_tmp()
                sock.sendall(b'{"op": "reaped"}\n')
            else:
                os._exit(0)


def main(argv):
    if argv and argv[0] == "zygote":
        zygote(int(argv[1]), argv[2])
    else:
        serve(int(argv[0]), _warm())


if __name__ == "__main__":
    main(sys.argv[1:])
