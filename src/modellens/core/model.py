"""What a reader produces: an index of tensors plus metadata, built from headers only.

``TensorInfo`` is one entry of the index (where the bytes are, not the bytes); ``ModelInfo`` is
the whole answer for a file or folder.  Both are frozen; derived numbers (parameters, dtypes,
tensor type string) are computed once.  ``ModelInfo.to_dict()`` *is* the ``modellens.inspect/1``
JSON contract (docs/schema/inspect.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

__all__ = ["TensorInfo", "FileInfo", "ModelInfo", "SCHEMA_INSPECT", "format_count"]

SCHEMA_INSPECT = "modellens.inspect/1"


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor of the index.

    ``shape`` is the logical shape (what the framework calls the tensor's shape);
    ``stored_shape`` is set only where the stored element grid differs (packed int4 …).
    ``offset``/``nbytes`` locate the data in ``file`` (absolute byte offset) when the format
    stores it contiguously; ``storage``/``storage_offset``/``strides`` describe views of a
    shared storage (PyTorch).  ``alias_of`` names the earlier tensor this one is the same
    view of (tied weights): such a tensor counts no parameters.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    offset: int | None = None
    nbytes: int = 0
    file: str | None = None
    stored_shape: tuple[int, ...] | None = None
    storage: str | None = None
    storage_offset: int = 0
    strides: tuple[int, ...] | None = None
    alias_of: str | None = None
    logical_parameters: int | None = None  # set by quantization readers where packing differs

    @property
    def parameters(self) -> int:
        if self.logical_parameters is not None:
            return self.logical_parameters
        return math.prod(self.shape)

    @property
    def stored_elements(self) -> int:
        return math.prod(self.stored_shape if self.stored_shape is not None else self.shape)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "parameters": 0 if self.alias_of else self.parameters,
            "size_bytes": self.nbytes,
            "file": self.file,
            "offset": self.offset,
        }
        if self.stored_shape is not None:
            d["stored_shape"] = list(self.stored_shape)
        if self.storage is not None:
            d["storage"] = self.storage
            d["storage_offset"] = self.storage_offset
        if self.strides is not None:
            d["strides"] = list(self.strides)
        if self.alias_of is not None:
            d["alias_of"] = self.alias_of
        return d


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    format: str | None
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "size_bytes": self.size_bytes}


@dataclass(frozen=True)
class ModelInfo:
    """The answer for one file or folder.

    ``components`` holds the parts of a composite (a diffusers pipeline, or a folder of
    unrelated model files); their tensors are also in ``tensors`` so totals are plain sums.
    """

    source: str
    format: str | None
    layout: str | None = None
    files: tuple[FileInfo, ...] = ()
    tensors: tuple[TensorInfo, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    architecture: dict[str, Any] | None = None
    quantization: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    components: tuple["ModelInfo", ...] = ()
    component_names: tuple[str, ...] = ()
    # Graph formats (ONNX, TFLite, OpenVINO IR, Core ML, TensorRT): inputs, outputs, operator
    # histogram, opsets (docs/schema/inspect.md, ``graph``).  None for weight-only formats.
    graph: dict[str, Any] | None = None

    @cached_property
    def parameters(self) -> int:
        """Logical parameters, each shared storage view counted once."""
        return sum(t.parameters for t in self.tensors if t.alias_of is None)

    @cached_property
    def stored_elements(self) -> int:
        return sum(t.stored_elements for t in self.tensors if t.alias_of is None)

    @cached_property
    def size_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    @cached_property
    def dtypes(self) -> dict[str, int]:
        """Parameters per dtype, largest share first."""
        acc: dict[str, int] = {}
        for t in self.tensors:
            if t.alias_of is None:
                acc[t.dtype] = acc.get(t.dtype, 0) + t.parameters
        # dtypes that only hold bookkeeping (quantization scales …) carry no parameters
        return dict(sorted(((k, v) for k, v in acc.items() if v), key=lambda kv: (-kv[1], kv[0])))

    @cached_property
    def tensor_type(self) -> str:
        """``BF16·I32·F32``: the dtypes joined by their share of parameters, largest first."""
        return "·".join(self.dtypes)

    @cached_property
    def groups(self) -> dict[str, int]:
        """Parameters per top-level name component (``model``, ``optimizer``, ``lm_head`` …):
        in a training checkpoint this separates the weights from the optimizer's state."""
        acc: dict[str, int] = {}
        for t in self.tensors:
            if t.alias_of is None:
                head = t.name.split(".", 1)[0]
                acc[head] = acc.get(head, 0) + t.parameters
        return acc

    @cached_property
    def aliases(self) -> dict[str, str]:
        """Tensors that are the same storage view as an earlier one: name -> original."""
        return {t.name: t.alias_of for t in self.tensors if t.alias_of is not None}

    def to_dict(self, *, tensors: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schema": SCHEMA_INSPECT,
            "source": self.source,
            "format": self.format,
            "layout": self.layout,
            "files": [f.to_dict() for f in self.files],
            "parameters": self.parameters,
            "stored_elements": self.stored_elements,
            "size_bytes": self.size_bytes,
            "dtypes": self.dtypes,
            "tensor_type": self.tensor_type,
            "tensor_count": len(self.tensors),
            "quantization": self.quantization,
            "architecture": self.architecture,
            "metadata": self.metadata,
            "shared_tensors": self.aliases,
            "parameter_groups": self.groups if len(self.groups) <= 64 else {},
            "warnings": list(self.warnings),
        }
        if self.graph is not None:
            d["graph"] = self.graph
        if self.components:
            d["components"] = [
                {"name": name, **_summary(c)}
                for name, c in zip(self.component_names, self.components)
            ]
        d["tensors"] = [t.to_dict() for t in self.tensors] if tensors else []
        return d


def _summary(info: ModelInfo) -> dict[str, Any]:
    return {
        "format": info.format,
        "layout": info.layout,
        "parameters": info.parameters,
        "size_bytes": info.size_bytes,
        "dtypes": info.dtypes,
        "tensor_type": info.tensor_type,
        "architecture": info.architecture,
        "quantization": info.quantization,
    }


def format_count(n: int | float) -> str:
    """8030261248 -> '8.03B'; 124439808 -> '124M'; 5000 -> '5.0K'."""
    n = float(n)
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            v = n / div
            digits = 2 if v < 10 else 1 if v < 100 else 0
            return f"{v:.{digits}f}{suffix}"
    return str(int(n))
