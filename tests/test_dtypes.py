"""The dtype registry agrees with the libraries that define the types."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from modellens.core import dtypes

SAFETENSORS_NAMES = ["F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "I64", "I32", "I16", "I8",
                     "U64", "U32", "U16", "U8", "BOOL"]


@pytest.mark.parametrize("name", SAFETENSORS_NAMES)
def test_plain_bits_match_numpy_itemsize(name):
    dt = dtypes.get(name)
    assert dt.bits == dt.numpy().itemsize * 8


def test_every_ggml_type_comes_from_gguf():
    for qtype in GGMLQuantizationType:
        dt = dtypes.from_ggml(int(qtype))
        assert dt is not None and dt.name == qtype.name
        block, size = GGML_QUANT_SIZES[qtype]
        assert dt.block_size == block
        # plain GGML types (F32, F16 …) count bits; block types count bytes per block
        assert dt.nbytes(block * 3) == size * 3


def test_q4_k_bits_per_weight():
    assert dtypes.get("Q4_K").bits_per_weight == 144 * 8 / 256  # 4.5


def test_torch_names_match_torch():
    torch = pytest.importorskip("torch")
    for attr in ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8",
                 "uint8", "bool", "float8_e4m3fn", "float8_e5m2", "uint16", "uint32", "uint64",
                 "complex64", "complex128"]:
        tdt = getattr(torch, attr)
        dt = dtypes.from_torch(attr)
        assert dt is not None, attr
        assert dt.bits == tdt.itemsize * 8, attr


def test_numpy_round_trip_incl_ml_dtypes():
    assert dtypes.from_numpy("<f4").name == "F32"
    assert dtypes.from_numpy("|b1").name == "BOOL"
    assert dtypes.from_numpy("bfloat16").name == "BF16"
    assert dtypes.get("F8_E4M3").numpy() == np.dtype(ml_dtypes.float8_e4m3fn)
    assert dtypes.from_numpy(">f4") is None  # big-endian is not a plain tensor


def test_aliases_and_unknown():
    assert dtypes.get("bfloat16").name == "BF16"
    assert dtypes.get("fp16").name == "F16"
    assert dtypes.find("q4_k").name == "Q4_K"
    assert dtypes.find("nonsense") is None
    with pytest.raises(KeyError):
        dtypes.get("nonsense")
