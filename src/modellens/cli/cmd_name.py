"""``modellens name NAME... [--json]``: what a model's name says.

One name with ``--json`` prints that name's ``modellens.name/1`` object; several names print
``{"schema": "modellens.name/1", "names": [object, ...]}``.  A name that is not recognised is
an answer (``confidence: 0``), not an error: the exit code is 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List

import typer

from .app import app
from .output import console, emit_json, safe_text

if TYPE_CHECKING:  # the parser loads its tables on import: keep `modellens --help` fast
    from ..names import NameInfo

__all__ = ["name_command"]


@app.command("name")
def name_command(
    names: List[str] = typer.Argument(..., metavar="NAME...", help="Model names, hub ids or file names."),
    as_json: bool = typer.Option(False, "--json", help="Print the modellens.name/1 JSON object."),
) -> int:
    """Read a model's name: family, size (total / active), variant, training stage, quantization, date."""
    from ..names import SCHEMA, parse_name

    infos = [parse_name(n) for n in names]
    if as_json:
        if len(infos) == 1:
            emit_json(infos[0].to_dict())
        else:
            emit_json({"schema": SCHEMA, "names": [i.to_dict() for i in infos]})
        return 0
    for i, info in enumerate(infos):
        if i:
            console().print()
        _render(info)
    return 0


def _render(info: NameInfo) -> None:
    from ..names import format_params

    from rich.table import Table

    out = console()
    out.print(f"[bold]{safe_text(info.input)}[/bold]")
    out.print(safe_text(info.summary(), limit=400))
    if not info.recognised:
        for note in info.notes[:-1]:  # the last note repeats the summary line
            out.print(f"  [dim]· {safe_text(note, limit=300)}[/dim]")
        return
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    rows = [
        ("org", info.org),
        ("family", " ".join(x for x in (info.family, info.version) if x) or None),
        ("total parameters", format_params(info.total_parameters) if info.total_parameters else None),
        ("active parameters", format_params(info.active_parameters) if info.active_parameters else None),
        ("mixture of experts", ("yes" + (f", {info.experts} experts" if info.experts else "")) if info.moe else "no"),
        ("variant", info.variant),
        ("training stage", info.training_stage if info.training_stage != "unknown" else None),
        ("quantization", info.quantization),
        ("file format", info.file_format),
        ("release", info.release),
        ("context length", f"{info.context_length:,} tokens" if info.context_length else None),
        ("modality", info.modality),
        ("confidence", f"{info.confidence:.2f}"),
    ]
    for label, value in rows:
        table.add_row(label, safe_text(value) if value is not None else "[dim]not in name[/dim]")
    out.print(table)
    for note in info.notes:
        out.print(f"  [dim]· {safe_text(note, limit=300)}[/dim]")
