"""Calls across the boundary, in either direction, on top of :mod:`wire`.

A :class:`Peer` owns one end of the channel. ``peer.call(handle, args, kwargs)`` calls a
function of the other process and waits for its reply; while it waits it serves the other
side's calls back into this process (a call-back such as the ``f`` of
``numerical_gradient(f, x)``), so calls may nest to any depth. The reply carries the
arguments as they are after the call, and :class:`wire.Decoder` writes them back into this
side's own objects in place: an optimizer step that updates ``w`` and ``state`` updates
them here too, and a function that returns its argument returns this side's object.

Both processes use this module; only the grader's side is trusted (see ``strict``).
"""
from __future__ import annotations

import builtins
import contextlib
import io
import itertools
import sys
import traceback
import warnings

from . import wire

MAX_STDERR = 20_000


class StudentError(Exception):
    """An exception raised in the other process whose type is not a builtin one."""

    def __init__(self, ename: str, message: str):
        super().__init__(message)
        self.ename = ename


class CellTimeout(BaseException):
    """The other process did not answer within the cell's time limit (not an Exception, so a
    test's ``except Exception`` cannot swallow it)."""


class ProcessDied(BaseException):
    """The other process ended while a call was in progress."""


def exception_from(ename: str, emodule: str, message: str) -> BaseException:
    """A local exception of the same builtin type and message; anything else as StudentError."""
    cls = getattr(builtins, ename, None) if emodule == "builtins" else None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            err = cls(message)
            err.from_student = True
            return err
        except Exception:
            pass
    err = StudentError(ename, message)
    err.from_student = True
    return err


class Proxy:
    """A function of the other process: calling it calls there."""

    def __init__(self, peer: "Peer", handle: str, name: str):
        self._peer, self._handle, self.__name__ = peer, handle, name
        self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        return self._peer.call(self._handle, args, kwargs)

    def __repr__(self):
        return f"<function {self.__name__}>"


