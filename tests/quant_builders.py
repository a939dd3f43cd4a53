"""Quantized checkpoints for the tests.

Where a method's own library runs on this CPU it writes the checkpoint: transformers +
bitsandbytes (4-bit NF4 with double quantization, 8-bit), compressed-tensors'
``ModelCompressor`` (W4A16 pack-quantized, W8A8 int, FP8 float, NVFP4), MLX's ``mx.quantize``
+ ``mx.save_safetensors``.  GPTQ / AWQ / DeepSeek-style block FP8 / gpt-oss MXFP4 / ModelOpt
NVFP4 packers need a GPU, so those files are built here to each method's published tensor
layout from a real float model (the values are random; the layout — names, dtypes, shapes —
is what the tests check).  Expected parameter counts always come from the float model
(transformers' ``num_parameters()``), never from modellens.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import save_file

LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def float_llama(path: Path, tie: bool = False):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=128, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=tie)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(path)
    return model


def _write(out: Path, config: dict, tensors: dict[str, torch.Tensor], quant_config: dict | None,
           key: str = "quantization_config") -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    cfg = dict(config)
    if quant_config is not None:
        cfg[key] = quant_config
    (out / "config.json").write_text(json.dumps(cfg))
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / "model.safetensors"))
    return {k: v.numel() * v.element_size() for k, v in tensors.items()}


def _is_linear(name: str) -> bool:
    return name.endswith(".weight") and any(f".{p}." in name for p in LINEAR)


def _rand_int(shape, dtype=torch.int32):
    return torch.randint(-2**31, 2**31 - 1, shape, dtype=torch.int64).to(dtype)


def gptq(model, out: Path, bits=4, group=64) -> dict[str, int]:
    """AutoGPTQ / GPTQModel layout: qweight [in·bits/32, out] I32, qzeros [in/g, out·bits/32],
    scales [in/g, out] F16, g_idx [in] I32; other tensors in F16."""
    sd = {}
    for name, w in model.state_dict().items():
        if _is_linear(name):
            out_f, in_f = w.shape
            base = name[:-7]
            sd[base + ".qweight"] = _rand_int((in_f * bits // 32, out_f))
            sd[base + ".qzeros"] = _rand_int((in_f // group, out_f * bits // 32))
            sd[base + ".scales"] = torch.rand(in_f // group, out_f).half()
            sd[base + ".g_idx"] = (torch.arange(in_f) // group).int()
        else:
            sd[name] = w.half()
    qc = {"quant_method": "gptq", "bits": bits, "group_size": group, "desc_act": True, "sym": True,
          "checkpoint_format": "gptq"}
    return _write(out, model.config.to_dict(), sd, qc)


def awq(model, out: Path, bits=4, group=64) -> dict[str, int]:
    """AutoAWQ GEMM layout: qweight [in, out·bits/32] I32, qzeros [in/g, out·bits/32], scales [in/g, out]."""
    sd = {}
    for name, w in model.state_dict().items():
        if _is_linear(name):
            out_f, in_f = w.shape
            base = name[:-7]
            sd[base + ".qweight"] = _rand_int((in_f, out_f * bits // 32))
            sd[base + ".qzeros"] = _rand_int((in_f // group, out_f * bits // 32))
            sd[base + ".scales"] = torch.rand(in_f // group, out_f).half()
        else:
            sd[name] = w.half()
    qc = {"quant_method": "awq", "bits": bits, "group_size": group, "version": "gemm", "zero_point": True}
    return _write(out, model.config.to_dict(), sd, qc)


def fp8_block(model, out: Path, block=128) -> dict[str, int]:
    """DeepSeek-V3 layout: weight F8_E4M3 [out, in] + weight_scale_inv F32 [⌈out/128⌉, ⌈in/128⌉]."""
    sd = {}
    for name, w in model.state_dict().items():
        if _is_linear(name):
            sd[name] = w.to(torch.float8_e4m3fn)
            sd[name + "_scale_inv"] = torch.rand(math.ceil(w.shape[0] / block), math.ceil(w.shape[1] / block))
        else:
            sd[name] = w.bfloat16()
    qc = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [block, block]}
    return _write(out, model.config.to_dict(), sd, qc)


def mlx(model, out: Path, bits=4, group=64) -> dict[str, int]:
    """mlx-lm layout written by MLX itself: mx.quantize -> weight U32, scales, biases."""
    import mlx.core as mx
    import numpy as np

    arrays = {}
    for name, w in model.state_dict().items():
        if name == "lm_head.weight" and model.config.tie_word_embeddings:
            continue  # mlx-lm, like save_pretrained, stores tied weights once
        a = mx.array(w.float().numpy())
        if _is_linear(name) or name.endswith("embed_tokens.weight") or name == "lm_head.weight":
            q, s, b = mx.quantize(a, group_size=group, bits=bits)
            arrays[name] = q
            arrays[name[:-7] + ".scales"] = s.astype(mx.float16)
            arrays[name[:-7] + ".biases"] = b.astype(mx.float16)
        else:
            arrays[name] = a.astype(mx.float16)
    out.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(out / "model.safetensors"), arrays, metadata={"format": "mlx"})
    cfg = model.config.to_dict()
    cfg["quantization"] = {"group_size": group, "bits": bits}
    (out / "config.json").write_text(json.dumps(cfg))
    return {k: int(np.array(v).nbytes) for k, v in arrays.items()}


def float_gpt_oss(path: Path):
    from transformers import AutoModelForCausalLM, GptOssConfig

    torch.manual_seed(0)
    cfg = GptOssConfig(vocab_size=128, hidden_size=64, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=16, num_local_experts=4,
                       num_experts_per_tok=2, layer_types=["sliding_attention", "full_attention"])
    model = AutoModelForCausalLM.from_config(cfg)
    return model


def mxfp4(model, out: Path) -> dict[str, int]:
    """gpt-oss layout: experts.{gate_up,down}_proj_blocks U8 [E, out, in/32, 16] + _scales U8 [E, out, in/32]."""
    sd = {}
    for name, w in model.state_dict().items():
        if name.endswith(("experts.gate_up_proj", "experts.down_proj")):
            e, in_f, out_f = w.shape  # transformers keeps [E, in, out]
            sd[name + "_blocks"] = torch.randint(0, 255, (e, out_f, in_f // 32, 16), dtype=torch.uint8)
            sd[name + "_scales"] = torch.randint(100, 130, (e, out_f, in_f // 32), dtype=torch.uint8)
        else:
            sd[name] = w.bfloat16()
    qc = {"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                                                             "model.embed_tokens", "lm_head"]}
    return _write(out, model.config.to_dict(), sd, qc)


def nvfp4_modelopt(model, out: Path) -> dict[str, int]:
    """NVIDIA ModelOpt NVFP4: weight U8 [out, in/2], weight_scale F8_E4M3 [out, in/16], weight_scale_2 F32 [],
    input_scale F32 []."""
    sd = {}
    for name, w in model.state_dict().items():
        if _is_linear(name):
            out_f, in_f = w.shape
            sd[name] = torch.randint(0, 255, (out_f, in_f // 2), dtype=torch.uint8)
            sd[name + "_scale"] = torch.rand(out_f, in_f // 16).to(torch.float8_e4m3fn)
            sd[name + "_scale_2"] = torch.tensor(0.01)
            sd[name[:-7] + ".input_scale"] = torch.tensor(0.02)
        else:
            sd[name] = w.bfloat16()
    qc = {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16, "exclude_modules": ["lm_head"]}
    return _write(out, model.config.to_dict(), sd, qc)


def bitsandbytes(src: Path, out: Path, four_bit: bool) -> None:
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    qc = (BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                             bnb_4bit_compute_dtype=torch.bfloat16)
          if four_bit else BitsAndBytesConfig(load_in_8bit=True))
    model = AutoModelForCausalLM.from_pretrained(src, quantization_config=qc, device_map="cpu")
    model.save_pretrained(out)


def compressed_tensors(src: Path, out: Path, scheme_name: str, fmt: str) -> None:
    """compressed-tensors' own compressor, with data-free min/max (RTN) weight parameters."""
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import (QuantizationConfig, QuantizationStatus,
                                                 apply_quantization_config, preset_name_to_scheme)
    from compressed_tensors.quantization.utils import calculate_qparams, generate_gparam
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(src)
    qcfg = QuantizationConfig(config_groups={"group_0": preset_name_to_scheme(scheme_name, ["Linear"])},
                              ignore=["lm_head"], quantization_status=QuantizationStatus.INITIALIZED)
    apply_quantization_config(model, qcfg)
    for mod in model.modules():
        qs = getattr(mod, "quantization_scheme", None)
        if qs is None or qs.weights is None:
            continue
        w, args = mod.weight.data, qs.weights
        strategy = str(getattr(args.strategy, "value", args.strategy))
        if strategy in ("group", "tensor_group"):
            wg = w.reshape(w.shape[0], -1, args.group_size)
            mn, mx = wg.amin(-1), wg.amax(-1)
        elif strategy == "channel":
            mn, mx = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
        else:
            mn, mx = w.amin().reshape(1), w.amax().reshape(1)
        kwargs = {}
        if strategy == "tensor_group":
            mod.weight_global_scale.data.copy_(generate_gparam(w.amin(), w.amax()))
            kwargs["global_scale"] = mod.weight_global_scale
        scale, zp = calculate_qparams(mn, mx, args, **kwargs)
        mod.weight_scale.data.copy_(scale.reshape(mod.weight_scale.shape))
        if hasattr(mod, "weight_zero_point"):
            mod.weight_zero_point.data.copy_(zp.reshape(mod.weight_zero_point.shape))
        for attr in ("input_scale", "input_global_scale"):
            if hasattr(mod, attr):
                getattr(mod, attr).data.fill_(1.0)
    comp = ModelCompressor.from_pretrained_model(model, quantization_format=fmt)
    comp.compress_model(model)
    model.save_pretrained(out)
    comp.update_config(out)
