"""NumPy ``.npy`` and ``.npz`` (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).

``.npy``::

    b"\\x93NUMPY" u8 major u8 minor
    u16 (v1) or u32 (v2, v3) little-endian header length
    header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
    raw array data (or, for object arrays, a pickle)

``.npz`` is a zip of ``.npy`` members, stored or deflated (``savez_compressed``).

The header literal is parsed with ``ast.literal_eval`` (literals only; no names, no calls)
after its length is bounded.  Object arrays are reported, never unpickled.
"""

from __future__ import annotations

import ast
import math
import struct
import zipfile
from typing import Any

from ..core import dtypes
from ..core.errors import CorruptFileError
from ..core.io import LIMITS, ByteSource, check_limit
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register, zip_member_offset

__all__ = ["parse_npy_header", "read_npy", "read_npz"]

MAGIC = b"\x93NUMPY"
_MAX_NPY_HEADER = 1 << 20


def detect_npy(probe: Probe) -> int:
    return 100 if probe.head.startswith(MAGIC) else 0


def detect_npz(probe: Probe) -> int:
    names = probe.zip_names
    if names and all(n.endswith(".npy") for n in names):
        return 90
    return 0


def parse_npy_header(head: bytes, name: str) -> tuple[dict[str, Any], int]:
    """The header dict and the offset of the array data, from the first bytes of a .npy."""
    if not head.startswith(MAGIC) or len(head) < 10:
        raise CorruptFileError(name, "not a .npy header")
    major = head[6]
    if major == 1:
        (hlen,) = struct.unpack_from("<H", head, 8)
        start = 10
    elif major in (2, 3):
        if len(head) < 12:
            raise CorruptFileError(name, "truncated .npy header")
        (hlen,) = struct.unpack_from("<I", head, 8)
        start = 12
    else:
        raise CorruptFileError(name, f"unknown .npy format version {major}", 6)
    check_limit(name, hlen, _MAX_NPY_HEADER, ".npy header length", 8)
    if start + hlen > len(head):
        raise CorruptFileError(name, f".npy header of {hlen} bytes runs past the end of the data", 8)
    text = head[start : start + hlen].decode("utf-8" if major == 3 else "latin1")
    try:
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as e:
        raise CorruptFileError(name, f".npy header is not a literal dict ({type(e).__name__})", start) from e
    if not isinstance(header, dict) or not {"descr", "fortran_order", "shape"} <= header.keys():
        raise CorruptFileError(name, ".npy header lacks descr / fortran_order / shape", start)
    shape = header["shape"]
    if not isinstance(shape, tuple) or len(shape) > LIMITS.max_dims or not all(
        isinstance(d, int) and d >= 0 for d in shape
    ):
        raise CorruptFileError(name, f".npy shape {shape!r} is invalid", start)
    return header, start + hlen


def _tensor(header: dict[str, Any], tname: str, file: str, data_offset: int | None,
            available: int | None, src_name: str) -> tuple[TensorInfo | None, str | None]:
    """The tensor a .npy header describes, or a warning when it holds objects."""
    descr = header["descr"]
    shape = tuple(header["shape"])
    if not isinstance(descr, str):
        return None, f"{tname}: structured dtype {descr!r} not listed as a tensor"
    if "O" in descr:
        return None, (f"{tname}: object array: its data is a pickle, and loading it needs "
                      "allow_pickle=True, which can run code")
    dt = dtypes.from_numpy(descr)
    if dt is None:
        return None, f"{tname}: dtype {descr!r} not listed as a tensor"
    nbytes = dt.nbytes(math.prod(shape)) or 0
    if available is not None and nbytes > available:
        raise CorruptFileError(
            src_name, f"{tname}: {descr} {list(shape)} needs {nbytes} bytes but {available} follow the header"
        )
    strides = None
    if header["fortran_order"] and len(shape) > 1:
        acc, st = 1, []
        for d in shape:
            st.append(acc)
            acc *= d
        strides = tuple(st)
    return TensorInfo(tname, dt.name, shape, data_offset, nbytes, file, strides=strides), None


def read_npy(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    head = src.read(0, min(src.size, 12 + _MAX_NPY_HEADER))
    header, data_offset = parse_npy_header(head, src.name)
    tensor, warning = _tensor(header, "array", src.name, data_offset, src.size - data_offset, src.name)
    return ModelInfo(
        source=src.name,
        format="numpy-npy",
        files=(FileInfo(src.name, "numpy-npy", src.size),),
        tensors=(tensor,) if tensor else (),
        metadata={"descr": header["descr"], "fortran_order": header["fortran_order"]},
        warnings=(warning,) if warning else (),
    )


def read_npz(src: ByteSource, probe: Probe) -> ModelInfo:
    zf = probe.zip
    assert zf is not None
    tensors: list[TensorInfo] = []
    warnings: list[str] = []
    for info in zf.infolist():
        tname = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        with zf.open(info) as fh:  # decompresses only the first bytes of a deflated member
            head = fh.read(12 + _MAX_NPY_HEADER if info.file_size > 12 + _MAX_NPY_HEADER else -1)
        header, hlen = parse_npy_header(head, f"{src.name}:{info.filename}")
        stored = info.compress_type == zipfile.ZIP_STORED
        offset = zip_member_offset(src, info) + hlen if stored else None
        tensor, warning = _tensor(header, tname, src.name, offset, info.file_size - hlen, src.name)
        if tensor:
            tensors.append(tensor)
        if warning:
            warnings.append(warning)
    compressed = any(i.compress_type != zipfile.ZIP_STORED for i in zf.infolist())
    return ModelInfo(
        source=src.name,
        format="numpy-npz",
        files=(FileInfo(src.name, "numpy-npz", src.size),),
        tensors=tuple(tensors),
        metadata={"members": len(zf.infolist()), "compressed": compressed},
        warnings=tuple(warnings),
    )


register(FormatSpec("numpy-npy", detect_npy, read_npy, (".npy",), "NumPy array file"))
register(FormatSpec("numpy-npz", detect_npz, read_npz, (".npz",), "zip of NumPy arrays"))
