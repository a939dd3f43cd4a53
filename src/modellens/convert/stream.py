"""Moving one tensor's bytes from the source to an output, in bounded memory.

A tensor whose bytes already lie contiguously in the source file, and need no cast, is copied
by the kernel (``copy_file_range``: no trip through this process, as fast as ``cp``).  Any
other tensor (a strided view, a cast, a dequantization) is produced in C-order blocks of at
most :data:`BLOCK_BYTES` and written block by block.  After each tensor the source's pages are
handed back (``madvise``), so the process never holds more than one tensor of the model.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Callable, Iterator

from ..core import dtypes
from ..core.errors import ModelLensError
from ..core.tensor_data import iter_blocks
from .plan import PlannedTensor

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["BLOCK_BYTES", "blocks", "write_tensor", "pwrite_all", "Progress", "DiskFullError"]

BLOCK_BYTES = 32 * 2**20
COPY_BYTES = 2**30  # per call: large requests keep the kernel copy at cp's speed

Progress = Callable[[int], None]  # bytes just done


class DiskFullError(ModelLensError):
    """The target ran out of space; nothing was left behind."""


def blocks(t: PlannedTensor) -> Iterator["np.ndarray"]:
    """The output bytes of ``t`` as contiguous uint8 arrays, in order (casting on the way)."""
    import numpy as np

    arr = t.src.read()
    out_np = dtypes.get(t.dtype).numpy() if t.cast else None
    itemsize = max(arr.dtype.itemsize, out_np.itemsize if out_np is not None else 1)
    for b in iter_blocks(arr, max(1, BLOCK_BYTES // itemsize)):
        b = np.ascontiguousarray(b)
        if out_np is not None:
            b = b.astype(out_np)
        yield b.reshape(-1).view(np.uint8)


def pwrite_all(fd: int, data: memoryview, pos: int) -> int:
    n = len(data)
    done = 0
    while done < n:
        done += os.pwrite(fd, data[done:], pos + done)
    return n


_copy_ok = hasattr(os, "copy_file_range")


def _kernel_copy(src_fd: int, src_off: int, dst_fd: int, dst_off: int, n: int,
                 progress: Progress | None) -> int:
    """Copy in the kernel; returns how many bytes were copied (less if unsupported)."""
    global _copy_ok
    done = 0
    while done < n and _copy_ok:
        want = min(COPY_BYTES, n - done)
        try:
            got = os.copy_file_range(src_fd, dst_fd, want, src_off + done, dst_off + done)
        except OSError as e:
            if e.errno in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP,
                           errno.EBADF, errno.EPERM):
                _copy_ok = False
                break
            raise
        if got <= 0:
            break
        done += got
        if progress is not None:
            progress(got)
    return done


def write_tensor(fd: int, pos: int, t: PlannedTensor, progress: Progress | None = None,
                 sink: Callable[[memoryview], None] | None = None) -> int:
    """Write ``t``'s output bytes at ``pos`` of ``fd`` (or to ``sink`` in order); returns the
    number of bytes written."""
    n = t.nbytes
    try:
        if sink is None and not t.cast and t.src.raw is not None and n:
            f, off = t.src.raw
            done = _kernel_copy(f.fileno(), off, fd, pos, n, progress)
            if done == n:
                return n
            # finish through memory (the kernel copy is unsupported here)
            view = f.view(off + done, n - done)
            for i in range(0, n - done, BLOCK_BYTES):
                chunk = view[i : i + BLOCK_BYTES]
                pwrite_all(fd, chunk, pos + done + i)
                if progress is not None:
                    progress(len(chunk))
            return n
        written = 0
        for b in blocks(t):
            mv = memoryview(b)
            if sink is not None:
                sink(mv)
            else:
                pwrite_all(fd, mv, pos + written)
            written += len(mv)
            if progress is not None:
                progress(len(mv))
        if written != n:
            raise ModelLensError(f"tensor {t.name!r}: produced {written} bytes, expected {n}")
        return n
    finally:
        t.src.release()
