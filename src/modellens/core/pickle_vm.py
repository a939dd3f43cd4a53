"""A static pickle machine: runs a pickle's opcodes without importing or calling anything.

A pickle stream (https://docs.python.org/3/library/pickle.html, ``Lib/pickletools.py``)::

    [PROTO n] [FRAME len] opcode arg opcode arg ... STOP      one pickle
    <anything>                                                 bytes after STOP are not read

It is walked the way CPython's C unpickler (``Modules/_pickle.c``, ``load``) reads it: the same
stack / mark-stack split (a pop below the current MARK is an underflow), the same memo rules
(``MEMOIZE`` stores at ``len(memo)``), ``FRAME`` only requiring its bytes to exist, the C literal
parsers (``pickle_ops``), ``fix_imports`` name mapping for protocols < 3.  Where the real
unpickler would import or call, this one builds a symbolic value instead:

    GLOBAL / STACK_GLOBAL / INST's class  -> Global(module, name)   (obfuscated=True when the
                                             STACK_GLOBAL operands are not literal strings)
    REDUCE / NEWOBJ / NEWOBJ_EX / INST / OBJ -> Call(func, args, kind)
    BUILD                                 -> the Call gets .states; anything else -> Build(obj, state)
    PERSID / BINPERSID                    -> PersistentId(value)
    EXT1/2/4                              -> Ext(code)      NEXT_BUFFER -> OutOfBand(index)
    long BINBYTES* / BYTEARRAY8           -> Blob(offset, length): the bytes are not copied

Constants are plain Python values; a handful of pure builtins that pickles use to spell plain
data (``_codecs.encode(s, 'latin1')``, ``set``, ``frozenset``, ``bytes``, ``bytearray``) are folded
so a plain-data pickle yields exactly what ``pickle.loads`` returns.

Everything a scanner needs is in :attr:`PickleResult.events`, in stream order, each with its
byte offset: every global referenced, every call with its callable (a ``Global``, or something
computed), BUILDs, persistent ids, extension codes, out-of-band buffers, raw data skipped by a
hook, and anomalies (operations CPython would reject, irregular frames, data after STOP).

Every size is bounded by ``core.io.LIMITS`` and every length is checked against the bytes left
before anything is allocated; the machine is a loop, never a recursion, so no file can drive it
deep.  Container nesting is tracked (approximately: growth of an already-nested container is not
propagated upwards), so consumers must still bound their own traversals — ``pickle_tree`` does.
"""

from __future__ import annotations

import gc
import struct
from typing import Any

from . import pickle_ops as ops
from .errors import CorruptFileError, LimitExceededError
from .io import LIMITS, Limits
from .pickle_values import (
    BLOB_MIN, Blob, Build, BuildHook, Call, Event, Ext, Global, HookResult, OutOfBand,
    PersistentId, PickleError, PickleResult, Sym,
)

__all__ = [
    "Sym", "Global", "Call", "Build", "PersistentId", "Ext", "OutOfBand", "Blob",
    "Event", "PickleError", "PickleResult", "HookResult", "walk", "walk_stream",
]


class _Fail(Exception):
    def __init__(self, offset: int, message: str, limit: bool = False, truncated: bool = False):
        super().__init__(message)
        self.offset, self.message, self.limit, self.truncated = offset, message, limit, truncated


_NESTED_T = frozenset((list, tuple, dict, set, frozenset, Call, Build, PersistentId))
_I4 = struct.Struct("<i")
_U4 = struct.Struct("<I")
_U8 = struct.Struct("<Q")
_D8 = struct.Struct(">d")
_NOFOLD = object()
_FOLD_MODULES = frozenset(("_codecs", "builtins"))  # where _fold's builtins live


