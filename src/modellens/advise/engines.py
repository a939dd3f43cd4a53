"""One builder per serving engine: argv + the reason for each flag.

Builders only use flags kept in ``data/engines.json`` (checked again by
:func:`.serve.check_flags`); parser names come from ``data/serve_families.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

from .modelfile import chat_format, write_modelfile
from .serve import ModelContext, ServePlan, Sizing, _gib, engine_spec, size

__all__ = ["BUILDERS"]

_ONLINE_VLLM = {"fp8": "fp8"}  # --quant values vLLM applies to an unquantized checkpoint at load time
_PREQUANT = {"awq", "gptq", "gptq-int4", "gptq-int8", "awq-int4", "bnb-nf4", "bnb-int8", "int4", "int8", "mxfp4"}


def _why(flag: str, value: Any, why: str) -> dict[str, str]:
    return {"flag": flag, "value": "" if value is None else str(value), "why": why}


def _dtype(ctx: ModelContext) -> tuple[str, str]:
    td = str((ctx.config or {}).get("torch_dtype") or (ctx.config or {}).get("dtype") or "")
    if td in ("bfloat16", "float16"):
        return td, f"the checkpoint's torch_dtype is {td}"
    if td == "float32":
        return "bfloat16", "the checkpoint is float32: serve in bfloat16 (half the memory, same range)"
    return "auto", "auto: the checkpoint's own dtype (bfloat16 for most current models)"


def _common_gpu(ctx: ModelContext, engine: str, gpu, gpus, context, quant, utilization) -> tuple[Sizing, list[str], str | None]:  # noqa: ANN001
    warnings: list[str] = []
    online = None
    if quant:
        q = quant.lower()
        if ctx.quantization:
            warnings.append(f"the checkpoint is already quantized ({ctx.quantization}); --quant {quant} is ignored: "
                            "the engine reads the method from its config")
            quant = None
        elif q in _ONLINE_VLLM:
            online = _ONLINE_VLLM[q]
        elif q in _PREQUANT:
            warnings.append(f"{engine} cannot make {quant} weights at load time: serve a pre-quantized checkpoint "
                            f"(see `modellens formats {q.split('-')[0].replace('bnb', 'bitsandbytes')}` for how to make one); "
                            "sizes below assume one")
    s = size(ctx, engine=engine, gpu=gpu, gpus=gpus, context=context, quant=quant, utilization=utilization)
    if online == "fp8" and not s.gpu.fp8:
        warnings.append(f"{s.gpu.name} has no FP8 tensor cores: vLLM falls back to weight-only FP8 (Marlin), "
                        "memory savings without the speed-up")
    if not s.fits:
        warnings.append(f"does not fit: the KV budget per GPU after the weights is {_gib(s.kv_budget_per_gpu)}; "
                        "use more GPUs (--gpus), a quantized checkpoint (AWQ / GPTQ / FP8), a shorter --context, "
                        "or --kv-cache-dtype fp8")
    return s, warnings, online


def _explain_common(s: Sizing, ctx: ModelContext) -> list[dict[str, str]]:
    ex = [_why("--tensor-parallel-size", s.tensor_parallel, s.reasons["tensor_parallel"])]
    if s.pipeline_parallel > 1:
        ex.append(_why("--pipeline-parallel-size", s.pipeline_parallel, s.reasons["pipeline_parallel"]))
    ex.append(_why("--max-model-len", s.max_model_len, s.reasons["max_model_len"]))
    return ex


def _parsers(ctx: ModelContext, engine: str) -> tuple[list[str], list[dict[str, str]], list[str]]:
    argv: list[str] = []
    ex: list[dict[str, str]] = []
    notes: list[str] = []
    fam = ctx.family
    if not fam:
        return argv, ex, notes
    p = fam.get(engine) or {}
    src = ", ".join(fam["sources"][:2])
    if p.get("tool_call_parser"):
        if engine == "vllm":
            argv += ["--enable-auto-tool-choice"]
            ex.append(_why("--enable-auto-tool-choice", None, "let the model decide when to call tools (tool_choice=auto)"))
        argv += ["--tool-call-parser", p["tool_call_parser"]]
        ex.append(_why("--tool-call-parser", p["tool_call_parser"], f"{fam['id']} family: {src}"))
    if p.get("reasoning_parser"):
        argv += ["--reasoning-parser", p["reasoning_parser"]]
        ex.append(_why("--reasoning-parser", p["reasoning_parser"],
                       f"{fam['id']} family: thinking goes to message.reasoning, the answer to message.content"))
    if fam.get("note"):
        notes.append(fam["note"]["en"])
    return argv, ex, notes


def _trust(ctx: ModelContext, ex: list[dict[str, str]], warnings: list[str]) -> list[str]:
    if not ctx.remote_code:
        return []
    ex.append(_why("--trust-remote-code", None, "the config's auto_map (or the family) needs the repo's own Python code"))
    warnings.append("--trust-remote-code runs Python files from the model repo: read them first, or pin a revision you reviewed")
    return ["--trust-remote-code"]


def _server_tail(ctx: ModelContext, engine: str, argv: list[str], ex: list[dict[str, str]], warnings: list[str],
                 served_name: str, port: int) -> list[str]:
    """The flags every OpenAI-compatible server command ends with: tool-call / reasoning
    parsers, remote code, the served name and the port.  Returns the parsers' notes."""
    parsers, pex, notes = _parsers(ctx, engine)
    argv += parsers
    ex += pex
    argv += _trust(ctx, ex, warnings)
    argv += ["--served-model-name", served_name, "--port", str(port)]
    return notes


