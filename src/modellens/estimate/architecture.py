"""Parameter counts from a ``config.json``, family by family, equal to transformers' own.

A decoder-only family is a row of :data:`FAMILIES`: which norm it uses and how many per layer,
which projections carry biases, whether q/k are normalised, how its MLP is built and which
mixture-of-experts layout it has.  One function (:func:`_count_decoder`) reads such a row; the
few families whose blocks are not "attention + MLP" (GPT-2, BERT, T5, Whisper, Falcon) have a
counter of their own in :data:`_SPECIAL`, and vision towers one each in :data:`_VISION`.

The number is what ``sum(p.numel() for p in model.parameters())`` gives for the model class
transformers builds from the same config (tied embeddings counted once; registered buffers such
as DeepSeek-V3's ``e_score_correction_bias`` are not parameters).  Weights that a checkpoint
holds but transformers does not load -- DeepSeek-V3 / GLM-4.5's multi-token-prediction layers,
router correction biases -- are reported apart in ``checkpoint_extra``.  An architecture not in
the table gets a generic decoder formula and ``exact = False``.

The module imports the standard library only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

__all__ = [
    "ParameterCount",
    "AttentionLayout",
    "count_parameters",
    "attention_layout",
    "text_config",
    "remote_code_config",
    "supported_model_types",
]

Config = Mapping[str, Any]
_NESTED_TEXT = ("text_config", "llm_config", "language_config", "thinker_config")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ParameterCount:
    """Parameters of one architecture, by component.

    ``total`` is what transformers instantiates; ``active`` what one token passes through (MoE:
    router + top-k experts + shared experts; equal to ``total`` for dense models; vision towers
    excluded from neither).  ``checkpoint_extra`` holds weights that published checkpoints
    carry beyond ``total`` (MTP layers …), not loaded by transformers.
    """

    model_type: str
    total: int
    active: int
    components: dict[str, int]
    exact: bool = True
    tied_embeddings: bool = False
    notes: tuple[str, ...] = ()
    checkpoint_extra: dict[str, int] = field(default_factory=dict)

    @property
    def checkpoint_total(self) -> int:
        return self.total + sum(self.checkpoint_extra.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_type": self.model_type,
            "total": self.total,
            "active": self.active,
            "components": dict(self.components),
            "exact": self.exact,
            "tied_embeddings": self.tied_embeddings,
            "checkpoint_extra": dict(self.checkpoint_extra),
            "checkpoint_total": self.checkpoint_total,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class AttentionLayout:
    """What the KV cache of one sequence holds, per token, layer group by layer group.

    ``groups`` are ``(layers, kind, elements_per_token, window)``: ``kind`` is ``full``,
    ``sliding`` (cache capped at ``window`` tokens), ``mla`` (DeepSeek's compressed latent:
    ``kv_lora_rank + qk_rope_head_dim`` elements, as vLLM and SGLang cache it) or ``linear``
    (a fixed-size recurrent state: ``elements_per_token`` is then the whole state).
    ``mla_expanded`` is what transformers' eager implementation caches instead (full K and V).
    """

    groups: tuple[tuple[int, str, int, int | None], ...]
    mla_expanded: int | None = None
    kv_heads: int | None = None
    heads: int | None = None
    head_dim: int | None = None

    def elements(self, tokens: int, *, expanded_mla: bool = False, windows: bool = True) -> int:
        """Cache elements for ``tokens`` tokens of one sequence."""
        total = 0
        for layers, kind, per_token, window in self.groups:
            if kind == "linear":
                total += layers * per_token
            elif kind == "sliding" and windows and window:
                total += layers * per_token * min(tokens, window)
            elif kind == "mla" and expanded_mla and self.mla_expanded:
                total += layers * self.mla_expanded * tokens
            else:
                total += layers * per_token * tokens
        return total

    def to_dict(self) -> dict[str, Any]:
        return {"groups": [{"layers": n, "kind": k, "elements_per_token": e, "window": w}
                           for n, k, e, w in self.groups]}


# --------------------------------------------------------------------------- config access


def _g(cfg: Config, *keys: str, default: Any = None) -> Any:
    for k in keys:
        v = cfg.get(k)
        if v is not None:
            return v
    return default


def text_config(cfg: Config) -> Config:
    """The language model's config: the nested ``text_config`` of a multimodal config."""
    for k in _NESTED_TEXT:
        sub = cfg.get(k)
        if isinstance(sub, dict) and sub.get("hidden_size"):
            return sub
    return cfg


def _head_dim(c: Config) -> int:
    hd = c.get("head_dim")
    if isinstance(hd, int) and hd > 0:
        return hd
    return int(_g(c, "hidden_size", "n_embd", "d_model")) // int(_g(c, "num_attention_heads", "n_head"))


