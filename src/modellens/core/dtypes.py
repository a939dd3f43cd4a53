"""One registry of tensor element types.

Names follow safetensors (``F64 F32 F16 BF16 F8_E4M3 F8_E5M2 I64 … BOOL``) for plain types and
GGML's own names (``Q4_0 Q4_K IQ4_XS …``) for GGUF block types.  Each :class:`DType` knows its
storage cost (bits per element, or ``block_size`` elements in ``type_size`` bytes), its numpy /
ml_dtypes type and the codes other formats use for it (torch storage and dtype names, the GGML
type id, the numpy dtype name).

The GGML block types are *not* retyped here: they are taken from the ``gguf`` package's
``GGMLQuantizationType`` and ``GGML_QUANT_SIZES`` the first time one is asked for (importing
``gguf`` costs ~0.1 s, which a safetensors inspection should not pay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "DType",
    "get",
    "find",
    "all_dtypes",
    "from_ggml",
    "from_torch",
    "from_numpy",
    "nbytes_for",
]


@dataclass(frozen=True)
class DType:
    """An element type and what it costs to store."""

    name: str
    kind: str  # "float", "int", "uint", "bool", "complex", "quant"
    bits: int | None = None  # bits per element for plain types
    numpy_name: str | None = None  # numpy or ml_dtypes name
    torch_dtype: str | None = None  # attribute of the torch module, e.g. "bfloat16"
    torch_storage: str | None = None  # legacy typed-storage class, e.g. "BFloat16Storage"
    ggml_type: int | None = None  # GGMLQuantizationType value
    block_size: int = 1  # elements per block (1 for plain types)
    type_size: int | None = None  # bytes per block for block types

    @property
    def is_block(self) -> bool:
        return self.bits is None

    @property
    def bits_per_weight(self) -> float:
        if self.bits is not None:
            return float(self.bits)
        assert self.type_size is not None
        return self.type_size * 8 / self.block_size

    def nbytes(self, elements: int) -> int | None:
        """Bytes needed for ``elements`` values; None if they do not fill whole blocks."""
        if self.bits is not None:
            return (elements * self.bits + 7) // 8
        assert self.type_size is not None
        if elements % self.block_size:
            return None
        return elements // self.block_size * self.type_size

    def numpy(self) -> "np.dtype":
        """The numpy dtype (ml_dtypes for bfloat16 / float8 / float4); KeyError if none."""
        import numpy as np

        if self.numpy_name is None:
            raise KeyError(f"{self.name} has no numpy equivalent")
        try:
            return np.dtype(self.numpy_name)
        except TypeError:
            import ml_dtypes

            return np.dtype(getattr(ml_dtypes, self.numpy_name))


def _plain(name, kind, bits, numpy_name=None, torch_dtype=None, torch_storage=None) -> DType:
    return DType(name, kind, bits, numpy_name, torch_dtype, torch_storage)


# The plain types, in safetensors' spelling.  GGML shares F32/F16/BF16/I8/I16/I32/I64/F64 with
# these; their ggml ids are attached when gguf's table is merged in.
_PLAIN: tuple[DType, ...] = (
    _plain("F64", "float", 64, "float64", "float64", "DoubleStorage"),
    _plain("F32", "float", 32, "float32", "float32", "FloatStorage"),
    _plain("F16", "float", 16, "float16", "float16", "HalfStorage"),
    _plain("BF16", "float", 16, "bfloat16", "bfloat16", "BFloat16Storage"),
    _plain("F8_E4M3", "float", 8, "float8_e4m3fn", "float8_e4m3fn"),
    _plain("F8_E5M2", "float", 8, "float8_e5m2", "float8_e5m2"),
    _plain("F8_E4M3FNUZ", "float", 8, "float8_e4m3fnuz", "float8_e4m3fnuz"),
    _plain("F8_E5M2FNUZ", "float", 8, "float8_e5m2fnuz", "float8_e5m2fnuz"),
    _plain("F8_E8M0", "float", 8, "float8_e8m0fnu", "float8_e8m0fnu"),
    _plain("F6_E2M3", "float", 6, "float6_e2m3fn"),
    _plain("F6_E3M2", "float", 6, "float6_e3m2fn"),
    _plain("F4", "float", 4, "float4_e2m1fn", "float4_e2m1fn_x2"),
    _plain("C128", "complex", 128, "complex128", "complex128", "ComplexDoubleStorage"),
    _plain("C64", "complex", 64, "complex64", "complex64", "ComplexFloatStorage"),
    _plain("C32", "complex", 32, None, "complex32"),
    _plain("I64", "int", 64, "int64", "int64", "LongStorage"),
    _plain("I32", "int", 32, "int32", "int32", "IntStorage"),
    _plain("I16", "int", 16, "int16", "int16", "ShortStorage"),
    _plain("I8", "int", 8, "int8", "int8", "CharStorage"),
    _plain("I4", "int", 4, "int4"),
    _plain("U64", "uint", 64, "uint64", "uint64"),
    _plain("U32", "uint", 32, "uint32", "uint32"),
    _plain("U16", "uint", 16, "uint16", "uint16"),
    _plain("U8", "uint", 8, "uint8", "uint8", "ByteStorage"),
    _plain("U4", "uint", 4, "uint4"),
    _plain("BOOL", "bool", 8, "bool", "bool", "BoolStorage"),
    # torch's quantized storages (eager-mode quantization): one byte or int32 per element.
    _plain("QI8", "int", 8, None, "qint8", "QInt8Storage"),
    _plain("QU8", "uint", 8, None, "quint8", "QUInt8Storage"),
    _plain("QI32", "int", 32, None, "qint32", "QInt32Storage"),
    _plain("QU4X2", "uint", 8, None, "quint4x2", "QUInt4x2Storage"),
    _plain("QU2X4", "uint", 8, None, "quint2x4", "QUInt2x4Storage"),
)

# Other spellings people and formats use for the same types.
_ALIASES = {
    "DOUBLE": "F64", "FLOAT": "F32", "FLOAT32": "F32", "FP32": "F32", "HALF": "F16",
    "FLOAT16": "F16", "FP16": "F16", "BFLOAT16": "BF16", "FLOAT64": "F64", "FP64": "F64",
    "INT64": "I64", "INT32": "I32", "INT16": "I16", "INT8": "I8", "UINT8": "U8",
    "UINT16": "U16", "UINT32": "U32", "UINT64": "U64", "BOOLEAN": "BOOL",
    "F8_E4M3FN": "F8_E4M3", "FLOAT8_E4M3FN": "F8_E4M3", "FP8_E4M3": "F8_E4M3",
    "FLOAT8_E5M2": "F8_E5M2", "FP8_E5M2": "F8_E5M2", "F8_E8M0FNU": "F8_E8M0",
    "FLOAT8_E8M0FNU": "F8_E8M0", "COMPLEX64": "C64", "COMPLEX128": "C128",
}


class _Registry:
    def __init__(self) -> None:
        self.by_name: dict[str, DType] = {d.name: d for d in _PLAIN}
        self.by_ggml: dict[int, DType] = {}
        self.ggml_loaded = False

    def load_ggml(self) -> None:
        """Merge gguf's GGML type table in (once)."""
        if self.ggml_loaded:
            return
        from dataclasses import replace

        from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

        for qtype in GGMLQuantizationType:
            block_size, type_size = GGML_QUANT_SIZES[qtype]
            plain = self.by_name.get(qtype.name)
            if plain is not None and block_size == 1:
                dt = replace(plain, ggml_type=int(qtype))
            else:
                dt = DType(qtype.name, "quant", None, ggml_type=int(qtype),
                           block_size=block_size, type_size=type_size)
            self.by_name[dt.name] = dt
            self.by_ggml[int(qtype)] = dt
        self.ggml_loaded = True


