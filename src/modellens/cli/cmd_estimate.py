"""``modellens estimate MODEL``: memory to run or fine-tune a model, component by component."""

from __future__ import annotations

from typing import Optional

import typer

from ..core.errors import ModelLensError
from ..core.model import format_count
from .app import app
from .output import console, emit_json, safe_text

__all__ = ["estimate_command"]

_ORDER = ("weights", "kv_cache", "activations", "gradients", "optimizer", "adapters", "overhead")
_BAR = 30


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def _bar(part: int, total: int) -> str:
    if total <= 0:
        return ""
    cells = part / total * _BAR
    full = int(cells)
    return "█" * full + ("▌" if cells - full >= 0.5 else "")


def _render(e, glance: list | None) -> None:  # noqa: ANN001
    from rich.table import Table

    con = console()
    m = e.model
    active = f" · {format_count(m.active_parameters)} active" if m.active_parameters != m.parameters else ""
    approx = " [yellow](approximate)[/yellow]" if m.approximate else ""
    con.print(f"[bold]{safe_text(m.name)}[/bold]  {safe_text(m.architecture or '')} · "
              f"{format_count(m.parameters)} parameters ({m.parameters:,}){active} · from {m.source}{approx}")
    a = e.assumptions
    setting = [f"mode {e.mode}"]
    for key in ("engine", "dtype", "precision", "optimizer", "context", "batch", "micro_batch", "zero"):
        if a.get(key) not in (None, ""):
            setting.append(f"{key.replace('_', '-')} {a[key]}")
    if a.get("quant"):
        setting.append(f"quant {a['quant']['name']} ({a['quant']['bits_per_weight']:.3f} bits/weight)")
    con.print("[dim]" + safe_text(" · ".join(setting)) + "[/dim]")
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("component")
    table.add_column("memory", justify="right")
    table.add_column("share", justify="right")
    table.add_column("")
    total = e.total_bytes
    for k in _ORDER:
        v = e.breakdown.get(k, 0)
        if v:
            table.add_row(k.replace("_", " "), _gib(v), f"{100 * v / total:.1f}%", f"[cyan]{_bar(v, total)}[/cyan]")
    table.add_row("[bold]total[/bold]", f"[bold]{_gib(total)}[/bold]", "", "")
    if e.count > 1 or e.hardware:
        table.add_row("per GPU", _gib(e.per_gpu_bytes), "", f"× {e.count}")
    con.print(table)
    hw = e.hardware
    if hw is not None:
        verdict = "[green]fits[/green]" if hw.fits else "[red]does not fit[/red]"
        budget = hw.gpu.usable_bytes * (a.get("gpu_memory_utilization") or 1.0)
        line = f"{verdict} on {hw.count} × {safe_text(hw.gpu.name)} ({_gib(hw.per_gpu_bytes)} of {_gib(budget)} per GPU)"
        if hw.min_count:
            line += f" · minimum {hw.min_count} GPU{'s' if hw.min_count > 1 else ''}"
        if hw.tensor_parallel and e.mode == "inference":
            line += f" · tensor-parallel {hw.tensor_parallel}"
        con.print(line)
        for n in hw.notes:
            con.print(f"  [dim]· {safe_text(n, 300)}[/dim]")
    con.print("[dim]assumptions:[/dim]")
    for k in ("weights", "kv_cache", "activations", "adapters", "optimizer_states", "optimizer_step", "sharding",
              "overhead"):
        if a.get(k):
            con.print(f"  [dim]· {k.replace('_', ' ')}: {safe_text(a[k], 400)}[/dim]")
    for n in e.notes:
        con.print(f"  [dim]· {safe_text(n, 300)}[/dim]")
    if glance:
        t = Table(title="at a glance", title_justify="left", show_edge=False)
        for col in ("", "weights", "total", ""):
            t.add_column(col, justify="right" if col in ("weights", "total") else "left")
        top = max(r["total_bytes"] for r in glance)
        for r in glance:
            t.add_row(r["what"], _gib(r["weights_bytes"]), _gib(r["total_bytes"]), f"[cyan]{_bar(r['total_bytes'], top)}[/cyan]")
        con.print(t)


