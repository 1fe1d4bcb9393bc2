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
    shell = InteractiveShell.instance(colors="NoColor", history_length=0)
    shell.history_manager.enabled = False
    # `%matplotlib inline` in a notebook: there is no front end here, figures stay in Agg
    shell.register_magic_function(lambda line="": None, "line", "matplotlib")
    shell.enable_gui = lambda gui=None: None
    return shell


def main(argv):
    fd = int(argv[0])
    channel = wire.fd_channel(fd)
    # warm up while the grader prepares the submission
    import numpy  # noqa: F401
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    me = StudentPeer(channel)
    me.shell = _shell()
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


if __name__ == "__main__":
    main(sys.argv[1:])