def _fold(func: Global, args: Any) -> Any:
    """Pure builtins pickles use to spell plain data; anything else stays a Call."""
    if type(args) is not tuple:
        return _NOFOLD
    key = (func.module, func.name)
    n = len(args)
    try:
        if key == ("_codecs", "encode"):
            if n == 2 and type(args[0]) is str and args[1] in ("latin1", "latin-1"):
                return args[0].encode("latin-1")
        elif key == ("builtins", "bytes"):
            if n == 0:
                return b""
            if n == 1 and isinstance(args[0], (bytes, Blob)):
                return bytes(args[0])
        elif key == ("builtins", "bytearray"):
            if n == 0:
                return bytearray()
            if n == 1 and isinstance(args[0], (bytes, bytearray, Blob)):
                return bytearray(bytes(args[0]))
        elif key in (("builtins", "set"), ("builtins", "frozenset")):
            if n == 0 or (n == 1 and type(args[0]) in (list, tuple, set, frozenset)):
                items = args[0] if n else ()
                return set(items) if key[1] == "set" else frozenset(items)
    except (TypeError, UnicodeError):
        pass
    return _NOFOLD


def walk(
    data: Any,
    *,
    name: str,
    start: int = 0,
    end: int | None = None,
    strict: bool = True,
    encoding: str = "ASCII",
    errors: str = "strict",
    on_build: BuildHook | None = None,
    blob_min: int = BLOB_MIN,
    limits: Limits = LIMITS,
) -> PickleResult:
    """Walk one pickle starting at ``start`` up to its STOP.

    ``data`` is bytes, bytearray, mmap or a memoryview; ``end`` bounds the stream (default: the
    end of ``data``).  ``strict``: a malformed stream raises :class:`CorruptFileError`
    (:class:`LimitExceededError` for a bound) with its offset; otherwise the result carries
    ``error`` and the events seen up to it (a scanner reports them as findings).
    ``encoding``/``errors`` decode Python 2 ``STRING`` opcodes as ``pickle.loads`` does
    (``"bytes"`` keeps them as bytes).  ``on_build(obj, offset, data)`` is called after every
    BUILD with the offset of the next opcode; it may return a :class:`HookResult` to replace the
    object and skip raw bytes that follow (joblib writes arrays that way).  Byte strings of at
    least ``blob_min`` bytes stay in place as :class:`Blob` (offset, length).
    """
    m = _Machine(data, name, start, end, encoding, errors, on_build, limits)
    m.blob_min = max(1, blob_min)
    gc_was_on = gc.isenabled()
    if gc_was_on:
        gc.disable()  # the walk makes many small containers and no cycles worth collecting
    try:
        m.run()
    except _Fail as f:
        m.result.error = PickleError(f.offset, f.message, f.limit, f.truncated)
        m.result.end = f.offset
        m.result.value = None
        if strict:
            cls = LimitExceededError if f.limit else CorruptFileError
            raise cls(name, f"pickle: {f.message}", f.offset) from None
    finally:
        if gc_was_on:
            gc.enable()
    return m.result


def walk_stream(data: Any, *, name: str, start: int = 0, end: int | None = None,
                max_pickles: int = 1024, **kw: Any) -> list[PickleResult]:
    """Walk consecutive pickles (``pickle.dump`` called several times on one file) until the
    data ends or a walk fails (that failure is the last result's ``error``); never raises for a
    malformed stream after the first pickle."""
    results: list[PickleResult] = []
    stop = len(data) if end is None else end
    strict_first = kw.pop("strict", True)
    pos = start
    while pos < stop and len(results) < max_pickles:
        strict = strict_first if not results else False
        r = walk(data, name=name, start=pos, end=stop, strict=strict, **kw)
        results.append(r)
        if not r.ok:
            break
        pos = r.end
    return results