def _flag(c: Config, spec: bool | str) -> bool:
    return bool(c.get(spec, False)) if isinstance(spec, str) else spec


# --------------------------------------------------------------------------- decoder families


@dataclass(frozen=True)
class MoE:
    """How a family lays out its mixture-of-experts layers.

    ``layers``: which layers are sparse -- ``all``, ``qwen`` (``decoder_sparse_step`` and
    ``mlp_only_layers``), ``deepseek`` (``first_k_dense_replace``, ``moe_layer_freq``) or
    ``llama4`` (``moe_layers``, default every ``interleave_moe_layer_step``-th).
    ``shared``: ``none``, ``deepseek`` (one MLP of ``n_shared_experts × moe_intermediate_size``),
    ``qwen`` (``shared_expert_intermediate_size`` + a 1-output gate) or ``llama4`` (one MLP of
    ``intermediate_size``).
    """

    inter_keys: tuple[str, ...] = ("moe_intermediate_size",)
    layers: str = "all"
    shared: str = "none"
    router_bias: bool = False
    expert_bias: bool = False
    checkpoint_router_bias: bool = False  # e_score_correction_bias: a buffer in transformers


@dataclass(frozen=True)
class Family:
    norm: str = "rms"  # rms: weight; layer: weight + bias; none: no parameters
    norms_per_layer: int = 2
    qkv_bias: bool | str = "attention_bias"
    o_bias: bool | str = "attention_bias"
    mlp_bias: bool | str = False
    qk_norm: str | bool = False  # "head": head_dim each; "full": over all heads; key name: optional
    attention: str = "gqa"  # gqa or mla
    sinks: bool = False
    moe: MoE | None = None
    dense_inter_keys: tuple[str, ...] = ("intermediate_size",)
    tie_default: bool = False
    mtp_key: str | None = None
    sliding: str = "none"  # none, all, layer_types, gemma2 (even layers), gemma3 (pattern), qwen2
    linear_attention: bool = False
    family: str = ""


_LLAMA = Family(mlp_bias="mlp_bias", family="llama")
_DEEPSEEK_MOE = MoE(layers="deepseek", shared="deepseek")
_DSV3_MOE = MoE(layers="deepseek", shared="deepseek", checkpoint_router_bias=True)
_QWEN_MOE = MoE(layers="qwen", shared="qwen")

FAMILIES: dict[str, Family] = {
    "llama": _LLAMA,
    "mistral": Family(qkv_bias=False, o_bias=False, sliding="all", family="mistral"),
    "ministral": Family(qkv_bias=False, o_bias=False, sliding="layer_types", family="mistral"),
    "mixtral": Family(qkv_bias=False, o_bias=False, sliding="all", family="mixtral",
                      moe=MoE(inter_keys=("intermediate_size",))),
    "qwen2": Family(qkv_bias=True, o_bias=False, sliding="qwen2", family="qwen2"),
    "qwen2_moe": Family(qkv_bias=True, o_bias=False, moe=_QWEN_MOE, sliding="qwen2", family="qwen2_moe"),
    "qwen3": Family(qk_norm="head", sliding="qwen2", family="qwen3"),
    "qwen3_moe": Family(qk_norm="head", moe=MoE(layers="qwen"), sliding="qwen2", family="qwen3_moe"),
    "deepseek_v2": Family(attention="mla", moe=_DEEPSEEK_MOE, qkv_bias="attention_bias", family="deepseek_v2"),
    "deepseek_v3": Family(attention="mla", moe=_DSV3_MOE, mtp_key="num_nextn_predict_layers", family="deepseek_v3"),
    "gemma": Family(qkv_bias="attention_bias", tie_default=True, family="gemma"),
    "gemma2": Family(norms_per_layer=4, tie_default=True, sliding="gemma2", family="gemma2"),
    "gemma3_text": Family(norms_per_layer=4, qk_norm="head", tie_default=True, sliding="gemma3", family="gemma3"),
    "phi3": Family(qkv_bias=False, o_bias=False, sliding="all", family="phi3"),
    "glm4": Family(norms_per_layer=4, o_bias=False, family="glm4"),
    "glm4_moe": Family(o_bias=False, qk_norm="use_qk_norm", moe=_DSV3_MOE, mtp_key="num_nextn_predict_layers",
                       family="glm4_moe"),
    "gpt_oss": Family(qkv_bias=True, o_bias=True, sinks=True, sliding="layer_types", family="gpt_oss",
                      moe=MoE(inter_keys=("intermediate_size",), router_bias=True, expert_bias=True)),
    "olmo": Family(norm="none", family="olmo"),
    "olmo2": Family(qk_norm="full", family="olmo2"),
    "olmo3": Family(qk_norm="full", sliding="layer_types", family="olmo3"),
    "llama4_text": Family(moe=MoE(inter_keys=("intermediate_size",), layers="llama4", shared="llama4"),
                          dense_inter_keys=("intermediate_size_mlp",), family="llama4"),
    "granite": Family(mlp_bias="mlp_bias", family="granite"),
    "cohere": Family(norm="layer_nobias", norms_per_layer=1, qk_norm="use_qk_norm", tie_default=True, family="cohere"),
    "starcoder2": Family(norm="layer", qkv_bias="use_bias", o_bias="use_bias", mlp_bias="use_bias",
                         tie_default=True, family="starcoder2"),
    "phimoe": Family(norm="layer", qkv_bias=True, o_bias=True, moe=MoE(inter_keys=("intermediate_size",)),
                     sliding="all", family="phimoe"),
    "qwen3_next": Family(qk_norm="head", moe=_QWEN_MOE, linear_attention=True, family="qwen3_next"),
    # Qwen (1.0), remote code: read through remote_code_config (c_attn = fused q/k/v with bias)
    "qwen": Family(qkv_bias=True, o_bias=False, family="qwen"),
}
# Multimodal wrappers: their text model is one of the rows above.
_TEXT_OF = {
    "qwen2_vl": "qwen2", "qwen2_5_vl": "qwen2", "qwen2_vl_text": "qwen2", "qwen2_5_vl_text": "qwen2",
    "gemma3": "gemma3_text", "llama4": "llama4_text", "mistral3": "mistral", "llava": "llama",
}


