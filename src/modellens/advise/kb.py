"""The formats knowledge base: ``modellens formats [ID]`` and ``modellens.formats/1``.

``data/formats.json`` holds one entry per format (file formats, folder layouts, quantization
formats), the tools that convert between them (with the flags each tool is known to accept
and where that list was read), and the conversions themselves as edges ``from → to`` with a
ready command.  Every text is bilingual (``{"en", "zh"}``).  :func:`knowledge` validates the
whole file once; a broken entry raises :class:`KnowledgeError` naming it.
"""

from __future__ import annotations

import ast
import shlex
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..core.errors import NotFoundError
from ._data import KnowledgeError, check_lang, load, require, require_text, text

__all__ = ["SCHEMA", "Knowledge", "knowledge", "format_ids", "describe_format", "formats_report", "conversions_for",
           "split_command"]

SCHEMA = "modellens.formats/1"
KINDS = ("file", "layout", "quantization")
_CODE = ("no", "possible", "yes")


@dataclass(frozen=True)
class Knowledge:
    formats: dict[str, dict[str, Any]]
    tools: dict[str, dict[str, Any]]
    conversions: tuple[dict[str, Any], ...]
    stores: dict[str, Any]
    executes_code: dict[str, Any]
    platforms: tuple[str, ...]


def split_command(command: str) -> list[str]:
    """argv of a one-line shell command."""
    return shlex.split(command)


def _validate_tool(tid: str, tool: dict[str, Any]) -> None:
    where = f"formats.json tools[{tid}]"
    require(where, tool, {"kind": str, "docs": str, "install": str})
    if tool["kind"] == "cli":
        require(where, tool, {"program": list, "source": str})
        if tid != "modellens":
            require(where, tool, {"flags": list})
    elif tool["kind"] == "python":
        require(where, tool, {"module": str})
    else:
        raise KnowledgeError(f"{where}: kind must be cli or python")


def _validate_conversion(i: int, c: dict[str, Any], formats: dict, tools: dict) -> None:
    where = f"formats.json conversions[{i}] ({c.get('from')} → {c.get('to')})"
    require(where, c, {"from": str, "to": str, "tool": str, "command": str})
    for end in ("from", "to"):
        if c[end] not in formats:
            raise KnowledgeError(f"{where}: unknown format {c[end]!r}")
    tool = tools.get(c["tool"])
    if tool is None:
        raise KnowledgeError(f"{where}: unknown tool {c['tool']!r}")
    if "note" in c:
        require_text(f"{where}.note", c["note"])
    if tool["kind"] == "python":
        try:
            tree = ast.parse(c["command"])
        except SyntaxError as e:
            raise KnowledgeError(f"{where}: the Python snippet does not parse ({e})") from e
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        root = tool["module"].split(".")[0]
        if not any(m == tool["module"] or m.split(".")[0] == root for m in imported):
            raise KnowledgeError(f"{where}: the snippet does not import {tool['module']}")
        return
    argv = split_command(c["command"])
    prog = tool["program"]
    if argv[: len(prog)] != prog:
        raise KnowledgeError(f"{where}: command should start with {' '.join(prog)!r}")
    known = set(tool.get("flags", ()))
    if c["tool"] == "modellens":
        return  # checked against modellens's own CLI by the tests
    args = argv[len(prog):]
    for j, arg in enumerate(args):
        if arg.startswith("-") and len(arg) > 1:
            flag, _, value = arg.partition("=")
            if flag not in known:
                raise KnowledgeError(f"{where}: {c['tool']} has no flag {flag!r} in its kept list ({tool['source']})")
            choices = tool.get("choices", {}).get(flag)
            if choices:
                value = value or (args[j + 1] if j + 1 < len(args) else "")
                if value not in choices:
                    raise KnowledgeError(f"{where}: {flag} {value!r} is not one of {choices}")
    positional = [a for j, a in enumerate(args)
                  if not a.startswith("-") and not (j and args[j - 1] in _VALUE_FLAGS)]
    for pos, choices in tool.get("positional_choices", {}).items():
        if int(pos) < len(positional) and positional[int(pos)] not in choices:
            raise KnowledgeError(f"{where}: argument {positional[int(pos)]!r} is not one of {choices}")


# flags of the kept tools that take a separate value (so that value is not a positional)
_VALUE_FLAGS = {"--model", "--task", "--opset", "--output", "--saved-model", "--keras", "--tflite", "--output_model",
                "--outfile", "--outtype", "--split-max-size", "--hf-path", "--mlx-path", "--q-bits", "--q-group-size",
                "-i", "-o", "-cf", "-b", "--weight-format", "--imatrix"}


