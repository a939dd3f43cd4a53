"""GGUF files written by gguf-py's GGUFWriter (incl. quantized tensors from gguf.quants)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import GGML_QUANT_SIZES, GGUFReader, GGUFWriter, LlamaFileType
from gguf.quants import quantize

import modellens
from modellens import CorruptFileError, LimitExceededError
from modellens.formats import read_file

from .conftest import assert_one_line_error, run_cli

VOCAB = [f"tok{i}" for i in range(1000)]
TEMPLATE = "{% for m in messages %}{{ m['content'] }}{% endfor %}"


def write_gguf(path, tensors, *, split_max_tensors=0):
    w = GGUFWriter(str(path), "llama", split_max_tensors=split_max_tensors)
    w.add_name("tiny")
    w.add_context_length(2048)
    w.add_embedding_length(64)
    w.add_block_count(2)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_feed_forward_length(128)
    w.add_file_type(LlamaFileType.MOSTLY_Q4_K_M)
    w.add_quantization_version(2)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(VOCAB)
    w.add_chat_template(TEMPLATE)
    for name, (arr, qtype) in tensors.items():
        if qtype in (None, Q.F32, Q.F16):
            w.add_tensor(name, arr)
        elif qtype in (Q.Q4_K, Q.Q6_K):
            # gguf.quants dequantizes K-quants but cannot quantize them: random blocks of the
            # right byte size, laid out by the writer (GGML_QUANT_SIZES).
            block, size = GGML_QUANT_SIZES[qtype]
            raw = np.random.default_rng(0).integers(0, 255, (arr.shape[0], arr.shape[1] // block * size), dtype=np.uint8)
            w.add_tensor(name, raw, raw_dtype=qtype)
        else:
            w.add_tensor(name, quantize(arr, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture
def model(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "token_embd.weight": (rng.standard_normal((1000, 256), dtype=np.float32), Q.Q8_0),
        "blk.0.attn_q.weight": (rng.standard_normal((256, 256), dtype=np.float32), Q.Q4_K),
        "blk.0.ffn_down.weight": (rng.standard_normal((64, 512), dtype=np.float32), Q.Q6_K),
        "blk.0.attn_k.weight": (rng.standard_normal((64, 256), dtype=np.float32), Q.Q4_0),
        "blk.0.attn_norm.weight": (np.ones(256, dtype=np.float32), Q.F32),
        "output.weight": (rng.standard_normal((32, 64), dtype=np.float32).astype(np.float16), Q.F16),
    }
    path = tmp_path / "tiny.gguf"
    write_gguf(path, tensors)
    return path, tensors


def test_matches_gguf_reader(model):
    path, tensors = model
    info = modellens.inspect(str(path))
    ref = GGUFReader(str(path))
    assert info.format == "gguf"
    ours = {t.name: t for t in info.tensors}
    assert len(ours) == len(ref.tensors)
    for rt in ref.tensors:
        t = ours[rt.name]
        assert t.dtype == rt.tensor_type.name
        assert list(t.shape) == [int(x) for x in reversed(rt.shape)]  # outermost first
        assert t.parameters == int(rt.n_elements)
        assert t.nbytes == int(rt.n_bytes)
        assert t.offset == int(rt.data_offset)
    # logical parameters are the source arrays' element counts
    assert info.parameters == sum(a.size for a, _ in tensors.values())
    assert set(info.dtypes) == {"Q8_0", "Q4_K", "Q6_K", "Q4_0", "F32", "F16"}


def test_metadata(model):
    path, _ = model
    info = modellens.inspect(str(path))
    a = info.architecture
    assert a["name"] == "llama" and a["context_length"] == 2048 and a["layers"] == 2
    assert a["heads"] == 4 and a["kv_heads"] == 2 and a["hidden_size"] == 64
    assert a["vocab_size"] == len(VOCAB) and a["tokenizer"] == "gpt2" and a["chat_template"] is True
    assert info.quantization["file_type"] == "Q4_K_M"
    assert info.quantization["quantization_version"] == 2
    # the vocabulary is summarised, not dumped
    assert info.metadata["tokenizer.ggml.tokens"] == {"array": "STRING", "length": 1000}
    assert info.metadata["tokenizer.chat_template"] == TEMPLATE
    assert info.metadata["gguf_version"] == 3


def test_split(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {f"blk.{i}.w": (rng.standard_normal((32, 64), dtype=np.float32), Q.F32) for i in range(5)}
    write_gguf(tmp_path / "m.gguf", tensors, split_max_tensors=2)
    parts = sorted(p.name for p in tmp_path.iterdir())
    assert parts == ["m-00001-of-00003.gguf", "m-00002-of-00003.gguf", "m-00003-of-00003.gguf"]
    for target in (tmp_path, tmp_path / parts[1]):
        info = modellens.inspect(str(target))
        assert info.layout == "gguf-split"
        assert info.parameters == 5 * 32 * 64
        assert len(info.files) == 3
        assert info.architecture["name"] == "llama"
    (tmp_path / parts[2]).unlink()
    info = modellens.inspect(str(tmp_path))
    assert any("missing: 3 of 3" in w for w in info.warnings)


def test_truncated(model):
    path, _ = model
    raw = path.read_bytes()
    for cut in (10, 100, 5000, len(raw) - 100):
        path.write_bytes(raw[:cut])
        with pytest.raises(CorruptFileError):
            read_file(str(path))
    assert_one_line_error(run_cli("inspect", path), "corrupt")


def test_lying_counts(model):
    path, _ = model
    raw = bytearray(path.read_bytes())
    bad = bytearray(raw)
    struct.pack_into("<Q", bad, 8, 2**62)  # tensor count
    path.write_bytes(bad)
    with pytest.raises(LimitExceededError):
        read_file(str(path))
    bad = bytearray(raw)
    struct.pack_into("<Q", bad, 8, 10**6)  # tensor count under the limit, but the file cannot hold it
    path.write_bytes(bad)
    with pytest.raises(CorruptFileError):
        read_file(str(path))
    bad = bytearray(raw)
    struct.pack_into("<Q", bad, 24, 2**40)  # first key's string length
    path.write_bytes(bad)
    with pytest.raises(CorruptFileError):
        read_file(str(path))
    res = run_cli("inspect", path)
    assert_one_line_error(res)


def test_tensor_offset_out_of_bounds(tmp_path):
    path = tmp_path / "x.gguf"
    write_gguf(path, {"w": (np.ones((4, 32), dtype=np.float32), Q.F32)})
    raw = bytearray(path.read_bytes())
    info = GGUFReader(str(path)).tensors[0]
    # the tensor info's offset field is the 8 bytes just before the end of its info record
    pos = raw.rfind(b"w", 0, int(info.data_offset))
    off_field = pos + 1 + 4 + 8 * 2 + 4
    struct.pack_into("<Q", raw, off_field, 10**12)
    path.write_bytes(raw)
    with pytest.raises(CorruptFileError, match="past the end"):
        read_file(str(path))
