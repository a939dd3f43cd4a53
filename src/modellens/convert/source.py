"""The tensor stream of a conversion's source: one :class:`SourceTensor` per tensor, whose
``read()`` gives a numpy array (a view over the mapped file where the format allows).

Every reader with tensors feeds it: safetensors (single or sharded), pytorch-zip /
pytorch-legacy / torchscript (tensors rebuilt from the raw storages with the static index; the
pickle is never loaded and is checked by :mod:`.safety` first), pickle / joblib arrays, numpy
npy / npz (deflated members inflated one at a time), GGUF (block types dequantized through
``gguf.quants``), and — in :mod:`.extra_sources` — Flax msgpack, Keras HDF5 and ONNX
initializers.  A Hugging Face folder is a source too: its weight files are streamed and its
other files (config, tokenizer …) are listed for copying.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..core import dtypes
from ..core.errors import UnsupportedFormatError
from ..core.model import ModelInfo, TensorInfo
from ..core.tensor_data import DataFile, data_shape, is_contiguous, tensor_array
from .safety import check_source

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["SourceTensor", "Source", "open_source", "open_output"]


@dataclass
class SourceTensor:
    """One tensor of the source, its data still on disk.

    ``dtype``/``shape`` describe what ``read()`` returns (a GGML block tensor reads as F32).
    ``group`` names the tensor whose identical storage view this one is (tied weights), or
    None.  ``raw`` is ``(file, offset)`` when the bytes lie contiguously in a local file in
    exactly the form ``read()`` gives, so a writer may copy them in the kernel.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    read: Callable[[], "np.ndarray"]
    group: str | None = None
    raw: tuple[DataFile, int] | None = None
    release: Callable[[], None] = lambda: None
    quantized_from: str | None = None  # a GGML block type dequantized on read

    @property
    def nbytes(self) -> int:
        return dtypes.get(self.dtype).nbytes(math.prod(self.shape)) or 0


@dataclass
class Source:
    path: Path
    format: str | None
    layout: str | None
    tensors: list[SourceTensor]
    metadata: dict[str, str] = field(default_factory=dict)  # safetensors __metadata__ to keep
    root: Path | None = None  # a folder source
    weight_files: set[str] = field(default_factory=set)  # relative paths not to copy
    config: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    _files: dict[str, DataFile] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
        for c in self._closers:
            c()
        self._closers.clear()

    def file(self, path: str) -> DataFile:
        f = self._files.get(path)
        if f is None:
            f = self._files[path] = DataFile(path)
        return f


def _dequantize_reader(arr_fn: Callable[[], "np.ndarray"], t: TensorInfo) -> Callable[[], "np.ndarray"]:
    def read() -> "np.ndarray":
        from gguf.constants import GGMLQuantizationType
        from gguf.quants import dequantize

        dt = dtypes.get(t.dtype)
        out = dequantize(arr_fn(), GGMLQuantizationType(dt.ggml_type))
        return out.reshape(t.shape)

    return read


def _npz_member_reader(path: str, member: str, t: TensorInfo) -> Callable[[], "np.ndarray"]:
    """A deflated npz member, inflated into one buffer of the tensor's size."""

    def read() -> "np.ndarray":
        import numpy as np

        from ..formats.numpy import parse_npy_header

        with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
            head = fh.read(min(zf.getinfo(member).file_size, 12 + (1 << 20)))
            _, hlen = parse_npy_header(head, f"{path}:{member}")
            npdt = dtypes.get(t.dtype).numpy()
            buf = bytearray(t.nbytes)
            first = head[hlen : hlen + t.nbytes]
            buf[: len(first)] = first
            pos = len(first)
            view = memoryview(buf)
            while pos < t.nbytes:
                n = fh.readinto(view[pos:])
                if not n:
                    raise UnsupportedFormatError(f"{path}: member {member} ends early")
                pos += n
        shape = data_shape(t)
        if t.strides is not None:  # fortran order
            return np.ndarray(shape, npdt, buffer=buf,
                              strides=tuple(s * npdt.itemsize for s in t.strides))
        return np.frombuffer(buf, npdt).reshape(shape)

    return read


def _tensor(src: Source, t: TensorInfo, path: str, fmt: str | None) -> SourceTensor:
    dt = dtypes.find(t.dtype)
    if dt is None:
        raise UnsupportedFormatError(f"{path}: tensor {t.name!r} has unknown dtype {t.dtype}")
    if t.offset is None:
        if fmt == "numpy-npz":
            return SourceTensor(t.name, t.dtype, data_shape(t),
                                _npz_member_reader(path, t.name + ".npy", t))
        raise UnsupportedFormatError(
            f"{path}: tensor {t.name!r} is stored compressed; convert cannot stream it")
    if not dt.is_block and (dt.bits is None or dt.bits % 8 or dt.numpy_name is None):
        raise UnsupportedFormatError(
            f"{path}: tensor {t.name!r} is {dt.name}, which has no plain array form to convert")
    f = src.file(path)
    offset = t.offset

    def arr() -> "np.ndarray":
        return tensor_array(t, f)

    span = t.nbytes

    def release() -> None:
        f.release(offset, span)

    if dt.is_block:
        return SourceTensor(t.name, "F32", t.shape, _dequantize_reader(arr, t), group=t.alias_of,
                            release=release, quantized_from=dt.name)
    raw = (f, offset) if is_contiguous(t) else None
    return SourceTensor(t.name, t.dtype, data_shape(t), arr, group=t.alias_of, raw=raw,
                        release=release)