@lru_cache(maxsize=1)
def knowledge() -> Knowledge:
    """The validated knowledge base (cached)."""
    raw = load("formats.json")
    require("formats.json", raw, {"formats": list, "tools": dict, "conversions": list, "stores": dict,
                                  "executes_code": dict, "platforms": list})
    for key, label in (*raw["stores"].items(), *raw["executes_code"].items()):
        require_text(f"formats.json label {key}", label)
    formats: dict[str, dict[str, Any]] = {}
    for i, f in enumerate(raw["formats"]):
        where = f"formats.json formats[{i}] ({f.get('id', '?')})"
        require(where, f, {"id": str, "name": str, "kind": str, "extensions": list, "framework": str, "stores": str,
                           "executes_code": str, "quantization": list, "platforms": list, "runtimes": list,
                           "tools": dict, "links": list})
        if f["id"] in formats:
            raise KnowledgeError(f"{where}: duplicate id")
        if f["kind"] not in KINDS:
            raise KnowledgeError(f"{where}: kind must be one of {KINDS}")
        if f["stores"] not in raw["stores"]:
            raise KnowledgeError(f"{where}: stores {f['stores']!r} is not one of {sorted(raw['stores'])}")
        if f["executes_code"] not in _CODE:
            raise KnowledgeError(f"{where}: executes_code must be one of {_CODE}")
        for p in f["platforms"]:
            if p not in raw["platforms"]:
                raise KnowledgeError(f"{where}: unknown platform {p!r}")
        require_text(f"{where}.code_note", f.get("code_note"))
        require_text(f"{where}.typical_use", f.get("typical_use"))
        require_text(f"{where}.strengths", f.get("strengths"), lists=True)
        require_text(f"{where}.weaknesses", f.get("weaknesses"), lists=True)
        require(f"{where}.tools", f["tools"], {"read": list, "write": list})
        if not f["extensions"] or not f["runtimes"] or not f["links"]:
            raise KnowledgeError(f"{where}: extensions, runtimes and links must not be empty")
        formats[f["id"]] = f
    for tid, tool in raw["tools"].items():
        _validate_tool(tid, tool)
    for i, c in enumerate(raw["conversions"]):
        _validate_conversion(i, c, formats, raw["tools"])
    return Knowledge(formats, raw["tools"], tuple(raw["conversions"]), raw["stores"], raw["executes_code"],
                     tuple(raw["platforms"]))


def format_ids() -> list[str]:
    return list(knowledge().formats)


def _find(fid: str) -> dict[str, Any]:
    kb = knowledge()
    key = fid.strip().lower()
    if key in kb.formats:
        return kb.formats[key]
    for f in kb.formats.values():  # by extension or name
        if key in (e.lower() for e in f["extensions"]) or key == f["name"].lower() or key in f.get("aliases", ()):
            return f
    raise NotFoundError(f"unknown format {fid!r}; known: {', '.join(kb.formats)}")


def _conversion(c: dict[str, Any], lang: str) -> dict[str, Any]:
    tool = knowledge().tools[c["tool"]]
    d = {"from": c["from"], "to": c["to"], "tool": c["tool"], "kind": "shell" if tool["kind"] == "cli" else "python",
         "command": c["command"], "with_modellens": c["tool"] == "modellens", "install": tool["install"],
         "docs": tool["docs"]}
    if tool["kind"] == "cli":
        d["argv"] = split_command(c["command"])
    if "note" in c:
        d["note"] = text(c["note"], lang)
    return d


def conversions_for(fid: str, lang: str = "en") -> dict[str, list[dict[str, Any]]]:
    """Conversions into and out of a format, modellens first."""
    f = _find(fid)["id"]
    kb = knowledge()
    key = lambda c: (c["tool"] != "modellens", c["tool"])  # noqa: E731
    return {"to": [_conversion(c, lang) for c in sorted(kb.conversions, key=key) if c["from"] == f and c["to"] != f],
            "from": [_conversion(c, lang) for c in sorted(kb.conversions, key=key) if c["to"] == f and c["from"] != f],
            "within": [_conversion(c, lang) for c in kb.conversions if c["from"] == f == c["to"]]}


def describe_format(fid: str, lang: str = "en") -> dict[str, Any]:
    """One format, in ``lang``."""
    check_lang(lang)
    f = _find(fid)
    kb = knowledge()
    return {
        "id": f["id"], "name": f["name"], "kind": f["kind"], "extensions": f["extensions"], "framework": f["framework"],
        "stores": f["stores"], "stores_text": text(kb.stores[f["stores"]], lang),
        "executes_code": f["executes_code"], "executes_code_text": text(kb.executes_code[f["executes_code"]], lang),
        "code_note": text(f["code_note"], lang), "quantization": f["quantization"], "platforms": f["platforms"],
        "runtimes": f["runtimes"], "strengths": text(f["strengths"], lang), "weaknesses": text(f["weaknesses"], lang),
        "typical_use": text(f["typical_use"], lang), "tools": f["tools"], "links": f["links"],
        "conversions": conversions_for(f["id"], lang),
    }


def formats_report(fid: str | None = None, lang: str = "en") -> dict[str, Any]:
    """The ``modellens.formats/1`` object: one format, or all of them."""
    check_lang(lang)
    if fid:
        return {"schema": SCHEMA, "lang": lang, "format": describe_format(fid, lang)}
    return {"schema": SCHEMA, "lang": lang, "formats": [describe_format(i, lang) for i in format_ids()]}
