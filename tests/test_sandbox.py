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


# ----------------------------------------------------------------------------------------
# nothing one student leaves reaches the next, by construction
# ----------------------------------------------------------------------------------------
SYSV_KEY = 0x7E57

PLANT = f"""import ctypes, errno, os
out = {{}}
os.makedirs('/tmp/tnn-pwned-ro/inside')
open('/tmp/tnn-pwned-ro/inside/f', 'w').write('x')
os.chmod('/tmp/tnn-pwned-ro/inside', 0o555)
os.chmod('/tmp/tnn-pwned-ro', 0o555)
block = b'x' * (1 << 20)
for where in ('/dev/shm/tnn-pwned-shm', '/tmp/tnn-pwned-fill'):
    n = 0
    try:
        with open(where, 'wb') as f:
            for _ in range(300):          # 300 MB, or as much as the file system holds
                f.write(block)
                f.flush()
                n += 1
    except OSError as e:
        out[where + ' stopped'] = e.errno
    out[where] = n
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shmid = libc.shmget({SYSV_KEY}, 32 << 20, 0o1000 | 0o666)   # IPC_CREAT
addr = libc.shmat(shmid, None, 0)
ctypes.memset(addr, 1, 32 << 20)                            # its 32 MB in memory
out['sysv'] = shmid
os.chmod('/tmp', 0o555)                                    # /tmp itself read-only
out['tmp mode'] = oct(os.stat('/tmp').st_mode & 0o777)
result = out
"""

LOOK = f"""import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
# the read-only binds of the Python environment under /tmp (a checkout in /tmp/ci) are bound
# again on the new /tmp by design: their top folders are all a fresh /tmp holds
kept = {{k.split('/')[2] for k in os.environ.get('TNN_SANDBOX_KEEP', '').split(':') if k.startswith('/tmp/')}}
out = {{'tmp': sorted(set(os.listdir('/tmp')) - kept), 'kept': sorted(kept),
       'kept present': all(os.path.isdir(os.path.join('/tmp', k)) for k in kept),
       'shm': sorted(os.listdir('/dev/shm')),
       'tmp mode': oct(os.stat('/tmp').st_mode & 0o777)}}
open('/tmp/mine', 'w').write('a temporary file of my own')
out['tmp writable'] = open('/tmp/mine').read() == 'a temporary file of my own'
out['sysv'] = libc.shmget({SYSV_KEY}, 0, 0)
out['sysv errno'] = ctypes.get_errno()
out['sysv list'] = [ln.split()[0] for ln in open('/proc/sysvipc/shm').read().splitlines()[1:]]
n = 0
block = b'y' * (1 << 20)
try:
    with open('/dev/shm/mine', 'wb') as f:
        for _ in range(300):
            f.write(block)
            f.flush()
            n += 1
except OSError:
    pass
out['shm filled'] = n
st = os.statvfs('/dev/shm')
out['shm size'] = st.f_blocks * st.f_frsize >> 20
result = out
"""


def _cgroup_memory(zygote) -> int | None:
    for d in zygote.cgroups.dirs:
        for name in ("memory.usage_in_bytes", "memory.current"):
            try:
                return int(open(os.path.join(d, name)).read())
            except OSError:
                continue
    return None


