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

import io
import os
import sys

from . import peer as _peer
from . import wire

MAX_CELL_OUTPUT = 200_000


class _Capped(io.TextIOBase):
    """A stdout that keeps at most MAX_CELL_OUTPUT characters per cell."""

    def __init__(self):
        self.size = 0
        self.kept = io.StringIO()

    def writable(self):
        return True

    def write(self, s):
        s = str(s)
        self.size += len(s)
        if self.kept.tell() < MAX_CELL_OUTPUT:
            self.kept.write(s[:MAX_CELL_OUTPUT - self.kept.tell()])
        return len(s)

    def reset(self):
        self.size = 0
        self.kept = io.StringIO()


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
        out.reset() if isinstance(out, _Capped) else None
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
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.enabled = False   # no history thread: the zygote forks
    shell = InteractiveShell.instance(config=config, colors="nocolor", history_length=0)
    # `%matplotlib inline` in a notebook: there is no front end here, figures stay in Agg
    shell.register_magic_function(lambda line="": None, "line", "matplotlib")
    shell.enable_gui = lambda gui=None: None
    return shell


def _warm():
    import numpy  # noqa: F401
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    return _shell()


def serve(fd: int, shell) -> None:
    """Serve the grader on the channel `fd` until it ends."""
    channel = wire.fd_channel(fd)
    me = StudentPeer(channel)
    me.shell = shell
    sys.stdout = _Capped()
    sys.stderr = _Capped()
    me.send({"op": "ready", "pid": os.getpid()})
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
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE, 0
    except Exception:
        pass


def _own_pid_namespace():
    """Move this (forked) process into a PID namespace of its own, nested in the sandbox's,
    so that nothing the student's code does can see or signal the zygote: the process
    continues as PID 1 of the new namespace, with no capabilities. Where the kernel refuses
    (no nested user namespaces), it stays a plain child in a session of its own."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000 | 0x20000000) == 0:        # CLONE_NEWUSER | CLONE_NEWPID
        pid = os.fork()                                    # the child is PID 1 of the new namespace
        if pid != 0:
            os._exit(0)

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


def _clean_tmp(top="/tmp"):
    """Empty /tmp, except the read-only binds of the Python environment that may sit under it
    (TNN_SANDBOX_KEEP): their parent directories are emptied around them."""
    import shutil
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
    PID namespace (``kill(-1)``: the child and whatever it started, sessions included) and
    empties ``/tmp``, so the next child starts from the same clean state."""
    import json
    import signal
    import socket
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
                    _own_pid_namespace()
                    os.chdir(os.path.join(scratch_root, os.path.basename(str(msg.get("dir")))))
                    serve(theirs.detach(), shell)
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
