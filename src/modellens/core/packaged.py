"""The data files shipped inside the package (``modellens/data/*.json``)."""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["data_text", "data_json"]

_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


def data_text(name: str) -> str:
    """``modellens/data/<name>`` as text; FileNotFoundError when the package lacks it.

    Read next to the package's own files (an installed wheel and a checkout alike): no
    ``importlib.resources`` / ``pkgutil`` machinery on the way to a command's first output.
    """
    with open(os.path.join(_DATA, name), encoding="utf-8") as fh:
        return fh.read()


def data_json(name: str) -> Any:
    """``modellens/data/<name>`` parsed as JSON."""
    return json.loads(data_text(name))