def test_nothing_a_student_leaves_reaches_the_next_on_the_same_worker():
    """A folder made read-only in /tmp, /tmp itself made read-only, /dev/shm filled, System V
    shared memory: the next student forked by the same warm sandbox sees none of it, has the
    whole of its own /tmp and /dev/shm, and the memory the first one held is given back."""
    import time

    from autograder import defaults
    zygote = launch.Zygote(launch.build_runtime(COURSE["00_backprop"]), launch.Limits(processes=32))
    try:
        first = zygote.fork(None)
        first.wait_ready()
        assert first.namespaces, "the student process did not get its own namespaces"
        msg, planted = run(first, PLANT)
        assert msg["status"] == "ok", msg
        # what it planted is really there while it runs: it filled its /dev/shm and /tmp
        assert planted["/dev/shm/tnn-pwned-shm"] >= defaults.SHM_MB - 1, planted
        assert planted["/tmp/tnn-pwned-fill"] >= defaults.TMP_MB - 1, planted
        assert planted["sysv"] >= 0 and planted["tmp mode"] == "0o555", planted
        held = _cgroup_memory(zygote)
        first.kill()
        if held is not None:    # the sandbox's memory cgroup: what the first one held is given back
            given_back = 0
            for _ in range(100):
                given_back = held - (_cgroup_memory(zygote) or held)
                if given_back > (defaults.TMP_MB + defaults.SHM_MB) << 20:
                    break
                time.sleep(0.1)
            assert given_back > (defaults.TMP_MB + defaults.SHM_MB) << 20, (held >> 20, given_back >> 20)

        second = zygote.fork(None)
        second.wait_ready()
        msg, seen = run(second, LOOK)
        assert msg["status"] == "ok", msg
        assert seen["tmp"] == [] and seen["shm"] == [] and seen["kept present"], seen
        assert seen["tmp mode"] == "0o777", seen
        assert seen["tmp writable"]
        assert seen["sysv"] == -1 and seen["sysv errno"] == 2, seen        # ENOENT: no such segment
        assert seen["sysv list"] == [], seen
        assert seen["shm size"] == defaults.SHM_MB and seen["shm filled"] >= defaults.SHM_MB - 1, seen
        second.kill()
    finally:
        zygote.kill()


def _can_make_cgroup(controller: str) -> bool:
    """Independently of the sandbox: whether a cgroup of `controller` can be made here."""
    base = launch._cgroup_base(controller)
    if base is None:
        return False
    probe = os.path.join(base, f"tnn-probe-{os.getpid()}")
    try:
        os.mkdir(probe)
    except OSError:
        return False
    os.rmdir(probe)
    return True


def test_the_sandbox_is_in_memory_and_pids_cgroups_where_they_can_be_made(child):
    wanted = [c for c in ("pids", "memory") if _can_make_cgroup(c)]
    if not wanted:
        pytest.skip("no cgroup can be made here (not counted as done: CI runs as root, where they can)")
    made = {c: [d for d in child.zygote.cgroups.dirs if f"/{c}/" in d or os.path.exists(os.path.join(d, f"{c}.max"))
                or os.path.exists(os.path.join(d, f"{c}.limit_in_bytes"))] for c in wanted}
    assert all(made[c] for c in wanted), (wanted, child.zygote.cgroups.dirs)
    for c in wanted:
        procs = open(os.path.join(made[c][0], "cgroup.procs")).read().split()
        assert procs, f"nothing runs in the {c} cgroup"
    pids_dir = made.get("pids", [None])[0]
    if pids_dir:
        assert open(os.path.join(pids_dir, "pids.max")).read().strip() == "32"


def test_the_student_cannot_reach_a_server_listening_on_the_host(child):
    """A server listens on the host (every address); the host itself can reach it, the
    student's code cannot, by loopback or by any of the host's addresses."""
    import threading
    server = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    server.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    port = server.getsockname()[1]
    accepted = []

    def serve():
        while True:
            try:
                conn, peer = server.accept()
            except OSError:
                return
            accepted.append(peer)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    addresses = ["127.0.0.1"]
    try:
        addresses += sorted({a[4][0] for a in _socket.getaddrinfo(_socket.gethostname(), None, _socket.AF_INET)}
                            - {"127.0.0.1"})
    except OSError:
        pass
    try:
        for a in addresses:   # the listener works: the host reaches it at each address
            _socket.create_connection((a, port), timeout=5).close()
        for _ in range(50):
            if len(accepted) >= len(addresses):
                break
            import time
            time.sleep(0.1)
        assert len(accepted) == len(addresses), accepted
        _, got = run(child, f"import socket\nout = []\nfor a in {addresses!r}:\n    try:\n"
                            f"        socket.create_connection((a, {port}), timeout=3).close(); out.append('connected')\n"
                            "    except OSError as e:\n        out.append(type(e).__name__)\nresult = out")
        assert len(got) == len(addresses) and "connected" not in got, got
        assert len(accepted) == len(addresses), "the student's code reached the host's server"
    finally:
        server.close()


