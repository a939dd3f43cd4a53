"""``modellens dtypes [NAME | "BF16·I32·F32"] [--model PATH] [--json] [--lang en|zh]``."""

from __future__ import annotations

from typing import Any, Optional

import typer

from ..core.model import format_count
from .app import app
from .output import console, emit_json, safe_text

__all__ = ["dtypes_command"]


def _bits(d: dict[str, Any]) -> str:
    if d.get("block_size"):
        return f"{d['bits_per_weight']:g} bpw ({d['block_size']} in {d['block_bytes']} B)"
    if d.get("bits") is not None:
        return f"{d['bits']}"
    return f"{d['bits_per_weight']:g} bpw" if d.get("bits_per_weight") else ""


def _range(d: dict[str, Any]) -> str:
    if "max" not in d:
        return ""
    if isinstance(d["max"], int):
        return f"{d['min']} … {d['max']}"
    return f"±{d['max']:.4g}, eps {d['epsilon']:.3g}"


def _render_list(ds: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for col in ("dtype", "bits", "range / precision", "used for"):
        table.add_column(col, overflow="fold")
    for d in ds:
        table.add_row(d["name"], _bits(d), _range(d), safe_text(", ".join(d["uses_text"])))
    console().print(table)


def _render_one(d: dict[str, Any]) -> None:
    out = console()
    out.print(f"[bold]{d['name']}[/bold]  [dim]{safe_text(d['layout'])}[/dim]")
    out.print(f"  bits: {_bits(d)}" + (f" · range {_range(d)}" if _range(d) else ""))
    if d.get("smallest_normal"):
        out.print(f"  smallest normal {d['smallest_normal']:.3g} · ≈ {d['decimal_digits']} decimal digits")
    out.print(f"  {safe_text(d['summary'], 600)}")
    out.print(f"  [dim]{safe_text(', '.join(d['uses_text']))}[/dim]")


def _render_explanation(e: dict[str, Any]) -> None:
    out = console()
    out.print(f"[bold]{safe_text(e['tensor_type'])}[/bold]")
    for it in e["items"]:
        out.print(f"  [cyan]{it['dtype']:<8}[/cyan] {safe_text(it['reading'], 600)}")
    for n in e["notes"]:
        out.print(f"  [dim]· {safe_text(n, 400)}[/dim]")
    m = e.get("model")
    if not m:
        return
    out.print(f"\n[bold]{safe_text(m['source'])}[/bold]  {safe_text(m['tensor_type'])} · {format_count(m['parameters'])} parameters")
    for g in m["dtypes"]:
        out.print(f"  [cyan]{g['dtype']}[/cyan]: {g['tensors']} tensors, {format_count(g['parameters'])} parameters")
        for r in g["roles"]:
            ex = ", ".join(safe_text(x, 80) for x in r["examples"])
            out.print(f"    {safe_text(r['text'])}: {r['tensors']}  [dim]{ex}[/dim]")


@app.command("dtypes")
def dtypes_command(
    name: Optional[str] = typer.Argument(None, metavar="[NAME]", help="A dtype (BF16, F8_E4M3, Q4_K …) or a tensor-type string (\"BF16·I32·F32\")."),
    model: Optional[str] = typer.Option(None, "--model", help="A model file or folder: show which tensors hold which type."),
    lang: str = typer.Option("en", "--lang", help="en | zh"),
    as_json: bool = typer.Option(False, "--json", help="Print the modellens.dtypes/1 JSON object."),
) -> int:
    """The tensor types on model pages: bits, range, precision, what each is used for."""
    from ..advise import dtypes_report

    report = dtypes_report(name, model, lang)
    if as_json:
        emit_json(report)
    elif "dtypes" in report:
        _render_list(report["dtypes"])
    elif "dtype" in report:
        _render_one(report["dtype"])
    else:
        _render_explanation(report["explanation"])
    return 0
