#!/usr/bin/env python
"""Issue 2: ``modellens inspect`` side by side with each format's reference reader.

    python benchmarks/generate.py && python benchmarks/bench_inspect.py
    python benchmarks/bench_inspect.py --rows st gguf --runs 10 --proc-runs 10

For each file of ``bench-data/`` (made by ``generate.py``):

* in-process: ``modellens.inspect(path).to_dict()`` vs the peer's call, each in a fresh
  subprocess: the first (cold-process) call, then one warm-up, then the median of ``--runs``
  calls; peak RSS = the peak RSS over all calls (Linux ``VmHWM``, reset after the imports through
  ``/proc/self/clear_refs``) minus the RSS after the imports (the interpreter with its library).
* whole process, as a user runs them, interpreter start included: ``modellens inspect PATH
  --json`` vs ``python -c "<peer snippet>"``, timed with hyperfine (``--warmup 2 --runs N``,
  median; falls back to our own median-of-N when hyperfine is missing), and peak RSS with
  ``/usr/bin/time -f %M`` (median of 3; falls back to ``ru_maxrss`` of the child).

Ratios are ours/theirs: below 1.00 means modellens is faster / smaller. Prints a text table and
its markdown, and writes ``benchmarks/results/inspect-<date>.md`` (raw JSON in ``bench-data/``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
RESULTS = Path(__file__).resolve().parent / "results"
PY = sys.executable
PYCACHE = DATA / ".pycache"
# The environment of every measured process (set in main): bytecode cached, as for an installed
# package (pip compiles .pyc at install). With PYTHONDONTWRITEBYTECODE set, an editable install
# recompiles every modellens module in every process (~30 ms of CPU), while the peers' site-packages
# have their .pyc. PYTHONPYCACHEPREFIX keeps the cache inside bench-data/ (git-ignored) and applies
# to ours and the peers alike.
ENV = dict(os.environ)


def set_bytecode_cache(on: bool) -> None:
    ENV.clear()
    ENV.update(os.environ)
    if on:
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        ENV["PYTHONPYCACHEPREFIX"] = str(PYCACHE)

ROWS = {
    # key: (label, path relative to ROOT, peer name)
    "st": ("8.0 GB sharded safetensors folder (993 tensors, 5 shards, bf16)", "bench-data/llama8b-st", "safetensors"),
    "bin": ("8.0 GB pytorch_model.bin (993 tensors, bf16)", "bench-data/llama8b-bin/pytorch_model.bin", "torch"),
    "gguf": ("3.4 GB GGUF Q8_0 (255 tensors, 128k vocab)", "bench-data/model-q8.gguf", "gguf"),
}

# The peers' in-process calls: each returns [(name, shape, dtype)] for every tensor.
PEER_IMPORT = {
    "safetensors": "import json, os\nfrom safetensors import safe_open",
    "torch": "import torch",
    "gguf": "from gguf import GGUFReader",
}
PEER_BODY = {
    "safetensors": (
        "def run(path):\n"
        "    idx = json.load(open(os.path.join(path, 'model.safetensors.index.json')))\n"
        "    out = []\n"
        "    for shard in sorted(set(idx['weight_map'].values())):\n"
        "        with safe_open(os.path.join(path, shard), framework='numpy') as f:\n"
        "            for k in f.keys():\n"
        "                s = f.get_slice(k)\n"
        "                out.append((k, s.get_shape(), s.get_dtype()))\n"
        "    return out\n"
    ),
    "torch": (
        "def run(path):\n"
        "    sd = torch.load(path, mmap=True, weights_only=True)\n"
        "    return [(k, tuple(v.shape), str(v.dtype)) for k, v in sd.items()]\n"
    ),
    "gguf": (
        "def run(path):\n"
        "    r = GGUFReader(path)\n"
        "    return [(t.name, tuple(int(d) for d in t.shape), t.tensor_type.name) for t in r.tensors]\n"
    ),
}
OURS_IMPORT = "import modellens"
OURS_BODY = "def run(path):\n    return modellens.inspect(path).to_dict()\n"


def peer_snippet(peer: str, path: str) -> str:
    """The one-liner program a user would run: import, read, print the tensor list."""
    return (PEER_IMPORT[peer] + "\n" + PEER_BODY[peer]
            + f"for row in run({path!r}):\n    print(*row)\n")


# ----------------------------------------------------------------------------------------------
# in-process worker (runs in a fresh subprocess)

WORKER = r"""
import gc, json, resource, statistics, sys, time
t0 = time.perf_counter()
{imp}
t_import = time.perf_counter() - t0
{body}
path, runs = sys.argv[1], int(sys.argv[2])
def _status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
# ru_maxrss survives exec: a child of a big parent starts with the parent's peak. Linux's VmHWM is
# per address space, and writing 5 to clear_refs resets it to the current RSS.
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    def rss_mb():
        return _status("VmHWM")
    base = _status("VmRSS")