def _mlp(h: int, inter: int, gated: bool = True, bias: bool = False) -> int:
    n = (3 if gated else 2) * h * inter
    if bias:
        n += (2 * inter if gated else inter) + h
    return n


def _norm(kind: str, h: int) -> int:
    return {"rms": h, "layer": 2 * h, "layer_nobias": h, "none": 0}[kind]


def _attention(c: Config, f: Family) -> int:
    h = int(c["hidden_size"])
    heads = int(c["num_attention_heads"])
    if f.attention == "mla":
        bias = bool(c.get("attention_bias", False))
        nope, rope = int(c["qk_nope_head_dim"]), int(c["qk_rope_head_dim"])
        v_dim, kv_rank = int(c["v_head_dim"]), int(c["kv_lora_rank"])
        q_rank = c.get("q_lora_rank")
        qk = nope + rope
        if q_rank:
            q = h * q_rank + (q_rank if bias else 0) + q_rank + q_rank * heads * qk  # a, a-norm, b
        else:
            q = h * heads * qk
        kv = h * (kv_rank + rope) + (kv_rank + rope if bias else 0) + kv_rank + kv_rank * heads * (nope + v_dim)
        o = heads * v_dim * h + (h if bias else 0)
        return q + kv + o
    kv_heads = int(_g(c, "num_key_value_heads", default=heads))
    hd = _head_dim(c)
    q_dim, kv_dim = heads * hd, kv_heads * hd
    n = h * q_dim + 2 * h * kv_dim + q_dim * h
    if _flag(c, f.qkv_bias):
        n += q_dim + 2 * kv_dim
    if _flag(c, f.o_bias):
        n += h
    qk_norm = f.qk_norm if f.qk_norm in ("head", "full", False) else ("head" if c.get(f.qk_norm) else False)
    if qk_norm == "head":
        n += 2 * hd
    elif qk_norm == "full":
        n += q_dim + kv_dim
    if f.sinks:
        n += heads
    return n


def _moe_layer_ids(c: Config, moe: MoE, layers: int) -> list[bool]:
    if moe.layers == "all":
        return [True] * layers
    if moe.layers == "qwen":
        step = int(c.get("decoder_sparse_step") or 1)
        only = set(c.get("mlp_only_layers") or [])
        n_exp = int(_g(c, "num_experts", default=0))
        return [i not in only and n_exp > 0 and (i + 1) % step == 0 for i in range(layers)]
    if moe.layers == "deepseek":
        k = int(c.get("first_k_dense_replace") or 0)
        freq = int(c.get("moe_layer_freq") or 1)
        has = _g(c, "n_routed_experts") is not None
        return [has and i >= k and i % freq == 0 for i in range(layers)]
    if moe.layers == "llama4":
        ids = c.get("moe_layers")
        if ids is None:
            step = int(c.get("interleave_moe_layer_step") or 1)
            ids = list(range(step - 1, layers, step))
        ids = set(ids)
        return [i in ids for i in range(layers)]
    raise ValueError(moe.layers)


