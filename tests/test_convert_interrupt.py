"""A conversion interrupted mid-way (SIGINT / SIGTERM to the CLI process) leaves the target folder
exactly as it was, and never touches the source."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

TENSORS = 24
ROWS, COLS = 2048, 4096  # 32 MiB of F32 each: 768 MiB in all (sparse on disk)


def _big_safetensors(path: Path) -> None:
    """A large safetensors file written in a moment: a header, then a sparse hole of zeros."""
    header, off = {}, 0
    n = ROWS * COLS * 4
    for i in range(TENSORS):
        header[f"layers.{i}.weight"] = {"dtype": "F32", "shape": [ROWS, COLS],
                                        "data_offsets": [off, off + n]}
        off += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + off)


def _listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")}


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background shell may have ignored it


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("target", ["out.safetensors", "outdir"])
def test_interrupted_conversion_leaves_target_folder_as_it_was(tmp_path, sig, target):
    src = tmp_path / "src" / "big.safetensors"
    src.parent.mkdir()
    _big_safetensors(src)
    src_stat = src.stat()
    dst_folder = tmp_path / "dst"
    dst_folder.mkdir()
    (dst_folder / "keep.txt").write_text("untouched")
    before = _listing(dst_folder)
    # a cast makes every byte go through the process: slow enough to interrupt
    proc = subprocess.Popen(
        [sys.executable, "-m", "modellens", "convert", str(src), str(dst_folder / target),
         "--dtype", "bf16", "--shard-size", "100MB", "--verify"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        staged = [p for p in dst_folder.rglob("*") if ".modellens-" in str(p) and p.is_file()
                  and p.stat().st_size > 0]
        if staged or proc.poll() is not None:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"finished before the signal: {proc.communicate()}"
    time.sleep(0.3)  # mid-way through writing
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert _listing(dst_folder) == before
    assert src.stat().st_mtime_ns == src_stat.st_mtime_ns and src.stat().st_size == src_stat.st_size
