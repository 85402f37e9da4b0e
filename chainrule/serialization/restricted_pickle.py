"""A pickle reader that builds only what a table allows, and runs no code from the file.

A pickle is a program for a small stack machine: most instructions push
values (ints, strings, empty containers) or fill containers, but ``GLOBAL``
imports any name (``os.system``), ``REDUCE`` calls it with arguments from the
stack, and ``BUILD`` / ``NEWOBJ`` run a class's own methods. Python's
``pickle.load`` executes all of these, so loading an untrusted file can run
anything. This reader interprets the same instructions itself (as PyTorch's
``torch/_weights_only_unpickler.py`` does) with three changes:

- ``GLOBAL`` / ``STACK_GLOBAL`` look the name up in ``allowed_globals``, a dict
  from ``"module.name"`` to a stand-in written by the caller; nothing is
  imported, and any other name raises ``RefusedGlobalError`` naming it;
- ``REDUCE`` and ``NEWOBJ`` call only those stand-ins;
- ``BUILD`` only sets string-named attributes on an ``OrderedDict`` (PyTorch's
  state_dicts carry ``_metadata`` that way).

``persistent_load`` (``BINPERSID``) is the caller's: torch.save's archives name
their tensor storages through it. Protocols 2 to 5 are read, without the
opcodes of text protocols 0 and 1, frozensets, or out-of-band buffers.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import io
import pickle
from collections import OrderedDict
from collections.abc import Callable
from struct import unpack


class RefusedPickleError(pickle.UnpicklingError):
    """The pickle asks for something the reader does not allow: a global, or a call or attribute
    setting on anything but an allowed stand-in. Other UnpicklingErrors mean a malformed pickle."""


class RefusedGlobalError(RefusedPickleError):
    """The pickle names a global (function or class), ``global_name``, that the reader does not allow."""

    def __init__(self, message: str, global_name: str):
        super().__init__(message)
        self.global_name = global_name


class _Mark:
    """The stack entry that ``MARK`` pushes (a tuple's or a batch of items' start)."""


_MARK = _Mark()


class RestrictedUnpickler:
    """Read one pickle from ``stream``, building only ``allowed_globals``' stand-ins.

    ``source`` names the file in error messages; ``persistent_load(pid)``
    resolves ``BINPERSID`` references.
    """

    def __init__(
        self,
        stream: io.BufferedIOBase,
        allowed_globals: dict[str, Callable],
        persistent_load: Callable | None = None,
        source: str = "pickle",
    ):
        self._stream = stream
        self._allowed = allowed_globals
        self._allowed_callables = {id(value) for value in allowed_globals.values()}
        self._persistent_load = persistent_load
        self._source = source
        self._stack: list = []
        self._memo: dict = {}
        self._protocol = 2

    # ------------------------------------------------------------------ reading bytes
    def _read(self, count: int) -> bytes:
        data = self._stream.read(count)
        if len(data) != count:
            raise pickle.UnpicklingError(f"{self._source}: the pickle ends early (truncated file)")
        return data

    def _read_format(self, fmt: str, size: int):
        return unpack(fmt, self._read(size))[0]

    def _read_line(self) -> str:
        line = self._stream.readline()
        if not line.endswith(b"\n"):
            raise pickle.UnpicklingError(f"{self._source}: the pickle ends early (truncated file)")
        return line[:-1].decode("ascii")

    def _fail(self, message: str):
        raise pickle.UnpicklingError(f"{self._source}: {message}")

    def _refuse(self, message: str):
        raise RefusedPickleError(f"{self._source}: refused {message}")

    # ------------------------------------------------------------------ the machine
    def load(self):
        """Run the pickle's instructions up to STOP and return the object it built."""
        while True:
            code = self._stream.read(1)
            if not code:
                self._fail("the pickle ends early (no STOP instruction; truncated file)")
            if code == pickle.STOP:
                if len(self._stack) != 1:
                    self._fail("malformed pickle (STOP with an unbalanced stack)")
                return self._stack.pop()
            handler = _DISPATCH.get(code)
            if handler is None:
                self._fail(f"unsupported pickle instruction {code!r} (only the binary protocols 2-5 are read)")
            try:
                handler(self)
            except (IndexError, KeyError, TypeError) as exc:  # an empty stack, unknown memo key, bad arguments
                self._fail(f"malformed pickle at instruction {code!r} ({type(exc).__name__}: {exc})")

    def _pop(self):
        return self._stack.pop()

    def _pop_mark(self) -> list:
        """The items above the last MARK (and the MARK itself removed)."""
        for position in range(len(self._stack) - 1, -1, -1):
            if self._stack[position] is _MARK:
                items = self._stack[position + 1 :]
                del self._stack[position:]
                return items
        self._fail("malformed pickle (no MARK before a tuple or batch)")

    def _push(self, value) -> None:
        self._stack.append(value)

    # globals and calls: the only instructions that could run code
    def _global(self, module: str, name: str):
        if self._protocol < 3:  # Python 2 names, as pickle's fix_imports reads them ("__builtin__" is "builtins")
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full_name = f"{module}.{name}"
        if full_name not in self._allowed:
            raise RefusedGlobalError(
                f"{self._source}: refused to load the global {full_name}: only tensors, their storages and "
                "plain containers (dict, list, tuple, OrderedDict, numbers, strings) are rebuilt, and no code "
                "from the file is run",
                full_name,
            )
        return self._allowed[full_name]

    def _call(self, function, args, instruction: str):
        if id(function) not in self._allowed_callables or not callable(function):
            self._refuse(f"{instruction} of {function!r}, which is not an allowed global")
        if type(args) is not tuple:
            self._fail(f"{instruction} with arguments of type {type(args).__name__} (expected a tuple)")
        return function(*args)

    def _op_global(self):
        module = self._read_line()
        self._push(self._global(module, self._read_line()))

    def _op_stack_global(self):
        name, module = self._pop(), self._pop()
        if type(name) is not str or type(module) is not str:
            self._fail("STACK_GLOBAL with a module or name that is not a string")
        self._push(self._global(module, name))

    def _op_reduce(self):
        args = self._pop()
        self._stack[-1] = self._call(self._stack[-1], args, "REDUCE")

    def _op_newobj(self):
        args = self._pop()
        self._stack[-1] = self._call(self._stack[-1], args, "NEWOBJ")

    def _op_build(self):
        state = self._pop()
        target = self._stack[-1]
        if type(target) is not OrderedDict or type(state) is not dict or not all(type(k) is str for k in state):
            self._refuse(f"BUILD of a {type(target).__name__} (only an OrderedDict's attributes may be set)")
        target.__dict__.update(state)

    def _op_persistent_id(self):
        pid = self._pop()
        if self._persistent_load is None:
            self._fail("a persistent reference (BINPERSID) where none is expected")
        self._push(self._persistent_load(pid))

    # containers
    def _op_mark(self):
        self._push(_MARK)

    def _op_tuple(self):
        self._push(tuple(self._pop_mark()))

    def _op_append(self):
        item = self._pop()
        self._list_target().append(item)

    def _op_appends(self):
        items = self._pop_mark()
        self._list_target().extend(items)

    def _list_target(self) -> list:
        target = self._stack[-1]
        if type(target) is not list:
            self._refuse(f"APPEND to a {type(target).__name__} (only lists)")
        return target

    def _op_setitem(self):
        value, key = self._pop(), self._pop()
        self._dict_target()[key] = value

    def _op_setitems(self):
        items = self._pop_mark()
        target = self._dict_target()
        for i in range(0, len(items) - 1, 2):
            target[items[i]] = items[i + 1]

    def _op_additems(self):
        items = self._pop_mark()
        target = self._stack[-1]
        if type(target) is not set:
            self._refuse(f"ADDITEMS to a {type(target).__name__} (only sets)")
        target.update(items)

    def _dict_target(self) -> dict:
        target = self._stack[-1]
        if type(target) not in (dict, OrderedDict):
            self._refuse(f"SETITEM on a {type(target).__name__} (only dicts)")
        return target

    # memo
    def _op_put(self, index: int):
        self._memo[index] = self._stack[-1]

    def _op_memoize(self):
        self._memo[len(self._memo)] = self._stack[-1]

    def _op_get(self, index: int):
        self._push(self._memo[index])

    # framing, protocol, the end
    def _op_proto(self):
        self._protocol = self._read(1)[0]
        if not 2 <= self._protocol <= 5:
            self._fail(f"pickle protocol {self._protocol} (protocols 2 to 5 are read)")

    def _op_frame(self):
        self._read(8)  # a hint for buffering; the frame's instructions follow inline


