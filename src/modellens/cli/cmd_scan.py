"""``modellens scan PATH…``: is it safe to load?  Verdict first, then each finding."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from ..core.errors import ModelLensError
from .app import app
from .output import console, emit_json, err_console, safe_text

_COLOR = {"safe": "green", "suspicious": "yellow", "error": "magenta", "dangerous": "red",
          "info": "dim"}


def _render(report, verbose: bool) -> None:  # noqa: ANN001 - ScanReport, imported lazily
    con = console()
    v = report.verdict
    con.print(f"[bold {_COLOR[v]}]{v.upper()}[/bold {_COLOR[v]}]  {safe_text(report.source, 300)}"
              f"  [dim]({len(report.files)} file{'s' if len(report.files) != 1 else ''}, "
              f"{report.seconds:.2f}s)[/dim]")
    if report.custom_allowlist:
        con.print(f"[yellow]custom allowlist used:[/yellow] "
                  f"{safe_text(', '.join(report.custom_allowlist), 300)}")
    for f in report.files:
        shown = [x for x in f.findings if verbose or x.severity.label != "info"]
        if f.verdict == "safe" and not shown:
            if verbose:
                con.print(f"  [green]safe[/green]  {safe_text(f.path, 200)}  [dim]{f.format or ''}[/dim]")
            continue
        c = _COLOR[f.verdict]
        con.print(f"  [{c}]{f.verdict}[/{c}]  {safe_text(f.path, 200)}  [dim]{f.format or ''}[/dim]")
        for x in shown[:50]:
            sev = x.severity.label
            loc = []
            if x.location.member:
                loc.append(f"member {safe_text(x.location.member, 120)}")
            if x.location.offset is not None:
                loc.append(f"offset {x.location.offset}")
            if x.location.opcode:
                loc.append(x.location.opcode)
            con.print(f"    [{_COLOR[sev]}]{sev:<10}[/{_COLOR[sev]}] [bold]{x.rule}[/bold]  "
                      f"{safe_text(x.message, 400)}" + (f"  [dim]({', '.join(loc)})[/dim]" if loc else ""))
        if len(shown) > 50:
            con.print(f"    [dim]… {len(shown) - 50} more findings (--json)[/dim]")
    counts = ", ".join(f"{n} {k}" for k, n in report.by_verdict.items() if n)
    con.print(f"[dim]{counts or 'no files scanned'}[/dim]")


@app.command("scan")
def scan_cmd(
    paths: List[str] = typer.Argument(..., help="Model files or folders (scanned recursively), or hub repos: hf://org/repo, ms://org/repo, org/repo (headers and pickle members only)."),
    json_out: bool = typer.Option(False, "--json", help="Print the modellens.scan/1 JSON object."),
    sarif_out: bool = typer.Option(False, "--sarif", help="Print SARIF 2.1.0 for code-scanning UIs."),
    fail_on: str = typer.Option("suspicious", "--fail-on",
                                help="Exit 1 when the verdict is at or above: suspicious | dangerous."),
    allow: Optional[List[str]] = typer.Option(None, "--allow",
                                              help="Also allow this global (module.name or module.*); repeatable."),
    allow_file: Optional[List[str]] = typer.Option(None, "--allow-file",
                                                   help="Allowlist file (JSON, TOML or one pattern a line)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show safe files and info findings."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing; the exit code says it."),
) -> int:
    """Is it safe to load? Static analysis of pickles and other formats; nothing is executed.

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it (an 'error' verdict,
    a file that could not be fully analysed, counts as above 'suspicious'), 2 bad usage or input.
    """
    from ..security import scan_paths

    if fail_on not in ("suspicious", "dangerous"):
        raise ModelLensError(f"--fail-on must be 'suspicious' or 'dangerous', not {fail_on!r}")
    if json_out and sarif_out:
        raise ModelLensError("--json and --sarif are exclusive")
    progress = None
    if not (json_out or sarif_out or quiet) and sys.stderr.isatty():
        progress = lambda p: err_console().print(f"[dim]scanning {safe_text(p, 120)}[/dim]", end="\r")  # noqa: E731
    report = scan_paths(paths, allow=allow or (), allow_files=allow_file or (), progress=progress)
    if json_out:
        emit_json(report.to_dict())
    elif sarif_out:
        emit_json(report.to_sarif())
    elif not quiet:
        _render(report, verbose)
    if fail_on == "dangerous":  # what could not be analysed is never let through
        return 1 if report.verdict in ("dangerous", "error") else 0
    return 1 if report.at_least("suspicious") else 0