except OSError:
    def rss_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    base = rss_mb()
t = time.perf_counter(); res = run(path); first = time.perf_counter() - t
after_first = rss_mb()
n = res.get("tensor_count") if isinstance(res, dict) else len(res)
del res; gc.collect()
if first > 2.0:  # seconds per call: fewer runs
    runs = min(runs, 3)
run(path)  # warm-up
times = []
for _ in range(runs):
    t = time.perf_counter(); res = run(path); times.append(time.perf_counter() - t); del res
print(json.dumps(dict(import_s=t_import, first_s=first, median_s=statistics.median(times), min_s=min(times),
                      times=times, runs=runs, base_rss_mb=base, peak_rss_mb=rss_mb(), first_rss_mb=after_first, n=n)))
"""


def in_process(tool: str, path: str, runs: int) -> dict:
    if tool == "modellens":
        imp, body = OURS_IMPORT, OURS_BODY
    else:
        imp, body = PEER_IMPORT[tool], PEER_BODY[tool]
    code = WORKER.replace("{imp}", imp).replace("{body}", body)
    p = subprocess.run([PY, "-c", code, path, str(runs)], capture_output=True, text=True, cwd=ROOT, env=ENV)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["rss_delta_mb"] = r["peak_rss_mb"] - r["base_rss_mb"]
    return r


# ----------------------------------------------------------------------------------------------
# whole process

def modellens_cmd(path: str) -> list[str]:
    exe = shutil.which("modellens")
    return [exe, "inspect", path, "--json"] if exe else [PY, "-m", "modellens", "inspect", path, "--json"]


def peer_cmd(peer: str, path: str) -> list[str]:
    return [PY, "-c", peer_snippet(peer, path)]


def _median_of(cmd: list[str], runs: int, warmup: int) -> dict:
    times = []
    for i in range(warmup + runs):
        t = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=ENV)
        dt = time.perf_counter() - t
        if p.returncode != 0:
            return {"error": f"exit {p.returncode}"}
        if i >= warmup:
            times.append(dt)
    return {"median_s": statistics.median(times), "min_s": min(times), "times": times}


def interleaved(cmds: dict[str, list[str]], runs: int, warmup: int) -> dict[str, dict]:
    """Our own timer: the commands alternate run by run (ABAB…, order flipped every round), so that
    a busy neighbour on a shared machine slows both sides alike; wall and CPU (user+sys, from
    wait4) per run, medians."""
    names = list(cmds)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for i in range(warmup + runs):
        for name in (names if i % 2 == 0 else names[::-1]):
            t = time.perf_counter()
            p = subprocess.Popen(cmds[name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                                 env=ENV)
            _, status, ru = os.wait4(p.pid, 0)
            dt = time.perf_counter() - t
            p.returncode = os.waitstatus_to_exitcode(status)
            if p.returncode != 0:
                return {n: {"error": f"exit {p.returncode}"} for n in names}
            if i >= warmup:
                wall[name].append(dt)
                cpu[name].append(ru.ru_utime + ru.ru_stime)
    return {n: {"median_s": statistics.median(wall[n]), "min_s": min(wall[n]),
                "cpu_median_s": statistics.median(cpu[n]), "times": wall[n], "cpu_times": cpu[n]}
            for n in names}


def whole_process(cmds: dict[str, list[str]], runs: int, warmup: int) -> dict[str, dict]:
    """Median wall time of each command, with hyperfine when it is installed."""
    for name, cmd in cmds.items():  # fail fast and clearly (hyperfine would abort the whole batch)
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)
        if p.returncode != 0:
            cmds = {k: v for k, v in cmds.items() if k != name}
            err = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
            out = whole_process(cmds, runs, warmup) if cmds else {}
            out[name] = {"error": err}
            return out
    hf = shutil.which("hyperfine")
    if not hf:
        return {name: _median_of(cmd, runs, warmup) for name, cmd in cmds.items()}
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "hf.json"
        argv = [hf, "-N", "--warmup", str(warmup), "--runs", str(runs), "--export-json", str(export),
                "--style", "none"]
        for name, cmd in cmds.items():
            argv += ["-n", name, shlex.join(cmd)]
        p = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=ENV)
        if p.returncode != 0:
            print(p.stderr, file=sys.stderr)
            return {name: _median_of(cmd, runs, warmup) for name, cmd in cmds.items()}
        data = json.loads(export.read_text())
    out = {}
    for r in data["results"]:
        out[r["command"]] = {"median_s": r["median"], "min_s": r["min"], "mean_s": r["mean"],
                             "stddev_s": r["stddev"], "times": r["times"], "tool": "hyperfine"}
    return out


def peak_rss_process(cmd: list[str], n: int = 3) -> float | None:
    """Peak RSS (MB) of a whole process: /usr/bin/time -f %M, else the child's ru_maxrss."""
    vals = []
    timer = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None
    for _ in range(n):
        if timer:
            with tempfile.NamedTemporaryFile("r") as f:
                p = subprocess.run([timer, "-f", "%M", "-o", f.name, *cmd], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, cwd=ROOT, env=ENV)
                if p.returncode != 0:
                    return None
                vals.append(int(f.read().strip().splitlines()[-1]) / 1024)
        else:
            code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL);"
                    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
            p = subprocess.run([PY, "-c", code, *cmd], capture_output=True, text=True, cwd=ROOT, env=ENV)
            vals.append(int(p.stdout.strip()) / 1024)
    return statistics.median(vals)


