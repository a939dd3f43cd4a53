"""``modellens recommend --target T [--model M] [--gpu NAME --gpus N] [--memory 16GB] [--json]``."""

from __future__ import annotations

from typing import Optional

import typer

from .app import app
from .output import console, emit_json, safe_text

__all__ = ["recommend_command"]


@app.command("recommend")
def recommend_command(
    target: str = typer.Option(..., "--target", "-t", help="nvidia-server | cpu | laptop | mobile-android | ios | mac | "
                               "browser | edge | cross-framework | resume-training | publish"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="A model folder, config.json, file or name to size."),
    gpu: Optional[str] = typer.Option(None, "--gpu", help="GPU from the catalog (h100, rtx4090, m3-max …)."),
    gpus: int = typer.Option(1, "--gpus", min=1, help="Number of GPUs."),
    memory: Optional[str] = typer.Option(None, "--memory", help="Memory available, e.g. 16GB."),
    context: Optional[int] = typer.Option(None, "--context", "-c", min=1, help="Tokens per sequence (default 4096)."),
    lang: str = typer.Option("en", "--lang", help="en | zh"),
    as_json: bool = typer.Option(False, "--json", help="Print the modellens.recommend/1 JSON object."),
) -> int:
    """Which format and engine for a target, sized for a model when one is given."""
    from ..advise.recommend import recommend

    r = recommend(target, model=model, gpu=gpu, gpus=gpus, memory=memory, context=context, lang=lang)
    if as_json:
        emit_json(r)
        return 0
    out = console()
    out.print(f"[bold]{safe_text(r['target_label'])}[/bold]: " + ", ".join(f["name"] for f in r["formats"]))
    out.print(f"  {safe_text(r['why'], 800)}")
    out.print(f"  [dim]engines: {safe_text(', '.join(r['engines']), 400)}[/dim]")
    if r.get("summary"):
        out.print(f"\n{safe_text(r['summary'], 800)}")
    for n in r["notes"]:
        out.print(f"  [dim]· {safe_text(n, 400)}[/dim]")
    if r["conversions"]:
        out.print("\n" + ("转换命令:" if lang == "zh" else "how to get there:"))
        for c in r["conversions"]:
            out.print(f"  [dim]{c['from']} → {c['to']} ({c['tool']})[/dim]")
            for line in c["command"].rstrip().splitlines():
                out.print(f"    [cyan]{safe_text(line, 400)}[/cyan]")
    if r.get("serve"):
        out.print(f"\n[dim]next:[/dim] {safe_text(r['serve'])}")
    return 0
