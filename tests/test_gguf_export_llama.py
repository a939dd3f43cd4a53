"""llama.cpp loads every exported file, tokenizes like transformers, and computes the same
logits (opt-in: needs llama-cpp-python, the stage ``.ci/run`` installs from a cached wheel).

Bounds, as the relative RMS error of the logits over a 13-token prompt (``rel`` =
rms(llama.cpp - transformers) / rms(transformers)), measured on these tiny random models:

    F32   < 1e-3    (float32 kernels, different summation order)
    F16   < 1e-2    (weights rounded to float16; llama.cpp's CPU matmul also rounds activations)
    Q8_0  < 5e-2
    Q4_K_M < 0.35   (4-6 bit weights in a 4-layer random model with no redundancy to absorb it)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

llama_cpp = pytest.importorskip("llama_cpp")
torch = pytest.importorskip("torch")

from modellens.convert.gguf import export_gguf  # noqa: E402

from .test_gguf_export import PROMPT, build_model  # noqa: E402

BOUNDS = {"f32": 1e-3, "f16": 1e-2, "q8_0": 5e-2, "q4_k_m": 0.35}
ARCHS = ["llama", "llama3", "mistral", "qwen2", "qwen3", "qwen3moe", "gemma2", "phi3"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gguf_llama")


def _hf(folder: Path) -> tuple[list[int], np.ndarray]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    ids = tok(PROMPT)["input_ids"]
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32,
                                                 attn_implementation="eager")
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float().numpy()
    return ids, logits


def rel_error(path: Path, ids: list[int], want: np.ndarray) -> tuple[float, list[int]]:
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=64, n_batch=64, logits_all=True,
                          n_threads=2, verbose=False)
    try:
        toks = llm.tokenize(PROMPT.encode(), add_bos=True, special=False)
        llm.eval(ids)
        got = np.array(llm.scores[: len(ids)], dtype=np.float32)
    finally:
        llm.close()
    err = float(np.sqrt(np.mean((got - want) ** 2)) / np.sqrt(np.mean(want ** 2)))
    return err, list(toks)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_llama_cpp_logits_match_transformers(root: Path, arch: str) -> None:
    src = build_model(root, arch)
    ids, want = _hf(src)
    errors = {}
    for quant, bound in BOUNDS.items():
        out = root / f"{arch}-{quant}.gguf"
        if not out.exists():
            export_gguf(src, out, quant=quant)
        err, toks = rel_error(out, ids, want)
        assert toks == ids, f"{arch}: llama.cpp tokenizes {toks}, transformers {ids}"
        errors[quant] = err
    print(f"\n{arch}: " + "  ".join(f"{q}={e:.2e}" for q, e in errors.items()))
    for quant, err in errors.items():
        assert err < BOUNDS[quant], (arch, quant, err)


@pytest.mark.slow
def test_llama_cpp_sentencepiece_tokenizer(root: Path) -> None:
    pytest.importorskip("sentencepiece")
    src = build_model(root, "llama", "spm")
    ids, want = _hf(src)
    out = root / "llama-spm-f32.gguf"
    export_gguf(src, out, quant="f32")
    err, toks = rel_error(out, ids, want)
    assert toks == ids
    assert err < BOUNDS["f32"]


@pytest.mark.slow
def test_llama_cpp_loads_split_and_bf16_source(root: Path) -> None:
    src = build_model(root, "qwen3", dtype="bfloat16")
    ids, want = _hf(src)
    out = root / "qwen3-bf16src.gguf"
    report = export_gguf(src, out, quant="q8_0", split_max_size="300KB")
    assert report.shards > 1
    err, toks = rel_error(Path(report.files[0]), ids, want)
    assert toks == ids and err < BOUNDS["q8_0"]
