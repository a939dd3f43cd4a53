"""PyTorch checkpoints: ``torch.save`` (zip and legacy) and ``torch.jit.save`` (TorchScript).

pytorch-zip (``torch.save``, PyTorch >= 1.6; https://pytorch.org/docs/stable/notes/serialization.html)::

    <root>/data.pkl            the object, pickled; each storage is a persistent id
                               ('storage', torch.FloatStorage, '<key>', 'cpu', numel)
    <root>/data/<key>          the storage's raw bytes, stored uncompressed (64-byte aligned)
    <root>/byteorder           'little' | 'big'          <root>/version, <root>/.format_version

  ``<root>`` is the first member's folder (the file's stem when it was written).  A tensor is
  ``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
  hooks[, metadata])``; dtypes without a typed storage use ``_rebuild_tensor_v3(...,
  dtype)`` over a ``torch.storage.UntypedStorage``; parameters wrap a tensor in
  ``_rebuild_parameter(tensor, requires_grad, hooks)``.

pytorch-legacy (``_use_new_zipfile_serialization=False``)::

    pickle  0x1950a86a20f9469cfc6c (magic)    pickle  1001 (protocol version)
    pickle  sys_info {little_endian, type_sizes}
    pickle  the object (persistent ids ('storage', type, key, location, numel, view_metadata))
    pickle  sorted list of storage keys
    for each key: u64 element count, then count x element size raw bytes

torchscript (``torch.jit.save``): the same zip plus ``<root>/code/`` (Python source of the
compiled module), ``<root>/constants.pkl``; ``data.pkl`` holds the module objects.

Nothing is unpickled: ``core.pickle_vm`` walks the pickles and the tensor index is rebuilt from
the symbolic calls; for the zip formats only the members' local headers are read for offsets.
"""

from __future__ import annotations

import math
import struct
import zipfile
from dataclasses import dataclass
from typing import Any

from ..core import dtypes
from ..core.dtypes import DType
from ..core.errors import CorruptFileError, UnsupportedFormatError
from ..core.io import LIMITS, ByteSource, check_limit, check_range, is_remote
from ..core.model import FileInfo, ModelInfo, TensorInfo
from ..core.pickle_tree import flatten, summarize
from ..core.pickle_vm import Call, Global, PersistentId, PickleResult, walk
from . import FormatSpec, Probe, register, zip_member_offset

__all__ = ["detect_zip", "detect_legacy", "detect_torchscript", "read_zip", "read_legacy",
           "read_torchscript", "MAGIC_NUMBER"]

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
MAX_METADATA_ENTRIES = 256

_TENSOR_FUNCS = {
    ("torch._utils", n) for n in (
        "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
        "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor",
        "_rebuild_nested_tensor", "_rebuild_wrapper_subclass", "_rebuild_meta_tensor_no_storage",
        "_rebuild_device_tensor_from_numpy", "_rebuild_device_tensor_from_cpu_tensor")
} | {("torch._tensor", "_rebuild_from_type_v2"), ("torch._tensor", "_rebuild_from_type")}

# Globals a plain checkpoint needs besides the rebuild functions; others are reported.
_EXPECTED = {("collections", "OrderedDict"), ("torch", "Size"), ("torch", "device"),
             ("torch.nn.parameter", "Parameter"), ("_codecs", "encode"), ("builtins", "set"),
             ("builtins", "frozenset"), ("builtins", "bytearray"), ("builtins", "bytes")}


# -- detection --------------------------------------------------------------------------------

def _zip_root(names: list[str]) -> str | None:
    """The archive folder torch reads: the first member's top folder, holding data.pkl."""
    if not names:
        return None
    members = set(names)
    first = names[0].split("/", 1)[0]
    if "/" in names[0] and f"{first}/data.pkl" in members:
        return first
    for n in names:
        if n.endswith("/data.pkl") and n.count("/") == 1:
            return n[: -len("/data.pkl")]
    return None


def _is_torchscript(names: list[str], root: str) -> bool:
    return f"{root}/constants.pkl" in names or any(n.startswith(f"{root}/code/") for n in names)


