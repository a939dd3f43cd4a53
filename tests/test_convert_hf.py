"""A Hugging Face folder of pytorch_model*.bin becomes a folder of safetensors that transformers
loads with the same logits and the embeddings still tied."""

from __future__ import annotations

import json

import pytest

import modellens

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = [pytest.mark.torch, pytest.mark.transformers]


def _model(tie: bool):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        tie_word_embeddings=tie)
    return transformers.LlamaForCausalLM(config).eval()


def _logits(model, ids):
    with torch.no_grad():
        return model(ids).logits


@pytest.mark.parametrize("shard", [None, "20KB"], ids=["single", "sharded"])
@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_bin_folder_to_safetensors_folder(tmp_path, shard, tie):
    model = _model(tie)
    src = tmp_path / "src"
    kwargs = {"max_shard_size": shard} if shard else {}
    model.save_pretrained(src, safe_serialization=False, **kwargs)
    (src / "tokenizer.json").write_text('{"version": "1.0", "model": {}}')
    (src / "special_tokens_map.json").write_text("{}")
    bins = sorted(p.name for p in src.glob("pytorch_model*.bin"))
    assert (len(bins) > 1) == bool(shard)
    before = {p.name: p.read_bytes() for p in src.iterdir()}

    out = tmp_path / "out"
    report = modellens.convert(src, out, verify=True, shard_size=shard)
    assert report.verified
    if tie:
        assert report.aliases_dropped == {"lm_head.weight": "model.embed_tokens.weight"}
    names = sorted(p.name for p in out.iterdir())
    assert not any(n.endswith(".bin") or n == "pytorch_model.bin.index.json" for n in names)
    for f in ("config.json", "generation_config.json", "tokenizer.json", "special_tokens_map.json"):
        assert (out / f).read_bytes() == before[f]
    if shard:
        index = json.loads((out / "model.safetensors.index.json").read_text())
        assert report.shards > 1 and set(index["weight_map"].values()) == {
            f"model-{i:05d}-of-{report.shards:05d}.safetensors" for i in range(1, report.shards + 1)}
        assert "lm_head.weight" not in index["weight_map"] or not tie
    else:
        assert "model.safetensors" in names

    loaded = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    ids = torch.randint(0, 128, (2, 9), generator=torch.Generator().manual_seed(1))
    assert torch.equal(_logits(loaded, ids), _logits(model, ids))
    if tie:
        assert loaded.lm_head.weight.data_ptr() == loaded.model.embed_tokens.weight.data_ptr()
    # the source folder is untouched
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


def test_gpt2_bin_file_to_safetensors_loads_in_transformers(tmp_path):
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=16, vocab_size=64, n_positions=32)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    model.save_pretrained(tmp_path / "src", safe_serialization=False)
    out = tmp_path / "out"
    out.mkdir()
    modellens.convert(tmp_path / "src" / "pytorch_model.bin", out / "model.safetensors", verify=True)
    (out / "config.json").write_bytes((tmp_path / "src" / "config.json").read_bytes())
    loaded = transformers.GPT2LMHeadModel.from_pretrained(out).eval()
    ids = torch.arange(10).reshape(1, 10)
    assert torch.equal(_logits(loaded, ids), _logits(model, ids))
    assert loaded.lm_head.weight.data_ptr() == loaded.transformer.wte.weight.data_ptr()


def test_cast_folder_updates_config_dtype(tmp_path):
    model = _model(True)
    model.save_pretrained(tmp_path / "src", safe_serialization=False)
    out = tmp_path / "out"
    modellens.convert(tmp_path / "src", out, dtype="bf16", verify=True)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg.get("torch_dtype", cfg.get("dtype")) == "bfloat16"
    loaded = transformers.AutoModelForCausalLM.from_pretrained(out, torch_dtype="auto")
    assert loaded.model.embed_tokens.weight.dtype == torch.bfloat16
    assert torch.equal(loaded.model.embed_tokens.weight, model.model.embed_tokens.weight.bfloat16())
