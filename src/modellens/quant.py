"""Quantized checkpoints: name the method and count the parameters behind the packing.

Every popular tool miscounts quantized checkpoints the same way: packed integers are counted as
parameters (an int32 ``qweight`` holds eight 4-bit weights), and scales, zero points and group
indices are counted as weights.  This module reads the method from the config
(``quantization_config``, MLX's ``quantization``) and from the tensors themselves (names,
dtypes, shapes), then gives each tensor its logical parameter count:

* a *packed* tensor of ``bits``-bit values in a ``c``-bit container holds ``stored × c / bits``
  parameters (and its logical shape is rebuilt in the method's packing dimension);
* a *quantized* but unpacked tensor (FP8, int8) holds one parameter per element;
* a *bookkeeping* tensor (scales, zeros, ``g_idx``, ``absmax``, quant maps …) holds none: its
  bytes are reported as ``overhead_bytes``.

The methods are data (:data:`METHODS`); adding one is adding a row.  Published layouts:

==================  =====================================================  ==========================
method              packed / quantized weight                               bookkeeping
==================  =====================================================  ==========================
gptq                ``qweight`` I32 [in·bits/32, out]                        qzeros, scales, g_idx
awq (gemm)          ``qweight`` I32 [in, out·bits/32]                        qzeros, scales
compressed-tensors  ``weight_packed`` I32 [out, in·bits/32]; or ``weight``   weight_scale, _zero_point,
                    I8 / F8 [out, in]                                        _shape, _g_idx, input_scale
mlx                 ``weight`` U32 [out, in·bits/32]                         scales, biases
bitsandbytes        ``weight`` U8 [n/2, 1] (4-bit) or I8 [out, in] (8-bit)   absmax, quant_map, nested_*,
                                                                             quant_state.*, SCB
fp8                 ``weight`` F8_E4M3 [out, in]                             weight_scale(_inv), input_scale
mxfp4 (gpt-oss)     ``*_blocks`` U8 [..., in/32, 16]                         ``*_scales`` U8 (E8M0)
nvfp4 (ModelOpt)    ``weight`` U8 [out, in/2]                                weight_scale F8, weight_scale_2
hqq / eetq / exl2   ``W_q`` / ``weight`` I8 / ``q_weight``                   scale, zero / weight_scales / q_*
==================  =====================================================  ==========================
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

from .core import dtypes
from .core.model import TensorInfo

__all__ = ["METHODS", "MethodSpec", "analyze", "summary_line"]

Shape = tuple[int, ...]


# Unpacking: stored extent d of c-bit containers holding b-bit values is d·c/b values (exact
# also for 3-bit GPTQ, where 32 values fill three int32).
def _last(s: Shape, c: int, b: int) -> Shape:  # packed along the last dim: [out, in·b/c]
    return (*s[:-1], s[-1] * c // b)


def _gptq(s: Shape, c: int, b: int) -> Shape:  # [in·b/32, out] -> (out, in)
    return (s[1], s[0] * c // b) if len(s) == 2 else s


def _awq(s: Shape, c: int, b: int) -> Shape:  # [in, out·b/32] -> (out, in)
    return (s[1] * c // b, s[0]) if len(s) == 2 else s


def _blocks(s: Shape, c: int, b: int) -> Shape:  # [..., groups, bytes] -> [..., groups·bytes·c/b]
    return (*s[:-2], s[-2] * s[-1] * c // b) if len(s) >= 2 else s


def _flat(s: Shape, c: int, b: int) -> Shape:  # bitsandbytes 4-bit: [n/2, 1]; the 2-D shape is in quant_state
    return (math.prod(s) * c // b,)


@dataclass(frozen=True)
class MethodSpec:
    id: str
    config_names: tuple[str, ...]  # quant_method values in config.json
    packed: tuple[str, ...]  # name suffixes of the quantized weight tensors
    overhead: tuple[str, ...]  # name suffixes of bookkeeping tensors
    evidence: tuple[str, ...]  # suffixes that identify the method without a config
    unpack: Callable[[Shape, int, int], Shape] = _last
    default_bits: int | None = None
    # A packed suffix that is a plain name (".weight") only counts when a sibling proves it.
    needs_sibling: tuple[str, ...] = ()


METHODS: tuple[MethodSpec, ...] = (
    MethodSpec("gptq", ("gptq",), (".qweight",), (".qzeros", ".scales", ".g_idx"),
               (".g_idx",), _gptq, 4),
    MethodSpec("awq", ("awq",), (".qweight",), (".qzeros", ".scales"), (".qweight", ".qzeros"), _awq, 4),
    MethodSpec("compressed-tensors", ("compressed-tensors", "compressed_tensors"),
               (".weight_packed", ".weight"),
               (".weight_scale", ".weight_zero_point", ".weight_shape", ".weight_g_idx", ".input_scale",
                ".output_scale", ".weight_global_scale", ".input_global_scale", ".input_zero_point",
                ".k_scale", ".v_scale"),
               (".weight_packed", ".weight_shape"), _last, None, (".weight_scale",)),
    MethodSpec("mlx", ("mlx",), (".weight",), (".scales", ".biases"), (), _last, 4, (".scales",)),
    MethodSpec("bitsandbytes", ("bitsandbytes",), (".weight",),
               (".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map",
                ".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4", ".SCB", ".weight_format"),
               (".weight.absmax", ".SCB"), _flat, 4, (".weight.absmax", ".SCB")),
    MethodSpec("fp8", ("fp8", "fbgemm_fp8"), (".weight",),
               (".weight_scale_inv", ".weight_scale", ".input_scale", ".activation_scale"),
               (".weight_scale_inv",), _last, 8, (".weight_scale_inv", ".weight_scale")),
    MethodSpec("mxfp4", ("mxfp4",), ("_blocks",), ("_scales",), ("_blocks",), _blocks, 4),
    MethodSpec("nvfp4", ("nvfp4",), (".weight",), (".weight_scale", ".weight_scale_2", ".input_scale"),
               (".weight_scale_2",), _last, 4, (".weight_scale_2",)),
    MethodSpec("hqq", ("hqq",), (".W_q",), (".scale", ".zero", ".meta"), (".W_q",), _last, 4),
    MethodSpec("eetq", ("eetq",), (".weight",), (".weight_scales",), (".weight_scales",), _last, 8,
               (".weight_scales",)),
    MethodSpec("exl2", ("exl2",), (".q_weight",),
               (".q_scale", ".q_scale_max", ".q_groups", ".q_perm", ".q_invperm", ".q_group_map"),
               (".q_invperm", ".q_scale_max"), _gptq, None),
)
_BY_ID = {m.id: m for m in METHODS}


def _method_from_config(qc: dict[str, Any]) -> str | None:
    name = str(qc.get("quant_method") or "").lower()
    if name == "modelopt":
        algo = str(qc.get("quant_algo") or "").upper()
        return "nvfp4" if "FP4" in algo else "fp8"
    if not name and ("load_in_4bit" in qc or "load_in_8bit" in qc):
        return "bitsandbytes"
    return next((m.id for m in METHODS if name in m.config_names), name or None)


def _sibling(names: set[str], name: str, suffix: str, sibling: str) -> bool:
    base = name[: -len(suffix)] if name.endswith(suffix) else name
    # ".weight" siblings: "x.weight" -> "x.weight_scale" / "x.scales" / "x.weight.absmax"
    return (base + sibling) in names or (name + sibling.removeprefix(".weight")) in names


# Every method stores its quantized weights in one of these containers: a model without any
# of them (a plain F32/F16/BF16 checkpoint) needs no closer look.
_CONTAINERS = frozenset({"I32", "U32", "I16", "U16", "I8", "U8"})


def _method_from_tensors(tensors: list[TensorInfo]) -> tuple[str | None, list[str]]:
    if not any(t.dtype in _CONTAINERS or t.dtype.startswith("F8_") for t in tensors):
        return None, []
    names = {t.name for t in tensors}
    best: tuple[int, str | None, list[str]] = (0, None, [])
    for m in METHODS:
        hits = [t.name for t in tensors if t.name.endswith(m.evidence)] if m.evidence else []
        if m.id == "mlx":  # U32 weights next to scales and biases
            hits = [t.name for t in tensors if t.dtype == "U32" and t.name.endswith(".weight")
                    and t.name[:-7] + ".scales" in names and t.name[:-7] + ".biases" in names]
        elif m.id == "fp8":
            hits = [t.name for t in tensors if t.dtype.startswith("F8_") and t.name.endswith(".weight")]
        elif m.id == "awq" and any(n.endswith(".g_idx") for n in names):
            hits = []
        if len(hits) > best[0]:
            best = (len(hits), m.id, hits)
    if best[1] == "awq":
        best = (best[0], _gptq_or_awq(tensors), best[2])
    return best[1], [f"tensor {h}" for h in best[2][:3]]


def _gptq_or_awq(tensors: list[TensorInfo]) -> str:
    """Without g_idx: GPTQ packs qweight along dim 0 (scales share its last dim); AWQ along dim 1."""
    by_name = {t.name: t for t in tensors}
    for t in tensors:
        if t.name.endswith(".qweight") and len(t.shape) == 2:
            scales = by_name.get(t.name[:-8] + ".scales")
            if scales is not None and len(scales.shape) == 2:
                return "gptq" if scales.shape[-1] == t.shape[-1] else "awq"
    return "gptq"


def _config_bits(method: str, qc: dict[str, Any]) -> tuple[int | None, int | None, dict[str, Any]]:
    """(bits, group_size, extra report fields) from the method's config."""
    extra: dict[str, Any] = {}
    bits = qc.get("bits", qc.get("w_bit", qc.get("wbits")))
    group = qc.get("group_size", qc.get("q_group_size"))
    if method == "gptq":
        extra["desc_act"] = qc.get("desc_act")
        extra["sym"] = qc.get("sym")
        extra["format_variant"] = qc.get("checkpoint_format") or qc.get("format") or "gptq"
    elif method == "awq":
        extra["format_variant"] = qc.get("version") or qc.get("format") or "gemm"
        extra["zero_point"] = qc.get("zero_point")
    elif method == "compressed-tensors":
        extra["format_variant"] = qc.get("format")
        groups = [g for g in (qc.get("config_groups") or {}).values() if isinstance(g, dict)]
        w = next((g.get("weights") for g in groups if isinstance(g.get("weights"), dict)), None) or {}
        a = next((g.get("input_activations") for g in groups if isinstance(g.get("input_activations"), dict)), None)
        bits = w.get("num_bits", bits)
        group = w.get("group_size", group)
        extra["scheme"] = "NVFP4" if "nvfp4" in str(qc.get("format")) else _ct_scheme(w, a)
        extra["strategy"] = w.get("strategy")
        extra["sym"] = w.get("symmetric")
    elif method == "bitsandbytes":
        four = qc.get("load_in_4bit") or qc.get("_load_in_4bit")
        bits = 4 if four else 8
        if four:
            qt = qc.get("bnb_4bit_quant_type", "fp4")
            extra["scheme"] = str(qt).upper()
            extra["double_quantization"] = bool(qc.get("bnb_4bit_use_double_quant"))
            group = 64
    elif method == "fp8":
        bits = 8
        block = qc.get("weight_block_size")
        extra["scheme"] = "FP8 " + str(qc.get("fmt", "e4m3")).upper()
        if block:
            extra["format_variant"] = f"block {block[0]}x{block[1]}"
        if qc.get("activation_scheme"):
            extra["activation_scheme"] = qc["activation_scheme"]
    elif method in ("mxfp4", "nvfp4"):
        bits = 4
        group = 32 if method == "mxfp4" else qc.get("group_size", 16)
        extra["scheme"] = method.upper()
    elif method == "mlx":
        extra["format_variant"] = qc.get("mode")
    return (int(bits) if isinstance(bits, (int, float)) else None,
            int(group) if isinstance(group, int) else None,
            {k: v for k, v in extra.items() if v is not None})