# ----------------------------------------------------------------------------------------
# a value the student's code keeps for itself stays in its process
# ----------------------------------------------------------------------------------------
KEEPERS = '''import numpy as np

touched = []


class Velocity:
    """momentum as an object of its own, kept in the state dict"""

    def __init__(self, w):
        self.v = np.zeros_like(w)

    def __reduce__(self):
        touched.append("pickled")
        raise TypeError("not picklable")

    def __getattr__(self, name):
        touched.append(name)
        raise AttributeError(name)


def momentum_step(w, dw, state, lr, momentum=0.9):
    if "opt" not in state:
        state["opt"] = Velocity(w)
    opt = state["opt"]
    opt.v *= momentum
    opt.v += dw
    w -= lr * opt.v
    return w


class AdamState:
    def __init__(self, shape):
        self.m, self.v, self.t = np.zeros(shape), np.zeros(shape), 0


def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    s = state.setdefault("adam", AdamState(w.shape))
    g = dw + weight_decay * w
    s.t += 1
    s.m = beta1 * s.m + (1 - beta1) * g
    s.v = beta2 * s.v + (1 - beta2) * g * g
    w -= lr * (s.m / (1 - beta1 ** s.t)) / (np.sqrt(s.v / (1 - beta2 ** s.t)) + eps)
    return w
'''


@pytest.fixture(scope="module")
def optimizers():
    zygote = launch.Zygote(launch.build_runtime(COURSE["05_optimizers"]), launch.Limits(processes=32))
    c = zygote.fork(None)
    c.wait_ready()
    msg, _ = c.peer.request({"op": "run_cell", "source": KEEPERS})
    assert msg["status"] == "ok", msg
    yield c
    c.kill()
    zygote.kill()


def _function(child, name):
    value, buffers = child.peer.request({"op": "lookup", "name": name})
    return child.peer.decoder(buffers).decode(value["value"])


def test_optimizers_that_keep_their_own_object_in_state_pass_their_checks(optimizers):
    """Two optimizers written the way public course repositories write them (an object of
    their own in `state`) pass the grader's checks: the object stays in the student process,
    the grader holds a handle, hands it back on the next step, and never reads it (nothing
    was pickled, called or looked up on it: the objects themselves record any of that)."""
    import numpy as np

    from autograder.checks import check
    from autograder.sandbox import wire
    momentum, adam = _function(optimizers, "momentum_step"), _function(optimizers, "adam_step")
    for seed, case in ((0, None), (1, "matrix"), (2, "long")):
        check("momentum_step", momentum, seed=seed, case=case)
        check("adam_step", adam, seed=seed, case=case)
    state, w = {}, np.ones(3)
    momentum(w, np.full(3, 0.5), state, lr=0.1)
    momentum(w, np.full(3, 0.5), state, lr=0.1)
    np.testing.assert_allclose(w, 1 - 0.1 * 0.5 - 0.1 * (0.9 * 0.5 + 0.5))   # the second step used the kept v
    assert type(state["opt"]) is wire.Opaque and "Velocity" in repr(state["opt"])
    adam(w, np.full(3, 0.5), state, lr=0.1)
    assert type(state["adam"]) is wire.Opaque and state["opt"] is not state["adam"]
    _, touched = run(optimizers, "result = touched")
    assert touched == [], touched


def test_a_test_that_inspects_a_kept_value_gets_the_clear_message(optimizers):
    import numpy as np

    from autograder.checks import compare
    momentum = _function(optimizers, "momentum_step")
    state = {}
    momentum(np.ones(2), np.ones(2), state, lr=0.1)
    kept = state["opt"]
    for inspect in (lambda: np.asarray(kept, dtype=float), lambda: float(kept), lambda: kept + 1,
                    lambda: __import__("pickle").dumps(kept), lambda: kept(), lambda: list(kept)):
        with pytest.raises(TypeError, match="Velocity cannot be sent between your code and the grader"):
            inspect()
    with pytest.raises(AttributeError, match="Velocity cannot be sent"):
        kept.v
    out = compare({"opt": kept}, {"opt": np.zeros(2)})
    assert not out.ok and "cannot be sent" in out.detail, out.detail
    # what a function returns must still be data: an object of its own is refused, as before
    msg, _ = optimizers.peer.request({"op": "run_cell", "source": "def make_state(w):\n    return Velocity(w)\n"})
    with pytest.raises(TypeError, match="cannot be sent"):
        _function(optimizers, "make_state")(np.ones(2))
    _, touched = run(optimizers, "result = touched")
    assert touched == [], touched
