"""Folders written by transformers and diffusers themselves; index checks; mixed folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

import modellens

from .conftest import assert_one_line_error, run_cli

transformers = pytest.importorskip("transformers")


def tiny_llama(tie=True, seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      tie_word_embeddings=tie)
    return LlamaForCausalLM(cfg)


def tiny_tokenizer(path):
    """A real BPE tokenizer trained locally with `tokenizers`, saved by transformers."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>", "<s>", "</s>"])
    tok.train_from_iterator(["hello world, the quick brown fox"] * 20, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    fast.save_pretrained(path)


@pytest.mark.parametrize("safe", [True, False])
@pytest.mark.parametrize("shard", [None, "30KB"])
def test_save_pretrained_counts_like_transformers(tmp_path, safe, shard):
    model = tiny_llama()
    kwargs = {"safe_serialization": safe}
    if shard:
        kwargs["max_shard_size"] = shard
    model.save_pretrained(tmp_path, **kwargs)
    info = modellens.inspect(str(tmp_path))
    assert info.layout == "hf-transformers"
    assert info.format == ("safetensors" if safe else "pytorch-zip")
    assert info.parameters == model.num_parameters()  # tied weights counted once
    if shard:
        assert info.metadata["index"].endswith(".index.json")
        assert len([f for f in info.files if f.format]) > 1
    assert not [w for w in info.warnings if "index" in w or "missing" in w]
    cfg = model.config
    a = info.architecture
    assert (a["name"], a["model_type"]) == ("LlamaForCausalLM", "llama")
    assert (a["layers"], a["hidden_size"], a["heads"], a["kv_heads"], a["vocab_size"]) == (
        cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.vocab_size)
    assert a["tie_word_embeddings"] is True


def test_untied_and_tokenizer(tmp_path):
    model = tiny_llama(tie=False)
    model.save_pretrained(tmp_path)
    tiny_tokenizer(tmp_path)
    info = modellens.inspect(str(tmp_path))
    assert info.parameters == model.num_parameters()
    tok = info.metadata["tokenizer"]
    assert "tokenizer.json" in tok["files"] and tok["chat_template"] is True
    assert tok["eos_token"] == "</s>"


def test_safetensors_and_bin_together_counted_once(tmp_path):
    model = tiny_llama()
    model.save_pretrained(tmp_path, safe_serialization=False)
    model.save_pretrained(tmp_path, safe_serialization=True)
    info = modellens.inspect(str(tmp_path))
    assert info.format == "safetensors"
    assert info.parameters == model.num_parameters()
    assert any("pytorch_model.bin" in w and "not counted" in w for w in info.warnings)


def test_index_checked_against_shards(tmp_path):
    model = tiny_llama()
    model.save_pretrained(tmp_path, max_shard_size="30KB")
    index_path = tmp_path / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    shards = sorted(set(index["weight_map"].values()))
    # a tensor the index names but no shard holds, and a shard that is missing
    index["weight_map"]["model.ghost.weight"] = shards[0]
    index_path.write_text(json.dumps(index))
    (tmp_path / shards[-1]).unlink()
    info = modellens.inspect(str(tmp_path))
    text = "\n".join(info.warnings)
    assert f"names shard {shards[-1]}, which is missing" in text
    assert "'model.ghost.weight'" in text
    assert info.parameters < model.num_parameters()
    # the reverse: a tensor in a shard that the index does not list
    del index["weight_map"]["model.ghost.weight"]
    dropped = next(n for n, s in index["weight_map"].items() if s == shards[0])
    del index["weight_map"][dropped]
    index_path.write_text(json.dumps(index))
    info = modellens.inspect(str(tmp_path))
    assert any(f"{dropped!r} is not in model.safetensors.index.json" in w for w in info.warnings)


def test_index_file_path_reads_the_folder(tmp_path):
    model = tiny_llama()
    model.save_pretrained(tmp_path, max_shard_size="30KB")
    info = modellens.inspect(str(tmp_path / "model.safetensors.index.json"))
    assert info.parameters == model.num_parameters()
    (tmp_path / "config.json").unlink()
    info = modellens.inspect(str(tmp_path))
    assert info.layout == "sharded-safetensors"
    assert info.parameters == model.num_parameters()


def _tiny_pipeline():
    diffusers = pytest.importorskip("diffusers")
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=8)
    vae = diffusers.AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=8,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2)
    te = CLIPTextModel(CLIPTextConfig(hidden_size=32, intermediate_size=37, num_attention_heads=4,
                                      num_hidden_layers=2, vocab_size=1000))
    pipe = diffusers.StableDiffusionPipeline(
        vae=vae, text_encoder=te, tokenizer=None, unet=unet, scheduler=diffusers.PNDMScheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    counts = {"unet": sum(p.numel() for p in unet.parameters()),
              "vae": sum(p.numel() for p in vae.parameters()), "text_encoder": te.num_parameters()}
    return pipe, counts


def test_diffusers_pipeline(tmp_path):
    pipe, counts = _tiny_pipeline()
    pipe.save_pretrained(tmp_path)
    info = modellens.inspect(str(tmp_path))
    assert info.layout == "diffusers"
    assert dict(zip(info.component_names, (c.parameters for c in info.components))) == counts
    assert info.parameters == sum(counts.values())
    assert info.architecture["name"] == "StableDiffusionPipeline"
    assert info.metadata["pipeline"]["unet"] == {"library": "diffusers", "class": "UNet2DConditionModel"}


def test_diffusers_fp16_variant_next_to_fp32(tmp_path):
    pipe, counts = _tiny_pipeline()
    pipe.save_pretrained(tmp_path)
    pipe.to(torch.float16).save_pretrained(tmp_path, variant="fp16")
    assert (tmp_path / "unet" / "diffusion_pytorch_model.fp16.safetensors").exists()
    info = modellens.inspect(str(tmp_path))
    assert info.parameters == sum(counts.values())  # the fp16 copy is not counted again
    assert info.tensor_type == "F32"
    assert any("fp16" in w and "not counted" in w for w in info.warnings)


def test_folder_of_unrelated_files(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.zeros((10, 10), dtype=np.float32)}, str(tmp_path / "a.safetensors"))
    np.save(tmp_path / "b.npy", np.zeros(7, dtype=np.int64))
    (tmp_path / "README.md").write_text("# notes\n")
    info = modellens.inspect(str(tmp_path))
    assert info.layout is None and info.format == "mixed"
    assert info.component_names == ("a.safetensors", "b.npy")
    assert info.parameters == 107
    assert len(info.files) == 3


def test_empty_folder_and_folder_without_models(tmp_path, cli):
    assert_one_line_error(cli("inspect", tmp_path), "empty")
    (tmp_path / "notes.txt").write_text("hello")
    assert_one_line_error(cli("inspect", tmp_path), "no model files")
