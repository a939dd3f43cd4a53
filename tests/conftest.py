"""Shared test helpers.  Fixtures are written by the formats' own libraries into tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


class CLIResult:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def json(self) -> dict:
        return json.loads(self.stdout)


def _limit_memory(limit: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def run_cli(*args: str, timeout: float = 60, env: dict | None = None,
            memory_limit: int | None = None) -> CLIResult:
    """Run `python -m modellens ARGS` as a user would: a real process, real exit code.

    ``memory_limit`` caps the process's address space (bytes): a reader that tries to
    allocate what a hostile length field claims fails the test instead of the machine."""
    proc = subprocess.run(
        [sys.executable, "-m", "modellens", *map(str, args)],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        preexec_fn=_limit_memory(memory_limit) if memory_limit else None,
    )
    return CLIResult(proc)


def assert_one_line_error(res: CLIResult, *fragments: str) -> None:
    """Exit 2, nothing on stdout, exactly one line on stderr, no traceback."""
    assert res.code == 2, (res.code, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert lines[0].startswith("modellens: error: ")
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def fake_hub(tmp_path_factory):
    """The local hub (tests/hub_server.py) serving the test repos over HTTP with Range support:
    built once per session; tests add repos of their own under distinct names."""
    from .hub_server import start_fake_hub

    fx = start_fake_hub(tmp_path_factory.mktemp("hub-repos"))
    yield fx
    fx.server.stop()
