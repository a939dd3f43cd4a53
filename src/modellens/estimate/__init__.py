"""How much memory to run or fine-tune a model, and on which GPUs.

    >>> from modellens.estimate import resolve_model, estimate
    >>> e = estimate("path/to/config.json", mode="qlora", context=2048)
    >>> e.breakdown, e.total_bytes, e.to_dict()        # modellens.estimate/1

``resolve_model`` turns what the user typed into a :class:`ModelSpec`: a ``config.json`` or an
HF folder gives exact parameter counts (architecture.py), weight files give exact bytes, a bare
name gives the counts its name states (approximate, flagged).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.errors import CorruptFileError, LimitExceededError, ModelLensError, NotFoundError
from .architecture import (AttentionLayout, ParameterCount, attention_layout, count_parameters,
                           remote_code_config, supported_model_types)
from .hardware import GPU, HardwareFit, all_gpus, find_gpu
from .memory import (ENGINES, MODES, SCHEMA, Estimate, ModelSpec, at_a_glance, estimate_inference,
                     estimate_training, lora_modules, lora_parameters)
from .quant import QuantScheme, get_scheme, scheme_names

__all__ = [
    "SCHEMA", "MODES", "ENGINES", "ModelSpec", "Estimate", "ParameterCount", "AttentionLayout", "GPU",
    "HardwareFit", "QuantScheme", "resolve_model", "model_from_config", "estimate", "estimate_inference",
    "estimate_training", "count_parameters", "attention_layout", "lora_parameters", "lora_modules",
    "at_a_glance", "find_gpu", "all_gpus", "get_scheme", "scheme_names", "supported_model_types",
]

MAX_CONFIG_BYTES = 16 * 2**20


def _read_config(path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise LimitExceededError(str(path), f"config of {size:,} bytes is over the {MAX_CONFIG_BYTES:,}-byte limit")
    return _parse_config(path.read_bytes(), str(path))


def _parse_config(raw: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptFileError(where, f"invalid JSON ({e})") from e
    if not isinstance(data, dict):
        raise CorruptFileError(where, "config.json is not a JSON object")
    return data


def model_from_config(cfg: dict[str, Any], name: str = "config", source: str = "config") -> ModelSpec:
    """A ModelSpec with exact counts from a config dict."""
    cfg = dict(remote_code_config(cfg))
    try:
        counts = count_parameters(cfg)
        layout = attention_layout(cfg)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        raise ModelLensError(f"{name}: config.json lacks what the parameter count needs ({e})") from e
    arch = (cfg.get("architectures") or [None])[0] if isinstance(cfg.get("architectures"), list) else None
    return ModelSpec(name=name, source=source, parameters=counts.total, active_parameters=counts.active,
                     architecture=arch or counts.model_type, config=cfg, counts=counts, layout=layout,
                     approximate=not counts.exact, notes=counts.notes)


def _from_weights(path: Path, cfg: dict[str, Any] | None) -> ModelSpec | None:
    """Exact parameters and bytes from the weight files' headers, when the folder has them."""
    from .. import inspect

    return _from_info(inspect(str(path)), path.name, cfg)


def _from_info(info: Any, name: str, cfg: dict[str, Any] | None, source: str = "weights") -> ModelSpec | None:
    """A ModelSpec from an inspected index (local or remote) and its config."""
    if not info.tensors:
        return None
    stored = sum(t.nbytes for t in info.tensors if t.alias_of is None)
    base = model_from_config(cfg, name) if cfg else None
    q = info.quantization or {}
    bits = q.get("effective_bits_per_weight") if isinstance(q, dict) else None
    notes = list(base.notes if base else ())
    if base and base.parameters != info.parameters and not q:
        notes.append(f"weight files hold {info.parameters:,} parameters, the config formula {base.parameters:,}: "
                     "the files' count is used")
    params = info.parameters if not q or base is None else base.parameters
    return ModelSpec(name=name, source=source, parameters=params,
                     active_parameters=base.active_parameters if base else params,
                     architecture=base.architecture if base else (info.architecture or {}).get("name"),
                     config=cfg, counts=base.counts if base else None, layout=base.layout if base else None,
                     weight_bytes=stored, weight_dtypes=info.dtypes, bits_per_weight=bits,
                     approximate=base is None, notes=tuple(notes))


