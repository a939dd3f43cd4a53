"""``modellens serve-plan``: a ready command for vLLM, SGLang, llama.cpp, Ollama or transformers,
with every number explained from the estimator.

The plan is built in three steps:

1. :func:`model_context` — what is known about the model: a local folder or file (config.json,
   weight headers, chat template), or a hub id read from its name (``org/repo``, ``hf://``,
   ``ms://`` for ModelScope).
2. :func:`size` — the parallelism and context that fit: the smallest tensor-parallel size the
   attention heads allow whose per-GPU share of the weights leaves room for the KV cache of the
   requested context (pipeline parallelism across nodes when one node of 8 GPUs is not enough),
   and the longest context the KV budget left after the weights can hold.
3. an engine builder (:mod:`.engines`) — the argv, each flag with its reason, checked against
   the engine's kept flag list (``data/engines.json``).

:meth:`ServePlan.to_dict` is the ``modellens.serve_plan/1`` JSON contract.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ModelLensError
from ._data import KnowledgeError, check_lang, load

__all__ = ["SCHEMA", "ENGINES", "ServePlan", "ModelContext", "Sizing", "model_context", "size", "serve_plan",
           "family_for", "check_flags"]

SCHEMA = "modellens.serve_plan/1"
ENGINES = ("vllm", "sglang", "llama.cpp", "ollama", "transformers")
GiB = 2**30
NODE_GPUS = 8
DEFAULT_GPU = "h100-80g"


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class ModelContext:
    """What the plan knows about the model it serves."""

    arg: str  # what the engine is given (local path or hub id)
    name: str  # served name
    source: str  # "folder", "file", "hub", "modelscope"
    spec: Any  # estimate.ModelSpec
    config: dict[str, Any] | None = None
    chat_template: str | None = None
    gguf_files: tuple[str, ...] = ()
    quantization: str | None = None  # quant method of the checkpoint (awq, gptq, fp8, gguf …)
    family: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()

    @property
    def max_context(self) -> int | None:
        t = self.spec.text if self.spec.config else {}
        for k in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            if isinstance(t.get(k), int) and t[k] > 0:
                return int(t[k])
        return None

    @property
    def mtp_layers(self) -> int:
        t = self.spec.text if self.spec.config else {}
        for k in load("serve_families.json")["mtp_config_keys"]:
            v = t.get(k) or (self.config or {}).get(k)
            if isinstance(v, int) and v > 0:
                return v
        return 0

    @property
    def remote_code(self) -> bool:
        return bool((self.config or {}).get("auto_map")) or bool(self.family and self.family.get("trust_remote_code"))


def family_for(name: str, model_type: str | None = None) -> dict[str, Any] | None:
    """The serving family (data/serve_families.json) of a model: by name first, then by model_type."""
    fams = load("serve_families.json")["families"]
    low = name.lower().replace("_", "-")
    for f in fams:
        if re.search(f["match"], low):
            return f
    if model_type:
        for f in fams:
            if model_type in f["model_types"]:
                return f
    return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        if path.is_file() and path.stat().st_size < 16 * 2**20:
            v = json.loads(path.read_text("utf-8"))
            return v if isinstance(v, dict) else None
    except (OSError, ValueError):
        return None
    return None


def _chat_template(folder: Path) -> str | None:
    p = folder / "chat_template.jinja"
    if p.is_file() and p.stat().st_size < 2**20:
        return p.read_text("utf-8", errors="replace")
    tc = _read_json(folder / "tokenizer_config.json") or {}
    t = tc.get("chat_template")
    if isinstance(t, list):  # named templates: take "default"
        t = next((x.get("template") for x in t if isinstance(x, dict) and x.get("name") == "default"), None)
    return t if isinstance(t, str) else None


def _gguf_template(path: Path) -> str | None:
    try:
        from gguf import GGUFReader

        field_ = GGUFReader(str(path)).fields.get("tokenizer.chat_template")
        if field_ is not None:
            return bytes(field_.parts[field_.data[0]]).decode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 - a template we cannot read is a template we do not translate
        return None
    return None


def _quant_method(cfg: dict[str, Any] | None, spec: Any) -> str | None:
    qc = (cfg or {}).get("quantization_config") or ((cfg or {}).get("text_config") or {}).get("quantization_config")
    if isinstance(qc, dict):
        m = str(qc.get("quant_method") or qc.get("format") or "").lower()
        if m == "compressed-tensors":
            return "compressed-tensors"
        return m or None
    if (cfg or {}).get("quantization"):
        return "mlx"
    return None


def model_context(model: str) -> ModelContext:
    """Resolve what the user typed: a local folder / config / GGUF / weight file, or a hub id."""
    from ..estimate import model_from_config, resolve_model

    path = Path(model)
    notes: list[str] = []
    source = "folder"
    if path.exists():
        folder = path if path.is_dir() else path.parent
        cfg = _read_json(folder / "config.json") if (path.is_dir() or path.suffix == ".json") else None
        ggufs = tuple(sorted(str(p) for p in folder.glob("*.gguf"))) if path.is_dir() else (
            (str(path),) if path.suffix == ".gguf" else ())
        template = _chat_template(folder) if path.is_dir() else None
        if template is None and ggufs:
            template = _gguf_template(Path(ggufs[0]))
        if path.is_dir() and ggufs and cfg is not None:  # the config gives exact counts; GGUFs are sized by type
            spec = model_from_config(cfg, path.name)
        elif path.is_dir() and ggufs:
            spec = resolve_model(ggufs[0])
            source = "file"
        else:
            spec = resolve_model(model)
            source = "folder" if path.is_dir() else "file"
        arg = str(path if path.is_dir() or path.suffix != ".json" else path.parent)
        name = (path if path.is_dir() else path.parent if path.suffix == ".json" else path).name
        if path.suffix == ".gguf":
            name = re.sub(r"(-\d{5}-of-\d{5})?\.gguf$", "", path.name)
    else:
        arg, source = model, "hub"
        for prefix, src in (("hf://", "hub"), ("ms://", "modelscope"), ("https://huggingface.co/", "hub"),
                            ("https://modelscope.cn/models/", "modelscope"), ("https://www.modelscope.cn/models/", "modelscope")):
            if arg.startswith(prefix):
                arg, source = arg[len(prefix):], src
        arg = arg.strip("/")
        if not re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?", arg):
            raise ModelLensError(f"{model}: no such file or folder, and not a hub id (org/repo)")
        name = arg.rsplit("/", 1)[-1]
        cfg, ggufs, template = _remote_config(arg, source, notes), (), None
        spec = model_from_config(cfg, name, "config") if cfg else _spec_from_name(arg)
        if not cfg:
            notes.append("read from the name only (no local files): sizes are approximate; "
                         "pass a local folder or config.json for exact numbers")
    mtype = (cfg or {}).get("model_type")
    fam = family_for(name, mtype if isinstance(mtype, str) else None)
    quant = _quant_method(cfg, spec) or ("gguf" if ggufs else None)
    if quant is None and source in ("hub", "modelscope"):
        from ..names import parse_name

        q = (parse_name(arg).quantization or "").lower()
        quant = next((m for m in ("awq", "gptq", "fp8", "gguf", "mlx", "bnb") if m in q), None)
    return ModelContext(arg, name, source, spec, cfg, template, ggufs, quant, fam, tuple(notes))


def _spec_from_name(repo: str) -> Any:
    """An approximate ModelSpec from what a hub id's name says (sizes, MoE active parameters)."""
    from ..estimate import ModelSpec
    from ..names import parse_name

    info = parse_name(repo)
    if not info.total_parameters:
        raise ModelLensError(f"{repo}: not a local file or folder, and its name states no parameter count; "
                             "pass a local folder or config.json (or download the repo's config.json)")
    return ModelSpec(name=repo.rsplit("/", 1)[-1], source="name", parameters=int(info.total_parameters),
                     active_parameters=int(info.active_parameters or info.total_parameters),
                     architecture=info.family, approximate=True)


