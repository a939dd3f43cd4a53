"""Memory estimates whose every component is shown: inference (weights, KV cache, activations,
runtime overhead per engine) and training (full fine-tuning with AdamW, ZeRO / FSDP, LoRA,
QLoRA, prompt tuning).

Every number comes with the assumption behind it in ``Estimate.assumptions``; docs/estimate.md
derives the formulas and shows the validation against published measurements.
``Estimate.to_dict()`` is the ``modellens.estimate/1`` JSON contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..core.errors import ModelLensError
from .architecture import AttentionLayout, ParameterCount, text_config
from .hardware import GPU, HardwareFit, fit
from .quant import DTYPE_BYTES, QuantScheme, get_scheme, use_more_bits

__all__ = ["SCHEMA", "ModelSpec", "Estimate", "ENGINES", "MODES", "estimate_inference",
           "estimate_training", "lora_parameters", "lora_modules", "at_a_glance"]

SCHEMA = "modellens.estimate/1"
MODES = ("inference", "full", "lora", "qlora", "prompt-tuning")
COMPONENTS = ("weights", "kv_cache", "activations", "gradients", "optimizer", "adapters", "overhead")
GiB = 2**30


@dataclass(frozen=True)
class Engine:
    """Runtime presets: what an engine adds beyond weights and KV cache."""

    name: str
    runtime_bytes: int  # CUDA context, allocator slack, libraries: not seen by torch's allocator
    graph_bytes: int = 0  # CUDA graphs (vLLM)
    profile_tokens: int = 0  # vLLM's profiling batch (max_num_batched_tokens)
    ubatch: int = 0  # llama.cpp's n_ubatch
    full_context_default: bool = False  # vLLM: max_model_len defaults to the config's maximum
    mla_latent: bool = True  # caches DeepSeek's compressed latent, not expanded K/V
    note: str = ""


ENGINES: dict[str, Engine] = {
    "transformers": Engine("transformers", runtime_bytes=int(0.5 * GiB), mla_latent=False,
                           note="HF generate(): DynamicCache; activations of one decode step"),
    "vllm": Engine("vllm", runtime_bytes=int(0.4 * GiB), graph_bytes=int(0.5 * GiB), profile_tokens=8192,
                   full_context_default=True,
                   note="vLLM reserves gpu-memory-utilization × device memory and fills the rest with KV blocks"),
    "llama.cpp": Engine("llama.cpp", runtime_bytes=int(0.3 * GiB), ubatch=512,
                        note="llama.cpp: KV for n_ctx allocated up front; compute buffer for n_ubatch=512"),
}


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class ModelSpec:
    """What the estimator knows about a model: exact counts from a config, exact bytes from
    weight files, or only a name (approximate)."""

    name: str
    source: str  # "config", "weights", "name"
    parameters: int
    active_parameters: int
    architecture: str | None = None
    config: Mapping[str, Any] | None = None
    counts: ParameterCount | None = None
    layout: AttentionLayout | None = None
    weight_bytes: int | None = None  # exact bytes of the weight tensors in the files
    weight_dtypes: Mapping[str, int] | None = None
    bits_per_weight: float | None = None  # of a quantized checkpoint
    approximate: bool = False
    notes: tuple[str, ...] = ()

    @property
    def text(self) -> Mapping[str, Any]:
        return text_config(self.config) if self.config else {}

    def dim(self, *keys: str, default: int = 0) -> int:
        for k in keys:
            v = self.text.get(k)
            if isinstance(v, (int, float)) and v:
                return int(v)
        return default

    @property
    def hidden(self) -> int:
        return self.dim("hidden_size", "n_embd", "d_model", default=_guess_hidden(self.parameters))

    @property
    def layers(self) -> int:
        return self.dim("num_hidden_layers", "n_layer", "num_layers", "decoder_layers",
                        default=max(1, round(self.parameters / (12 * self.hidden**2))))

    @property
    def vocab(self) -> int:
        return self.dim("vocab_size", default=128000)

    @property
    def ffn(self) -> int:
        """Intermediate width one token runs through (MoE: top-k experts + shared)."""
        dense = self.dim("intermediate_size", "n_inner", "d_ff", "ffn_dim", default=4 * self.hidden)
        experts = self.dim("num_experts", "num_local_experts", "n_routed_experts")
        if not experts:
            return dense
        k = self.dim("num_experts_per_tok", "experts_per_token", default=1)
        moe = self.dim("moe_intermediate_size", default=dense)
        shared = self.dim("n_shared_experts") * moe + self.dim("shared_expert_intermediate_size")
        return k * moe + shared

    @property
    def heads(self) -> int | None:
        return self.layout.heads if self.layout else None

    @property
    def kv_heads(self) -> int | None:
        return self.layout.kv_heads if self.layout else None

    def categories(self) -> dict[str, int]:
        """Parameters by how quantizers treat them: embeddings, head, norms, vision, linear."""
        if self.counts is None:
            return {"linear": self.parameters}
        c = self.counts.components
        cats = {"embeddings": c.get("embeddings", 0), "head": c.get("lm_head", 0),
                "norms": c.get("norms", 0), "vision": c.get("vision", 0) + c.get("projector", 0)}
        cats["linear"] = self.counts.total - sum(cats.values())
        return cats

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "parameters": self.parameters, "active_parameters": self.active_parameters,
                "architecture": self.architecture, "source": self.source, "approximate": self.approximate,
                "parameter_components": self.counts.components if self.counts else None,
                "checkpoint_extra": self.counts.checkpoint_extra if self.counts else {},
                "weight_bytes_in_files": self.weight_bytes, "notes": list(self.notes)}


def _guess_hidden(params: int) -> int:
    """A llama-like hidden size for a parameter count (name-only estimates)."""
    for p, h in ((1.5e9, 1536), (4e9, 2560), (10e9, 4096), (20e9, 5120), (40e9, 6144), (80e9, 8192)):
        if params <= p:
            return h
    return 12288


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class Estimate:
    model: ModelSpec
    mode: str
    breakdown: dict[str, int]
    assumptions: dict[str, Any]
    per_gpu_bytes: int
    count: int = 1
    hardware: HardwareFit | None = None
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(self.breakdown.values())

    @property
    def allocated_bytes(self) -> int:
        """What torch.cuda.max_memory_allocated would show: the total less runtime overhead."""
        return self.total_bytes - self.breakdown.get("overhead", 0)

    def to_dict(self) -> dict[str, Any]:
        hw = self.hardware.to_dict() if self.hardware else {"gpu": None, "count": self.count, "fits": None,
                                                              "min_count": None, "tensor_parallel": None}
        return {
            "schema": SCHEMA,
            "model": self.model.to_dict(),
            "mode": self.mode,
            "assumptions": dict(self.assumptions),
            "breakdown_bytes": {k: int(self.breakdown.get(k, 0)) for k in COMPONENTS},
            "total_bytes": int(self.total_bytes),
            "allocated_bytes": int(self.allocated_bytes),
            "per_gpu_bytes": int(self.per_gpu_bytes),
            "hardware": hw,
            "notes": list(self.notes),
            **self.extra,
        }


# --------------------------------------------------------------------------- weights


def _bytes_of(dtype: str) -> float:
    try:
        return DTYPE_BYTES[dtype.lower()]
    except KeyError:
        raise ModelLensError(f"unknown dtype {dtype!r}; use f32, bf16 or f16") from None


def _bumped_share(m: ModelSpec, rule: str) -> float:
    """Share of the linear weights that a K-quant mix stores in its larger type (attn_v and
    ffn_down of the layers its rule picks)."""
    t = m.text
    n = m.layers
    if not t or not n:
        return 0.0
    h, heads = m.hidden, m.dim("num_attention_heads", default=1)
    hd = m.dim("head_dim", default=h // max(heads, 1))
    v = h * m.dim("num_key_value_heads", default=heads) * hd
    experts = m.dim("num_experts", "num_local_experts", "n_routed_experts", default=1)
    down = h * (m.dim("moe_intermediate_size", default=m.dim("intermediate_size")) * experts
                if experts > 1 else m.dim("intermediate_size", default=4 * h))
    linear_per_layer = m.categories()["linear"] / n
    if rule == "more_bits":
        layers = sum(1 for i in range(n) if use_more_bits(i, n))
        return min(1.0, layers * (v + down) / (n * linear_per_layer))
    layers = n // 8
    return min(1.0, layers * down / (n * linear_per_layer))


def weight_bytes(m: ModelSpec, dtype: str = "bf16", quant: QuantScheme | None = None) -> tuple[int, dict[str, Any]]:
    """Bytes of the weights and how they were counted."""
    if quant is None:
        if m.weight_bytes is not None:
            return m.weight_bytes, {"weights": "exact bytes of the tensors in the weight files"}
        b = _bytes_of(dtype)
        return int(m.parameters * b), {"weights": f"{m.parameters:,} parameters × {b:g} bytes ({dtype})"}
    cats = m.categories()
    if quant.experts_only and m.counts is not None:
        experts = m.counts.components.get("experts", 0)
        rest = m.parameters - experts
        total = experts * quant.bits / 8 + rest * 2
        return int(total), {"weights": f"{quant.label}: experts at {quant.bits:.3f} bits, the rest 16-bit"}
    linear = cats.get("linear", 0)
    lin_bits = quant.bits
    if quant.bumped_bits is not None and quant.bump_rule:
        share = _bumped_share(m, quant.bump_rule)
        lin_bits = quant.bits * (1 - share) + quant.bumped_bits * share
    total = (linear * lin_bits + cats.get("embeddings", 0) * quant.embed_bits + cats.get("head", 0) * quant.head_bits
             + cats.get("norms", 0) * quant.norm_bits + cats.get("vision", 0) * 16) / 8
    desc = (f"{quant.label}: {linear:,} linear weights at {lin_bits:.3f} bits/weight; embeddings "
            f"{quant.embed_bits:g}, head {quant.head_bits:g}, norms {quant.norm_bits:g} bits")
    return int(total), {"weights": desc}


# --------------------------------------------------------------------------- KV cache


def _kv_elements_per_token(m: ModelSpec) -> int:
    """Name-only fallback: a GQA model with 8 KV heads of 128."""
    return 2 * m.layers * 8 * 128


def kv_cache_bytes(m: ModelSpec, tokens: int, batch: int, kv_bytes: float, engine: Engine) -> tuple[int, str]:
    if m.layout is None:
        if m.counts is not None:  # an encoder-only model has no KV cache
            return 0, "encoder-only: no KV cache"
        e = _kv_elements_per_token(m) * tokens
        return int(e * batch * kv_bytes), "approximate: name only, assumed 8 KV heads × 128 per layer"
    e = m.layout.elements(tokens, expanded_mla=not engine.mla_latent)
    kinds = ", ".join(f"{n} {k}" + (f" (window {w})" if w else "") for n, k, _, w in m.layout.groups)
    how = (f"layers × tokens × per-token elements [{kinds}] × {batch} sequences × {kv_bytes:g} bytes")
    if any(k == "mla" for _, k, _, _ in m.layout.groups):
        how += "; MLA " + ("latent (kv_lora_rank + rope dim)" if engine.mla_latent else "expanded K/V as transformers caches it")
    return int(e * batch * kv_bytes), how


# --------------------------------------------------------------------------- inference


def estimate_inference(m: ModelSpec, *, dtype: str = "bf16", quant: str | None = None, context: int | None = None,
                       batch: int = 1, engine: str = "transformers", kv_dtype: str | None = None,
                       gpu: GPU | None = None, gpus: int = 1, gpu_memory_utilization: float = 0.9) -> Estimate:
    """Memory to serve ``batch`` sequences of ``context`` tokens (prompt + output)."""
    scheme = get_scheme(quant) if quant else None
    if engine not in ENGINES:
        raise ModelLensError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    eng = ENGINES[engine]
    max_ctx = m.dim("max_position_embeddings", "n_positions", "max_target_positions", default=4096)
    if context is None:
        context = max_ctx if eng.full_context_default else min(4096, max_ctx)
    w, w_how = weight_bytes(m, dtype, scheme)
    act_bytes = 2.0 if dtype.lower() not in ("f32", "fp32", "float32") else 4.0
    kvb = _bytes_of(kv_dtype) if kv_dtype else (2.0 if engine == "llama.cpp" else act_bytes)
    kv, kv_how = kv_cache_bytes(m, context, batch, kvb, eng)
    h, ffn, vocab = m.hidden, m.ffn, m.vocab
    prefill = batch * context * (3 * ffn + 4 * h) * act_bytes
    if engine == "vllm":
        act = eng.profile_tokens * (3 * ffn + 4 * h) * act_bytes + 256 * vocab * 4
        act_how = (f"profiling pass of max_num_batched_tokens={eng.profile_tokens}: tokens × (3·ffn + 4·hidden) "
                   f"× {act_bytes:g} B, + fp32 logits of 256 sampled sequences")
    elif engine == "llama.cpp":
        act = eng.ubatch * (vocab + 4 * h + 2 * ffn) * 4
        act_how = f"compute buffer: n_ubatch={eng.ubatch} × (vocab + 4·hidden + 2·ffn) × 4 B"
    else:
        act = batch * ((4 * h + 3 * ffn) * act_bytes + vocab * 4 * 2)
        act_how = ("one decode step: batch × ((4·hidden + 3·ffn) × dtype bytes + two fp32 logit rows); "
                   f"a prompt's prefill adds a transient ≈ {prefill / GiB:.2f} GiB (not in the total: "
                   "Qwen's measured peaks with FlashAttention-2 do not show it)")
    overhead = eng.runtime_bytes + eng.graph_bytes
    breakdown = {"weights": w, "kv_cache": kv, "activations": int(act), "overhead": overhead}
    assumptions: dict[str, Any] = {
        "engine": engine, "engine_note": eng.note, "dtype": dtype, "quant": scheme.to_dict() if scheme else None,
        "context": context, "batch": batch, "kv_dtype": kv_dtype or ("f16" if engine == "llama.cpp" else dtype),
        "kv_cache": kv_how, "activations": act_how,
        "overhead": f"runtime (CUDA context, kernels, allocator slack) {eng.runtime_bytes / GiB:.2f} GiB"
                    + (f" + CUDA graphs {eng.graph_bytes / GiB:.2f} GiB" if eng.graph_bytes else ""),
        "prefill_transient_bytes": int(prefill), **w_how,
    }
    notes: list[str] = list(m.notes)
    if context > max_ctx and m.config:
        notes.append(f"context {context:,} exceeds the model's max_position_embeddings {max_ctx:,}")
    if engine == "vllm":
        assumptions["gpu_memory_utilization"] = gpu_memory_utilization

    def per_gpu(n: int) -> int:
        kv_share = 1.0 / n
        if m.kv_heads and n > m.kv_heads:
            kv_share = 1.0 / m.kv_heads  # KV heads replicated beyond their count
        return int(w / n + kv * kv_share + act / n + overhead)

    hw = None
    if gpu is not None:
        frac = gpu_memory_utilization if engine == "vllm" else 1.0
        hw = fit(gpu, gpus, per_gpu, m.heads, m.kv_heads, frac)
        if engine == "vllm":
            notes.append(f"vLLM will reserve {gpu_memory_utilization:.0%} of each {gpu.id} "
                         f"({gpu.usable_bytes * gpu_memory_utilization / GiB:.1f} GiB) and use what is left "
                         "for more KV cache")
    return Estimate(m, "inference", breakdown, assumptions, per_gpu(gpus), gpus, hw, tuple(notes))


# --------------------------------------------------------------------------- LoRA modules


def lora_modules(m: ModelSpec) -> dict[str, list[tuple[int, int, int]]]:
    """Linear modules of the text model as peft sees them: leaf name -> [(in_features,
    out_features, how many)] (routed experts, shared experts and dense MLPs share leaf names)."""
    t, mt = m.text, str((m.config or {}).get("model_type", ""))
    mods: dict[str, list[tuple[int, int, int]]] = {}

    def add(name: str, i: int, o: int, k: int) -> None:
        if k:
            mods.setdefault(name, []).append((i, o, k))

    if not t:
        h, n = m.hidden, m.layers
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            add(name, h, h, n)
        for name, (i, o) in (("gate_proj", (h, 4 * h)), ("up_proj", (h, 4 * h)), ("down_proj", (4 * h, h))):
            add(name, i, o, n)
        return mods
    if "hidden_size" not in t or "num_attention_heads" not in t:
        raise ModelLensError(f"LoRA target resolution supports decoder configs; {mt or 'this model'} is not one")
    h, n = int(t["hidden_size"]), int(t["num_hidden_layers"])
    heads = int(t["num_attention_heads"])
    kv = int(t.get("num_key_value_heads") or heads)
    hd = int(t.get("head_dim") or h // heads)
    inter = int(t.get("intermediate_size") or 4 * h)
    sparse = _sparse_layer_count(m)
    dense = n - sparse
    if t.get("kv_lora_rank"):  # MLA
        qk = int(t["qk_nope_head_dim"]) + int(t["qk_rope_head_dim"])
        if t.get("q_lora_rank"):
            add("q_a_proj", h, int(t["q_lora_rank"]), n)
            add("q_b_proj", int(t["q_lora_rank"]), heads * qk, n)
        else:
            add("q_proj", h, heads * qk, n)
        add("kv_a_proj_with_mqa", h, int(t["kv_lora_rank"]) + int(t["qk_rope_head_dim"]), n)
        add("kv_b_proj", int(t["kv_lora_rank"]), heads * (int(t["qk_nope_head_dim"]) + int(t["v_head_dim"])), n)
        add("o_proj", heads * int(t["v_head_dim"]), h, n)
    elif mt == "phi3":
        add("qkv_proj", h, (heads + 2 * kv) * hd, n)
        add("o_proj", heads * hd, h, n)
    elif mt == "qwen":  # Qwen (1.0): attn.c_attn / attn.c_proj, mlp.w1 / w2 / c_proj
        add("c_attn", h, 3 * heads * hd, n)
        add("c_proj", heads * hd, h, n)
        add("w1", h, inter, n)
        add("w2", h, inter, n)
        add("c_proj", inter, h, n)
        return mods
    else:
        for name, o in (("q_proj", heads * hd), ("k_proj", kv * hd), ("v_proj", kv * hd)):
            add(name, h, o, n)
        add("o_proj", heads * hd, h, n)
    dense_inter = int(t.get("intermediate_size_mlp") or inter)
    if mt in ("phi3", "glm4"):
        add("gate_up_proj", h, 2 * inter, dense)
        add("down_proj", inter, h, dense)
    else:
        for name, (i, o) in (("gate_proj", (h, dense_inter)), ("up_proj", (h, dense_inter)), ("down_proj", (dense_inter, h))):
            add(name, i, o, dense)
    if sparse:
        e = int(t.get("num_local_experts") or t.get("num_experts") or t.get("n_routed_experts"))
        mi = int(t.get("moe_intermediate_size") or inter)
        names = ("w1", "w3", "w2") if mt == "mixtral" else ("gate_proj", "up_proj", "down_proj")
        if mt not in ("gpt_oss", "llama4", "llama4_text"):  # fused expert tensors are not nn.Linear
            for name, (i, o) in zip(names, ((h, mi), (h, mi), (mi, h))):
                add(name, i, o, sparse * e)
        if mt in ("mixtral", "qwen2_moe", "qwen3_moe", "phimoe", "qwen3_next"):
            add("gate", h, e, sparse)  # the router is an nn.Linear there
        elif mt in ("gpt_oss", "llama4", "llama4_text"):
            add("router", h, e, sparse)
        if mt in ("qwen2_moe", "qwen3_next") and t.get("shared_expert_intermediate_size"):
            add("shared_expert_gate", h, 1, sparse)
        shared = int(t.get("n_shared_experts") or 0) * mi or int(t.get("shared_expert_intermediate_size") or 0)
        if mt in ("llama4", "llama4_text"):
            shared = inter
        for name, (i, o) in (("gate_proj", (h, shared)), ("up_proj", (h, shared)), ("down_proj", (shared, h))):
            add(name, i, o, sparse if shared else 0)
    return mods


def _sparse_layer_count(m: ModelSpec) -> int:
    for note in (m.counts.notes if m.counts else ()):
        if note.startswith("mixture of experts:"):
            return int(note.split(":")[1].split()[0])
    return 0


def lora_parameters(m: ModelSpec, rank: int, targets: str | list[str] = "default") -> tuple[int, list[str]]:
    """Exact LoRA parameter count: r × (in + out) per targeted linear module (alpha-independent)."""
    mods = lora_modules(m)
    if targets in ("default", None):
        # peft's defaults (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING): q and v, or the
        # fused projection that holds them
        wanted = [n for n in ("q_proj", "v_proj", "qkv_proj", "c_attn", "q_a_proj", "q_b_proj", "kv_b_proj")
                  if n in mods][:2]
        if "q_proj" in mods and "v_proj" in mods:
            wanted = ["q_proj", "v_proj"]
    elif targets in ("all-linear", ["all-linear"]):
        wanted = list(mods)
    else:
        wanted = [targets] if isinstance(targets, str) else list(targets)
        expanded = []
        for w in wanted:
            hit = [n for n in mods if n == w]
            if not hit:
                raise ModelLensError(f"LoRA target {w!r} is not a linear module of this model; "
                                     f"known: {', '.join(mods)}")
            expanded += hit
        wanted = expanded
    total = sum(rank * (i + o) * k for n in wanted for i, o, k in mods[n])
    return total, wanted


# --------------------------------------------------------------------------- training


def _activations(m: ModelSpec, seq: int, micro_batch: int, checkpointing: bool, act_bytes: float,
                 frozen: bool) -> tuple[int, str]:
    """Activations kept for the backward pass of one micro-batch (SDPA / FlashAttention: no
    seq² scores are stored).

    Saved per layer and token: the attention's q, k, v and output (2·q_dim + 2·kv_dim), the MLP's
    gate, activation and up outputs (3·ffn) and the norms' inputs (2·hidden); full fine-tuning
    also keeps the inputs of the trainable linears (2·hidden for the two norm outputs, ffn for
    down_proj).  The loss keeps the logits and their gradient: (dtype + 8) bytes per vocab entry
    and token (bf16 logits, fp32 upcast, fp32 gradient).  With gradient checkpointing only each
    layer's input is kept, and the peak is the larger of the loss phase and one layer's
    recomputation.  Calibrated on CPU measurements with peft (docs/estimate.md)."""
    h, ffn, n, vocab = m.hidden, m.ffn, m.layers, m.vocab
    lay = m.layout
    q = (lay.heads or 0) * (lay.head_dim or 0) if lay and lay.head_dim else h
    kv = (lay.kv_heads or 0) * (lay.head_dim or 0) if lay and lay.head_dim else h
    per_token = (2 * h + 2 * q + 2 * kv + 3 * ffn) if frozen else (4 * h + 2 * q + 2 * kv + 4 * ffn)
    per_layer_token = per_token * act_bytes
    tokens = seq * micro_batch
    logits = tokens * vocab * ((act_bytes if act_bytes < 4 else 0) + 12)
    if checkpointing:
        stored = tokens * n * h * act_bytes + max(logits, tokens * per_layer_token * 2)
        how = "gradient checkpointing: each layer's input, + max(loss phase, one layer recomputed)"
    else:
        stored = tokens * n * per_layer_token + logits
        how = (f"per layer and token ({'2·hidden + 2·q + 2·kv + 3·ffn' if frozen else '4·hidden + 2·q + 2·kv + 4·ffn'})"
               " × dtype bytes")
    return int(stored), f"{how}; logits and their gradient for {seq} × {micro_batch} tokens"


PRECISIONS = ("mixed", "pure")
OPTIMIZERS = ("adamw", "adamw-fused", "adamw-8bit")
ZERO_SUB_GROUP = 10**9  # DeepSpeed's default sub_group_size: ZeRO-3 steps the optimizer this many elements at a time


def _moment_bytes(optimizer: str, state_bytes: float) -> float:
    """Bytes per trainable parameter of the two Adam moments."""
    return 2.0 if optimizer == "adamw-8bit" else 2 * state_bytes  # bitsandbytes: two uint8 moments


def _step_transient(optimizer: str, trainable_per_gpu: float, state_bytes: float, zero: int) -> tuple[int, str]:
    """Memory that exists only inside ``optimizer.step()``, when the activations are already freed.

    torch's AdamW on CUDA (``foreach``, the default) allocates one moment-sized temporary for
    ``sqrt(v)``; the fused kernels (``fused=True``, DeepSpeed's FusedAdam, bitsandbytes) none.
    DeepSpeed ZeRO copies the gradient partition to fp32 for the step (ZeRO-3: one sub-group of
    at most ``sub_group_size`` elements at a time)."""
    if zero:
        n = min(trainable_per_gpu, ZERO_SUB_GROUP) if zero == 3 else trainable_per_gpu
        return int(n * 4), "DeepSpeed ZeRO: the step copies the gradient partition to fp32 (4 B/param" + (
            f", at most {ZERO_SUB_GROUP:.0e} elements per sub-group)" if zero == 3 else ")")
    if optimizer == "adamw":
        return int(trainable_per_gpu * state_bytes), (f"torch AdamW (foreach): one {state_bytes:g} B/param "
                                                       "temporary during step()")
    return 0, f"{optimizer}: fused update, no temporaries"


def estimate_training(m: ModelSpec, *, mode: str = "full", dtype: str = "bf16", context: int = 2048,
                      batch: int = 1, gpus: int = 1, zero: int | None = None, lora_rank: int = 16,
                      lora_targets: str | list[str] = "default", adapter_dtype: str = "f32",
                      checkpointing: bool = True, virtual_tokens: int = 20, gpu: GPU | None = None,
                      quant: str | None = None, precision: str = "mixed",
                      optimizer: str = "adamw") -> Estimate:
    """Memory per GPU for one training step of a ``batch``-sequence micro-batch of ``context`` tokens.

    ``precision`` (full fine-tuning): ``mixed`` keeps fp32 master weights and fp32 Adam moments
    (AMP on an fp32 model, DeepSpeed, FSDP mixed precision); ``pure`` trains the weights in
    ``dtype`` as loaded (a model loaded in bf16 and handed to torch's AdamW: the moments take
    the parameters' dtype).  ``optimizer``: ``adamw`` (torch, foreach), ``adamw-fused`` or
    ``adamw-8bit`` (bitsandbytes)."""
    if mode not in MODES[1:]:
        raise ModelLensError(f"unknown training mode {mode!r}; known: {', '.join(MODES[1:])}")
    if zero not in (None, 0, 1, 2, 3):
        raise ModelLensError("--zero must be 1, 2 or 3")
    if precision not in PRECISIONS:
        raise ModelLensError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    if optimizer not in OPTIMIZERS:
        raise ModelLensError(f"unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}")
    zero = zero or 0
    act_bytes = 4.0 if dtype.lower() in ("f32", "fp32", "float32") else 2.0
    mixed = act_bytes == 2.0 and precision == "mixed"
    P = m.parameters
    assumptions: dict[str, Any] = {"dtype": dtype, "context": context, "micro_batch": batch, "gpus": gpus,
                                   "zero": zero or None, "gradient_checkpointing": checkpointing,
                                   "optimizer": optimizer}
    notes = list(m.notes)
    extra: dict[str, Any] = {}
    if mode == "full":
        state_bytes = 4.0 if mixed or act_bytes == 4.0 else act_bytes
        weights = P * act_bytes
        grads = P * act_bytes
        optim = P * ((4 if mixed else 0) + _moment_bytes(optimizer, state_bytes))
        adapters = 0
        assumptions["precision"] = precision if act_bytes == 2.0 else "f32"
        assumptions["weights"] = f"{dtype} weights {act_bytes:g} B/param"
        assumptions["gradients"] = f"{dtype} gradients {act_bytes:g} B/param"
        assumptions["optimizer_states"] = (
            f"fp32 master weights + two Adam moments: {optim / P:g} B/param (mixed precision)" if mixed else
            f"two Adam moments in the parameters' dtype: {optim / P:g} B/param")
        assumptions["bytes_per_parameter"] = (weights + grads + optim) / P
        trainable = P
    else:
        if mode == "qlora":
            scheme = get_scheme(quant or "bnb-nf4")
            cats = m.categories()
            weights, _ = weight_bytes(m, dtype, scheme)
            upcast = (cats.get("embeddings", 0) + cats.get("head", 0) + cats.get("norms", 0)) * 2  # bf16 -> fp32
            weights += upcast
            assumptions["weights"] = (f"{scheme.label} linear weights ({scheme.bits:.3f} bits); embeddings, head and "
                                      "norms upcast to fp32 by peft's prepare_model_for_kbit_training")
        else:
            weights, how = weight_bytes(m, dtype, get_scheme(quant) if quant else None)
            assumptions["weights"] = "frozen base: " + how["weights"]
        if mode == "prompt-tuning":
            trainable = virtual_tokens * m.hidden
            assumptions["adapter"] = f"{virtual_tokens} virtual tokens × hidden {m.hidden}"
        else:
            trainable, targets = lora_parameters(m, lora_rank, lora_targets)
            assumptions["lora"] = {"rank": lora_rank, "targets": targets, "alpha": "does not change the count"}
            extra["lora_parameters"] = trainable
        ab = _bytes_of(adapter_dtype)
        state_bytes = 4.0 if precision == "mixed" else ab
        adapters = int(trainable * ab)
        grads = int(trainable * ab)
        optim = int(trainable * _moment_bytes(optimizer, state_bytes))
        assumptions["adapters"] = (f"{trainable:,} trainable parameters × ({ab:g} weights + {ab:g} gradients + "
                                   f"{optim / max(trainable, 1):g} Adam) "
                                   f"bytes; adapter dtype {adapter_dtype}"
                                   + (" (peft upcasts adapters to fp32 by default)" if adapter_dtype == "f32" else ""))
        if mode == "qlora":
            assumptions["optimizer"] = "paged AdamW (bitsandbytes): states on GPU, paged to CPU only under pressure"
    act, act_how = _activations(m, context, batch, checkpointing, act_bytes, frozen=mode != "full")
    assumptions["activations"] = act_how
    overhead = int(0.5 * GiB)
    assumptions["overhead"] = "CUDA context, cuBLAS workspace, allocator fragmentation: 0.5 GiB"
    if mode == "qlora" and optimizer == "adamw":
        optimizer = "paged AdamW (bitsandbytes)"  # one fused kernel per parameter: no temporaries
    step, step_how = _step_transient(optimizer, trainable, state_bytes, zero)
    step_extra = max(0, step - act)  # the step runs after backward has freed the activations
    assumptions["optimizer_step"] = (f"{step_how}; peak = the larger of backward (activations) and the step, "
                                     "the step's excess counted under optimizer")
    breakdown = {"weights": int(weights), "activations": act, "gradients": int(grads),
                 "optimizer": int(optim) + step_extra, "adapters": int(adapters), "overhead": overhead}
    extra["trainable_parameters"] = trainable

    def per_gpu(n: int) -> int:
        w, g, o = weights, grads, optim
        if zero >= 1:
            o = o / n
        if zero >= 2:
            g = g / n
        if zero >= 3:
            w = w / n
        s_n, _ = _step_transient(optimizer, trainable / n if zero else trainable, state_bytes, zero)
        return int(w + g + o + adapters + overhead + max(act, s_n))

    if zero:
        assumptions["sharding"] = {1: "ZeRO-1: optimizer states / N", 2: "ZeRO-2: optimizer states and gradients / N",
                                   3: "ZeRO-3 / FSDP full shard: weights, gradients and optimizer states / N"}[zero]
    hw = fit(gpu, gpus, per_gpu, None, None) if gpu is not None else None
    if hw is not None and not zero and hw.min_count and hw.min_count > 1:
        notes.append("data parallelism replicates the model: more GPUs need --zero 3 (or FSDP) to lower per-GPU memory")
    return Estimate(m, mode, breakdown, assumptions, per_gpu(gpus), gpus, hw, tuple(notes), extra)


def at_a_glance(m: ModelSpec, context: int = 2048, batch: int = 1) -> list[dict[str, Any]]:
    """The one-look table: inference at FP32 / BF16 / INT8 / INT4, training full / LoRA / QLoRA."""
    rows = []
    for label, dtype, quant in (("FP32", "f32", None), ("BF16", "bf16", None), ("INT8", "bf16", "int8"),
                                ("INT4", "bf16", "int4")):
        e = estimate_inference(m, dtype=dtype, quant=quant, context=context, batch=batch)
        rows.append({"what": f"inference {label}", "weights_bytes": e.breakdown["weights"], "total_bytes": e.total_bytes})
    for mode in ("full", "lora", "qlora"):
        e = estimate_training(m, mode=mode, context=context, batch=batch)
        rows.append({"what": f"train {mode}", "weights_bytes": e.breakdown["weights"], "total_bytes": e.total_bytes})
    return rows