def _moe_layer(c: Config, moe: MoE) -> tuple[int, int, dict[str, int]]:
    """(total, active, parts) of one sparse MLP block."""
    h = int(c["hidden_size"])
    n_exp = int(_g(c, "num_local_experts", "num_experts", "n_routed_experts"))
    top_k = int(_g(c, "num_experts_per_tok", "experts_per_token", default=1))
    inter = int(_g(c, *moe.inter_keys))
    router = n_exp * h + (n_exp if moe.router_bias else 0)
    expert = _mlp(h, inter, bias=moe.expert_bias)
    shared = 0
    if moe.shared == "deepseek" and c.get("n_shared_experts"):
        shared = _mlp(h, inter * int(c["n_shared_experts"]))
    elif moe.shared == "qwen" and c.get("shared_expert_intermediate_size"):
        shared = _mlp(h, int(c["shared_expert_intermediate_size"])) + h
    elif moe.shared == "llama4":
        shared = _mlp(h, inter)
    parts = {"router": router, "experts": n_exp * expert, "shared_experts": shared}
    return router + n_exp * expert + shared, router + top_k * expert + shared, parts


def _mtp_layer(c: Config, f: Family) -> int:
    """One DeepSeek-V3 style multi-token-prediction layer as checkpoints store it: a decoder
    layer (MoE), enorm + hnorm, eh_proj (2h -> h) and a final norm; embeddings/head shared."""
    h = int(c["hidden_size"])
    moe_total = _moe_layer(c, f.moe)[0] if f.moe else _mlp(h, int(c["intermediate_size"]))
    router_bias = int(_g(c, "n_routed_experts", default=0)) if f.moe and f.moe.checkpoint_router_bias else 0
    return _attention(c, f) + moe_total + router_bias + 2 * h + 3 * h + 2 * h * h


def _count_decoder(model_type: str, c: Config, f: Family) -> ParameterCount:
    h = int(c["hidden_size"])
    layers = int(c["num_hidden_layers"])
    vocab = int(c["vocab_size"])
    tied = bool(c.get("tie_word_embeddings", f.tie_default))
    notes: list[str] = []
    comp: dict[str, int] = {"embeddings": vocab * h, "attention": 0, "mlp": 0, "norms": 0}
    active = vocab * h
    sparse = _moe_layer_ids(c, f.moe, layers) if f.moe else [False] * layers
    dense_inter = _g(c, *f.dense_inter_keys)
    mlp_bias = _flag(c, f.mlp_bias)
    per_norm = _norm(f.norm, h)
    attn = _attention(c, f)
    linear_ids = _linear_attention_ids(c) if f.linear_attention else set()
    lin = _linear_attention_params(c) if linear_ids else 0
    router_buffers = 0
    for i in range(layers):
        a = lin if i in linear_ids else attn
        comp["attention"] += a
        comp["norms"] += f.norms_per_layer * per_norm
        active += a + f.norms_per_layer * per_norm
        if sparse[i]:
            total, act, parts = _moe_layer(c, f.moe)  # type: ignore[arg-type]
            for k, v in parts.items():
                if v:
                    comp[k] = comp.get(k, 0) + v
            active += act
            if f.moe.checkpoint_router_bias:  # type: ignore[union-attr]
                router_buffers += int(_g(c, "n_routed_experts", default=0))
        else:
            m = _mlp(h, int(dense_inter), bias=mlp_bias)
            comp["mlp"] += m
            active += m
    comp["norms"] += per_norm
    active += per_norm
    if not tied:
        comp["lm_head"] = vocab * h
        active += vocab * h
    else:
        notes.append("input embeddings and output head are tied: counted once")
    if f.moe:
        notes.append(f"mixture of experts: {sum(sparse)} of {layers} layers sparse")
    if f.attention == "mla":
        notes.append("multi-head latent attention (q/kv low-rank projections)")
    extra: dict[str, int] = {}
    n_mtp = int(c.get(f.mtp_key) or 0) if f.mtp_key else 0
    if n_mtp:
        extra["mtp_layers"] = n_mtp * _mtp_layer(c, f)
        notes.append(f"checkpoint also holds {n_mtp} multi-token-prediction layer(s), not loaded by transformers")
    if router_buffers:
        extra["router_correction_bias"] = router_buffers
    comp = {k: v for k, v in comp.items() if v}
    total = sum(comp.values())
    return ParameterCount(model_type, total, active, comp, True, tied, tuple(notes), extra)


def _linear_attention_ids(c: Config) -> set[int]:
    types = c.get("layer_types")
    if isinstance(types, list):
        return {i for i, t in enumerate(types) if t == "linear_attention"}
    interval = int(c.get("full_attention_interval") or 4)
    return {i for i in range(int(c["num_hidden_layers"])) if (i + 1) % interval}


