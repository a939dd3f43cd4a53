"""The README's example model: built offline, loaded by transformers, inspected by modellens."""

from __future__ import annotations

import subprocess
import sys

import pytest

import modellens

from .conftest import REPO, run_cli


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    out = tmp_path_factory.mktemp("example") / "tiny-llama"
    subprocess.run([sys.executable, str(REPO / "examples" / "make_tiny_llama.py"), str(out)], check=True,
                   capture_output=True)
    return out


def test_transformers_loads_it_and_counts_agree(example):
    transformers = pytest.importorskip("transformers")
    model = transformers.AutoModelForCausalLM.from_pretrained(example)
    info = modellens.inspect(str(example))
    assert info.parameters == model.num_parameters()
    assert info.layout == "hf-transformers" and info.tensor_type == "BF16"
    assert info.architecture["name"] == "LlamaForCausalLM"
    assert info.metadata["tokenizer"]["chat_template"] is True


def test_tokenizer_round_trips(example):
    transformers = pytest.importorskip("transformers")
    tok = transformers.AutoTokenizer.from_pretrained(example)
    text = "the quick brown fox, 42!"
    assert tok.decode(tok(text)["input_ids"]) == text
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|assistant|>\n")


def test_readme_command(example):
    res = run_cli("inspect", example)
    assert res.code == 0 and "hf-transformers" in res.stdout and "BF16" in res.stdout
