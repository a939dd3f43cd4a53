"""TensorFlow checkpoints (tensor bundles), read without TensorFlow.

A checkpoint ``PREFIX`` is an index file and N data shards (``tf.train.Checkpoint.save``,
``tf.saved_model.save``'s ``variables/variables``; ``tensorflow/core/util/tensor_bundle``)::

    PREFIX.index                     a LevelDB-style table (SSTable) of  key -> value
    PREFIX.data-00000-of-0000N       the tensors' raw bytes, little-endian, row-major

The table (``tensorflow/core/lib/io/table``, the LevelDB format, ``doc/table_format.md``)::

    [data block]* [metaindex block] [index block] [footer: 48 bytes]
    footer  = metaindex handle, index handle (each varint64 offset, varint64 size), zero padding
              to 40 bytes, fixed64 magic 0xdb4775248b80fb57
    block   = entries, u32 restart offsets, u32 restart count; then a 5-byte trailer
              (1 compression byte: 0 none, 1 snappy; u32 masked crc32c)
    entry   = varint32 shared key bytes, varint32 unshared, varint32 value length, key tail, value

The index block maps separator keys to the data blocks' handles.  In the data blocks the empty
key holds a ``BundleHeaderProto`` (num_shards 1, endianness 2, version 3) and every other key is
a tensor name holding a ``BundleEntryProto`` (dtype 1, shape 2 = TensorShapeProto{dim 2 =
{size 1}}, shard_id 3, offset 4, size 5, crc32c 6, slices 7).  TF2 object-based checkpoints also
hold ``_CHECKPOINTABLE_OBJECT_GRAPH``, a serialized TrackableObjectGraph (a string tensor), kept
out of the tensor list.  TensorFlow writes index blocks uncompressed; snappy blocks are refused.

Every handle, length and offset is checked against the file before it is used.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import dtypes
from ..core.errors import CorruptFileError, UnsupportedFormatError
from ..core.io import LIMITS, ByteSource, LocalTree, Tree, check_limit
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register
from ._protobuf import WireError, fields, to_signed, varint

__all__ = ["TF_DTYPES", "dtype_name", "shape_of", "BundleEntry", "read_index", "read_table",
           "is_table", "checkpoint_tensors", "data_file_names", "prefix_of", "read_prefix",
           "OBJECT_GRAPH_KEY"]

FORMAT_ID = "tf-checkpoint"
TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48
TRAILER_BYTES = 5
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
MAX_TABLE_ENTRIES = LIMITS.max_tensors
MAX_INDEX_BYTES = 1 << 30

# tensorflow/core/framework/types.proto DataType -> modellens dtype name (REF types are +100).
TF_DTYPES: dict[int, str] = {
    1: "F32", 2: "F64", 3: "I32", 4: "U8", 5: "I16", 6: "I8", 7: "STRING", 8: "C64", 9: "I64",
    10: "BOOL", 11: "QI8", 12: "QU8", 13: "QI32", 14: "BF16", 15: "QI16", 16: "QU16", 17: "U16",
    18: "C128", 19: "F16", 20: "RESOURCE", 21: "VARIANT", 22: "U32", 23: "U64", 24: "F8_E5M2",
    25: "F8_E4M3", 26: "F8_E4M3FNUZ", 27: "F8_E4M3B11FNUZ", 28: "F8_E5M2FNUZ", 29: "I4",
    30: "U4", 31: "I2", 32: "U2", 33: "F4",
}
# Types that hold no numbers: never parameters.
_NOT_NUMBERS = {"STRING", "RESOURCE", "VARIANT"}


def dtype_name(code: int) -> str:
    """The dtype name of a TF DataType enum value (``DT_FLOAT_REF`` reads as ``F32``)."""
    if code > 100:
        code -= 100
    return TF_DTYPES.get(code, f"DT_{code}")


def shape_of(buf: Any, span: tuple[int, int]) -> tuple[list[int], bool]:
    """(dims, unknown_rank) of a TensorShapeProto; unknown dims are -1."""
    dims: list[int] = []
    unknown = False
    for fno, wt, v in fields(buf, *span):
        if fno == 2 and wt == 2:
            size = 0
            for f2, w2, v2 in fields(buf, *v):
                if f2 == 1 and w2 == 0:
                    size = to_signed(v2)
            dims.append(size)
            if len(dims) > LIMITS.max_dims:
                raise WireError(f"more than {LIMITS.max_dims} dimensions", span[0])
        elif fno == 3 and wt == 0:
            unknown = bool(v)
    return dims, unknown


# -- the table --------------------------------------------------------------------------------

def _handle(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    off, pos = varint(buf, pos, end)
    size, pos = varint(buf, pos, end)
    return off, size, pos


def is_table(src: ByteSource) -> bool:
    """Whether the file ends with a table footer (the magic number)."""
    if src.size < FOOTER_BYTES:
        return False
    (magic,) = struct.unpack("<Q", src.read(src.size - 8, 8))
    return magic == TABLE_MAGIC


def _block(src: ByteSource, off: int, size: int, what: str) -> bytes:
    if off < 0 or size < 0 or off + size + TRAILER_BYTES > src.size:
        raise CorruptFileError(src.name, f"{what} block {off}+{size} runs past the end of the "
                               f"table ({src.size} bytes)", off)
    kind = src.read(off + size, 1)[0]
    if kind == 1:
        raise UnsupportedFormatError(f"{src.name}: snappy-compressed table blocks are not "
                                     "supported (TensorFlow writes checkpoints uncompressed)")
    if kind != 0:
        raise CorruptFileError(src.name, f"{what} block has unknown compression type {kind}",
                               off + size)
    return src.read(off, size)


def _entries(src: ByteSource, buf: bytes, base: int, what: str) -> list[tuple[bytes, int, int]]:
    """(key, value start, value end) of each entry of a block, offsets inside ``buf``."""
    if len(buf) < 4:
        raise CorruptFileError(src.name, f"{what} block of {len(buf)} bytes has no restart count",
                               base)
    (n_restarts,) = struct.unpack_from("<I", buf, len(buf) - 4)
    limit = len(buf) - 4 - 4 * n_restarts
    if n_restarts == 0 and len(buf) > 4 or limit < 0:
        raise CorruptFileError(src.name, f"{what} block claims {n_restarts} restart points in "
                               f"{len(buf)} bytes", base)
    out: list[tuple[bytes, int, int]] = []
    key = b""
    pos = 0
    try:
        while pos < limit:
            shared, pos = varint(buf, pos, limit)
            unshared, pos = varint(buf, pos, limit)
            vlen, pos = varint(buf, pos, limit)
            if shared > len(key) or pos + unshared + vlen > limit:
                raise WireError(f"entry (shared {shared}, key {unshared}, value {vlen} bytes) "
                                "does not fit its block", pos)
            key = key[:shared] + buf[pos : pos + unshared]
            pos += unshared
            out.append((key, pos, pos + vlen))
            pos += vlen
            if len(out) > MAX_TABLE_ENTRIES:
                raise WireError(f"more than {MAX_TABLE_ENTRIES} entries", pos)
    except WireError as e:
        raise CorruptFileError(src.name, f"{what} block: {e.reason}", base + e.offset) from None
    return out


def read_table(src: ByteSource) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of the table, in key order (values are copies; index files are small)."""
    if src.size < FOOTER_BYTES:
        raise CorruptFileError(src.name, f"file is {src.size} bytes, shorter than the "
                               f"{FOOTER_BYTES}-byte table footer")
    check_limit(src.name, src.size, MAX_INDEX_BYTES, "checkpoint index size")
    footer = src.read(src.size - FOOTER_BYTES, FOOTER_BYTES)
    (magic,) = struct.unpack_from("<Q", footer, 40)
    if magic != TABLE_MAGIC:
        raise CorruptFileError(src.name, f"table magic is {magic:#x}, expected {TABLE_MAGIC:#x}",
                               src.size - 8)
    try:
        _, _, pos = _handle(footer, 0, 40)
        idx_off, idx_size, _ = _handle(footer, pos, 40)
    except WireError as e:
        raise CorruptFileError(src.name, f"table footer: {e.reason}", src.size - FOOTER_BYTES) from None
    index = _block(src, idx_off, idx_size, "index")
    out: list[tuple[bytes, bytes]] = []
    last_end = 0
    for _, vs, ve in _entries(src, index, idx_off, "index"):
        try:
            off, size, _ = _handle(index, vs, ve)
        except WireError as e:
            raise CorruptFileError(src.name, f"index entry: {e.reason}", idx_off + vs) from None
        if off < last_end:
            raise CorruptFileError(src.name, f"data block at {off} overlaps the previous one", off)
        last_end = off + size + TRAILER_BYTES
        block = _block(src, off, size, "data")
        for key, s, e in _entries(src, block, off, "data"):
            out.append((key, block[s:e]))
            if len(out) > MAX_TABLE_ENTRIES:
                raise CorruptFileError(src.name, f"more than {MAX_TABLE_ENTRIES} entries")
    return out


