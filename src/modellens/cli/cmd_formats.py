"""``modellens formats [ID] [--json] [--lang en|zh]``: the formats knowledge base."""

from __future__ import annotations

from typing import Any, Optional

import typer

from .app import app
from .output import console, emit_json, safe_text

__all__ = ["formats_command"]

_HEAD = {"en": {"ext": "extensions", "fw": "framework", "stores": "stores", "code": "loading runs code",
                "quant": "quantization", "platforms": "platforms", "runtimes": "runtimes", "use": "typical use",
                "plus": "strengths", "minus": "weaknesses", "read": "read by", "write": "written by",
                "to": "convert to", "from": "convert from", "within": "within the format", "links": "links"},
         "zh": {"ext": "扩展名", "fw": "框架", "stores": "存储内容", "code": "加载时执行代码", "quant": "量化",
                "platforms": "平台", "runtimes": "运行时", "use": "典型用途", "plus": "优点", "minus": "缺点",
                "read": "读取工具", "write": "写入工具", "to": "转出", "from": "转入", "within": "格式内转换",
                "links": "链接"}}


def _render_one(f: dict[str, Any], lang: str) -> None:
    h = _HEAD[lang]
    out = console()
    out.print(f"[bold]{safe_text(f['name'])}[/bold]  [dim]({f['id']}, {f['kind']})[/dim]")
    out.print(f"  {h['ext']}: {safe_text(', '.join(f['extensions']))}")
    out.print(f"  {h['fw']}: {safe_text(f['framework'])}")
    out.print(f"  {h['stores']}: {safe_text(f['stores_text'])}")
    colour = {"no": "green", "possible": "yellow", "yes": "red"}[f["executes_code"]]
    out.print(f"  {h['code']}: [{colour}]{safe_text(f['executes_code_text'])}[/{colour}] — {safe_text(f['code_note'], 400)}")
    if f["quantization"]:
        out.print(f"  {h['quant']}: {safe_text('; '.join(f['quantization']), 400)}")
    out.print(f"  {h['platforms']}: {', '.join(f['platforms'])}")
    out.print(f"  {h['runtimes']}: {safe_text(', '.join(f['runtimes']), 400)}")
    out.print(f"  {h['use']}: {safe_text(f['typical_use'], 400)}")
    for key, items, mark in (("plus", f["strengths"], "[green]+[/green]"), ("minus", f["weaknesses"], "[red]−[/red]")):
        out.print(f"  {h[key]}:")
        for s in items:
            out.print(f"    {mark} {safe_text(s, 400)}")
    out.print(f"  {h['read']}: {safe_text(', '.join(f['tools']['read']), 400)}")
    out.print(f"  {h['write']}: {safe_text(', '.join(f['tools']['write']), 400)}")
    for key in ("to", "from", "within"):
        convs = f["conversions"][key]
        if not convs:
            continue
        out.print(f"  {h[key]}:")
        for c in convs:
            other = c["to"] if key == "to" else c["from"]
            label = f"{other} [dim]({c['tool']})[/dim]" if key != "within" else f"[dim]({c['tool']})[/dim]"
            out.print(f"    → {label}")
            for line in c["command"].rstrip().splitlines():
                out.print(f"        [cyan]{safe_text(line, 400)}[/cyan]")
            if c.get("note"):
                out.print(f"        [dim]{safe_text(c['note'], 400)}[/dim]")
    out.print(f"  {h['links']}: {' '.join(f['links'])}")


def _render_all(fs: list[dict[str, Any]], lang: str) -> None:
    from rich.table import Table

    h = _HEAD[lang]
    table = Table(show_edge=False, pad_edge=False)
    for col in ("id", h["stores"], h["code"], h["use"]):
        table.add_column(col, overflow="fold")
    for f in fs:
        colour = {"no": "green", "possible": "yellow", "yes": "red"}[f["executes_code"]]
        table.add_row(f["id"], safe_text(f["stores_text"]), f"[{colour}]{safe_text(f['executes_code_text'])}[/{colour}]",
                      safe_text(f["typical_use"], 300))
    console().print(table)
    console().print("[dim]modellens formats ID" + (" 查看详情" if lang == "zh" else " for details and conversion commands") + "[/dim]")


@app.command("formats")
def formats_command(
    format_id: Optional[str] = typer.Argument(None, metavar="[ID]", help="A format id (gguf, onnx, awq …) or an extension."),
    lang: str = typer.Option("en", "--lang", help="en | zh"),
    as_json: bool = typer.Option(False, "--json", help="Print the modellens.formats/1 JSON object."),
) -> int:
    """Which format for which job: what each stores, whether loading runs code, and how to convert."""
    from ..advise import formats_report

    report = formats_report(format_id, lang)
    if as_json:
        emit_json(report)
    elif format_id:
        _render_one(report["format"], lang)
    else:
        _render_all(report["formats"], lang)
    return 0
