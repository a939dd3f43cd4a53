"""GGUF (F32 / F16 / Q8_0 / Q4_0 tensors written by gguf's own writer) to safetensors: the
output equals gguf's own dequantization."""

from __future__ import annotations

import numpy as np
import pytest

import modellens

gguf = pytest.importorskip("gguf")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

from gguf.constants import GGMLQuantizationType as Q  # noqa: E402
from gguf.quants import dequantize, quantize  # noqa: E402


def _write(path):
    rng = np.random.default_rng(0)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_tensor("norm.weight", rng.standard_normal(64).astype(np.float32))
    w.add_tensor("f16.weight", rng.standard_normal((8, 64)).astype(np.float16))
    for name, qt in (("q8.weight", Q.Q8_0), ("q4.weight", Q.Q4_0)):
        data = rng.standard_normal((16, 96)).astype(np.float32)
        w.add_tensor(name, quantize(data, qt), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _reference(path):
    r = gguf.GGUFReader(str(path))
    out = {}
    for t in r.tensors:
        shape = tuple(int(x) for x in reversed(t.shape))
        out[t.name] = dequantize(t.data, t.tensor_type).reshape(shape)
    return out


@pytest.mark.parametrize("dtype", [None, "f16", "bf16"])
def test_gguf_to_safetensors_equals_gguf_dequantization(tmp_path, dtype):
    src = tmp_path / "m.gguf"
    _write(src)
    out = tmp_path / "m.safetensors"
    report = modellens.convert(src, out, dtype=dtype, verify=True)
    assert report.dequantized == {"q8.weight": "Q8_0", "q4.weight": "Q4_0"}
    ref = _reference(src)
    if dtype == "bf16":  # numpy has no bf16: load through torch, compare the bits
        torch = pytest.importorskip("torch")
        import ml_dtypes
        from safetensors.torch import load_file

        got_t = load_file(out)
        assert set(got_t) == set(ref)
        for name, want in ref.items():
            g = got_t[name]
            assert g.dtype == torch.bfloat16 and tuple(g.shape) == want.shape, name
            assert g.view(torch.int16).numpy().tobytes() == want.astype(ml_dtypes.bfloat16).tobytes()
        return
    got = safetensors_numpy.load_file(out)
    assert set(got) == set(ref)
    for name, want in ref.items():
        if dtype == "f16":
            want = want.astype(np.float16)
        elif name == "f16.weight":
            want = want.astype(np.float16)  # a plain F16 tensor keeps its type
        assert got[name].dtype == want.dtype, name
        assert got[name].shape == want.shape, name
        assert got[name].tobytes() == want.tobytes(), name


def test_gguf_to_npz(tmp_path):
    src = tmp_path / "m.gguf"
    _write(src)
    modellens.convert(src, tmp_path / "m.npz", verify=True)
    ref = _reference(src)
    with np.load(tmp_path / "m.npz") as z:
        for name, want in ref.items():
            np.testing.assert_array_equal(z[name], want.astype(z[name].dtype))