def _linear_attention_params(c: Config) -> int:
    """Qwen3-Next's gated DeltaNet block (in_proj_qkvz, in_proj_ba, conv1d, A_log, dt_bias,
    gated norm, out_proj)."""
    h = int(c["hidden_size"])
    nk, nv = int(c["linear_num_key_heads"]), int(c["linear_num_value_heads"])
    dk, dv = int(c["linear_key_head_dim"]), int(c["linear_value_head_dim"])
    key_dim, value_dim = nk * dk, nv * dv
    conv_dim = 2 * key_dim + value_dim
    kernel = int(c.get("linear_conv_kernel_dim") or 4)
    return (h * (2 * key_dim + 2 * value_dim) + h * 2 * nv + conv_dim * kernel
            + 2 * nv + dv + value_dim * h)


# --------------------------------------------------------------------------- other families


def _gpt2(c: Config) -> ParameterCount:
    h, layers = int(_g(c, "n_embd", "hidden_size")), int(_g(c, "n_layer", "num_hidden_layers"))
    inner = int(_g(c, "n_inner", default=4 * h))
    vocab, pos = int(c["vocab_size"]), int(_g(c, "n_positions", "max_position_embeddings"))
    block = 2 * h + (3 * h * h + 3 * h) + (h * h + h) + 2 * h + (h * inner + inner) + (inner * h + h)
    comp = {"embeddings": vocab * h + pos * h, "blocks": layers * block, "norms": 2 * h}
    total = sum(comp.values())
    return ParameterCount("gpt2", total, total, comp, True, True,
                          ("GPT2LMHeadModel: output head tied to the token embeddings",))


def _bert(c: Config) -> ParameterCount:
    h, layers, inter = int(c["hidden_size"]), int(c["num_hidden_layers"]), int(c["intermediate_size"])
    emb = (int(c["vocab_size"]) + int(c.get("max_position_embeddings", 512))
           + int(c.get("type_vocab_size", 2))) * h + 2 * h
    block = 4 * (h * h + h) + 2 * h + (h * inter + inter) + (inter * h + h) + 2 * h
    comp = {"embeddings": emb, "blocks": layers * block, "pooler": h * h + h}
    total = sum(comp.values())
    return ParameterCount("bert", total, total, comp, True, False, ("BertModel (AutoModel): encoder + pooler",))


def _t5(c: Config) -> ParameterCount:
    d, d_kv, heads, d_ff = int(c["d_model"]), int(c["d_kv"]), int(c["num_heads"]), int(c["d_ff"])
    enc, dec = int(c["num_layers"]), int(_g(c, "num_decoder_layers", "num_layers"))
    vocab, buckets = int(c["vocab_size"]), int(c.get("relative_attention_num_buckets", 32))
    gated = str(c.get("feed_forward_proj", "relu")).startswith("gated")
    inner = heads * d_kv
    attn = 4 * d * inner if True else 0
    ff = (3 if gated else 2) * d * d_ff
    enc_p = enc * (attn + d + ff + d) + buckets * heads + d
    dec_p = dec * (2 * (attn + d) + ff + d) + buckets * heads + d
    tied = bool(c.get("tie_word_embeddings", True))
    comp = {"embeddings": vocab * d, "encoder": enc_p, "decoder": dec_p}
    if not tied:
        comp["lm_head"] = vocab * d
    total = sum(comp.values())
    return ParameterCount("t5", total, total, comp, True, tied, ("T5ForConditionalGeneration",))


def _whisper(c: Config) -> ParameterCount:
    d = int(c["d_model"])
    mels, vocab = int(c.get("num_mel_bins", 80)), int(c["vocab_size"])
    enc, dec = int(c["encoder_layers"]), int(c["decoder_layers"])
    enc_ff, dec_ff = int(c["encoder_ffn_dim"]), int(c["decoder_ffn_dim"])
    attn = 4 * d * d + 3 * d  # k_proj has no bias
    enc_layer = attn + 2 * d + (d * enc_ff + enc_ff) + (enc_ff * d + d) + 2 * d
    dec_layer = 2 * (attn + 2 * d) + (d * dec_ff + dec_ff) + (dec_ff * d + d) + 2 * d
    conv = (mels * d * 3 + d) + (d * d * 3 + d)
    encoder = conv + int(c["max_source_positions"]) * d + enc * enc_layer + 2 * d
    decoder = vocab * d + int(c["max_target_positions"]) * d + dec * dec_layer + 2 * d
    comp = {"encoder": encoder, "decoder": decoder}
    total = encoder + decoder
    return ParameterCount("whisper", total, total, comp, True, True,
                          ("WhisperForConditionalGeneration: proj_out tied to the decoder embeddings",
                           "encoder positional embeddings are a (frozen) parameter"))


