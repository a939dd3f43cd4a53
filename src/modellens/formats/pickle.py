"""Raw pickles (``pickle.dump``) and ``joblib.dump`` files, read without unpickling.

pickle: one pickle stream (``[PROTO n] [FRAME len] opcodes … STOP``), possibly followed by more
(``pickle.dump`` called again on the same file; ``pickle.load`` reads only the first).
numpy arrays inside appear as

    numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')  + BUILD (1, shape, dtype, fortran, raw)
    numpy.core.numeric._frombuffer(raw, dtype, shape, order)           (protocol 5)
    dtype = numpy.dtype('f8', False, True) + BUILD (3, '<', …)         (numpy 2: numpy._core.*)

joblib (https://joblib.readthedocs.io/en/stable/persistence.html): a pickle in which each array
is a ``joblib.numpy_pickle.NumpyArrayWrapper`` object (state: shape, order, dtype,
``numpy_array_alignment_bytes``); right after its BUILD opcode the array's raw bytes follow in
the file (after one padding-length byte and that many padding bytes when aligned), outside any
pickle frame; object arrays are a nested pickle instead.  ``compress=`` wraps the whole stream in
zlib, gzip, bz2, lzma or xz; it is inflated in memory up to ``LIMITS.max_decompressed_bytes``.

The pickle is walked by ``core.pickle_vm`` (nothing imported or called); arrays whose bytes lie
verbatim in the file are listed as tensors with their offset, and their elements count as
parameters.  Other globals are listed in ``metadata["globals"]``; ``modellens scan`` judges them.
"""

from __future__ import annotations

import bz2
import lzma
import math
import zlib
from typing import Any

from ..core import dtypes
from ..core.errors import CorruptFileError, LimitExceededError
from ..core.io import LIMITS, ByteSource
from ..core.model import FileInfo, ModelInfo, TensorInfo
from ..core.pickle_tree import children, flatten, state_dict_of, summarize
from ..core.pickle_vm import Blob, Call, Global, HookResult, OutOfBand, walk, walk_stream
from . import FormatSpec, Probe, register

__all__ = ["detect_pickle", "detect_joblib", "read_pickle", "read_joblib", "joblib_hook",
           "compression_of", "decompress"]

