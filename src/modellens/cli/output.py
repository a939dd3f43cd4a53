"""The one output layer: JSON to stdout, rich for people, errors and hints to stderr."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from typing import Any

__all__ = ["emit_json", "console", "err_console", "safe_text"]


def emit_json(obj: Any) -> None:
    """One JSON object on stdout: indented for a person at a terminal, compact for a pipe."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=indent, default=_default,
                                separators=None if indent else (",", ":")))
    sys.stdout.write("\n")


def _default(o: Any) -> Any:
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if isinstance(o, (bytes, bytearray)):
        return o.hex()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


@lru_cache(maxsize=None)
def console():  # noqa: ANN201 - rich is imported lazily
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


@lru_cache(maxsize=None)
def err_console():  # noqa: ANN201
    from rich.console import Console

    return Console(stderr=True, highlight=False)


_CONTROL = {i: f"\\x{i:02x}" for i in range(32) if i not in (9,)}
_CONTROL[127] = "\\x7f"


def safe_text(s: object, limit: int = 200) -> str:
    """Text from a file made safe to print: control characters escaped, rich markup escaped,
    length capped.  Tensor names and metadata come from untrusted files."""
    from rich.markup import escape

    text = str(s).translate(_CONTROL)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return escape(text)
