"""Tensor data, reached lazily through the index: numpy views over a memory map.

A reader's :class:`~modellens.core.model.TensorInfo` says where a tensor's bytes are (``offset``
is the absolute file offset of the first element, ``strides`` are *element* strides of a view,
``nbytes`` the span of the view).  :func:`tensor_array` turns that into a numpy array that
*is* the file's bytes (no copy): ``np.ndarray(buffer=mmap, offset=…, strides=…)``.  bfloat16 and
the float8 types come from ``ml_dtypes``; GGML block types come back as their raw bytes, one
row of blocks per innermost row (``gguf.quants.dequantize`` takes exactly that).

:class:`DataFile` is a :class:`~modellens.core.io.LocalFile` that also gives its descriptor (for
kernel-side copies) and can hand pages back to the kernel once a tensor has been consumed, so a
stream over a 100 GB checkpoint does not keep the checkpoint resident in the process.
"""

from __future__ import annotations

import math
import mmap
from typing import TYPE_CHECKING, Callable, Iterator

from . import dtypes
from .errors import CorruptFileError, UnsupportedFormatError
from .io import ByteSource, LocalFile, check_range
from .model import ModelInfo, TensorInfo

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["DataFile", "tensor_array", "data_shape", "iter_arrays", "is_contiguous",
           "iter_blocks"]

_PAGE = mmap.PAGESIZE


class DataFile(LocalFile):
    """A memory-mapped local file whose pages can be released after use."""

    def fileno(self) -> int:
        return self._fh.fileno()

    def release(self, offset: int, length: int) -> None:
        """Drop the process's mapping of ``[offset, offset+length)`` (the page cache keeps the
        bytes; a later access maps them again).  Best effort: a no-op where unsupported."""
        if self._map is None or length <= 0 or not hasattr(mmap, "MADV_DONTNEED"):
            return
        start = offset - offset % _PAGE
        end = min(self.size, offset + length)
        try:
            self._map.madvise(mmap.MADV_DONTNEED, start, end - start)
        except (OSError, ValueError):
            pass


def data_shape(info: TensorInfo) -> tuple[int, ...]:
    """The element grid as stored (``stored_shape`` where a quantization reader rebuilt a
    logical shape, else ``shape``)."""
    return info.stored_shape if info.stored_shape is not None else info.shape


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    acc, out = 1, []
    for d in reversed(shape):
        out.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(out))


def is_contiguous(info: TensorInfo) -> bool:
    """True when the tensor's elements lie in C order without gaps (size-1 dims ignored)."""
    if info.strides is None:
        return True
    shape = data_shape(info)
    want = _contiguous_strides(shape)
    return all(s == w for s, w, d in zip(info.strides, want, shape) if d > 1)


def tensor_array(info: TensorInfo, source: ByteSource) -> "np.ndarray":
    """A read-only numpy view of the tensor's bytes in ``source`` (zero copy for a mapped file).

    Block-quantized GGML tensors come back as ``uint8`` of shape ``(*outer, row_bytes)``.
    Raises UnsupportedFormatError when the bytes are not addressable (a compressed member) or
    the dtype has no numpy equivalent; CorruptFileError when the view leaves the file.
    """
    import numpy as np

    if info.offset is None:
        raise UnsupportedFormatError(
            f"{source.name}: tensor {info.name!r} has no byte offset (compressed storage)")
    dt = dtypes.find(info.dtype)
    if dt is None:
        raise UnsupportedFormatError(f"tensor {info.name!r}: unknown dtype {info.dtype}")
    shape = data_shape(info)
    numel = math.prod(shape)
    if dt.is_block:
        assert dt.type_size is not None
        row = shape[-1] if shape else 1
        if row % dt.block_size:
            raise CorruptFileError(source.name, f"tensor {info.name!r}: row of {row} is not a "
                                   f"multiple of {dt.name}'s block of {dt.block_size}")
        rshape = (*shape[:-1], row // dt.block_size * dt.type_size) if shape else (dt.type_size,)
        nbytes = math.prod(rshape)
        check_range(source, info.offset, nbytes, f"tensor {info.name!r}")
        if nbytes == 0:
            return np.zeros(rshape, np.uint8)
        return np.ndarray(rshape, np.uint8, buffer=source.view(info.offset, nbytes))
    if dt.bits is None or dt.bits % 8:
        raise UnsupportedFormatError(f"tensor {info.name!r}: {dt.name} is not byte-addressable")
    try:
        npdt = dt.numpy()
    except (KeyError, AttributeError, TypeError) as e:
        raise UnsupportedFormatError(f"tensor {info.name!r}: {dt.name} has no numpy type") from e
    esize = npdt.itemsize
    if numel == 0:
        return np.zeros(shape, npdt)
    strides = info.strides if info.strides is not None else _contiguous_strides(shape)
    if len(strides) != len(shape) or any(s < 0 for s in strides):
        raise CorruptFileError(source.name, f"tensor {info.name!r}: strides {list(strides)} "
                               f"do not fit shape {list(shape)}")
    span = (1 + sum((n - 1) * s for n, s in zip(shape, strides))) * esize
    check_range(source, info.offset, span, f"tensor {info.name!r}")
    buf = source.view(info.offset, span)
    return np.ndarray(shape, npdt, buffer=buf, strides=tuple(s * esize for s in strides))


def iter_arrays(model: ModelInfo, open_source: Callable[[str], ByteSource]
                ) -> Iterator[tuple[TensorInfo, "np.ndarray"]]:
    """``(TensorInfo, array)`` one tensor at a time; ``open_source(file)`` opens each file once
    (files are closed when the iteration ends)."""
    opened: dict[str, ByteSource] = {}
    try:
        for t in model.tensors:
            key = t.file or model.source
            src = opened.get(key)
            if src is None:
                src = opened[key] = open_source(key)
            yield t, tensor_array(t, src)
    finally:
        for src in opened.values():
            src.close()


def iter_blocks(a: "np.ndarray", max_elems: int) -> Iterator["np.ndarray"]:
    """C-order pieces of ``a`` of at most ``max_elems`` elements each (at least one row of the
    innermost axis), each a view of ``a``; concatenated they are ``a.ravel()``."""
    if a.size == 0:
        return
    if a.ndim == 0:
        yield a.reshape(1)
        return
    if a.size <= max_elems:
        yield a
        return
    if a.flags.c_contiguous:
        flat = a.reshape(-1)
        for i in range(0, flat.size, max_elems):
            yield flat[i : i + max_elems]
        return
    if a.ndim == 1:
        for i in range(0, a.shape[0], max_elems):
            yield a[i : i + max_elems]
        return
    per = math.prod(a.shape[1:])
    if per <= max_elems:
        step = max(1, max_elems // per)
        for i in range(0, a.shape[0], step):
            yield a[i : i + step]
        return
    for i in range(a.shape[0]):
        yield from iter_blocks(a[i], max_elems)