def _remote_config(repo: str, source: str, notes: list[str]) -> dict[str, Any] | None:
    """config.json of a hub repo through ``modellens.hub`` when it is available and online."""
    try:
        from .. import hub
    except ImportError:  # pragma: no cover - hub is optional in this wave
        return None
    try:
        tree, r = hub.open_source(("ms://" if source == "modelscope" else "hf://") + repo)
        try:
            data = tree.read_bytes("config.json") if hasattr(tree, "read_bytes") else None
        finally:
            r.close()
        cfg = json.loads(data) if data else None
        return cfg if isinstance(cfg, dict) else None
    except Exception as e:  # noqa: BLE001 - offline, rate-limited, private: fall back to the name
        notes.append(f"hub: config.json not read ({type(e).__name__}); using the name")
        return None


# --------------------------------------------------------------------------- sizing


@dataclass(frozen=True)
class Sizing:
    gpu: Any  # estimate.GPU
    gpus_available: int
    tensor_parallel: int
    pipeline_parallel: int
    max_model_len: int
    weights_bytes: int
    weights_per_gpu: int
    kv_bytes_per_token: float  # whole model, all layers
    kv_budget_per_gpu: int
    kv_tokens_capacity: int
    budget_per_gpu: int
    fits: bool
    utilization: float
    allowed_tp: tuple[int, ...]
    estimate: Any
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"gpu": self.gpu.id if self.gpu else None, "gpu_memory_bytes": self.gpu.usable_bytes if self.gpu else None,
                "gpus": self.tensor_parallel * self.pipeline_parallel, "tensor_parallel": self.tensor_parallel,
                "pipeline_parallel": self.pipeline_parallel, "max_model_len": self.max_model_len,
                "weights_bytes": self.weights_bytes, "weights_per_gpu_bytes": self.weights_per_gpu,
                "kv_bytes_per_token": round(self.kv_bytes_per_token, 1), "kv_budget_per_gpu_bytes": self.kv_budget_per_gpu,
                "kv_tokens_capacity": self.kv_tokens_capacity, "budget_per_gpu_bytes": self.budget_per_gpu,
                "gpu_memory_utilization": self.utilization, "fits": self.fits, "allowed_tensor_parallel": list(self.allowed_tp)}


