"""Convert a model to another format in bounded memory, never executing the source.

    >>> import modellens
    >>> report = modellens.convert("pytorch_model.bin", "model.safetensors", verify=True)
    >>> report.tensors, report.bytes, report.aliases_dropped, report.verified

Sources: safetensors, pytorch-zip / pytorch-legacy / torchscript (static pickle walk, raw
storages), pickle / joblib arrays, numpy npy / npz, GGUF (dequantized), Flax msgpack, Keras
HDF5, ONNX initializers, Hugging Face folders.  Targets: safetensors (single, sharded, or a whole
Hugging Face folder), numpy npz, Flax msgpack.  See docs/convert.md.
"""

from __future__ import annotations

from .api import SCHEMA_CONVERT, TARGETS, ConvertReport, convert
from .verify import Verification, VerificationError

__all__ = ["convert", "ConvertReport", "Verification", "VerificationError", "SCHEMA_CONVERT",
           "TARGETS"]


class _CallableModule(__import__("types").ModuleType):
    """``modellens.convert`` is this package *and* the function: ``modellens.convert(src, dst)``."""

    def __call__(self, src, dst, **options):  # noqa: ANN001, ANN204
        return convert(src, dst, **options)


__import__("sys").modules[__name__].__class__ = _CallableModule
