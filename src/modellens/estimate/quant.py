"""Bits per weight of each ``--quant`` choice, counted the way the format stores them.

A quantized checkpoint is never "N bits × parameters": scales, zeros and the tensors left in
16-bit add up.  Each :class:`QuantScheme` says what its quantized linear weights cost *including*
their metadata, and what stays unquantized:

===========  =================================================================================
gptq-int4    4-bit weights + per group of ``g`` (128): an fp16 scale and a packed 4-bit zero
             → ``4 + (16 + 4) / 128 = 4.156`` bits; embeddings and ``lm_head`` stay 16-bit
gptq-int8    ``8 + (16 + 8) / 128 = 8.1875`` bits
awq          as gptq-int4 (fp16 scale + 4-bit zero per group of 128): 4.156 bits
bnb-nf4      NF4 + an absmax per block of 64; double quantization stores that absmax in 8 bits
             with one fp32 per 256 blocks → ``4 + 8/64 + 32/(64·256) = 4.127`` bits (4.5 without)
bnb-int8     LLM.int8(): int8 + one fp32 scale per output row → ≈ 8 bits
fp8          e4m3 + an fp32 scale per 128×128 block (DeepSeek / Qwen "fine-grained" FP8)
mxfp4        e2m1 + an e8m0 scale per 32 → 4.25 bits (gpt-oss: only the experts)
int8 / int4  generic per-group (128, fp16 scale) weight-only quantization: 8.125 / 4.125
GGUF types   bits from ``modellens.core.dtypes`` (gguf-py's GGML_QUANT_SIZES): Q8_0 8.5,
             Q4_K 4.5, Q6_K 6.5625 …; the output head is Q6_K and norms F32, as llama.cpp's
             quantizer leaves them.
===========  =================================================================================

K-quant mixes follow llama.cpp's ``llama_tensor_get_type``: in ``Q4_K_M`` / ``Q5_K_M`` the
``attn_v`` and ``ffn_down`` weights of the layers where ``use_more_bits(i, n)`` holds
(``i < n/8 or i >= 7n/8 or (i - n/8) % 3 == 2``: about 5/12 of the layers) are Q6_K, the rest
Q4_K / Q5_K; ``Q4_K_S`` bumps ``ffn_down`` of the first n/8 layers to Q5_K.  Rarer per-model
special cases (8-expert models' attn_v in Q8_0 …) are not modelled: the mix is within ~1%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import dtypes

__all__ = ["QuantScheme", "get_scheme", "scheme_names", "use_more_bits", "DTYPE_BYTES"]

DTYPE_BYTES = {"f32": 4.0, "fp32": 4.0, "float32": 4.0, "bf16": 2.0, "bfloat16": 2.0, "f16": 2.0,
               "fp16": 2.0, "float16": 2.0, "fp8": 1.0, "f8": 1.0, "int8": 1.0, "fp4": 0.5}


@dataclass(frozen=True)
class QuantScheme:
    """One quantization format: the cost of its quantized weights and of what it leaves alone."""

    name: str
    bits: float  # bits per quantized weight, metadata included
    label: str
    embed_bits: float = 16.0  # token embeddings
    head_bits: float = 16.0  # output head (lm_head)
    norm_bits: float = 16.0
    engine: str = "transformers"  # the engine that usually runs it
    bumped_bits: float | None = None  # K-quant mixes: attn_v / ffn_down of use_more_bits layers
    bump_rule: str | None = None  # "more_bits" (…_K_M) or "first_eighth" (Q4_K_S)
    experts_only: bool = False  # mxfp4 in gpt-oss: attention and router stay 16-bit
    gguf: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "bits_per_weight": round(self.bits, 4), "label": self.label,
                "embedding_bits": self.embed_bits, "head_bits": self.head_bits}


def _ggml_bits(name: str) -> float:
    dt = dtypes.find(name)
    if dt is None:
        raise KeyError(name)
    return dt.bits_per_weight


def _group(bits: int, group: int = 128, scale_bits: int = 16, zero_bits: int | None = None) -> float:
    return bits + (scale_bits + (bits if zero_bits is None else zero_bits)) / group


_FIXED: dict[str, QuantScheme] = {}


def _add(s: QuantScheme, *aliases: str) -> None:
    for n in (s.name, *aliases):
        _FIXED[n] = s


_add(QuantScheme("fp8", 8 + 32 / (128 * 128), "FP8 e4m3, fp32 scale per 128×128 block"), "f8", "fp8_e4m3")
_add(QuantScheme("int8", _group(8, zero_bits=0), "int8 weight-only, fp16 scale per group of 128"), "w8")
_add(QuantScheme("int4", _group(4, zero_bits=0), "int4 weight-only, fp16 scale per group of 128"), "w4")
_add(QuantScheme("gptq-int4", _group(4), "GPTQ 4-bit, group 128 (fp16 scale + 4-bit zero)"), "gptq")
_add(QuantScheme("gptq-int8", _group(8), "GPTQ 8-bit, group 128 (fp16 scale + 8-bit zero)"))
_add(QuantScheme("awq", _group(4), "AWQ 4-bit GEMM, group 128 (fp16 scale + 4-bit zero)"), "awq-int4")
_add(QuantScheme("bnb-nf4", 4 + 8 / 64 + 32 / (64 * 256),
                 "bitsandbytes NF4, blocks of 64, double-quantized absmax"), "nf4", "qlora")
_add(QuantScheme("bnb-nf4-nodq", 4 + 32 / 64, "bitsandbytes NF4, blocks of 64, fp32 absmax"))
_add(QuantScheme("bnb-int8", 8.0, "bitsandbytes LLM.int8(), fp32 scale per row"), "llm.int8")
_add(QuantScheme("mxfp4", 4 + 8 / 32, "MXFP4 (e2m1 + e8m0 scale per 32)", experts_only=True))

# GGUF file types: (base type, embedding type, output type, bumped type, bump rule)
_GGUF_MIXES: dict[str, tuple[str, str, str, str | None, str | None]] = {
    "q4_k_m": ("Q4_K", "Q4_K", "Q6_K", "Q6_K", "more_bits"),
    "q5_k_m": ("Q5_K", "Q5_K", "Q6_K", "Q6_K", "more_bits"),
    "q4_k_s": ("Q4_K", "Q4_K", "Q6_K", "Q5_K", "first_eighth"),
    "q5_k_s": ("Q5_K", "Q5_K", "Q6_K", None, None),
    "q3_k_m": ("Q3_K", "Q3_K", "Q6_K", "Q4_K", "more_bits"),
    "q2_k": ("Q2_K", "Q2_K", "Q6_K", "Q4_K", "more_bits"),
    "q6_k": ("Q6_K", "Q6_K", "Q6_K", None, None),
    "q8_0": ("Q8_0", "Q8_0", "Q8_0", None, None),
    "q4_0": ("Q4_0", "Q4_0", "Q6_K", None, None),
    "q5_0": ("Q5_0", "Q5_0", "Q6_K", None, None),
    "iq4_xs": ("IQ4_XS", "IQ4_XS", "Q6_K", None, None),
}


def use_more_bits(i: int, n: int) -> bool:
    """llama.cpp's rule for which layers of a K-quant mix get the larger type."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def scheme_names() -> list[str]:
    return sorted(set(s.name for s in _FIXED.values()) | set(_GGUF_MIXES))


def get_scheme(name: str) -> QuantScheme:
    """The scheme for a ``--quant`` value (any case); KeyError if unknown."""
    key = name.strip().lower().replace("_", "-") if not name.lower().startswith(("q", "iq")) else name.strip().lower()
    if key in _FIXED:
        return _FIXED[key]
    key = key.replace("-", "_")
    if key in _GGUF_MIXES:
        base, emb, out, bump, rule = _GGUF_MIXES[key]
        return QuantScheme(key.upper(), _ggml_bits(base), f"GGUF {key.upper()}", _ggml_bits(emb), _ggml_bits(out),
                           32.0, "llama.cpp", _ggml_bits(bump) if bump else None, rule, gguf=True)
    dt = dtypes.find(key)
    if dt is not None and dt.kind == "quant":
        return QuantScheme(dt.name, dt.bits_per_weight, f"GGUF {dt.name}", dt.bits_per_weight,
                           _ggml_bits("Q6_K"), 32.0, "llama.cpp", gguf=True)
    raise KeyError(f"unknown quantization {name!r}; known: {', '.join(scheme_names())} or a GGML type")