def _falcon(c: Config) -> ParameterCount:
    h, layers, heads = int(c["hidden_size"]), int(c["num_hidden_layers"]), int(c["num_attention_heads"])
    hd = h // heads
    new_arch = bool(c.get("new_decoder_architecture", False))
    if new_arch:
        kv = int(_g(c, "num_kv_heads", default=heads))
    else:
        kv = 1 if c.get("multi_query", True) else heads
    bias = bool(c.get("bias", False))
    qkv_out = (heads + 2 * kv) * hd
    ffn = int(_g(c, "ffn_hidden_size", default=4 * h))
    attn = h * qkv_out + h * h + ((qkv_out + h) if bias else 0)
    mlp = 2 * h * ffn + ((ffn + h) if bias else 0)
    parallel = bool(c.get("parallel_attn", True))
    if new_arch:
        n_ln = int(c.get("num_ln_in_parallel_attn") or 2)
    else:
        n_ln = 1 if parallel else 2
    block = attn + mlp + n_ln * 2 * h
    vocab = int(c["vocab_size"])
    tied = bool(c.get("tie_word_embeddings", True))
    comp = {"embeddings": vocab * h, "blocks": layers * block, "norms": 2 * h}
    if not tied:
        comp["lm_head"] = vocab * h
    total = sum(comp.values())
    return ParameterCount("falcon", total, total, comp, True, tied, ())


_SPECIAL: dict[str, Callable[[Config], ParameterCount]] = {
    "gpt2": _gpt2, "bert": _bert, "t5": _t5, "mt5": _t5, "whisper": _whisper, "falcon": _falcon,
}


# --------------------------------------------------------------------------- vision towers


def _vit_block(e: int, inter: int, norm: int = 2) -> int:
    """A ViT block: two norms, q/k/v/o with biases, fc1/fc2 with biases."""
    return 2 * norm * e + 4 * (e * e + e) + (e * inter + inter) + (inter * e + e)


def _qwen2_vl_vision(v: Config, text_h: int) -> int:
    e = int(v.get("embed_dim", v.get("hidden_size")))
    depth, ratio = int(v["depth"]), float(v.get("mlp_ratio", 4))
    inter = int(e * ratio)
    patch = int(v.get("in_chans", v.get("in_channels", 3))) * int(v.get("temporal_patch_size", 2)) * int(v["patch_size"]) ** 2
    merge = e * int(v.get("spatial_merge_size", 2)) ** 2
    out = int(v.get("hidden_size", text_h)) if "embed_dim" in v else text_h
    block = 4 * e + (3 * e * e + 3 * e) + (e * e + e) + (e * inter + inter) + (inter * e + e)
    merger = 2 * e + (merge * merge + merge) + (merge * out + out)
    return patch * e + depth * block + merger


def _qwen2_5_vl_vision(v: Config, text_h: int) -> int:
    e, depth, inter = int(v["hidden_size"]), int(v["depth"]), int(v["intermediate_size"])
    patch = int(v.get("in_chans", v.get("in_channels", 3))) * int(v.get("temporal_patch_size", 2)) * int(v["patch_size"]) ** 2
    merge = e * int(v.get("spatial_merge_size", 2)) ** 2
    out = int(v.get("out_hidden_size", text_h))
    block = 2 * e + (3 * e * e + 3 * e) + (e * e + e) + 3 * e * inter + 2 * inter + e
    merger = e + (merge * merge + merge) + (merge * out + out)
    return patch * e + depth * block + merger