def _from_name(name: str) -> ModelSpec:
    try:
        from ..names import parse_name
    except ImportError as e:  # pragma: no cover - names.py lands separately
        raise ModelLensError(f"{name!r} is not a file or folder, and name parsing is unavailable") from e
    info = parse_name(name)
    if not info.total_parameters:
        raise NotFoundError(f"{name!r} is not a file or folder, and its name states no parameter count; "
                            "pass a config.json or a model folder")
    return ModelSpec(name=name, source="name", parameters=int(info.total_parameters),
                     active_parameters=int(info.active_parameters or info.total_parameters),
                     architecture=info.family, approximate=True,
                     notes=("approximate: parameters read from the name; architecture (KV heads, vocabulary, "
                            "layers) assumed llama-like — pass a config.json for an exact estimate",))


def resolve_model(model: str) -> ModelSpec:
    """What ``modellens estimate MODEL`` is about: a config.json, an HF folder, a weight file or a name."""
    path = Path(model)
    if path.is_file() and path.suffix == ".json":
        return model_from_config(_read_config(path), path.parent.name or path.name)
    if path.is_dir():
        cfg = _read_config(path / "config.json") if (path / "config.json").is_file() else None
        spec = _from_weights(path, cfg)
        if spec is not None:
            return spec
        if cfg is None:
            raise NotFoundError(f"{model}: no config.json and no weight files")
        return model_from_config(cfg, path.name)
    if path.is_file():
        spec = _from_weights(path, None)
        if spec is None:
            raise ModelLensError(f"{model}: no tensors found")
        return spec
    if "/" in model and (model.startswith((".", "/")) or path.suffix):
        raise NotFoundError(f"{model}: no such file or folder")
    from ..hub import is_remote_source

    if is_remote_source(model):
        return _from_remote(model)
    return _from_name(model)


def _from_remote(model: str) -> ModelSpec:
    """hf:// / ms:// / org/repo: config and weight headers over HTTP range reads (cached); when
    the hub cannot be asked, the name alone, flagged approximate."""
    from dataclasses import replace

    from ..hub import HubUnavailableError, open_source, parse_source
    from ..layouts import read_tree

    spec = parse_source(model)
    try:
        target, repo = open_source(model)
    except HubUnavailableError as e:
        named = _from_name(spec.repo)
        return replace(named, notes=(f"hub not reachable ({e}); estimated from the name", *named.notes))
    with repo:
        if not hasattr(target, "list"):
            raise ModelLensError(f"{model}: estimate needs a model folder (config.json), not a single file")
        cfg = _parse_config(target.read_bytes("config.json"), model) if target.exists("config.json") else None
        info = read_tree(target)
    out = _from_info(info, spec.repo, cfg, source="hub")
    if out is not None:
        return out
    if cfg is None:
        raise NotFoundError(f"{model}: no config.json and no weight files")
    return model_from_config(cfg, spec.repo, source="hub")


def estimate(model: str | ModelSpec, *, mode: str = "inference", gpu: str | None = None, **kwargs: Any) -> Estimate:
    """One estimate: ``mode`` is inference, full, lora, qlora or prompt-tuning; other keyword
    arguments go to :func:`estimate_inference` or :func:`estimate_training`."""
    spec = resolve_model(model) if isinstance(model, str) else model
    g = find_gpu(gpu) if gpu else None
    if mode == "inference":
        return estimate_inference(spec, gpu=g, **kwargs)
    if mode not in MODES:
        raise ModelLensError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    return estimate_training(spec, mode=mode, gpu=g, **kwargs)