def _ct_scheme(w: dict[str, Any], a: dict[str, Any] | None) -> str | None:
    if not w:
        return None
    wb = w.get("num_bits")
    if w.get("type") == "float":
        if wb == 8:
            dynamic = isinstance(a, dict) and a.get("dynamic")
            return "FP8-dynamic" if dynamic else ("FP8" if a else "FP8 weight-only")
        return f"FP{wb}"
    ab = a.get("num_bits") if isinstance(a, dict) else None
    return f"W{wb}A{ab or 16}"


def _per_module_bits(qc: dict[str, Any], name: str, default: int | None) -> int | None:
    """MLX (and mixed recipes) may override bits per module: {"model.layers.0.mlp.down_proj": {"bits": 8}}."""
    module = name.rsplit(".", 1)[0]
    override = qc.get(module)
    if isinstance(override, dict) and isinstance(override.get("bits"), int):
        return override["bits"]
    return default


def _kept_summary(kept: list[TensorInfo]) -> list[str]:
    """'lm_head (F16)', 'model.embed_tokens (BF16)': big matrices left unquantized, layers folded."""
    out: dict[str, str] = {}
    for t in kept:
        if len(t.shape) < 2:
            continue
        pattern = re.sub(r"\.\d+\.", ".*.", t.name.rsplit(".", 1)[0])
        out.setdefault(pattern, t.dtype)
    return [f"{k} ({v})" for k, v in list(out.items())[:8]]


