"""Pickle opcodes and the literal parsers of CPython's C unpickler (``Modules/_pickle.c``).

A pickle is a program for a small stack machine: one opcode byte, then its argument, which is
either a fixed-size little-endian integer, a length-prefixed blob, or a newline-terminated text
line (protocol 0 forms).  ``pickle_vm`` runs that program symbolically; this module holds what it
needs to decode arguments exactly as ``_pickle.c``'s ``load_*`` functions do, because a scanner
must see what the *real* unpickler sees (``pickletools`` differs, e.g. it parses ``INT`` in base
10 while ``_pickle.c`` calls ``strtol(s, &end, 0)``, so ``I0x10`` is 16 and ``I010`` is 8).

Text-line conventions of ``_pickle.c``: a line must end with ``\\n`` (else "pickle data was
truncated"); numbers are parsed from the line as a C string, so an embedded NUL ends the number.
"""

from __future__ import annotations

import codecs
import re
import warnings

__all__ = [
    "OPNAMES",
    "HIGHEST_PROTOCOL",
    "parse_int_line",
    "parse_long_line",
    "parse_float_line",
    "parse_decimal_key",
    "decode_string_line",
    "decode_unicode_line",
    "fix_import",
    "describe_opcode",
]

HIGHEST_PROTOCOL = 5

# Every opcode the C unpickler dispatches on (protocols 0-5), by byte value.
OPNAMES: dict[int, str] = {
    0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT",
    0x49: "INT", 0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE",
    0x50: "PERSID", 0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING",
    0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD",
    0x63: "GLOBAL", 0x64: "DICT", 0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET",
    0x68: "BINGET", 0x69: "INST", 0x6A: "LONG_BINGET", 0x6C: "LIST", 0x5D: "EMPTY_LIST",
    0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT", 0x73: "SETITEM",
    0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
    # protocol 2
    0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
    0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1",
    0x8B: "LONG4",
    # protocol 3
    0x42: "BINBYTES", 0x43: "SHORT_BINBYTES",
    # protocol 4
    0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET",
    0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL",
    0x94: "MEMOIZE", 0x95: "FRAME",
    # protocol 5
    0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
}


def describe_opcode(op: int) -> str:
    """The error text ``_pickle.c`` uses for an unknown opcode byte."""
    if 0x20 <= op <= 0x7E and op not in (0x27, 0x5C):
        return f"invalid load key, '{chr(op)}'"
    return f"invalid load key, '\\x{op:02x}'"


_C_SPACE = b" \t\n\v\f\r"
_HEX = b"0123456789abcdefABCDEF"
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def _cstr(line: bytes) -> bytes:
    """The line as C sees it through a ``char *``: up to the first NUL."""
    nul = line.find(b"\0")
    return line if nul < 0 else line[:nul]


def _strtol0(s: bytes) -> tuple[int, int, bool]:
    """glibc ``strtol(s, &end, 0)``: (value, end index, overflowed)."""
    i, n = 0, len(s)
    while i < n and s[i] in _C_SPACE:
        i += 1
    neg = False
    if i < n and s[i] in b"+-":
        neg = s[i] == 0x2D
        i += 1
    base = 10
    if s[i : i + 1] == b"0" and s[i + 1 : i + 2] in (b"x", b"X") and i + 2 < n and s[i + 2] in _HEX:
        base, i = 16, i + 2
    elif s[i : i + 1] == b"0":
        base = 8
    start = i
    digits = b"01234567" if base == 8 else _HEX if base == 16 else b"0123456789"
    while i < n and s[i] in digits:
        i += 1
    if i == start:  # no conversion: end points at the very start
        return 0, 0, False
    value = int(s[start:i], base)
    if neg:
        value = -value
    if not _LONG_MIN <= value <= _LONG_MAX:
        return 0, i, True
    return value, i, False


def _pylong0(s: bytes, base: int) -> int:
    """``PyLong_FromString(s, NULL, base)``: Python literal rules, whitespace around allowed."""
    return int(s, base)  # int(bytes, base) is PyLong_FromString with an end check


def parse_int_line(line: bytes) -> int:
    """``INT``: the line includes its ``\\n``; ``00``/``01`` (any two chars giving 0/1) are bools."""
    s = _cstr(line)
    value, end, overflow = _strtol0(s)
    if overflow or (end < len(s) and s[end : end + 1] != b"\n"):
        try:
            return _pylong0(s, 0)
        except ValueError:
            raise ValueError("could not convert string to int") from None
    if len(line) == 3 and value in (0, 1):
        return bool(value)
    return value


def parse_long_line(line: bytes) -> int:
    """``LONG``: a trailing ``L`` before the newline is dropped, then base-0 literal rules."""
    if len(line) >= 2 and line[-2:-1] == b"L":
        line = line[:-2]
    return _pylong0(_cstr(line), 0)


_FLOAT_RE = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.I)


def parse_float_line(line: bytes) -> float:
    """``FLOAT``: ``PyOS_string_to_double`` then the next char must be ``\\n`` or NUL."""
    s = _cstr(line)
    m = _FLOAT_RE.match(s)
    if m is None:
        raise ValueError(f"could not convert string to float: {s[:40]!r}")
    end = m.end()
    if end < len(s) and s[end : end + 1] != b"\n":
        raise ValueError("could not convert string to float")
    text = m.group()
    value = float(text)
    if value in (float("inf"), float("-inf")) and b"inf" not in text.lower():
        raise OverflowError("float literal out of range")
    return value


def parse_decimal_key(line: bytes) -> int:
    """``PUT``/``GET`` memo keys: ``PyLong_FromString(s, NULL, 10)``."""
    return _pylong0(_cstr(line), 10)


def decode_string_line(line: bytes) -> bytes:
    """``STRING``: strip the newline and the outer quotes, then Python-2 escape decoding."""
    s = line[:-1]
    if len(s) >= 2 and s[0] == s[-1] and s[0] in (0x22, 0x27):
        s = s[1:-1]
    else:
        raise ValueError("the STRING opcode argument must be quoted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes are kept, with a DeprecationWarning
        return codecs.escape_decode(s)[0]  # type: ignore[attr-defined]


def decode_unicode_line(line: bytes) -> str:
    """``UNICODE``: raw-unicode-escape of the line without its newline."""
    return codecs.raw_unicode_escape_decode(line[:-1])[0]


def fix_import(module: str, name: str) -> tuple[str, str]:
    """Python 2 names as ``find_class`` maps them for protocols < 3 (``fix_imports=True``)."""
    import _compat_pickle

    mapped = _compat_pickle.NAME_MAPPING.get((module, name))
    if mapped is not None:
        return mapped
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name
