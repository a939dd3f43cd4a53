"""The ``modellens`` command line: thin Typer commands over the library.

Each ``cmd_*.py`` module in this package adds its command to ``app`` when imported; adding a
command is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from .app import app, run

__all__ = ["app", "main"]


def _load_commands() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def main() -> None:
    _load_commands()
    run()