def _gib(n: float) -> str:
    return f"{n / GiB:.1f} GiB"


def size(ctx: ModelContext, *, engine: str = "vllm", gpu: str | None = None, gpus: int | None = None,
         context: int | None = None, quant: str | None = None, utilization: float = 0.9,
         kv_dtype: str | None = None) -> Sizing:
    """Parallelism and context length for a GPU engine, from the estimator."""
    from ..estimate import estimate_inference, find_gpu
    from ..estimate.hardware import tensor_parallel_sizes

    g = find_gpu(gpu or DEFAULT_GPU)
    spec = ctx.spec
    est_engine = "vllm" if engine in ("vllm", "sglang") else engine
    if est_engine not in ("vllm", "llama.cpp", "transformers"):
        est_engine = "transformers"
    probe = 4096
    scheme = quant if quant and ctx.quantization is None else None
    try:
        e = estimate_inference(spec, quant=scheme, context=probe, engine=est_engine, kv_dtype=kv_dtype,
                               gpu_memory_utilization=utilization)
    except KeyError as exc:
        raise ModelLensError(str(exc).strip("'\"")) from exc
    w = e.breakdown["weights"]
    kv_tok = e.breakdown["kv_cache"] / probe
    act, overhead = e.breakdown["activations"], e.breakdown["overhead"]
    budget = int(g.usable_bytes * (utilization if est_engine == "vllm" else 0.95))
    allowed = tuple(tensor_parallel_sizes(spec.heads, spec.kv_heads, NODE_GPUS))
    kvh = spec.kv_heads
    max_ctx = ctx.max_context or 4096
    want = context or max_ctx

    def kv_budget(tp: int, pp: int) -> int:
        return int(budget - w / (tp * pp) - act / tp - overhead)

    def per_gpu_kv_share(tp: int, pp: int) -> float:  # share of the whole KV cache one GPU holds
        heads_share = 1 / kvh if kvh and tp > kvh else 1 / tp
        return heads_share / pp

    def capacity(tp: int, pp: int) -> int:
        kb = kv_budget(tp, pp)
        if kb <= 0 or kv_tok <= 0:
            return 0 if kb <= 0 else 10**9
        return int(kb / (kv_tok * per_gpu_kv_share(tp, pp)))

    need = min(want, max_ctx) if context is None else context
    floor = min(need, 4096)  # without --context: the smallest context worth serving on the fewest GPUs
    if gpus:
        tp = max((t for t in allowed if t <= min(gpus, NODE_GPUS) and gpus % t == 0), default=1)
        pp = max(1, gpus // tp)
    else:
        target = need if context else floor
        tp, pp = allowed[-1] if allowed else 1, 1
        for t in allowed:
            if capacity(t, 1) >= target:
                tp = t
                break
        else:
            tp = allowed[-1] if allowed else 1
            pp = 1
            while capacity(tp, pp) < target and pp < 16:
                pp *= 2
    cap = capacity(tp, pp)
    if context:
        mml = context
    else:
        mml = min(max_ctx, cap)
        mml = mml // 1024 * 1024 if mml >= 2048 else mml // 256 * 256
    fits = cap >= max(mml, 1) and kv_budget(tp, pp) > 0
    reasons: dict[str, str] = {}
    heads = f"{spec.heads} attention heads" + (f" / {kvh} KV heads" if kvh else "") if spec.heads else "heads unknown"
    reasons["tensor_parallel"] = (
        f"weights {_gib(w)} / {tp} GPU{'s' if tp > 1 else ''} = {_gib(w / tp / pp)} each on {g.name} "
        f"({_gib(budget)} usable at utilisation {utilization:g}); TP sizes the heads allow ({heads}): "
        f"{', '.join(map(str, allowed)) or '1'}; {tp} is the smallest that leaves KV room for "
        f"{(context or floor):,} tokens" if not gpus else
        f"--gpus {gpus}: tensor parallel {tp} (the largest size ≤ {min(gpus, NODE_GPUS)} the heads allow: "
        f"{', '.join(map(str, allowed))}), weights {_gib(w / tp / pp)} per GPU")
    if pp > 1:
        reasons["pipeline_parallel"] = (f"{tp * pp} GPUs {'requested' if gpus else 'needed'}: more than one node of {NODE_GPUS}; tensor parallel inside "
                                        f"a node × pipeline parallel {pp} across nodes")
    reasons["max_model_len"] = (
        f"KV cache budget per GPU = {_gib(budget)} − weights {_gib(w / tp / pp)} − activations {_gib(act / tp)} − "
        f"runtime {_gib(overhead)} = {_gib(kv_budget(tp, pp))}; KV cache costs {kv_tok / 1024:.1f} KiB per token "
        f"({kv_tok * per_gpu_kv_share(tp, pp) / 1024:.1f} KiB on each GPU) → room for {cap:,} tokens; "
        f"{'requested' if context else 'model maximum'} {(context or max_ctx):,} → {mml:,}")
    return Sizing(g, gpus or tp * pp, tp, pp, mml, w, int(w / (tp * pp)), kv_tok, kv_budget(tp, pp), cap, budget,
                  fits, utilization, allowed, e, reasons)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class ServePlan:
    engine: str
    engine_version: str
    model: ModelContext
    command: tuple[str, ...]
    explanation: tuple[dict[str, str], ...]
    env: dict[str, str] = field(default_factory=dict)
    prepare: tuple[tuple[str, ...], ...] = ()  # commands to run first (conversion, ollama create …)
    files: dict[str, str] = field(default_factory=dict)
    sizing: Sizing | None = None
    port: int | None = None
    served_name: str | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    then: tuple[str, ...] = ()  # a command to run after (ollama run)

    @property
    def shell(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (env + " " if env else "") + shlex.join(self.command)

    def client(self) -> dict[str, Any] | None:
        if self.port is None:
            return None
        url = f"http://localhost:{self.port}/v1/chat/completions"
        body = json.dumps({"model": self.served_name, "messages": [{"role": "user", "content": "Hello!"}]},
                          ensure_ascii=False)
        curl = f"curl {url} -H 'Content-Type: application/json' -d {shlex.quote(body)}"
        return {"base_url": f"http://localhost:{self.port}/v1", "endpoint": url, "model": self.served_name,
                "curl": curl, "openai_python": (f"from openai import OpenAI\nclient = OpenAI(base_url=\"http://localhost:{self.port}/v1\", "
                                                f"api_key=\"EMPTY\")\nprint(client.chat.completions.create(model={self.served_name!r}, "
                                                "messages=[{\"role\": \"user\", \"content\": \"Hello!\"}]).choices[0].message.content)\n")}

    def to_dict(self) -> dict[str, Any]:
        m = self.model
        return {
            "schema": SCHEMA, "engine": self.engine, "engine_version": self.engine_version,
            "model": {"input": m.arg, "name": m.name, "source": m.source, "parameters": m.spec.parameters,
                      "active_parameters": m.spec.active_parameters, "architecture": m.spec.architecture,
                      "quantization": m.quantization, "family": m.family["id"] if m.family else None,
                      "approximate": m.spec.approximate, "max_context": m.max_context, "mtp_layers": m.mtp_layers},
            "command": list(self.command), "shell": self.shell, "env": dict(self.env),
            "prepare": [list(c) for c in self.prepare], "then": list(self.then), "files": dict(self.files),
            "explanation": [dict(x) for x in self.explanation],
            "sizing": self.sizing.to_dict() if self.sizing else None,
            "client": self.client(), "notes": [*m.notes, *self.notes], "warnings": list(self.warnings),
        }


def engine_spec(engine: str) -> dict[str, Any]:
    try:
        return load("engines.json")["engines"][engine]
    except KeyError:
        raise ModelLensError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}") from None


def check_flags(engine: str, argv: list[str] | tuple[str, ...]) -> list[str]:
    """Problems with an engine command line: flags or values not in the kept list (empty when fine)."""
    spec = engine_spec(engine)
    known = set(spec.get("flags", ()))
    choices = spec.get("choices", {})
    prog = spec["program"]
    problems = []
    if list(argv[: len(prog)]) != prog:
        problems.append(f"command should start with {' '.join(prog)}")
    args = list(argv[len(prog):])
    for i, a in enumerate(args):
        if a.startswith("-") and len(a) > 1 and not re.fullmatch(r"-\d+(\.\d+)?", a):
            flag, eq, value = a.partition("=")
            if flag not in known:
                problems.append(f"{flag}: not a {engine} {spec['version']} flag")
            elif flag in choices:
                v = value if eq else (args[i + 1] if i + 1 < len(args) else "")
                if v not in choices[flag]:
                    problems.append(f"{flag} {v}: not one of {engine}'s choices")
    return problems


def serve_plan(model: str, *, engine: str = "vllm", gpu: str | None = None, gpus: int | None = None,
               context: int | None = None, quant: str | None = None, port: int | None = None,
               gpu_memory_utilization: float = 0.9, served_name: str | None = None, lang: str = "en") -> ServePlan:
    """A ready, explained serving command for ``model`` on ``engine``."""
    from . import engines

    check_lang(lang)
    if engine not in ENGINES:
        raise ModelLensError(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if gpus is not None and gpus < 1:
        raise ModelLensError("--gpus must be at least 1")
    ctx = model_context(model)
    plan = engines.BUILDERS[engine](ctx, gpu=gpu, gpus=gpus, context=context, quant=quant, port=port,
                                    utilization=gpu_memory_utilization, served_name=served_name or ctx.name)
    problems = check_flags(engine, plan.command) if engine not in ("ollama", "transformers") else []
    if problems:  # a bug in a builder or a stale kept list: never hand out a command the engine rejects
        raise KnowledgeError(f"{engine} plan uses flags not in data/engines.json: {'; '.join(problems)}")
    return plan
