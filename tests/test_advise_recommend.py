"""``modellens recommend``: the decision guide, sized by the estimator when a model is given."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import advise_models as M  # noqa: E402
from conftest import assert_one_line_error, run_cli  # noqa: E402

from modellens.advise.recommend import TARGETS, parse_memory, recommend, targets  # noqa: E402


def test_every_target_of_the_issue_answers():
    assert set(TARGETS) == set(targets())
    for t in TARGETS:
        for lang in ("en", "zh"):
            r = recommend(t, lang=lang)
            assert r["schema"] == "modellens.recommend/1" and r["formats"] and r["why"]
    assert recommend("cross-framework")["formats"][0]["id"] == "onnx"
    assert recommend("resume-training")["formats"][0]["id"] == "pytorch-zip"
    assert recommend("mobile-android")["formats"][0]["id"] == "tflite"


def test_parse_memory():
    assert parse_memory("16GB") == 16 * 10**9 == parse_memory("16")
    assert parse_memory("24GiB") == 24 * 2**30 and parse_memory("512MB") == 512 * 10**6
    with pytest.raises(Exception, match="--memory"):
        parse_memory("lots")


def test_laptop_example(tmp_path):
    cfg = {**M.QWEN3_8B, "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
           "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064}  # Qwen2.5-7B's shape
    (tmp_path / "Qwen2.5-7B-Instruct").mkdir()
    (tmp_path / "Qwen2.5-7B-Instruct" / "config.json").write_text(json.dumps(cfg))
    r = recommend("laptop", model=str(tmp_path / "Qwen2.5-7B-Instruct"), memory="16GB")
    by = {o["label"]: o for o in r["options"]}
    assert by["GGUF Q4_K_M"]["verdict"] == "fits" and 4.3e9 < by["GGUF Q4_K_M"]["weights_bytes"] < 5.0e9
    assert by["GGUF Q8_0"]["verdict"] == "fits"
    assert by["GGUF F16"]["verdict"] in ("tight", "too-big") and 15.0e9 < by["GGUF F16"]["weights_bytes"] < 15.5e9
    assert r["choice"]["label"] == "GGUF Q4_K_M"
    assert "Q4_K_M" in r["summary"] and "llama.cpp or Ollama" in r["summary"]
    assert any(c["tool"] == "llama-quantize" for c in r["conversions"])


def test_server_with_gpus(tmp_path):
    (tmp_path / "GLM-4.5-Air").mkdir()
    (tmp_path / "GLM-4.5-Air" / "config.json").write_text(json.dumps(M.GLM_45_AIR))
    r = recommend("nvidia-server", model=str(tmp_path / "GLM-4.5-Air"), gpu="h100", gpus=2)
    by = {o["label"]: o["verdict"] for o in r["options"]}
    assert by["BF16"] == "too-big" and by["FP8"] == "fits"
    assert r["choice"]["label"] == "FP8" and "serve-plan" in r["serve"]


def test_nothing_fits_says_so():
    r = recommend("mobile-android", model="Qwen2.5-72B-Instruct")
    assert r["choice"] is None and r["notes"]


def test_cli():
    res = run_cli("recommend", "--target", "laptop", "--model", "Qwen2.5-7B-Instruct", "--memory", "16GB", "--json")
    assert res.code == 0, res.stderr
    d = res.json()
    assert d["schema"] == "modellens.recommend/1" and d["choice"]["format"] == "gguf"
    zh = run_cli("recommend", "--target", "cpu", "--lang", "zh")
    assert zh.code == 0 and "GGUF" in zh.stdout
    assert_one_line_error(run_cli("recommend", "--target", "toaster"), "--target")
