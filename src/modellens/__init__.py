"""modellens: what is in a model file, is it safe, and what does it need — from its headers.

    >>> import modellens
    >>> info = modellens.inspect("path/to/model")      # a file or a folder
    >>> info.parameters, info.tensor_type, info.format, info.layout
    >>> info.to_dict()                                  # the modellens.inspect/1 JSON

Nothing here executes code from a model file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core.errors import (
    CorruptFileError,
    LimitExceededError,
    MissingDependencyError,
    ModelLensError,
    NotFoundError,
    UnsafeError,
    UnsupportedFormatError,
)

if TYPE_CHECKING:  # pragma: no cover
    from .core.model import FileInfo, ModelInfo, TensorInfo
    from .names import NameInfo

__version__ = "0.1.0"

__all__ = [
    "inspect",
    "parse_name",
    "convert",
    "ModelInfo",
    "TensorInfo",
    "FileInfo",
    "ModelLensError",
    "NotFoundError",
    "UnsupportedFormatError",
    "CorruptFileError",
    "LimitExceededError",
    "UnsafeError",
    "MissingDependencyError",
    "__version__",
]


def inspect(path: str) -> ModelInfo:
    """The index of a model file or folder, read from headers only (no weights, no code)."""
    from .layouts import read_path

    return read_path(path)


def parse_name(name: str) -> "NameInfo":
    """What a model name says: family, sizes, variant, quantization, release …"""
    from .names import parse_name as _parse

    return _parse(name)


def __getattr__(name: str):  # noqa: ANN202
    # Imported on first use so ``import modellens`` (and every command that does not need them,
    # like ``scan``) stays cheap.  ``modellens.convert(src, dst, **options)``: the convert
    # package is callable.
    import importlib

    if name == "convert":
        return importlib.import_module(".convert", __name__)
    if name in ("ModelInfo", "TensorInfo", "FileInfo"):
        return getattr(importlib.import_module(".core.model", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
