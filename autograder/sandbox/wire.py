"""The protocol between the grader and the student process: data only, never code.

Both processes use this module. A message is a frame::

    b"TNN1" | u32 header length | header (JSON) | the raw bytes of each array, in order

The header is JSON, so decoding it can only ever produce ``dict``, ``list``, ``str``,
``int``, ``float``, ``bool`` and ``None``: nothing of the sender's classes, no pickle, no
``eval``. Values are encoded as a tree of those:

=====================  ===========================================================
``None``/bool/int/...  as themselves (a ``str`` or ``int`` subclass arrives as its base)
``{"$": "f"}``         a float JSON cannot hold: ``nan``, ``inf``, ``-inf``
``{"$": "c"}``         complex number, by its real and imaginary parts
``{"$": "a"}``         numpy array: dtype (from an allow-list), shape, buffer index
``{"$": "s"}``         numpy scalar (a 0-d array read back with ``[()]``)
``{"$": "t"/"l"}``     tuple / list
``{"$": "d"}``         dict with keys of the kinds above
``{"$": "..."}``       Ellipsis (an unanswered poll)
``{"$": "rng"}``       ``numpy.random.Generator``, by the state of its bit generator
``{"$": "obj"}``       an object of a ``tnn_lib`` class, by its attributes
``{"$": "fn"}``        a callable, as a handle: calling it calls back into its owner
``{"$": "o"}``         what a call of a class of the student's (a class exercise such as
                       ``ReduceLROnPlateau``) returns, an instance of that class, as a handle:
                       the grader reads and sets its public attributes and calls its methods
                       through calls; it never holds the object
``{"$": "h"}``         an object of the student's that the grader only hands back: a
                       value of any other type found in the *arguments* of a call of the
                       student's function after it returned (the optimizer object a
                       student keeps in ``state``) stays in the student process; the
                       grader holds an :class:`Opaque` handle, passes it back in later
                       calls, and never reads, calls or unpickles it
``{"$": "ref"}``       the n-th object already in this message (shared references)
=====================  ===========================================================

Anything else is refused with a :class:`WireError` naming the type that came and the
kinds that are allowed. :class:`Decoder` reads each kind of this table with its own method
(:attr:`Decoder.KIND_DECODERS`). The grader's side decodes with :class:`Decoder`, which checks
every node it reads; what the student process's encoder does is never trusted.
"""
from __future__ import annotations

import importlib
import json
import math
import select
import socket
import struct
import time

import numpy as np