# --------------------------------------------------------------------------- vLLM


def build_vllm(ctx: ModelContext, *, gpu, gpus, context, quant, port, utilization, served_name) -> ServePlan:  # noqa: ANN001
    spec = engine_spec("vllm")
    port = port or spec["default_port"]
    s, warnings, online = _common_gpu(ctx, "vllm", gpu, gpus, context, quant, utilization)
    dtype, dtype_why = _dtype(ctx)
    argv = [*spec["program"], ctx.arg, "--tensor-parallel-size", str(s.tensor_parallel)]
    ex = _explain_common(s, ctx)
    if s.pipeline_parallel > 1:
        argv += ["--pipeline-parallel-size", str(s.pipeline_parallel)]
    argv += ["--max-model-len", str(s.max_model_len), "--gpu-memory-utilization", f"{utilization:g}", "--dtype", dtype]
    ex.append(_why("--gpu-memory-utilization", f"{utilization:g}",
                   f"vLLM takes this share of each GPU ({_gib(s.budget_per_gpu)} of {s.gpu.name}) and fills what the "
                   "weights leave with KV-cache blocks; lower it if other processes share the GPU"))
    ex.append(_why("--dtype", dtype, dtype_why))
    if online:
        argv += ["--quantization", online]
        ex.append(_why("--quantization", online, "FP8 weights quantized at load time (dynamic, no calibration): "
                       "half the weight memory of BF16"))
    elif ctx.quantization:
        ex.append(_why("(no --quantization)", ctx.quantization, f"the checkpoint is {ctx.quantization}: vLLM reads the "
                       "method from config.json and picks its fastest kernel (e.g. awq_marlin / gptq_marlin)"))
    kv = "auto"
    ex_kv = "auto: the KV cache in the model dtype"
    if not s.fits and s.gpu.fp8:
        kv, ex_kv = "fp8", "fp8 halves the KV cache: the context does not fit otherwise"
    argv += ["--kv-cache-dtype", kv]
    ex.append(_why("--kv-cache-dtype", kv, ex_kv + ("" if kv == "fp8" else
                                                    "; fp8 would double the tokens that fit (Hopper / Ada / Blackwell)")))
    if ctx.mtp_layers:
        cfg = json.dumps({"method": "mtp", "num_speculative_tokens": ctx.mtp_layers}, separators=(",", ":"))
        argv += ["--speculative-config", cfg]
        ex.append(_why("--speculative-config", cfg, f"the checkpoint ships {ctx.mtp_layers} multi-token-prediction "
                       "layer(s): they draft tokens the main model verifies (faster decoding at low batch)"))
    notes = _server_tail(ctx, "vllm", argv, ex, warnings, served_name, port)
    ex.append(_why("--served-model-name", served_name, "the name clients pass as \"model\""))
    ex.append(_why("--port", port, "vLLM's OpenAI-compatible server (default 8000): /v1/chat/completions, /v1/completions, /v1/models"))
    env = {}
    if ctx.source == "modelscope":
        env["VLLM_USE_MODELSCOPE"] = "true"
        ex.append(_why("VLLM_USE_MODELSCOPE", "true", "download the weights from ModelScope instead of Hugging Face"))
    if s.pipeline_parallel > 1:
        notes.append("multi-node: start a Ray cluster across the nodes first (ray start --head / ray start --address=…), "
                     "then run this command on the head node")
    return ServePlan("vllm", spec["version"], ctx, tuple(argv), tuple(ex), env, sizing=s, port=port,
                     served_name=served_name, notes=tuple(notes), warnings=tuple(warnings))