# -- the bundle -------------------------------------------------------------------------------

@dataclass(frozen=True)
class BundleEntry:
    name: str
    dtype: str
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int | None
    sliced: bool


def _entry(name: str, value: bytes, src: ByteSource) -> BundleEntry:
    dtype, shape, shard, offset, size, crc, sliced = 0, (), 0, 0, 0, None, False
    try:
        for fno, wt, v in fields(value, 0, len(value)):
            if fno == 1 and wt == 0:
                dtype = v
            elif fno == 2 and wt == 2:
                dims, unknown = shape_of(value, v)
                if unknown or any(d < 0 for d in dims):
                    raise WireError(f"shape {dims} is not fully defined", v[0])
                shape = tuple(dims)
            elif fno == 3 and wt == 0:
                shard = to_signed(v)
            elif fno == 4 and wt == 0:
                offset = to_signed(v)
            elif fno == 5 and wt == 0:
                size = to_signed(v)
            elif fno == 6 and wt == 5:
                (crc,) = struct.unpack_from("<I", value, v)
            elif fno == 7:
                sliced = True
    except WireError as e:
        raise CorruptFileError(src.name, f"entry {name!r}: {e.reason}") from None
    if offset < 0 or size < 0 or shard < 0:
        raise CorruptFileError(src.name, f"entry {name!r}: negative offset, size or shard "
                               f"({offset}, {size}, {shard})")
    return BundleEntry(name, dtype_name(dtype), shape, shard, offset, size, crc, sliced)


