"""modellens scan side by side with picklescan, modelscan and fickling.

    python benchmarks/bench_scan.py [--peers-bin DIR] [--modellens-bin DIR] [--big-gb 8]
                                    [--skip-big] [--repeat 7] [--workdir DIR]

Builds the project's corpora (``tests/scan_corpus``: malicious samples, each verified to fire
by the test-suite, and honest checkpoints) and runs every tool's CLI once per file — the way CI
uses them.  Then two 8 GB torch ``.bin`` files, every tool ``--repeat`` times each (median):

* ``llama``: the project's benchmark checkpoint (``benchmarks/generate.py bin``: a Llama-layout
  state dict of 993 bf16 tensors, 8.0 GB, the pickle a real checkpoint of that size has);
  generated into bench-data/ when missing;
* ``huge``: ``--big-gb`` GB in 1 GiB float32 tensors (a real ``torch.save`` zip whose storages
  are mapped from sparse files): a pickle of a few hundred bytes, so every tool's time is its
  interpreter and command-line start-up.

It prints detection rate on malicious files (flagged unsafe), false positives on benign files,
errors (the tool could not analyse the file), total seconds, seconds on each big file and the
ratios modellens / peer.

Peers (install them in their own venv: ``pip install picklescan modelscan fickling``) are found
in ``--peers-bin`` or on PATH; a missing peer is reported as such.  Exit codes used:
picklescan 1 = infected, 2 = error; modelscan 1 = issues, 2+ = error / nothing scanned;
fickling 1 = unsafe (a traceback = error), 2 = error; modellens verdicts from ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


# every tool runs as installed: bytecode cached (pip compiles peers at install time; the
# benchmark compiles modellens once, see main), PYTHONDONTWRITEBYTECODE removed
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(cmd: list[str], cwd: str, timeout: float = 600) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                           stdin=subprocess.DEVNULL, env=ENV)
        out = p.stdout + p.stderr
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc, out = -9, "timeout"
    return rc, out, time.perf_counter() - t0


def modellens(exe: str | None):
    cmd = [exe] if exe else [sys.executable, "-m", "modellens"]

    def run(path: Path, cwd: str) -> tuple[str, float]:
        rc, out, dt = _run([*cmd, "scan", str(path), "--json"], cwd)
        try:
            v = json.loads(out[out.find("{"):])["verdict"]
        except (ValueError, KeyError):
            return "error", dt
        return ("flagged" if v in ("suspicious", "dangerous") else "error" if v == "error" else "clean"), dt
    return run


def picklescan(exe: str):
    def run(path: Path, cwd: str) -> tuple[str, float]:
        rc, out, dt = _run([exe, "-p", str(path)], cwd)
        return ({0: "clean", 1: "flagged"}.get(rc, "error")), dt
    return run


def modelscan(exe: str):
    def run(path: Path, cwd: str) -> tuple[str, float]:
        rc, out, dt = _run([exe, "-p", str(path)], cwd)
        return ({0: "clean", 1: "flagged"}.get(rc, "error")), dt
    return run


def fickling(exe: str):
    def run(path: Path, cwd: str) -> tuple[str, float]:
        rc, out, dt = _run([exe, "--check-safety", "-p", str(path)], cwd)
        if "Traceback" in out:
            return "error", dt
        return ({0: "clean", 1: "flagged"}.get(rc, "error")), dt
    return run


def make_big(path: Path, gb: float) -> None:
    """A real torch.save zip of ``gb`` GB: 1 GiB float32 tensors whose storages are mapped from
    sparse files, so building it costs disk writes only."""
    import torch

    total = int(gb * (1 << 30)) // 4
    per = 1 << 28  # elements per tensor: 1 GiB
    sd = {}
    backings = []
    for i, start in enumerate(range(0, total, per)):
        n = min(per, total - start)
        b = path.with_name(f".backing{i}")
        with open(b, "wb") as f:
            f.truncate(n * 4)
        backings.append(b)
        sd[f"model.layers.{i}.mlp.weight"] = torch.from_file(str(b), shared=False, size=n,
                                                              dtype=torch.float32)
    sd["lm_head.weight"] = torch.zeros(4, 4)
    torch.save(sd, path)
    for b in backings:
        b.unlink()


_LIBRARY = {  # in-process: import first (untimed), then time the scan call itself
    "modellens": "from modellens.security import scan_path as f\nrun = lambda p: f(p).verdict",
    "picklescan": "from picklescan.scanner import scan_file_path as f\nrun = lambda p: f(p).issues_count",
    "modelscan": "from modelscan.modelscan import ModelScan\nrun = lambda p: len(ModelScan().scan(p)['issues'])",
    "fickling": "import fickling\nrun = lambda p: fickling.is_likely_safe(p)",
}


def library_seconds(python: str, tool: str, path: Path) -> str:
    code = (_LIBRARY[tool] + "\nimport sys, time\nt = time.perf_counter()\n"
            "try:\n  run(sys.argv[1]); ok = ''\nexcept Exception as e:\n  ok = ' (error)'\n"
            "print(f'{time.perf_counter() - t:.3f}{ok}')")
    rc, out, _ = _run([python, "-c", code, str(path)], tempfile.gettempdir())
    return out.strip().splitlines()[-1] if rc == 0 and out.strip() else "n/a"


def files_of(folder: Path) -> list[Path]:
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and "markers" not in p.parts:
            out.append(p)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers-bin", default=os.environ.get("MODELLENS_PEERS_BIN", ""))
    ap.add_argument("--big-gb", type=float, default=8.0)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--workdir", default="")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7, help="runs of each CLI on the big file (median)")
    ap.add_argument("--modellens-bin", default="",
                    help="folder with a `modellens` console script (a clean venv, like the peers'); "
                         "default: this interpreter's -m modellens")
    a = ap.parse_args()
    from tests.scan_corpus import benign, malicious

    import modellens as package

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(package.__file__).parent)],
                   env=ENV, check=False)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench-scan-"))
    for sub in ("malicious", "benign"):
        shutil.rmtree(work / sub, ignore_errors=True)
    cases = malicious.build(work / "malicious")
    benign.build(work / "benign")
    mal = [c.path for c in cases]
    ben = files_of(work / "benign")

    def find(name: str) -> str | None:
        if a.peers_bin and (Path(a.peers_bin) / name).exists():
            return str(Path(a.peers_bin) / name)
        return shutil.which(name)

    ml_exe = str(Path(a.modellens_bin) / "modellens") if a.modellens_bin else None
    tools = {"modellens": modellens(ml_exe)}
    for name, factory in (("picklescan", picklescan), ("modelscan", modelscan), ("fickling", fickling)):
        exe = find(name)
        if exe:
            tools[name] = factory(exe)
        else:
            print(f"{name}: not found (pip install {name} in --peers-bin's venv)", file=sys.stderr)
    bigs: dict[str, Path] = {}
    if not a.skip_big:
        import generate  # benchmarks/generate.py: the project's 8 GB checkpoint

        if not generate.bin_complete():
            generate.generate_bin()
        bigs["llama"] = generate.BIN_DIR / "pytorch_model.bin"
        huge = work / "big" / "pytorch_model.bin"
        huge.parent.mkdir(exist_ok=True)
        if not huge.exists():
            t0 = time.perf_counter()
            make_big(huge, a.big_gb)
            print(f"generated {huge} ({huge.stat().st_size / 1e9:.1f} GB) in "
                  f"{time.perf_counter() - t0:.0f}s", file=sys.stderr)
        bigs["huge"] = huge

    rows = []
    big_median: dict[tuple[str, str], float] = {}
    misses: dict[str, list[str]] = {}
    for name, fn in tools.items():
        cwd = tempfile.mkdtemp(prefix=f"{name}-cwd-")
        t0 = time.perf_counter()
        with ThreadPoolExecutor(a.jobs) as ex:
            mres = list(ex.map(lambda p: fn(p, cwd), mal))
            bres = list(ex.map(lambda p: fn(p, cwd), ben))
        total = time.perf_counter() - t0
        detected = sum(r == "flagged" for r, _ in mres)
        m_err = sum(r == "error" for r, _ in mres)
        fp = sum(r == "flagged" for r, _ in bres)
        b_err = sum(r == "error" for r, _ in bres)
        misses[name] = [p.name for p, (r, _) in zip(mal, mres) if r == "clean"]
        big_cells = []
        for case, big in bigs.items():
            runs = [fn(big, cwd) for _ in range(max(1, a.repeat))]
            big_median[(case, name)] = statistics.median(dt for _, dt in runs)
            if name == "modellens":
                py = str(Path(ml_exe).parent / "python") if ml_exe else sys.executable
            else:
                py = str(Path(find(name)).parent / "python")
            big_cells += [f"{big_median[(case, name)]:.3f}", library_seconds(py, name, big), runs[0][0]]
        rows.append((name, f"{detected}/{len(mal)}", f"{100 * detected / len(mal):.0f}%",
                     f"{100 * (detected + m_err) / len(mal):.0f}%", f"{fp}/{len(ben)}",
                     f"{b_err}", f"{m_err}", f"{total:.1f}", *big_cells))
        shutil.rmtree(cwd, ignore_errors=True)
    head = ("tool", "detected", "det%", "det+err%", "false pos", "errors(benign)",
            "errors(malicious)", "corpus s",
            *[c for case in bigs for c in (f"{case} CLI s (median of {a.repeat})", f"{case} in-process s",
                                           f"{case} result")])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(x).ljust(w) for x, w in zip(r, widths)))
    print(f"\nmalicious files: {len(mal)}, benign files: {len(ben)}; each tool run once per file "
          f"({a.jobs} in parallel).  'error' = the tool could not analyse the file.")
    for case in bigs:
        ours = big_median.get((case, "modellens"))
        for (c, name), theirs in big_median.items():
            if c == case and name != "modellens" and ours and theirs:
                print(f"{case} 8 GB file, whole process: modellens / {name} = {ours / theirs:.2f}")
    for name, miss in misses.items():
        if miss:
            print(f"{name} missed ({len(miss)}): {', '.join(miss)}")


if __name__ == "__main__":
    main()
