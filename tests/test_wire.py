"""The protocol between the student process and the grader: only data crosses, decoded
strictly (autograder/sandbox/wire.py, peer.py)."""
from __future__ import annotations

import json
import socket
import threading

import numpy as np
import pytest

from autograder.sandbox import wire
from autograder.sandbox.peer import Peer


def roundtrip(value, make_callable=None):
    enc = wire.Encoder(lambda fn: "s1", wire.tnn_classes())
    tree = enc.encode(value)
    tree = json.loads(json.dumps(tree))  # what crosses is JSON
    dec = wire.Decoder(enc.buffers, make_callable or (lambda h, n: ("proxy", h, n)), lambda h: None,
                       wire.tnn_classes())
    return dec.decode(tree)


def test_data_round_trips_with_types():
    value = {"a": np.arange(6, dtype=np.float64).reshape(2, 3), "b": (1, 2.5, "x", None, True, ...),
             "c": [np.float64(1.5), np.int64(3), np.bool_(False)], 4: complex(1, 2), "nan": float("nan")}
    got = roundtrip(value)
    np.testing.assert_array_equal(got["a"], value["a"])
    assert got["b"] == (1, 2.5, "x", None, True, ...) and type(got["b"]) is tuple
    assert type(got["c"][0]) is np.float64 and type(got["c"][1]) is np.int64 and got[4] == complex(1, 2)
    assert np.isnan(got["nan"])


def test_subclasses_arrive_as_their_plain_base():
    class Sneaky(str):
        def __eq__(self, other):
            return True
        __hash__ = str.__hash__

    class Arr(np.ndarray):
        pass

    got = roundtrip([Sneaky("small"), np.zeros(3).view(Arr)])
    assert type(got[0]) is str and got[0] == "small" and got[0] != "zero"
    assert type(got[1]) is np.ndarray


@pytest.mark.parametrize("value, kind", [(object(), "object"), (np.array([1, "a"], dtype=object), "dtype object"),
                                         ({1, 2}, "set")])
def test_anything_else_is_refused_with_its_type(value, kind):
    with pytest.raises(wire.WireError, match="cannot be sent"):
        roundtrip(value)


def test_shared_parts_cannot_expand_beyond_the_limit():
    a = [0]
    for _ in range(40):
        a = [a, a]              # 41 nodes, 2**40 leaves once expanded
    with pytest.raises(wire.WireError, match="counting every shared part"):
        roundtrip(a)
    big = np.zeros(100_000)
    with pytest.raises(wire.WireError, match="counting every shared part"):
        roundtrip([big] * 100)  # one array, referred to 100 times: 10**7 numbers
    ok = roundtrip([big] * 10)
    assert len(ok) == 10 and ok[0] is ok[9]


def test_forged_trees_are_refused():
    classes = wire.tnn_classes()
    bad = [{"$": "ref", "i": 7}, {"$": "a", "i": 0, "dtype": "|O", "shape": [1], "b": 0},
           {"$": "a", "i": 0, "dtype": "<f8", "shape": [3], "b": 0}, {"$": "obj", "i": 0, "cls": "os.system", "state": {}},
           {"$": "l", "i": 0, "v": [{"$": "ref", "i": 0}]}, {"$": "fn", "h": "g1"}, {"$": "?"}, [1, 2]]
    for tree in bad:
        dec = wire.Decoder([b"\0" * 8], lambda h, n: (_ for _ in ()).throw(wire.WireError("no")), lambda h: None,
                           classes)
        with pytest.raises(wire.WireError):
            dec.decode(tree)


