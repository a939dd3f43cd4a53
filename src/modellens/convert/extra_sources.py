"""Sources without an inspect reader of their own yet: Flax msgpack, Keras HDF5, ONNX.

* Flax msgpack (``*.msgpack``): walked statically (:mod:`.flax_msgpack`); arrays are views over
  the mapped file.
* Keras HDF5 (``*.h5``, ``*.weights.h5``; ``h5py``): every dataset of the weight groups, named by
  its path with dots (``model_weights/dense/dense/kernel:0`` -> ``dense.dense.kernel``;
  Keras 3 ``layers/dense/vars/0`` -> ``layers.dense.vars.0``).  A contiguous, unfiltered dataset
  is a view over the mapped file; a chunked or compressed one is read by h5py, one at a time.
  HDF5 holds no code; the model config stored beside the weights is never deserialized.
* ONNX (``*.onnx``; ``onnx``): the graph's initializers.  External data is a view over its
  file; data embedded in the protobuf is decoded per tensor by ``onnx.numpy_helper`` (the
  protobuf itself, at most 2 GB, is held while converting).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..core import dtypes
from ..core.errors import MissingDependencyError, UnsupportedFormatError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .source import Source

__all__ = ["open_extra", "open_flax", "open_keras", "open_onnx"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def open_extra(path: Path) -> "Source | None":
    """A Source for the formats above, or None for everything else."""
    if not path.is_file():
        return None
    name = path.name.lower()
    with open(path, "rb") as fh:
        head = fh.read(16)
    from .flax_msgpack import looks_like_msgpack

    if name.endswith(".msgpack") and looks_like_msgpack(head):
        return open_flax(path)
    if head.startswith(_HDF5_MAGIC):
        return open_keras(path)
    if name.endswith(".onnx"):
        return open_onnx(path)
    return None


def _view_reader(f: Any, offset: int, n: int, dtype: str, shape: tuple[int, ...],
                 fortran: bool = False) -> Callable[[], "np.ndarray"]:
    def read() -> "np.ndarray":
        import numpy as np

        npdt = dtypes.get(dtype).numpy()
        if n == 0:
            return np.zeros(shape, npdt)
        a = np.ndarray(shape, npdt, buffer=f.view(offset, n), order="F" if fortran else "C")
        return a

    return read


def open_flax(path: Path) -> "Source":
    import numpy as np

    from .flax_msgpack import read_arrays
    from .source import Source, SourceTensor

    src = Source(path, "flax-msgpack", None, [])
    f = src.file(str(path))
    arrays, _ = read_arrays(f)
    for a in arrays:
        if len(a.pieces) == 1:
            off, n = a.pieces[0]
            src.tensors.append(SourceTensor(
                a.name, a.dtype, a.shape, _view_reader(f, off, n, a.dtype, a.shape),
                raw=(f, off), release=lambda f=f, off=off, n=n: f.release(off, n)))
        else:
            def read(a=a) -> "np.ndarray":
                npdt = dtypes.get(a.dtype).numpy()
                parts = [np.ndarray((n // npdt.itemsize,), npdt, buffer=f.view(off, n))
                         for off, n in a.pieces]
                return np.concatenate(parts).reshape(a.shape)

            src.tensors.append(SourceTensor(a.name, a.dtype, a.shape, read))
    return src


def _keras_name(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "model_weights":
        parts = parts[1:]
    if parts and parts[-1].endswith(":0"):
        parts[-1] = parts[-1][:-2]
    return ".".join(parts)


def open_keras(path: Path) -> "Source":
    try:
        import h5py
    except ImportError as e:
        raise MissingDependencyError("h5py", "keras", "Reading Keras HDF5 files") from e
    import numpy as np

    from .source import Source, SourceTensor

    src = Source(path, "keras-h5", None, [])
    h5 = h5py.File(path, "r")
    src._closers.append(h5.close)
    f = src.file(str(path))
    found: list[tuple[str, Any]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            found.append((name, obj))

    root = h5["model_weights"] if "model_weights" in h5 else h5
    prefix = "model_weights/" if root is not h5 else ""
    root.visititems(visit)
    if not found:
        raise UnsupportedFormatError(f"{path}: an HDF5 file without weight datasets")
    for name, ds in found:
        if prefix == "" and name.split("/")[0] in ("optimizer_weights",):
            continue
        npdt = ds.dtype
        dt = dtypes.from_numpy(npdt.str)
        swap = False
        if dt is None and npdt.byteorder == ">":
            dt, swap = dtypes.from_numpy(npdt.newbyteorder("<").str), True
        if dt is None:
            src.warnings.append(f"{name}: dtype {npdt} is not a tensor type; skipped")
            continue
        shape = tuple(int(d) for d in ds.shape)
        tname = _keras_name(prefix + name)
        offset = ds.id.get_offset()
        n = dt.nbytes(math.prod(shape)) or 0
        plain = (offset is not None and ds.chunks is None and not swap
                 and ds.compression is None and not ds.is_virtual)
        if plain:
            src.tensors.append(SourceTensor(
                tname, dt.name, shape, _view_reader(f, offset, n, dt.name, shape),
                raw=(f, offset), release=lambda off=offset, n=n: f.release(off, n)))
        else:
            def read(ds=ds, swap=swap) -> "np.ndarray":
                a = np.asarray(ds[()])
                return a.astype(a.dtype.newbyteorder("<")) if swap else a

            src.tensors.append(SourceTensor(tname, dt.name, shape, read))
    return src


def open_onnx(path: Path) -> "Source":
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as e:
        raise MissingDependencyError("onnx", "onnx", "Reading ONNX files") from e
    from .source import Source, SourceTensor

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
        from ..core.errors import CorruptFileError

        raise CorruptFileError(str(path), f"not a readable ONNX protobuf ({e})") from e
    src = Source(path, "onnx", None, [])
    base = path.parent
    graph_inits = list(model.graph.initializer)
    for t in graph_inits:
        npdt = onnx.helper.tensor_dtype_to_np_dtype(t.data_type)
        dt = dtypes.from_numpy(npdt.str) or dtypes.find(getattr(npdt, "name", ""))
        if dt is None:
            src.warnings.append(f"initializer {t.name!r}: ONNX type {t.data_type} skipped")
            continue
        shape = tuple(int(d) for d in t.dims)
        if t.data_location == onnx.TensorProto.EXTERNAL:
            info = {e.key: e.value for e in t.external_data}
            loc = info.get("location", "")
            ext = (base / loc).resolve()
            if base.resolve() not in ext.parents:
                raise UnsupportedFormatError(f"{path}: initializer {t.name!r} points outside "
                                             f"the model's folder ({loc!r})")
            f = src.file(str(ext))
            off = int(info.get("offset", 0))
            n = dt.nbytes(math.prod(shape)) or 0
            src.tensors.append(SourceTensor(
                t.name, dt.name, shape, _view_reader(f, off, n, dt.name, shape), raw=(f, off),
                release=lambda f=f, off=off, n=n: f.release(off, n)))
        else:
            src.tensors.append(SourceTensor(t.name, dt.name, shape,
                                            lambda t=t: numpy_helper.to_array(t)))
    if not src.tensors:
        raise UnsupportedFormatError(f"{path}: an ONNX model without initializers")
    return src
