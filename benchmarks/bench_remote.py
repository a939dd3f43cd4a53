#!/usr/bin/env python
"""Issue 10: ``modellens inspect hf://…`` against ``huggingface_hub`` on the same repo, served locally.

    python benchmarks/bench_remote.py                   # uses bench-data/ (benchmarks/generate.py)
    python benchmarks/bench_remote.py --runs 5 --skip-download

The ~8 GB sharded safetensors repo of ``benchmarks/generate.py`` (``bench-data/llama8b-st``; if
it is missing, a sparse copy of the same shapes is written to ``bench-data/remote-st``, headers
real, data holes) is served by the fake hub of ``tests/hub_server.py`` on 127.0.0.1 (Hub API
shapes, 302 to a CDN path for LFS files, Range).  The ``.bin`` and GGUF of ``bench-data/`` are
served too when present.  Rows:

* ``modellens inspect hf://… --json`` with an empty header cache, then with a warm one;
* ``huggingface_hub.HfApi().get_safetensors_metadata(repo)`` (safetensors only);
* ``huggingface_hub.snapshot_download(repo)`` — downloading it (``--skip-download`` to skip).

Each is a fresh process; requests and bytes are what the server counted (bodies only),
``call s`` is the median time of the call itself (imports excluded), ``process s`` the median
wall time of the whole process.  Prints a text table and its markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from hub_server import HubServer  # noqa: E402

PY = sys.executable

SNIPPETS = {
    "modellens": ("from modellens.hub import read_remote",
                  "r = read_remote('hf://{repo}', use_cache={use_cache}); n = r.info.parameters"),
    "get_safetensors_metadata": ("from huggingface_hub import HfApi",
                                 "m = HfApi(endpoint='{url}', token=False).get_safetensors_metadata('{repo}'); "
                                 "n = sum(m.parameter_count.values())"),
    "snapshot_download": ("from huggingface_hub import snapshot_download",
                          "p = snapshot_download('{repo}', cache_dir='{tmp}', endpoint='{url}', token=False); n = 0"),
}


def sparse_st_repo(dest: Path) -> Path:
    """The shapes of generate.py's llama8b-st, written as valid safetensors with sparse data."""
    import generate  # benchmarks/generate.py

    if (dest / "model.safetensors.index.json").exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    specs = generate.tensor_specs()
    plan = generate.shard_plan(specs)
    weight_map, total = {}, 0
    for i, shard in enumerate(plan):
        name = f"model-{i + 1:05d}-of-{len(plan):05d}.safetensors"
        header, off = {}, 0
        for tname, shape in shard:
            n = 2
            for d in shape:
                n *= d
            header[tname] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
            off += n
            weight_map[tname] = name
        header["__metadata__"] = {"format": "pt"}
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)
        with open(dest / name, "wb") as fh:
            fh.write(len(raw).to_bytes(8, "little") + raw)
            fh.truncate(8 + len(raw) + off)
        total += off
    (dest / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n")
    generate._write_config(dest)
    return dest


def run_one(server: HubServer, tool: str, repo: str, cache: Path, use_cache: bool = True) -> dict:
    imp, call = SNIPPETS[tool]
    tmp = tempfile.mkdtemp(prefix="bench-dl-")
    code = (f"import time\nt0 = time.perf_counter()\n{imp}\nt1 = time.perf_counter()\n"
            + call.format(repo=repo, url=server.url, tmp=tmp, use_cache=use_cache)
            + "\nt2 = time.perf_counter()\nimport json; print(json.dumps({'import': t1 - t0, 'call': t2 - t1, 'n': n}))")
    env = {**os.environ, "HF_ENDPOINT": server.url, "XDG_CACHE_HOME": str(cache), "HF_HOME": str(cache / "hf"),
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    env.pop("HF_TOKEN", None)
    server.stats.reset()
    t = time.perf_counter()
    p = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{p.stderr[-3000:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    requests, sent = server.stats.snapshot()
    subprocess.run(["rm", "-rf", tmp])
    return {"requests": requests, "bytes": sent, "call": out["call"], "wall": wall, "n": out["n"]}


def measure(server, tool, repo, runs, cache_mode) -> dict:
    results = []
    for _ in range(runs):
        cache = Path(tempfile.mkdtemp(prefix="bench-cache-"))
        if cache_mode == "warm":
            run_one(server, tool, repo, cache)
        results.append(run_one(server, tool, repo, cache))
        subprocess.run(["rm", "-rf", str(cache)])
    return {"requests": results[0]["requests"], "bytes": results[0]["bytes"], "n": results[0]["n"],
            "call": statistics.median(r["call"] for r in results),
            "wall": statistics.median(r["wall"] for r in results)}


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-download", action="store_true")
    args = ap.parse_args(argv)

    st = DATA / "llama8b-st"
    if not (st / "model.safetensors.index.json").exists():
        st = sparse_st_repo(DATA / "remote-st")
    repos = {"bench/llama8b-st": st}
    if (DATA / "llama8b-bin" / "pytorch_model.bin").exists():
        repos["bench/llama8b-bin"] = DATA / "llama8b-bin"
    if (DATA / "model-q8.gguf").exists():
        gg = Path(tempfile.mkdtemp(prefix="bench-gguf-"))
        os.symlink(DATA / "model-q8.gguf", gg / "model-q8.gguf")
        repos["bench/gguf-q8"] = gg

    rows = []
    with HubServer(max_seconds=3600) as server:
        for repo, folder in repos.items():
            server.add_repo(repo, folder)
        sizes = {r: sum(p.stat().st_size for p in Path(f).rglob("*") if p.is_file() or p.is_symlink())
                 for r, f in repos.items()}
        for repo in repos:
            label = repo.split("/")[1]
            rows.append((label, "modellens inspect (cold cache)", sizes[repo],
                         measure(server, "modellens", repo, args.runs, "cold")))
            rows.append((label, "modellens inspect (warm cache)", sizes[repo],
                         measure(server, "modellens", repo, args.runs, "warm")))
            if repo.endswith("-st"):
                rows.append((label, "huggingface_hub get_safetensors_metadata", sizes[repo],
                             measure(server, "get_safetensors_metadata", repo, args.runs, "cold")))
                if not args.skip_download:
                    rows.append((label, "huggingface_hub snapshot_download", sizes[repo],
                                 measure(server, "snapshot_download", repo, 1, "cold")))

    head = ("repo", "tool", "requests", "bytes", "% of repo", "call s", "process s", "parameters")
    table = [head]
    for label, tool, size, m in rows:
        table.append((label, tool, str(m["requests"]), fmt_bytes(m["bytes"]), f"{100 * m['bytes'] / size:.4f}%",
                      f"{m['call']:.3f}", f"{m['wall']:.2f}", f"{m['n']:,}" if m["n"] else "-"))
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    print(f"repos: " + ", ".join(f"{r} {fmt_bytes(s)}" for r, s in sizes.items()))
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in table[1:]:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