class _Machine:
    def __init__(self, data: Any, name: str, start: int, end: int | None, encoding: str,
                 errors: str, on_build: BuildHook | None, limits: Limits):
        if isinstance(data, memoryview) and (data.ndim != 1 or data.itemsize != 1):
            data = data.cast("B")
        self.data = data
        self.mv = data if isinstance(data, memoryview) else memoryview(data)
        size = len(self.mv) if end is None else min(end, len(self.mv))
        self.size = size
        self.stop = min(size, start + limits.max_pickle_bytes)
        self.name = name
        self.start = start
        self.encoding, self.errors = encoding, errors
        self.on_build = on_build
        self.limits = limits
        self.result = PickleResult(None, start, start, 0, 0)
        self.depth: dict[int, int] = {}
        self.blob_min = BLOB_MIN

    # -- helpers ------------------------------------------------------------------------------
    def fail(self, offset: int, msg: str, limit: bool = False) -> _Fail:
        return _Fail(offset, msg, limit)

    def truncated(self, at: int, need: int) -> _Fail:
        if at + need > self.stop and self.stop < self.size:
            return _Fail(at, f"stream longer than {self.limits.max_pickle_bytes} bytes", True)
        if at == self.start:
            return _Fail(at, "ran out of input (empty pickle)", truncated=True)
        return _Fail(at, f"pickle data was truncated (needs {need} bytes, {self.stop - at} left)",
                     truncated=True)

    def readline(self, pos: int) -> tuple[bytes, int]:
        data, stop = self.data, self.stop
        if hasattr(data, "find"):
            nl = data.find(b"\n", pos, stop)
        else:
            nl, chunk, p = -1, 256, pos
            while p < stop:
                piece = bytes(self.mv[p : min(stop, p + chunk)])
                i = piece.find(b"\n")
                if i >= 0:
                    nl = p + i
                    break
                p += len(piece)
                chunk = min(chunk * 2, 1 << 20)
        if nl < 0:
            raise self.truncated(pos, stop - pos + 1)
        if nl + 1 - pos > self.limits.max_string_bytes:
            raise _Fail(pos, f"text line of {nl + 1 - pos} bytes over the limit", True)
        return bytes(self.mv[pos : nl + 1]), nl + 1

    def nest(self, container: Any, items: Any, at: int, fresh: bool = True) -> None:
        """Record ``container``'s nesting depth after it got ``items`` (fresh: just created)."""
        if fresh and _NESTED_T.isdisjoint(map(type, items)):
            return  # only scalars inside: depth 1, the default
        d = 0
        get = self.depth.get
        for x in items:
            if type(x) in _NESTED_T:
                dx = get(id(x), 1)
                if dx > d:
                    d = dx
        if d == 0 and fresh:
            return  # only scalars inside: depth 1, the default
        d += 1
        key = id(container)
        cur = 0 if fresh else self.depth.get(key, 0)
        if d > cur:
            if d > self.limits.max_pickle_depth:
                raise _Fail(at, f"containers nested deeper than {self.limits.max_pickle_depth}",
                            True)
            self.depth[key] = d

    def decode_str(self, raw: bytes, at: int) -> Any:
        if self.encoding == "bytes":
            return raw
        try:
            return raw.decode(self.encoding, self.errors)
        except (UnicodeError, LookupError) as e:
            if self.errors == "bytes":
                return raw
            raise _Fail(at, f"cannot decode a Python 2 string as {self.encoding} ({e})") from None

    def event(self, kind: str, at: int, op: int, target: Any = None, detail: str = "",
              node: Any = None) -> None:
        self.result.events.append(Event(kind, at, ops.OPNAMES.get(op, "?"), target, detail, node))

    def make_global(self, module: Any, gname: Any, at: int, op: int, proto: int) -> Global:
        detail = ""
        if type(module) is str and type(gname) is str:
            if proto < 3:
                mapped = ops.fix_import(module, gname)
                if mapped != (module, gname):
                    detail = f"fix_imports: {module}.{gname}"
                    module, gname = mapped
            g = Global(module, gname)
            if "." in gname and proto < 4:
                self.event("anomaly", at, op, g, "dotted name below protocol 4")
        else:
            g = Global(module, gname, obfuscated=True)
            detail = "operands are not literal strings"
        self.event("global", at, op, g, detail)
        return g

    def make_call(self, func: Any, args: Any, kind: str, at: int, op: int,
                  kwargs: Any = None) -> Any:
        if kind == "reduce" and type(func) is Global and func.module in _FOLD_MODULES \
                and not func.obfuscated:
            folded = _fold(func, args)
            if folded is not _NOFOLD:
                self.event("call", at, op, func, kind)
                if isinstance(folded, (set, frozenset)):
                    self.nest(folded, folded, at)
                return folded
        c = Call(func, args, kind, at, kwargs)
        self.event("call", at, op, func, kind, c)
        if kind in ("reduce", "newobj") and not isinstance(args, (tuple, Sym)):
            self.event("anomaly", at, op, func, f"{kind} arguments are {type(args).__name__}, "
                       "not a tuple (CPython raises)")
        self.nest(c, (func, args, kwargs), at)
        return c

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> None:  # noqa: C901 - one dispatch loop, hot opcodes first
        mv, stop, res = self.mv, self.stop, self.result
        stack: list[Any] = []
        marks: list[int] = []
        memo: dict[int, Any] = {}
        push, pop = stack.append, stack.pop
        lim = self.limits
        max_ops, max_stack, max_memo = lim.max_pickle_ops, lim.max_pickle_stack, lim.max_pickle_memo
        max_marks, max_str = lim.max_pickle_depth, lim.max_string_bytes
        blob_min = self.blob_min
        nest = self.nest
        nested_isdisjoint = _NESTED_T.isdisjoint  # a container of scalars needs no depth entry
        proto = 0
        frame_end = -1
        n_ops = 0
        buffers = 0
        pos = self.start
        u4, u8, i4 = _U4.unpack_from, _U8.unpack_from, _I4.unpack_from
        data = self.data

        def underflow(at: int) -> _Fail:
            return _Fail(at, "unexpected MARK found" if marks else "unpickling stack underflow")

        def pop_mark(at: int, collect: bool = False) -> int:
            if not marks:
                raise _Fail(at, "could not find MARK")
            k = marks.pop()
            if collect and k > len(stack):  # SETITEM can clear below a mark; CPython then fails
                raise _Fail(at, "MARK above the top of the stack")
            return k

        def memo_put(key: int, at: int) -> None:
            if len(stack) <= (marks[-1] if marks else 0):
                raise underflow(at)
            if key not in memo and len(memo) >= max_memo:
                raise _Fail(at, f"more than {max_memo} memo entries", True)
            if key in memo and memo[key] is not stack[-1]:
                self.event("anomaly", at, 0x70, None, f"memo entry {key} overwritten "
                           "(no pickler does that)")
            memo[key] = stack[-1]

        def blob(at: int, n: int, kind: str) -> Any:
            if n > max_str:
                raise _Fail(at, f"{kind} of {n} bytes over the limit of {max_str}", True)
            if at + n > stop:
                raise self.truncated(at, n)
            if n >= blob_min:
                return Blob(at, n, kind, data)
            raw = bytes(mv[at : at + n])
            return bytearray(raw) if kind == "bytearray" else raw

        def text(at: int, n: int) -> str:
            if n > max_str:
                raise _Fail(at, f"string of {n} bytes over the limit of {max_str}", True)
            if at + n > stop:
                raise self.truncated(at, n)
            return str(mv[at : at + n], "utf-8", "surrogatepass")

        while True:
            at = pos
            if pos >= stop:
                raise self.truncated(pos, 1)
            op = mv[pos]
            pos += 1
            n_ops += 1
            if not n_ops & 0x3FF:  # the stack grows by at most one item per opcode
                if n_ops > max_ops:
                    raise _Fail(at, f"more than {max_ops} opcodes", True)
                if len(stack) > max_stack:
                    raise _Fail(at, f"more than {max_stack} items on the pickle stack", True)
            try:
                if op == 0x72 or op == 0x71:  # LONG_BINPUT (torch's most frequent opcode), BINPUT
                    w = 4 if op == 0x72 else 1
                    if pos + w > stop:
                        raise self.truncated(pos, w)
                    key = u4(mv, pos)[0] if w == 4 else mv[pos]
                    if len(stack) <= (marks[-1] if marks else 0) or (
                            key not in memo and len(memo) >= max_memo) or (
                            key in memo and memo[key] is not stack[-1]):
                        memo_put(key, at)  # raises the right error, or notes the overwrite
                    memo[key] = stack[-1]
                    pos += w
                elif op == 0x68:  # BINGET
                    if pos + 1 > stop:
                        raise self.truncated(pos, 1)
                    key = mv[pos]
                    pos += 1
                    if key not in memo:
                        raise _Fail(at, f"Memo value not found at index {key}")
                    push(memo[key])
                elif op == 0x4D:  # BININT2
                    if pos + 2 > stop:
                        raise self.truncated(pos, 2)
                    push(mv[pos] | (mv[pos + 1] << 8))
                    pos += 2
                elif op == 0x94:  # MEMOIZE
                    memo_put(len(memo), at)
                elif op == 0x28:  # MARK
                    if len(marks) >= max_marks:
                        raise _Fail(at, f"more than {max_marks} nested MARKs", True)
                    marks.append(len(stack))
                elif op == 0x58 or op == 0x8C or op == 0x8D:  # BINUNICODE, SHORT_, 8
                    w = 4 if op == 0x58 else 1 if op == 0x8C else 8
                    if pos + w > stop:
                        raise self.truncated(pos, w)
                    n = mv[pos] if w == 1 else u4(mv, pos)[0] if w == 4 else u8(mv, pos)[0]
                    pos += w
                    try:
                        push(text(pos, n))
                    except UnicodeDecodeError as e:
                        raise _Fail(pos + e.start, f"invalid UTF-8 in string ({e.reason})") from None
                    pos += n
                elif op == 0x4B:  # BININT1
                    if pos + 1 > stop:
                        raise self.truncated(pos, 1)
                    push(mv[pos])
                    pos += 1
                elif op == 0x74 or op == 0x6C:  # TUPLE, LIST
                    k = pop_mark(at, True)
                    items = stack[k:]
                    del stack[k:]
                    v = tuple(items) if op == 0x74 else items
                    if not nested_isdisjoint(map(type, items)):
                        nest(v, items, at)
                    push(v)
                elif 0x85 <= op <= 0x87:  # TUPLE1..3
                    k = len(stack) - (op - 0x84)
                    if k < (marks[-1] if marks else 0):
                        raise underflow(at)
                    v = tuple(stack[k:])
                    del stack[k:]
                    if not nested_isdisjoint(map(type, v)):
                        nest(v, v, at)
                    push(v)
                elif op == 0x29:  # EMPTY_TUPLE
                    push(())
                elif op == 0x52:  # REDUCE
                    if len(stack) - 2 < (marks[-1] if marks else 0):
                        raise underflow(at)
                    args = pop()
                    func = pop()
                    push(self.make_call(func, args, "reduce", at, op))
                elif op == 0x88 or op == 0x89:  # NEWTRUE / NEWFALSE
                    push(op == 0x88)
                elif op == 0x4E:  # NONE
                    push(None)
                elif op == 0x51:  # BINPERSID
                    if len(stack) <= (marks[-1] if marks else 0):
                        raise underflow(at)
                    p = PersistentId(pop(), at)
                    nest(p, (p.value,), at)
                    self.event("persid", at, op, p)
                    push(p)
                elif op == 0x75 or op == 0x73:  # SETITEMS / SETITEM
                    k = pop_mark(at) if op == 0x75 else len(stack) - 2
                    self.setitems(stack, k, at)
                elif op == 0x63 or op == 0x69:  # GLOBAL / INST
                    if op == 0x69:
                        k = pop_mark(at, True)
                    line1, pos = self.readline(pos)
                    line2, pos = self.readline(pos)
                    if len(line1) < 2 or len(line2) < 2:
                        raise _Fail(at, "pickle data was truncated (empty GLOBAL name)")
                    enc = "utf-8" if op == 0x63 else "ascii"
                    try:
                        module, gname = line1[:-1].decode(enc), line2[:-1].decode(enc)
                    except UnicodeDecodeError as e:
                        raise _Fail(at, f"GLOBAL name is not {enc} ({e.reason})") from None
                    g = self.make_global(module, gname, at, op, proto)
                    if op == 0x63:
                        push(g)
                    else:
                        if k < (marks[-1] if marks else 0):
                            raise underflow(at)
                        args = tuple(stack[k:])
                        del stack[k:]
                        push(self.make_call(g, args, "inst", at, op))
                elif op == 0x93:  # STACK_GLOBAL
                    if len(stack) - 2 < (marks[-1] if marks else 0):
                        raise underflow(at)
                    gname = pop()
                    module = pop()
                    for x in (module, gname):
                        if not isinstance(x, (str, Sym)):
                            raise _Fail(at, "STACK_GLOBAL requires str")
                    push(self.make_global(module, gname, at, op, proto))
                elif op == 0x7D:  # EMPTY_DICT
                    v = {}
                    self.depth[id(v)] = 1
                    push(v)
                elif op == 0x5D:  # EMPTY_LIST
                    v = []
                    self.depth[id(v)] = 1
                    push(v)
                elif op == 0x65 or op == 0x61:  # APPENDS / APPEND
                    if op == 0x61:
                        if len(stack) - 1 <= (marks[-1] if marks else 0):
                            raise underflow(at)
                        k = len(stack) - 1
                    else:
                        k = pop_mark(at)
                    self.appends(stack, k, at)
                elif op == 0x62:  # BUILD
                    if len(stack) - 2 < (marks[-1] if marks else 0):
                        raise underflow(at)
                    state = pop()
                    obj = stack[-1]
                    if isinstance(obj, Call):
                        if obj.states is None:
                            obj.states = []
                        obj.states.append(state)
                        nest(obj, (state,), at, False)
                        self.event("build", at, op, obj.callable)
                    else:
                        b = Build(obj, state, at)
                        nest(b, (obj, state), at)
                        self.event("build", at, op, obj if isinstance(obj, Global) else None,
                                   node=b)
                        if not isinstance(obj, Sym):
                            self.event("anomaly", at, op, None,
                                       f"BUILD on {type(obj).__name__} (CPython raises)")
                        stack[-1] = b
                    if self.on_build is not None:
                        hr = self.on_build(stack[-1], pos, data)
                        if hr is not None:
                            if hr.end > stop:
                                raise self.truncated(pos, hr.end - pos)
                            if hr.end < pos:
                                raise _Fail(pos, "build hook resumed before its start")
                            if hr.end > pos:
                                self.event("raw_data", pos, op, None, str(hr.end - pos))
                            res.events.extend(hr.events)
                            stack[-1] = hr.value
                            pos = hr.end
                elif op == 0x81 or op == 0x92:  # NEWOBJ / NEWOBJ_EX
                    need = 2 if op == 0x81 else 3
                    if len(stack) - need < (marks[-1] if marks else 0):
                        raise underflow(at)
                    kwargs = pop() if op == 0x92 else None
                    args = pop()
                    cls = pop()
                    if op == 0x92 and not isinstance(kwargs, (dict, Sym)):
                        raise _Fail(at, "NEWOBJ_EX kwargs argument must be a dict")
                    if not isinstance(args, (tuple, Sym)):
                        raise _Fail(at, "NEWOBJ expected an arg tuple")
                    kind = "newobj" if op == 0x81 else "newobj_ex"
                    push(self.make_call(cls, args, kind, at, op, kwargs))
                elif op == 0x95:  # FRAME
                    if pos + 8 > stop:
                        raise self.truncated(pos, 8)
                    n = u8(mv, pos)[0]
                    pos += 8
                    if pos + n > stop:
                        raise self.truncated(pos, n)
                    if frame_end > at:
                        self.event("anomaly", at, op, None, "FRAME inside a frame (pickle.py rejects)")
                    frame_end = pos + n
                elif op == 0x4A:  # BININT
                    if pos + 4 > stop:
                        raise self.truncated(pos, 4)
                    push(i4(mv, pos)[0])
                    pos += 4
                elif op == 0x47:  # BINFLOAT
                    if pos + 8 > stop:
                        raise self.truncated(pos, 8)
                    push(_D8.unpack_from(mv, pos)[0])
                    pos += 8
                elif op == 0x6A:  # LONG_BINGET
                    if pos + 4 > stop:
                        raise self.truncated(pos, 4)
                    key = u4(mv, pos)[0]
                    pos += 4
                    if key not in memo:
                        raise _Fail(at, f"Memo value not found at index {key}")
                    else:
                        push(memo[key])
                elif op == 0x42 or op == 0x43 or op == 0x8E or op == 0x96:  # *BINBYTES*, BYTEARRAY8
                    w = 4 if op == 0x42 else 1 if op == 0x43 else 8
                    if pos + w > stop:
                        raise self.truncated(pos, w)
                    n = mv[pos] if w == 1 else u4(mv, pos)[0] if w == 4 else u8(mv, pos)[0]
                    pos += w
                    push(blob(pos, n, "bytearray" if op == 0x96 else "bytes"))
                    pos += n
                elif op == 0x8F:  # EMPTY_SET
                    v = set()
                    self.depth[id(v)] = 1
                    push(v)
                elif op == 0x90:  # ADDITEMS
                    k = pop_mark(at)
                    self.additems(stack, k, at)
                elif op == 0x91:  # FROZENSET
                    k = pop_mark(at, True)
                    items = stack[k:]
                    del stack[k:]
                    v = frozenset(items)
                    nest(v, items, at)
                    push(v)
                elif op == 0x64:  # DICT
                    k = pop_mark(at)
                    items = stack[k:]
                    del stack[k:]
                    if len(items) % 2:
                        raise _Fail(at, "odd number of items for DICT")
                    v = dict(zip(items[::2], items[1::2]))
                    nest(v, items, at)
                    push(v)
                elif op == 0x2E:  # STOP
                    if len(stack) <= (marks[-1] if marks else 0):
                        raise underflow(at)
                    res.value = pop()
                    res.end = pos
                    res.protocol = proto
                    res.ops = n_ops
                    if frame_end > pos:
                        self.event("anomaly", at, op, None, "STOP before the end of its FRAME")
                    if stack or marks:
                        self.event("anomaly", at, op, None,
                                   f"{len(stack)} items and {len(marks)} marks left at STOP")
                    return
                elif op == 0x80:  # PROTO
                    if pos + 1 > stop:
                        raise self.truncated(pos, 1)
                    p = mv[pos]
                    pos += 1
                    if p > ops.HIGHEST_PROTOCOL:
                        raise _Fail(at, f"unsupported pickle protocol: {p}")
                    if at != self.start:
                        self.event("anomaly", at, op, None, "PROTO not at the start of the pickle")
                    proto = p
                elif op == 0x30:  # POP
                    if marks and marks[-1] == len(stack):
                        marks.pop()
                    elif len(stack) <= (marks[-1] if marks else 0):
                        raise underflow(at)
                    else:
                        pop()
                elif op == 0x31:  # POP_MARK
                    k = pop_mark(at)
                    del stack[k:]
                elif op == 0x32:  # DUP
                    if len(stack) <= (marks[-1] if marks else 0):
                        raise underflow(at)
                    push(stack[-1])
                elif op == 0x8A or op == 0x8B:  # LONG1 / LONG4
                    w = 1 if op == 0x8A else 4
                    if pos + w > stop:
                        raise self.truncated(pos, w)
                    n = mv[pos] if w == 1 else i4(mv, pos)[0]
                    pos += w
                    if n < 0:
                        raise _Fail(at, "LONG pickle has negative byte count")
                    if n > max_str:
                        raise _Fail(at, f"LONG of {n} bytes over the limit", True)
                    if pos + n > stop:
                        raise self.truncated(pos, n)
                    push(int.from_bytes(mv[pos : pos + n], "little", signed=True))
                    pos += n
                elif op == 0x54 or op == 0x55:  # BINSTRING / SHORT_BINSTRING
                    w = 4 if op == 0x54 else 1
                    if pos + w > stop:
                        raise self.truncated(pos, w)
                    n = i4(mv, pos)[0] if w == 4 else mv[pos]
                    pos += w
                    if n < 0:
                        raise _Fail(at, "BINSTRING pickle has negative byte count")
                    raw = blob(pos, n, "bytes")
                    push(self.decode_str(bytes(raw), pos))
                    pos += n
                elif op in (0x49, 0x4C, 0x46, 0x53, 0x56, 0x50, 0x70, 0x67):  # text-line opcodes
                    line, pos = self.readline(pos)
                    if op in (0x49, 0x4C, 0x46, 0x53, 0x70, 0x67) and len(line) < 2:
                        raise _Fail(at, "pickle data was truncated (empty line)")
                    if op == 0x49:
                        push(ops.parse_int_line(line))
                    elif op == 0x4C:
                        push(ops.parse_long_line(line))
                    elif op == 0x46:
                        push(ops.parse_float_line(line))
                    elif op == 0x53:
                        push(self.decode_str(ops.decode_string_line(line), at))
                    elif op == 0x56:
                        push(ops.decode_unicode_line(line))
                    elif op == 0x50:
                        p = PersistentId(line[:-1].decode("ascii"), at)
                        self.event("persid", at, op, p)
                        push(p)
                    elif op == 0x70:
                        key = ops.parse_decimal_key(line)
                        if key < 0:
                            raise _Fail(at, "negative PUT argument")
                        memo_put(key, at)
                    else:
                        key = ops.parse_decimal_key(line)
                        if key not in memo:
                            raise _Fail(at, f"Memo value not found at index {key}")
                        push(memo[key])
                elif op == 0x6F:  # OBJ
                    k = pop_mark(at, True)
                    if len(stack) - k < 1:
                        raise underflow(at)
                    args = tuple(stack[k + 1 :])
                    cls = stack[k]
                    del stack[k:]
                    push(self.make_call(cls, args, "obj", at, op))
                elif op == 0x82 or op == 0x83 or op == 0x84:  # EXT1/2/4
                    w = {0x82: 1, 0x83: 2, 0x84: 4}[op]
                    if pos + w > stop:
                        raise self.truncated(pos, w)
                    code = int.from_bytes(mv[pos : pos + w], "little", signed=(w == 4))
                    pos += w
                    if code <= 0:
                        raise _Fail(at, "EXT specifies code <= 0")
                    x = Ext(code, at)
                    self.event("ext", at, op, x)
                    push(x)
                elif op == 0x97:  # NEXT_BUFFER
                    x = OutOfBand(buffers, at)
                    buffers += 1
                    self.event("buffer", at, op, x)
                    push(x)
                elif op == 0x98:  # READONLY_BUFFER
                    if len(stack) <= (marks[-1] if marks else 0):
                        raise underflow(at)
                    if type(stack[-1]) is bytearray:
                        stack[-1] = bytes(stack[-1])
                else:
                    raise _Fail(at, ops.describe_opcode(op))
            except _Fail:
                raise
            except (ValueError, OverflowError, UnicodeError, TypeError, IndexError, KeyError,
                    struct.error) as e:
                raise _Fail(at, f"{ops.OPNAMES.get(op, '?')}: {e}") from None
            except (MemoryError, RecursionError) as e:
                raise _Fail(at, f"{ops.OPNAMES.get(op, '?')}: {type(e).__name__}", True) from None

    # -- container mutation, as _pickle.c's do_append / do_setitems / load_additems ---------
    def appends(self, stack: list[Any], k: int, at: int) -> None:
        self._add_items(stack, k, at, list, list.extend, "listitems", 0x65, "APPENDS to", "append")

    def additems(self, stack: list[Any], k: int, at: int) -> None:
        self._add_items(stack, k, at, set, set.update, "setitems", 0x90, "ADDITEMS to", "add")

    def _add_items(self, stack: list[Any], k: int, at: int, plain: type, add: Any, field: str, op: int,
                   what: str, method: str) -> None:
        """APPEND(S) / ADDITEMS: the items above mark ``k`` go into the object below it."""
        if k > len(stack) or k <= 0:
            raise _Fail(at, "unpickling stack underflow")
        items = stack[k:]
        target = stack[k - 1]
        del stack[k:]
        if not items:
            return
        if type(target) is plain:
            add(target, items)
        elif isinstance(target, Call):
            held = getattr(target, field)
            if held is None:
                held = []
                setattr(target, field, held)
            held.extend(items)
        else:
            self.event("anomaly", at, op, None, f"{what} {type(target).__name__}")
            if not isinstance(target, Sym):
                raise _Fail(at, f"'{type(target).__name__}' object has no attribute '{method}'")
            return
        self.nest(target, items, at, False)

    def setitems(self, stack: list[Any], k: int, at: int) -> None:
        n = len(stack)
        if k > n or k <= 0:
            raise _Fail(at, "unpickling stack underflow")
        if n == k:
            return
        if (n - k) % 2:
            raise _Fail(at, "odd number of items for SETITEMS")
        target = stack[k - 1]
        items = stack[k:]
        del stack[k:]
        pairs = list(zip(items[::2], items[1::2]))
        if type(target) is dict:
            for key, value in pairs:
                target[key] = value  # TypeError (unhashable key) -> _Fail, as CPython raises
        elif isinstance(target, Call):
            if target.dictitems is None:
                target.dictitems = []
            target.dictitems.extend(pairs)
        elif type(target) is list and all(type(key) is int for key, _ in pairs):
            for key, value in pairs:
                target[key] = value  # IndexError -> below
        else:
            self.event("anomaly", at, 0x75, None, f"SETITEMS on {type(target).__name__}")
            if not isinstance(target, Sym):
                raise _Fail(at, f"'{type(target).__name__}' object does not support item assignment")
            return
        self.nest(target, items, at, False)
