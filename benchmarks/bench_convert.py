#!/usr/bin/env python
"""Benchmark of issue 5: an 8 GB torch ``pytorch_model.bin`` to safetensors, side by side.

    python benchmarks/bench_convert.py                 # generates bench-data/ first if missing
    python benchmarks/bench_convert.py --repeat 2 --verify

Runs, on the same file, each in a fresh process (peak RSS from ``wait4``), each ending with the
output durable on disk (fsync), the source read once beforehand so every run starts from a warm
page cache:

* ``modellens``: ``modellens convert SRC OUT.safetensors --quiet`` (streams; fsyncs);
* ``hf-convert``: what Hugging Face's ``convert.py`` does — ``torch.load(…, weights_only=True)``,
  ``.contiguous()`` for every tensor, ``safetensors.torch.save_file(…, metadata={"format":
  "pt"})`` — then an fsync;
* ``cp``: ``cp SRC OUT && sync OUT``, the same bytes copied: the disk's ceiling.

Prints wall time, MB/s (of the source file's bytes) and peak RSS for each, and modellens'
ratios to each.  Outputs go to ``bench-data/convert-out/`` and are deleted after each run.
Targets (issue 5): >= 70 % of cp's throughput; peak RSS < 1 GB + the largest tensor; faster
than hf-convert with a fraction of its memory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
SRC = DATA / "llama8b-bin" / "pytorch_model.bin"
OUT = DATA / "convert-out"

_HF = r"""
import os, sys, torch
from safetensors.torch import save_file
src, dst = sys.argv[1], sys.argv[2]
loaded = torch.load(src, map_location="cpu", weights_only=True)
if "state_dict" in loaded:
    loaded = loaded["state_dict"]
loaded = {k: v.contiguous() for k, v in loaded.items()}
save_file(loaded, dst, metadata={"format": "pt"})
fd = os.open(dst, os.O_RDONLY); os.fsync(fd); os.close(fd)
"""


def _run(cmd: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS bytes, exit status) of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        print(f"  {' '.join(cmd[:3])} … failed ({proc.returncode}): {err.strip()[-500:]}",
              file=sys.stderr)
    return wall, usage.ru_maxrss * 1024, proc.returncode


def _warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(64 * 2**20):
            pass


def _clean() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    os.sync()


def _largest_tensor() -> int:
    from modellens.layouts import read_path

    return max(t.nbytes for t in read_path(SRC).tensors)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=1, help="runs per method; the best is shown")
    ap.add_argument("--skip-hf", action="store_true", help="skip the load-everything method")
    ap.add_argument("--verify", action="store_true", help="also time modellens --verify")
    args = ap.parse_args(argv)
    if not SRC.exists():
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "bin"], check=True)
    size = SRC.stat().st_size
    largest = _largest_tensor()
    print(f"source: {SRC.relative_to(ROOT)}  {size / 1e9:.2f} GB, largest tensor "
          f"{largest / 1e6:.0f} MB, {os.cpu_count()} CPUs")
    methods = {
        "cp": ["sh", "-c", f"cp '{SRC}' '{OUT}/cp.bin' && sync '{OUT}/cp.bin'"],
        "modellens": [sys.executable, "-m", "modellens", "convert", str(SRC),
                      str(OUT / "ours.safetensors"), "--quiet"],
    }
    if args.verify:
        methods["modellens --verify"] = [sys.executable, "-m", "modellens", "convert", str(SRC),
                                         str(OUT / "ours-v.safetensors"), "--quiet", "--verify"]
    if not args.skip_hf:
        methods["hf-convert"] = [sys.executable, "-c", _HF, str(SRC), str(OUT / "hf.safetensors")]
    results: dict[str, tuple[float, int]] = {}
    for _ in range(args.repeat):
        for name, cmd in methods.items():
            _clean()
            _warm(SRC)
            wall, rss, rc = _run(cmd)
            if rc == 0 and (name not in results or wall < results[name][0]):
                results[name] = (wall, rss)
    _clean()
    print(f"\n{'method':<20}{'wall s':>9}{'MB/s':>9}{'peak RSS':>12}")
    for name, (wall, rss) in results.items():
        print(f"{name:<20}{wall:>9.1f}{size / wall / 1e6:>9.0f}{rss / 1e6:>9.0f} MB")
    ours = results.get("modellens")
    if ours:
        print()
        if "cp" in results:
            print(f"modellens throughput = {results['cp'][0] / ours[0] * 100:.0f}% of cp "
                  "(target >= 70%)")
        print(f"modellens peak RSS = {ours[1] / 1e6:.0f} MB; budget 1 GB + largest tensor = "
              f"{(1e9 + largest) / 1e6:.0f} MB")
        if "hf-convert" in results:
            hf = results["hf-convert"]
            print(f"modellens vs hf-convert: {hf[0] / ours[0]:.2f}x faster, "
                  f"{ours[1] / hf[1] * 100:.1f}% of its peak RSS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