def _first_local_name(head: bytes) -> str:
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        return ""
    n = struct.unpack_from("<H", head, 26)[0]
    return head[30 : 30 + n].decode("utf-8", "replace")


def detect_zip(probe: Probe) -> int:
    if not probe.is_zip:
        return 0
    names = probe.zip_names
    if not names:  # unreadable directory: torch.save writes data.pkl first
        return 90 if _first_local_name(probe.head).endswith("/data.pkl") else 0
    root = _zip_root(names)
    return 100 if root is not None and not _is_torchscript(names, root) else 0


def detect_torchscript(probe: Probe) -> int:
    if not probe.is_zip or not probe.zip_names:
        return 0
    root = _zip_root(probe.zip_names)
    return 100 if root is not None and _is_torchscript(probe.zip_names, root) else 0


def detect_legacy(probe: Probe) -> int:
    head = probe.head
    if len(head) < 4 or head[0] not in (0x80, 0x4C, 0x8A):  # PROTO, or a protocol-0/1 LONG
        return 0
    r = walk(head, name=probe.name, strict=False, end=min(len(head), 64))
    return 100 if r.ok and r.value == MAGIC_NUMBER and type(r.value) is int else 0


# -- storages and tensors ---------------------------------------------------------------------

@dataclass
class _Storage:
    key: str
    dtype: DType  # element type of the storage (U8 for an UntypedStorage)
    numel: int  # elements, as the persistent id claims
    location: str
    offset: int | None = None  # absolute offset of the storage's first byte in the file
    base: str | None = None  # legacy storage views: the key of the root storage

    @property
    def nbytes(self) -> int:
        return self.numel * _elsize(self.dtype)