class Peer:
    def __init__(self, channel: wire.Channel, prefix: str, strict: bool):
        self.channel = channel
        self.prefix = prefix           # "g" for the grader's handles, "s" for the student's
        self.strict = strict
        self.local: dict[str, object] = {}
        self.kept: dict[str, object] = {}  # the student's side: values it keeps, sent as opaque handles
        self.by_id: dict = {}            # id(fn), or ("object", id(obj)) -> handle
        self.counter = itertools.count(1)
        self.ids = itertools.count(1)
        self.deadline: float | None = None
        self.classes = wire.tnn_classes()
        self.broken: str | None = None
        self.capture = not strict      # the student's side reports warnings and stderr of calls

    # -- handles ----------------------------------------------------------------------------
    def register(self, fn) -> str:
        if isinstance(fn, Proxy) and fn._peer is self:
            return fn._handle          # a function of the other side goes back as itself
        if self.strict and str(getattr(fn, "__module__", "") or "").split(".")[0] == "tnn_lib":
            # the grader's tnn_lib holds the references: it never lends them to the student's code
            raise wire.WireError(f"the grader does not pass tnn_lib's {getattr(fn, '__name__', 'function')} to "
                                 "your code")
        key = id(fn)
        if key in self.by_id and self.local.get(self.by_id[key]) is fn:
            return self.by_id[key]
        h = f"{self.prefix}{next(self.counter)}"
        self.local[h] = fn
        self.by_id[key] = h
        return h

    def _local(self, h: str):
        return self.local.get(h) if h.startswith(self.prefix) else None

    def _make_proxy(self, h: str, name: str):
        if h.startswith(self.prefix):
            raise wire.WireError(f"a function handle {h!r} that this side never gave out")
        return Proxy(self, h, name)

    def encoder(self, object_class=None) -> wire.Encoder:
        # the student's side sends the instances its class `object_class` returns as handles;
        # the grader never does
        if self.strict:
            return wire.Encoder(self.register, self.classes, own_opaque=self._own_opaque)
        return wire.Encoder(self.register, self.classes, self.register_object, object_class)

    def _own_opaque(self, obj) -> str | None:
        """The handle of an Opaque that came over this channel (None for another's)."""
        if object.__getattribute__(obj, "_tnn_owner") is self:
            return object.__getattribute__(obj, "_tnn_handle")
        return None

    def register_opaque(self, obj) -> str:
        """The student's side: keep `obj` here, under a handle the grader can only hand back."""
        key = ("kept", id(obj))
        if key in self.by_id and self.kept.get(self.by_id[key]) is obj:
            return self.by_id[key]
        h = f"{self.prefix}k{next(self.counter)}"
        self.kept[h] = obj
        self.by_id[key] = h
        return h

    def _opaque(self, h: str, cls: str):
        if self.strict:   # a value the student's code keeps: only its handle, never its content
            if h.startswith(self.prefix):
                return None
            return wire.Opaque(h, cls, self)
        return self.kept.get(h)

    def register_object(self, obj) -> str:
        key = ("object", id(obj))
        if key in self.by_id and getattr(self.local.get(self.by_id[key]), "_tnn_of", None) is obj:
            return self.by_id[key]
        access = wire.object_access(obj)
        access._tnn_of = obj
        h = f"{self.prefix}{next(self.counter)}"
        self.local[h] = access
        self.by_id[key] = h
        return h

    def decoder(self, buffers) -> wire.Decoder:
        return wire.Decoder(buffers, self._make_proxy, self._local, self.classes, opaque=self._opaque)

    # -- messages -----------------------------------------------------------------------------
    def send(self, header: dict, enc: wire.Encoder | None = None):
        self.channel.send(header, enc.buffers if enc is not None else ())

    def recv(self):
        try:
            return self.channel.recv(self.deadline)
        except wire.ChannelTimeout:
            self.broken = "timeout"
            raise CellTimeout("no answer within the time limit") from None
        except wire.ChannelClosed:
            self.broken = "died"
            raise ProcessDied("the student process ended") from None
        except wire.WireError:
            self.broken = "protocol"
            raise

    def request(self, header: dict, enc: wire.Encoder | None = None):
        """Send a request and wait for its reply, serving nested calls meanwhile."""
        rid = next(self.ids)
        self.send(dict(header, id=rid), enc)
        while True:
            msg, buffers = self.recv()
            op = msg.get("op")
            if op == "reply":
                if msg.get("id") != rid:
                    self.broken = "protocol"
                    raise wire.WireError("the student process answered a question it was not asked")
                return msg, buffers
            if op == "call":
                self.serve_call(msg, buffers)
                continue
            if self.strict:
                self.broken = "protocol"
                raise wire.WireError(f"the student process sent an unexpected message {str(op)[:20]!r}")
            self.serve_other(msg, buffers)

    def serve_other(self, msg, buffers):  # overridden by the student's side
        raise wire.WireError(f"unexpected message {msg.get('op')!r}")

    # -- calling the other side -----------------------------------------------------------------
    def call(self, handle: str, args: tuple, kwargs: dict):
        if self.broken:
            raise ProcessDied(f"the student process is not running ({self.broken})")
        enc = self.encoder()
        before = set(self.local)
        tree = enc.encode([list(args), dict(kwargs)])
        try:
            return self._call(handle, args, kwargs, enc, tree)
        finally:
            if self.strict:  # the grader's call-backs are valid during this call only
                for h in set(self.local) - before:
                    fn = self.local.pop(h)
                    self.by_id.pop(id(fn), None)

    def _call(self, handle, args, kwargs, enc, tree):
        msg, buffers = self.request({"op": "call", "h": handle, "args": tree}, enc)
        dec = self.decoder(buffers)
        for category, text in msg.get("warnings", [])[:50] if type(msg.get("warnings")) is list else []:
            cls = getattr(builtins, str(category), None)
            cls = cls if isinstance(cls, type) and issubclass(cls, Warning) else UserWarning
            warnings.warn(str(text)[:1000], cls, stacklevel=2)
        err_text = msg.get("stderr")
        if type(err_text) is str and err_text:
            sys.stderr.write(err_text[:MAX_STDERR])
        back = msg.get("back")
        if back is not None:
            # the arguments as they are after the call, written into ours; then the result
            if type(back) is not dict or back.get("$") != "l" or type(back.get("v")) is not list \
                    or len(back["v"]) != 3:
                raise wire.WireError("the student process sent a reply of the wrong form")
            a_node, k_node, r_node = back["v"]
            dec.table[back.get("i")] = None
            dec.decode_into(a_node, list(args))
            dec.decode_into(k_node, dict(kwargs))
            result = dec.decode(r_node)
        else:
            result = None
        if not msg.get("ok"):
            err = exception_from(str(msg.get("etype", "Exception"))[:100], str(msg.get("emodule", ""))[:100],
                                 str(msg.get("message", ""))[:5000])
            where = msg.get("where")
            err.student_where = where[:300] if type(where) is str else ""
            raise err
        return result

    # -- serving a call from the other side ----------------------------------------------------
    def serve_call(self, msg, buffers):
        rid = msg.get("id")
        fn = self.local.get(msg.get("h")) if type(msg.get("h")) is str else None
        reply = {"op": "reply", "id": rid, "ok": True}
        made_by = fn if isinstance(fn, type) else None   # a call of a class: its instance may go as a handle
        enc = self.encoder(made_by)
        caught, noise = [], io.StringIO()
        try:
            if fn is None:
                raise wire.WireError("a call of a function this side does not have")
            dec = self.decoder(buffers)
            decoded = dec.decode(msg.get("args"))
            if type(decoded) is not list or len(decoded) != 2 or type(decoded[1]) is not dict:
                raise wire.WireError("a call of the wrong form")
            args, kwargs = decoded
            if self.capture:
                with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(noise):
                    warnings.simplefilter("always")
                    result = fn(*args, **kwargs)
            else:
                result = fn(*args, **kwargs)
            try:
                reply["back"] = self._encode_back(enc, args, kwargs, result)
            except wire.WireError as err:
                enc = self.encoder()
                reply.update(ok=False, etype="TypeError", emodule="builtins", message=str(err))
        except (CellTimeout, ProcessDied):
            raise
        except BaseException as err:  # noqa: BLE001 - reported to the caller, who decides
            if isinstance(err, (KeyboardInterrupt,)) and self.strict:
                raise
            enc = self.encoder()
            reply.update(ok=False, etype=type(err).__name__, emodule=type(err).__module__,
                         message=_message(err))
            where = _where(err)
            if where:
                reply["where"] = where
        if self.capture:
            reply["warnings"] = [[w.category.__name__, str(w.message)[:1000]] for w in caught[:50]]
            reply["stderr"] = noise.getvalue()[:MAX_STDERR]
        self.send(reply, enc)


    def _encode_back(self, enc: wire.Encoder, args, kwargs, result):
        """[args, kwargs, result] after a call. On the student's side, a value of no allowed
        kind in the arguments (the student's own object kept in a ``state`` dict the grader
        handed in) stays here as an opaque handle; the result must be data, as before."""
        holder = [args, kwargs, result]
        i = enc._index(holder)
        enc.register_opaque = None if self.strict else self.register_opaque
        try:
            a, k = enc.encode(args, 1), enc.encode(kwargs, 1)
        finally:
            enc.register_opaque = None
        return {"$": "l", "i": i, "v": [a, k, enc.encode(result, 1)]}


def _message(err: BaseException) -> str:
    try:
        return str(err)[:5000]
    except Exception:
        return f"(a {type(err).__name__} whose message could not be read)"


def _where(err: BaseException) -> str:
    """The deepest line of the notebook's own code (a cell) in the traceback."""
    found = ""
    try:
        for frame in traceback.extract_tb(err.__traceback__):
            if frame.filename.startswith("<") and not frame.filename.startswith("<frozen") and frame.line:
                fn = f" in {frame.name}" if frame.name and frame.name != "<module>" else ""
                found = f"`{frame.line.strip()[:160]}`{fn}"
    except Exception:
        return ""
    return found

