"""The numpy quantizers give llama.cpp's bytes, bit for bit.

Legacy types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) against ``gguf.quants`` (itself written to match
ggml); every type, K-quants included, against ggml's C code: ``ggml_quantize_chunk`` of the
``libggml-base`` that llama-cpp-python ships (the function ``llama-quantize`` calls; without an
importance matrix it runs the ``quantize_row_*_ref`` reference).  The C checks are skipped when
llama-cpp-python is not installed.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest
from gguf.constants import GGMLQuantizationType
from gguf.quants import dequantize
from gguf.quants import quantize as gguf_quantize

from modellens.convert.gguf.quants import BLOCK, quantize

LEGACY = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]
KQUANTS = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]


def _data(rows: int = 64, cols: int = 1024, seed: int = 0) -> np.ndarray:
    """Gaussian rows at many scales, plus the cases that take special paths."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    x *= np.logspace(-4, 2, rows, dtype=np.float32)[:, None]
    x[0] = 0  # all-zero blocks
    x[1] = 0.25  # constant blocks
    x[2, :] = 0
    x[2, ::97] = 3.0  # lone outliers
    x[3] = np.abs(x[3])  # all positive (min clamps at 0)
    x[4] = -np.abs(x[4])
    x[5] *= 1e-12  # tiny: fp16 scales underflow
    x[6] = np.round(x[6] * 4) / 4  # ties for the rounding
    x[7] = rng.standard_t(2, cols).astype(np.float32)  # heavy tails
    x[8, :16] = 1.0
    x[8, 16:] = -1.0
    return x


@pytest.mark.parametrize("qtype", LEGACY)
def test_legacy_types_match_gguf_quants(qtype: str) -> None:
    # gguf.quants gives a block of zeros whose first value is -0.0 a negative zero scale,
    # ggml a positive one; we follow ggml (test below), so compare without negative zeros.
    x = _data() + np.float32(0)
    want = gguf_quantize(x, GGMLQuantizationType[qtype])
    got = quantize(x, qtype)
    assert got.dtype == np.uint8 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_negative_zero_blocks_follow_ggml_not_gguf_py() -> None:
    x = np.zeros((1, 32), np.float32)
    x[0, 0] = -0.0
    got = quantize(x, "Q4_0")
    # quantize_row_q4_0_ref starts from max = +0.0, so d = +0.0 / -8 = -0.0 (fp16 0x8000)
    assert got[0, :2].tolist() == [0, 128]
    assert gguf_quantize(x, GGMLQuantizationType.Q4_0)[0, :2].tolist() == [0, 0]


@pytest.mark.parametrize("qtype", LEGACY + KQUANTS)
def test_round_trip_error(qtype: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 512)).astype(np.float32)
    q = quantize(x, qtype)
    bs, ts = BLOCK[qtype]
    assert q.shape == (16, 512 // bs * ts)
    y = dequantize(q, GGMLQuantizationType[qtype])
    rel = np.sqrt(np.mean((y - x) ** 2)) / np.sqrt(np.mean(x ** 2))
    bound = {"Q8_0": 0.006, "Q6_K": 0.02, "Q5_1": 0.04, "Q5_0": 0.045, "Q5_K": 0.04,
             "Q4_1": 0.09, "Q4_0": 0.1, "Q4_K": 0.08, "Q3_K": 0.2, "Q2_K": 0.4}[qtype]
    assert rel < bound


def test_threads_give_the_same_bytes() -> None:
    x = _data(rows=256, cols=512, seed=3)
    for qtype in ("Q4_K", "Q8_0"):
        np.testing.assert_array_equal(quantize(x, qtype), quantize(x, qtype, threads=2))


def test_rejects_partial_blocks() -> None:
    with pytest.raises(ValueError, match="multiple"):
        quantize(np.zeros((2, 100), np.float32), "Q4_K")


# --- against ggml's C code ----------------------------------------------------------------

def _ggml() -> ctypes.CDLL:
    llama_cpp = pytest.importorskip("llama_cpp")
    libdir = Path(llama_cpp.__file__).parent / "lib"
    for name in ("libggml-base.so", "libggml-base.dylib", "ggml-base.dll"):
        if (libdir / name).exists():
            lib = ctypes.CDLL(str(libdir / name))
            lib.ggml_quantize_chunk.restype = ctypes.c_size_t
            lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                                ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                                ctypes.c_void_p]
            return lib
    pytest.skip(f"no libggml-base in {libdir}")


def ggml_quantize(x: np.ndarray, qtype: str) -> np.ndarray:
    """ggml's own quantization of float32 rows (no importance matrix)."""
    lib = _ggml()
    x = np.ascontiguousarray(x, dtype=np.float32)
    rows, cols = x.shape
    bs, ts = BLOCK[qtype]
    out = np.zeros((rows, cols // bs * ts), np.uint8)
    n = lib.ggml_quantize_chunk(int(GGMLQuantizationType[qtype]), x.ctypes.data, out.ctypes.data,
                                0, rows, cols, None)
    assert n == out.nbytes
    return out


@pytest.mark.parametrize("qtype", LEGACY + KQUANTS)
@pytest.mark.parametrize("seed", [0, 1])
def test_bit_exact_with_ggml_c(qtype: str, seed: int) -> None:
    x = _data(rows=48, cols=1024, seed=seed)
    want = ggml_quantize(x, qtype)
    got = quantize(x, qtype)
    if not np.array_equal(got, want):
        bs, ts = BLOCK[qtype]
        bad = np.nonzero((got.reshape(-1, ts) != want.reshape(-1, ts)).any(axis=1))[0]
        pytest.fail(f"{qtype}: {len(bad)} of {got.size // ts} blocks differ (first {bad[:5]})")


def test_bit_exact_with_ggml_c_realistic_weights() -> None:
    """Weight-like data (bf16-rounded, like a real checkpoint) at a larger size."""
    import ml_dtypes

    rng = np.random.default_rng(7)
    x = (rng.standard_normal((96, 2048)) * 0.02).astype(ml_dtypes.bfloat16).astype(np.float32)
    for qtype in KQUANTS + ["Q8_0", "Q4_0"]:
        np.testing.assert_array_equal(quantize(x, qtype), ggml_quantize(x, qtype), err_msg=qtype)
