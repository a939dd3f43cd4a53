#!/usr/bin/env python
"""Generate the (never committed) benchmark data of issue 2 into ``bench-data/``.

    python benchmarks/generate.py            # all three; skips what is already there and complete
    python benchmarks/generate.py st bin     # only some of them
    python benchmarks/generate.py --force gguf

Writes (about 20 GB in all, streamed: peak RAM ~8.5 GB, for the .bin):

* ``bench-data/llama8b-st/``: a Llama-like Hugging Face folder, bf16, ~8.0 GB and 993 tensors, in
  2 GB shards ``model-0000i-of-0000n.safetensors`` with ``model.safetensors.index.json`` in the
  exact form transformers writes (``json.dumps(index, indent=2, sort_keys=True) + "\\n"``,
  ``metadata.total_size`` / ``metadata.total_parameters``, ``weight_map``), plus ``config.json``
  and ``generation_config.json``. Llama-3-8B itself is only 291 tensors, so to reach ~1,000 tensors
  at ~8 GB the config has more, thinner layers: 110 layers x 9 tensors + 3, hidden 2048,
  intermediate 3456, 16 heads / 4 kv heads (head_dim 128), Llama-3 vocab 128256, untied lm_head:
  4,015,996,928 parameters = 8.03 GB in bf16.
* ``bench-data/llama8b-bin/pytorch_model.bin``: the same tensors (same names, shapes, bytes) through
  ``torch.save(state_dict)`` (one ~8 GB zip), plus the same ``config.json``.
* ``bench-data/model-q8.gguf``: a Llama-3.2-3B-shaped GGUF (28 layers, hidden 3072, 24/8 heads,
  ffn 8192, tied embeddings) in Q8_0 with F32 norms and rope_freqs: 255 tensors, ~3.4 GB, with
  llama.* metadata and a 128,256-token ``gpt2`` vocabulary (tokens, token_type, 280,147 merges).

Weights are a cheap constant per tensor (``torch.empty(...).fill_(c)``), not random: inspect never
reads them, and writing 20 GB of random numbers would take far longer than the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
ST_DIR = DATA / "llama8b-st"
BIN_DIR = DATA / "llama8b-bin"
GGUF_PATH = DATA / "model-q8.gguf"

# ----------------------------------------------------------------------------------------------
# The safetensors / .bin model: Llama architecture, more and thinner layers than Llama-3-8B.
CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 3456,
    "max_position_embeddings": 8192,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 16,
    "num_hidden_layers": 110,
    "num_key_value_heads": 4,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.57.0",
    "use_cache": True,
    "vocab_size": 128256,
}
MAX_SHARD_SIZE = 2 * 1000**3  # "2GB" as transformers parses it (decimal)


def tensor_specs(cfg: dict = CONFIG) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every tensor, in the order LlamaForCausalLM.state_dict() gives them."""
    h, i, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    specs: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (v, h))]
    for n in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{n}."
        specs += [
            (p + "self_attn.q_proj.weight", (q, h)),
            (p + "self_attn.k_proj.weight", (kv, h)),
            (p + "self_attn.v_proj.weight", (kv, h)),
            (p + "self_attn.o_proj.weight", (h, q)),
            (p + "mlp.gate_proj.weight", (i, h)),
            (p + "mlp.up_proj.weight", (i, h)),
            (p + "mlp.down_proj.weight", (h, i)),
            (p + "input_layernorm.weight", (h,)),
            (p + "post_attention_layernorm.weight", (h,)),
        ]
    specs += [("model.norm.weight", (h,)), ("lm_head.weight", (v, h))]
    return specs


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def make_tensor(index: int, name: str, shape: tuple[int, ...]):
    """The deterministic bf16 tensor number ``index``: the same for the .safetensors and the .bin."""
    import torch

    t = torch.empty(shape, dtype=torch.bfloat16)
    t.fill_(1.0 if name.endswith("norm.weight") else ((index % 97) - 48) / 1024.0)
    return t


