"""Per-architecture tables for the GGUF exporter, read from ``data/gguf_archs.json``.

A table says, for one llama.cpp architecture (``general.architecture``): which Hugging Face
``architectures`` it covers, how HF tensor names map to GGUF names (``{bid}`` the layer,
``{xid}`` an expert: per-expert tensors are stacked into one 3-D GGUF tensor), which per-tensor
transforms apply, and which ``config.json`` keys give which ``<arch>.*`` hyperparameters.
Adding an architecture is adding a table; the operations it can name live here:

* ``permute_q`` / ``permute_k``: llama.cpp's Llama graph rotates adjacent pairs of a head's
  dimensions (GPT-J style) while HF rotates the two halves; the converter reorders the rows of
  Q and K so that both compute the same thing (``n_head`` resp. ``n_head_kv`` groups);
* ``add_one``: Gemma's RMSNorm multiplies by ``1 + w``; llama.cpp multiplies by the stored
  weight, so ``w + 1`` is stored.

Computed hyperparameters: ``rope_freq_base`` (``rope_theta``), ``rope_scaling`` (linear / YaRN
keys; Llama 3's ``llama3`` scaling becomes the ``rope_freqs.weight`` tensor), ``head_dim``
(``attention.key_length``/``value_length``), ``rope_dimension_count``, ``vocab_size``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ...core.errors import ModelLensError
from ...core.packaged import data_json

__all__ = ["ArchSpec", "find_arch", "load_archs", "hparam_metadata",
           "extra_tensors", "apply_transforms", "config_get"]


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    template: str
    stacked: bool  # the HF name has {xid} and the GGUF one does not


@dataclass(frozen=True)
class ArchSpec:
    name: str
    hf_architectures: tuple[str, ...]
    rules: tuple[_Rule, ...]
    transforms: dict[str, tuple[str, ...]]
    hparams: tuple[tuple[str, str, tuple[str, ...]], ...]
    computed: tuple[str, ...]
    drop: tuple[str, ...] = field(default=())

    def map_name(self, hf_name: str) -> tuple[str, int | None] | None:
        """(GGUF name, expert index or None) for an HF tensor name, or None if unmapped."""
        for r in self.rules:
            m = r.pattern.match(hf_name)
            if m:
                g = m.groupdict()
                out = r.template.replace("{bid}", g.get("bid") or "") + "." + g["suffix"]
                return out, (int(g["xid"]) if r.stacked else None)
        return None

    def transforms_for(self, gguf_name: str) -> tuple[str, ...]:
        base = gguf_name.rsplit(".", 1)[0]
        generic = re.sub(r"^blk\.\d+\.", "blk.{bid}.", base)
        ops: list[str] = []
        for key, names in self.transforms.items():
            if key == generic or key == base or (key.startswith("*") and base.endswith(key[1:])):
                ops += [n for n in names if n not in ops]
        return tuple(ops)


def _compile(hf: str) -> re.Pattern[str]:
    rx = re.escape(hf).replace(r"\{bid\}", r"(?P<bid>\d+)").replace(r"\{xid\}", r"(?P<xid>\d+)")
    return re.compile(rf"^{rx}\.(?P<suffix>weight|bias)$")


@lru_cache(maxsize=1)
def load_archs() -> dict[str, ArchSpec]:
    raw = data_json("gguf_archs.json")
    common = raw["common"]
    out: dict[str, ArchSpec] = {}
    for name, spec in raw["archs"].items():
        tensors = {**common["tensors"], **spec.get("tensors", {})}
        drop = tuple(spec.get("drop", ()))
        rules = tuple(_Rule(_compile(hf), gg, "{xid}" in hf and "{xid}" not in gg)
                      for hf, gg in tensors.items() if hf not in drop)
        hparams = tuple((k, t, tuple(keys)) for k, t, keys in
                        [*common["hparams"], *spec.get("hparams", [])])
        computed = tuple(dict.fromkeys([*common.get("computed", []), *spec.get("computed", [])]))
        transforms = {k: tuple(v) for k, v in spec.get("transforms", {}).items()}
        out[name] = ArchSpec(name, tuple(spec["hf_architectures"]), rules, transforms, hparams,
                             computed, drop)
    return out


def find_arch(config: dict[str, Any]) -> ArchSpec:
    archs = config.get("architectures") or []
    for spec in load_archs().values():
        if any(a in spec.hf_architectures for a in archs):
            return spec
    known = sorted(a for s in load_archs().values() for a in s.hf_architectures)
    raise ModelLensError(f"GGUF export: architecture {archs or config.get('model_type')!r} has "
                         f"no table yet (known: {', '.join(known)})")


def config_get(config: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if config.get(k) is not None:
            return config[k]
    return None


def _rope(config: dict[str, Any]) -> dict[str, Any]:
    """Rope settings from ``rope_scaling`` + ``rope_theta`` (transformers 4) or
    ``rope_parameters`` (transformers 5)."""
    params = dict(config.get("rope_parameters") or {})
    if "full_attention" in params and isinstance(params["full_attention"], dict):
        params = dict(params["full_attention"])
    scaling = config.get("rope_scaling")
    if isinstance(scaling, dict):
        params.update(scaling)
    if "rope_type" not in params and "type" in params:
        params["rope_type"] = params["type"]
    if config.get("rope_theta") is not None:
        params.setdefault("rope_theta", config["rope_theta"])
    return params


def _head_dim(config: dict[str, Any]) -> int:
    hd = config.get("head_dim")
    if hd:
        return int(hd)
    return int(config["hidden_size"]) // int(config["num_attention_heads"])


def hparam_metadata(spec: ArchSpec, config: dict[str, Any], n_vocab: int
                    ) -> tuple[list[tuple[str, str, Any]], list[str]]:
    """(``<arch>.*`` metadata entries, warnings)."""
    a = spec.name
    kv: list[tuple[str, str, Any]] = []
    warnings: list[str] = []
    for key, vtype, keys in spec.hparams:
        v = config_get(config, *keys)
        if v is None:
            continue
        kv.append((f"{a}.{key}", vtype, float(v) if vtype == "f32" else int(v)))
    rope = _rope(config)
    comp = spec.computed
    if "vocab_size" in comp:
        kv.append((f"{a}.vocab_size", "u32", n_vocab))
    if "rope_freq_base" in comp and rope.get("rope_theta") is not None:
        kv.append((f"{a}.rope.freq_base", "f32", float(rope["rope_theta"])))
    if "head_dim" in comp and config.get("head_dim"):
        kv.append((f"{a}.attention.key_length", "u32", int(config["head_dim"])))
        kv.append((f"{a}.attention.value_length", "u32", int(config["head_dim"])))
    if "rope_dimension_count" in comp:
        frac = float(rope.get("partial_rotary_factor") or config.get("partial_rotary_factor") or 1.0)
        if frac == 1.0:
            dims = _head_dim(config)
        else:
            dims = int(frac * int(config["hidden_size"])) // int(config["num_attention_heads"])
        kv.append((f"{a}.rope.dimension_count", "u32", dims))
    if "rope_scaling" in comp:
        kind = str(rope.get("rope_type") or "default").lower()
        factor = rope.get("factor")
        if kind == "linear" and factor is not None:
            kv += [(f"{a}.rope.scaling.type", "str", "linear"),
                   (f"{a}.rope.scaling.factor", "f32", float(factor))]
        elif kind == "yarn" and factor is not None:
            kv += [(f"{a}.rope.scaling.type", "str", "yarn"),
                   (f"{a}.rope.scaling.factor", "f32", float(factor)),
                   (f"{a}.rope.scaling.original_context_length", "u32",
                    int(rope["original_max_position_embeddings"]))]
            for src, dst in (("extrapolation_factor", "yarn_ext_factor"),
                             ("attention_factor", "yarn_attn_factor"),
                             ("beta_fast", "yarn_beta_fast"), ("beta_slow", "yarn_beta_slow")):
                if rope.get(src) is not None:
                    kv.append((f"{a}.rope.scaling.{dst}", "f32", float(rope[src])))
        elif kind == "llama3" and "llama3_rope_freqs" in comp:
            pass  # written as the rope_freqs.weight tensor
        elif kind not in ("default", "none"):
            warnings.append(f"rope scaling {kind!r} is not exported; llama.cpp will use plain RoPE")
    return kv, warnings


def extra_tensors(spec: ArchSpec, config: dict[str, Any]) -> dict[str, np.ndarray]:
    """Tensors llama.cpp needs that the checkpoint does not hold (Llama 3's rope factors)."""
    out: dict[str, np.ndarray] = {}
    rope = _rope(config)
    if "llama3_rope_freqs" in spec.computed and str(rope.get("rope_type", "")).lower() == "llama3":
        base = float(rope.get("rope_theta", 10000.0))
        dim = _head_dim(config)
        freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
        factor = float(rope.get("factor", 8.0))
        low = float(rope.get("low_freq_factor", 1.0))
        high = float(rope.get("high_freq_factor", 4.0))
        old = float(rope.get("original_max_position_embeddings", 8192))
        factors = []
        for f in freqs:
            wavelen = 2 * math.pi / float(f)
            if wavelen < old / high:
                factors.append(1.0)
            elif wavelen > old / low:
                factors.append(factor)
            else:
                smooth = (old / wavelen - low) / (high - low)
                factors.append(1 / ((1 - smooth) / factor + smooth))
        out["rope_freqs.weight"] = np.asarray(factors, dtype=np.float32)
    return out


def _permute(w: np.ndarray, heads: int) -> np.ndarray:
    rows = w.shape[0]
    if rows % (2 * heads):
        raise ModelLensError(f"cannot reorder {rows} rows into {heads} RoPE heads")
    return (w.reshape(heads, 2, rows // heads // 2, *w.shape[1:]).swapaxes(1, 2)
            .reshape(w.shape))


def apply_transforms(ops: tuple[str, ...], w: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    for op in ops:
        if op == "permute_q":
            w = _permute(w, int(config["num_attention_heads"]))
        elif op == "permute_k":
            w = _permute(w, int(config.get("num_key_value_heads")
                                or config["num_attention_heads"]))
        elif op == "add_one":
            w = w + np.float32(1)
        else:
            raise ModelLensError(f"gguf_archs.json names an unknown transform {op!r}")
    return w
