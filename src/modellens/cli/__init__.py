"""The ``modellens`` command line: thin Typer commands over the library.

Each ``cmd_*.py`` module in this package adds its command to ``app`` when imported; adding a
command is adding a module (``modellens serve-plan`` lives in ``cmd_serve_plan.py``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from .app import app, run

__all__ = ["app", "main"]


def _load_commands(argv: list[str] | None = None) -> None:
    """Import the command modules.  When the command line names one command, only its module
    is imported (a user's `modellens inspect …` does not pay for the other seven); help and
    unknown commands load them all, so every command is listed."""
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("cmd_")]
    words = [a for a in (argv or []) if not a.startswith("-")]
    if words and not any(a in ("-h", "--help") for a in argv or []):
        wanted = "cmd_" + words[0].replace("-", "_")
        if wanted in names:
            names = [wanted]
    for name in names:
        importlib.import_module(f"{__name__}.{name}")


def main() -> None:
    _load_commands(sys.argv[1:])
    run()
