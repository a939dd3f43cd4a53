"""The ``modellens`` command line: thin Typer commands over the library.

Each ``cmd_*.py`` module in this package adds its command to ``app`` when imported; adding a
command is adding a module (``modellens serve-plan`` lives in ``cmd_serve_plan.py``).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from contextlib import contextmanager
from typing import Iterator

__all__ = ["app", "main"]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Imports build thousands of objects and no garbage: collecting while they run is pure
    start-up time (~8% of it).  The collector is back on before a command does any work."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


with _collector_paused():
    from .app import app, run


def _load_commands(argv: list[str] | None = None) -> None:
    """Import the command modules.  When the command line names one command, only its module
    is imported (a user's `modellens inspect …` does not pay for the other seven); help and
    unknown commands load them all, so every command is listed."""
    names = sorted({e.name.split(".")[0] for e in os.scandir(os.path.dirname(__file__))
                    if e.name.startswith("cmd_") and e.name.endswith((".py", ".pyc"))})
    words = [a for a in (argv or []) if not a.startswith("-")]
    if words and not any(a in ("-h", "--help") for a in argv or []):
        wanted = "cmd_" + words[0].replace("-", "_")
        if wanted in names:
            names = [wanted]
    for name in names:
        importlib.import_module(f"{__name__}.{name}")


def main() -> None:
    with _collector_paused():
        _load_commands(sys.argv[1:])
    run()
