"""Writing NumPy ``.npz``: a zip of stored (uncompressed) ``<name>.npy`` members, each streamed
block by block (``np.load`` maps such members without inflating).  NumPy has no bfloat16 or
float8 type of its own: those tensors are refused with the cast that makes them fit.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Callable

from ..core import dtypes
from ..core.errors import ModelLensError
from .plan import PlannedTensor
from .stream import Progress, write_tensor

__all__ = ["write_npz", "check_npz_dtypes"]

_NUMPY_NATIVE = {"F64", "F32", "F16", "C64", "C128", "I64", "I32", "I16", "I8", "U64", "U32",
                 "U16", "U8", "BOOL"}


def check_npz_dtypes(tensors: list[PlannedTensor]) -> None:
    for t in tensors:
        if t.dtype not in _NUMPY_NATIVE:
            raise ModelLensError(f"tensor {t.name!r} is {t.dtype}, which .npz cannot hold "
                                 "(numpy has no such type); add --dtype f32 or --dtype f16")


def _npy_header(t: PlannedTensor) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    d = {"descr": np.lib.format.dtype_to_descr(dtypes.get(t.dtype).numpy()),
         "fortran_order": False, "shape": tuple(t.shape)}
    np.lib.format.write_array_header_1_0(buf, d)
    return buf.getvalue()


def write_npz(path: Path, tensors: list[PlannedTensor], progress: Progress | None = None,
              check: Callable[[], None] | None = None) -> None:
    check_npz_dtypes(tensors)
    names = set()
    with open(path, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for t in tensors:
                if check is not None:
                    check()
                member = f"{t.name}.npy"
                if member in names:
                    raise ModelLensError(f"duplicate tensor name {t.name!r}")
                names.add(member)
                with zf.open(member, "w", force_zip64=True) as out:
                    out.write(_npy_header(t))
                    write_tensor(-1, 0, t, progress, sink=out.write)
        fh.flush()
        os.fsync(fh.fileno())
