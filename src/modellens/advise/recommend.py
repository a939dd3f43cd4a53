"""``modellens recommend --target …``: the decision guide, made concrete for one model.

Targets and their candidate formats are data (``formats.json`` ``targets``).  With a model,
each candidate is sized by the estimator (weights ≈ the file, plus KV cache and runtime at the
context) and compared with the memory available: ``--memory``, the GPUs (``--gpu``/``--gpus``),
or the target's typical budget.  A candidate *fits* when it stays under 75 % of a machine that
also runs an OS and apps (CPU / laptop / phone / browser) or under the GPU budget; *tight* when
it only fits in all of it.  :func:`recommend` returns the ``modellens.recommend/1`` object.
"""

from __future__ import annotations

import re
from typing import Any

from ..core.errors import ModelLensError
from ._data import KnowledgeError, check_lang, require, require_text, text
from .kb import conversions_for, knowledge

__all__ = ["SCHEMA", "TARGETS", "recommend", "parse_memory", "targets"]

SCHEMA = "modellens.recommend/1"
SHARED = 0.75  # share of a shared machine's memory a model may take


def targets() -> dict[str, dict[str, Any]]:
    raw = knowledge()  # validates formats first
    from ._data import load

    out: dict[str, dict[str, Any]] = {}
    for i, t in enumerate(load("formats.json").get("targets", [])):
        where = f"formats.json targets[{i}] ({t.get('id', '?')})"
        require(where, t, {"id": str, "formats": list, "engines": list, "candidates": list})
        require_text(f"{where}.label", t.get("label"))
        require_text(f"{where}.why", t.get("why"))
        for f in t["formats"]:
            if f not in raw.formats:
                raise KnowledgeError(f"{where}: unknown format {f!r}")
        for c in t["candidates"]:
            if c["format"] not in raw.formats:
                raise KnowledgeError(f"{where}: candidate with unknown format {c['format']!r}")
        out[t["id"]] = t
    return out


TARGETS = ("nvidia-server", "cpu", "laptop", "mobile-android", "ios", "mac", "browser", "edge", "cross-framework",
           "resume-training", "publish")


