"""``modellens inspect PATH``: what is in a model file or folder, from its headers."""

from __future__ import annotations

import re
from typing import Any, Optional

import typer

from ..core.errors import ModelLensError
from ..core.model import ModelInfo, format_count
from .app import app
from .output import console, emit_json, safe_text


def format_bytes(n: int) -> str:
    """Decimal units, as model hubs show sizes: 16060522496 -> '16.1 GB'."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def _arch_line(arch: dict[str, Any]) -> str:
    parts = []
    name = arch.get("name")
    if name:
        parts.append(str(name) + (f" ({arch['model_type']})" if arch.get("model_type") else ""))
    for key, label in (("layers", "layers"), ("hidden_size", "hidden"), ("experts", "experts")):
        if arch.get(key) is not None:
            parts.append(f"{arch[key]} {label}")
    if arch.get("heads") is not None:
        kv = f" / {arch['kv_heads']} kv" if arch.get("kv_heads") not in (None, arch["heads"]) else ""
        parts.append(f"{arch['heads']} heads{kv}")
    if arch.get("vocab_size") is not None:
        parts.append(f"vocab {arch['vocab_size']}")
    ctx = arch.get("max_position_embeddings", arch.get("context_length"))
    if ctx is not None:
        parts.append(f"context {ctx}")
    if arch.get("dtype"):
        parts.append(f"saved as {arch['dtype']}")
    if arch.get("components"):
        parts.append("components: " + ", ".join(arch["components"]))
    return " · ".join(safe_text(p) for p in parts)


def _quant_line(q: dict[str, Any]) -> str:
    if q.get("summary"):
        return safe_text(q["summary"], 400)
    parts = [str(q.get("method") or "unknown method")]
    for key in ("file_type", "bits", "group_size", "scheme", "format_variant"):
        if q.get(key) not in (None, ""):
            parts.append(f"{key.replace('_', ' ')} {q[key]}")
    return safe_text(" · ".join(parts))


def _dtype_line(info: ModelInfo) -> str:
    total = info.parameters or 1
    return " · ".join(f"{d} {format_count(n)} ({100 * n / total:.1f}%)" for d, n in info.dtypes.items())


def _render(info: ModelInfo, show_tensors: bool, tensors: list, limit: int | None) -> None:
    from rich.table import Table

    con = console()
    kind = " · ".join(x for x in (info.layout, info.format) if x)
    con.print(f"[bold]{safe_text(info.source)}[/bold]  [cyan]{safe_text(kind)}[/cyan]")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row("parameters", f"[bold]{format_count(info.parameters)}[/bold] ({info.parameters:,})"
                 + (f" · stored elements {info.stored_elements:,}" if info.stored_elements != info.parameters else ""))
    if info.dtypes:
        grid.add_row("tensor type", f"[bold]{info.tensor_type}[/bold]")
        grid.add_row("by dtype", _dtype_line(info))
    if 1 < len(info.groups) <= 8 and info.format in ("pytorch-zip", "pytorch-legacy", "pickle", "joblib"):
        grid.add_row("by group", " · ".join(f"{safe_text(g, 40)} {format_count(n)}" for g, n in info.groups.items()))
    n_weight_files = sum(1 for f in info.files if f.format)
    grid.add_row("size on disk", f"{format_bytes(info.size_bytes)} in {len(info.files)} file{'s' if len(info.files) != 1 else ''}"
                 + (f" ({n_weight_files} with weights)" if n_weight_files != len(info.files) else ""))
    grid.add_row("tensors", f"{len(info.tensors):,}")
    if info.aliases:
        shown = ", ".join(f"{safe_text(a)} = {safe_text(b)}" for a, b in list(info.aliases.items())[:3])
        grid.add_row("shared", f"{len(info.aliases)} tensors share storage with another (counted once): {shown}")
    if info.architecture:
        grid.add_row("architecture", _arch_line(info.architecture))
    grid.add_row("quantization", _quant_line(info.quantization) if info.quantization else "none")
    tok = info.metadata.get("tokenizer")
    if isinstance(tok, dict):
        chat = "chat template ✓ (probably instruction-tuned)" if tok.get("chat_template") else "no chat template"
        grid.add_row("tokenizer", safe_text(", ".join(tok.get("files", []))) + f" · {chat}")
    notable = {k: v for k, v in info.metadata.items()
               if k not in ("tokenizer", "hints", "generation_config", "pipeline") and not isinstance(v, (dict, list))}
    if notable:
        shown = list(notable.items())[:12]
        text = " · ".join(f"{safe_text(k, 60)}={safe_text(v, 60)}" for k, v in shown)
        if len(notable) > len(shown):
            text += f" · … {len(notable) - len(shown)} more (--json)"
        grid.add_row("metadata", text)
    con.print(grid)
    if info.components:
        table = Table(title="components", title_justify="left", show_edge=False)
        for col in ("name", "format", "parameters", "tensor type", "size"):
            table.add_column(col, justify="right" if col in ("parameters", "size") else "left")
        for name, comp in zip(info.component_names, info.components):
            table.add_row(safe_text(name), comp.format or "", format_count(comp.parameters),
                          comp.tensor_type, format_bytes(sum(t.nbytes for t in comp.tensors)))
        con.print(table)
    for w in info.warnings[:20]:
        con.print(f"[yellow]warning:[/yellow] {safe_text(w, 400)}")
    if len(info.warnings) > 20:
        con.print(f"[yellow]… {len(info.warnings) - 20} more warnings (--json)[/yellow]")
    if show_tensors:
        table = Table(show_edge=False)
        for col in ("name", "dtype", "shape", "parameters", "size", "file"):
            table.add_column(col, justify="right" if col in ("parameters", "size") else "left")
        rows = tensors[:limit] if limit is not None else tensors
        for t in rows:
            table.add_row(safe_text(t.name), t.dtype, "×".join(map(str, t.shape)) or "scalar",
                          f"{t.parameters:,}" if not t.alias_of else f"= {safe_text(t.alias_of)}",
                          format_bytes(t.nbytes), safe_text(t.file or "", 60))
        con.print(table)
        if len(rows) < len(tensors):
            con.print(f"[dim]… {len(tensors) - len(rows)} more tensors (raise --limit)[/dim]")


@app.command("inspect")
def inspect_cmd(
    path: str = typer.Argument(..., help="A model file or folder."),
    json_out: bool = typer.Option(False, "--json", help="Print the modellens.inspect/1 JSON object."),
    tensors: bool = typer.Option(False, "--tensors", "-t", help="Show the tensor table."),
    filter_: Optional[str] = typer.Option(None, "--filter", "-f", help="Only tensors whose name matches this regex."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=0, help="At most N tensors in the table / JSON."),
) -> int:
    """What is in a model file or folder: format, parameters, dtypes, architecture, quantization."""
    from ..layouts import read_path

    try:
        pattern = re.compile(filter_) if filter_ else None
    except re.error as e:
        raise ModelLensError(f"--filter: invalid regular expression ({e})") from e
    info = read_path(path)
    selected = [t for t in info.tensors if pattern is None or pattern.search(t.name)]
    if json_out:
        d = info.to_dict(tensors=False)
        rows = selected[:limit] if limit is not None else selected
        d["tensors"] = [t.to_dict() for t in rows]
        emit_json(d)
    else:
        _render(info, tensors or pattern is not None, selected, limit if limit is not None else (None if pattern else 50))
    return 0
