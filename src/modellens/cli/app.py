"""The Typer application, the error map and the process entry.

Commands raise library errors; :func:`run` turns them into one line on stderr and the exit
codes of DESIGN.md (0 ok, 1 scan findings, 2 bad input or usage).  ``--debug`` anywhere on the
command line (or ``MODELLENS_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

from ..core.errors import ModelLensError

# Typer < 0.26 raises click's exceptions, later versions their vendored copies: find the
# usage-error base class through a public name instead of importing click.
_USAGE_ERRORS = tuple(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

app = typer.Typer(
    name="modellens",
    help="Inspect, scan, convert and size model files without running their code.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """modellens: what is in a model file, is it safe, what does it need."""


def _fail(message: str, code: int, debug: bool) -> "typer.Exit":
    if debug:
        traceback.print_exc()
    print(f"modellens: error: {message}", file=sys.stderr)
    return SystemExit(code)  # type: ignore[return-value]


def run(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("MODELLENS_DEBUG") == "1"
    if "--debug" in args:
        args.remove("--debug")
    try:
        rv = app(args=args, prog_name="modellens", standalone_mode=False)
    except typer.Exit as e:
        raise SystemExit(e.exit_code) from None
    except _USAGE_ERRORS as e:  # usage errors: bad option, missing argument
        e.show()  # type: ignore[attr-defined]
        raise SystemExit(2) from None
    except (typer.Abort, KeyboardInterrupt):
        print("modellens: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except BrokenPipeError:
        # `modellens inspect … | head`: the reader went away; not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
    except ModelLensError as e:
        raise _fail(str(e), e.exit_code, debug) from None
    except RecursionError:
        raise _fail("input is nested too deeply to read", 2, debug) from None
    except MemoryError:
        raise _fail("out of memory while reading the input", 2, debug) from None
    except Exception as e:  # a bug: still one line, and the way to see more
        raise _fail(
            f"unexpected {type(e).__name__}: {e} (rerun with --debug and report it)", 2, debug
        ) from None
    raise SystemExit(rv if isinstance(rv, int) else 0)
