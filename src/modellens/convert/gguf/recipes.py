"""Which GGML type each tensor gets: the ``--quant`` names and llama.cpp's mixing rules.

``--quant`` takes llama.cpp's names (case-insensitive).  ``f32``/``f16``/``bf16`` and the
legacy ``q8_0 q4_0 q4_1 q5_0 q5_1`` and the K-quant mixes ``q2_k q3_k(_m) q4_k_s q4_k_m q5_k_s
q5_k_m q6_k`` are llama.cpp file types (``LLAMA_FTYPE_MOSTLY_*``), and the tensor types follow
``llama_tensor_get_type`` in llama.cpp's ``src/llama-quant.cpp`` (as of llama-cpp-python
0.3.36's llama.cpp, the version the tests load the files with).  As in ``llama-quantize``,
``q3_k``, ``q4_k`` and ``q5_k`` are aliases of the ``_m`` mixes.  ``pure=True`` (``--pure``)
gives every quantizable matrix the base type, as ``llama-quantize --pure`` does.

The rules, for the K-quant mixes (``n`` = layers, ``i`` = the tensor's layer, and
``more_bits(i, n)`` = ``i < n/8 or i >= 7n/8 or (i - n/8) % 3 == 2``):

* not quantized (kept F32): 1-D tensors (norms, biases, rope factors), ``*_norm.weight``,
  anything not named ``*weight``, the MoE router ``ffn_gate_inp``;
* ``output.weight`` (or ``token_embd.weight`` when the embeddings are tied) → Q6_K, or Q8_0 when
  its rows are not a multiple of 256 (Q8_0 files keep Q8_0);
* ``attn_v`` / ``attn_qkv``: Q2_K → Q4_K if ``n_head/n_head_kv >= 4`` else Q3_K; Q3_K_M → Q5_K
  for the first two layers, else Q4_K; Q4_K_M / Q5_K_M → Q6_K where ``more_bits``; Q4_K_S → Q5_K
  for the first four; a Llama of 80 layers with GQA (70B) lifts Q3_K/Q4_K to Q5_K; with 8 experts
  → Q8_0;
* ``attn_k`` with 8 experts → Q8_0;
* ``ffn_down`` (dense or experts): Q2_K → Q3_K; Q3_K_M → Q5_K below ``n/16``, else Q4_K;
  Q4_K_M / Q5_K_M → Q6_K where ``more_bits``; Q4_K_S → Q5_K below ``n/8``;
* ``attn_output``: with 8 experts, Q2_K/Q3_K_M/Q4_K_S/Q4_K_M → Q5_K; otherwise Q2_K → Q3_K,
  Q3_K_M → Q4_K;
* ``attn_qkv`` (fused, Phi-3) follows the ``attn_v`` rules: llama.cpp counts it as attn_v-like,
  and its own later ``attn_qkv`` branch (Q4_K_M → Q5_K …) is never reached;
* a row length that the chosen type's block does not divide falls back: Q2_K/Q3_K → Q4_0,
  Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, and to F16 when 32 does not divide it either.

Where llama.cpp counts tensors (``i_attention_wv``, ``i_ffn_down``) this uses the layer number
from the name: the same thing for files written in layer order, as every converter does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...core.errors import ModelLensError

__all__ = ["Recipe", "parse_quant", "QUANT_NAMES", "LLAMA_FTYPE", "ModelShape"]

# --quant name -> (llama.cpp ftype name, base GGML type)
QUANT_NAMES: dict[str, tuple[str, str]] = {
    "f32": ("ALL_F32", "F32"), "f16": ("MOSTLY_F16", "F16"), "bf16": ("MOSTLY_BF16", "BF16"),
    "q8_0": ("MOSTLY_Q8_0", "Q8_0"), "q4_0": ("MOSTLY_Q4_0", "Q4_0"),
    "q4_1": ("MOSTLY_Q4_1", "Q4_1"), "q5_0": ("MOSTLY_Q5_0", "Q5_0"),
    "q5_1": ("MOSTLY_Q5_1", "Q5_1"), "q2_k": ("MOSTLY_Q2_K", "Q2_K"),
    "q3_k": ("MOSTLY_Q3_K_M", "Q3_K"), "q3_k_m": ("MOSTLY_Q3_K_M", "Q3_K"),
    "q4_k": ("MOSTLY_Q4_K_M", "Q4_K"), "q4_k_m": ("MOSTLY_Q4_K_M", "Q4_K"),
    "q4_k_s": ("MOSTLY_Q4_K_S", "Q4_K"), "q5_k": ("MOSTLY_Q5_K_M", "Q5_K"),
    "q5_k_m": ("MOSTLY_Q5_K_M", "Q5_K"), "q5_k_s": ("MOSTLY_Q5_K_S", "Q5_K"),
    "q6_k": ("MOSTLY_Q6_K", "Q6_K"),
}

# llama.cpp's llama_ftype values (general.file_type)
LLAMA_FTYPE = {
    "ALL_F32": 0, "MOSTLY_F16": 1, "MOSTLY_Q4_0": 2, "MOSTLY_Q4_1": 3, "MOSTLY_Q8_0": 7,
    "MOSTLY_Q5_0": 8, "MOSTLY_Q5_1": 9, "MOSTLY_Q2_K": 10, "MOSTLY_Q3_K_S": 11,
    "MOSTLY_Q3_K_M": 12, "MOSTLY_Q3_K_L": 13, "MOSTLY_Q4_K_S": 14, "MOSTLY_Q4_K_M": 15,
    "MOSTLY_Q5_K_S": 16, "MOSTLY_Q5_K_M": 17, "MOSTLY_Q6_K": 18, "MOSTLY_BF16": 32,
}

_BLOCK = {"F32": 1, "F16": 1, "BF16": 1, "Q8_0": 32, "Q4_0": 32, "Q4_1": 32, "Q5_0": 32,
          "Q5_1": 32, "Q2_K": 256, "Q3_K": 256, "Q4_K": 256, "Q5_K": 256, "Q6_K": 256}
_FALLBACK = {"Q2_K": "Q4_0", "Q3_K": "Q4_0", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
_LAYER = re.compile(r"^blk\.(\d+)\.")


@dataclass(frozen=True)
class ModelShape:
    """What the rules look at besides the tensor: layer count, GQA ratio, experts, arch."""

    n_layer: int
    n_head: int = 1
    n_head_kv: int = 1
    n_expert: int = 0
    arch: str = "llama"

    @property
    def n_gqa(self) -> int:
        return self.n_head // self.n_head_kv if self.n_head_kv else 1


def parse_quant(name: str) -> str:
    key = name.strip().lower()
    if key not in QUANT_NAMES:
        raise ModelLensError(f"--quant {name!r}: expected one of {', '.join(QUANT_NAMES)}")
    return key


def _more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def quantizable(name: str, ndim: int) -> bool:
    """llama.cpp's tensor_allows_quantization, for the tensors this exporter writes."""
    return (ndim >= 2 and name.endswith("weight") and "_norm.weight" not in name
            and "ffn_gate_inp.weight" not in name)


