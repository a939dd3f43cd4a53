"""Ollama Modelfiles: written from a checkpoint's chat template, and parsed by the documented
grammar (ollama ``docs/modelfile.mdx``).

Grammar (one instruction per line, instructions case-insensitive, ``#`` comments)::

    FROM <model | path>                 required, once
    PARAMETER <name> <value>            name from the documented list, value typed
    TEMPLATE <text>                     Go text/template: {{ .System }} {{ .Prompt }} {{ .Response }}
    SYSTEM <text>
    ADAPTER <path>
    LICENSE <text>
    MESSAGE <system|user|assistant> <text>
    REQUIRES <version>

``<text>`` is the rest of the line, a ``"…"`` string, or a ``\"\"\"…\"\"\"`` block that may span
lines.  The instruction and parameter lists are data (``data/engines.json``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..core.errors import ModelLensError
from ._data import load

__all__ = ["ModelfileError", "Instruction", "parse_modelfile", "write_modelfile", "chat_format", "quote"]


class ModelfileError(ModelLensError):
    """A Modelfile that Ollama's documented grammar does not accept."""


@dataclass(frozen=True)
class Instruction:
    name: str  # upper case
    args: tuple[str, ...]
    line: int


def _spec() -> dict[str, Any]:
    return load("engines.json")["engines"]["ollama"]


def _read_text(src: str, pos: int, lineno: int) -> tuple[str, int, int]:
    """One text argument starting at ``pos``: a triple-quoted block, a quoted string or the rest of the line."""
    if src.startswith('"""', pos):
        end = src.find('"""', pos + 3)
        if end < 0:
            raise ModelfileError(f"line {lineno}: unterminated \"\"\" block")
        body = src[pos + 3:end]
        return body, end + 3, lineno + body.count("\n")
    if src.startswith('"', pos):
        m = re.compile(r'"((?:[^"\\\n]|\\.)*)"').match(src, pos)
        if not m:
            raise ModelfileError(f"line {lineno}: unterminated string")
        return m.group(1).replace('\\"', '"'), m.end(), lineno
    end = src.find("\n", pos)
    end = len(src) if end < 0 else end
    return src[pos:end].strip(), end, lineno


def parse_modelfile(src: str) -> list[Instruction]:
    """The instructions of a Modelfile; :class:`ModelfileError` for anything the grammar rejects."""
    spec = _spec()
    known = set(spec["instructions"])
    params: dict[str, str] = spec["parameters"]
    out: list[Instruction] = []
    pos, lineno = 0, 1
    while pos < len(src):
        m = re.compile(r"[ \t]*(?:#[^\n]*)?\n").match(src, pos)
        if m:  # blank or comment line
            pos, lineno = m.end(), lineno + 1
            continue
        m = re.compile(r"[ \t]*([A-Za-z]+)[ \t]+").match(src, pos)
        if not m:
            rest = src[pos:].split("\n", 1)[0]
            if not rest.strip() or rest.strip().startswith("#"):
                break
            raise ModelfileError(f"line {lineno}: expected an instruction, got {rest[:40]!r}")
        name, pos, start = m.group(1).upper(), m.end(), lineno
        if name not in known:
            raise ModelfileError(f"line {lineno}: unknown instruction {name}; known: {', '.join(sorted(known))}")
        if name in ("PARAMETER", "MESSAGE"):
            w = re.compile(r"(\S+)[ \t]+").match(src, pos)
            if not w:
                raise ModelfileError(f"line {lineno}: {name} needs a name and a value")
            key, pos = w.group(1), w.end()
            value, pos, lineno = _read_text(src, pos, lineno)
            if name == "PARAMETER":
                kind = params.get(key)
                if kind is None:
                    raise ModelfileError(f"line {start}: unknown parameter {key!r}; known: {', '.join(params)}")
                try:
                    {"int": int, "float": float}.get(kind, str)(value)
                except ValueError:
                    raise ModelfileError(f"line {start}: PARAMETER {key} wants {kind}, got {value!r}") from None
            elif key not in spec["message_roles"]:
                raise ModelfileError(f"line {start}: MESSAGE role must be one of {spec['message_roles']}")
            args: tuple[str, ...] = (key, value)
        else:
            value, pos, lineno = _read_text(src, pos, lineno)
            if not value:
                raise ModelfileError(f"line {start}: {name} needs an argument")
            args = (value,)
        out.append(Instruction(name, args, start))
        rest = re.compile(r"[ \t]*(?:#[^\n]*)?(?:\n|$)").match(src, pos)
        if not rest:
            raise ModelfileError(f"line {lineno}: unexpected text after {name}")
        pos, lineno = rest.end(), lineno + 1
    froms = [i for i in out if i.name == "FROM"]
    if len(froms) != 1:
        raise ModelfileError(f"a Modelfile needs exactly one FROM (found {len(froms)})")
    return out


def quote(text: str) -> str:
    """A Modelfile text argument: a triple-quoted block (a template may hold quotes and newlines)."""
    if '"""' in text:
        raise ModelfileError("text contains \"\"\", which a Modelfile block cannot hold")
    return f'"""{text}"""'


def chat_format(chat_template: str | None, name: str) -> dict[str, Any] | None:
    """The chat format (data/serve_families.json ``chat_formats``) of a Jinja template or a name."""
    formats = load("serve_families.json")["chat_formats"]
    if chat_template:
        for f in formats:
            if all(m in chat_template for m in f["markers"]):
                return f
        return None  # a template we cannot translate: better none than a wrong one
    low = name.lower()
    for f in formats:
        if re.search(f["names"], low):
            return f
    return None


def write_modelfile(source: str, *, num_ctx: int | None = None, fmt: dict[str, Any] | None = None,
                    system: str | None = None, extra: dict[str, Any] | None = None) -> str:
    lines = [f"FROM {source}"]
    if fmt is not None:
        lines.append(f"TEMPLATE {quote(fmt['template'])}")
        for s in fmt["stop"]:
            lines.append(f'PARAMETER stop "{s}"')
    if num_ctx:
        lines.append(f"PARAMETER num_ctx {int(num_ctx)}")
    for k, v in (extra or {}).items():
        lines.append(f"PARAMETER {k} {v}")
    if system:
        lines.append(f"SYSTEM {quote(system)}")
    text = "\n".join(lines) + "\n"
    parse_modelfile(text)  # never hand out a Modelfile our own reading of the grammar rejects
    return text