# ----------------------------------------------------------------------------------------------
# report

def _ms(s):
    return "—" if s is None else (f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s")


def _mb(m):
    return "—" if m is None else f"{m:.1f} MB"


def _ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def _get(d, k):
    return None if not d or "error" in d else d.get(k)


def build_table(results: dict) -> tuple[list[str], list[list[str]]]:
    head = ["file", "measure", "modellens", "peer", "peer value", "ours/theirs"]
    rows = []
    for key, r in results.items():
        label, peer = r["label"], r["peer"]
        o, t = r["in_process"]["modellens"], r["in_process"][peer]
        ow, tw = r["whole"].get("modellens"), r["whole"].get(peer)
        oi, ti = r.get("interleaved", {}).get("modellens"), r.get("interleaved", {}).get(peer)

        def err(d):
            return f"error: {d['error'][:60]}" if d and "error" in d else None

        lines = [
            ("in-process, median", _ms(_get(o, "median_s")), _ms(_get(t, "median_s")),
             _ratio(_get(o, "median_s"), _get(t, "median_s"))),
            ("in-process, first call", _ms(_get(o, "first_s")), _ms(_get(t, "first_s")),
             _ratio(_get(o, "first_s"), _get(t, "first_s"))),
            ("import time", _ms(_get(o, "import_s")), _ms(_get(t, "import_s")),
             _ratio(_get(o, "import_s"), _get(t, "import_s"))),
            ("in-process peak RSS over imports", _mb(_get(o, "rss_delta_mb")), _mb(_get(t, "rss_delta_mb")),
             _ratio(_get(o, "rss_delta_mb"), _get(t, "rss_delta_mb"))),
            ("whole process, median (hyperfine)", _ms(_get(ow, "median_s")), _ms(_get(tw, "median_s")),
             _ratio(_get(ow, "median_s"), _get(tw, "median_s"))),
            ("whole process, median, interleaved", _ms(_get(oi, "median_s")), _ms(_get(ti, "median_s")),
             _ratio(_get(oi, "median_s"), _get(ti, "median_s"))),
            ("whole process, CPU user+sys", _ms(_get(oi, "cpu_median_s")), _ms(_get(ti, "cpu_median_s")),
             _ratio(_get(oi, "cpu_median_s"), _get(ti, "cpu_median_s"))),
            ("whole process, peak RSS", _mb(r["rss"].get("modellens")), _mb(r["rss"].get(peer)),
             _ratio(r["rss"].get("modellens"), r["rss"].get(peer))),
        ]
        for i, (measure, ov, tv, ratio) in enumerate(lines):
            if i == 0 and (err(o) or err(t)):
                ov, tv = err(o) or ov, err(t) or tv
            if i == 4 and (err(ow) or err(tw)):
                ov, tv = err(ow) or ov, err(tw) or tv
            rows.append([label if i == 0 else "", measure, ov, peer if i == 0 else "", tv, ratio])
    return head, rows


def text_table(head, rows) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    out = [fmt.format(*head), "  ".join("-" * w for w in widths)]
    out += [fmt.format(*r) for r in rows]
    return "\n".join(out)


def md_table(head, rows) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def targets(results: dict) -> list[str]:
    lines = []
    st = results.get("st")
    if st:
        o = st["in_process"]["modellens"]
        med, rss = _get(o, "median_s"), _get(o, "rss_delta_mb")
        if med is not None:
            lines.append(f"- 8 GB folder in-process under 100 ms: {'PASS' if med < 0.1 else 'FAIL'} "
                         f"(median {_ms(med)}, first call {_ms(_get(o, 'first_s'))})")
        if rss is not None:
            lines.append(f"- 8 GB folder in-process peak RSS under 100 MB: {'PASS' if rss < 100 else 'FAIL'} "
                         f"({_mb(rss)} over the imports; {_mb(_get(o, 'peak_rss_mb'))} process peak)")
    for key, r in results.items():
        ow, tw = _get(r["whole"].get("modellens"), "median_s"), _get(r["whole"].get(r["peer"]), "median_s")
        inter = r.get("interleaved", {})
        oi, ti = _get(inter.get("modellens"), "median_s"), _get(inter.get(r["peer"]), "median_s")
        oc, tc = _get(inter.get("modellens"), "cpu_median_s"), _get(inter.get(r["peer"]), "cpu_median_s")
        if ow is not None and tw is not None:
            wins = [ow < tw] + ([oi < ti] if oi is not None else []) + ([oc < tc] if oc is not None else [])
            verdict = "PASS" if all(wins) else ("FAIL" if not any(wins) else "MIXED (within noise)")
            extra = (f"; interleaved {_ms(oi)} vs {_ms(ti)} ({oi / ti:.2f}), CPU {_ms(oc)} vs {_ms(tc)} "
                     f"({oc / tc:.2f})") if oi is not None and oc else ""
            lines.append(f"- whole process faster than {r['peer']} on {r['path']}: {verdict} "
                         f"(hyperfine {_ms(ow)} vs {_ms(tw)}, ratio {ow / tw:.2f}{extra})")
        else:
            lines.append(f"- whole process vs {r['peer']} on {r['path']}: not measured")
    return lines


def environment() -> dict:
    def ver(mod):
        try:
            return __import__(mod).__version__
        except Exception:  # noqa: BLE001
            return None

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=ROOT).stdout.strip()
    except OSError:
        commit = ""
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024**2:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "python": platform.python_version(),
            "modellens": ver("modellens"), "safetensors": ver("safetensors"), "torch": None,
            "gguf": _dist_version("gguf"), "numpy": ver("numpy"), "commit": commit,
            "hyperfine": bool(shutil.which("hyperfine"))}