def _siglip_vision(v: Config, text_h: int) -> int:
    e, inter, layers = int(v["hidden_size"]), int(v["intermediate_size"]), int(v["num_hidden_layers"])
    p, size = int(v["patch_size"]), int(v["image_size"])
    n = int(v.get("num_channels", 3)) * p * p * e + e + (size // p) ** 2 * e
    n += layers * _vit_block(e, inter) + 2 * e
    if v.get("vision_use_head", True):
        n += e + (3 * e * e + 3 * e) + (e * e + e) + 2 * e + (e * inter + inter) + (inter * e + e)
    return n


def _llama4_vision(v: Config, text_h: int) -> int:
    e, inter, layers = int(v["hidden_size"]), int(v["intermediate_size"]), int(v["num_hidden_layers"])
    p, size = int(v["patch_size"]), int(v["image_size"])
    n = int(v.get("num_channels", 3)) * p * p * e + e + ((size // p) ** 2 + 1) * e + 4 * e
    n += layers * _vit_block(e, inter)
    n += inter * int(v["projector_input_dim"]) + int(v["projector_output_dim"]) ** 2
    return n


_VISION: dict[str, tuple[Callable[[Config, int], int], Callable[[Config, Config], int]]] = {
    # model_type -> (vision tower, projector(cfg, vision_cfg))
    "qwen2_vl": (_qwen2_vl_vision, lambda c, v: 0),
    "qwen2_5_vl": (_qwen2_5_vl_vision, lambda c, v: 0),
    "gemma3": (_siglip_vision, lambda c, v: int(v["hidden_size"]) * int(text_config(c)["hidden_size"]) + int(v["hidden_size"])),
    "llama4": (_llama4_vision, lambda c, v: int(v["vision_output_dim"]) * int(text_config(c)["hidden_size"])),
}


# --------------------------------------------------------------------------- remote-code configs


def _qwen1(c: Config) -> dict[str, Any]:
    """Qwen (1.0, ``QWenLMHeadModel``): ``c_attn`` (fused q/k/v, with bias) and ``c_proj``; an MLP
    of ``w1`` / ``w2`` (each ``intermediate_size / 2`` wide, gated) and ``c_proj``; RMS norms; an
    untied ``lm_head``; ``kv_channels`` is the head size and every head has its own k/v."""
    heads = int(c["num_attention_heads"])
    return {**c, "num_key_value_heads": heads, "intermediate_size": int(c["intermediate_size"]) // 2,
            "head_dim": int(c.get("kv_channels") or int(c["hidden_size"]) // heads),
            "tie_word_embeddings": False, "attention_bias": True}


_REMOTE_CODE: dict[str, Callable[[Config], dict[str, Any]]] = {"qwen": _qwen1}


def remote_code_config(cfg: Config) -> Config:
    """A remote-code family's config in the keys this module reads (the original otherwise).

    Models that ship their own modelling code (``trust_remote_code``) name their sizes their own
    way; the ones in :data:`_REMOTE_CODE` are mapped onto the standard keys once, here, so the
    counts, the KV layout and the LoRA modules all read the same numbers."""
    mt = str(cfg.get("model_type") or "")
    if mt in _REMOTE_CODE and not cfg.get("_modellens_mapped"):
        return {**_REMOTE_CODE[mt](cfg), "_modellens_mapped": mt}
    return cfg


# --------------------------------------------------------------------------- entry points


def supported_model_types() -> list[str]:
    return sorted(set(FAMILIES) | set(_SPECIAL) | set(_TEXT_OF))


def _generic(model_type: str, c: Config) -> ParameterCount:
    """A llama-like decoder: GQA attention, gated MLP, RMS norms, untied head."""
    f = Family(qkv_bias="attention_bias", family="generic")
    pc = _count_decoder(model_type, c, f)
    return ParameterCount(model_type or "unknown", pc.total, pc.active, pc.components, False,
                          pc.tied_embeddings,
                          ("architecture not in modellens' table: generic decoder formula, approximate",)
                          + pc.notes)


def count_parameters(cfg: Config) -> ParameterCount:
    """Parameters of the model a ``config.json`` describes (the class transformers builds)."""
    cfg = remote_code_config(cfg)
    mt = str(cfg.get("model_type") or "")
    if mt in _SPECIAL:
        return _SPECIAL[mt](cfg)
    if mt in FAMILIES:
        pc = _count_decoder(mt, cfg, FAMILIES[mt])
        if cfg.get("_modellens_mapped"):
            pc = dataclasses.replace(pc, notes=(f"{mt}: remote-code model (trust_remote_code); its config "
                                                "read with the layout of its modelling code",) + pc.notes)
        return pc
    if mt in _TEXT_OF:
        tc = text_config(cfg)
        text_mt = _TEXT_OF[mt]
        if tc is not cfg and "vocab_size" not in tc and "vocab_size" in cfg:
            tc = {**tc, "vocab_size": cfg["vocab_size"]}
        if tc is cfg:
            tc = {**cfg}
        if "tie_word_embeddings" in cfg and "tie_word_embeddings" not in tc:
            tc = {**tc, "tie_word_embeddings": cfg["tie_word_embeddings"]}
        text = _count_decoder(text_mt, tc, FAMILIES[text_mt])
        comp = dict(text.components)
        notes = list(text.notes)
        vision = 0
        v = cfg.get("vision_config")
        if mt in _VISION and isinstance(v, dict):
            tower, projector = _VISION[mt]
            comp["vision"] = tower(v, int(tc["hidden_size"]))
            proj = projector(cfg, v)
            if proj:
                comp["projector"] = proj
            vision = comp["vision"] + proj
            notes.append("vision tower and projector included")
        return ParameterCount(mt, text.total + vision, text.active + vision, comp, True,
                              text.tied_embeddings, tuple(notes), text.checkpoint_extra)
    tc = text_config(cfg)
    if all(k in tc for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")):
        if not tc.get("intermediate_size"):
            tc = {**tc, "intermediate_size": 4 * int(tc["hidden_size"])}
        return _generic(mt, tc)
    raise KeyError(f"config has no model_type modellens knows ({mt or 'none'}) and lacks "
                   "hidden_size / num_hidden_layers / num_attention_heads / vocab_size")


# --------------------------------------------------------------------------- attention layout


def _sliding_flags(c: Config, f: Family, layers: int) -> list[bool]:
    window = c.get("sliding_window")
    types = c.get("layer_types")
    if isinstance(types, list) and len(types) == layers and f.sliding != "qwen2":
        return [t == "sliding_attention" for t in types]
    if not window:
        return [False] * layers
    if f.sliding == "all":
        return [True] * layers
    if f.sliding == "gemma2":
        return [i % 2 == 0 for i in range(layers)]
    if f.sliding == "gemma3":
        pattern = int(c.get("sliding_window_pattern") or 6)
        return [(i + 1) % pattern != 0 for i in range(layers)]
    if f.sliding == "qwen2":
        if not c.get("use_sliding_window"):
            return [False] * layers
        start = int(c.get("max_window_layers") or 0)
        return [i >= start for i in range(layers)]
    return [False] * layers


def attention_layout(cfg: Config) -> AttentionLayout | None:
    """Per-token KV cache elements of the text model (None for encoder-only models)."""
    cfg = remote_code_config(cfg)
    mt = str(cfg.get("model_type") or "")
    c = text_config(cfg)
    if mt in ("bert",):
        return None
    if mt == "gpt2":
        h, n = int(_g(c, "n_embd", "hidden_size")), int(_g(c, "n_layer", "num_hidden_layers"))
        return AttentionLayout(((n, "full", 2 * h, None),), heads=int(_g(c, "n_head")), kv_heads=int(_g(c, "n_head")))
    if mt in ("t5", "mt5"):
        inner = int(c["num_heads"]) * int(c["d_kv"])
        return AttentionLayout(((int(_g(c, "num_decoder_layers", "num_layers")), "full", 2 * inner, None),),
                               heads=int(c["num_heads"]), kv_heads=int(c["num_heads"]), head_dim=int(c["d_kv"]))
    if mt == "whisper":
        d = int(c["d_model"])
        return AttentionLayout(((int(c["decoder_layers"]), "full", 2 * d, None),),
                               heads=int(c["decoder_attention_heads"]), kv_heads=int(c["decoder_attention_heads"]))
    if mt == "falcon":
        heads = int(c["num_attention_heads"])
        hd = int(c["hidden_size"]) // heads
        kv = int(_g(c, "num_kv_heads", default=heads)) if c.get("new_decoder_architecture") else (1 if c.get("multi_query", True) else heads)
        return AttentionLayout(((int(c["num_hidden_layers"]), "full", 2 * kv * hd, None),), heads=heads, kv_heads=kv, head_dim=hd)
    f = FAMILIES.get(_TEXT_OF.get(mt, mt), Family())
    layers = int(c["num_hidden_layers"])
    heads = int(c["num_attention_heads"])
    if f.attention == "mla":
        latent = int(c["kv_lora_rank"]) + int(c["qk_rope_head_dim"])
        expanded = heads * (int(c["qk_nope_head_dim"]) + int(c["qk_rope_head_dim"]) + int(c["v_head_dim"]))
        return AttentionLayout(((layers, "mla", latent, None),), mla_expanded=expanded, heads=heads, kv_heads=1)
    kv_heads = int(_g(c, "num_key_value_heads", default=heads))
    hd = _head_dim(c)
    per_token = 2 * kv_heads * hd
    linear_ids = _linear_attention_ids(c) if f.linear_attention else set()
    sliding = _sliding_flags(c, f, layers)
    window = c.get("sliding_window")
    n_slide = sum(1 for i in range(layers) if sliding[i] and i not in linear_ids)
    n_full = layers - n_slide - len(linear_ids)
    groups: list[tuple[int, str, int, int | None]] = []
    if n_full:
        groups.append((n_full, "full", per_token, None))
    if n_slide:
        groups.append((n_slide, "sliding", per_token, int(window)))
    if linear_ids:
        nv, dk, dv = int(c["linear_num_value_heads"]), int(c["linear_key_head_dim"]), int(c["linear_value_head_dim"])
        conv = (2 * int(c["linear_num_key_heads"]) * dk + nv * dv) * int(c.get("linear_conv_kernel_dim") or 4)
        groups.append((len(linear_ids), "linear", nv * dk * dv + conv, None))
    return AttentionLayout(tuple(groups), heads=heads, kv_heads=kv_heads, head_dim=hd)
