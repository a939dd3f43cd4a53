"""GGUF: llama.cpp's single-file format (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md).

Layout (version 2 and 3; all integers in the file's byte order, little-endian by default)::

    "GGUF"  u32 version  u64 tensor_count  u64 kv_count
    kv_count × (string key, u32 value_type, value)        metadata; arrays are
                                                           (u32 item_type, u64 count, items)
    tensor_count × (string name, u32 n_dims, n_dims × u64 ne, u32 ggml_type, u64 offset)
    padding to general.alignment (default 32)
    tensor data                                            offsets are relative to here

``ne`` lists dimensions innermost first; modellens reports shapes outermost first (the order
of the source framework and of numpy), so ``ne = [4096, 32000]`` is shape ``[32000, 4096]``.

Only the header is parsed.  Large arrays (the vocabulary) are skipped over, not decoded:
only their length is kept.  Type codes and quantization block sizes come from the ``gguf``
package (llama.cpp's own gguf-py) through ``core.dtypes``.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from ..core import dtypes
from ..core.errors import CorruptFileError, UnsupportedFormatError
from ..core.io import LIMITS, ByteSource, check_limit, is_remote
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register

__all__ = ["read", "detect", "GGUFHeader", "read_header", "summarize"]

FORMAT_ID = "gguf"
MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# Value type codes of the GGUF spec: code -> (struct char, size).  STRING=8 and ARRAY=9 are
# variable-sized and handled apart.
_SCALARS = {0: ("B", 1), 1: ("b", 1), 2: ("H", 2), 3: ("h", 2), 4: ("I", 4), 5: ("i", 4),
            6: ("f", 4), 7: ("?", 1), 10: ("Q", 8), 11: ("q", 8), 12: ("d", 8)}
_STRING, _ARRAY = 8, 9
_TYPE_NAMES = {0: "UINT8", 1: "INT8", 2: "UINT16", 3: "INT16", 4: "UINT32", 5: "INT32",
               6: "FLOAT32", 7: "BOOL", 8: "STRING", 9: "ARRAY", 10: "UINT64", 11: "INT64",
               12: "FLOAT64"}
_ARRAY_KEEP = 64  # arrays up to this length are kept whole in metadata
_FIRST_CHUNK = 64 * 1024  # a remote header is read from this much, then in doubling chunks
_MAX_STEP = 4 * 2**20  # … of at most this much each


def detect(probe: Probe) -> int:
    return 100 if probe.head[:4] == MAGIC else 0


class _Cursor:
    """Sequential bounded reads over the file's header.

    A local file is one memoryview of its memory map (free).  A remote one (``is_remote``) is
    read in growing chunks, each doubling what is loaded up to 4 MiB a step: a header of M
    bytes (a vocabulary can take several MB) costs about log2(M / 64 KiB) range requests, plus
    one per 4 MiB beyond 4 MiB, fetches at most min(2 M, M + 4 MiB), and the tensor data behind
    the header is never fetched.
    """

    __slots__ = ("buf", "pos", "end", "bo", "name", "loaded", "src")

    def __init__(self, src: ByteSource, byteorder: str):
        self.src = src
        self.buf: Any
        if is_remote(src):
            self.buf = bytearray(src.read(0, min(src.size, _FIRST_CHUNK)))
        else:
            self.buf = src.view(0, src.size)
        self.loaded = len(self.buf)
        self.pos = 0
        self.end = src.size
        self.bo = byteorder
        self.name = src.name

    def need(self, n: int, what: str) -> None:
        """Check the file holds n more bytes and have them loaded."""
        if n < 0 or self.pos + n > self.loaded:
            self._grow(n, what)

    def _grow(self, n: int, what: str) -> None:
        self.bound(n, what)
        step = min(self.loaded, _MAX_STEP)  # double, up to 4 MiB a request
        want = min(self.end, max(self.pos + n, self.loaded + step))
        self.buf += self.src.read(self.loaded, want - self.loaded)
        self.loaded = want

    def bound(self, n: int, what: str) -> None:
        """Check the file holds n more bytes, without loading them (a skipped array)."""
        if n < 0 or self.pos + n > self.end:
            raise CorruptFileError(
                self.name, f"{what} needs {n} bytes but only {self.end - self.pos} remain", self.pos
            )

    def unpack(self, fmt: str, size: int, what: str) -> Any:
        self.need(size, what)
        (v,) = struct.unpack_from(self.bo + fmt, self.buf, self.pos)
        self.pos += size
        return v

    def u32(self, what: str) -> int:
        return self.unpack("I", 4, what)

    def u64(self, what: str) -> int:
        return self.unpack("Q", 8, what)

    def string(self, what: str) -> str:
        n = self.u64(what)
        check_limit(self.name, n, LIMITS.max_string_bytes, f"{what} length", self.pos - 8)
        self.need(n, what)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def skip_strings(self, count: int, what: str) -> None:
        buf, pos, loaded = self.buf, self.pos, self.loaded
        unpack = struct.Struct(self.bo + "Q").unpack_from  # bound once: the vocabulary is 100k+ strings
        for _ in range(count):
            if pos + 8 > loaded:
                self.pos = pos
                self.need(8, what)
                buf, loaded = self.buf, self.loaded
            (n,) = unpack(buf, pos)
            pos += 8 + n
            if pos > loaded:
                self.pos = pos - n
                self.need(n, what)
                buf, loaded = self.buf, self.loaded
        self.pos = pos

    def value(self, vtype: int, key: str, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            fmt, size = _SCALARS[vtype]
            return self.unpack(fmt, size, f"value of {key!r}")
        if vtype == _STRING:
            return self.string(f"value of {key!r}")
        if vtype == _ARRAY:
            if depth > 2:
                raise CorruptFileError(self.name, f"{key!r}: arrays nested too deeply", self.pos)
            item_type = self.u32(f"array type of {key!r}")
            count = self.u64(f"array length of {key!r}")
            if item_type in _SCALARS:
                fmt, size = _SCALARS[item_type]
                if count <= _ARRAY_KEEP:
                    self.need(count * size, f"array {key!r} of {count} items")
                    vals = list(struct.unpack_from(f"{self.bo}{count}{fmt}", self.buf, self.pos))
                    self.pos += count * size
                    return vals
                self.bound(count * size, f"array {key!r} of {count} items")
                self.pos += count * size
                return _Array(_TYPE_NAMES[item_type], count)
            if item_type == _STRING:
                # Each string needs at least its 8-byte length: bound the count first.
                self.bound(count * 8, f"array {key!r} of {count} strings")
                if count <= _ARRAY_KEEP:
                    return [self.string(f"item of {key!r}") for _ in range(count)]
                self.skip_strings(count, f"array {key!r}")
                return _Array("STRING", count)
            if item_type == _ARRAY:
                self.bound(count * 12, f"array {key!r} of {count} arrays")
                items = [self.value(_ARRAY, key, depth + 1) for _ in range(count)]
                return items if count <= _ARRAY_KEEP else _Array("ARRAY", count)
            raise CorruptFileError(self.name, f"{key!r}: unknown array item type {item_type}", self.pos)
        raise CorruptFileError(self.name, f"{key!r}: unknown value type {vtype}", self.pos)


class _Array:
    """A large metadata array, kept as its type and length only."""

    __slots__ = ("item_type", "length")

    def __init__(self, item_type: str, length: int):
        self.item_type = item_type
        self.length = length

    def __len__(self) -> int:
        return self.length

    def to_dict(self) -> dict[str, Any]:
        return {"array": self.item_type, "length": self.length}


class GGUFHeader:
    def __init__(self, version: int, byteorder: str, kv: dict[str, Any],
                 tensors: list[TensorInfo], data_offset: int, warnings: list[str]):
        self.version = version
        self.byteorder = byteorder
        self.kv = kv
        self.tensors = tensors
        self.data_offset = data_offset
        self.warnings = warnings


def read_header(src: ByteSource) -> GGUFHeader:
    if src.size < 24:
        raise CorruptFileError(src.name, f"file is {src.size} bytes, too short for a GGUF header")
    head = src.read(0, 8)
    if head[:4] != MAGIC:
        raise CorruptFileError(src.name, "missing GGUF magic", 0)
    (version,) = struct.unpack_from("<I", head, 4)
    byteorder = "<"
    if version & 0xFFFF == 0:  # written big-endian: the version reads byte-swapped
        byteorder = ">"
        (version,) = struct.unpack_from(">I", head, 4)
    if version == 1:
        raise UnsupportedFormatError(f"{src.name}: GGUF version 1 is obsolete; re-convert it with a current llama.cpp")
    if version not in (2, 3):
        raise CorruptFileError(src.name, f"unknown GGUF version {version}", 4)
    cur = _Cursor(src, byteorder)
    cur.pos = 8
    n_tensors = cur.u64("tensor count")
    n_kv = cur.u64("metadata count")
    check_limit(src.name, n_tensors, LIMITS.max_tensors, "tensor count", 8)
    check_limit(src.name, n_kv, LIMITS.max_kv_pairs, "metadata count", 16)
    kv: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string("metadata key")
        vtype = cur.u32(f"type of {key!r}")
        kv[key] = cur.value(vtype, key)
    alignment = kv.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise CorruptFileError(src.name, f"general.alignment {alignment!r} is not a power of two")
    # Every tensor info takes at least 8+4+4+8 bytes: bound the count by what the file holds.
    cur.bound(n_tensors * 24, f"{n_tensors} tensor infos")
    infos = []
    for _ in range(n_tensors):
        name = cur.string("tensor name")
        n_dims = cur.u32(f"dimension count of {name!r}")
        check_limit(src.name, n_dims, LIMITS.max_dims, f"dimension count of {name!r}", cur.pos)
        cur.need(n_dims * 8, f"dimensions of {name!r}")
        ne = struct.unpack_from(f"{byteorder}{n_dims}Q", cur.buf, cur.pos) if n_dims else ()
        cur.pos += n_dims * 8
        ggml_type = cur.u32(f"type of {name!r}")
        offset = cur.u64(f"offset of {name!r}")
        infos.append((name, ne, ggml_type, offset))
    data_offset = cur.pos + (-cur.pos) % alignment
    tensors, warnings = _tensors(src, infos, data_offset, alignment)
    return GGUFHeader(version, byteorder, kv, tensors, data_offset, warnings)


def _tensors(src: ByteSource, infos: list, data_offset: int, alignment: int) -> tuple[list[TensorInfo], list[str]]:
    tensors: list[TensorInfo] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for name, ne, ggml_type, offset in infos:
        dt = dtypes.from_ggml(ggml_type)
        if dt is None:
            raise CorruptFileError(src.name, f"tensor {name!r}: unknown GGML type {ggml_type}")
        if name in seen:
            raise CorruptFileError(src.name, f"tensor {name!r} appears twice")
        seen.add(name)
        elements = math.prod(ne)
        if ne and ne[0] % dt.block_size:
            raise CorruptFileError(
                src.name, f"tensor {name!r}: row of {ne[0]} is not a multiple of {dt.name}'s block of {dt.block_size}"
            )
        nbytes = dt.nbytes(elements)
        assert nbytes is not None
        if offset % alignment:
            warnings.append(f"tensor {name!r} is not aligned to {alignment} bytes")
        start = data_offset + offset
        if start + nbytes > src.size:
            raise CorruptFileError(
                src.name,
                f"tensor {name!r} ({dt.name} {list(reversed(ne))}, {nbytes} bytes at data offset {offset}) "
                f"ends past the end of the file ({src.size} bytes)",
                start,
            )
        tensors.append(TensorInfo(name, dt.name, tuple(reversed(ne)), start, nbytes, src.name))
    ordered = sorted(tensors, key=lambda t: t.offset or 0)
    for a, b in zip(ordered, ordered[1:]):
        if b.nbytes and (a.offset or 0) + a.nbytes > (b.offset or 0):
            raise CorruptFileError(src.name, f"tensors {a.name!r} and {b.name!r} overlap", b.offset)
    return tensors, warnings


# --- what people want to know, from the metadata ------------------------------------------

_ARCH_FIELDS = {
    "context_length": "context_length",
    "embedding_length": "hidden_size",
    "block_count": "layers",
    "feed_forward_length": "intermediate_size",
    "attention.head_count": "heads",
    "attention.head_count_kv": "kv_heads",
    "attention.key_length": "head_dim",
    "expert_count": "experts",
    "expert_used_count": "experts_per_token",
    "rope.freq_base": "rope_theta",
}


def _file_type_name(code: Any) -> str | None:
    from gguf.constants import LlamaFileType

    try:
        name = LlamaFileType(code).name
    except ValueError:
        return None
    return name.replace("MOSTLY_", "").replace("ALL_", "")


def summarize(kv: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(architecture, quantization, metadata-for-reports) from GGUF key/values."""
    arch_name = kv.get("general.architecture")
    arch: dict[str, Any] = {"name": arch_name}
    if isinstance(arch_name, str):
        for key, field in _ARCH_FIELDS.items():
            v = kv.get(f"{arch_name}.{key}")
            if v is not None and not isinstance(v, _Array):
                arch[field] = v
    tokens = kv.get("tokenizer.ggml.tokens")
    if tokens is not None:
        arch["vocab_size"] = len(tokens)
    if kv.get("tokenizer.ggml.model"):
        arch["tokenizer"] = kv["tokenizer.ggml.model"]
    arch["chat_template"] = "tokenizer.chat_template" in kv
    quant: dict[str, Any] = {"method": "gguf"}
    if "general.file_type" in kv:
        quant["file_type"] = _file_type_name(kv["general.file_type"]) or kv["general.file_type"]
    if "general.quantization_version" in kv:
        quant["quantization_version"] = kv["general.quantization_version"]
    meta: dict[str, Any] = {}
    limit = LIMITS.max_metadata_value_chars
    for k, v in kv.items():
        if isinstance(v, str) and len(v) > limit:
            meta[k] = {"string": v[:200], "length": len(v), "truncated": True}
        else:
            meta[k] = v.to_dict() if isinstance(v, _Array) else v
    return arch, quant, meta


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    h = read_header(src)
    arch, quant, meta = summarize(h.kv)
    meta = {"gguf_version": h.version, **meta}
    warnings = list(h.warnings)
    if h.byteorder == ">":
        warnings.append("big-endian GGUF: only big-endian builds of llama.cpp load it")
    return ModelInfo(
        source=src.name,
        format=FORMAT_ID,
        files=(FileInfo(src.name, FORMAT_ID, src.size),),
        tensors=tuple(h.tensors),
        metadata=meta,
        architecture=arch,
        quantization=quant,
        warnings=tuple(warnings),
    )


register(
    FormatSpec(
        id=FORMAT_ID,
        detect=detect,
        read=read,
        extensions=(".gguf",),
        description="llama.cpp GGUF: metadata + (quantized) tensors in one file",
    )
)