def _elsize(dt: DType, _cache: dict[str, int] = {}) -> int:  # noqa: B006 - a cache
    size = _cache.get(dt.name)
    if size is None:
        size = _cache[dt.name] = max(1, (dt.bits or 8) // 8)
    return size


class _Index:
    """Turns the walked pickle into TensorInfo, checking every claim against the others."""

    def __init__(self, src: ByteSource, fmt: str):
        self.src = src
        self.fmt = fmt
        self.storages: dict[str, _Storage] = {}
        self.warnings: list[str] = []
        self.unsupported: dict[str, int] = {}

    def fail(self, msg: str, offset: int | None = None) -> CorruptFileError:
        return CorruptFileError(self.src.name, msg, offset)

    def storage(self, pid: Any) -> _Storage:
        if not isinstance(pid, PersistentId) or type(pid.value) is not tuple:
            raise self.fail(f"tensor storage is {pid!r}, not a persistent id")
        v = pid.value
        if len(v) not in (5, 6) or v[0] not in ("storage", b"storage"):
            raise self.fail(f"unknown persistent id {summarize(v, 120)!r}", pid.offset)
        stype, key, location, numel = v[1:5]
        key = key.decode("ascii", "replace") if type(key) is bytes else key
        if type(key) is not str or type(numel) is not int or numel < 0:
            raise self.fail(f"malformed storage persistent id {summarize(v, 120)!r}", pid.offset)
        if not isinstance(stype, Global) or stype.obfuscated:
            raise self.fail(f"storage type is not a torch storage class: {stype!r}", pid.offset)
        dt = dtypes.find("U8") if stype.name == "UntypedStorage" else dtypes.from_torch(stype.name)
        if dt is None or not str(stype.module).startswith("torch"):
            raise self.fail(f"unknown storage type {stype.qualname}", pid.offset)
        known = self.storages.get(key)
        if known is None:
            known = self.storages[key] = _Storage(key, dt, numel, str(location))
        elif (known.dtype, known.numel) != (dt, numel):
            self.warnings.append(f"storage {key!r} is claimed as {dt.name}[{numel}] and "
                                 f"{known.dtype.name}[{known.numel}]; the first claim is used")
        if len(v) == 6 and type(v[5]) is tuple and len(v[5]) == 3:  # legacy storage view
            view_key, view_off, view_numel = v[5]
            if type(view_key) is str and view_key not in self.storages:
                self.storages[view_key] = _Storage(view_key, dt, view_numel, str(location),
                                                   base=f"{key}:{view_off}")
            return self.storages.get(view_key, known)
        return known

    def tensor(self, name: str, node: Call) -> TensorInfo | None:
        c: Any = node
        for _ in range(8):  # parameters / subclasses wrap the plain rebuild
            g = c.callable if isinstance(c, Call) else None
            args = c.args if isinstance(c, Call) else None
            if g is None or type(args) is not tuple:
                break
            fn = g.name
            if fn in ("_rebuild_parameter", "_rebuild_parameter_with_state") and args:
                c = args[0]
                continue
            if fn in ("_rebuild_from_type_v2", "_rebuild_from_type") and len(args) >= 3:
                inner = Call(args[0], args[2], "reduce", c.offset)
                if inner.callable is None or type(args[2]) is not tuple:
                    break
                c = inner
                continue
            if fn in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_qtensor",
                      "_rebuild_tensor_v3") and len(args) >= 4:
                return self.view(name, c, args, fn)
            break
        what = c.callable.qualname if isinstance(c, Call) and c.callable else "an unknown call"
        self.unsupported[what] = self.unsupported.get(what, 0) + 1
        return None

    def view(self, name: str, c: Call, args: tuple, fn: str) -> TensorInfo:
        st = self.storage(args[0])
        offset, size, stride = args[1], args[2], args[3]
        dt = st.dtype
        if fn == "_rebuild_tensor_v3":
            g = args[6] if len(args) > 6 else None
            dt = dtypes.from_torch(g.name) if isinstance(g, Global) else None
            if dt is None:
                raise self.fail(f"tensor {name!r}: unknown dtype {g!r}", c.offset)
        ok = (type(offset) is int and offset >= 0 and type(size) in (tuple, list)
              and type(stride) in (tuple, list) and len(size) == len(stride)
              and len(size) <= LIMITS.max_dims
              and all(type(x) is int and x >= 0 for x in (*size, *stride)))
        if not ok:
            raise self.fail(f"tensor {name!r}: malformed view (offset {summarize(offset, 40)}, "
                            f"size {summarize(size, 80)}, stride {summarize(stride, 80)})",
                            c.offset)
        esize = _elsize(dt)
        numel = math.prod(size)
        span = 0 if numel == 0 else 1 + sum((n - 1) * s for n, s in zip(size, stride))
        if numel and (offset + span) * esize > st.nbytes:
            raise self.fail(
                f"tensor {name!r}: view {list(size)} stride {list(stride)} at element {offset} "
                f"needs {(offset + span) * esize} bytes but storage {st.key!r} holds {st.nbytes}",
                c.offset)
        return TensorInfo(name=name, dtype=dt.name, shape=tuple(size), offset=None,
                          nbytes=span * esize, file=self.src.name, storage=st.key,
                          storage_offset=offset, strides=tuple(stride))

    def build(self, value: Any, result: PickleResult, prefix: str = "") -> tuple[list[TensorInfo], dict[str, Any]]:
        flat = flatten(value, _is_tensor, max_visits=LIMITS.max_pickle_ops,
                       max_depth=LIMITS.max_pickle_depth)
        check_limit(self.src.name, len(flat.tensors), LIMITS.max_tensors, "tensor count")
        tensors: list[TensorInfo] = []
        for path, node in flat.tensors:
            t = self.tensor(prefix + path if path else (prefix.rstrip(".") or "tensor"), node)
            if t is not None:
                tensors.append(t)
        meta: dict[str, Any] = {}
        for path, node in flat.plain:
            if len(meta) >= MAX_METADATA_ENTRIES:
                meta["…"] = f"{len(flat.plain) - MAX_METADATA_ENTRIES} more values"
                break
            if path.endswith("_metadata") or (path == "" and node == {}):
                continue
            meta[prefix + path if path else "value"] = summarize(
                node, LIMITS.max_metadata_value_chars)
        if flat.truncated:
            self.warnings.append("the pickled object graph is too large or cyclic to name every "
                                 "tensor; some were skipped")
        if self.unsupported:
            kinds = ", ".join(f"{k} ×{n}" for k, n in sorted(self.unsupported.items()))
            self.warnings.append(f"tensors of unsupported kinds not listed: {kinds}")
        return tensors, meta

    def finish(self, tensors: list[TensorInfo]) -> list[TensorInfo]:
        """Absolute offsets from the storages, and aliases for repeated views."""
        out: list[TensorInfo] = []
        seen: dict[tuple, str] = {}
        storages = self.storages
        for t in tensors:
            st = storages[t.storage]  # type: ignore[index]
            off = None
            if st.offset is not None:
                off = st.offset + t.storage_offset * _ELSIZE_BY_NAME[t.dtype]
            key = (t.storage, t.storage_offset, t.shape, t.strides, t.dtype)
            first = seen.setdefault(key, t.name)
            out.append(TensorInfo(t.name, t.dtype, t.shape, off, t.nbytes, t.file, None,
                                  t.storage, t.storage_offset, t.strides,
                                  None if first == t.name else first))
        return out


