"""Flax msgpack (``flax.serialization.to_bytes``; Hugging Face's ``flax_model.msgpack``).

Layout (https://github.com/google/flax/blob/main/flax/serialization.py)::

    a msgpack map of maps (the parameter tree); each array leaf is
    ExtType(1, msgpack((shape, dtype_name, raw C-order bytes)))      ndarray
    ExtType(3, same)                                                  numpy scalar
    arrays over 2**30 bytes:  {"__msgpack_chunked_array__": True, "shape": {"0": d0, …},
                               "chunks": {"0": ExtType(1, …flat piece…), …}}

Reading walks the msgpack bytes statically (nothing is unpacked into memory but the keys and
small scalars): each array leaf becomes a tensor named by its dotted path, with the absolute
offset of its raw bytes, so the data is a view over the mapped file like any other reader's.
Writing streams: map and extension headers are computed from the plan, then each array's bytes
are written straight from the source.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import dtypes
from ..core.errors import CorruptFileError, ModelLensError, UnsupportedFormatError
from ..core.io import LIMITS, ByteSource, LocalFile
from .plan import PlannedTensor
from .stream import Progress, write_tensor

__all__ = ["FlaxArray", "read_arrays", "write_msgpack", "looks_like_msgpack", "MAX_CHUNK_SIZE"]

MAX_CHUNK_SIZE = 2**30  # flax.serialization.MAX_CHUNK_SIZE
_EXT_NDARRAY, _EXT_SCALAR = 1, 3
_CHUNKED = "__msgpack_chunked_array__"
_MAX_DEPTH = 64


@dataclass(frozen=True)
class FlaxArray:
    name: str
    dtype: str  # modellens dtype name
    shape: tuple[int, ...]
    pieces: tuple[tuple[int, int], ...]  # (absolute offset, byte length) of each chunk, in order

    @property
    def nbytes(self) -> int:
        return sum(n for _, n in self.pieces)


class _Ext:
    __slots__ = ("code", "offset", "length")

    def __init__(self, code: int, offset: int, length: int):
        self.code, self.offset, self.length = code, offset, length


class _Walker:
    """A bounded msgpack decoder over a memoryview that leaves ext payloads in place."""

    def __init__(self, src: ByteSource):
        self.src = src
        self.buf = src.view(0, src.size)
        self.end = src.size
        self.items = 0

    def fail(self, pos: int, msg: str) -> CorruptFileError:
        return CorruptFileError(self.src.name, f"msgpack: {msg}", pos)

    def need(self, pos: int, n: int, what: str) -> None:
        if n < 0 or pos + n > self.end:
            raise self.fail(pos, f"{what} needs {n} bytes, {self.end - pos} remain")

    def unpack(self, fmt: str, pos: int) -> tuple[Any, int]:
        size = struct.calcsize(fmt)
        self.need(pos, size, "a length")
        return struct.unpack_from(">" + fmt, self.buf, pos)[0], pos + size

    def value(self, pos: int, depth: int = 0) -> tuple[Any, int]:
        if depth > _MAX_DEPTH:
            raise self.fail(pos, "nested too deeply")
        self.items += 1
        if self.items > LIMITS.max_tensors * 4:
            raise self.fail(pos, "too many items")
        self.need(pos, 1, "a type byte")
        b = self.buf[pos]
        pos += 1
        if b <= 0x7F:
            return b, pos
        if b >= 0xE0:
            return b - 0x100, pos
        if 0x80 <= b <= 0x8F:
            return self.map(b & 0x0F, pos, depth)
        if 0x90 <= b <= 0x9F:
            return self.array(b & 0x0F, pos, depth)
        if 0xA0 <= b <= 0xBF:
            return self.raw(b & 0x1F, pos, text=True)
        simple = {0xC0: None, 0xC2: False, 0xC3: True}
        if b in simple:
            return simple[b], pos
        fixed = {0xCA: "f", 0xCB: "d", 0xCC: "B", 0xCD: "H", 0xCE: "I", 0xCF: "Q",
                 0xD0: "b", 0xD1: "h", 0xD2: "i", 0xD3: "q"}
        if b in fixed:
            return self.unpack(fixed[b], pos)
        lens = {0xC4: ("B", False), 0xC5: ("H", False), 0xC6: ("I", False),
                0xD9: ("B", True), 0xDA: ("H", True), 0xDB: ("I", True)}
        if b in lens:
            n, pos = self.unpack(lens[b][0], pos)
            return self.raw(n, pos, text=lens[b][1])
        if b in (0xDC, 0xDD):
            n, pos = self.unpack("H" if b == 0xDC else "I", pos)
            return self.array(n, pos, depth)
        if b in (0xDE, 0xDF):
            n, pos = self.unpack("H" if b == 0xDE else "I", pos)
            return self.map(n, pos, depth)
        fixext = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
        if b in fixext:
            n = fixext[b]
        elif b in (0xC7, 0xC8, 0xC9):
            n, pos = self.unpack({0xC7: "B", 0xC8: "H", 0xC9: "I"}[b], pos)
        else:
            raise self.fail(pos - 1, f"unknown type byte 0x{b:02x}")
        code, pos = self.unpack("b", pos)
        self.need(pos, n, "an extension payload")
        return _Ext(code, pos, n), pos + n

    def raw(self, n: int, pos: int, text: bool) -> tuple[Any, int]:
        self.need(pos, n, "a string")
        if not text and n > 4096:  # a large binary stays in place
            return _Ext(-1, pos, n), pos + n
        data = bytes(self.buf[pos : pos + n])
        return (data.decode("utf-8", "replace") if text else data), pos + n

    def array(self, n: int, pos: int, depth: int) -> tuple[list, int]:
        self.need(pos, n, "an array")  # every item takes at least one byte
        out = []
        for _ in range(n):
            v, pos = self.value(pos, depth + 1)
            out.append(v)
        return out, pos

    def map(self, n: int, pos: int, depth: int) -> tuple[dict, int]:
        self.need(pos, 2 * n, "a map")
        out: dict[Any, Any] = {}
        for _ in range(n):
            k, pos = self.value(pos, depth + 1)
            v, pos = self.value(pos, depth + 1)
            out[k if isinstance(k, (str, int)) else str(k)] = v
        return out, pos


def _array(walker: _Walker, ext: _Ext, name: str) -> tuple[str, tuple[int, ...], int, int]:
    """(dtype, shape, offset, nbytes) of one ndarray extension payload."""
    end = walker.end
    walker.end = ext.offset + ext.length
    try:
        tpl, pos = walker.value(ext.offset, 1)
    finally:
        walker.end = end
    if not (isinstance(tpl, list) and len(tpl) == 3 and isinstance(tpl[0], list)
            and all(isinstance(d, int) and d >= 0 for d in tpl[0])):
        raise walker.fail(ext.offset, f"{name!r}: not a (shape, dtype, bytes) array payload")
    shape, dname, data = tuple(tpl[0]), tpl[1], tpl[2]
    if isinstance(dname, bytes):
        dname = dname.decode("ascii", "replace")
    dt = dtypes.from_numpy(str(dname))
    if dt is None:
        raise UnsupportedFormatError(f"{walker.src.name}: {name!r} has dtype {dname!r}, which "
                                     "has no tensor equivalent")
    if isinstance(data, _Ext):
        offset, n = data.offset, data.length
    elif isinstance(data, bytes):
        n = len(data)
        offset = ext.offset + ext.length - n
    else:
        raise walker.fail(ext.offset, f"{name!r}: array bytes missing")
    return dt.name, shape, offset, n


def read_arrays(src: ByteSource) -> tuple[list[FlaxArray], dict[str, Any]]:
    """The array leaves of a Flax msgpack file (dotted names) and its other leaves."""
    walker = _Walker(src)
    root, pos = walker.value(0)
    if not isinstance(root, dict):
        raise UnsupportedFormatError(f"{src.name}: msgpack whose top level is not a map")
    arrays: list[FlaxArray] = []
    other: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [("", root)]
    while stack:
        prefix, node = stack.pop()
        if isinstance(node, dict) and node.get(_CHUNKED) is True:
            arrays.append(_chunked(walker, node, prefix))
            continue
        if isinstance(node, dict):
            for k, v in reversed(list(node.items())):
                stack.append((f"{prefix}.{k}" if prefix else str(k), v))
            continue
        if isinstance(node, _Ext) and node.code in (_EXT_NDARRAY, _EXT_SCALAR):
            dt, shape, off, n = _array(walker, node, prefix)
            arrays.append(_checked(walker, FlaxArray(prefix, dt, shape, ((off, n),))))
            continue
        other[prefix] = node if not isinstance(node, _Ext) else f"<ext {node.code}>"
    return arrays, other


def _chunked(walker: _Walker, node: dict, name: str) -> FlaxArray:
    shape_d, chunks_d = node.get("shape"), node.get("chunks")
    if not isinstance(shape_d, dict) or not isinstance(chunks_d, dict):
        raise walker.fail(0, f"{name!r}: malformed chunked array")
    shape = tuple(shape_d.get(str(i)) for i in range(len(shape_d)))
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise walker.fail(0, f"{name!r}: malformed chunked array shape")
    pieces, dtype = [], None
    for i in range(len(chunks_d)):
        ext = chunks_d.get(str(i))
        if not isinstance(ext, _Ext):
            raise walker.fail(0, f"{name!r}: chunk {i} is not an array")
        dt, _, off, n = _array(walker, ext, name)
        if dtype not in (None, dt):
            raise walker.fail(off, f"{name!r}: chunks of different dtypes")
        dtype = dt
        pieces.append((off, n))
    return _checked(walker, FlaxArray(name, dtype or "F32", shape, tuple(pieces)))


def _checked(walker: _Walker, a: FlaxArray) -> FlaxArray:
    want = dtypes.get(a.dtype).nbytes(math.prod(a.shape))
    if want != a.nbytes:
        raise walker.fail(a.pieces[0][0] if a.pieces else 0,
                          f"{a.name!r}: {a.dtype} {list(a.shape)} needs {want} bytes but "
                          f"{a.nbytes} are stored")
    return a


def looks_like_msgpack(head: bytes) -> bool:
    """A map whose first key is a string: what flax writes (weak; used with the extension)."""
    return len(head) > 2 and (0x81 <= head[0] <= 0x8F or head[0] in (0xDE, 0xDF))


# -- writing ------------------------------------------------------------------------------------

def _map_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x80 | n])
    return (b"\xde" + struct.pack(">H", n)) if n < 2**16 else (b"\xdf" + struct.pack(">I", n))


def _str(s: str) -> bytes:
    import msgpack

    return msgpack.packb(s, use_bin_type=True)


def _ext_header(code: int, n: int) -> bytes:
    fix = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if n in fix:
        return bytes([fix[n], code])
    if n < 2**8:
        return struct.pack(">BBb", 0xC7, n, code)
    if n < 2**16:
        return struct.pack(">BHb", 0xC8, n, code)
    return struct.pack(">BIb", 0xC9, n, code)


def _bin_header(n: int) -> bytes:
    if n < 2**8:
        return struct.pack(">BB", 0xC4, n)
    if n < 2**16:
        return struct.pack(">BH", 0xC5, n)
    return struct.pack(">BI", 0xC6, n)


def _array_prefix(shape: tuple[int, ...], dtype_name: str, n: int) -> bytes:
    """Everything of ExtType(1, packb((shape, dtype, bytes))) before the bytes."""
    import msgpack

    inner = b"\x93" + msgpack.packb(list(shape)) + _str(dtype_name) + _bin_header(n)
    return _ext_header(_EXT_NDARRAY, len(inner) + n) + inner


def _tree(tensors: list[PlannedTensor]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for t in tensors:
        parts = t.name.split(".")
        node = root
        for i, p in enumerate(parts[:-1]):
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ModelLensError(f"tensor {t.name!r}: {'.'.join(parts[: i + 1])!r} is both a "
                                     "tensor and a group; rename one (--rename)")
            node = nxt
        if parts[-1] in node:
            raise ModelLensError(f"tensor {t.name!r} is both a tensor and a group; rename one")
        node[parts[-1]] = t
    return root


class _Out:
    def __init__(self, fd: int, progress: Progress | None):
        self.fd, self.pos, self.progress = fd, 0, progress

    def write(self, data: bytes | memoryview) -> None:
        mv = memoryview(data)
        while len(mv):
            n = os.write(self.fd, mv)
            mv = mv[n:]
            self.pos += n


def _numpy_name(t: PlannedTensor) -> str:
    return dtypes.get(t.dtype).numpy().name


def _write_node(out: _Out, node: dict[str, Any]) -> None:
    out.write(_map_header(len(node)))
    for key, v in node.items():
        out.write(_str(key))
        if isinstance(v, dict):
            _write_node(out, v)
        else:
            _write_array(out, v)


def _write_array(out: _Out, t: PlannedTensor) -> None:
    n = t.nbytes
    name = _numpy_name(t)
    if n <= MAX_CHUNK_SIZE:
        out.write(_array_prefix(t.shape, name, n))
        write_tensor(out.fd, out.pos, t, out.progress, sink=out.write)
        return
    # flax's _chunk: flat pieces of MAX_CHUNK_SIZE // itemsize elements
    itemsize = dtypes.get(t.dtype).numpy().itemsize
    per = max(1, MAX_CHUNK_SIZE // itemsize) * itemsize
    count = -(-n // per)
    out.write(_map_header(3))
    out.write(_str(_CHUNKED) + b"\xc3")
    out.write(_str("shape") + _map_header(len(t.shape)))
    import msgpack

    for i, d in enumerate(t.shape):
        out.write(_str(str(i)) + msgpack.packb(d))
    out.write(_str("chunks") + _map_header(count))
    left = [0]
    index = [0]

    def sink(mv: memoryview) -> None:
        while len(mv):
            if left[0] == 0:
                size = min(per, n - index[0] * per)
                out.write(_str(str(index[0])) + _array_prefix((size // itemsize,), name, size))
                left[0] = size
                index[0] += 1
            k = min(left[0], len(mv))
            out.write(mv[:k])
            left[0] -= k
            mv = mv[k:]

    write_tensor(out.fd, out.pos, t, out.progress, sink=sink)


def write_msgpack(path: Path, tensors: list[PlannedTensor], progress: Progress | None = None) -> None:
    tree = _tree(tensors)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        out = _Out(fd, progress)
        _write_node(out, tree)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_path_arrays(path: str | Path) -> list[FlaxArray]:
    with LocalFile(path) as f:
        return read_arrays(f)[0]
