"""Flax / JAX msgpack checkpoints (``flax.serialization.to_bytes``), read without jax or flax.

``to_bytes(tree)`` msgpack-encodes the state dict of a pytree (https://msgpack.org/): nested
maps of string keys (lists and tuples become maps keyed ``"0"``, ``"1"`` …) whose leaves are
plain msgpack values or extension types (``flax/serialization.py``)::

    ext 1  ndarray          payload = msgpack [shape: [int...], dtype name: str, data: bin]
    ext 3  numpy scalar     same payload, shape []
    ext 2  Python complex   payload = msgpack [real, imag]

The data are C-order bytes in the writer's native (little-endian) order; the dtype name is
numpy's (``float32``, ``bfloat16`` from ml_dtypes …).  Arrays larger than flax's
``MAX_CHUNK_SIZE`` are split: ``{"__msgpack_chunked_array__": true, "shape": {"0": d0, …},
"chunks": {"0": flat array, …}}``; such a tensor has no single offset.

The file is walked by a small iterative msgpack reader that records where each array's bytes
are instead of copying them, so a checkpoint of any size costs its key count.  Tensor names are
the map keys joined with dots (``params.Dense_0.kernel``); other leaves are metadata.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from ..core import dtypes
from ..core.errors import CorruptFileError
from ..core.io import LIMITS, ByteSource
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register

__all__ = ["detect", "read", "walk"]

FORMAT_ID = "flax-msgpack"
MAX_DEPTH = 256
MAX_ITEMS = 50_000_000
MAX_METADATA = 256
_CHUNKED = "__msgpack_chunked_array__"


class _Bad(ValueError):
    def __init__(self, reason: str, offset: int):
        super().__init__(reason)
        self.reason, self.offset = reason, offset


class _Array:
    __slots__ = ("shape", "dtype", "offset", "nbytes", "scalar")

    def __init__(self, shape: tuple[int, ...], dtype: str, offset: int, nbytes: int, scalar: bool):
        self.shape, self.dtype, self.offset, self.nbytes, self.scalar = shape, dtype, offset, nbytes, scalar


_FIXED = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i",
          0xD3: ">q", 0xCA: ">f", 0xCB: ">d"}


def _need(buf: Any, pos: int, n: int, end: int, what: str) -> None:
    if n < 0 or pos + n > end:
        raise _Bad(f"{what} needs {n} bytes but {max(0, end - pos)} are left", pos)


def _token(buf: Any, pos: int, end: int) -> tuple[str, Any, int]:
    """One msgpack token at ``pos``: (kind, value, next position).  Containers are returned as
    ("map" | "array", count); bin/str/ext payloads as (start, length) spans, not copied."""
    _need(buf, pos, 1, end, "a value")
    b = buf[pos]
    pos += 1
    if b <= 0x7F:
        return "int", b, pos
    if b >= 0xE0:
        return "int", b - 0x100, pos
    if 0x80 <= b <= 0x8F:
        return "map", b & 0x0F, pos
    if 0x90 <= b <= 0x9F:
        return "array", b & 0x0F, pos
    if 0xA0 <= b <= 0xBF:
        n = b & 0x1F
        _need(buf, pos, n, end, "a string")
        return "str", (pos, n), pos + n
    if b == 0xC0:
        return "nil", None, pos
    if b in (0xC2, 0xC3):
        return "bool", b == 0xC3, pos
    if b in _FIXED:
        fmt = _FIXED[b]
        size = struct.calcsize(fmt)
        _need(buf, pos, size, end, "a number")
        (v,) = struct.unpack_from(fmt, buf, pos)
        return ("float" if b in (0xCA, 0xCB) else "int"), v, pos + size
    if b in (0xC4, 0xC5, 0xC6, 0xD9, 0xDA, 0xDB):
        lw = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}[b]
        _need(buf, pos, lw, end, "a length")
        n = int.from_bytes(buf[pos : pos + lw], "big")
        pos += lw
        _need(buf, pos, n, end, "a string" if b >= 0xD9 else "binary data")
        return ("str" if b >= 0xD9 else "bin"), (pos, n), pos + n
    if b in (0xDC, 0xDD, 0xDE, 0xDF):
        lw = 2 if b in (0xDC, 0xDE) else 4
        _need(buf, pos, lw, end, "a count")
        n = int.from_bytes(buf[pos : pos + lw], "big")
        return ("array" if b in (0xDC, 0xDD) else "map"), n, pos + lw
    if 0xD4 <= b <= 0xD8 or b in (0xC7, 0xC8, 0xC9):
        if b >= 0xD4:
            n = 1 << (b - 0xD4)
        else:
            lw = {0xC7: 1, 0xC8: 2, 0xC9: 4}[b]
            _need(buf, pos, lw, end, "a length")
            n = int.from_bytes(buf[pos : pos + lw], "big")
            pos += lw
        _need(buf, pos, 1 + n, end, "an extension value")
        code = struct.unpack_from(">b", buf, pos)[0]
        return "ext", (code, pos + 1, n), pos + 1 + n
    raise _Bad(f"byte {b:#04x} is not a msgpack value", pos - 1)


def _text(buf: Any, span: tuple[int, int], limit: int = 4096) -> str:
    s, n = span
    return bytes(buf[s : s + min(n, limit)]).decode("utf-8", "replace")


def _ndarray(buf: Any, start: int, n: int, scalar: bool) -> _Array:
    """Decode the header of an ndarray extension payload; the data are located, not read."""
    end = start + n
    kind, count, pos = _token(buf, start, end)
    if kind != "array" or count != 3:
        raise _Bad("ndarray payload is not [shape, dtype, data]", start)
    kind, dims, pos = _token(buf, pos, end)
    if kind != "array" or dims > LIMITS.max_dims:
        raise _Bad("ndarray shape is not a short array", pos)
    shape = []
    for _ in range(dims):
        kind, d, pos = _token(buf, pos, end)
        if kind != "int" or d < 0:
            raise _Bad(f"ndarray dimension {d!r} is not a size", pos)
        shape.append(d)
    kind, name_span, pos = _token(buf, pos, end)
    if kind not in ("str", "bin") or name_span[1] > 64:
        raise _Bad("ndarray dtype is not a short name", pos)
    name = _text(buf, name_span)
    kind, data, pos = _token(buf, pos, end)
    if kind != "bin":
        raise _Bad("ndarray data is not binary", pos)
    dt = _dtype(name)
    if dt is None:
        raise _Bad(f"unknown ndarray dtype {name!r}", name_span[0])
    want = dt.nbytes(math.prod(shape))
    if want != data[1]:
        raise _Bad(f"{name} {shape} needs {want} bytes but the array holds {data[1]}", data[0])
    return _Array(tuple(shape), dt.name, data[0], data[1], scalar)


def _dtype(name: str) -> dtypes.DType | None:
    try:
        dt = dtypes.from_numpy(name)
    except (TypeError, ValueError):
        dt = None
    if dt is None and name.isidentifier():
        dt = dtypes.find(name)
    return dt if dt is not None and dt.bits is not None else None


def walk(buf: Any, start: int = 0, end: int | None = None) -> list[tuple[str, Any]]:
    """(dotted path, leaf) of every leaf of the msgpack document at ``start``.  Leaves are
    ``_Array`` for arrays, Python values for scalars and short strings."""
    end = len(buf) if end is None else end
    leaves: list[tuple[str, Any]] = []
    # frames: [kind, items left, path, pending key (maps) / next index (arrays), expecting key]
    stack: list[list[Any]] = []
    pos = start
    items = 0
    root_done = False
    while not root_done:
        items += 1
        if items > MAX_ITEMS:
            raise _Bad(f"more than {MAX_ITEMS} values", pos)
        frame = stack[-1] if stack else None
        if frame is not None and frame[1] == 0:
            stack.pop()
            if not stack:
                root_done = True
            continue
        at = pos
        kind, value, pos = _token(buf, pos, end)
        if frame is not None and frame[0] == "map" and frame[4]:  # a key
            if kind == "str":
                key = _text(buf, value, 1024)
            elif kind in ("int", "bool", "nil", "float"):
                key = str(value)
            else:
                raise _Bad(f"map key is a {kind}", at)
            frame[3], frame[4] = key, False
            continue
        if frame is None:
            path = ""
        elif frame[0] == "map":
            path = f"{frame[2]}.{frame[3]}" if frame[2] else frame[3]
            frame[4] = True
            frame[1] -= 1
        else:
            path = f"{frame[2]}.{frame[3]}" if frame[2] else str(frame[3])
            frame[3] += 1
            frame[1] -= 1
        if kind in ("map", "array"):
            if value > end - pos:  # each item takes at least one byte
                raise _Bad(f"{kind} claims {value} items but {end - pos} bytes are left", at)
            if len(stack) >= MAX_DEPTH:
                raise _Bad(f"nesting deeper than {MAX_DEPTH}", at)
            stack.append([kind, value, path, 0 if kind == "array" else "", kind == "map"])
            if value == 0 and len(stack) == 1:
                root_done = True
            continue
        if kind == "ext":
            code, s, n = value
            if code in (1, 3):
                leaves.append((path, _ndarray(buf, s, n, code == 3)))
            elif code == 2:
                leaves.append((path, "complex"))
            else:
                leaves.append((path, f"<msgpack extension {code}, {n} bytes>"))
        elif kind == "str":
            leaves.append((path, _text(buf, value)))
        elif kind == "bin":
            leaves.append((path, f"<{value[1]} bytes>"))
        else:
            leaves.append((path, value))
        if frame is None:
            root_done = True
    if pos != end:
        raise _Bad(f"{end - pos} bytes after the msgpack document", pos)
    return leaves


def _tensors(leaves: list[tuple[str, Any]], file: str
             ) -> tuple[list[TensorInfo], dict[str, Any], list[str]]:
    tensors: list[TensorInfo] = []
    metadata: dict[str, Any] = {}
    warnings: list[str] = []
    chunked = {p[: -len(_CHUNKED) - 1] for p, v in leaves if p.endswith("." + _CHUNKED) and v is True}
    parts: dict[str, dict[str, Any]] = {}
    for path, v in leaves:
        owner = next((c for c in chunked if path.startswith(c + ".")), None) if chunked else None
        if owner is not None:
            rest = path[len(owner) + 1 :]
            entry = parts.setdefault(owner, {"shape": {}, "chunks": [], "dtype": None})
            if rest.startswith("shape.") and type(v) is int:
                entry["shape"][rest[6:]] = v
            elif rest.startswith("chunks.") and isinstance(v, _Array):
                entry["chunks"].append(v)
            continue
        if isinstance(v, _Array):
            tensors.append(TensorInfo(name=path, dtype=v.dtype, shape=v.shape, offset=v.offset,
                                      nbytes=v.nbytes, file=file))
        elif len(metadata) < MAX_METADATA:
            metadata[path or "value"] = v
    for name, entry in parts.items():
        shape = tuple(entry["shape"][k] for k in sorted(entry["shape"], key=int))
        chunks = entry["chunks"]
        dts = {c.dtype for c in chunks}
        n = sum(math.prod(c.shape) for c in chunks)
        if len(dts) != 1 or n != math.prod(shape):
            warnings.append(f"chunked array {name!r}: chunks do not add up to its shape {list(shape)}")
            continue
        tensors.append(TensorInfo(name=name, dtype=dts.pop(), shape=shape, offset=None,
                                  nbytes=sum(c.nbytes for c in chunks), file=file))
    return tensors, metadata, warnings


def detect(probe: Probe) -> int:
    head = probe.head
    if not head or not (0x80 <= head[0] <= 0x8F or head[0] in (0xDE, 0xDF)):
        return 0
    # the first keys and an ndarray extension header should appear early in a flax file
    if not any(m in head for m in (b"\xc7", b"\xc8", b"\xc9", b"\xd8")):
        return 20 if probe.suffix in (".msgpack", ".flax") else 0
    try:
        walk(head, 0, len(head))
    except _Bad as e:
        if "needs" not in e.reason and "claims" not in e.reason:
            # running out of head bytes is expected; an absurd count is for read() to report
            return 0
    except (IndexError, struct.error):
        return 0
    return 85 if probe.suffix in (".msgpack", ".flax", ".msgpack.bin") else 70


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    buf = src.view(0, src.size)
    try:
        leaves = walk(buf, 0, src.size)
    except _Bad as e:
        raise CorruptFileError(src.name, f"msgpack: {e.reason}", e.offset) from None
    tensors, metadata, warnings = _tensors(leaves, src.name)
    if not tensors and not metadata:
        raise CorruptFileError(src.name, "the msgpack document holds no arrays")
    metadata = {"serialization": "flax.serialization.to_bytes (msgpack)", **metadata}
    groups: dict[str, int] = {}
    for t in tensors:
        head = t.name.split(".", 1)[0]
        groups[head] = groups.get(head, 0) + t.parameters
    if "params" in groups and len(groups) > 1:
        metadata["params_parameters"] = groups["params"]
    return ModelInfo(source=src.name, format=FORMAT_ID, files=(FileInfo(src.name, FORMAT_ID, src.size),),
                     tensors=tuple(tensors), metadata=metadata, warnings=tuple(warnings))


register(FormatSpec(id=FORMAT_ID, detect=detect, read=read, extensions=(".msgpack", ".flax"),
                    description="Flax / JAX msgpack checkpoint (flax.serialization.to_bytes)"))
