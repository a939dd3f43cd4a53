"""The data files shipped inside the package (``modellens/data/*.json``)."""

from __future__ import annotations

import json
import pkgutil
from typing import Any

__all__ = ["data_text", "data_json"]


def data_text(name: str) -> str:
    """``modellens/data/<name>`` as text; FileNotFoundError when the package lacks it.

    ``pkgutil.get_data`` works from a wheel, a zip and a checkout alike, and unlike
    ``importlib.resources`` costs no extra imports on the way to a command's first output.
    """
    raw = pkgutil.get_data("modellens", f"data/{name}")
    if raw is None:  # a loader that cannot read data files
        raise FileNotFoundError(f"modellens/data/{name}")
    return raw.decode("utf-8")


def data_json(name: str) -> Any:
    """``modellens/data/<name>`` parsed as JSON."""
    return json.loads(data_text(name))
