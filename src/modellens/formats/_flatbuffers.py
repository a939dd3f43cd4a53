"""A bounded FlatBuffers reader (https://flatbuffers.dev/internals/), for TFLite files.

A flatbuffer is little-endian and addressed by offsets::

    u32 root            offset of the root table (from byte 0); bytes 4..8 may be a file identifier
    table               i32 soffset: the table's vtable is at (table - soffset)
    vtable              u16 vtable size, u16 table size, then one u16 per field: the field's offset
                        inside the table, 0 for "absent, use the default"
    offset fields       u32 relative to the field's own position -> a table, vector or string
    vector / string     u32 count, then the elements (strings: bytes, then a NUL)

Every offset and count is checked against the buffer before it is followed, so a hostile file
fails with a ``WireError`` instead of reading out of bounds or allocating what it claims.
"""

from __future__ import annotations

import struct
from typing import Any

from ._protobuf import Buffer, WireError

__all__ = ["Table", "root", "WireError"]

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


class Table:
    """One table: scalar fields by index, offsets followed with bounds checks."""

    __slots__ = ("buf", "pos", "vt", "vt_len", "end")

    def __init__(self, buf: Buffer, pos: int, end: int):
        if pos < 0 or pos + 4 > end:
            raise WireError("table offset outside the buffer", pos)
        self.buf = buf
        self.pos = pos
        self.end = end
        vt = pos - _I32.unpack_from(buf, pos)[0]
        if vt < 0 or vt + 4 > end:
            raise WireError("vtable outside the buffer", pos)
        vt_len = _U16.unpack_from(buf, vt)[0]
        if vt_len < 4 or vt_len % 2 or vt + vt_len > end:
            raise WireError(f"vtable of {vt_len} bytes does not fit", vt)
        self.vt = vt
        self.vt_len = vt_len

    def _field(self, index: int) -> int:
        """Absolute position of field ``index``, or 0 when absent."""
        slot = 4 + 2 * index
        if slot + 2 > self.vt_len:
            return 0
        off = _U16.unpack_from(self.buf, self.vt + slot)[0]
        return self.pos + off if off else 0

    def has(self, index: int) -> bool:
        return self._field(index) != 0

    def scalar(self, index: int, fmt: str, default: Any = 0) -> Any:
        at = self._field(index)
        if not at:
            return default
        size = struct.calcsize("<" + fmt)
        if at + size > self.end:
            raise WireError(f"field {index} runs past the buffer", at)
        return struct.unpack_from("<" + fmt, self.buf, at)[0]

    def _target(self, index: int) -> int:
        at = self._field(index)
        if not at:
            return 0
        if at + 4 > self.end:
            raise WireError(f"offset field {index} runs past the buffer", at)
        target = at + _U32.unpack_from(self.buf, at)[0]
        if target + 4 > self.end:
            raise WireError(f"field {index} points past the buffer", at)
        return target

    def table(self, index: int) -> "Table | None":
        t = self._target(index)
        return Table(self.buf, t, self.end) if t else None

    def vector(self, index: int, elem_size: int) -> tuple[int, int] | None:
        """(position of the first element, count), bounds-checked, or None when absent."""
        t = self._target(index)
        if not t:
            return None
        n = _U32.unpack_from(self.buf, t)[0]
        if t + 4 + n * elem_size > self.end:
            raise WireError(f"vector of {n} x {elem_size} bytes runs past the buffer", t)
        return t + 4, n

    def scalars(self, index: int, fmt: str, limit: int) -> list[Any]:
        size = struct.calcsize("<" + fmt)
        v = self.vector(index, size)
        if v is None:
            return []
        start, n = v
        if n > limit:
            raise WireError(f"vector of {n} values, over the limit of {limit}", start)
        return list(struct.unpack_from(f"<{n}{fmt}", self.buf, start))

    def tables(self, index: int, limit: int) -> list["Table"]:
        v = self.vector(index, 4)
        if v is None:
            return []
        start, n = v
        if n > limit:
            raise WireError(f"vector of {n} tables, over the limit of {limit}", start)
        out = []
        for i in range(n):
            at = start + 4 * i
            out.append(Table(self.buf, at + _U32.unpack_from(self.buf, at)[0], self.end))
        return out

    def string(self, index: int, limit: int = 1 << 16) -> str | None:
        v = self.vector(index, 1)
        if v is None:
            return None
        start, n = v
        return bytes(self.buf[start : start + min(n, limit)]).decode("utf-8", errors="replace")


def root(buf: Buffer, end: int) -> Table:
    if end < 8:
        raise WireError("buffer too short for a flatbuffer", 0)
    return Table(buf, _U32.unpack_from(buf, 0)[0], end)