def shard_plan(specs, max_shard_size: int = MAX_SHARD_SIZE) -> list[list[tuple[str, tuple[int, ...]]]]:
    """huggingface_hub's split_state_dict_into_shards_factory: greedy, in state_dict order."""
    shards: list[list] = []
    cur: list = []
    cur_size = 0
    for name, shape in specs:
        size = _numel(shape) * 2
        if size > max_shard_size:  # its own shard
            shards.append([(name, shape)])
            continue
        if cur_size + size > max_shard_size:
            shards.append(cur)
            cur, cur_size = [], 0
        cur.append((name, shape))
        cur_size += size
    if cur:
        shards.append(cur)
    return shards


def _expected_st_size(specs) -> int:
    return sum(_numel(s) * 2 for _, s in specs)


def _write_config(folder: Path) -> None:
    (folder / "config.json").write_text(json.dumps(CONFIG, indent=2, sort_keys=True) + "\n")
    gen = {"_from_model_config": True, "bos_token_id": 128000, "eos_token_id": 128001,
           "transformers_version": CONFIG["transformers_version"]}
    (folder / "generation_config.json").write_text(json.dumps(gen, indent=2, sort_keys=True) + "\n")


def st_complete() -> bool:
    idx = ST_DIR / "model.safetensors.index.json"
    if not idx.is_file():
        return False
    index = json.loads(idx.read_text())
    files = sorted(set(index["weight_map"].values()))
    data = sum((ST_DIR / f).stat().st_size for f in files if (ST_DIR / f).is_file())
    return all((ST_DIR / f).is_file() for f in files) and data >= index["metadata"]["total_size"]


