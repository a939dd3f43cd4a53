"""safetensors files written by the safetensors library; malformed ones built from them."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import modellens
from modellens import CorruptFileError
from modellens.formats import read_file

from .conftest import assert_one_line_error, run_cli

TORCH_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2, "I64": torch.int64,
    "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
    "U16": torch.uint16, "U32": torch.uint32, "U64": torch.uint64,
}


@pytest.fixture
def all_dtypes_file(tmp_path):
    tensors = {}
    for i, (name, tdt) in enumerate(TORCH_DTYPES.items()):
        shape = (i + 1, 3)
        tensors[f"t_{name}"] = (torch.arange(shape[0] * shape[1]) % 2).reshape(shape).to(tdt)
    tensors["scalar"] = torch.tensor(1.5)
    tensors["empty"] = torch.zeros(0, 4)
    path = tmp_path / "all.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt", "note": "hello"})
    return path, tensors


def test_every_dtype_shape_and_offset(all_dtypes_file):
    path, tensors = all_dtypes_file
    info = modellens.inspect(str(path))
    assert info.format == "safetensors"
    assert info.metadata == {"format": "pt", "note": "hello"}
    by_name = {t.name: t for t in info.tensors}
    raw = path.read_bytes()
    with safe_open(str(path), "pt") as f:
        assert set(f.keys()) == set(by_name)
        for name in f.keys():
            ref = f.get_tensor(name)
            t = by_name[name]
            assert list(t.shape) == list(ref.shape)
            assert t.nbytes == ref.numel() * ref.element_size()
            assert raw[t.offset : t.offset + t.nbytes] == ref.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
            assert TORCH_DTYPES.get(t.dtype, torch.float32) == ref.dtype
    assert info.parameters == sum(t.numel() for t in tensors.values())


def test_tensor_type_orders_by_share(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"w": torch.zeros(100, 10, dtype=torch.bfloat16), "idx": torch.zeros(50, dtype=torch.int32),
               "norm": torch.zeros(10)}, str(path))
    info = modellens.inspect(str(path))
    assert info.tensor_type == "BF16·I32·F32"
    assert info.dtypes == {"BF16": 1000, "I32": 50, "F32": 10}


def _header_bytes(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return raw, n, json.loads(raw[8 : 8 + n])


def _rewrite(path, header, data):
    body = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(body)) + body + data)


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "s.safetensors"
    save_file({"a": torch.ones(4, 4), "b": torch.ones(8)}, str(path))
    return path


def test_truncated(small):
    raw = small.read_bytes()
    small.write_bytes(raw[:-10])
    with pytest.raises(CorruptFileError, match="end past the file"):
        read_file(str(small))
    assert_one_line_error(run_cli("inspect", small), "corrupt")


def test_lying_header_length(small):
    raw = small.read_bytes()
    small.write_bytes(struct.pack("<Q", 100 * 2**30) + raw[8:])  # claims a 100 GB header
    res = run_cli("inspect", small)
    assert_one_line_error(res)


def test_header_past_end(small):
    raw = small.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    small.write_bytes(struct.pack("<Q", n + 50) + raw[8 : 8 + n])  # header longer than the file
    with pytest.raises(CorruptFileError):
        read_file(str(small))


def test_offsets_out_of_bounds(small):
    raw, n, header = _header_bytes(small)
    header["b"]["data_offsets"] = [64, 64 + 32 + 10**9]
    header["b"]["shape"] = [8 + 250_000_000]
    _rewrite(small, header, raw[8 + n :])
    with pytest.raises(CorruptFileError, match="end past the file"):
        read_file(str(small))


def test_overlapping(small):
    raw, n, header = _header_bytes(small)
    header["b"]["data_offsets"] = [32, 64]  # inside a's 64 bytes
    _rewrite(small, header, raw[8 + n :])
    with pytest.raises(CorruptFileError, match="overlaps"):
        read_file(str(small))
    assert_one_line_error(run_cli("inspect", small), "overlaps")


def test_dtype_shape_length_mismatch(small):
    raw, n, header = _header_bytes(small)
    header["b"]["shape"] = [9]
    _rewrite(small, header, raw[8 + n :])
    with pytest.raises(CorruptFileError, match="needs 36 bytes"):
        read_file(str(small))


@pytest.mark.parametrize("mutate", [
    lambda h: h["a"].__setitem__("dtype", "F33"),
    lambda h: h["a"].__setitem__("shape", [-1, 4]),
    lambda h: h["a"].__setitem__("data_offsets", [64, 0]),
    lambda h: h.__setitem__("__metadata__", {"x": 1}),
    lambda h: h.__setitem__("c", "not an object"),
])
def test_invalid_entries(small, mutate):
    raw, n, header = _header_bytes(small)
    mutate(header)
    _rewrite(small, header, raw[8 + n :])
    with pytest.raises(CorruptFileError):
        read_file(str(small))


def test_not_json_and_duplicate_keys(small):
    raw, n, header = _header_bytes(small)
    body = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}'
    small.write_bytes(struct.pack("<Q", len(body)) + body + b"\0" * 8)
    with pytest.raises(CorruptFileError, match="duplicate"):
        read_file(str(small))
    body = b'{"a": {"dtype": "F32", ' + b" " * 20
    small.write_bytes(struct.pack("<Q", len(body)) + body)
    with pytest.raises(CorruptFileError, match="JSON"):
        read_file(str(small))


def test_gap_is_a_warning_not_an_error(small):
    raw, n, header = _header_bytes(small)
    data = raw[8 + n :]
    header["b"]["data_offsets"] = [72, 104]
    _rewrite(small, header, data[:64] + b"\0" * 8 + data[64:])
    info = read_file(str(small))
    assert any("unused bytes" in w for w in info.warnings)
    assert info.parameters == 24


def test_numpy_writer_bf16(tmp_path):
    import ml_dtypes
    from safetensors.numpy import save_file as np_save

    arr = np.arange(12, dtype=np.float32).reshape(3, 4).astype(ml_dtypes.bfloat16)
    np_save({"x": arr}, str(tmp_path / "x.safetensors"))
    info = modellens.inspect(str(tmp_path / "x.safetensors"))
    assert info.tensors[0].dtype == "BF16" and info.tensors[0].shape == (3, 4)