def _dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001
        return None


def update_readme(table: str, tgt: list[str], report: str, now) -> None:
    """Put the latest full table into benchmarks/README.md, between its markers."""
    readme = Path(__file__).resolve().parent / "README.md"
    start, end = "<!-- latest-inspect -->", "<!-- /latest-inspect -->"
    try:
        text = readme.read_text()
    except OSError:
        return
    if start not in text or end not in text:
        return
    block = f"{start}\n{now:%Y-%m-%d} ([full report](results/{report})):\n\n{table}\n\n" + "\n".join(tgt) + f"\n{end}"
    head, rest = text.split(start, 1)
    readme.write_text(head + block + rest.split(end, 1)[1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="modellens inspect vs the reference readers (issue 2)")
    ap.add_argument("--rows", nargs="*", default=list(ROWS), help=f"any of {list(ROWS)}")
    ap.add_argument("--runs", type=int, default=7, help="in-process timed calls per tool (median)")
    ap.add_argument("--proc-runs", type=int, default=10, help="whole-process runs per tool (median)")
    ap.add_argument("--warmup", type=int, default=2, help="whole-process warm-up runs")
    ap.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/")
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="keep the environment's PYTHONDONTWRITEBYTECODE (recompile sources in every process)")
    args = ap.parse_args(argv)
    set_bytecode_cache(not args.no_bytecode_cache)

    env = environment()
    load_before = os.getloadavg()
    env["torch"] = _dist_version("torch")
    results: dict = {}
    for key in args.rows:
        label, rel, peer = ROWS[key]
        path = ROOT / rel
        if not path.exists():
            print(f"skip {rel}: missing (run benchmarks/generate.py)", file=sys.stderr)
            continue
        cmds = {"modellens": modellens_cmd(rel), peer: peer_cmd(peer, rel)}
        if not args.no_bytecode_cache:  # compile once into the cache: what a pip install does
            for cmd in cmds.values():
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=ENV)
        print(f"[{key}] {rel}: in-process …", file=sys.stderr, flush=True)
        ip = {"modellens": in_process("modellens", rel, args.runs), peer: in_process(peer, rel, args.runs)}
        print(f"[{key}] whole process …", file=sys.stderr, flush=True)
        runs, warmup = args.proc_runs, args.warmup
        slow = max((_get(v, "first_s") or 0) for v in ip.values())
        if slow > 2.0:  # a peer that takes seconds per call: fewer runs (the gap is not subtle)
            runs, warmup = min(runs, 3), min(warmup, 1)
        whole = whole_process(cmds, runs, warmup)
        if all("error" not in whole.get(n, {}) for n in cmds):
            print(f"[{key}] whole process, interleaved …", file=sys.stderr, flush=True)
            inter = interleaved(cmds, runs, warmup)
        else:
            inter = {}
        rss = {name: (peak_rss_process(cmd, 3 if slow <= 2.0 else 1) if "error" not in whole.get(name, {})
                      else None) for name, cmd in cmds.items()}
        results[key] = {"label": label, "path": rel, "peer": peer, "in_process": ip, "whole": whole,
                        "interleaved": inter, "rss": rss, "proc_runs": runs, "commands": {k: shlex.join(v) for k, v in cmds.items()}}

    head, rows = build_table(results)
    load_after = os.getloadavg()
    env["loadavg"] = {"before": load_before, "after": load_after}
    now = _dt.datetime.now()
    print()
    print(text_table(head, rows))
    print()
    tgt = targets(results)
    print("\n".join(tgt))
    md = [f"# modellens inspect vs reference readers — {now:%Y-%m-%d %H:%M}", "",
          f"Machine: {env['cpu']}, {env['cores']} cores, {env['memory']} RAM; Python {env['python']}; "
          f"modellens {env['modellens']} (git {env['commit']}), safetensors {env['safetensors']}, "
          f"torch {env['torch']}, gguf {env['gguf']}, numpy {env['numpy']}. Load average (1 min) "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after: on a shared machine wall times swing, "
          f"CPU user+sys and the interleaved medians are the steadier comparison.", "",
          f"In-process: fresh subprocess per tool, first call, then 1 warm-up and the median of "
          f"{args.runs} calls; RSS = peak RSS over the calls (VmHWM, reset after the imports) minus the RSS after the imports. "
          f"Whole process: {'hyperfine -N' if env['hyperfine'] else 'own timer'} --warmup {args.warmup} "
          f"--runs {args.proc_runs}, median, then the same runs again interleaved ours/theirs with our own timer "
          f"(wall and CPU user+sys from wait4, medians); peak RSS via /usr/bin/time -f %M (median of 3). "
          f"OS page cache warm; "
          + ("bytecode cached for all (PYTHONPYCACHEPREFIX=bench-data/.pycache, as after a pip install). "
             if not args.no_bytecode_cache else "PYTHONDONTWRITEBYTECODE as in the environment. ")
          + f"Ratio = ours/theirs (< 1: modellens faster/smaller).", "",
          md_table(head, rows), "", "Targets:", "", *tgt, "", "Commands (whole process):", ""]
    for key, r in results.items():
        for name, c in r["commands"].items():
            c1 = c.replace("\n", "\\n")
            md.append(f"- `{c1}`")
    md_text = "\n".join(md) + "\n"
    print()
    print(md_table(head, rows))
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"inspect-{now:%Y-%m-%d}.md"
        out.write_text(md_text)
        DATA.mkdir(exist_ok=True)
        (DATA / f"inspect-{now:%Y-%m-%dT%H%M%S}.json").write_text(
            json.dumps({"env": env, "results": results}, indent=2))
        print(f"\nwrote {out.relative_to(ROOT)}", file=sys.stderr)
        if set(results) == set(ROWS):
            update_readme(md_table(head, rows), tgt, out.name, now)
    return 0


if __name__ == "__main__":
    sys.exit(main())