def _from_model(src: Source, info: ModelInfo, resolve: Callable[[TensorInfo], str]) -> None:
    for t in info.tensors:
        src.tensors.append(_tensor(src, t, resolve(t), _file_format(info, t)))


def _file_format(info: ModelInfo, t: TensorInfo) -> str | None:
    for f in info.files:
        if f.path == t.file:
            return f.format
    return info.format


def _check_pickles(info: ModelInfo, root: Path | None, trusted: tuple[str, ...]) -> list[str]:
    """Refuse pickled parts that name untrusted globals (per file of a folder)."""
    parts = info.components or (info,)
    warnings: list[str] = []
    if info.layout is not None and root is not None:
        # A folder layout merges its files' metadata away: read each pickled file's globals.
        from ..formats import read_file

        for fi in info.files:
            if fi.format in ("pytorch-zip", "pytorch-legacy", "torchscript", "pickle", "joblib"):
                p = str(root / fi.path)
                part = read_file(p)
                warnings += check_source(p, part.format, part.metadata.get("globals", ()), trusted)
        return warnings
    for part in parts:
        p = str(root / part.source) if root is not None and info.components else str(info.source)
        warnings += check_source(p, part.format, part.metadata.get("globals", ()), trusted)
    return warnings


def open_source(path: str | Path, trusted: tuple[str, ...] = ()) -> Source:
    """The tensor stream of a file or folder, after the safety check of pickled sources."""
    from ..layouts import read_path
    from . import extra_sources

    p = Path(path)
    extra = extra_sources.open_extra(p)
    if extra is not None:
        return extra
    info = read_path(p)
    root = p if p.is_dir() else None
    warnings = _check_pickles(info, root, trusted)
    if any("big-endian" in w for w in info.warnings):
        raise UnsupportedFormatError(f"{p}: big-endian tensor data; convert reads little-endian "
                                     "sources only")
    if info.format == "torchscript":
        warnings.append("torchscript: the module's parameters and buffers are converted; its "
                        "code is not")
    src = Source(p, info.format, info.layout, [], root=root, warnings=warnings)
    if root is not None:
        if info.components:
            raise UnsupportedFormatError(
                f"{p}: a folder of {len(info.components)} separate models "
                f"({', '.join(info.component_names[:4])}); convert them one file at a time")
        src.weight_files = {f.path for f in info.files if f.format is not None}
        idx = info.metadata.get("index")
        if isinstance(idx, str):
            src.weight_files.add(idx)
        # other copies of the weights (another format or variant) would be stale after a cast
        for f in info.files:
            if _is_weight_name(f.path):
                src.weight_files.add(f.path)
        src.config = _read_config(p)
        _from_model(src, info, lambda t: str(root / (t.file or "")))
        fm = info.metadata.get("file_metadata")
        if info.format == "safetensors" and isinstance(fm, dict):
            src.metadata = {str(k): str(v) for k, v in fm.items()}
    else:
        _from_model(src, info, lambda t: str(p))
        if info.format == "safetensors":
            src.metadata = {str(k): str(v) for k, v in info.metadata.items()}
    src.warnings += [w for w in info.warnings if "globals beyond tensor rebuilding" not in w]
    return src


def _is_weight_name(rel: str) -> bool:
    import re

    from ..layouts.hf import WEIGHT_EXTENSIONS

    name = rel.rsplit("/", 1)[-1]
    if "/" in rel:
        return False
    return name.endswith(WEIGHT_EXTENSIONS) or bool(
        re.match(r".+\.(safetensors|bin)\.index(\.[\w-]+)?\.json$", name))


def _read_config(root: Path) -> dict[str, Any] | None:
    import json

    p = root / "config.json"
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError):
        return None
    return data if isinstance(data, dict) else None


def open_output(paths: list[Path], fmt: str) -> Source:
    """The tensors of files just written (``fmt``: the target format), read back through the
    readers, for ``--verify``."""
    src = Source(paths[0], fmt, None, [])
    for p in paths:
        if fmt == "flax-msgpack":
            from .extra_sources import open_flax

            part = open_flax(p)
            src.tensors += part.tensors
            src._closers.append(part.close)
            continue
        from ..formats import read_file

        f = src.file(str(p))
        info = read_file(str(p), f)
        for t in info.tensors:
            src.tensors.append(_tensor(src, t, str(p), info.format))
    return src
