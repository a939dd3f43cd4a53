"""Quantized checkpoints: method, bits, group size and the float model's exact parameter count."""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open

import modellens

from . import quant_builders as qb
from .conftest import run_cli

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    path = tmp_path_factory.mktemp("float")
    model = qb.float_llama(path)
    return path, model, model.num_parameters()


def _overhead(path, suffixes):
    with safe_open(str(path / "model.safetensors"), "pt") as f:
        total = 0
        for k in f.keys():
            if k.endswith(suffixes):
                t = f.get_slice(k)
                shape = t.get_shape()
                total += f.get_tensor(k).element_size() * (1 if not shape else __import__("math").prod(shape))
        return total


@pytest.mark.parametrize("builder,method,bits,group,overhead", [
    (qb.gptq, "gptq", 4, 64, (".qzeros", ".scales", ".g_idx")),
    (qb.awq, "awq", 4, 64, (".qzeros", ".scales")),
    (lambda m, o: qb.gptq(m, o, bits=8, group=32), "gptq", 8, 32, (".qzeros", ".scales", ".g_idx")),
    (lambda m, o: qb.gptq(m, o, bits=3, group=64), "gptq", 3, 64, (".qzeros", ".scales", ".g_idx")),
    (qb.fp8_block, "fp8", 8, None, ("_scale_inv",)),
    (qb.nvfp4_modelopt, "nvfp4", 4, 16, ("_scale", "_scale_2", ".input_scale")),
])
def test_layout_builders(tmp_path, llama, builder, method, bits, group, overhead):
    _, model, expected = llama
    builder(model, tmp_path)
    info = modellens.inspect(str(tmp_path))
    q = info.quantization
    assert q["method"] == method and q["bits"] == bits and q.get("group_size") == group
    assert info.parameters == expected
    assert q["quantized_parameters"] + q["unquantized_parameters"] == expected
    assert q["overhead_bytes"] == _overhead(tmp_path, overhead)
    assert q["quantized_parameters"] == sum(p.numel() for n, p in model.named_parameters() if qb._is_linear(n))
    assert "lm_head" in " ".join(q["kept_in_high_precision"])
    assert q["effective_bits_per_weight"] == pytest.approx(info.size_bytes * 0 + sum(t.nbytes for t in info.tensors) * 8 / expected, rel=1e-3)