def _category(name: str) -> str:
    if name == "output.weight":
        return "output"
    if name == "token_embd.weight":
        return "token_embd"
    for key, cat in (("attn_qkv.weight", "attn_qkv"), ("attn_v.weight", "attn_v"),
                     ("attn_k.weight", "attn_k"), ("attn_q.weight", "attn_q"),
                     ("attn_output.weight", "attn_output"), ("ffn_up", "ffn_up"),
                     ("ffn_gate", "ffn_gate"), ("ffn_down", "ffn_down")):
        if key in name:
            return cat
    return "other"


class Recipe:
    """Types for one model and one ``--quant``; ``type_for(name, shape)`` per tensor."""

    def __init__(self, quant: str, model: ModelShape, *, tied_embeddings: bool,
                 pure: bool = False):
        self.quant = parse_quant(quant)
        self.ftype, self.base = QUANT_NAMES[self.quant]
        self.model = model
        self.tied = tied_embeddings
        self.pure = pure
        self.fallbacks: list[str] = []

    @property
    def file_type(self) -> int:
        return LLAMA_FTYPE[self.ftype]

    def type_for(self, name: str, shape: tuple[int, ...]) -> str:
        """The GGML type of tensor ``name`` with numpy ``shape`` (rows last)."""
        if not quantizable(name, len(shape)):
            return "F32"
        new = self.base
        if new in ("F32", "F16", "BF16"):
            return new
        if not self.pure:
            new = self._mix(name, shape, new)
        return self._fallback(name, shape[-1], new)

    def _fallback(self, name: str, ncols: int, new: str) -> str:
        if ncols % _BLOCK[new] == 0:
            return new
        out = _FALLBACK.get(new, new)
        if ncols % _BLOCK[out]:
            out = "F16"
        self.fallbacks.append(f"{name}: {ncols} columns not divisible by {_BLOCK[new]} "
                              f"({new}); using {out}")
        return out

    def _mix(self, name: str, shape: tuple[int, ...], new: str) -> str:
        ft, m = self.ftype, self.model
        cat = _category(name)
        match = _LAYER.match(name)
        i = int(match.group(1)) if match else 0
        n = m.n_layer
        if cat == "output" or (self.tied and cat == "token_embd"):
            if shape[-1] % _BLOCK[new]:
                return "Q8_0"
            return new if new == "Q8_0" else "Q6_K"
        if cat == "token_embd":
            return new
        if cat in ("attn_v", "attn_qkv"):
            if ft == "MOSTLY_Q2_K":
                new = "Q4_K" if m.n_gqa >= 4 else "Q3_K"
            elif ft == "MOSTLY_Q3_K_M":
                new = "Q5_K" if i < 2 else "Q4_K"
            elif ft in ("MOSTLY_Q4_K_M", "MOSTLY_Q5_K_M") and _more_bits(i, n):
                new = "Q6_K"
            elif ft == "MOSTLY_Q4_K_S" and i < 4:
                new = "Q5_K"
            if m.arch == "llama" and n == 80 and m.n_head != m.n_head_kv and new in ("Q3_K", "Q4_K"):
                new = "Q5_K"
            if m.n_expert == 8:
                new = "Q8_0"
            return new
        if cat == "attn_k":
            return "Q8_0" if m.n_expert == 8 else new
        if cat == "ffn_down":
            if ft == "MOSTLY_Q2_K":
                return "Q3_K"
            if ft == "MOSTLY_Q3_K_M":
                return "Q5_K" if i < n // 16 else "Q4_K"
            if ft in ("MOSTLY_Q4_K_M", "MOSTLY_Q5_K_M") and _more_bits(i, n):
                return "Q6_K"
            if ft == "MOSTLY_Q4_K_S" and i < n // 8:
                return "Q5_K"
            return new
        if cat == "attn_output":
            if m.n_expert == 8:
                if ft in ("MOSTLY_Q2_K", "MOSTLY_Q3_K_M", "MOSTLY_Q4_K_S", "MOSTLY_Q4_K_M"):
                    return "Q5_K"
                return new
            if ft == "MOSTLY_Q2_K":
                return "Q3_K"
            if ft == "MOSTLY_Q3_K_M":
                return "Q4_K"
            return new
        return new