MAGIC = b"TNN1"
MAX_HEADER = 64 * 1024 * 1024          # bytes of JSON in one message
MAX_BUFFERS = 256 * 1024 * 1024        # bytes of array data in one message
MAX_DEPTH = 64                          # nesting of containers
MAX_NODES = 200_000                     # values in one message
MAX_EXPANDED = 5_000_000                # values (array elements counted) once shared parts are expanded
ALLOWED_DTYPES = {np.dtype(t).str for t in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128")}
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
KINDS = ("None, bool, int, float, complex, str, Ellipsis, numpy arrays and scalars of numeric or "
         "boolean dtype, tuples, lists and dicts of these, numpy.random.Generator, tnn_lib objects "
         "and functions")


class WireError(ValueError):
    """A value that may not cross between the student process and the grader."""


class ChannelClosed(EOFError):
    """The other process closed the channel (it ended or was killed)."""


class ChannelTimeout(TimeoutError):
    """No message arrived before the deadline."""


# ----------------------------------------------------------------------------------------
# which classes travel by state
# ----------------------------------------------------------------------------------------
def tnn_classes() -> dict:
    """The ``tnn_lib`` classes that may travel by state, by qualified name. Imported lazily,
    from whichever ``tnn_lib`` this process has."""
    out = {}
    for mod_name in ("tnn_lib.nn", "tnn_lib.batchnorm", "tnn_lib.optim"):
        try:
            mod = importlib.import_module(mod_name)
        except Exception:
            continue
        for name, value in vars(mod).items():
            if isinstance(value, type) and value.__module__ == mod_name and not issubclass(value, BaseException):
                out[f"{mod_name}.{name}"] = value
    return out


# ----------------------------------------------------------------------------------------
# encoding
# ----------------------------------------------------------------------------------------
class Encoder:
    """Turns a value into (tree, buffers). `register_callable(fn) -> handle` decides what a
    callable becomes; `callable_handle(fn)` may return an existing handle (a proxy of the
    other side goes back as the other side's own handle)."""

    def __init__(self, register_callable, classes: dict, register_object=None, object_class=None,
                 own_opaque=None):
        self.register_callable = register_callable
        # the student's side: while it is set, a value of no allowed kind is kept in this
        # process and sent as an opaque handle (the arguments of a call, after it)
        self.register_opaque = None
        # the grader's side: the handle of an Opaque of this channel (None for another's)
        self.own_opaque = own_opaque
        # the student's side only, in the reply to a call of its class `object_class`: the
        # instances of that class go as handles (anything else of the student's is refused)
        self.register_object = register_object
        self.object_class = object_class
        self.class_names = {cls: name for name, cls in classes.items()}
        self.buffers: list[bytes] = []
        self.memo: dict[int, int] = {}
        self.keep: list = []      # keeps memoised objects alive while encoding
        self.count = 0

    def _index(self, obj) -> int:
        i = self.count
        self.memo[id(obj)] = i
        self.keep.append(obj)
        self.count += 1
        return i

    def encode(self, obj, depth: int = 0):
        if depth > MAX_DEPTH:
            raise WireError(f"a value nested more than {MAX_DEPTH} levels deep cannot be sent")
        if obj is None or obj is True or obj is False:
            return obj
        if type(obj) is int or (isinstance(obj, int) and not isinstance(obj, (bool, np.integer))):
            return int.__int__(obj) if type(obj) is not int else obj
        if isinstance(obj, float) and not isinstance(obj, np.floating):
            v = float.__float__(obj)
            return v if math.isfinite(v) else {"$": "f", "v": repr(v)}
        if isinstance(obj, str):
            return str.__str__(obj)
        if obj is Ellipsis:
            return {"$": "..."}
        if isinstance(obj, complex) and not isinstance(obj, np.complexfloating):
            return {"$": "c", "r": repr(obj.real), "i": repr(obj.imag)}
        if id(obj) in self.memo:
            return {"$": "ref", "i": self.memo[id(obj)]}
        if isinstance(obj, np.generic):
            arr = np.asarray(obj)
            return {"$": "s", "i": self._index(obj), **self._array(arr)}
        if isinstance(obj, np.ndarray):
            return {"$": "a", "i": self._index(obj), **self._array(obj)}
        if isinstance(obj, tuple):
            i = self._index(obj)
            return {"$": "t", "i": i, "v": [self.encode(v, depth + 1) for v in tuple.__iter__(obj)]}
        if isinstance(obj, list):
            i = self._index(obj)
            return {"$": "l", "i": i, "v": [self.encode(v, depth + 1) for v in list.__iter__(obj)]}
        if isinstance(obj, dict):
            i = self._index(obj)
            items = list(dict.items(obj))
            return {"$": "d", "i": i, "k": [self.encode(k, depth + 1) for k, _ in items],
                    "v": [self.encode(v, depth + 1) for _, v in items]}
        if isinstance(obj, np.random.Generator):
            i = self._index(obj)
            return {"$": "rng", "i": i, "state": self.encode(obj.bit_generator.state, depth + 1)}
        if type(obj) in self.class_names:
            i = self._index(obj)
            state = dict(vars(obj))
            return {"$": "obj", "i": i, "cls": self.class_names[type(obj)],
                    "state": self.encode(state, depth + 1)}
        if type(obj) is Opaque:
            h = self.own_opaque(obj) if self.own_opaque is not None else None
            if h is None:
                raise WireError(f"{obj!r} belongs to a student process that has ended; it cannot be passed again")
            return {"$": "h", "h": h, "cls": object.__getattribute__(obj, "_tnn_cls")}
        if callable(obj):
            return {"$": "fn", "h": self.register_callable(obj),
                    "name": str(getattr(obj, "__name__", type(obj).__name__))[:100]}
        if self.register_object is not None and self.object_class is not None and type(obj) is self.object_class:
            return {"$": "o", "h": self.register_object(obj), "cls": str(type(obj).__qualname__)[:100]}
        if self.register_opaque is not None:
            i = self._index(obj)
            return {"$": "h", "i": i, "h": self.register_opaque(obj),
                    "cls": f"{type(obj).__module__}.{type(obj).__qualname__}"[:200]}
        raise WireError(f"a value of type {type(obj).__module__}.{type(obj).__qualname__} cannot be sent "
                        f"between your code and the grader; expected {KINDS}")

    def _array(self, arr: np.ndarray) -> dict:
        arr = np.asarray(arr)
        if type(arr) is not np.ndarray:  # a subclass of ndarray: its plain base value
            arr = arr.view(np.ndarray)
        dt = arr.dtype.newbyteorder("=") if arr.dtype.byteorder not in ("=", "|") else arr.dtype
        if dt.str not in ALLOWED_DTYPES:
            raise WireError(f"an array of dtype {arr.dtype} cannot be sent between your code and the grader; "
                            "expected an array of numbers or booleans")
        data = np.ascontiguousarray(arr, dtype=dt).tobytes()
        self.buffers.append(data)
        return {"dtype": dt.str, "shape": [int(n) for n in arr.shape], "b": len(self.buffers) - 1}


# ----------------------------------------------------------------------------------------
# decoding (strict: the sender is not trusted)
# ----------------------------------------------------------------------------------------
class RemoteObject:
    """An object of the student's code seen from the grader: ``obj.name`` reads the attribute
    in the student process (data as data, a method as a callable handle), ``obj.name = v``
    sets it there. Only data crosses; the grader never holds the student's object."""

    __slots__ = ("_tnn_access", "_tnn_cls")

    def __init__(self, access, cls: str):
        object.__setattr__(self, "_tnn_access", access)
        object.__setattr__(self, "_tnn_cls", cls)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._tnn_access("get", name)

    def __setattr__(self, name, value):
        if name.startswith("_"):
            raise AttributeError(f"{name}: private attributes of your object are not set by the grader")
        self._tnn_access("set", name, value)

    def __repr__(self):
        return f"<{self._tnn_cls} object of your code>"


class Opaque:
    """An object the student's code keeps for itself (in a ``state`` dict it is handed back),
    seen from the grader: a handle and the name of its type, nothing else. The grader passes
    it back to the student's code as it is; reading it (attributes, numbers, comparison,
    pickling) raises TypeError with the message a value that cannot be sent gets."""

    __slots__ = ("_tnn_handle", "_tnn_cls", "_tnn_owner")

    def __init__(self, handle: str, cls: str, owner):
        object.__setattr__(self, "_tnn_handle", handle)
        object.__setattr__(self, "_tnn_cls", cls)
        object.__setattr__(self, "_tnn_owner", owner)

    @property
    def _tnn_why(self) -> str:
        return (f"a value of type {object.__getattribute__(self, '_tnn_cls')} cannot be sent between your code and "
                f"the grader; expected {KINDS} (your code may keep such a value for itself, in its state, but the "
                "grader does not read it)")

    def _refuse(self, *args, **kwargs):
        raise TypeError(self._tnn_why)

    def __getattr__(self, name):
        raise AttributeError(f"{name}: {self._tnn_why}")

    def __setattr__(self, name, value):
        raise TypeError(self._tnn_why)

    __call__ = __array__ = __float__ = __int__ = __complex__ = __index__ = __bool__ = __len__ = __iter__ = _refuse
    __getitem__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = __reduce__ = __reduce_ex__ = __getstate__ = _refuse

    def __eq__(self, other):
        return other is self

    def __ne__(self, other):
        return other is not self

    __hash__ = object.__hash__

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return f"<a {object.__getattribute__(self, '_tnn_cls')} object your code keeps>"


def object_access(obj):
    """The call-back through which the grader reaches ``obj``'s public attributes (the
    student's side registers it as the handle of an ``{"$": "o"}`` value)."""
    def access(op, name, value=None):
        if type(name) is not str or not name.isidentifier() or name.startswith("_"):
            raise AttributeError(f"{name!r}: only public attributes are reachable")
        if op == "get":
            return getattr(obj, name)
        if op == "set":
            setattr(obj, name, value)
            return None
        raise ValueError(f"unknown attribute operation {op!r}")
    return access


class Decoder:
    """Rebuilds values from (tree, buffers), checking every node.

    `make_callable(handle, name)` turns a handle of the other side into a local proxy;
    `local_callable(handle)` returns one of this side's own callables sent back.
    With `into`, :meth:`decode_into` writes a value into an existing object in place
    (arrays, dicts, lists, generators, tnn_lib objects), which is how the in-place updates
    of a student's function reach the grader's own arguments.
    """

    def __init__(self, buffers: list, make_callable, local_callable, classes: dict, opaque=None):
        self.buffers = buffers
        # `opaque(handle, cls)`: what an opaque handle becomes (the grader: an Opaque; the
        # student: the object it kept); None: refused
        self.opaque = opaque
        self.make_callable = make_callable
        self.local_callable = local_callable
        self.classes = classes
        self.table: dict[int, object] = {}
        self.nodes = 0
        # a shared part may be referred to many times: what it would cost to walk the value
        # as a tree (repr, np.asarray, a comparison) is charged for every reference, so a list
        # of lists that doubles at each level is refused instead of growing to 2**depth
        self.expanded = 0
        self.weights: dict[int, int] = {}
        self.open: set[int] = set()

    def _fail(self, what: str):
        raise WireError(f"the grader received a malformed value ({what}); expected {KINDS}")

    def _count(self):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise WireError(f"a value with more than {MAX_NODES} parts cannot be sent")

    def _remember(self, node, value):
        i = node.get("i")
        if type(i) is not int or i in self.table:
            self._fail("a bad reference index")
        self.table[i] = value
        return value

    def _charge(self, n: int):
        self.expanded += n
        if self.expanded > MAX_EXPANDED:
            raise WireError(f"a value of more than {MAX_EXPANDED:,} numbers (counting every shared part as often "
                            "as it is used) cannot be sent between your code and the grader")

    def decode(self, node, depth: int = 0):
        return self.decode_into(node, None, depth)

    def decode_into(self, node, into, depth: int = 0):
        start = self.expanded
        value = self._decode_into(node, into, depth)
        if type(node) is dict and type(node.get("i")) is int and node.get("$") != "ref":
            self.weights[node["i"]] = self.expanded - start
            self.open.discard(node["i"])
        return value

    def _decode_into(self, node, into, depth: int = 0):
        """One node: JSON scalars as themselves, a ``{"$": kind}`` node by :attr:`KIND_DECODERS`
        (the module docstring's table), anything else refused."""
        self._count()
        self._charge(1)
        if type(node) is dict and type(node.get("i")) is int and node.get("$") in ("t", "l", "d", "obj"):
            self.open.add(node["i"])
        if depth > MAX_DEPTH:
            raise WireError(f"a value nested more than {MAX_DEPTH} levels deep cannot be sent")
        t = type(node)
        if node is None or t in (bool, int, str, float):
            return node
        if t is not dict:
            self._fail(f"a JSON {t.__name__}")
        kind = node.get("$")
        decode = self.KIND_DECODERS.get(kind) if type(kind) is str else None
        if decode is None:
            self._fail(f"an unknown kind {str(kind)[:20]!r}")
        return decode(self, node, into, depth)

    def _float(self, node, into, depth):
        v = node.get("v")
        if v not in ("nan", "inf", "-inf"):
            self._fail("a bad float")
        return float(v)

    def _ellipsis(self, node, into, depth):
        return Ellipsis

    def _complex(self, node, into, depth):
        try:
            return complex(float(str(node["r"])), float(str(node["i"])))
        except (KeyError, ValueError):
            self._fail("a bad complex number")

    def _ref(self, node, into, depth):
        i = node.get("i")
        if type(i) is not int or i not in self.table:
            self._fail("a reference to nothing")
        if i in self.open:
            raise WireError("a value that contains itself cannot be sent between your code and the grader")
        self._charge(self.weights.get(i, 1))
        return self.table[i]

    def _array(self, node, into, depth):
        arr = self._read_array(node)
        self._charge(max(0, arr.size - 1))
        if isinstance(into, np.ndarray) and type(into) is np.ndarray and into.shape == arr.shape \
                and into.flags.writeable and np.can_cast(arr.dtype, into.dtype, "same_kind"):
            into[...] = arr
            return self._remember(node, into)
        return self._remember(node, arr)

    def _scalar(self, node, into, depth):
        arr = self._read_array(node)
        self._charge(max(0, arr.size - 1))
        if arr.ndim != 0:
            self._fail("a scalar with a shape")
        return self._remember(node, arr[()])

    def _items(self, node) -> list:
        items = node.get("v")
        if type(items) is not list:
            self._fail("a sequence without items")
        return items

    def _list(self, node, into, depth):
        items = self._items(node)
        target = into if type(into) is list else []
        self._remember(node, target)
        old = list(target)
        new = [self.decode_into(v, old[k] if k < len(old) else None, depth + 1) for k, v in enumerate(items)]
        target[:] = new
        return target

    def _tuple(self, node, into, depth):
        items = self._items(node)
        # a tuple cannot refer to itself: decode the items first
        olds = tuple(into) if type(into) is tuple and len(into) == len(items) else (None,) * len(items)
        placeholder = object()
        i = node.get("i")
        if type(i) is not int or i in self.table:
            self._fail("a bad reference index")
        self.table[i] = placeholder
        vals = tuple(self.decode_into(v, o, depth + 1) for v, o in zip(items, olds))
        if any(v is placeholder for v in vals):
            self._fail("a tuple that contains itself")
        if type(into) is tuple and len(into) == len(vals) and all(a is b for a, b in zip(into, vals)):
            vals = into
        self.table[i] = vals
        return vals

    def _dict(self, node, into, depth):
        keys, values = node.get("k"), node.get("v")
        if type(keys) is not list or type(values) is not list or len(keys) != len(values):
            self._fail("a dict with mismatched keys and values")
        target = into if type(into) is dict else {}
        self._remember(node, target)
        old = dict(target)
        new = {}
        for k, v in zip(keys, values):
            key = self.decode(k, depth + 1)
            try:
                hash(key)
            except TypeError:
                self._fail("a dict key that is not hashable")
            new[key] = self.decode_into(v, old.get(key), depth + 1)
        target.clear()
        target.update(new)
        return target

    def _generator(self, node, into, depth):
        state = self.decode(node.get("state"), depth + 1)
        gen = into if isinstance(into, np.random.Generator) else None
        name = state.get("bit_generator") if type(state) is dict else None
        if name not in BIT_GENERATORS:
            self._fail(f"a generator with bit generator {str(name)[:40]!r}")
        try:
            if gen is None or type(gen.bit_generator).__name__ != name:
                gen = np.random.Generator(getattr(np.random, name)())
            gen.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as err:
            self._fail(f"a generator state numpy refuses: {err}")
        return self._remember(node, gen)

    def _object(self, node, into, depth):
        cls = self.classes.get(node.get("cls"))
        if cls is None:
            self._fail(f"an object of unknown class {str(node.get('cls'))[:80]!r}")
        obj = into if type(into) is cls else cls.__new__(cls)
        self._remember(node, obj)
        state_node = node.get("state")
        if type(state_node) is not dict or state_node.get("$") != "d":
            self._fail("an object without attributes")
        state = self.decode_into(state_node, dict(vars(obj)) if obj is into else None, depth + 1)
        if not all(type(k) is str and k.isidentifier() and not k.startswith("__") for k in state):
            self._fail("an object attribute that is not a plain name")
        vars(obj).clear()
        vars(obj).update(state)
        return obj

    def _function(self, node, into, depth):
        h = node.get("h")
        if type(h) is not str or len(h) > 64:
            self._fail("a bad function handle")
        local = self.local_callable(h)
        if local is not None:
            return local
        return self.make_callable(h, str(node.get("name", "function"))[:100])

    def _kept(self, node, into, depth):
        h, cls = node.get("h"), node.get("cls")
        if type(h) is not str or len(h) > 64 or type(cls) is not str or self.opaque is None:
            self._fail("a bad handle of a kept value")
        value = self.opaque(h, cls[:200])
        if value is None:
            self._fail("a handle of a kept value this side does not know")
        if type(node.get("i")) is int:
            self._remember(node, value)
        return value

    def _remote_object(self, node, into, depth):
        h = node.get("h")
        if type(h) is not str or len(h) > 64 or self.local_callable(h) is not None:
            self._fail("a bad object handle")
        cls = str(node.get("cls", "object"))[:100]
        return RemoteObject(self.make_callable(h, f"{cls} attribute access"), cls)

    # the value kinds of the module docstring's table, each with its decoder
    KIND_DECODERS = {"f": _float, "...": _ellipsis, "c": _complex, "ref": _ref, "a": _array, "s": _scalar,
                     "t": _tuple, "l": _list, "d": _dict, "rng": _generator, "obj": _object, "fn": _function,
                     "h": _kept, "o": _remote_object}

    def _read_array(self, node) -> np.ndarray:
        dtype, shape, b = node.get("dtype"), node.get("shape"), node.get("b")
        if dtype not in ALLOWED_DTYPES:
            self._fail(f"an array of dtype {str(dtype)[:20]!r}")
        if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 32:
            self._fail("an array with a bad shape")
        if type(b) is not int or not 0 <= b < len(self.buffers):
            self._fail("an array without its data")
        dt = np.dtype(dtype)
        raw = self.buffers[b]
        if len(raw) != dt.itemsize * math.prod(shape):
            self._fail("an array whose data does not fit its shape")
        return np.frombuffer(raw, dtype=dt).reshape(shape).copy()


# ----------------------------------------------------------------------------------------
# framing over a socket
# ----------------------------------------------------------------------------------------
def pack(header: dict, buffers: list[bytes]) -> bytes:
    header = dict(header, buffers=[len(b) for b in buffers])
    text = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    return b"".join([MAGIC, struct.pack("<I", len(text)), text, *buffers])


class Channel:
    """Length-prefixed frames over a stream socket, with deadlines on reading."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.sock.setblocking(True)

    def send(self, header: dict, buffers=()) -> None:
        try:
            self.sock.sendall(pack(header, list(buffers)))
        except (BrokenPipeError, ConnectionResetError, OSError) as err:
            raise ChannelClosed(f"the other process is gone ({err})") from None

    def _read(self, n: int, deadline: float | None) -> bytes:
        chunks, got = [], 0
        while got < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ChannelTimeout("no answer before the time limit")
                ready, _, _ = select.select([self.sock], [], [], left)
                if not ready:
                    raise ChannelTimeout("no answer before the time limit")
            try:
                chunk = self.sock.recv(min(n - got, 1 << 20))
            except (ConnectionResetError, OSError) as err:
                raise ChannelClosed(f"the other process is gone ({err})") from None
            if not chunk:
                raise ChannelClosed("the other process closed the channel")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def recv(self, deadline: float | None = None) -> tuple[dict, list[bytes]]:
        head = self._read(8, deadline)
        if head[:4] != MAGIC:
            raise WireError("the grader received bytes that are not a message of its protocol")
        (size,) = struct.unpack("<I", head[4:])
        if size > MAX_HEADER:
            raise WireError(f"a message of {size} bytes is larger than the limit of {MAX_HEADER}")
        try:
            header = json.loads(self._read(size, deadline).decode("utf-8"),
                                parse_constant=lambda c: (_ for _ in ()).throw(WireError("NaN in a header")))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as err:
            raise WireError(f"the grader received a malformed message ({type(err).__name__})") from None
        lengths = header.get("buffers") if type(header) is dict else None
        if type(lengths) is not list or not all(type(n) is int and n >= 0 for n in lengths) \
                or sum(lengths) > MAX_BUFFERS:
            raise WireError("the grader received a message with bad or too large array data")
        buffers = [self._read(n, deadline) if n else b"" for n in lengths]
        return header, buffers

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def fd_channel(fd: int) -> Channel:
    return Channel(socket.socket(fileno=fd))


__all__ = ["Encoder", "Decoder", "Opaque", "Channel", "WireError", "ChannelClosed", "ChannelTimeout", "tnn_classes",
           "fd_channel", "KINDS"]