def analyze(tensors: Iterable[TensorInfo], config_quant: dict[str, Any] | None = None
            ) -> tuple[tuple[TensorInfo, ...], dict[str, Any] | None]:
    """The tensors with logical counts set, and the ``quantization`` report (None if unquantized).

    ``config_quant`` is the raw ``quantization_config`` (or MLX ``quantization``) when a config
    was found; ``{"method": "gguf"}``-style dicts from readers pass through enriched.
    """
    tensors = list(tensors)
    if config_quant is not None and config_quant.get("method") == "gguf":
        return tuple(tensors), _gguf_report(tensors, config_quant)
    qc = (config_quant or {}).get("config") if config_quant and "config" in config_quant else config_quant
    qc = dict(qc or {})
    evidence: list[str] = []
    method = None
    if config_quant:
        method = _method_from_config(qc) or config_quant.get("method")
        if method:
            evidence.append(f"config.json quantization_config.quant_method = {qc.get('quant_method', method)!r}"
                            if method != "mlx" else "config.json quantization (MLX)")
    tensor_method, tensor_evidence = _method_from_tensors(tensors)
    if method is None:
        method = tensor_method
    if tensor_method == method:
        evidence += tensor_evidence
    elif tensor_method and method:
        evidence.append(f"tensors look like {tensor_method}, config says {method}")
    if method is None:
        return tuple(tensors), None
    spec = _BY_ID.get(method)
    bits, group, extra = _config_bits(method, qc)
    if spec is None:  # a method we do not know the layout of: report, count as stored
        report = {"method": method, "bits": bits, "group_size": group, **extra, "evidence": evidence,
                  "warnings": [f"unknown quantization method {method!r}: parameters counted as stored"]}
        return tuple(tensors), report
    if bits is None:
        bits = _infer_bits(spec, tensors) or spec.default_bits
    names = {t.name for t in tensors}
    out: list[TensorInfo] = []
    quantized = unquantized = overhead = 0
    kept: list[TensorInfo] = []
    for t in tensors:
        role = _role(spec, t, names)
        if role == "overhead":
            overhead += t.nbytes
            out.append(replace(t, logical_parameters=0))
            continue
        if role == "packed":
            b = _per_module_bits(qc, t.name, bits) if method == "mlx" else bits
            new = _unpack(spec, t, b, tensors)
            quantized += new.parameters
            out.append(new)
            continue
        if t.alias_of is None:
            unquantized += t.parameters
            kept.append(t)
        out.append(t)
    total_params = quantized + unquantized
    total_bytes = sum(t.nbytes for t in tensors if t.alias_of is None)
    report: dict[str, Any] = {
        "method": method,
        "bits": bits,
        "group_size": group,
        **extra,
        "quantized_parameters": quantized,
        "unquantized_parameters": unquantized,
        "overhead_bytes": overhead,
        "effective_bits_per_weight": round(total_bytes * 8 / total_params, 3) if total_params else None,
        "kept_in_high_precision": _kept_summary(kept),
        "evidence": evidence,
    }
    if qc:
        report["config"] = qc
    report["summary"] = summary_line(report, total_params)
    return tuple(out), report