# --------------------------------------------------------------------------- SGLang


def build_sglang(ctx: ModelContext, *, gpu, gpus, context, quant, port, utilization, served_name) -> ServePlan:  # noqa: ANN001
    spec = engine_spec("sglang")
    port = port or spec["default_port"]
    s, warnings, online = _common_gpu(ctx, "sglang", gpu, gpus, context, quant, utilization)
    dtype, dtype_why = _dtype(ctx)
    argv = [*spec["program"], "--model-path", ctx.arg, "--tp-size", str(s.tensor_parallel)]
    ex = [_why("--tp-size", s.tensor_parallel, s.reasons["tensor_parallel"])]
    if s.pipeline_parallel > 1:
        argv += ["--pp-size", str(s.pipeline_parallel)]
        ex.append(_why("--pp-size", s.pipeline_parallel, s.reasons["pipeline_parallel"]))
    frac = round(min(utilization, 0.9) - 0.02, 2)
    argv += ["--context-length", str(s.max_model_len), "--mem-fraction-static", f"{frac:g}", "--dtype", dtype]
    ex.append(_why("--context-length", s.max_model_len, s.reasons["max_model_len"]))
    ex.append(_why("--mem-fraction-static", f"{frac:g}", "SGLang's share of each GPU for weights + KV pool (the rest "
                   "is for activations and CUDA graphs); lower it on out-of-memory at start-up"))
    ex.append(_why("--dtype", dtype, dtype_why))
    if online:
        argv += ["--quantization", online]
        ex.append(_why("--quantization", online, "FP8 weights quantized at load time"))
    if ctx.mtp_layers:
        argv += ["--speculative-algorithm", "EAGLE", "--speculative-num-steps", "1", "--speculative-eagle-topk", "1",
                 "--speculative-num-draft-tokens", "2"]
        ex.append(_why("--speculative-algorithm", "EAGLE", f"the checkpoint's {ctx.mtp_layers} MTP layer(s) serve as "
                       "the draft model (SGLang runs MTP through its EAGLE path)"))
    notes = _server_tail(ctx, "sglang", argv, ex, warnings, served_name, port)
    ex.append(_why("--port", port, "SGLang's OpenAI-compatible server (default 30000)"))
    env = {"SGLANG_USE_MODELSCOPE": "true"} if ctx.source == "modelscope" else {}
    return ServePlan("sglang", spec["version"], ctx, tuple(argv), tuple(ex), env, sizing=s, port=port,
                     served_name=served_name, notes=tuple(notes), warnings=tuple(warnings))


# --------------------------------------------------------------------------- llama.cpp and Ollama


def _gguf_source(ctx: ModelContext, quant: str | None) -> tuple[str, list[tuple[str, ...]], str, list[str]]:
    """The GGUF to load, commands that make it when there is none, its quant type, notes."""
    qtype = (quant or "Q4_K_M").upper()
    if ctx.gguf_files:
        files = list(ctx.gguf_files)
        split = [f for f in files if re.search(r"-00001-of-\d{5}\.gguf$", f)]
        first = split[0] if split else files[0]
        notes = ["split GGUF: llama.cpp loads every part from the first one"] if split else []
        m = re.search(r"(I?Q\d_[A-Z0-9_]+|F16|BF16|F32|Q8_0)", Path(first).name.upper())
        return first, [], (m.group(1) if m else "GGUF"), notes
    if ctx.source in ("hub", "modelscope") and (ctx.quantization == "gguf" or "gguf" in ctx.arg.lower()):
        return f"{ctx.arg}:{qtype}", [], qtype, ["-hf downloads the GGUF of that quant type from the repo"]
    base = ctx.name
    f16 = f"{base}-F16.gguf"
    out = f"{base}-{qtype}.gguf"
    src = ctx.arg
    prepare = [("python", "convert_hf_to_gguf.py", src, "--outfile", f16, "--outtype", "f16")]
    if ctx.source in ("hub", "modelscope"):
        prepare[0] = ("python", "convert_hf_to_gguf.py", src, "--remote", "--outfile", f16, "--outtype", "f16")
    prepare.append(("llama-quantize", f16, out, qtype))
    return out, prepare, qtype, [f"no GGUF yet: convert with llama.cpp's converter, then quantize to {qtype}"]


