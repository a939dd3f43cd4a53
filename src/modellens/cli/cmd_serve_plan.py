"""``modellens serve-plan MODEL --engine vllm|sglang|llama.cpp|ollama|transformers``: a ready, explained command."""

from __future__ import annotations

import shlex
from typing import Optional

import typer

from .app import app
from .output import console, emit_json, safe_text

__all__ = ["serve_plan_command"]


def _pretty(argv: list[str], env: dict[str, str]) -> str:
    """A multi-line shell command: one flag (and its value) per line."""
    parts: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            parts.append(f"{shlex.quote(a)} {shlex.quote(argv[i + 1])}")
            i += 2
        else:
            parts.append(shlex.quote(a))
            i += 1
    head = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    first = [p for p in parts[:3] if not p.startswith("-")]
    lines = [(head + " " if head else "") + " ".join(first)] + parts[len(first):]
    return " \\\n    ".join(lines)


@app.command("serve-plan")
def serve_plan_command(
    model: str = typer.Argument(..., help="A model folder, config.json, GGUF file, or hub id (org/repo, hf://, ms://)."),
    engine: str = typer.Option("vllm", "--engine", "-e", help="vllm | sglang | llama.cpp | ollama | transformers"),
    gpu: Optional[str] = typer.Option(None, "--gpu", help="GPU from the catalog (default h100-80g for vLLM/SGLang; none = CPU for llama.cpp)."),
    gpus: Optional[int] = typer.Option(None, "--gpus", min=1, help="Number of GPUs (default: the fewest that fit)."),
    context: Optional[int] = typer.Option(None, "--context", "-c", min=1, help="Context length (default: what fits, up to the model's maximum)."),
    quant: Optional[str] = typer.Option(None, "--quant", "-q", help="fp8 (vLLM/SGLang online), or a GGUF type (Q4_K_M …) for llama.cpp / Ollama."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, help="Server port (default: the engine's)."),
    gpu_util: float = typer.Option(0.9, "--gpu-memory-utilization", min=0.05, max=1.0, help="vLLM's share of each GPU."),
    served_name: Optional[str] = typer.Option(None, "--served-model-name", help="Name clients use (default: the model's)."),
    as_json: bool = typer.Option(False, "--json", help="Print the modellens.serve_plan/1 JSON object."),
) -> int:
    """A ready command to serve a model, every number explained, and how to call the server."""
    from ..advise.serve import serve_plan

    plan = serve_plan(model, engine=engine, gpu=gpu, gpus=gpus, context=context, quant=quant, port=port,
                      gpu_memory_utilization=gpu_util, served_name=served_name)
    d = plan.to_dict()
    if as_json:
        emit_json(d)
        return 0
    out = console()
    m = d["model"]
    out.print(f"[bold]{safe_text(m['name'])}[/bold] on {engine} {safe_text(d['engine_version'], 120)}"
              + (" [yellow](sizes from the name: approximate)[/yellow]" if m["approximate"] else ""))
    for step in d["prepare"]:
        out.print(f"[dim]first:[/dim] {safe_text(shlex.join(step), 400)}")
    for name, content in d["files"].items():
        out.print(f"[dim]{safe_text(name)}:[/dim]")
        for line in content.rstrip().splitlines():
            out.print(f"  [cyan]{safe_text(line, 400)}[/cyan]")
    out.print()
    for line in _pretty(d["command"], d["env"]).splitlines():
        out.print(f"[green]{safe_text(line, 2000)}[/green]")
    if d["then"]:
        out.print(f"[dim]then:[/dim] {safe_text(shlex.join(d['then']))}")
    out.print("\n[bold]why[/bold]")
    for x in d["explanation"]:
        value = f" {x['value']}" if x["value"] else ""
        out.print(f"  [cyan]{safe_text(x['flag'] + value, 200)}[/cyan]: {safe_text(x['why'], 800)}")
    for w in d["warnings"]:
        out.print(f"  [yellow]! {safe_text(w, 600)}[/yellow]")
    for n in d["notes"]:
        out.print(f"  [dim]· {safe_text(n, 600)}[/dim]")
    if d["client"]:
        out.print(f"\n[bold]call it[/bold] ({d['client']['endpoint']})")
        out.print(f"  {safe_text(d['client']['curl'], 1000)}")
    return 0