def test_in_place_updates_are_written_back_and_identity_kept():
    """A call through a Peer: the student's side updates w and state in place and returns w;
    the grader's own w and state change, and the result *is* its w."""
    ours, theirs = socket.socketpair()
    grader = Peer(wire.Channel(ours), "g", strict=True)
    student = Peer(wire.Channel(theirs), "s", strict=False)

    def step(w, dw, state, lr):
        state.setdefault("v", np.zeros_like(w))
        state["v"] += dw
        w -= lr * state["v"]
        return w

    handle = student.register(step)

    def serve():
        msg, buffers = student.channel.recv()
        student.serve_call(msg, buffers)

    t = threading.Thread(target=serve)
    t.start()
    from autograder.sandbox.peer import Proxy
    w, state = np.ones(3), {}
    out = Proxy(grader, handle, "step")(w, np.full(3, 2.0), state, lr=0.5)
    t.join()
    assert out is w
    np.testing.assert_array_equal(w, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(state["v"], [2.0, 2.0, 2.0])


def test_the_grader_never_lends_tnn_lib_functions():
    import tnn_lib.layers as layers
    ours, _theirs = socket.socketpair()
    grader = Peer(wire.Channel(ours), "g", strict=True)
    with pytest.raises(wire.WireError, match="does not pass tnn_lib"):
        grader.encoder().encode([layers.linear_forward])


def test_an_object_of_the_students_class_is_reached_through_calls_only():
    """A class exercise (08's ReduceLROnPlateau): calling the student's class returns a handle;
    the grader reads and sets attributes and calls methods, only data crosses; private
    attributes stay out of reach; the grader's own encoder never sends objects that way."""
    ours, theirs = socket.socketpair()
    grader = Peer(wire.Channel(ours), "g", strict=True)
    student = Peer(wire.Channel(theirs), "s", strict=False)
    Sched = type("Sched", (), {"__module__": "__main__", "__doc__": "a student class",
                               "__init__": lambda self, lr: setattr(self, "lr", lr),
                               "step": lambda self, m: setattr(self, "lr", self.lr * m) or self.lr})
    handle = student.register(Sched)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                msg, buffers = student.channel.recv(__import__("time").monotonic() + 0.2)
            except wire.ChannelTimeout:
                continue
            student.serve_call(msg, buffers)

    t = threading.Thread(target=serve)
    t.start()
    try:
        from autograder.sandbox.peer import Proxy
        obj = Proxy(grader, handle, "Sched")(2.0)
        assert isinstance(obj, wire.RemoteObject) and "Sched" in repr(obj)
        assert obj.lr == 2.0
        assert obj.step(0.5) == 1.0 and obj.lr == 1.0
        obj.lr = 4.0
        assert obj.step(0.25) == 1.0
        with pytest.raises(AttributeError):
            obj._secret
        with pytest.raises(AttributeError):
            obj.missing
    finally:
        stop.set()
        t.join()
    with pytest.raises(wire.WireError, match="cannot be sent"):
        grader.encoder().encode([Sched(1.0)])


def test_only_a_class_call_sends_an_instance_as_a_handle():
    """Any other object of the student's (say a function's odd return value) is still refused."""
    ours, theirs = socket.socketpair()
    student = Peer(wire.Channel(theirs), "s", strict=False)
    Odd = type("Odd", (), {"__module__": "__main__"})
    with pytest.raises(wire.WireError, match="cannot be sent"):
        student.encoder().encode([Odd()])
    tree = student.encoder(Odd).encode([Odd()])
    assert tree["v"][0]["$"] == "o"
    with pytest.raises(wire.WireError, match="cannot be sent"):
        student.encoder(Odd).encode([type("Other", (), {})()])


def test_the_sandbox_stubs_a_reference_class_and_keeps_the_rest():
    """08's ReduceLROnPlateau is a class: in the student's runtime it exists but cannot be built;
    the other references of the module are stubbed too, and tnn_lib.optim still imports them."""
    from autograder.course import COURSE
    from autograder.sandbox import launch
    refs = launch.references_of(COURSE["08_schedules_and_landscape"])
    assert refs == {"schedules": set(COURSE["08_schedules_and_landscape"])}
    import inspect
    import tnn_lib.schedules as schedules
    ns: dict = {}
    stubbed = launch.strip_references(inspect.getsource(schedules), refs["schedules"])
    exec(compile(stubbed.replace("from tnn_lib._unavailable import ReferenceUnavailable",
                                 "ReferenceUnavailable = RuntimeError"), "<stubbed>", "exec"), ns)
    assert isinstance(ns["ReduceLROnPlateau"], type)
    for name in refs["schedules"]:
        with pytest.raises(RuntimeError, match=name):
            ns[name](1.0) if name == "ReduceLROnPlateau" else ns[name](None, None, None)
    assert "is_better" not in stubbed and "def _check_step_args" in stubbed


def test_the_decoder_reads_exactly_the_kinds_of_the_module_docstring():
    """The module docstring's table and the decoder's dispatch table name the same kinds."""
    import re

    from autograder.sandbox import wire
    documented = set(re.findall(r'``\{"\$": "([^"]+)"', wire.__doc__))
    documented |= {k for pair in re.findall(r'``\{"\$": "([^"]+)"/"([^"]+)"\}``', wire.__doc__) for k in pair}
    assert documented == set(wire.Decoder.KIND_DECODERS)
    dec = wire.Decoder([], None, lambda h: None, {})
    with pytest.raises(wire.WireError, match="unknown kind"):
        dec.decode({"$": "nope"})
    with pytest.raises(wire.WireError, match="unknown kind"):
        dec.decode({"$": ["a"]})
