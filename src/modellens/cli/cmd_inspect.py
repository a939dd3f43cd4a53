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
    if info.graph:
        _render_graph(con, info.graph)
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


# --- graph formats (ONNX, TFLite, OpenVINO IR, Core ML, TensorRT): the graph I/O section -------

def _dims(shape: Any) -> str:
    if shape is None:
        return "?"
    if not shape:
        return "scalar"
    return "×".join("?" if d is None else safe_text(d, 40) for d in shape)


def _render_graph(con: Any, graph: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="graph inputs and outputs", title_justify="left", show_edge=False)
    for col in ("", "name", "dtype", "shape"):
        table.add_column(col)
    for kind in ("inputs", "outputs"):
        for e in graph.get(kind) or []:
            q = e.get("quantization")
            extra = f" (scale {q['scale']}, zero point {q['zero_point']})" if isinstance(q, dict) and "scale" in q else ""
            table.add_row(kind[:-1], safe_text(e.get("name", ""), 80), safe_text(e.get("dtype") or "?", 40) + extra,
                          _dims(e.get("shape")))
    if table.row_count:
        con.print(table)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    ops = graph.get("operators") or {}
    if ops:
        shown = list(ops.items())[:12]
        text = " · ".join(f"{safe_text(k, 60)} {v}" for k, v in shown)
        if len(ops) > len(shown):
            text += f" · … {len(ops) - len(shown)} more (--json)"
        grid.add_row("operators", f"{graph.get('node_count', sum(ops.values())):,} nodes: {text}")
    if graph.get("opsets"):
        grid.add_row("opsets", " · ".join(f"{safe_text(k, 60)} {safe_text(v, 40)}" for k, v in graph["opsets"].items()))
    for key, label in (("runtime_version", "runtime"), ("min_runtime_version", "min runtime"),
                       ("ir_version", "IR version"), ("model_type", "model type"), ("framework", "framework")):
        if graph.get(key) is not None:
            grid.add_row(label, safe_text(graph[key], 80))
    if graph.get("signatures"):
        grid.add_row("signatures", safe_text(", ".join(graph["signatures"]), 200))
    if graph.get("custom_operators"):
        grid.add_row("custom ops", safe_text(", ".join(graph["custom_operators"]), 200))
    if grid.row_count:
        con.print(grid)


@app.command("inspect")
def inspect_cmd(
    path: str = typer.Argument(..., help="A model file or folder, or a hub repo: hf://org/repo[@rev][/path], "
                               "ms://org/repo[@rev], org/repo."),
    json_out: bool = typer.Option(False, "--json", help="Print the modellens.inspect/1 JSON object."),
    tensors: bool = typer.Option(False, "--tensors", "-t", help="Show the tensor table."),
    filter_: Optional[str] = typer.Option(None, "--filter", "-f", help="Only tensors whose name matches this regex."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=0, help="At most N tensors in the table / JSON."),
    offline: bool = typer.Option(False, "--offline", help="Hub repos: answer from the header cache only, no network."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Hub repos: neither read nor write the header cache."),
) -> int:
    """What is in a model file or folder: format, parameters, dtypes, architecture, quantization."""
    from ..layouts import read_path

    try:
        pattern = re.compile(filter_) if filter_ else None
    except re.error as e:
        raise ModelLensError(f"--filter: invalid regular expression ({e})") from e
    from ..hub import is_remote_source

    transfer = None
    if is_remote_source(path):
        from ..hub import read_remote

        result = read_remote(path, offline=True if offline else None, use_cache=not no_cache)
        info, transfer = result.info, result.transfer
    else:
        info = read_path(path)
    selected = [t for t in info.tensors if pattern is None or pattern.search(t.name)]
    if json_out:
        d = info.to_dict(tensors=False)
        rows = selected[:limit] if limit is not None else selected
        d["tensors"] = [t.to_dict() for t in rows]
        if transfer is not None:
            d["transfer"] = transfer.to_dict()
        emit_json(d)
    else:
        _render(info, tensors or pattern is not None, selected, limit if limit is not None else (None if pattern else 50))
        if transfer is not None:
            _transfer_line(transfer, info.size_bytes)
    return 0


def _transfer_line(transfer: Any, repo_bytes: int) -> None:
    """How much the remote read cost, on stderr (a note, not data)."""
    from .output import err_console

    t = transfer.to_dict()
    share = f" ({100 * t['bytes'] / repo_bytes:.3f}% of {format_bytes(repo_bytes)})" if repo_bytes else ""
    cached = f", {format_bytes(t['cached_bytes'])} from the cache" if t["cached_bytes"] else ""
    err_console().print(f"[dim]fetched {format_bytes(t['bytes'])} in {t['requests']} request"
                        f"{'s' if t['requests'] != 1 else ''}{share}{cached}, {t['seconds']:.2f} s[/dim]")