def read_index(src: ByteSource) -> tuple[dict[str, Any], list[BundleEntry]]:
    """The bundle header (num_shards, endianness, version) and its entries, in key order."""
    header: dict[str, Any] = {"num_shards": 1}
    entries: list[BundleEntry] = []
    saw_header = False
    for key, value in read_table(src):
        if key == b"":
            saw_header = True
            try:
                for fno, wt, v in fields(value, 0, len(value)):
                    if fno == 1 and wt == 0:
                        header["num_shards"] = to_signed(v)
                    elif fno == 2 and wt == 0:
                        header["endianness"] = "big" if v == 1 else "little"
                    elif fno == 3 and wt == 2:
                        for f2, w2, v2 in fields(value, *v):
                            if f2 == 1 and w2 == 0:
                                header["version"] = to_signed(v2)
            except WireError as e:
                raise CorruptFileError(src.name, f"bundle header: {e.reason}") from None
            continue
        if key[:1] == b"\x00":  # the data of one slice of a partitioned variable
            continue
        entries.append(_entry(key.decode("utf-8", "replace"), value, src))
    if not saw_header:
        raise CorruptFileError(src.name, "the table has no bundle header (not a TensorFlow "
                               "checkpoint index)")
    n = header["num_shards"]
    if not 1 <= n <= 100_000:
        raise CorruptFileError(src.name, f"bundle header claims {n} shards")
    if header.get("endianness") == "big":
        raise UnsupportedFormatError(f"{src.name}: big-endian checkpoints are not supported")
    for e in entries:
        if e.shard >= n:
            raise CorruptFileError(src.name, f"entry {e.name!r} is in shard {e.shard} of {n}")
    return header, entries


def data_file_names(prefix: str, num_shards: int) -> list[str]:
    return [f"{prefix}.data-{i:05d}-of-{num_shards:05d}" for i in range(num_shards)]


def checkpoint_tensors(entries: list[BundleEntry], shard_files: list[str],
                       shard_sizes: list[int | None], name: str
                       ) -> tuple[list[TensorInfo], list[str], int | None]:
    """Tensors of the bundle (object graph excluded, its size returned), each checked against
    its shard's size where that is known."""
    tensors: list[TensorInfo] = []
    warnings: list[str] = []
    graph_bytes: int | None = None
    skipped: dict[str, int] = {}
    for e in entries:
        size = shard_sizes[e.shard]
        if size is not None and not e.sliced and e.offset + e.size > size:
            raise CorruptFileError(name, f"tensor {e.name!r} needs bytes {e.offset}..{e.offset + e.size} "
                                   f"of {shard_files[e.shard]}, which has {size}")
        if e.name == OBJECT_GRAPH_KEY:
            graph_bytes = e.size
            continue
        if e.dtype in ("RESOURCE", "VARIANT") or e.dtype.startswith("DT_"):
            skipped[e.dtype] = skipped.get(e.dtype, 0) + 1
            continue
        elements = math.prod(e.shape)
        dt = dtypes.find(e.dtype)
        if e.dtype != "STRING" and not e.sliced and dt is not None and dt.bits is not None:
            want = dt.nbytes(elements)
            if want != e.size:
                raise CorruptFileError(name, f"tensor {e.name!r}: {e.dtype} {list(e.shape)} needs "
                                       f"{want} bytes but the index says {e.size}")
        nbytes = e.size if not e.sliced else (dt.nbytes(elements) if dt and dt.bits else 0) or 0
        tensors.append(TensorInfo(
            name=e.name, dtype=e.dtype, shape=e.shape,
            offset=None if e.sliced else e.offset, nbytes=nbytes, file=shard_files[e.shard],
            logical_parameters=0 if e.dtype in _NOT_NUMBERS else None))
    if skipped:
        warnings.append("entries not listed: " + ", ".join(f"{k} ×{n}" for k, n in skipped.items()))
    if any(e.sliced for e in entries):
        warnings.append("some variables are partitioned into slices; their offsets are not shown")
    return tensors, warnings, graph_bytes


