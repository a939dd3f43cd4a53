"""Hugging Face folders: ``hf-transformers`` (config.json + weights) and ``sharded-safetensors``.

A transformers folder (``save_pretrained``) holds::

    config.json                         architecture, sizes, dtype, quantization_config
    generation_config.json              decoding defaults
    model.safetensors                   or model-00001-of-0000N.safetensors + model.safetensors.index.json
    pytorch_model.bin                   or pytorch_model-0000i-of-0000N.bin + pytorch_model.bin.index.json
    tokenizer.json / tokenizer.model / vocab.json + merges.txt, tokenizer_config.json,
    special_tokens_map.json, chat_template.jinja (or tokenizer_config.json["chat_template"])

``*.index.json`` is ``{"metadata": {"total_size": N}, "weight_map": {tensor: shard}}``; it is
checked against the shards in both directions.  When a folder carries the same weights twice
(safetensors and .bin, or an ``fp16`` variant), transformers loads safetensors first; so does
modellens, and the other set is listed as an alternate, not counted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import CorruptFileError
from ..core.io import LIMITS, LocalTree, Tree
from ..core.model import FileInfo, ModelInfo, TensorInfo
from ..quant import analyze
from . import LayoutSpec, read_tree_file, register

__all__ = ["WeightSet", "select_weights", "read_weights", "architecture_from_config", "read_json"]

WEIGHT_EXTENSIONS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".npz",
                     ".msgpack", ".h5", ".onnx", ".pkl", ".joblib")
_SHARD = re.compile(r"-\d{5}-of-\d{5}$")
_INDEX = re.compile(r"^(?P<prefix>.+)\.(?P<ext>safetensors|bin)\.index(?:\.(?P<variant>[\w-]+))?\.json$")


def read_json(tree: Tree, rel: str) -> Any:
    """A small JSON file of the tree; corrupt JSON is a CorruptFileError."""
    raw = tree.read_bytes(rel, LIMITS.max_json_bytes)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptFileError(f"{tree.name}/{rel}", f"invalid JSON ({e})") from e


def _split(rel: str) -> tuple[str, str]:
    return (rel.rsplit("/", 1)[0], rel.rsplit("/", 1)[1]) if "/" in rel else ("", rel)


def _group(name: str) -> tuple[int, str] | None:
    """(format rank, variant) of a weight file name; rank orders transformers' preference."""
    m = _INDEX.match(name)
    if m:
        return (0 if m["ext"] == "safetensors" else 1, m["variant"] or "")
    for rank, ext in ((0, ".safetensors"), (1, ".bin")):
        if name.endswith(ext):
            stem = _SHARD.sub("", name[: -len(ext)])
            return rank, stem.rsplit(".", 1)[1] if "." in stem else ""
    if name.endswith(WEIGHT_EXTENSIONS):
        return 2, ""
    return None


@dataclass
class WeightSet:
    files: list[str] = field(default_factory=list)  # weight files to read (relative paths)
    index: str | None = None  # the *.index.json that names them
    alternates: list[str] = field(default_factory=list)  # same weights in another form, not read


def select_weights(tree: Tree, folder: str = "") -> WeightSet:
    """The weight files transformers / diffusers would load from ``folder`` of the tree."""
    groups: dict[tuple[int, str], list[str]] = {}
    for rel in tree.list():
        parent, name = _split(rel)
        if parent != folder:
            continue
        g = _group(name)
        if g is not None:
            groups.setdefault(g, []).append(rel)
    if not groups:
        return WeightSet()
    best = min(groups, key=lambda g: (g[0], g[1] != "", g[1]))
    chosen = groups.pop(best)
    alternates = sorted(f for files in groups.values() for f in files)
    index = next((f for f in chosen if f.endswith(".json")), None)
    files = [f for f in chosen if not f.endswith(".json")]
    if best[0] == 2:  # loose files of other formats: read every one
        return WeightSet(files, None, alternates)
    return WeightSet(files, index, alternates)


def _check_index(tree: Tree, ws: WeightSet, folder: str, warnings: list[str]) -> tuple[list[str], dict[str, str]]:
    """The shard list the index names (existing ones), after checking the index itself."""
    assert ws.index is not None
    data = read_json(tree, ws.index)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CorruptFileError(f"{tree.name}/{ws.index}", "index has no weight_map of tensor -> shard")
    shards: list[str] = []
    for shard in dict.fromkeys(weight_map.values()):
        if shard.startswith("/") or ".." in shard.split("/") or "\\" in shard:
            warnings.append(f"{ws.index}: shard name {shard!r} leaves the folder; ignored")
            continue
        rel = f"{folder}/{shard}" if folder else shard
        if not tree.exists(rel):
            n = sum(1 for v in weight_map.values() if v == shard)
            warnings.append(f"{ws.index} names shard {shard}, which is missing: {n} tensors not counted")
            continue
        shards.append(rel)
    extra = sorted(set(ws.files) - set(shards))
    if extra:
        warnings.append(f"shards not named by {ws.index}: {', '.join(extra)} (not counted)")
    by_name = {name: (f"{folder}/{s}" if folder else s) for name, s in weight_map.items()}
    return shards, by_name


