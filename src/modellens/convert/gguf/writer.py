"""A streaming GGUF (v3) writer: metadata first, then each tensor's bytes as it is produced.

    magic "GGUF" · version u32 = 3 · tensor count u64 · metadata count u64
    metadata:     key (u64 length + UTF-8) · value type u32 · value
    tensor infos: name · n_dims u32 · dims u64 (innermost first) · GGML type u32 · offset u64
    padding to ``general.alignment`` (32) · tensor data, each tensor at an aligned offset

(spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md).  Every tensor's type and
shape is known before any data is written, so offsets are laid out up front and the data
follows in one pass, one tensor in memory at a time.  The writer moves through explicit states
(NEW → HEADER → DATA → CLOSED, like gguf-py's ``WriterState``) and refuses out-of-order calls.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["GGUFFileWriter", "TensorSlot", "ALIGNMENT", "tensor_nbytes"]

ALIGNMENT = 32
_MAGIC = b"GGUF"
_VERSION = 3

# GGUF metadata value types
_T = {"u8": 0, "i8": 1, "u16": 2, "i16": 3, "u32": 4, "i32": 5, "f32": 6, "bool": 7,
      "str": 8, "arr": 9, "u64": 10, "i64": 11, "f64": 12}
_PACK = {"u8": "<B", "i8": "<b", "u16": "<H", "i16": "<h", "u32": "<I", "i32": "<i",
         "f32": "<f", "bool": "<?", "u64": "<Q", "i64": "<q", "f64": "<d"}
_NP = {"u8": "<u1", "i8": "<i1", "u16": "<u2", "i16": "<i2", "u32": "<u4", "i32": "<i4",
       "f32": "<f4", "u64": "<u8", "i64": "<i8", "f64": "<f8", "bool": "<u1"}


def tensor_nbytes(ggml_type: str, shape: tuple[int, ...]) -> int:
    from ...core import dtypes

    n = 1
    for d in shape:
        n *= d
    size = dtypes.get(ggml_type).nbytes(n)
    if size is None:
        raise ValueError(f"{ggml_type}: {shape} does not fill whole blocks")
    return size


@dataclass(frozen=True)
class TensorSlot:
    name: str
    ggml_type: str
    shape: tuple[int, ...]  # numpy order (outermost first)
    nbytes: int
    offset: int  # relative to the start of the data section


def _string(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype: str, value: Any) -> bytes:
    if vtype == "str":
        return struct.pack("<I", _T["str"]) + _string(str(value))
    if vtype.startswith("["):
        item = vtype[1:-1]
        head = struct.pack("<IIQ", _T["arr"], _T[item], len(value))
        if item == "str":
            return head + b"".join(_string(v) for v in value)
        import numpy as np

        return head + np.asarray(value, dtype=_NP[item]).tobytes()
    return struct.pack("<I", _T[vtype]) + struct.pack(_PACK[vtype], value)


def _pad(n: int, align: int = ALIGNMENT) -> int:
    return (align - n % align) % align


class GGUFFileWriter:
    """Write one GGUF file: ``add_kv`` …, ``add_tensor`` …, ``write_header()``, then
    ``write_tensor_data(bytes)`` for each tensor in the order added, then ``close()``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.kv: list[tuple[str, str, Any]] = []
        self.slots: list[TensorSlot] = []
        self._data_size = 0
        self._state = "NEW"
        self._fh: BinaryIO | None = None
        self._next = 0
        self._written = 0

    def _need(self, state: str, what: str) -> None:
        if self._state != state:
            raise RuntimeError(f"GGUF writer: {what} in state {self._state}, expected {state}")

    def add_kv(self, key: str, vtype: str, value: Any) -> None:
        self._need("NEW", "metadata")
        self.kv.append((key, vtype, value))

    def add_tensor(self, name: str, ggml_type: str, shape: tuple[int, ...]) -> TensorSlot:
        self._need("NEW", "tensor info")
        nbytes = tensor_nbytes(ggml_type, shape)
        slot = TensorSlot(name, ggml_type, tuple(shape), nbytes, self._data_size)
        self._data_size += nbytes + _pad(nbytes)
        self.slots.append(slot)
        return slot

    @property
    def total_bytes(self) -> int:
        return self._header_size() + self._data_size

    def _header(self) -> bytes:
        from gguf.constants import GGMLQuantizationType

        parts = [_MAGIC, struct.pack("<IQQ", _VERSION, len(self.slots), len(self.kv))]
        for key, vtype, value in self.kv:
            parts.append(_string(key) + _value(vtype, value))
        for s in self.slots:
            dims = tuple(reversed(s.shape)) or (1,)
            gtype = int(GGMLQuantizationType[s.ggml_type])
            parts.append(_string(s.name) + struct.pack("<I", len(dims))
                         + struct.pack(f"<{len(dims)}Q", *dims)
                         + struct.pack("<IQ", gtype, s.offset))
        head = b"".join(parts)
        return head + b"\0" * _pad(len(head))

    def _header_size(self) -> int:
        return len(self._header())

    def write_header(self) -> None:
        self._need("NEW", "write_header")
        self._fh = open(self.path, "wb")
        self._fh.write(self._header())
        self._state = "DATA"

    def write_tensor_data(self, data: memoryview | bytes) -> None:
        """The next tensor's bytes; may be called several times per tensor (pieces in order)
        as long as the pieces add up to its size before the next tensor starts."""
        self._need("DATA", "tensor data")
        assert self._fh is not None
        if self._next >= len(self.slots):
            raise RuntimeError("GGUF writer: more tensor data than tensors")
        slot = self.slots[self._next]
        n = len(data) if isinstance(data, bytes) else data.nbytes
        if self._written + n > slot.nbytes:
            raise RuntimeError(f"GGUF writer: tensor {slot.name!r} gets {self._written + n} "
                               f"bytes, expected {slot.nbytes}")
        self._fh.write(data)
        self._written += n
        if self._written == slot.nbytes:
            self._fh.write(b"\0" * _pad(slot.nbytes))
            self._next += 1
            self._written = 0

    def close(self) -> None:
        if self._fh is None:
            return
        try:
            if self._state == "DATA" and self._next != len(self.slots):
                raise RuntimeError(f"GGUF writer: {len(self.slots) - self._next} tensors "
                                   "were never written")
            self._fh.flush()
            os.fsync(self._fh.fileno())
        finally:
            self._fh.close()
            self._fh = None
            self._state = "CLOSED"

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._state = "CLOSED"
