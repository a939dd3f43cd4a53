"""GGUF quantization speed and memory: modellens vs llama.cpp's quantizer vs gguf.quants.

    python benchmarks/bench_gguf_quant.py [--gb 2.0] [--threads N] [--keep DIR]

Generates a Llama-shaped Hugging Face folder of random BF16 weights (~``--gb`` GB), then, each
in a fresh process (peak RSS: the child's own ``VmHWM``):

* modellens ``export_gguf(..., quant=q8_0 | q4_k_m)`` straight from the HF folder;
* llama.cpp: ``llama_model_quantize`` (what ``llama-quantize`` runs; from llama-cpp-python)
  from an F16 GGUF to Q8_0 / Q4_K_M, same thread count — the F16 GGUF it needs is written
  first and not timed;
* gguf.quants: ``quantize(tensor, Q8_0)`` tensor by tensor (it has no K-quant quantizer).

MB/s is source (BF16) megabytes per second.  Prints a table and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HIDDEN, FF, HEADS, KV = 2048, 5632, 16, 4
VOCAB = 32000


def make_model(folder: Path, gb: float) -> int:
    import ml_dtypes
    import numpy as np
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    per_layer = 2 * (HIDDEN * HIDDEN * 2 + HIDDEN * (HIDDEN // HEADS * KV) * 2 + 3 * HIDDEN * FF)
    fixed = 2 * 2 * VOCAB * HIDDEN
    layers = max(1, int((gb * 1e9 - fixed) / per_layer))
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    kvd = HIDDEN // HEADS * KV

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(ml_dtypes.bfloat16)

    shard: dict[str, np.ndarray] = {"model.embed_tokens.weight": w(VOCAB, HIDDEN),
                                    "lm_head.weight": w(VOCAB, HIDDEN),
                                    "model.norm.weight": w(HIDDEN)}
    index, n = {}, 0
    for i in range(layers):
        p = f"model.layers.{i}."
        shard.update({p + "self_attn.q_proj.weight": w(HIDDEN, HIDDEN),
                      p + "self_attn.k_proj.weight": w(kvd, HIDDEN),
                      p + "self_attn.v_proj.weight": w(kvd, HIDDEN),
                      p + "self_attn.o_proj.weight": w(HIDDEN, HIDDEN),
                      p + "mlp.gate_proj.weight": w(FF, HIDDEN),
                      p + "mlp.up_proj.weight": w(FF, HIDDEN),
                      p + "mlp.down_proj.weight": w(HIDDEN, FF),
                      p + "input_layernorm.weight": w(HIDDEN),
                      p + "post_attention_layernorm.weight": w(HIDDEN)})
        if i % 4 == 3 or i == layers - 1:
            name = f"model-{n:05d}.safetensors"
            save_file(shard, str(folder / name))
            index.update({k: name for k in shard})
            shard, n = {}, n + 1
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": index}))
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": FF, "num_hidden_layers": layers, "num_attention_heads": HEADS,
        "num_key_value_heads": KV, "vocab_size": VOCAB, "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "torch_dtype": "bfloat16",
        "bos_token_id": 0, "eos_token_id": 1}))
    tok = Tokenizer(models.BPE(vocab={chr(0x100 + i): i for i in range(256)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.save(str(folder / "tokenizer.json"))
    return sum(f.stat().st_size for f in folder.glob("*.safetensors"))


def _child(code: str) -> tuple[float, float]:
    """Run ``code`` in a fresh interpreter; (seconds, its own peak RSS in MB)."""
    # VmHWM: this process's own peak (ru_maxrss would include the parent's, kept across exec)
    code += ("\nprint('MAXRSS', next(l.split()[1] for l in open('/proc/self/status') "
             "if l.startswith('VmHWM')))\n")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True)
    secs = time.perf_counter() - t0
    peak = next(int(line.split()[1]) for line in proc.stdout.splitlines()
                if line.startswith("MAXRSS"))
    return secs, peak / 1024


def run_modellens(src: Path, out: Path, quant: str, threads: int) -> tuple[float, float]:
    return _child(f"from modellens.convert.gguf import export_gguf; "
                  f"export_gguf({str(src)!r}, {str(out)!r}, quant={quant!r}, force=True, "
                  f"threads={threads})")


def run_llama_cpp(f16: Path, out: Path, quant: str, threads: int) -> tuple[float, float]:
    ftype = {"q8_0": 7, "q4_k_m": 15}[quant]
    return _child(
        "import llama_cpp\n"
        "p = llama_cpp.llama_model_quantize_default_params()\n"
        f"p.ftype = {ftype}; p.nthread = {threads}\n"
        f"rc = llama_cpp.llama_model_quantize({str(f16)!r}.encode(), {str(out)!r}.encode(), p)\n"
        "assert rc == 0, rc\n")


def _quant_loop(src: Path, call: str) -> tuple[float, float]:
    """Quantize every matrix of the model, reading it like the exporter, writing nothing."""
    return _child(
        "import numpy as np\n"
        "from modellens.convert.source import open_source\n"
        f"src = open_source({str(src)!r})\n"
        "for t in src.tensors:\n"
        "    a = t.read()\n"
        f"    if a.ndim == 2: {call}\n"
        "    t.release()\n")


def run_gguf_py(src: Path) -> tuple[float, float]:
    return _quant_loop(src, "__import__('gguf.quants').quants.quantize(a.astype(np.float32), "
                            "__import__('gguf').GGMLQuantizationType.Q8_0)")


def run_modellens_quants(src: Path, qtype: str, threads: int) -> tuple[float, float]:
    return _quant_loop(src, "__import__('modellens.convert.gguf.quants').convert.gguf.quants"
                            f".quantize(a.astype(np.float32), {qtype!r}, threads={threads})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=2.0, help="model size in GB (BF16)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--keep", type=Path, default=None, help="reuse / keep the model here")
    ap.add_argument("--skip-gguf-py", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_gguf_"))
    src = args.keep or tmp / "model"
    if not (src / "config.json").exists():
        make_model(src, args.gb)
    size = sum(f.stat().st_size for f in src.glob("*.safetensors"))
    mb = size / 1e6
    print(f"model: {mb:.0f} MB BF16, {args.threads} threads")
    rows = []

    def done(tool: str, quant: str, s: float, rss: float) -> None:
        rows.append((tool, quant, s, rss))
        print(f"  {tool} {quant}: {s:.1f} s, {mb / s:.1f} MB/s, peak RSS {rss:.0f} MB",
              flush=True)
    try:
        import llama_cpp  # noqa: F401
        have_llama = True
    except ImportError:
        have_llama = False
    f16 = tmp / "f16.gguf"
    if have_llama:
        run_modellens(src, f16, "f16", args.threads)
    for quant in ("q8_0", "q4_k_m"):
        s, rss = run_modellens(src, tmp / f"ml-{quant}.gguf", quant, args.threads)
        done("modellens", quant, s, rss)
        if have_llama:
            s, rss = run_llama_cpp(f16, tmp / f"lc-{quant}.gguf", quant, args.threads)
            done("llama.cpp", quant, s, rss)
    s, rss = run_modellens_quants(src, "Q8_0", args.threads)
    done("ml.quants", "Q8_0", s, rss)
    s, rss = run_modellens_quants(src, "Q8_0", 1)
    done("ml.quants/1t", "Q8_0", s, rss)
    if not args.skip_gguf_py:
        s, rss = run_gguf_py(src)
        done("gguf.quants", "Q8_0", s, rss)
        print(f"Q8_0 quantizer only: gguf.quants / modellens time = "
              f"{s / rows[-3][2]:.2f}x ({args.threads} threads), {s / rows[-2][2]:.2f}x (1 thread)")
    print(f"{'tool':<12} {'quant':<7} {'seconds':>8} {'MB/s':>8} {'peak RSS MB':>12}")
    for tool, quant, s, rss in rows:
        print(f"{tool:<12} {quant:<7} {s:8.1f} {mb / s:8.1f} {rss:12.0f}")
    times = {(t, q): s for t, q, s, _ in rows}
    for quant in ("q8_0", "q4_k_m"):
        ml = times.get(("modellens", quant))
        if ("llama.cpp", quant) in times:
            print(f"{quant}: modellens / llama.cpp time = {ml / times[('llama.cpp', quant)]:.2f}x")


if __name__ == "__main__":
    main()
