"""The tensor types people meet on model pages, and how an expert reads ``BF16·I32·F32``.

What each type is *for* is data (``data/dtypes_kb.json``, English and Chinese); what it
*costs* (bits, GGML block size) comes from the one dtype registry, :mod:`modellens.core.dtypes`,
and its numeric range and precision from numpy / ml_dtypes ``finfo`` / ``iinfo`` — nothing
numeric is typed twice.  :func:`dtypes_report` is the ``modellens.dtypes/1`` object.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from ..core import dtypes as registry
from ..core.errors import NotFoundError
from ._data import KnowledgeError, check_lang, load, require, require_text, text

__all__ = ["SCHEMA", "dtype_names", "describe_dtype", "explain_tensor_type", "dtypes_report", "split_tensor_type"]

SCHEMA = "modellens.dtypes/1"
FAMILIES = ("float", "int", "uint", "bool", "microscaling", "ggml-block")
_SEP = re.compile(r"\s*[·,+/|]\s*|\s+")


@lru_cache(maxsize=1)
def _kb() -> dict[str, Any]:
    raw = load("dtypes_kb.json")
    require("dtypes_kb.json", raw, {"dtypes": list, "roles": dict, "name_roles": list, "name_role_text": dict})
    for key, label in raw["roles"].items():
        require_text(f"dtypes_kb.json roles[{key}]", label)
    for key, label in raw["name_role_text"].items():
        require_text(f"dtypes_kb.json name_role_text[{key}]", label)
    rules = []
    for i, (rx, role) in enumerate(raw["name_roles"]):
        if role not in raw["name_role_text"]:
            raise KnowledgeError(f"dtypes_kb.json name_roles[{i}]: unknown role {role!r}")
        rules.append((re.compile(rx), role))
    by_name: dict[str, dict[str, Any]] = {}
    aliases: dict[str, str] = {}
    for i, d in enumerate(raw["dtypes"]):
        where = f"dtypes_kb.json dtypes[{i}] ({d.get('name', '?')})"
        require(where, d, {"name": str, "family": str, "layout": str, "uses": list})
        if d["family"] not in FAMILIES:
            raise KnowledgeError(f"{where}: family must be one of {FAMILIES}")
        for u in d["uses"]:
            if u not in raw["roles"]:
                raise KnowledgeError(f"{where}: unknown use {u!r}")
        require_text(f"{where}.summary", d.get("summary"))
        require_text(f"{where}.in_mix", d.get("in_mix"))
        if d["name"] in by_name:
            raise KnowledgeError(f"{where}: duplicate")
        if d["family"] not in ("microscaling",) and registry.find(d["name"]) is None:
            raise KnowledgeError(f"{where}: {d['name']} is not in modellens.core.dtypes")
        by_name[d["name"]] = d
        for a in d.get("aliases", ()):
            aliases[a.upper()] = d["name"]
    return {"by_name": by_name, "aliases": aliases, "roles": raw["roles"], "rules": tuple(rules),
            "role_text": raw["name_role_text"]}


def dtype_names() -> list[str]:
    return list(_kb()["by_name"])


def _canonical(name: str) -> str | None:
    kb = _kb()
    key = name.strip().upper()
    if key in kb["by_name"]:
        return key
    if key in kb["aliases"]:
        return kb["aliases"][key]
    dt = registry.find(name)
    if dt is not None and dt.name in kb["by_name"]:
        return dt.name
    return None


def _numbers(name: str) -> dict[str, Any]:
    """Bits and, for plain types, range and precision from numpy / ml_dtypes."""
    out: dict[str, Any] = {}
    dt = registry.find(name)
    if dt is None:  # MXFP4 / NVFP4 are block formats gguf may or may not know
        return out
    out["bits"] = dt.bits
    out["bits_per_weight"] = round(dt.bits_per_weight, 4)
    if dt.is_block:
        out["block_size"] = dt.block_size
        out["block_bytes"] = dt.type_size
        return out
    try:
        import numpy as np

        nd = dt.numpy()
        if dt.kind == "float":
            try:
                import ml_dtypes

                fi = ml_dtypes.finfo(nd)
            except (ImportError, TypeError, ValueError):
                fi = np.finfo(nd)
            out.update({"max": float(fi.max), "min": float(fi.min), "smallest_normal": float(fi.smallest_normal),
                        "epsilon": float(fi.eps), "decimal_digits": int(getattr(fi, "precision", 0))})
        elif dt.kind in ("int", "uint"):
            ii = np.iinfo(nd)
            out.update({"max": int(ii.max), "min": int(ii.min)})
    except (KeyError, TypeError, ValueError, ImportError, AttributeError):
        pass
    return out


def describe_dtype(name: str, lang: str = "en") -> dict[str, Any]:
    """One dtype: layout, bits, range / precision, typical uses, what it means in a mix."""
    check_lang(lang)
    key = _canonical(name)
    if key is None:
        raise NotFoundError(f"unknown dtype {name!r}; known: {', '.join(dtype_names())}")
    kb = _kb()
    d = kb["by_name"][key]
    out = {"name": key, "family": d["family"], "layout": d["layout"], **_numbers(key),
           "uses": d["uses"], "uses_text": [text(kb["roles"][u], lang) for u in d["uses"]],
           "summary": text(d["summary"], lang), "in_mix": text(d["in_mix"], lang),
           "aliases": d.get("aliases", []), "companions": d.get("companions", [])}
    if d["family"] == "microscaling" and key in ("MXFP4", "NVFP4"):
        out.setdefault("bits_per_weight", 4.25 if key == "MXFP4" else 4.5)
    return out


def split_tensor_type(s: str) -> list[str]:
    """``"BF16·I32·F32"`` (or commas, spaces, ``+``) → ``["BF16", "I32", "F32"]``."""
    return [p for p in _SEP.split(s.strip()) if p]


def _role_of(tensor_name: str) -> str:
    for rx, role in _kb()["rules"]:
        if rx.search(tensor_name):
            return role
    return "weights"


def _model_breakdown(model: str, lang: str) -> dict[str, Any]:
    """Which tensors of a model hold which dtype, grouped by what the names say they are."""
    from .. import inspect

    info = inspect(model)
    kb = _kb()
    by: dict[str, dict[str, Any]] = {}
    for t in info.tensors:
        if t.alias_of is not None:
            continue
        g = by.setdefault(t.dtype, {"dtype": t.dtype, "tensors": 0, "parameters": 0, "bytes": 0, "roles": {}})
        g["tensors"] += 1
        g["parameters"] += t.parameters
        g["bytes"] += t.nbytes
        role = _role_of(t.name)
        r = g["roles"].setdefault(role, {"role": role, "text": text(kb["role_text"][role], lang), "tensors": 0,
                                         "parameters": 0, "examples": []})
        r["tensors"] += 1
        r["parameters"] += t.parameters
        if len(r["examples"]) < 3:
            r["examples"].append(t.name)
    groups = sorted(by.values(), key=lambda g: (-g["parameters"], -g["bytes"]))
    for g in groups:
        g["roles"] = sorted(g["roles"].values(), key=lambda r: -r["tensors"])
    return {"source": info.source, "format": info.format, "layout": info.layout, "tensor_type": info.tensor_type,
            "parameters": info.parameters, "quantization": info.quantization, "dtypes": groups}


def explain_tensor_type(s: str, model: str | None = None, lang: str = "en") -> dict[str, Any]:
    """How an expert reads a tensor-type string; with ``model``, which tensors hold which type."""
    check_lang(lang)
    parts = split_tensor_type(s) if s else []
    if model and not parts:
        from .. import inspect

        parts = split_tensor_type(inspect(model).tensor_type)
    items = []
    for i, p in enumerate(parts):
        d = describe_dtype(p, lang)
        role = d["summary"] if len(parts) == 1 else (d["in_mix"] if i else d["summary"])
        items.append({"dtype": d["name"], "position": i, "reading": role, "bits": d.get("bits"),
                      "bits_per_weight": d.get("bits_per_weight")})
    names = [x["dtype"] for x in items]
    notes: list[str] = []
    zh = lang == "zh"
    if names and names[0] in ("BF16", "F16", "F32"):
        notes.append(f"主权重为 {names[0]}(按参数占比排在第一位)" if zh else f"main weights in {names[0]} (listed first: it holds most parameters)")
    if any(n in ("I32", "U32", "U8") for n in names[1:]) and any(n in ("F16", "BF16") for n in names):
        notes.append("整数与 16 位浮点并存:多半是量化检查点(打包整数 + 16 位 scale),参数量要按解包后计算"
                     if zh else "integers next to 16-bit floats usually mean a quantized checkpoint (packed integers + 16-bit scales): count parameters unpacked")
    if "F8_E4M3" in names:
        notes.append("FP8 权重需要配套的 scale 张量(通常为 F32)" if zh else "FP8 weights come with scale tensors (usually F32)")
    out: dict[str, Any] = {"tensor_type": "·".join(names), "items": items, "notes": notes}
    if model:
        out["model"] = _model_breakdown(model, lang)
    return out


def dtypes_report(name: str | None = None, model: str | None = None, lang: str = "en") -> dict[str, Any]:
    """The ``modellens.dtypes/1`` object: all types, one type, or a tensor-type string explained."""
    check_lang(lang)
    if name is None and model is None:
        return {"schema": SCHEMA, "lang": lang, "dtypes": [describe_dtype(n, lang) for n in dtype_names()]}
    parts = split_tensor_type(name or "")
    if len(parts) == 1 and not model:
        return {"schema": SCHEMA, "lang": lang, "dtype": describe_dtype(parts[0], lang)}
    return {"schema": SCHEMA, "lang": lang, "explanation": explain_tensor_type(name or "", model, lang)}