_REG = _Registry()
_BY_TORCH: dict[str, DType] = {}
for _d in _PLAIN:
    if _d.torch_dtype:
        _BY_TORCH[_d.torch_dtype] = _d
    if _d.torch_storage:
        _BY_TORCH[_d.torch_storage] = _d
_BY_TORCH.update({"float": _REG.by_name["F32"], "double": _REG.by_name["F64"],
                  "half": _REG.by_name["F16"], "long": _REG.by_name["I64"],
                  "int": _REG.by_name["I32"], "short": _REG.by_name["I16"],
                  "cfloat": _REG.by_name["C64"], "cdouble": _REG.by_name["C128"]})


def find(name: str) -> DType | None:
    """The dtype called ``name`` (any common spelling, any case), or None."""
    key = name.strip().upper()
    key = _ALIASES.get(key, key)
    dt = _REG.by_name.get(key)
    if dt is None and not _REG.ggml_loaded:
        _REG.load_ggml()
        dt = _REG.by_name.get(key)
    return dt


def get(name: str) -> DType:
    """Like :func:`find` but raises KeyError for an unknown name."""
    dt = find(name)
    if dt is None:
        raise KeyError(f"unknown dtype {name!r}")
    return dt


def all_dtypes() -> Iterator[DType]:
    _REG.load_ggml()
    return iter(list(_REG.by_name.values()))


def from_ggml(type_id: int) -> DType | None:
    """The dtype for a GGML type id as written in a GGUF tensor info, or None."""
    _REG.load_ggml()
    return _REG.by_ggml.get(type_id)


def from_torch(name: str) -> DType | None:
    """From a torch dtype attribute (``bfloat16``, ``torch.float16``) or storage class name."""
    if name.startswith("torch."):
        name = name[6:]
    return _BY_TORCH.get(name)


def from_numpy(descr: str) -> DType | None:
    """From a numpy dtype string: ``<f4``, ``|b1``, ``float32``, ``bfloat16`` …

    Only little-endian (or byte-order-free) types are plain tensors; big-endian descriptors
    return None so the caller can report them.
    """
    import numpy as np

    try:
        nd = np.dtype(descr)
    except TypeError:
        try:
            import ml_dtypes

            nd = np.dtype(getattr(ml_dtypes, descr))
        except (AttributeError, TypeError):
            return None
    if nd.byteorder == ">" or nd.hasobject or nd.fields is not None or nd.subdtype is not None:
        return None
    for d in _PLAIN:
        if d.numpy_name == nd.name:
            return d
    return None


def nbytes_for(dtype: str, elements: int) -> int | None:
    dt = find(dtype)
    return None if dt is None else dt.nbytes(elements)