def read_weights(tree: Tree, ws: WeightSet, folder: str = "") -> tuple[list[ModelInfo], list[str]]:
    """Read the chosen weight files; check them against the index when there is one."""
    warnings: list[str] = []
    files = ws.files
    by_name: dict[str, str] = {}
    if ws.index is not None:
        files, by_name = _check_index(tree, ws, folder, warnings)
    parts = [read_tree_file(tree, rel) for rel in files]
    if ws.index is not None:
        seen: dict[str, str] = {}
        for part in parts:
            for t in part.tensors:
                seen[t.name] = part.source
                want = by_name.get(t.name)
                if want is None:
                    warnings.append(f"{part.source}: tensor {t.name!r} is not in {ws.index}")
                elif want != part.source:
                    warnings.append(f"{t.name!r} is in {part.source} but {ws.index} says {want}")
        read_set = set(files)
        missing = [n for n, s in by_name.items() if s in read_set and n not in seen]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (" …" if len(missing) > 5 else "")
            warnings.append(f"{len(missing)} tensors listed in {ws.index} are absent from their shards: {shown}")
    return parts, warnings


# --- config.json ---------------------------------------------------------------------------

# architecture field -> config keys that spell it, first found wins (GPT-2, T5, BERT … differ).
_CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    "layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "hidden_size": ("hidden_size", "n_embd", "d_model", "dim"),
    "intermediate_size": ("intermediate_size", "ffn_dim", "n_inner", "d_ff"),
    "heads": ("num_attention_heads", "n_head", "num_heads", "n_heads"),
    "kv_heads": ("num_key_value_heads", "num_kv_heads", "n_kv_heads", "multi_query_group_num"),
    "head_dim": ("head_dim", "kv_channels"),
    "vocab_size": ("vocab_size", "padded_vocab_size"),
    "max_position_embeddings": ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"),
    "dtype": ("torch_dtype", "dtype"),
    "tie_word_embeddings": ("tie_word_embeddings",),
    "experts": ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts"),
    "experts_per_token": ("num_experts_per_tok", "num_experts_per_token", "moe_top_k", "top_k"),
    "shared_experts": ("n_shared_experts", "num_shared_experts"),
    "moe_intermediate_size": ("moe_intermediate_size",),
    "sliding_window": ("sliding_window",),
    "rope_theta": ("rope_theta",),
}
_NESTED = ("text_config", "llm_config", "language_config", "thinker_config")