def generate_st() -> None:
    from safetensors.torch import save_file

    specs = tensor_specs()
    order = {name: i for i, (name, _) in enumerate(specs)}
    plan = shard_plan(specs)
    n = len(plan)
    ST_DIR.mkdir(parents=True, exist_ok=True)
    _write_config(ST_DIR)
    weight_map: dict[str, str] = {}
    for k, shard in enumerate(plan, 1):
        fname = f"model-{k:05d}-of-{n:05d}.safetensors"
        t0 = time.perf_counter()
        tensors = {name: make_tensor(order[name], name, shape) for name, shape in shard}
        save_file(tensors, str(ST_DIR / (fname + ".tmp")), metadata={"format": "pt"})
        del tensors
        os.replace(ST_DIR / (fname + ".tmp"), ST_DIR / fname)
        for name, _ in shard:
            weight_map[name] = fname
        print(f"  {fname}: {len(shard)} tensors, {time.perf_counter() - t0:.1f} s", flush=True)
    index = {
        "metadata": {"total_parameters": sum(_numel(s) for _, s in specs),
                     "total_size": _expected_st_size(specs)},
        "weight_map": weight_map,
    }
    # the index last: its presence marks the folder complete
    (ST_DIR / "model.safetensors.index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def bin_complete() -> bool:
    p = BIN_DIR / "pytorch_model.bin"
    return p.is_file() and p.stat().st_size >= _expected_st_size(tensor_specs())


def generate_bin() -> None:
    import torch

    specs = tensor_specs()
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    _write_config(BIN_DIR)
    # The whole state dict must be in memory for torch.save: 8 GB of bf16, built once, no copy.
    sd = {name: make_tensor(i, name, shape) for i, (name, shape) in enumerate(specs)}
    tmp = BIN_DIR / "pytorch_model.bin.tmp"
    t0 = time.perf_counter()
    torch.save(sd, str(tmp))
    del sd
    os.replace(tmp, BIN_DIR / "pytorch_model.bin")
    print(f"  pytorch_model.bin: {len(specs)} tensors, {time.perf_counter() - t0:.1f} s", flush=True)


# ----------------------------------------------------------------------------------------------
# The GGUF: Llama-3.2-3B shaped, Q8_0, as llama.cpp's convert_hf_to_gguf.py + llama-quantize write it.
GG = dict(n_layer=28, n_embd=3072, n_ff=8192, n_head=24, n_head_kv=8, n_vocab=128256, ctx=131072)
N_MERGES = 280147  # Llama 3's merges.txt


def gguf_specs() -> list[tuple[str, tuple[int, ...], str]]:
    """(name, numpy-order shape, 'Q8_0' | 'F32') in the order llama.cpp writes them."""
    e, f, v = GG["n_embd"], GG["n_ff"], GG["n_vocab"]
    hd = e // GG["n_head"]
    kv = GG["n_head_kv"] * hd
    specs = [("rope_freqs.weight", (hd // 2,), "F32"), ("token_embd.weight", (v, e), "Q8_0")]
    for n in range(GG["n_layer"]):
        p = f"blk.{n}."
        specs += [
            (p + "attn_k.weight", (kv, e), "Q8_0"),
            (p + "attn_norm.weight", (e,), "F32"),
            (p + "attn_output.weight", (e, e), "Q8_0"),
            (p + "attn_q.weight", (e, e), "Q8_0"),
            (p + "attn_v.weight", (kv, e), "Q8_0"),
            (p + "ffn_down.weight", (e, f), "Q8_0"),
            (p + "ffn_gate.weight", (f, e), "Q8_0"),
            (p + "ffn_norm.weight", (e,), "F32"),
            (p + "ffn_up.weight", (f, e), "Q8_0"),
        ]
    specs.append(("output_norm.weight", (e,), "F32"))
    return specs


def _gguf_nbytes(shape, kind) -> int:
    if kind == "F32":
        return _numel(shape) * 4
    return _numel(shape) // 32 * 34


def gguf_complete() -> bool:
    if not GGUF_PATH.is_file():
        return False
    return GGUF_PATH.stat().st_size >= sum(_gguf_nbytes(s, k) for _, s, k in gguf_specs())


def _vocab() -> tuple[list[str], list[int], list[str]]:
    """A realistic 128,256-entry byte-level BPE vocabulary: 256 byte tokens, merged words, specials."""
    import numpy as np

    rng = np.random.default_rng(0)
    # GPT-2 byte-to-unicode alphabet, as in tokenizer.json
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    k = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + k)
            k += 1
    alphabet = [chr(c) for c in cs]
    n_special = 256
    n_regular = GG["n_vocab"] - n_special
    tokens: list[str] = list(alphabet)
    seen = set(tokens)
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4,
                        2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07])
    weights /= weights.sum()
    while len(tokens) < n_regular:
        m = 4096
        lens = rng.integers(2, 11, size=m).tolist()
        chars = rng.choice(len(letters), size=(m, 10), p=weights).tolist()
        space = (rng.random(m) < 0.6).tolist()
        cap = (rng.random(m) < 0.15).tolist()
        for j in range(m):
            w = "".join([letters[c] for c in chars[j][: lens[j]]])
            if cap[j]:
                w = w.capitalize()
            if space[j]:
                w = "Ġ" + w
            if w not in seen:
                seen.add(w)
                tokens.append(w)
                if len(tokens) == n_regular:
                    break
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
                "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
    specials += [f"<|reserved_special_token_{i}|>" for i in range(3, 3 + n_special - len(specials))]
    tokens += specials
    types = [1] * n_regular + [3] * n_special  # NORMAL, CONTROL
    merges: list[str] = []
    for t in tokens[256:n_regular]:
        body = t
        cut = max(1, len(body) // 2)
        merges.append(f"{body[:cut]} {body[cut:]}")
    words = tokens[256:n_regular]
    extra = N_MERGES - len(merges)  # Llama 3 has more merges than multi-char tokens here
    if extra > 0:
        pairs = rng.integers(0, len(words), size=(extra, 2))
        merges += [f"{words[a]} {words[b]}" for a, b in pairs.tolist()]
    return tokens, types, merges[:N_MERGES]


def generate_gguf() -> None:
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFWriter

    t0 = time.perf_counter()
    e = GG["n_embd"]
    w = GGUFWriter(str(GGUF_PATH) + ".tmp", arch="llama")
    w.add_type("model")
    w.add_name("Llama 3.2 3B Instruct (benchmark)")
    w.add_basename("Llama-3.2")
    w.add_finetune("Instruct")
    w.add_size_label("3B")
    w.add_license("llama3.2")
    w.add_block_count(GG["n_layer"])
    w.add_context_length(GG["ctx"])
    w.add_embedding_length(e)
    w.add_feed_forward_length(GG["n_ff"])
    w.add_head_count(GG["n_head"])
    w.add_head_count_kv(GG["n_head_kv"])
    w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_key_length(e // GG["n_head"])
    w.add_value_length(e // GG["n_head"])
    w.add_file_type(7)  # MOSTLY_Q8_0
    w.add_vocab_size(GG["n_vocab"])
    w.add_rope_dimension_count(e // GG["n_head"])
    tokens, types, merges = _vocab()
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(128000)
    w.add_eos_token_id(128009)
    w.add_pad_token_id(128004)
    w.add_chat_template(
        "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + "
        "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
    )
    w.add_quantization_version(2)
    specs = gguf_specs()
    for name, shape, kind in specs:
        if kind == "F32":
            w.add_tensor_info(name, shape, np.dtype(np.float32), _gguf_nbytes(shape, kind))
        else:
            byte_shape = (*shape[:-1], shape[-1] // 32 * 34)
            w.add_tensor_info(name, byte_shape, np.dtype(np.uint8), _gguf_nbytes(shape, kind),
                              raw_dtype=GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    # one Q8_0 block: f16 scale 1/127 then 32 int8 values; tiled to each tensor's size
    block = np.concatenate([np.array([1 / 127], dtype=np.float16).view(np.uint8),
                            (np.arange(32, dtype=np.int8) * 4 - 64).view(np.uint8)])
    for i, (name, shape, kind) in enumerate(specs):
        if kind == "F32":
            w.write_tensor_data(np.ones(shape, dtype=np.float32))
        else:
            rows = _numel(shape[:-1])
            row = np.tile(block, shape[-1] // 32)
            w.write_tensor_data(np.broadcast_to(row, (rows, row.size)).copy())
    w.close()
    os.replace(str(GGUF_PATH) + ".tmp", GGUF_PATH)
    print(f"  model-q8.gguf: {len(specs)} tensors, {GGUF_PATH.stat().st_size / 1e9:.2f} GB, "
          f"{time.perf_counter() - t0:.1f} s", flush=True)


TARGETS = {
    "st": (st_complete, generate_st, ST_DIR),
    "bin": (bin_complete, generate_bin, BIN_DIR / "pytorch_model.bin"),
    "gguf": (gguf_complete, generate_gguf, GGUF_PATH),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("which", nargs="*", help="any of: st bin gguf (default: all)")
    ap.add_argument("--force", action="store_true", help="regenerate even if present")
    args = ap.parse_args(argv)
    bad = [w for w in args.which if w not in TARGETS]
    if bad:
        ap.error(f"unknown target(s) {bad}; choose from {list(TARGETS)}")
    DATA.mkdir(exist_ok=True)
    # Two concurrent runs would write the same temporary files: serialize them.
    import fcntl

    lock = open(DATA / ".generate.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    for key in args.which or list(TARGETS):
        complete, generate, path = TARGETS[key]
        if complete() and not args.force:
            print(f"{path.relative_to(ROOT)}: present, skipped")
            continue
        print(f"{path.relative_to(ROOT)}: generating …", flush=True)
        generate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
