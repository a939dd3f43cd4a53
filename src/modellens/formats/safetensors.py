"""safetensors: a JSON header, then raw little-endian tensor bytes.

Layout (https://github.com/huggingface/safetensors#format)::

    u64 little-endian N          length of the header
    N bytes of UTF-8 JSON        {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [b, e]},
                                  ..., "__metadata__": {"str": "str"}}
    data                         offsets are relative to the end of the header

The reader parses only the header and validates it the way the reference loader does (offsets
in bounds and non-overlapping, dtype × shape = byte length); nothing after the header is read.
"""

from __future__ import annotations

import json
import math
import struct

from ..core import dtypes
from ..core.errors import CorruptFileError
from ..core.io import LIMITS, ByteSource, check_limit
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register

__all__ = ["read", "detect", "read_header"]

FORMAT_ID = "safetensors"


def detect(probe: Probe) -> int:
    head = probe.head
    if len(head) < 10:
        return 0
    (n,) = struct.unpack_from("<Q", head)
    # The header is a JSON object: '{' then a key, or '}' for no tensors (writers pad only at
    # the end).  A length beyond the file still means safetensors: the reader says what is wrong.
    if n < 2 or head[8:9] != b"{" or head[9:10] not in (b'"', b"}", b" ", b"\n"):
        return 0
    return 100 if n <= probe.size - 8 else 60


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate key {dup!r} in header")
    return d


def read_header(src: ByteSource) -> tuple[int, dict]:
    """The header length and the parsed header, after bounds checks."""
    if src.size < 8:
        raise CorruptFileError(src.name, f"file is {src.size} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", src.read(0, 8))
    check_limit(src.name, n, LIMITS.max_header_bytes, "header length", 0)
    if 8 + n > src.size:
        raise CorruptFileError(
            src.name, f"header length {n} runs past the end of the file ({src.size} bytes)", 0
        )
    raw = src.read(8, n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as e:
        raise CorruptFileError(src.name, f"header is not UTF-8 ({e.reason})", 8 + e.start) from e
    except ValueError as e:
        raise CorruptFileError(src.name, f"header is not valid JSON ({e})", 8) from e
    if not isinstance(header, dict):
        raise CorruptFileError(src.name, "header is not a JSON object", 8)
    return n, header


def _entry(src: ByteSource, name: str, value: object, data_start: int) -> TensorInfo:
    if not isinstance(value, dict):
        raise CorruptFileError(src.name, f"tensor {name!r}: entry is not an object")
    dtype_name = value.get("dtype")
    shape = value.get("shape")
    offsets = value.get("data_offsets")
    dt = dtypes.find(dtype_name) if isinstance(dtype_name, str) else None
    if dt is None or dt.is_block:
        raise CorruptFileError(src.name, f"tensor {name!r}: unknown dtype {dtype_name!r}")
    if (
        not isinstance(shape, list)
        or len(shape) > LIMITS.max_dims
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise CorruptFileError(src.name, f"tensor {name!r}: invalid shape {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
        or offsets[1] < offsets[0]
    ):
        raise CorruptFileError(src.name, f"tensor {name!r}: invalid data_offsets {offsets!r}")
    begin, end = offsets
    elements = math.prod(shape)
    expected = dt.nbytes(elements)
    if expected != end - begin:
        raise CorruptFileError(
            src.name,
            f"tensor {name!r}: {dt.name} {shape} needs {expected} bytes "
            f"but data_offsets [{begin}, {end}] hold {end - begin}",
        )
    if data_start + end > src.size:
        raise CorruptFileError(
            src.name,
            f"tensor {name!r}: data_offsets [{begin}, {end}] end past the file "
            f"(data section holds {src.size - data_start} bytes)",
            data_start + begin,
        )
    return TensorInfo(name, dt.name, tuple(shape), data_start + begin, end - begin, src.name)


def read_index(src: ByteSource) -> tuple[list[TensorInfo], dict[str, str], list[str]]:
    """Tensors (in file order), ``__metadata__`` and warnings of one safetensors file."""
    n, header = read_header(src)
    data_start = 8 + n
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CorruptFileError(src.name, "__metadata__ must map strings to strings")
    check_limit(src.name, len(header), LIMITS.max_tensors, "tensor count")
    tensors = [_entry(src, name, value, data_start) for name, value in header.items()]
    tensors.sort(key=lambda t: (t.offset, t.nbytes))
    warnings: list[str] = []
    cursor = data_start
    for prev, t in zip([None, *tensors], tensors):
        assert t.offset is not None
        if t.offset < cursor and t.nbytes:
            raise CorruptFileError(
                src.name,
                f"tensor {t.name!r} overlaps {prev.name if prev else 'the header'!r} "
                f"(starts at data byte {t.offset - data_start}, previous ends at {cursor - data_start})",
                t.offset,
            )
        if t.offset > cursor:
            warnings.append(
                f"{t.offset - cursor} unused bytes before tensor {t.name!r} "
                "(the safetensors loader rejects files with gaps)"
            )
        cursor = max(cursor, t.offset + t.nbytes)
    if cursor < src.size:
        warnings.append(
            f"{src.size - cursor} bytes after the last tensor (the safetensors loader rejects them)"
        )
    return tensors, meta, warnings


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    tensors, meta, warnings = read_index(src)
    return ModelInfo(
        source=src.name,
        format=FORMAT_ID,
        files=(FileInfo(src.name, FORMAT_ID, src.size),),
        tensors=tuple(tensors),
        metadata=dict(meta),
        warnings=tuple(warnings),
    )


register(
    FormatSpec(
        id=FORMAT_ID,
        detect=detect,
        read=read,
        extensions=(".safetensors", ".bin"),
        description="Hugging Face safetensors: JSON header + raw tensors; loading runs no code",
    )
)