@app.command("estimate")
def estimate_command(
    model: str = typer.Argument(..., help="A config.json, an HF folder, a weight file, or a model name."),
    mode: Optional[str] = typer.Option(None, "--mode", "-m", help="inference | full | lora | qlora | prompt-tuning"),
    dtype: str = typer.Option("bf16", "--dtype", help="f32 | bf16 | f16"),
    quant: Optional[str] = typer.Option(None, "--quant", "-q", help="fp8 int8 int4 awq gptq-int4 gptq-int8 bnb-nf4 bnb-int8 mxfp4 q4_k_m q8_0 …"),
    context: Optional[int] = typer.Option(None, "--context", "-c", min=1, help="Tokens per sequence (prompt + output)."),
    batch: int = typer.Option(1, "--batch", "-b", min=1, help="Sequences (inference) or micro-batch (training)."),
    gpu: Optional[str] = typer.Option(None, "--gpu", help="GPU from the catalog (h100, rtx4090, m3-max …) or cpu."),
    gpus: int = typer.Option(1, "--gpus", min=1, help="Number of GPUs."),
    zero: Optional[int] = typer.Option(None, "--zero", min=1, max=3, help="ZeRO stage (3 = FSDP full shard)."),
    lora_rank: int = typer.Option(16, "--lora-rank", min=1),
    lora_targets: Optional[str] = typer.Option(None, "--lora-targets", help="Comma-separated module names, or all-linear."),
    engine: str = typer.Option("transformers", "--engine", help="transformers | vllm | llama.cpp"),
    kv_dtype: Optional[str] = typer.Option(None, "--kv-dtype", help="KV cache dtype (default: the compute dtype)."),
    gpu_util: float = typer.Option(0.9, "--gpu-memory-utilization", min=0.05, max=1.0, help="vLLM's share of each GPU."),
    no_checkpointing: bool = typer.Option(False, "--no-gradient-checkpointing", help="Training without recomputation."),
    precision: str = typer.Option("mixed", "--precision",
                                  help="Training: mixed (fp32 master weights and Adam moments: AMP, DeepSpeed, FSDP) "
                                       "| pure (weights and moments in --dtype: a model loaded in bf16 and trained as is)."),
    optimizer: str = typer.Option("adamw", "--optimizer",
                                  help="Training: adamw (torch, foreach) | adamw-fused | adamw-8bit (bitsandbytes)."),
    json_out: bool = typer.Option(False, "--json", help="Print the modellens.estimate/1 JSON object."),
) -> int:
    """Memory to run or fine-tune a model, every component shown, and whether it fits."""
    from ..estimate import MODES, at_a_glance, estimate, resolve_model

    chosen = mode or "inference"
    if chosen not in MODES:
        raise ModelLensError(f"--mode: unknown mode {chosen!r}; known: {', '.join(MODES)}")
    spec = resolve_model(model)
    for note in spec.notes:
        if note.startswith("hub not reachable"):  # answered from the name: say so where people look
            from .output import err_console

            err_console().print(f"[yellow]warning:[/yellow] {safe_text(note, 400)}")
    try:
        if chosen == "inference":
            e = estimate(spec, mode=chosen, gpu=gpu, dtype=dtype, quant=quant, context=context, batch=batch,
                         engine=engine, kv_dtype=kv_dtype, gpus=gpus, gpu_memory_utilization=gpu_util)
        else:
            targets = [t.strip() for t in lora_targets.split(",")] if lora_targets else "default"
            if targets == ["all-linear"]:
                targets = "all-linear"
            e = estimate(spec, mode=chosen, gpu=gpu, dtype=dtype, context=context or 2048, batch=batch, gpus=gpus,
                         zero=zero, lora_rank=lora_rank, lora_targets=targets, quant=quant,
                         checkpointing=not no_checkpointing, precision=precision, optimizer=optimizer)
    except KeyError as exc:
        raise ModelLensError(str(exc).strip("'\"")) from exc
    glance = at_a_glance(spec) if mode is None else None
    if json_out:
        d = e.to_dict()
        if glance is not None:
            d["at_a_glance"] = glance
        emit_json(d)
    else:
        _render(e, glance)
    return 0
