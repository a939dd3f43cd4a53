"""Loading the knowledge files of ``modellens/data`` and the checks they share.

The knowledge is data (``formats.json``, ``dtypes_kb.json``, ``engines.json``,
``serve_families.json``); each loader validates its file on first use and raises
:class:`KnowledgeError` naming the entry and field that is wrong, so a broken edit fails the
tests and the CLI with a message instead of a KeyError somewhere later.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Iterable, Mapping

from ..core.errors import ModelLensError
from ..core.packaged import data_text

__all__ = ["LANGS", "KnowledgeError", "load", "text", "check_lang", "require", "require_text"]

LANGS = ("en", "zh")


class KnowledgeError(ModelLensError):
    """A knowledge file of modellens is malformed (a packaging bug, not a user error)."""


@lru_cache(maxsize=None)
def load(name: str) -> Any:
    """The parsed JSON file ``modellens/data/<name>``."""
    try:
        raw = data_text(name)
    except FileNotFoundError as e:
        raise KnowledgeError(f"knowledge file data/{name} is missing from the package") from e
    try:
        return json.loads(raw)
    except ValueError as e:
        raise KnowledgeError(f"data/{name}: invalid JSON ({e})") from e


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ModelLensError(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")
    return lang


def text(value: Any, lang: str) -> Any:
    """A ``{"en": …, "zh": …}`` value in ``lang`` (English where a translation is missing)."""
    if isinstance(value, Mapping) and "en" in value:
        return value.get(lang) or value["en"]
    return value


def require(where: str, entry: Mapping[str, Any], fields: Mapping[str, type | tuple[type, ...]]) -> None:
    for key, kind in fields.items():
        if key not in entry:
            raise KnowledgeError(f"{where}: missing field {key!r}")
        if not isinstance(entry[key], kind):
            raise KnowledgeError(f"{where}: field {key!r} should be {getattr(kind, '__name__', kind)}, "
                                 f"is {type(entry[key]).__name__}")


def require_text(where: str, value: Any, *, lists: bool = False) -> None:
    """A bilingual value: both languages present and non-empty (strings, or lists of strings)."""
    if not isinstance(value, Mapping) or set(value) != set(LANGS):
        raise KnowledgeError(f"{where}: expected {{'en': …, 'zh': …}}, got {value!r:.80}")
    for lang in LANGS:
        v = value[lang]
        items: Iterable[Any] = v if lists else [v]
        if lists and (not isinstance(v, list) or not v):
            raise KnowledgeError(f"{where}.{lang}: expected a non-empty list")
        for item in items:
            if not isinstance(item, str) or not item.strip():
                raise KnowledgeError(f"{where}.{lang}: empty or non-text entry")
    if lists and len(value["en"]) != len(value["zh"]):
        raise KnowledgeError(f"{where}: {len(value['en'])} English items but {len(value['zh'])} Chinese ones")