def parse_memory(s: str) -> int:
    """``16GB``, ``16G``, ``16 GiB``, ``512MB`` → bytes (GB = 10⁹, GiB = 2³⁰; a bare number is GB)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|)\s*", s.lower())
    if not m:
        raise ModelLensError(f"--memory: cannot read {s!r}; write e.g. 16GB or 24GiB")
    n, unit = float(m.group(1)), m.group(2) or "gb"
    base = 1024 if "i" in unit else 1000
    return int(n * base ** {"k": 1, "m": 2, "g": 3, "t": 4}[unit[0]])


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def _budget(t: dict[str, Any], memory: str | None, gpu: str | None, gpus: int) -> tuple[int | None, float, str]:
    """(bytes, usable share, how it was decided)."""
    if memory:
        b = parse_memory(memory)
        share = SHARED if t.get("memory") in ("ram", "phone", "browser", "unified") else 0.9
        return b, share, f"--memory {memory}"
    if gpu:
        from ..estimate import find_gpu

        g = find_gpu(gpu)
        share = SHARED if g.vendor == "cpu" else 0.9
        return g.usable_bytes * gpus, share, f"{gpus} × {g.name}"
    if t.get("default_memory_gb"):
        return int(t["default_memory_gb"] * 1e9), 0.5 if t["memory"] == "phone" else SHARED, \
            f"a typical {t['id']} device ({t['default_memory_gb']} GB)"
    if t.get("memory") in ("ram", "unified"):
        from ..estimate import find_gpu

        g = find_gpu("cpu")
        return g.memory_bytes, SHARED, "this machine's RAM"
    return None, 0.9, "no memory given (--memory or --gpu)"


def _size(spec: Any, cand: dict[str, Any], context: int) -> tuple[int, int]:
    from ..estimate import estimate_inference

    engine = "llama.cpp" if cand["engine"] == "llama.cpp" else ("vllm" if cand["engine"] == "vllm" else "transformers")
    dtype = "f16" if cand["format"] == "gguf" and cand["quant"] is None else "bf16"
    e = estimate_inference(spec, dtype=dtype, quant=cand["quant"], context=context, engine=engine,
                           gpu_memory_utilization=0.9)
    total = e.total_bytes
    if engine == "vllm":  # vLLM's profiling activations are not what a minimal deployment needs
        total = e.breakdown["weights"] + e.breakdown["kv_cache"] + e.breakdown["overhead"]
    return e.breakdown["weights"], total


def recommend(target: str, *, model: str | None = None, gpu: str | None = None, gpus: int = 1,
              memory: str | None = None, context: int | None = None, lang: str = "en") -> dict[str, Any]:
    """The formats and engines for ``target``; with ``model``, each candidate sized and judged."""
    check_lang(lang)
    ts = targets()
    if target not in ts:
        raise ModelLensError(f"--target must be one of {', '.join(ts)}, not {target!r}")
    t = ts[target]
    kb = knowledge()
    out: dict[str, Any] = {"schema": SCHEMA, "lang": lang, "target": target, "target_label": text(t["label"], lang),
                           "formats": [{"id": f, "name": kb.formats[f]["name"],
                                        "typical_use": text(kb.formats[f]["typical_use"], lang)} for f in t["formats"]],
                           "engines": t["engines"], "why": text(t["why"], lang), "model": None, "options": [],
                           "choice": None, "conversions": [], "notes": []}
    if model is None:
        out["conversions"] = [c for f in t["formats"][:2] for c in conversions_for(f, lang)["from"]][:8]
        return out
    from ..estimate import resolve_model

    spec = resolve_model(model)
    ctx = context or 4096
    out["model"] = {"input": model, "name": spec.name, "parameters": spec.parameters, "approximate": spec.approximate,
                    "context": ctx}
    budget, share, how = _budget(t, memory, gpu, gpus)
    out["memory"] = {"bytes": budget, "usable_share": share, "from": how}
    if not t["candidates"]:
        if target == "resume-training":
            from ..estimate import estimate_training

            e = estimate_training(spec, mode="full", context=ctx)
            ckpt = spec.parameters * (2 + 4 + 8)
            out["notes"].append(
                f"a full checkpoint (BF16 weights + FP32 master copy + two AdamW moments) is ≈ {_gb(ckpt)}; "
                f"training it needs ≈ {_gb(e.total_bytes)} per GPU without ZeRO" if lang == "en" else
                f"完整检查点(BF16 权重 + FP32 主权重 + 两个 AdamW 动量)约 {_gb(ckpt)};不开 ZeRO 时训练每卡约需 {_gb(e.total_bytes)}")
        out["conversions"] = [c for f in t["formats"][:2] for c in conversions_for(f, lang)["from"]][:8]
        return out
    options = []
    for cand in t["candidates"]:
        w, total = _size(spec, cand, ctx)
        verdict = None
        if budget:
            verdict = "fits" if total <= budget * share else ("tight" if total <= budget else "too-big")
        options.append({"format": cand["format"], "quant": cand["quant"], "label": cand["label"], "engine": cand["engine"],
                        "weights_bytes": w, "total_bytes": total, "verdict": verdict,
                        "summary": f"{cand['label']} ≈ {_gb(w)} " + {"fits": "✓", "tight": "✗ (tight)", "too-big": "✗",
                                                                     None: ""}[verdict]})
    out["options"] = options
    fitting = [o for o in options if o["verdict"] == "fits"]
    if fitting:
        # the target's list is ordered by preference; among fitting ones prefer the first listed
        best = fitting[0] if target in ("nvidia-server",) else max(fitting, key=lambda o: o["weights_bytes"]) \
            if target in ("mac",) else fitting[0]
        out["choice"] = best
    elif budget:
        out["notes"].append("nothing fits: a smaller model, a lower-bit quant (Q3_K_M, IQ3), or more memory"
                            if lang == "en" else "都放不下:换更小的模型、更低位的量化(Q3_K_M、IQ3),或增加内存")
    line = " · ".join(o["summary"].strip() for o in options)
    if out["choice"]:
        eng = {"llama.cpp": "llama.cpp or Ollama", "vllm": "vLLM or SGLang"}.get(out["choice"]["engine"], out["choice"]["engine"])
        if lang == "zh":
            eng = eng.replace(" or ", " 或 ")
        line += f" → {out['choice']['label']} " + ("用 " if lang == "zh" else "with ") + eng
    out["summary"] = f"{spec.name} on {out['target_label']} ({how}): {line}" if lang == "en" else \
        f"{spec.name} 部署到{out['target_label']}({how}):{line}"
    fmt = out["choice"]["format"] if out["choice"] else t["formats"][0]
    out["conversions"] = conversions_for(fmt, lang)["from"] + conversions_for(fmt, lang)["within"]
    if out["choice"] and out["choice"]["engine"] in ("vllm", "llama.cpp"):
        engine = "vllm" if out["choice"]["engine"] == "vllm" else "llama.cpp"
        out["serve"] = f"modellens serve-plan {model} --engine {engine}" + (f" --gpu {gpu}" if gpu else "") + \
            (f" --quant {out['choice']['quant']}" if out["choice"]["quant"] and engine == "llama.cpp" else "")
    return out