class _ElSizes(dict):
    def __missing__(self, name: str) -> int:
        self[name] = _elsize(dtypes.get(name))
        return self[name]


_ELSIZE_BY_NAME = _ElSizes()


def _is_tensor(node: Any) -> bool:
    if type(node) is not Call:
        return False
    g = node.func
    return type(g) is Global and not g.obfuscated and (g.module, g.name) in _TENSOR_FUNCS


def _global_metadata(result: PickleResult, idx: _Index, allow_prefix: str | None = None) -> list[str]:
    names = result.global_names()
    odd = []
    for e in result.of_kind("global"):
        g = e.target
        if g.obfuscated:
            odd.append(g.qualname)
            continue
        mod = str(g.module)
        if (g.module, g.name) in _TENSOR_FUNCS or (g.module, g.name) in _EXPECTED:
            continue
        if mod in ("torch", "torch.storage", "torch.cuda") and (
                str(g.name).endswith("Storage") or dtypes.from_torch(str(g.name))):
            continue
        if allow_prefix and mod.startswith(allow_prefix):
            continue
        odd.append(g.qualname)
    if odd:
        uniq = sorted(set(odd))
        shown = ", ".join(uniq[:8]) + (" …" if len(uniq) > 8 else "")
        idx.warnings.append(f"the pickle references {len(uniq)} globals beyond tensor rebuilding "
                            f"({shown}); they were not executed — run 'modellens scan' before "
                            "loading with torch.load")
    return names


# -- zip --------------------------------------------------------------------------------------

def _zip(src: ByteSource, probe: Probe | None) -> tuple[zipfile.ZipFile, list[str], str]:
    probe = probe or Probe(src)
    zf = probe.zip
    if zf is None:
        raise CorruptFileError(src.name, "zip central directory is unreadable (truncated or damaged)")
    names = probe.zip_names
    root = _zip_root(names)
    if root is None:
        raise UnsupportedFormatError(f"{src.name}: zip archive without a <folder>/data.pkl")
    return zf, names, root


