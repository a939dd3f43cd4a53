"""The symbolic values and results of a static pickle walk (see ``pickle_vm``).

Where CPython's unpickler would import or call something, ``pickle_vm`` builds one of these
instead; :class:`PickleResult` carries the value at STOP plus every :class:`Event` a scanner
needs, each at its opcode's byte offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, NamedTuple

__all__ = [
    "Sym", "Global", "Call", "Build", "PersistentId", "Ext", "OutOfBand", "Blob",
    "Event", "PickleError", "PickleResult", "HookResult", "BuildHook", "BLOB_MIN",
]

BLOB_MIN = 256  # BINBYTES* at least this long become a Blob (offset, length) instead of bytes


class Sym:
    """A value the real unpickler would have obtained by importing or calling something."""

    __slots__ = ()


class Global(Sym):
    """``module.name`` as ``find_class`` would import it (after ``fix_imports`` mapping)."""

    __slots__ = ("module", "name", "obfuscated")

    def __init__(self, module: Any, name: Any, obfuscated: bool = False):
        self.module = module
        self.name = name
        self.obfuscated = obfuscated

    @property
    def qualname(self) -> str:
        if self.obfuscated:
            return "<computed>.<computed>"
        return f"{self.module}.{self.name}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Global) or self.obfuscated or other.obfuscated:
            return self is other
        return self.module == other.module and self.name == other.name

    def __hash__(self) -> int:
        return id(self) if self.obfuscated else hash((self.module, self.name))

    def __repr__(self) -> str:
        return f"Global({self.qualname})"


class Call(Sym):
    """A call the unpickler would make; mutated in place by BUILD / APPEND(S) / SETITEM(S) /
    ADDITEMS exactly as the real object would be, so memo references see the same node."""

    __slots__ = ("func", "args", "kind", "kwargs", "offset", "states", "listitems",
                 "dictitems", "setitems", "data")

    def __init__(self, func: Any, args: Any, kind: str, offset: int, kwargs: Any = None):
        self.func = func
        self.args = args
        self.kind = kind  # "reduce" | "newobj" | "newobj_ex" | "inst" | "obj"
        self.kwargs = kwargs
        self.offset = offset
        self.states: list[Any] | None = None
        self.listitems: list[Any] | None = None
        self.dictitems: list[tuple[Any, Any]] | None = None
        self.setitems: list[Any] | None = None
        self.data: Any = None  # raw data a build hook attached (joblib arrays)

    @property
    def state(self) -> Any:
        return self.states[-1] if self.states else None

    @property
    def callable(self) -> Global | None:
        """The named callable, or None when it is computed (a call of a call, a memo trick…)."""
        f = self.func
        return f if isinstance(f, Global) and not f.obfuscated else None

    def __repr__(self) -> str:
        return f"Call({self.func!r}, {self.kind})"


class Build(Sym):
    """BUILD applied to something that is not a Call (a class, a persistent id, plain data)."""

    __slots__ = ("obj", "state", "offset")

    def __init__(self, obj: Any, state: Any, offset: int):
        self.obj, self.state, self.offset = obj, state, offset

    def __repr__(self) -> str:
        return f"Build({self.obj!r})"


class PersistentId(Sym):
    __slots__ = ("value", "offset")

    def __init__(self, value: Any, offset: int):
        self.value, self.offset = value, offset

    def __repr__(self) -> str:
        return f"PersistentId({self.value!r})"


class Ext(Sym):
    """An extension-registry code: resolved by ``copyreg`` in the loading process."""

    __slots__ = ("code", "offset")

    def __init__(self, code: int, offset: int):
        self.code, self.offset = code, offset

    def __repr__(self) -> str:
        return f"Ext({self.code})"


class OutOfBand(Sym):
    __slots__ = ("index", "offset")

    def __init__(self, index: int, offset: int):
        self.index, self.offset = index, offset

    def __repr__(self) -> str:
        return f"OutOfBand({self.index})"


class Blob:
    """Bytes that lie verbatim in the stream: where, not what.  Compares equal to the bytes."""

    __slots__ = ("offset", "length", "kind", "_data")

    def __init__(self, offset: int, length: int, kind: str, data: Any):
        self.offset, self.length, self.kind, self._data = offset, length, kind, data

    def __len__(self) -> int:
        return self.length

    def tobytes(self) -> bytes:
        return bytes(self._data[self.offset : self.offset + self.length])

    def __bytes__(self) -> bytes:
        return self.tobytes()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Blob):
            return self.length == other.length and self.tobytes() == other.tobytes()
        if isinstance(other, (bytes, bytearray, memoryview)):
            return len(other) == self.length and self.tobytes() == bytes(other)
        return NotImplemented

    def __hash__(self) -> int:
        if self.kind == "bytearray":
            raise TypeError("unhashable type: 'bytearray'")
        return hash(self.tobytes())

    def __repr__(self) -> str:
        return f"Blob({self.kind}, {self.length} bytes at {self.offset})"


class Event(NamedTuple):
    """Something a scanner wants to know, at its opcode's offset.

    kind: ``global`` (target: Global), ``call`` (target: the callable — a Global, or another
    symbolic value when the callable is computed; detail: the call kind), ``build`` (target: the
    built object's callable if named), ``persid``, ``ext``, ``buffer``, ``raw_data`` (bytes a hook
    skipped; detail: length), ``anomaly`` (detail: what CPython would do).
    """

    kind: str
    offset: int
    opcode: str
    target: Any = None
    detail: str = ""
    node: Any = None  # call: the Call built (None when folded); build on a non-Call: the Build


class PickleError(NamedTuple):
    offset: int
    message: str
    limit: bool = False  # a LIMITS bound, not a malformed stream
    truncated: bool = False  # the stream ran past its end (more bytes might have completed it)


@dataclass
class PickleResult:
    value: Any  # the object at STOP (None if the walk failed)
    start: int
    end: int  # offset just past STOP, or where the walk failed
    protocol: int  # the last PROTO seen (0 if none)
    ops: int
    events: list[Event] = field(default_factory=list)
    error: PickleError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def of_kind(self, kind: str) -> Iterator[Event]:
        return (e for e in self.events if e.kind == kind)

    @property
    def globals(self) -> list[Event]:
        return list(self.of_kind("global"))

    @property
    def calls(self) -> list[Event]:
        return list(self.of_kind("call"))

    @property
    def anomalies(self) -> list[Event]:
        return list(self.of_kind("anomaly"))

    def global_names(self) -> list[str]:
        """Sorted ``module.name`` of every global referenced (``<computed>…`` if obfuscated)."""
        return sorted({e.target.qualname for e in self.of_kind("global")})


@dataclass(frozen=True)
class HookResult:
    """What a build hook returns: the value to leave on the stack and where to resume."""

    value: Any
    end: int
    events: tuple[Event, ...] = ()


BuildHook = Callable[[Any, int, Any], "HookResult | None"]