def _groups(tensors: list[TensorInfo]) -> dict[str, int]:
    acc: dict[str, int] = {}
    for t in tensors:
        head = t.name.split("/", 1)[0]
        acc[head] = acc.get(head, 0) + t.parameters
    return acc


def read_prefix(tree: Tree, prefix: str, *, fmt: str = FORMAT_ID,
                source: str | None = None) -> ModelInfo:
    """Read checkpoint ``prefix`` (a path relative to ``tree``, without ``.index``)."""
    index_rel = prefix + ".index"
    src = tree.open(index_rel)
    try:
        header, entries = read_index(src)
        index_size = src.size
    finally:
        src.close()
    n = header["num_shards"]
    shard_files = data_file_names(prefix, n)
    shard_sizes: list[int | None] = [tree.size(f) if tree.exists(f) else None for f in shard_files]
    tensors, warnings, graph_bytes = checkpoint_tensors(entries, shard_files, shard_sizes, index_rel)
    missing = [f for f, s in zip(shard_files, shard_sizes) if s is None]
    if missing:
        warnings.append(f"data shard{'s' if len(missing) > 1 else ''} missing: "
                        + ", ".join(missing[:3]) + (" …" if len(missing) > 3 else ""))
    metadata: dict[str, Any] = {"checkpoint_prefix": prefix, "num_shards": n,
                                "bundle_version": header.get("version"),
                                "object_based": graph_bytes is not None}
    if graph_bytes is not None:
        metadata["object_graph_bytes"] = graph_bytes
    groups = _groups(tensors)
    if 1 < len(groups) <= 64:
        metadata["variable_groups"] = groups
    files = [FileInfo(index_rel, fmt, index_size)]
    files += [FileInfo(f, fmt, s) for f, s in zip(shard_files, shard_sizes) if s is not None]
    return ModelInfo(source=source or prefix, format=fmt, files=tuple(files),
                     tensors=tuple(tensors), metadata=metadata, warnings=tuple(warnings))


def prefix_of(filename: str) -> str | None:
    """``ckpt-1`` for ``ckpt-1.index`` or ``ckpt-1.data-00000-of-00001``, else None."""
    if filename.endswith(".index"):
        return filename[: -len(".index")]
    head, sep, tail = filename.rpartition(".data-")
    if sep and len(tail) == 14 and tail[5:9] == "-of-" and tail[:5].isdigit() and tail[9:].isdigit():
        return head
    return None


# -- format registration (an ``.index`` file read on its own) ---------------------------------

def detect(probe: Probe) -> int:
    # TensorFlow always names the index PREFIX.index; looking at the footer of every other file
    # would cost a remote source one more request per file.
    if probe.suffix != ".index" or probe.size < FOOTER_BYTES or not is_table(probe.source):
        return 0
    return 95


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    path = getattr(src, "path", None)
    base = os.path.basename(src.name)
    prefix = prefix_of(base)
    if isinstance(path, Path) and prefix is not None:
        return read_prefix(LocalTree(path.parent), prefix, source=src.name)
    header, entries = read_index(src)  # a remote or oddly named index: no data shards at hand
    shard_files = data_file_names(prefix or base, header["num_shards"])
    tensors, warnings, graph_bytes = checkpoint_tensors(
        entries, shard_files, [None] * len(shard_files), src.name)
    return ModelInfo(source=src.name, format=FORMAT_ID, files=(FileInfo(src.name, FORMAT_ID, src.size),),
                     tensors=tuple(tensors), metadata={"num_shards": header["num_shards"]},
                     warnings=tuple(warnings) + ("data shards not read (index only)",))


register(FormatSpec(id=FORMAT_ID, detect=detect, read=read, extensions=(".index",),
                    description="TensorFlow checkpoint (tensor bundle: PREFIX.index + PREFIX.data-*)"))