MAX_METADATA_ENTRIES = 256
_WRAPPERS = {("joblib.numpy_pickle", "NumpyArrayWrapper"),
             ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper")}
_NP = ("numpy.core", "numpy._core")
_RECONSTRUCT = {(f"{p}.multiarray", "_reconstruct") for p in _NP}
_FROMBUFFER = {(f"{p}.numeric", "_frombuffer") for p in _NP}
_ARRAY_FUNCS = _RECONSTRUCT | _FROMBUFFER | _WRAPPERS
_DTYPE_FUNCS = {("numpy", "dtype")} | {(f"{p}.multiarray", "dtype") for p in _NP}
_DATA_MODULES = ("numpy", "joblib", "collections", "builtins", "_codecs", "copyreg",
                 "sklearn.externals.joblib")

# -- compression ------------------------------------------------------------------------------


def compression_of(head: bytes) -> str | None:
    """The compressor joblib used, from the magic bytes, or None."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bz2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:3] == b"]\x00\x00":
        return "lzma"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    return None


def _decompressor(kind: str) -> Any:
    if kind == "zlib":
        return zlib.decompressobj()
    if kind == "gzip":
        return zlib.decompressobj(wbits=31)
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor()  # FORMAT_AUTO: xz and lzma-alone


def decompress(data: Any, kind: str, limit: int, name: str) -> bytes:
    """Inflate ``data`` (bytes-like), refusing more than ``limit`` bytes of output (a bomb)."""
    d = _decompressor(kind)
    out = bytearray()
    view = memoryview(data)
    chunk = 1 << 20
    is_zlib = kind in ("zlib", "gzip")

    def take(got: bytes) -> None:
        out.extend(got)
        if len(out) > limit:
            raise LimitExceededError(name, f"{kind} stream inflates beyond {limit} bytes "
                                     "(decompression bomb?)")

    try:
        for i in range(0, len(view), chunk):
            piece = bytes(view[i : i + chunk])
            if is_zlib:
                while piece and not d.eof:
                    take(d.decompress(piece, limit + 1 - len(out)))
                    piece = d.unconsumed_tail
            else:
                take(d.decompress(piece, limit + 1 - len(out)))
                while not d.eof and not d.needs_input:
                    take(d.decompress(b"", limit + 1 - len(out)))
            if d.eof:
                break
    except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as e:
        raise CorruptFileError(name, f"{kind} stream is corrupt ({e})") from None
    if not d.eof:
        raise CorruptFileError(name, f"{kind} stream is truncated")
    return bytes(out)


def _head_of(probe: Probe) -> tuple[bytes, str | None]:
    """The first bytes of the (decompressed) pickle stream, and the compression."""
    kind = compression_of(probe.head)
    if kind is None:
        return probe.head, None
    try:
        d = _decompressor(kind)
        return d.decompress(probe.head[:65536], 4096), kind
    except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError):
        return b"", kind


def _looks_like_pickle(head: bytes, name: str) -> bool:
    if len(head) < 2:
        return False
    if head[0] == 0x80:
        if head[1] > 5:
            return False
    elif head[0] not in b"(]}cl)NIKJFSVXUTdptC":
        return False
    r = walk(head, name=name, strict=False, end=min(len(head), 4096),
             on_build=joblib_hook(name, lenient=True))
    return r.ok or (r.error is not None and "truncated" in r.error.message)


# -- detection --------------------------------------------------------------------------------

def detect_pickle(probe: Probe) -> int:
    head, kind = _head_of(probe)
    if kind is not None or not _looks_like_pickle(head, probe.name):
        return 0
    if head[0] == 0x80:
        return 60
    return 40 if probe.suffix in (".pkl", ".pickle", ".joblib", ".pk") else 0


def detect_joblib(probe: Probe) -> int:
    head, kind = _head_of(probe)
    if not _looks_like_pickle(head, probe.name):
        return 0
    if kind is not None:
        return 80
    if b"NumpyArrayWrapper" in head:
        return 90
    return 65 if probe.suffix in (".joblib", ".jbl") else 0


# -- numpy arrays -----------------------------------------------------------------------------

def _key(g: Any) -> tuple[Any, Any]:
    return (g.module, g.name) if isinstance(g, Global) and not g.obfuscated else (None, None)


def _np_dtype(node: Any, allow_structured: bool = False) -> tuple[Any, str]:
    """(numpy dtype, its byte order char) of a pickled ``numpy.dtype``; raises ValueError.
    ``allow_structured``: a record dtype's ``V<n>`` descriptor still gives its item size (what
    joblib needs to skip such an array, e.g. a scikit-learn tree's ``nodes``)."""
    import numpy as np

    if not (isinstance(node, Call) and _key(node.func) in _DTYPE_FUNCS
            and type(node.args) is tuple and node.args):
        raise ValueError(f"dtype is {summarize(node, 80)!r}")
    descr = node.args[0]
    if type(descr) is bytes:
        descr = descr.decode("ascii")
    if type(descr) is not str or len(descr) > 32:
        raise ValueError(f"dtype descriptor {descr!r}")
    nd = np.dtype(descr)  # a type code: parsed, nothing imported or run
    state = node.state
    order = "|"
    if type(state) is tuple and len(state) > 1 and type(state[1]) in (str, bytes):
        order = state[1] if type(state[1]) is str else state[1].decode("ascii")
    if (nd.fields is not None or state_has_fields(state)) and not allow_structured:
        raise ValueError("structured dtype")
    return nd, order


def state_has_fields(state: Any) -> bool:
    return type(state) is tuple and len(state) > 4 and state[4] is not None


def _shape(v: Any) -> tuple[int, ...]:
    if type(v) is int:
        v = (v,)
    if type(v) not in (tuple, list) or len(v) > LIMITS.max_dims or not all(
            type(x) is int and x >= 0 for x in v):
        raise ValueError(f"shape {summarize(v, 80)!r}")
    return tuple(v)


def _array_parts(node: Call) -> tuple[tuple[int, ...], Any, str, bool, Any]:
    """(shape, numpy dtype, byte order, fortran, data) of an array node; ValueError if odd."""
    k = _key(node.func)
    if k in _RECONSTRUCT:
        st = node.state
        if type(st) is tuple and len(st) == 5:
            st = st[1:]
        if type(st) is not tuple or len(st) != 4:
            raise ValueError("ndarray state is not (shape, dtype, fortran, data)")
        shape, dt, fortran, data = st
        nd, order = _np_dtype(dt)
        return _shape(shape), nd, order, bool(fortran), data
    if k in _FROMBUFFER:
        a = node.args
        if type(a) is not tuple or len(a) != 4:
            raise ValueError("_frombuffer arguments are not (buffer, dtype, shape, order)")
        nd, order = _np_dtype(a[1])
        return _shape(a[2]), nd, order, a[3] == "F", a[0]
    st = state_dict_of(node) or {}
    nd, order = _np_dtype(st.get("dtype"))
    return _shape(st.get("shape")), nd, order, st.get("order") == "F", node.data


def joblib_hook(name: str, lenient: bool = False) -> Any:
    """A ``pickle_vm`` build hook that skips the raw array bytes joblib writes after each
    ``NumpyArrayWrapper`` (scanners need it too, or they would read array bytes as opcodes)."""

    def hook(obj: Any, pos: int, data: Any) -> HookResult | None:
        if type(obj) is not Call or _key(obj.func) not in _WRAPPERS:
            return None
        size = len(data)
        try:
            st = state_dict_of(obj) or {}
            shape = _shape(st.get("shape"))
            nd, _ = _np_dtype(st.get("dtype"), allow_structured=True)
        except (ValueError, TypeError) as e:
            if lenient:
                return None
            raise CorruptFileError(name, f"joblib array wrapper: {e}", pos) from None
        if nd.hasobject:  # joblib pickles object arrays as a nested pickle
            r = walk(data, name=name, start=pos, strict=not lenient)
            obj.data = r.value
            return HookResult(obj, r.end if r.ok else pos, tuple(r.events))
        if st.get("numpy_array_alignment_bytes") is not None:
            if pos >= size:
                if lenient:  # the walk reports the truncation
                    return HookResult(obj, pos + 1)
                raise CorruptFileError(name, "joblib array padding is missing", pos)
            pos += 1 + data[pos]
        n = math.prod(shape) * nd.itemsize
        if pos + n > size:
            if lenient:
                return HookResult(obj, pos + n)
            raise CorruptFileError(name, f"joblib array {list(shape)} {nd.str} needs {n} bytes "
                                   f"but {max(0, size - pos)} are left", pos)
        obj.data = Blob(pos, n, "bytes", data)
        return HookResult(obj, pos + n)

    return hook


def _is_array(node: Any) -> bool:
    return type(node) is Call and _key(node.func) in _ARRAY_FUNCS


def _tensor(name: str, node: Call, file: str, raw_offsets: bool,
            warnings: list[str], skipped: dict[str, int]) -> TensorInfo | None:
    try:
        shape, nd, order, fortran, data = _array_parts(node)
    except (ValueError, TypeError) as e:
        skipped[str(e)[:60]] = skipped.get(str(e)[:60], 0) + 1
        return None
    if nd.hasobject:
        skipped["object arrays"] = skipped.get("object arrays", 0) + 1
        return None
    if order == ">" and nd.itemsize > 1:
        skipped["big-endian arrays"] = skipped.get("big-endian arrays", 0) + 1
        return None
    dt = dtypes.from_numpy(nd.newbyteorder("<").str if nd.itemsize > 1 else nd.str)
    if dt is None:
        skipped[f"dtype {nd.str}"] = skipped.get(f"dtype {nd.str}", 0) + 1
        return None
    nbytes = math.prod(shape) * nd.itemsize
    if type(data) is str:  # Python 2 pickles carry raw bytes as latin-1 text
        data = data.encode("latin-1")
    if isinstance(data, (bytes, bytearray, Blob)) and len(data) != nbytes:
        raise CorruptFileError(file, f"array {name!r}: {list(shape)} {nd.str} needs {nbytes} "
                               f"bytes but the pickle holds {len(data)}",
                               data.offset if isinstance(data, Blob) else None)
    if not isinstance(data, (bytes, bytearray, Blob, OutOfBand)):
        skipped["arrays without raw data"] = skipped.get("arrays without raw data", 0) + 1
        return None
    offset = data.offset if isinstance(data, Blob) and raw_offsets else None
    strides = None
    if fortran and len(shape) > 1:
        acc, s = 1, []
        for n in shape:
            s.append(acc)
            acc *= n
        strides = tuple(s)
    return TensorInfo(name=name, dtype=dt.name, shape=shape, offset=offset, nbytes=nbytes,
                      file=file, strides=strides)


# -- reading ----------------------------------------------------------------------------------

def _read(src: ByteSource, probe: Probe | None, fmt: str) -> ModelInfo:
    head = src.read(0, min(src.size, 16))
    kind = compression_of(head)
    warnings: list[str] = []
    if kind is not None:
        data: Any = decompress(src.view(0, src.size), kind, LIMITS.max_decompressed_bytes,
                               src.name)
    else:
        data = src.view(0, src.size)
    if not len(data):
        raise CorruptFileError(src.name, "empty pickle stream")
    results = walk_stream(data, name=src.name, encoding="bytes", blob_min=1,
                          on_build=joblib_hook(src.name), max_pickles=64)
    first = results[0]
    extra = results[1:]
    if extra:
        bad = [r for r in extra if not r.ok]
        good = [r for r in extra if r.ok]
        if good:
            warnings.append(f"the file holds {1 + len(good)} pickles; pickle.load reads only the "
                            "first (the others' globals are listed too)")
        if bad:
            warnings.append(f"{len(data) - bad[0].start} bytes after the pickle are not a pickle "
                            f"({bad[0].error.message if bad[0].error else ''})")
    flat = flatten(first.value, _is_array, max_visits=LIMITS.max_pickle_ops,
                   max_depth=LIMITS.max_pickle_depth)
    tensors: list[TensorInfo] = []
    skipped: dict[str, int] = {}
    for path, node in flat.tensors:
        t = _tensor(path or "array", node, src.name, kind is None, warnings, skipped)
        if t is not None:
            tensors.append(t)
    if skipped:
        warnings.append("arrays not listed: " + ", ".join(f"{k} ×{n}" for k, n in skipped.items()))
    if flat.truncated:
        warnings.append("the pickled object graph is too large or cyclic to name every array")
    metadata: dict[str, Any] = {"pickle_protocol": first.protocol}
    if kind is not None:
        metadata["compression"] = kind
        metadata["decompressed_bytes"] = len(data)
    names = sorted({n for r in results for n in r.global_names()})
    metadata["globals"] = names
    odd = [n for n in names if not n.startswith(_DATA_MODULES)]
    if odd:
        shown = ", ".join(odd[:8]) + (" …" if len(odd) > 8 else "")
        warnings.append(f"the pickle references {len(odd)} globals beyond plain data and numpy "
                        f"({shown}); they were not executed — run 'modellens scan' before loading")
    if any(n.startswith(_SKLEARN) for n in names):
        summary = sklearn_summary(first.value, tensors)
        if summary:
            metadata["estimator"] = summary.pop("description")
            metadata["sklearn"] = summary
    for path, node in flat.plain:
        if len(metadata) >= MAX_METADATA_ENTRIES:
            metadata["…"] = "more values not shown"
            break
        metadata.setdefault(path or "value", summarize(node, LIMITS.max_metadata_value_chars))
    return ModelInfo(source=src.name, format=fmt, files=(FileInfo(src.name, fmt, src.size),),
                     tensors=tuple(tensors), metadata=metadata, warnings=tuple(warnings))


# -- scikit-learn ---------------------------------------------------------------------------------

_SKLEARN = "sklearn."
_MAX_ESTIMATORS = 256


def sklearn_summary(root: Any, tensors: list[TensorInfo]) -> dict[str, Any] | None:
    """The estimators of a pickled scikit-learn object, found in the symbolic tree (nothing
    imported): each estimator's class, where it sits (the tensor-name prefix), whether it is
    fitted (has ``attr_`` attributes), and the arrays and parameters it holds directly."""
    found: list[tuple[str, str, Any]] = []
    seen: set[int] = set()
    queue: list[tuple[Any, str]] = [(root, "")]
    visits = 0
    while queue and visits < 200_000:
        node, path = queue.pop(0)
        visits += 1
        if id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is Call and isinstance(node.func, Global) and not node.func.obfuscated \
                and str(node.func.module).startswith(_SKLEARN):
            found.append((path, node.func.qualname, node))
        for k, v in children(node) or []:
            queue.append((v, f"{path}.{k}" if path else k))
    if not found:
        return None
    estimators = []
    for path, cls, node in found:
        state = state_dict_of(node) or {}
        fitted = any(type(k) is str and k.endswith("_") and not k.startswith("_") for k in state)
        estimators.append({"path": path, "class": cls, "fitted": fitted, "arrays": 0, "parameters": 0})
    by_len = sorted(range(len(found)), key=lambda i: -len(found[i][0]))
    for t in tensors:
        for i in by_len:
            p = found[i][0]
            if not p or t.name.startswith(p + "."):
                estimators[i]["arrays"] += 1
                estimators[i]["parameters"] += t.parameters
                break
    classes: dict[str, int] = {}
    for e in estimators:
        short = e["class"].rsplit(".", 1)[-1]
        classes[short] = classes.get(short, 0) + 1
    top = estimators[0] if not found[0][0] else None
    state = state_dict_of(found[0][2]) or {}
    out: dict[str, Any] = {
        "estimator": found[0][1] if top else None,
        "sklearn_version": state.get("_sklearn_version") if top else None,
        "classes": classes,
        "estimators": estimators[:_MAX_ESTIMATORS],
    }
    steps = state.get("steps") if top else None
    if type(steps) in (list, tuple) and all(type(s) in (list, tuple) and len(s) >= 2 for s in steps):
        out["steps"] = [[str(s[0]), s[1].func.qualname if type(s[1]) is Call and
                         isinstance(s[1].func, Global) else summarize(s[1], 80)] for s in steps]
        names = " → ".join(str(x[1]).rsplit(".", 1)[-1] for x in out["steps"])
        out["description"] = f"{found[0][1].rsplit('.', 1)[-1]}({names})"
    else:
        parts = ", ".join(f"{c} ×{n}" if n > 1 else c for c, n in list(classes.items())[:6])
        out["description"] = parts + (" …" if len(classes) > 6 else "")
    if len(estimators) > _MAX_ESTIMATORS:
        out["estimators_not_shown"] = len(estimators) - _MAX_ESTIMATORS
    return out


def read_pickle(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    return _read(src, probe, "pickle")


def read_joblib(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    return _read(src, probe, "joblib")


register(FormatSpec(id="pickle", detect=detect_pickle, read=read_pickle,
                    extensions=(".pkl", ".pickle", ".pk"),
                    description="Python pickle: walked statically, never unpickled"))
register(FormatSpec(id="joblib", detect=detect_joblib, read=read_joblib,
                    extensions=(".joblib", ".jbl", ".pkl"),
                    description="joblib.dump: pickle with raw numpy arrays, optionally compressed"))