def _decode_long(data: bytes) -> int:
    return int.from_bytes(data, "little", signed=True)


def _string(data: bytes) -> str:
    return str(data, "utf-8", "surrogatepass")


def _pushing(read_value: Callable):
    """An instruction that pushes the value ``read_value(unpickler)`` reads from the stream."""
    return lambda self: self._push(read_value(self))


def _tuple_of(count: int):
    """The instruction that replaces the top ``count`` items of the stack by their tuple."""

    def op(self: RestrictedUnpickler):
        items = self._stack[len(self._stack) - count :] if count else []
        if len(items) != count or any(item is _MARK for item in items):
            self._fail("malformed pickle (a tuple of missing items)")
        del self._stack[len(self._stack) - count :]
        self._push(tuple(items))

    return op


_DISPATCH: dict[bytes, Callable] = {
    pickle.PROTO: RestrictedUnpickler._op_proto,
    pickle.FRAME: RestrictedUnpickler._op_frame,
    pickle.GLOBAL: RestrictedUnpickler._op_global,
    pickle.STACK_GLOBAL: RestrictedUnpickler._op_stack_global,
    pickle.REDUCE: RestrictedUnpickler._op_reduce,
    pickle.NEWOBJ: RestrictedUnpickler._op_newobj,
    pickle.BUILD: RestrictedUnpickler._op_build,
    pickle.BINPERSID: RestrictedUnpickler._op_persistent_id,
    pickle.MARK: RestrictedUnpickler._op_mark,
    pickle.TUPLE: RestrictedUnpickler._op_tuple,
    pickle.EMPTY_TUPLE: _tuple_of(0),
    pickle.TUPLE1: _tuple_of(1),
    pickle.TUPLE2: _tuple_of(2),
    pickle.TUPLE3: _tuple_of(3),
    pickle.EMPTY_LIST: _pushing(lambda self: []),
    pickle.EMPTY_DICT: _pushing(lambda self: {}),
    pickle.EMPTY_SET: _pushing(lambda self: set()),
    pickle.ADDITEMS: RestrictedUnpickler._op_additems,
    pickle.APPEND: RestrictedUnpickler._op_append,
    pickle.APPENDS: RestrictedUnpickler._op_appends,
    pickle.SETITEM: RestrictedUnpickler._op_setitem,
    pickle.SETITEMS: RestrictedUnpickler._op_setitems,
    pickle.BINPUT: lambda self: self._op_put(self._read(1)[0]),
    pickle.LONG_BINPUT: lambda self: self._op_put(self._read_format("<I", 4)),
    pickle.MEMOIZE: RestrictedUnpickler._op_memoize,
    pickle.BINGET: lambda self: self._op_get(self._read(1)[0]),
    pickle.LONG_BINGET: lambda self: self._op_get(self._read_format("<I", 4)),
    pickle.POP: lambda self: self._pop(),
    pickle.POP_MARK: lambda self: self._pop_mark(),
    pickle.DUP: lambda self: self._push(self._stack[-1]),
    pickle.NONE: _pushing(lambda self: None),
    pickle.NEWTRUE: _pushing(lambda self: True),
    pickle.NEWFALSE: _pushing(lambda self: False),
    pickle.BININT: _pushing(lambda self: self._read_format("<i", 4)),
    pickle.BININT1: _pushing(lambda self: self._read(1)[0]),
    pickle.BININT2: _pushing(lambda self: self._read_format("<H", 2)),
    pickle.LONG1: _pushing(lambda self: _decode_long(self._read(self._read(1)[0]))),
    pickle.LONG4: _pushing(lambda self: _decode_long(self._read(self._read_format("<i", 4)))),
    pickle.BINFLOAT: _pushing(lambda self: self._read_format(">d", 8)),
    pickle.SHORT_BINUNICODE: _pushing(lambda self: _string(self._read(self._read(1)[0]))),
    pickle.BINUNICODE: _pushing(lambda self: _string(self._read(self._read_format("<I", 4)))),
    pickle.BINUNICODE8: _pushing(lambda self: _string(self._read(self._read_format("<Q", 8)))),
    pickle.SHORT_BINBYTES: _pushing(lambda self: self._read(self._read(1)[0])),
    pickle.BINBYTES: _pushing(lambda self: self._read(self._read_format("<I", 4))),
    pickle.BINBYTES8: _pushing(lambda self: self._read(self._read_format("<Q", 8))),
    pickle.SHORT_BINSTRING: _pushing(lambda self: self._read(self._read(1)[0]).decode("ascii")),
    pickle.BINSTRING: _pushing(lambda self: self._read(self._read_format("<i", 4)).decode("ascii")),
}


def latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """Stand-in for ``_codecs.encode``, by which protocol 2 pickles ``bytes``: only the latin-1 form."""
    if type(text) is not str or codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"_codecs.encode is allowed only as latin-1 text to bytes, got {encoding!r}")
    return text.encode("latin1")


PLAIN_GLOBALS: dict[str, Callable] = {
    "collections.OrderedDict": OrderedDict,
    "builtins.set": set,
    "builtins.complex": complex,
    "_codecs.encode": latin1_bytes,
}
"""The stand-ins for plain Python containers, allowed in every restricted load."""
