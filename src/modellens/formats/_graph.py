"""Helpers shared by the graph formats (ONNX, TFLite, OpenVINO IR, Core ML, TensorRT).

The ``graph`` object of ``modellens.inspect/1`` (docs/schema/inspect.md)::

    {"inputs":  [{"name": str, "dtype": str, "shape": [int | str | null, ...] | null}],
     "outputs": [...],
     "operators": {"Conv": 12, ...},          most used first
     "opsets": {"ai.onnx": 17, ...},          domain -> version (int or string)
     "node_count": int, ...}                  format-specific extras
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from ..core import dtypes
from ..core.io import ByteSource, LocalTree, Tree

__all__ = ["io_entry", "graph_dict", "sibling_tree", "safe_relative", "nbytes_of", "low_bits",
           "GRAPH_FORMATS", "holds_parameters"]

GRAPH_FORMATS = ("onnx", "tflite", "openvino-ir", "coreml", "coreml-package", "tensorrt")

Dim = int | str | None


def io_entry(name: str, dtype: str | None, shape: Iterable[Dim] | None, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "dtype": dtype, "shape": None if shape is None else list(shape)}
    d.update({k: v for k, v in extra.items() if v is not None})
    return d


def graph_dict(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], operators: Counter,
               opsets: dict[str, Any], **extra: Any) -> dict[str, Any]:
    ops = dict(sorted(operators.items(), key=lambda kv: (-kv[1], kv[0])))
    d: dict[str, Any] = {"inputs": inputs, "outputs": outputs, "operators": ops, "opsets": opsets,
                         "node_count": sum(operators.values())}
    d.update({k: v for k, v in extra.items() if v is not None})
    return d


def sibling_tree(src: ByteSource) -> Tree | None:
    """The local folder holding ``src`` (for external data / weight files next to a graph), or
    None when the source is not a local file.  Only sizes are looked at through it unless a
    reader needs a few header bytes of a sibling."""
    path = getattr(src, "path", None)
    if not isinstance(path, Path):
        return None
    return LocalTree(path.parent)


def safe_relative(location: str) -> str | None:
    """``location`` as a '/'-separated path inside the model's folder, or None if it points
    elsewhere (absolute, drive letter, ``..``): a model file must not make a reader look at
    arbitrary files (ONNX's own loader refuses these too)."""
    if not location or "\x00" in location:
        return None
    loc = location.replace("\\", "/")
    p = PurePosixPath(loc)
    if p.is_absolute() or (len(loc) > 1 and loc[1] == ":") or any(part == ".." for part in p.parts):
        return None
    parts = [x for x in p.parts if x not in (".", "")]
    return "/".join(parts) or None


_EXTRA_BITS = {"I2": 2, "U2": 2, "U1": 1, "U3": 3, "U6": 6, "NF4": 4}


def bits_of(dtype: str) -> int | None:
    dt = dtypes.find(dtype)
    if dt is not None and dt.bits is not None:
        return dt.bits
    return _EXTRA_BITS.get(dtype)


def nbytes_of(dtype: str, elements: int) -> int | None:
    """Bytes of ``elements`` values of ``dtype`` (sub-byte types packed), None if unknown."""
    b = bits_of(dtype)
    return None if b is None else (elements * b + 7) // 8


def low_bits(dtype: str) -> bool:
    """A storage type that only quantized weights use (int8 and narrower, float8 and narrower)."""
    b = bits_of(dtype)
    return b is not None and b <= 8 and dtype != "BOOL"


_NOT_PARAMETERS = {"I16", "U16", "I32", "U32", "I64", "U64", "BOOL", "STRING"}


def holds_parameters(dtype: str) -> bool:
    """Whether a constant of this dtype is a weight.  Float and low-bit (quantized) constants
    are; wider integer constants are shapes, axes, indices and strides that exporters store as
    constants, and counting them would make a graph disagree with its framework's parameter
    count (``sum(p.numel())``, Keras' ``count_params()``).  Readers keep integer constants that
    a quantized operator reads as its bias (TFLite, QLinearConv) as parameters."""
    return dtype not in _NOT_PARAMETERS


def path_join(base: str, rel: str) -> str:
    return os.path.join(os.path.dirname(base), rel) if base else rel


def quant_report(tensors: Iterable[Any], *, method: str, bits: int | None, variant: str,
                 quantized: int, weight_dtypes: Counter | dict[str, int], evidence: list[str],
                 group: int | None = None, overhead: int = 0, **extra: Any) -> dict[str, Any]:
    """The ``quantization`` object of a graph format, with the fields a quantized checkpoint's
    report has (``quant.py``): parameter split, overhead bytes, effective bits per weight."""
    tensors = [t for t in tensors if getattr(t, "alias_of", None) is None]
    total = sum(t.parameters for t in tensors)
    total_bytes = sum(t.nbytes for t in tensors)
    wd = weight_dtypes if isinstance(weight_dtypes, Counter) else Counter(weight_dtypes)
    return {
        "method": method,
        "bits": bits,
        "group_size": group,
        "format_variant": variant,
        "quantized_parameters": quantized,
        "unquantized_parameters": total - quantized,
        "overhead_bytes": overhead,
        "effective_bits_per_weight": round(total_bytes * 8 / total, 3) if total else None,
        "weight_dtypes": dict(wd.most_common()),
        **extra,
        "evidence": evidence,
    }
