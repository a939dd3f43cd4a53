"""``modellens dtypes``: every type people meet on model pages, and tensor-type strings read like an expert."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import assert_one_line_error, run_cli  # noqa: E402

from modellens.advise.dtypes import describe_dtype, dtype_names, dtypes_report, explain_tensor_type, split_tensor_type  # noqa: E402
from modellens.core import dtypes as registry  # noqa: E402

ISSUE_TYPES = ["F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "F4", "MXFP4", "NVFP4", "I64", "I32", "I16", "I8",
               "U8", "BOOL", "Q4_0", "Q8_0", "Q4_K", "Q6_K", "IQ4_XS"]


def test_issue_types_are_covered():
    assert set(ISSUE_TYPES) <= set(dtype_names())


@pytest.mark.parametrize("name", ISSUE_TYPES)
def test_each_type_has_bits_uses_and_both_languages(name):
    en, zh = describe_dtype(name, "en"), describe_dtype(name, "zh")
    assert en["bits_per_weight"] > 0 and en["uses"] and en["summary"] != zh["summary"]
    dt = registry.find(name)
    if dt is not None:  # numbers come from the one registry, not from the knowledge file
        assert en["bits_per_weight"] == pytest.approx(dt.bits_per_weight, abs=1e-4)


def test_ranges_come_from_ml_dtypes():
    bf16, f16, e4m3 = describe_dtype("BF16"), describe_dtype("F16"), describe_dtype("F8_E4M3")
    assert bf16["max"] == pytest.approx(3.3895e38, rel=1e-3)  # BF16: the same range as F32
    assert f16["max"] == 65504.0
    assert e4m3["max"] == 448.0
    assert describe_dtype("I8")["min"] == -128 and describe_dtype("U8")["max"] == 255
    q = describe_dtype("Q4_K")
    assert (q["block_size"], q["block_bytes"], q["bits_per_weight"]) == (256, 144, 4.5)


def test_aliases():
    assert describe_dtype("bfloat16")["name"] == "BF16"
    assert describe_dtype("float8_e4m3fn")["name"] == "F8_E4M3"


def test_tensor_type_string():
    assert split_tensor_type("BF16·I32·F32") == ["BF16", "I32", "F32"] == split_tensor_type("BF16, I32 + F32")
    e = explain_tensor_type("BF16·I32·F32")
    assert [i["dtype"] for i in e["items"]] == ["BF16", "I32", "F32"]
    assert "main weights in BF16" in e["notes"][0]
    assert "packed" in e["items"][1]["reading"].lower()
    assert "norm" in e["items"][2]["reading"].lower()
    zh = explain_tensor_type("BF16·I32·F32", lang="zh")
    assert "主权重" in zh["notes"][0]


def test_with_a_model_shows_which_tensors(tmp_path):
    from safetensors.numpy import save_file

    import ml_dtypes

    bf16 = np.dtype(ml_dtypes.bfloat16)
    save_file({
        "model.embed_tokens.weight": np.zeros((64, 16), bf16),
        "model.layers.0.self_attn.q_proj.qweight": np.zeros((2, 16), np.int32),
        "model.layers.0.self_attn.q_proj.scales": np.zeros((1, 16), np.float16),
        "model.layers.0.input_layernorm.weight": np.zeros((16,), np.float32),
        "model.layers.0.mlp.down_proj.weight": np.zeros((16, 16), bf16),
    }, str(tmp_path / "model.safetensors"))
    r = dtypes_report("BF16·I32·F32", model=str(tmp_path / "model.safetensors"))
    groups = {g["dtype"]: g for g in r["explanation"]["model"]["dtypes"]}
    assert {r_["role"] for r_ in groups["F32"]["roles"]} == {"norms"}
    assert groups["I32"]["roles"][0]["role"] == "packed-weights"
    assert {r_["role"] for r_ in groups["F16"]["roles"]} == {"scales"}


def test_cli():
    d = run_cli("dtypes", "--json").json()
    assert d["schema"] == "modellens.dtypes/1" and len(d["dtypes"]) >= len(ISSUE_TYPES)
    one = run_cli("dtypes", "BF16", "--json", "--lang", "zh").json()["dtype"]
    assert one["name"] == "BF16" and "指数" in one["summary"]
    res = run_cli("dtypes", "BF16·I32·F32")
    assert res.code == 0 and "I32" in res.stdout
    assert_one_line_error(run_cli("dtypes", "F7"), "unknown dtype")
