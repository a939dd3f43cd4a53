"""modellens estimate next to its peers, offline: hf-mem and ``accelerate estimate-memory``.

    pip install hf-mem accelerate     # both are optional; a missing peer is reported and skipped
    python benchmarks/bench_estimate_peers.py

Neither peer runs offline as a command (both fetch from the Hub), so their own functions are
called on the same real configs (tests/estimate_configs.py):

* hf-mem: weights = its per-dtype sum over safetensors headers, i.e. parameters × dtype bytes
  (reproduced here from the exact count, as the headers would give it), and its
  ``compute_safetensors_kv_cache_size`` for the KV cache;
* accelerate: ``calculate_maximum_sizes`` on the model built by transformers on the meta device
  (what ``accelerate estimate-memory`` does after downloading config.json), and its
  ``estimate_training_usage`` for "Training using Adam".

Where Qwen published a measurement for the setting, it is printed beside them (MiB).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_estimate_params import DEEPSEEK_V3, GEMMA3_1B, GPT_OSS_20B, QWEN3_4B, QWEN3_8B, QWEN3_30B_A3B  # noqa: E402

from modellens.estimate import estimate_inference, estimate_training, model_from_config  # noqa: E402

GiB, MiB = 2**30, 2**20
CASES = [  # (name, config, context tokens, measured MiB or None)
    ("Qwen3-4B", QWEN3_4B, 32768, 12317),
    ("Qwen3-8B", QWEN3_8B, 32768, 20267),
    ("Qwen3-30B-A3B", QWEN3_30B_A3B, 32768, 61342),
    ("gemma-3-1b", GEMMA3_1B, 32768, None),
    ("gpt-oss-20b (bf16)", GPT_OSS_20B, 32768, None),
    ("DeepSeek-V3 (bf16)", DEEPSEEK_V3, 32768, None),
]


def hf_mem(cfg: dict, params: int, tokens: int) -> tuple[float, float] | str:
    try:
        from hf_mem.safetensors.kv_cache import compute_safetensors_kv_cache_size
    except ImportError:
        return "hf-mem not installed"
    text = cfg.get("text_config", cfg)
    try:
        kv = compute_safetensors_kv_cache_size({**text, "torch_dtype": "bfloat16"}, "BF16", tokens, 1)
    except Exception as e:  # noqa: BLE001 - a peer's failure is a result
        return f"hf-mem failed: {type(e).__name__}"
    return params * 2 / GiB, kv / GiB


def accelerate_sizes(cfg: dict) -> tuple[float, float] | str:
    try:
        import torch
        import transformers
        from accelerate.commands.estimate import estimate_training_usage
        from accelerate.utils import calculate_maximum_sizes
    except ImportError:
        return "accelerate / transformers not installed"
    transformers.logging.set_verbosity_error()
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model(**cfg),
                                                              torch_dtype=torch.float32)
    total, _largest = calculate_maximum_sizes(model)  # fp32 bytes, as accelerate loads it
    train = estimate_training_usage(total, "bfloat16")
    return total / 2 / GiB, max(train.values()) / GiB  # its float16/bfloat16 row: fp32 size / 2


def main() -> None:
    head = f"{'model':22s} {'tokens':>7s} | {'modellens':>10s} {'(w / kv)':>16s} | {'hf-mem':>10s} {'(w / kv)':>16s} | {'accelerate':>10s} | {'measured':>9s}"
    print("inference, BF16, batch 1, transformers (GiB)")
    print(head)
    for name, cfg, tokens, measured in CASES:
        m = model_from_config(cfg, name)
        e = estimate_inference(m, context=tokens)
        ours = e.allocated_bytes / GiB
        hm = hf_mem(cfg, m.parameters, tokens)
        hm_s = f"{hm[0] + hm[1]:10.2f} {hm[0]:7.2f} / {hm[1]:6.2f}" if isinstance(hm, tuple) else f"{hm:>27s}"
        acc = accelerate_sizes(cfg) if m.parameters < 100e9 else "skipped (slow)"
        acc_s = f"{acc[0]:10.2f}" if isinstance(acc, tuple) else f"{acc:>10s}"
        meas = f"{measured * MiB / GiB:9.2f}" if measured else f"{'-':>9s}"
        print(f"{name:22s} {tokens:7d} | {ours:10.2f} {e.breakdown['weights'] / GiB:7.2f} / {e.breakdown['kv_cache'] / GiB:6.2f} "
              f"| {hm_s} | {acc_s} | {meas}")
    print("\nfull fine-tuning, AdamW, BF16 mixed precision (GiB): modellens (states + activations at 2048 × 1) vs accelerate")
    for name, cfg, _, _ in CASES[:3]:
        m = model_from_config(cfg, name)
        e = estimate_training(m, mode="full", context=2048, batch=1)
        states = (e.breakdown["weights"] + e.breakdown["gradients"] + e.breakdown["optimizer"]) / GiB
        acc = accelerate_sizes(cfg)
        acc_s = f"{acc[1]:.2f}" if isinstance(acc, tuple) else acc
        print(f"  {name:18s} modellens {e.total_bytes / GiB:8.2f} (states {states:.2f} = 16 B/param) | accelerate {acc_s}")


if __name__ == "__main__":
    main()