def _role(spec: MethodSpec, t: TensorInfo, names: set[str]) -> str | None:
    if t.name.endswith(spec.overhead):
        # ".scales" of MLX is overhead; a bare ".weight_scale" of compressed-tensors too
        return "overhead"
    for suffix in spec.packed:
        if not t.name.endswith(suffix):
            continue
        if spec.id == "mlx":
            return "packed" if t.dtype == "U32" and t.name[:-7] + ".scales" in names else None
        if spec.id == "fp8":
            return "packed" if t.dtype.startswith("F8_") else None
        if spec.needs_sibling and suffix == ".weight":
            if not any(_sibling(names, t.name, suffix, s) for s in spec.needs_sibling):
                return None
        return "packed"
    return None


def _unpack(spec: MethodSpec, t: TensorInfo, bits: int | None, tensors: list[TensorInfo]) -> TensorInfo:
    dt = dtypes.find(t.dtype)
    container = dt.bits if dt is not None and dt.bits else 8
    if t.stored_shape is not None:  # already unpacked (analyze is idempotent)
        return t
    if spec.id == "exl2":
        return _exl2(t, tensors)
    if not bits or container <= bits or t.dtype.startswith("F8") or t.dtype == "I8":
        return t  # one parameter per stored element (FP8, int8)
    logical = spec.unpack(t.shape, container, bits)
    return replace(t, shape=logical, stored_shape=t.shape, logical_parameters=math.prod(logical))