def _llama_sizing(ctx: ModelContext, gpu: str | None, context: int | None, qtype: str) -> tuple[int, int, dict[str, str], list[str]]:
    """-ngl and -c from the estimator (llama.cpp engine)."""
    from ..estimate import estimate_inference, find_gpu, get_scheme

    warnings: list[str] = []
    scheme = None
    if not ctx.gguf_files and ctx.quantization is None:
        try:
            scheme = get_scheme(qtype.lower()).name
        except KeyError:
            scheme = None
    c = context or min(ctx.max_context or 4096, 8192)
    e = estimate_inference(ctx.spec, quant=scheme.lower() if scheme else None, context=c, engine="llama.cpp")
    w, kv = e.breakdown["weights"], e.breakdown["kv_cache"]
    n = ctx.spec.layers
    reasons = {"-c": f"context {c:,} tokens: KV cache {_gib(kv)} (f16) allocated up front"
                     + ("" if context else f"; the model allows {ctx.max_context or c:,}, 8192 keeps memory modest — raise -c as memory allows")}
    if not gpu or gpu.lower() in ("cpu", "none"):
        reasons["-ngl"] = f"no GPU given: all {n} layers on the CPU (weights {_gib(w)} + KV {_gib(kv)} in RAM)"
        return 0, c, reasons, warnings
    g = find_gpu(gpu)
    budget = g.usable_bytes * 0.95 - e.breakdown["activations"] - e.breakdown["overhead"]
    per_layer = (w + kv) / max(n, 1)
    fit_layers = max(0, min(n, int(budget // per_layer))) if per_layer else n
    if fit_layers >= n:
        reasons["-ngl"] = f"all {n} layers fit on {g.name}: weights {_gib(w)} + KV {_gib(kv)} ≤ {_gib(budget)}"
        return 999, c, reasons, warnings
    reasons["-ngl"] = (f"{fit_layers} of {n} layers fit on {g.name} (each ≈ {_gib(per_layer)} with its KV): "
                       "the rest run on the CPU — slower; a smaller quant type or -c puts more on the GPU")
    warnings.append(f"partial offload: {fit_layers}/{n} layers on the GPU")
    return fit_layers, c, reasons, warnings


def build_llama_cpp(ctx: ModelContext, *, gpu, gpus, context, quant, port, utilization, served_name) -> ServePlan:  # noqa: ANN001
    spec = engine_spec("llama.cpp")
    port = port or spec["default_port"]
    src, prepare, qtype, notes = _gguf_source(ctx, quant)
    ngl, c, reasons, warnings = _llama_sizing(ctx, gpu, context, qtype)
    hf = src.endswith(f":{qtype}") and ctx.source in ("hub", "modelscope") and not prepare
    argv = [*spec["program"], "-hf" if hf else "-m", src, "-ngl", str(ngl), "-c", str(c), "--jinja",
            "--alias", served_name, "--port", str(port)]
    ex = [_why("-hf" if hf else "-m", src, "the GGUF file" + (" (first part of a split GGUF)" if "-00001-of-" in src else "")),
          _why("-ngl", ngl, reasons["-ngl"]), _why("-c", c, reasons["-c"]),
          _why("--jinja", None, "render the model's own Jinja chat template (needed for tool calls and reasoning models)"),
          _why("--alias", served_name, "the model name the OpenAI-compatible API reports"),
          _why("--port", port, "llama-server's OpenAI-compatible server (default 8080): /v1/chat/completions")]
    if gpus and gpus > 1:
        notes.append(f"llama.cpp splits layers across the {gpus} GPUs by default (--split-mode layer)")
    return ServePlan("llama.cpp", spec["version"], ctx, tuple(argv), tuple(ex), prepare=tuple(prepare), port=port,
                     served_name=served_name, notes=tuple(notes), warnings=tuple(warnings))


def build_ollama(ctx: ModelContext, *, gpu, gpus, context, quant, port, utilization, served_name) -> ServePlan:  # noqa: ANN001
    spec = engine_spec("ollama")
    port = port or spec["default_port"]
    src, prepare, qtype, notes = _gguf_source(ctx, quant)
    if src.endswith(f":{qtype}") and not prepare:  # Ollama pulls GGUF repos from the Hub directly
        src = f"hf.co/{ctx.arg}:{qtype}"
    _, c, reasons, warnings = _llama_sizing(ctx, gpu, context, qtype)
    fmt = chat_format(ctx.chat_template, ctx.name)
    name = re.sub(r"[^a-z0-9._-]", "-", served_name.lower())
    modelfile = write_modelfile(src if not src.startswith(("hf.co/", "/")) and Path(src).suffix != ".gguf" else
                                (src if src.startswith(("hf.co/", "/")) else f"./{Path(src).name}"),
                                num_ctx=c, fmt=fmt)
    ex = [_why("FROM", src, "the GGUF Ollama imports (Ollama runs llama.cpp underneath)"),
          _why("PARAMETER num_ctx", c, reasons["-c"] + "; Ollama's own default is much smaller")]
    if fmt:
        how = "translated from the checkpoint's chat template" if ctx.chat_template else "chosen from the model name"
        ex.append(_why("TEMPLATE", fmt["id"], f"{fmt['id']} chat format, {how}, in Ollama's Go-template syntax"))
        ex.append(_why("PARAMETER stop", ", ".join(fmt["stop"]), "the format's end-of-turn markers"))
    else:
        notes.append("no TEMPLATE: Ollama uses the chat template stored in the GGUF when it recognises it")
    prepare = [*prepare, ("ollama", "create", name, "-f", "Modelfile")]
    argv = ("ollama", "serve")
    ex.append(_why("ollama create", name, "builds the model from the Modelfile; `ollama serve` (or the desktop app) "
                   f"serves it on port {port}, OpenAI-compatible under /v1"))
    return ServePlan("ollama", spec["version"], ctx, argv, tuple(ex), prepare=tuple(prepare),
                     files={"Modelfile": modelfile}, port=port, served_name=name, notes=tuple(notes),
                     warnings=tuple(warnings), then=("ollama", "run", name))


# --------------------------------------------------------------------------- transformers


_SNIPPET = '''from transformers import AutoModelForCausalLM, AutoTokenizer

model_id = {model!r}
tokenizer = AutoTokenizer.from_pretrained(model_id{trust})
model = AutoModelForCausalLM.from_pretrained(model_id, dtype="auto", device_map="auto"{trust})

messages = [{{"role": "user", "content": "Hello!"}}]
inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
output = model.generate(**inputs, max_new_tokens={max_new})
print(tokenizer.decode(output[0][inputs["input_ids"].shape[-1]:], skip_special_tokens=True))
'''


def build_transformers(ctx: ModelContext, *, gpu, gpus, context, quant, port, utilization, served_name) -> ServePlan:  # noqa: ANN001
    spec = engine_spec("transformers")
    warnings: list[str] = []
    trust = ", trust_remote_code=True" if ctx.remote_code else ""
    if trust:
        warnings.append("trust_remote_code=True runs Python files from the model repo: review them first")
    from ..estimate import estimate_inference

    e = estimate_inference(ctx.spec, context=context or 4096, engine="transformers")
    code = _SNIPPET.format(model=ctx.arg, trust=trust, max_new=512)
    ex = [_why("device_map", "auto", f"accelerate places the layers on the available GPUs, then CPU: the model needs "
               f"≈ {_gib(e.total_bytes)} ({_gib(e.breakdown['weights'])} of weights) at {context or 4096:,} tokens"),
          _why("dtype", "auto", "the checkpoint's dtype (bfloat16 for most models)"),
          _why("apply_chat_template", None, "the model's own chat template formats the conversation")]
    notes = ["for an HTTP server with batching use --engine vllm or sglang; transformers is for scripts and debugging"]
    if ctx.source == "modelscope":
        notes.append("ModelScope id: download it first (modelscope download --model " + ctx.arg + ") and pass the folder")
    return ServePlan("transformers", spec["version"], ctx, ("python", "serve_transformers.py"), tuple(ex),
                     files={"serve_transformers.py": code}, served_name=served_name, notes=tuple(notes),
                     warnings=tuple(warnings))


BUILDERS: dict[str, Callable[..., ServePlan]] = {"vllm": build_vllm, "sglang": build_sglang, "llama.cpp": build_llama_cpp,
                                                 "ollama": build_ollama, "transformers": build_transformers}
