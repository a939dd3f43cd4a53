"""``modellens formats``: the knowledge base is complete, valid, and every conversion command checks out."""

from __future__ import annotations

import copy
import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import assert_one_line_error, run_cli  # noqa: E402

from modellens.advise import _data, kb  # noqa: E402
from modellens.advise._data import KnowledgeError  # noqa: E402

# DESIGN.md "Contracts": format and layout ids, plus what issue 11 adds.
DESIGN_FORMATS = ["safetensors", "pytorch-zip", "pytorch-legacy", "torchscript", "pickle", "joblib", "numpy-npy",
                  "numpy-npz", "gguf", "onnx", "tf-savedmodel", "keras-h5", "keras-v3", "tflite", "flax-msgpack",
                  "openvino-ir", "coreml", "coreml-package", "tensorrt", "pmml", "caffe"]
DESIGN_LAYOUTS = ["hf-transformers", "diffusers", "sharded-safetensors", "gguf-split"]
ISSUE_EXTRA = ["awq", "gptq", "bitsandbytes", "fp8", "mlx", "exl2"]
UPSTREAM_TOOLS = ["torch.onnx", "optimum-onnx", "tf2onnx", "skl2onnx", "ovc", "coremltools", "trtexec",
                  "convert_hf_to_gguf", "llama-quantize"]


def test_every_format_id_is_covered():
    from modellens.formats import formats

    ids = set(kb.format_ids())
    missing = set(DESIGN_FORMATS + DESIGN_LAYOUTS + ISSUE_EXTRA + list(formats())) - ids
    assert not missing, missing


def test_entries_are_bilingual_and_complete():
    for fid in kb.format_ids():
        for lang in ("en", "zh"):
            d = kb.describe_format(fid, lang)
            assert d["strengths"] and d["weaknesses"] and d["typical_use"] and d["code_note"]
            assert d["executes_code"] in ("no", "possible", "yes")
        zh = kb.describe_format(fid, "zh")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh["typical_use"]), fid  # real Chinese text


def test_code_execution_answers():
    assert kb.describe_format("safetensors")["executes_code"] == "no"
    assert kb.describe_format("gguf")["executes_code"] == "no"
    for fid in ("pickle", "joblib", "pytorch-zip", "pytorch-legacy", "torchscript"):
        assert kb.describe_format(fid)["executes_code"] == "yes", fid
    assert kb.describe_format("pytorch-zip")["stores"] == "training-state"


def test_every_upstream_tool_of_the_issue_has_a_conversion():
    used = {c["tool"] for c in kb.knowledge().conversions}
    assert set(UPSTREAM_TOOLS) <= used, set(UPSTREAM_TOOLS) - used


def test_every_conversion_command_is_checked():
    """Shell commands: program and every flag from the tool's kept list (validated at load);
    Python snippets compile and import their tool; modellens commands parse with modellens's own CLI."""
    import typer.main

    from modellens.cli import _load_commands, app
    from modellens.convert import TARGETS

    _load_commands()
    click_app = typer.main.get_command(app)
    convert = click_app.commands["convert"]
    k = kb.knowledge()
    ext_of = {fmt: ext for fmt, ext in TARGETS.items()}
    for c in k.conversions:
        tool = k.tools[c["tool"]]
        if tool["kind"] == "python":
            compile(c["command"], f"<{c['from']}->{c['to']}>", "exec")
            continue
        argv = shlex.split(c["command"])
        assert argv[: len(tool["program"])] == tool["program"]
        if c["tool"] == "modellens":
            ctx = convert.make_context("convert", argv[2:])  # raises on an unknown option or missing argument
            dst = ctx.params["dst"]
            if c["to"] == "gguf":  # HF -> GGUF export (modellens.convert.gguf)
                assert dst.endswith(".gguf") and ctx.params["quant"], c
                continue
            target = c["to"] if c["to"] in TARGETS else "safetensors"
            assert c["to"] in TARGETS or c["to"] == "sharded-safetensors", c
            assert dst.endswith(ext_of[target]) or c["to"] == "sharded-safetensors", c


def test_each_format_page_lists_its_conversions():
    gguf = kb.describe_format("gguf")
    assert any(c["tool"] == "llama-quantize" for c in gguf["conversions"]["within"])
    assert any(c["tool"] == "convert_hf_to_gguf" for c in gguf["conversions"]["from"])
    st = kb.describe_format("pytorch-zip")["conversions"]["to"]
    assert st[0]["with_modellens"] and st[0]["to"] == "safetensors"


@pytest.fixture
def broken(monkeypatch):
    """Load a mutated copy of formats.json through the real validator."""
    original = _data.load("formats.json")

    def apply(mutate):
        doc = copy.deepcopy(original)
        mutate(doc)
        monkeypatch.setattr(kb, "load", lambda name: doc if name == "formats.json" else _data.load(name))
        kb.knowledge.cache_clear()
        try:
            return kb.knowledge()
        finally:
            kb.knowledge.cache_clear()

    yield apply
    kb.knowledge.cache_clear()


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["formats"][0].pop("stores"), "missing field 'stores'"),
    (lambda d: d["formats"][1]["strengths"].update(zh=[]), "non-empty list"),
    (lambda d: d["formats"][2].update(executes_code="maybe"), "executes_code"),
    (lambda d: d["formats"][3]["platforms"].append("toaster"), "unknown platform"),
    (lambda d: d["formats"].append(dict(d["formats"][0])), "duplicate id"),
    (lambda d: d["conversions"][0].update(to="nonexistent"), "unknown format"),
    (lambda d: next(c for c in d["conversions"] if c["tool"] == "trtexec").update(
        command="trtexec --onnx=model.onnx --saveEngin=model.plan"), "no flag '--saveEngin'"),
    (lambda d: next(c for c in d["conversions"] if c["tool"] == "llama-quantize").update(
        command="llama-quantize a.gguf b.gguf Q4_K_X"), "Q4_K_X"),
    (lambda d: next(c for c in d["conversions"] if c["tool"] == "convert_hf_to_gguf").update(
        command="python convert_hf_to_gguf.py ./m --outtype f8"), "'f8'"),
    (lambda d: next(c for c in d["conversions"] if c["tool"] == "coremltools").update(
        command="import torch\nct.convert(model"), "does not parse"),
    (lambda d: next(c for c in d["conversions"] if c["tool"] == "skl2onnx").update(
        command="import joblib\n"), "does not import skl2onnx"),
])
def test_a_broken_entry_fails(broken, mutate, message):
    with pytest.raises(KnowledgeError, match=message.replace("(", r"\(").replace("'", ".")):
        broken(mutate)


def test_cli_json_contract():
    res = run_cli("formats", "--json")
    assert res.code == 0, res.stderr
    d = res.json()
    assert d["schema"] == "modellens.formats/1" and len(d["formats"]) >= 31
    one = run_cli("formats", "onnx", "--json", "--lang", "zh").json()["format"]
    assert set(one) >= {"id", "extensions", "framework", "stores", "executes_code", "quantization", "platforms",
                        "runtimes", "strengths", "weaknesses", "typical_use", "tools", "conversions"}
    assert any(c["tool"] == "tf2onnx" for c in one["conversions"]["from"])


def test_cli_text_and_errors():
    res = run_cli("formats", "gguf", "--lang", "zh")
    assert res.code == 0 and "llama-quantize" in res.stdout and "优点" in res.stdout
    assert_one_line_error(run_cli("formats", "nosuchformat"), "unknown format")
    assert_one_line_error(run_cli("formats", "--lang", "fr"), "--lang")