def architecture_from_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The architecture summary of a config.json (text model fields from a nested text_config
    when the top level lacks them, as in multimodal models)."""
    arch: dict[str, Any] = {
        "name": (cfg.get("architectures") or [None])[0] if isinstance(cfg.get("architectures"), list) else None,
        "model_type": cfg.get("model_type"),
    }
    if isinstance(cfg.get("architectures"), list) and len(cfg["architectures"]) > 1:
        arch["architectures"] = cfg["architectures"]
    sources = [cfg] + [cfg[k] for k in _NESTED if isinstance(cfg.get(k), dict)]
    for fld, keys in _CONFIG_FIELDS.items():
        for src in sources:
            v = next((src[k] for k in keys if k in src and src[k] is not None), None)
            if v is not None:
                arch[fld] = v
                break
    if arch.get("heads") and arch.get("hidden_size") and "head_dim" not in arch:
        try:
            arch["head_dim"] = arch["hidden_size"] // arch["heads"]
        except TypeError:
            pass
    for k in _NESTED:
        if isinstance(cfg.get(k), dict):
            arch["text_config"] = k
            break
    for k in ("vision_config", "audio_config"):
        if isinstance(cfg.get(k), dict):
            arch.setdefault("towers", []).append(k.split("_")[0])
    return {k: v for k, v in arch.items() if v is not None}


def quantization_from_config(cfg: dict[str, Any]) -> dict[str, Any] | None:
    qc = cfg.get("quantization_config")
    if not isinstance(qc, dict):
        qc = next((c.get("quantization_config") for c in (cfg.get(k) for k in _NESTED)
                   if isinstance(c, dict) and isinstance(c.get("quantization_config"), dict)), None)
    if isinstance(qc, dict):
        out = {"method": qc.get("quant_method") or ("bitsandbytes" if "load_in_4bit" in qc else None)}
        for key in ("bits", "group_size", "desc_act", "sym", "version", "fmt", "weight_block_size"):
            if key in qc:
                out[key] = qc[key]
        out["config"] = qc
        return out
    if isinstance(cfg.get("quantization"), dict):  # MLX
        q = cfg["quantization"]
        return {"method": "mlx", "bits": q.get("bits"), "group_size": q.get("group_size"), "config": q}
    return None


def _tokenizer(tree: Tree, folder: str) -> dict[str, Any] | None:
    names = {_split(f)[1] for f in tree.list() if _split(f)[0] == folder}
    tok_files = sorted(names & {"tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt",
                                "vocab.txt", "spiece.model", "tokenizer_config.json",
                                "special_tokens_map.json", "chat_template.jinja", "chat_template.json"})
    if not tok_files:
        return None
    info: dict[str, Any] = {"files": tok_files}
    chat = bool(names & {"chat_template.jinja", "chat_template.json"})
    if "tokenizer_config.json" in names:
        tc = read_json(tree, f"{folder}/tokenizer_config.json" if folder else "tokenizer_config.json")
        if isinstance(tc, dict):
            for key in ("tokenizer_class", "model_max_length"):
                if key in tc:
                    info[key] = tc[key]
            for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
                v = tc.get(key)
                if isinstance(v, dict):
                    v = v.get("content")
                if isinstance(v, str):
                    info[key] = v
            chat = chat or bool(tc.get("chat_template"))
    info["chat_template"] = chat
    return info


def _merge(parts: list[ModelInfo]) -> tuple[list[TensorInfo], dict[str, str]]:
    tensors: list[TensorInfo] = []
    formats: dict[str, str] = {}
    for p in parts:
        tensors.extend(p.tensors)
        for f in p.files:
            formats[f.path] = f.format or ""
    return tensors, formats


def read_folder(tree: Tree, folder: str = "", layout: str = "hf-transformers") -> ModelInfo:
    """One model folder (the tree's root, or a component folder of a pipeline)."""
    prefix = f"{folder}/" if folder else ""
    warnings: list[str] = []
    cfg: dict[str, Any] | None = None
    if tree.exists(prefix + "config.json"):
        data = read_json(tree, prefix + "config.json")
        cfg = data if isinstance(data, dict) else None
    ws = select_weights(tree, folder)
    parts, w = read_weights(tree, ws, folder)
    warnings += w
    for p in parts:
        warnings += [f"{p.source}: {x}" for x in p.warnings]
    if ws.alternates:
        warnings.append(f"also holds {', '.join(ws.alternates)} (another copy of the weights; not counted)")
    tensors, weight_formats = _merge(parts)
    metadata: dict[str, Any] = {}
    architecture = quantization = None
    if cfg is not None:
        architecture = architecture_from_config(cfg)
        quantization = quantization_from_config(cfg)
        for key in ("transformers_version", "_diffusers_version", "_class_name"):
            if key in cfg:
                metadata[key] = cfg[key]
    if ws.index is not None:
        metadata["index"] = ws.index
    gen = prefix + "generation_config.json"
    if tree.exists(gen):
        g = read_json(tree, gen)
        if isinstance(g, dict):
            metadata["generation_config"] = {k: v for k, v in g.items() if not k.startswith("_")}
    tok = _tokenizer(tree, folder)
    if tok is not None:
        metadata["tokenizer"] = tok
        if tok["chat_template"]:
            metadata["hints"] = ["chat template present: probably instruction-tuned"]
    if len(parts) == 1 and parts[0].metadata:
        metadata["file_metadata"] = parts[0].metadata
    if quantization is None:
        quantization = next((p.quantization for p in parts if p.quantization), None)
    tensors, quantization = analyze(tensors, quantization)
    if architecture is None:
        architecture = next((p.architecture for p in parts if p.architecture), None)
    fmts = sorted(set(weight_formats.values()))
    files = []
    for rel in tree.list():
        if rel.startswith(prefix):
            files.append(FileInfo(rel, weight_formats.get(rel), tree.size(rel)))
    if not parts and cfg is not None:
        warnings.append("no weight files found: only the configuration was read")
    return ModelInfo(
        source=tree.name if not folder else folder,
        format=fmts[0] if len(fmts) == 1 else ("mixed" if fmts else None),
        layout=layout,
        files=tuple(files),
        tensors=tensors,
        metadata=metadata,
        architecture=architecture,
        quantization=quantization,
        warnings=tuple(warnings),
    )


def _detect_hf(tree: Tree) -> int:
    if not tree.exists("config.json"):
        return 0
    return 80 if select_weights(tree).files or select_weights(tree).index else 60


def _detect_sharded(tree: Tree) -> int:
    names = [f for f in tree.list() if "/" not in f]
    return 70 if any(_INDEX.match(n) for n in names) else 0


def _claim_index(path: Path) -> Tree | None:
    if _INDEX.match(path.name):
        return LocalTree(path.parent)
    return None


register(LayoutSpec("hf-transformers", _detect_hf, read_folder,
                    "Hugging Face transformers folder (config.json + weights + tokenizer)"))
def _read_sharded(tree: Tree) -> ModelInfo:
    if tree.exists("config.json"):
        return read_folder(tree)
    ws = select_weights(tree)
    layout = "sharded-pytorch" if ws.index and ws.index.endswith(".bin.index.json") else "sharded-safetensors"
    return read_folder(tree, layout=layout)


register(LayoutSpec("sharded-safetensors", _detect_sharded, _read_sharded,
                    "safetensors (or .bin) shards with an *.index.json",
                    claim_file=_claim_index))
