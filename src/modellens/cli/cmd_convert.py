"""``modellens convert SRC DST``: another format, in bounded memory, never running the source."""

from __future__ import annotations

import sys
from typing import Any, List, Optional

import typer

from ..core.errors import ModelLensError
from .app import app
from .output import console, emit_json, err_console, safe_text


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


class _Bar:
    """A rich progress bar (bytes, bytes/s) on stderr, one task per phase."""

    def __init__(self) -> None:
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                   TimeRemainingColumn, TransferSpeedColumn)

        self.progress = Progress(TextColumn("{task.description:>7}"), BarColumn(),
                                 DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                                 console=err_console(), transient=True)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> "_Bar":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, phase: str, done: int, total: int) -> None:
        task = self.tasks.get(phase)
        if task is None:
            task = self.tasks[phase] = self.progress.add_task(phase, total=total)
        self.progress.update(task, completed=done)


@app.command("convert")
def convert_cmd(
    src: str = typer.Argument(..., help="A model file or folder."),
    dst: str = typer.Argument(..., help="Output file (.safetensors, .npz, .msgpack) or folder."),
    to: Optional[str] = typer.Option(None, "--to", help="Target format: safetensors, npz, "
                                     "flax-msgpack (default: from DST's extension; a folder "
                                     "gets safetensors)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="Cast floating tensors: f32, f16, "
                                        "bf16 (GGUF block types are dequantized to it)."),
    shard_size: Optional[str] = typer.Option(None, "--shard-size", help="Largest shard, e.g. "
                                             "5GB (folder targets default to 5GB)."),
    filter_: Optional[str] = typer.Option(None, "--filter", help="Only tensors whose source name "
                                          "matches this regex."),
    rename: Optional[List[str]] = typer.Option(None, "--rename", help="'from=>to': regex "
                                               "substitution on names (repeatable)."),
    verify: bool = typer.Option(False, "--verify", help="Re-read the output and compare every "
                                "tensor bit for bit with the source."),
    force: bool = typer.Option(False, "--force", help="Replace an existing DST."),
    trust_globals: Optional[str] = typer.Option(None, "--trust-globals", help="module.name,… "
                                                "pickle globals to accept beyond the allowlist."),
    quant: Optional[str] = typer.Option(None, "--quant", help="GGUF type, llama.cpp's names: f32 f16 bf16 "
                                        "q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k q4_k_s q4_k_m q5_k_m"),
    split_max_size: Optional[str] = typer.Option(None, "--split-max-size", help="GGUF: largest part, e.g. 2GB."),
    pure: bool = typer.Option(False, "--pure", help="GGUF: every matrix in the --quant type (no mix)."),
    json_out: bool = typer.Option(False, "--json", help="Print the modellens.convert/1 JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no summary."),
) -> int:
    """Convert a model (safetensors, .bin, GGUF, npz, …) to safetensors, npz, Flax msgpack, or GGUF (--quant)."""
    from ..convert import convert

    trusted = tuple(t.strip() for t in (trust_globals or "").split(",") if t.strip())
    options = dict(to=to, dtype=dtype, shard_size=shard_size, filter=filter_,
                   rename=tuple(rename or ()), verify=verify, force=force, trust_globals=trusted)
    if quant is not None or pure or dst.lower().endswith(".gguf") or (to or "").lower() == "gguf":
        if filter_ or rename or dtype:
            raise ModelLensError("GGUF export takes --quant, --split-max-size, --pure, --verify, --force; "
                                 "not --filter, --rename or --dtype")
        options = dict(to=to, quant=quant, pure=pure, verify=verify, force=force, trust_globals=trusted,
                       shard_size=split_max_size)
    try:
        if not quiet and sys.stderr.isatty():
            with _Bar() as bar:
                report = convert(src, dst, progress=bar, **options)
        else:
            report = convert(src, dst, **options)
    except KeyboardInterrupt:  # SIGINT, or SIGTERM (convert turns it into this)
        print(f"modellens: interrupted: nothing was written to {dst}", file=sys.stderr)
        raise typer.Exit(130) from None
    if json_out:
        emit_json(report.to_dict())
        return 0
    if quiet:
        return 0
    con = console()
    shards = f" in {report.shards} shards" if report.shards > 1 else ""
    con.print(f"wrote {report.tensors} tensors ({_bytes(report.bytes)}){shards} to "
              f"{safe_text(report.destination)} in {report.seconds:.1f} s "
              f"({_bytes(report.bytes_per_second)}/s)")
    if report.aliases_dropped:
        shown = ", ".join(f"{safe_text(a)} = {safe_text(b)}"
                          for a, b in list(report.aliases_dropped.items())[:3])
        con.print(f"tied: {len(report.aliases_dropped)} shared tensors written once ({shown})")
    if report.dequantized:
        con.print(f"dequantized {len(report.dequantized)} GGML tensors to {report.dtype or 'F32'}")
    if report.copied:
        con.print(f"copied {len(report.copied)} files: "
                  + safe_text(", ".join(report.copied[:6]) + (" …" if len(report.copied) > 6 else "")))
    if getattr(report, "tensor_types", None):
        con.print("GGUF types: " + ", ".join(f"{k} ×{v}" for k, v in report.tensor_types.items()))
    if report.verification is not None:
        con.print(f"verified: {report.verification.tensors} tensors identical to the source")
    for w in report.warnings[:10]:
        err_console().print(f"[yellow]warning:[/yellow] {safe_text(w, 400)}")
    return 0