def _exl2(t: TensorInfo, tensors: list[TensorInfo]) -> TensorInfo:
    """EXL2 mixes bit widths inside a matrix: in_features = len(q_perm), out = q_weight's columns."""
    base = t.name[: -len(".q_weight")]
    perm = next((x for x in tensors if x.name == base + ".q_perm"), None)
    if perm is None or len(t.shape) != 2:
        return t
    logical = (t.shape[1], perm.shape[0])
    return replace(t, shape=logical, stored_shape=t.shape, logical_parameters=math.prod(logical))


def _infer_bits(spec: MethodSpec, tensors: list[TensorInfo]) -> int | None:
    """GPTQ without a config: in_features = len(g_idx), so bits = 32 · qweight rows / in."""
    by_name = {t.name: t for t in tensors}
    for t in tensors:
        if spec.id == "gptq" and t.name.endswith(".qweight"):
            g = by_name.get(t.name[:-8] + ".g_idx")
            if g is not None and g.shape and g.shape[0]:
                return 32 * t.shape[0] // g.shape[0]
        if spec.id == "awq" and t.name.endswith(".qweight"):
            s = by_name.get(t.name[:-8] + ".scales")
            if s is not None and len(s.shape) == 2 and len(t.shape) == 2 and s.shape[1]:
                return 32 * t.shape[1] // s.shape[1]
    return None


def _gguf_report(tensors: list[TensorInfo], base: dict[str, Any]) -> dict[str, Any]:
    quantized = sum(t.parameters for t in tensors if (d := dtypes.find(t.dtype)) is not None and d.is_block)
    total = sum(t.parameters for t in tensors)
    total_bytes = sum(t.nbytes for t in tensors)
    ft = str(base.get("file_type") or "")
    m = re.search(r"(\d+)", ft)
    report = {
        **base,
        "bits": int(m.group(1)) if m and ft[:1] in "QIT" else None,
        "scheme": ft or None,
        "quantized_parameters": quantized,
        "unquantized_parameters": total - quantized,
        "overhead_bytes": 0,  # block scales live inside each block's bytes
        "effective_bits_per_weight": round(total_bytes * 8 / total, 3) if total else None,
        "kept_in_high_precision": _kept_summary(
            [t for t in tensors if (d := dtypes.find(t.dtype)) is not None and not d.is_block]),
        "evidence": ["GGUF tensor types"],
    }
    report["summary"] = summary_line(report, total)
    return report


_NAMES = {"gptq": "GPTQ", "awq": "AWQ", "compressed-tensors": "compressed-tensors", "mlx": "MLX",
          "bitsandbytes": "bitsandbytes", "fp8": "FP8", "mxfp4": "MXFP4", "nvfp4": "NVFP4",
          "hqq": "HQQ", "eetq": "EETQ", "exl2": "EXL2", "gguf": "GGUF"}


def summary_line(q: dict[str, Any], parameters: int) -> str:
    """'GPTQ 4-bit, group 128, act-order · 7.62B params, 4.6 effective bits/weight · lm_head kept in F16'."""
    from .core.model import format_count

    head = _NAMES.get(q["method"], str(q["method"]))
    bits = q.get("bits")
    parts = [f"{head} {bits}-bit" if bits and q["method"] not in ("fp8", "mxfp4", "nvfp4") else head]
    for key, text in (("scheme", "{}"), ("format_variant", "{}"), ("group_size", "group {}")):
        v = q.get(key)
        if v and str(v).lower() not in parts[0].lower() and str(v) != "gptq":
            parts.append(text.format(v))
    if q.get("desc_act"):
        parts.append("act-order")
    if q.get("double_quantization"):
        parts.append("double quantization")
    line = ", ".join(parts)
    line += f" · {format_count(parameters)} params"
    if q.get("effective_bits_per_weight"):
        line += f", {q['effective_bits_per_weight']:.1f} effective bits/weight"
    kept = q.get("kept_in_high_precision") or []
    if kept:
        line += " · kept in high precision: " + ", ".join(kept[:3]) + (" …" if len(kept) > 3 else "")
    return line
