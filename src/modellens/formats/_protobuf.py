"""A bounded protobuf wire-format reader, for ONNX and Core ML files.

Protobuf messages are a flat run of fields (https://protobuf.dev/programming-guides/encoding/)::

    key (varint: field_number << 3 | wire_type)   then by wire type
        0 VARINT   a varint
        1 I64      8 bytes
        2 LEN      a varint length, then that many bytes (string, bytes, sub-message, packed)
        5 I32      4 bytes

Reading the wire directly, rather than through the generated classes, lets a reader record
*where* a tensor's bytes are (``raw_data`` at file offset N) instead of copying them out, so
inspecting a 1.9 GB single-file ONNX model costs its field count, not its size.  Every length is
checked against the enclosing message before it is used; nesting is bounded by the caller.
"""

from __future__ import annotations

import struct
from typing import Any, Sequence, Union

from ..core.errors import CorruptFileError

__all__ = ["Buffer", "Field", "WireError", "fields", "varint", "to_signed", "packed_varints",
           "packed_fixed", "text", "VARINT", "I64", "LEN", "I32"]

Buffer = Union[bytes, bytearray, memoryview]
VARINT, I64, LEN, I32 = 0, 1, 2, 5

# (field number, wire type, value): the value of a VARINT is the integer, of I32/I64 the offset
# of the bytes, of LEN the (start, end) offsets of the payload.
Field = tuple[int, int, Any]


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message; ``offset`` is where it went wrong."""

    def __init__(self, reason: str, offset: int):
        super().__init__(f"{reason} at byte {offset}")
        self.reason = reason
        self.offset = offset

    def corrupt(self, name: str, what: str) -> CorruptFileError:
        return CorruptFileError(name, f"{what}: {self.reason}", self.offset)


def varint(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    """(value, next position) of the varint at ``pos``; at most 10 bytes, inside ``end``."""
    result = 0
    shift = 0
    start = pos
    while True:
        if pos >= end:
            raise WireError("varint runs past the end of its message", start)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes", start)


def to_signed(v: int) -> int:
    """A varint read as int64 (negative numbers are written as 10-byte two's complement)."""
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def fields(buf: Buffer, start: int, end: int) -> list[Field]:
    """Every field of the message in ``buf[start:end]``, in order, payloads not copied."""
    out: list[Field] = []
    append = out.append
    pos = start
    while pos < end:
        key_at = pos
        # Inline one-byte keys and lengths: they are almost all of them.
        b = buf[pos]
        if b < 0x80:
            key = b
            pos += 1
        else:
            key, pos = varint(buf, pos, end)
        wt = key & 7
        fno = key >> 3
        if fno == 0:
            raise WireError("field number 0", key_at)
        if wt == 2:
            if pos >= end:
                raise WireError("length runs past the end of its message", pos)
            b = buf[pos]
            if b < 0x80:
                n = b
                pos += 1
            else:
                n, pos = varint(buf, pos, end)
            if pos + n > end:
                raise WireError(f"field {fno} claims {n} bytes but its message has {end - pos} left", pos)
            append((fno, 2, (pos, pos + n)))
            pos += n
        elif wt == 0:
            v, pos = varint(buf, pos, end)
            append((fno, 0, v))
        elif wt == 5:
            if pos + 4 > end:
                raise WireError(f"field {fno} needs 4 bytes", pos)
            append((fno, 5, pos))
            pos += 4
        elif wt == 1:
            if pos + 8 > end:
                raise WireError(f"field {fno} needs 8 bytes", pos)
            append((fno, 1, pos))
            pos += 8
        else:  # 3/4 are the deprecated groups, 6/7 do not exist: nothing we read uses them
            raise WireError(f"unsupported wire type {wt} (field {fno})", key_at)
    return out


def text(buf: Buffer, span: tuple[int, int], limit: int = 1 << 20) -> str:
    """A string field, cut to ``limit`` bytes, undecodable bytes replaced."""
    s, e = span
    return bytes(buf[s : min(e, s + limit)]).decode("utf-8", errors="replace")


def packed_varints(buf: Buffer, span: tuple[int, int], limit: int) -> list[int]:
    """A packed repeated varint field, at most ``limit`` values."""
    s, e = span
    out: list[int] = []
    while s < e:
        if len(out) >= limit:
            raise WireError(f"more than {limit} packed values", s)
        v, s = varint(buf, s, e)
        out.append(v)
    return out


def packed_fixed(buf: Buffer, span: tuple[int, int], fmt: str) -> Sequence[Any]:
    """A packed repeated fixed-width field (``fmt`` is a struct char: f, d, i, q …)."""
    s, e = span
    size = struct.calcsize("<" + fmt)
    if (e - s) % size:
        raise WireError(f"packed field of {e - s} bytes is not a multiple of {size}", s)
    return struct.unpack_from(f"<{(e - s) // size}{fmt}", buf, s)


def repeated_ints(buf: Buffer, items: list[Field], limit: int) -> list[int]:
    """A repeated int64 field that may be written packed (LEN) or one value per key."""
    out: list[int] = []
    for _, wt, v in items:
        if wt == 2:
            out += packed_varints(buf, v, limit - len(out))
        elif wt == 0:
            out.append(v)
        else:
            raise WireError("integer field with a fixed-width wire type", v)
        if len(out) > limit:
            raise WireError(f"more than {limit} values", 0)
    return [to_signed(x) for x in out]