def _member_bytes(src: ByteSource, zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise CorruptFileError(src.name, f"zip member {name!r} is missing") from None
    check_limit(src.name, info.file_size, limit, f"size of {name}")
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise CorruptFileError(src.name, f"zip member {name!r}: stored sizes disagree")
        return src.read(zip_member_offset(src, info), info.file_size)
    with zf.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise CorruptFileError(src.name, f"zip member {name!r} inflates beyond {limit} bytes")
    return data


def _small_text(src: ByteSource, zf: zipfile.ZipFile, names: set[str], name: str) -> str | None:
    if name not in names:
        return None
    return _member_bytes(src, zf, name, 4096).decode("utf-8", "replace").strip()


def _locate_zip_storages(idx: _Index, zf: zipfile.ZipFile, root: str, folder: str) -> None:
    # A storage's data offset needs its local header, which sits next to the data: over HTTP
    # that is one range request per storage, scattered across the file.  A remote source
    # (``is_remote``) skips them: sizes are still checked against the central directory, the
    # tensors' ``offset`` stays unknown (null), and nothing past the pickle is fetched.
    remote = is_remote(idx.src)
    for st in idx.storages.values():
        if st.base is not None:
            raise CorruptFileError(idx.src.name, f"storage {st.key!r}: legacy storage view in a zip")
        member = f"{root}/{folder}/{st.key}"
        try:
            info = zf.getinfo(member)
        except KeyError:
            raise CorruptFileError(idx.src.name, f"storage member {member!r} is missing") from None
        if info.file_size != st.nbytes:
            raise CorruptFileError(
                idx.src.name, f"storage {member!r} holds {info.file_size} bytes but the pickle "
                f"claims {st.numel} × {st.dtype.name} = {st.nbytes}", info.header_offset)
        if remote:
            if info.compress_type != zipfile.ZIP_STORED:
                idx.warnings.append(f"storage {member!r} is compressed: no byte offsets for its tensors")
            continue
        off = zip_member_offset(idx.src, info)
        if info.compress_type == zipfile.ZIP_STORED:
            st.offset = off
        else:
            idx.warnings.append(f"storage {member!r} is compressed: no byte offsets for its tensors")


def _read_zip_like(src: ByteSource, probe: Probe | None, fmt: str) -> ModelInfo:
    zf, names, root = _zip(src, probe)
    members = set(names)
    data = _member_bytes(src, zf, f"{root}/data.pkl", LIMITS.max_pickle_bytes)
    result = walk(data, name=f"{src.name}:{root}/data.pkl", encoding="utf-8")
    idx = _Index(src, fmt)
    tensors, meta = idx.build(result.value, result)
    _locate_zip_storages(idx, zf, root, "data")
    tensors = idx.finish(tensors)
    metadata: dict[str, Any] = {"archive_root": root}
    if is_remote(src):
        metadata["tensor_offsets"] = "not read for a remote file (one request per storage)"
    for key, member in (("byteorder", "byteorder"), ("version", "version"),
                        ("format_version", ".format_version"), ("version", ".data/version")):
        value = _small_text(src, zf, members, f"{root}/{member}")
        if value is not None:
            metadata.setdefault(key, value)
    if metadata.get("byteorder") == "big":
        idx.warnings.append("storages are big-endian: tensor bytes need swapping on this machine")
    metadata["pickle_protocol"] = result.protocol
    if fmt == "torchscript":
        metadata["globals"] = _global_metadata(result, idx, allow_prefix="__torch__")
        metadata.update(_torchscript_extras(src, zf, names, root, idx))
        meta = {k: v for k, v in meta.items() if not k.split(".")[-1].startswith("_")
                and k.split(".")[-1] != "training"}
    else:
        metadata["globals"] = _global_metadata(result, idx)
    metadata.update(meta)
    return ModelInfo(source=src.name, format=fmt, files=(FileInfo(src.name, fmt, src.size),),
                     tensors=tuple(tensors), metadata=metadata, warnings=tuple(idx.warnings))


def _torchscript_extras(src: ByteSource, zf: zipfile.ZipFile, names: list[str], root: str,
                        idx: _Index) -> dict[str, Any]:
    code = [n[len(root) + 1 :] for n in names
            if n.startswith(f"{root}/code/") and not n.endswith(".debug_pkl")]
    out: dict[str, Any] = {"code_files": code[:200]}
    if len(code) > 200:
        out["code_files_total"] = len(code)
    if f"{root}/constants.pkl" in names:
        raw = _member_bytes(src, zf, f"{root}/constants.pkl", LIMITS.max_pickle_bytes)
        r = walk(raw, name=f"{src.name}:{root}/constants.pkl", encoding="utf-8")
        cidx = _Index(src, "torchscript")
        consts, plain = cidx.build(r.value, r, prefix="constants.")
        out["constants"] = [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape)}
                            for t in consts[:100]] + [summarize(v, 200) for v in
                                                      list(plain.values())[:100]]
    return out


