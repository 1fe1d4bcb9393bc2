"""The sandbox the student process runs in (autograder/sandbox/launch.py)."""
from __future__ import annotations

import os
import socket as _socket

import pytest

from autograder.course import COURSE
from autograder.sandbox import launch
from grading_tools import ROOT


def test_the_private_tmp_is_mounted_before_binds_that_may_lie_under_it(monkeypatch):
    monkeypatch.setattr(launch, "_python_roots", lambda: ["/tmp/some-checkout/.venv", "/opt/python"])
    monkeypatch.setattr(launch, "bwrap_path", lambda: "bwrap")
    cmd = launch.bwrap_command(ROOT, ROOT, 3, "/tmp/some-checkout/.venv/bin/python")
    at_tmp = cmd.index("/tmp", cmd.index("--tmpfs"))
    binds = [i for i, a in enumerate(cmd) if a == "--ro-bind" and cmd[i + 1].startswith("/tmp/")]
    assert binds and all(i > at_tmp for i in binds), cmd
    assert "TNN_SANDBOX_KEEP" in cmd and "/tmp/some-checkout/.venv" in cmd[cmd.index("TNN_SANDBOX_KEEP") + 1]


@pytest.fixture(scope="module")
def child():
    assert launch.bwrap_works(), "bubblewrap must work here (the README's commands and .ci/run install it)"
    zygote = launch.Zygote(launch.build_runtime(COURSE["00_backprop"]), launch.Limits(processes=32))
    c = zygote.fork(None)
    c.wait_ready()
    yield c
    c.kill()
    zygote.kill()


def run(child, source):
    msg, _ = child.peer.request({"op": "run_cell", "source": source})
    value, buffers = child.peer.request({"op": "lookup", "name": "result"})
    return msg, child.peer.decoder(buffers).decode(value.get("value")) if not value.get("missing") else None


def test_the_course_directory_is_not_visible(child):
    _, seen = run(child, f"import os\nresult = [os.path.exists({str(ROOT / 'solutions')!r}), "
                         f"os.path.exists({str(ROOT / 'autograder' / 'catalogue')!r}), "
                         f"os.path.exists({str(ROOT / 'tnn_lib' / 'layers.py')!r})]")
    assert seen == [False, False, False]


def test_no_network_and_a_read_only_system(child):
    _, got = run(child, "import socket, os\nout = []\n"
                        "try:\n    socket.create_connection(('127.0.0.1', 22), timeout=2); out.append('connected')\n"
                        "except OSError as e:\n    out.append(type(e).__name__)\n"
                        "try:\n    open('/usr/tnn-pwned-x', 'w'); out.append('wrote')\nexcept OSError as e:\n"
                        "    out.append(e.errno)\nresult = out")
    assert got[0] != "connected" and got[1] != "wrote"


def test_the_reference_of_the_assignment_is_absent_but_the_rest_works(child):
    _, got = run(child, "import tnn_lib.layers as L, inspect, numpy as np\nout = []\n"
                        "try:\n    L.linear_forward(np.ones((1, 1)), np.ones((1, 1)), np.ones(1)); out.append('ran')\n"
                        "except Exception as e:\n    out.append(str(e))\n"
                        "out.append('x @ W' in inspect.getsource(L.linear_forward))\n"
                        "out.append(float(L.leaky_relu_forward(np.array([-1.0]))[0][0]))\nresult = out")
    assert got[0] == "the reference of linear_forward is not available while grading"
    assert got[1] is False and got[2] == pytest.approx(-0.01)


def test_it_cannot_see_or_signal_the_sandbox_that_forked_it(child):
    _, got = run(child, "import os, signal\nout = [os.getpid(), os.getppid()]\n"
                        "try:\n    os.kill(-1, signal.SIGKILL); out.append('signalled')\nexcept OSError as e:\n"
                        "    out.append(e.errno)\nresult = out")
    assert got[0] == 1 and got[1] == 0 and got[2] != "signalled"
    assert child.zygote.alive()