def test_gptq_logical_shapes(tmp_path, llama):
    _, model, _ = llama
    qb.gptq(model, tmp_path)
    info = modellens.inspect(str(tmp_path))
    t = next(t for t in info.tensors if t.name == "model.layers.0.mlp.down_proj.qweight")
    assert t.shape == tuple(model.model.layers[0].mlp.down_proj.weight.shape)  # (out, in)
    assert t.stored_shape == (256 * 4 // 32, 128)
    assert "act-order" in info.quantization["summary"]


def test_awq_logical_shapes_and_detection_without_config(tmp_path, llama):
    _, model, expected = llama
    qb.awq(model, tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    del cfg["quantization_config"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    info = modellens.inspect(str(tmp_path))
    assert info.quantization["method"] == "awq"  # from the packing orientation alone
    assert info.quantization["bits"] == 4  # inferred: 32 · qweight columns / scales columns
    assert info.parameters == expected
    t = next(t for t in info.tensors if t.name == "model.layers.0.self_attn.k_proj.qweight")
    assert t.shape == tuple(model.model.layers[0].self_attn.k_proj.weight.shape)


def test_gptq_detected_from_single_file(tmp_path, llama):
    _, model, expected = llama
    qb.gptq(model, tmp_path)
    info = modellens.inspect(str(tmp_path / "model.safetensors"))  # no config.json at hand
    assert info.quantization["method"] == "gptq" and info.quantization["bits"] == 4
    assert info.parameters == expected


def test_mxfp4_gpt_oss(tmp_path):
    model = qb.float_gpt_oss(tmp_path)
    qb.mxfp4(model, tmp_path)
    info = modellens.inspect(str(tmp_path))
    q = info.quantization
    assert q["method"] == "mxfp4" and q["bits"] == 4 and q["group_size"] == 32
    assert info.parameters == model.num_parameters()
    blocks = next(t for t in info.tensors if t.name.endswith("layers.0.mlp.experts.gate_up_proj_blocks"))
    e, in_f, out_f = model.model.layers[0].mlp.experts.gate_up_proj.shape
    assert blocks.shape == (e, out_f, in_f)


def test_mlx(tmp_path):
    pytest.importorskip("mlx.core")
    model = qb.float_llama(tmp_path / "f", tie=True)
    qb.mlx(model, tmp_path / "q")
    info = modellens.inspect(str(tmp_path / "q"))
    q = info.quantization
    assert (q["method"], q["bits"], q["group_size"]) == ("mlx", 4, 64)
    assert info.parameters == model.num_parameters()
    assert q["overhead_bytes"] == _overhead(tmp_path / "q", (".scales", ".biases"))


@pytest.mark.slow
@pytest.mark.parametrize("four_bit", [True, False])
def test_bitsandbytes(tmp_path, llama, four_bit):
    pytest.importorskip("bitsandbytes")
    src, model, expected = llama
    qb.bitsandbytes(src, tmp_path, four_bit)
    info = modellens.inspect(str(tmp_path))
    q = info.quantization
    assert q["method"] == "bitsandbytes" and q["bits"] == (4 if four_bit else 8)
    assert info.parameters == expected
    if four_bit:
        assert q["scheme"] == "NF4" and q["double_quantization"] is True
        assert q["overhead_bytes"] == _overhead(tmp_path, (".absmax", ".quant_map", ".nested_absmax",
                                                          ".nested_quant_map", ".quant_state.bitsandbytes__nf4"))
    else:
        assert q["overhead_bytes"] == _overhead(tmp_path, (".SCB", ".weight_format"))


@pytest.mark.slow
@pytest.mark.parametrize("scheme,fmt,bits,label", [
    ("W4A16", "pack-quantized", 4, "W4A16"),
    ("W8A8", "int-quantized", 8, "W8A8"),
    ("FP8", "float-quantized", 8, "FP8"),
    ("NVFP4", "nvfp4-pack-quantized", 4, "NVFP4"),
])
def test_compressed_tensors(tmp_path, llama, scheme, fmt, bits, label):
    pytest.importorskip("compressed_tensors")
    src, _, expected = llama
    qb.compressed_tensors(src, tmp_path, scheme, fmt)
    info = modellens.inspect(str(tmp_path))
    q = info.quantization
    assert q["method"] == "compressed-tensors" and q["format_variant"] == fmt
    assert q["bits"] == bits and q["scheme"] == label
    assert info.parameters == expected


def test_gguf_report(tmp_path):
    import numpy as np
    from gguf import GGMLQuantizationType as Q
    from gguf import GGUFWriter
    from gguf.quants import quantize

    w = GGUFWriter(str(tmp_path / "m.gguf"), "llama")
    w.add_file_type(7)  # MOSTLY_Q8_0
    w.add_tensor("blk.0.w", quantize(np.ones((64, 256), dtype=np.float32), Q.Q8_0), raw_dtype=Q.Q8_0)
    w.add_tensor("norm", np.ones(256, dtype=np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    q = modellens.inspect(str(tmp_path / "m.gguf")).quantization
    assert q["method"] == "gguf" and q["file_type"] == "Q8_0" and q["bits"] == 8
    assert q["quantized_parameters"] == 64 * 256 and q["unquantized_parameters"] == 256
    # Q8_0: 34 bytes per 32 weights = 8.5 bits; the F32 norm adds its 32 bits per weight
    assert q["effective_bits_per_weight"] == pytest.approx((64 * 256 * 8.5 + 256 * 32) / (64 * 256 + 256), rel=1e-3)


def test_cli_one_line_summary(tmp_path, llama):
    _, model, _ = llama
    qb.gptq(model, tmp_path)
    res = run_cli("inspect", tmp_path)
    assert res.code == 0
    assert "GPTQ 4-bit, group 64, act-order" in res.stdout


def test_unquantized_model_has_no_report(llama):
    src, _, expected = llama
    info = modellens.inspect(str(src))
    assert info.quantization is None and info.parameters == expected