def read_zip(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    return _read_zip_like(src, probe, "pytorch-zip")


def read_torchscript(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    return _read_zip_like(src, probe, "torchscript")


# -- legacy -----------------------------------------------------------------------------------

def read_legacy(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    data = src.view(0, src.size)
    pos = 0
    parts: list[PickleResult] = []
    for what in ("magic number", "protocol version", "sys_info", "object", "storage keys"):
        if pos >= src.size:
            raise CorruptFileError(src.name, f"file ends before the {what} pickle", pos)
        r = walk(data, name=src.name, start=pos, encoding="utf-8")
        parts.append(r)
        pos = r.end
    magic, version, sys_info, result, keys = parts
    if magic.value != MAGIC_NUMBER:
        raise UnsupportedFormatError(f"{src.name}: not a legacy PyTorch file (bad magic number)")
    if version.value != LEGACY_PROTOCOL_VERSION:
        raise CorruptFileError(src.name, f"legacy protocol version {version.value!r}, expected "
                               f"{LEGACY_PROTOCOL_VERSION}", version.start)
    idx = _Index(src, "pytorch-legacy")
    tensors, meta = idx.build(result.value, result)
    if type(keys.value) is not list or not all(type(k) is str for k in keys.value):
        raise CorruptFileError(src.name, "the storage key list is not a list of strings", keys.start)
    roots = {k: s for k, s in idx.storages.items() if s.base is None}
    for key in keys.value:
        st = roots.get(key)
        if st is None:
            raise CorruptFileError(src.name, f"storage {key!r} is listed but never used", keys.start)
        check_range(src, pos, 8, f"element count of storage {key!r}")
        (count,) = struct.unpack("<q", src.read(pos, 8))
        if count != st.numel:
            raise CorruptFileError(src.name, f"storage {key!r}: the file says {count} elements "
                                   f"but the pickle claims {st.numel}", pos)
        st.offset = pos + 8
        pos += 8
        check_range(src, pos, st.nbytes, f"storage {key!r}")
        pos += st.nbytes
    missing = sorted(set(roots) - set(keys.value))
    if missing:
        raise CorruptFileError(src.name, f"storages {missing[:5]} are used but not stored")
    for st in idx.storages.values():
        if st.base is not None:  # a view of a root storage: key:element offset
            base_key, _, off = st.base.rpartition(":")
            base = roots.get(base_key)
            if base is None or base.offset is None:
                raise CorruptFileError(src.name, f"storage view {st.key!r} of a missing storage")
            st.offset = base.offset + int(off) * _elsize(st.dtype)
    if pos < src.size:
        idx.warnings.append(f"{src.size - pos} bytes after the last storage")
    tensors = idx.finish(tensors)
    metadata: dict[str, Any] = {"legacy_protocol_version": version.value,
                                "pickle_protocol": result.protocol}
    if type(sys_info.value) is dict:
        metadata["sys_info"] = summarize(sys_info.value, 200)
        if sys_info.value.get("little_endian") is False:
            idx.warnings.append("storages are big-endian: tensor bytes need swapping")
    metadata["globals"] = _global_metadata(result, idx)
    metadata.update(meta)
    return ModelInfo(source=src.name, format="pytorch-legacy",
                     files=(FileInfo(src.name, "pytorch-legacy", src.size),),
                     tensors=tuple(tensors), metadata=metadata, warnings=tuple(idx.warnings))


register(FormatSpec(id="pytorch-zip", detect=detect_zip, read=read_zip,
                    extensions=(".pt", ".pth", ".bin", ".ckpt", ".tar"),
                    description="torch.save zip archive: pickle + raw storages"))
register(FormatSpec(id="torchscript", detect=detect_torchscript, read=read_torchscript,
                    extensions=(".pt", ".pth", ".ptl", ".torchscript"),
                    description="torch.jit.save archive: code, constants, module objects"))
register(FormatSpec(id="pytorch-legacy", detect=detect_legacy, read=read_legacy,
                    extensions=(".pt", ".pth", ".bin", ".pkl"),
                    description="torch.save before 1.6: pickles then raw storages"))
