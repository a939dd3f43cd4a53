"""The inspect command as a user runs it: output contract, exit codes, hostile inputs."""

from __future__ import annotations

import io
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from .conftest import REPO, assert_one_line_error, run_cli

INSPECT_FIELDS = {"schema", "source", "format", "layout", "files", "parameters", "stored_elements",
                  "size_bytes", "dtypes", "tensor_type", "quantization", "architecture", "metadata",
                  "tensors", "warnings"}
TENSOR_FIELDS = {"name", "dtype", "shape", "parameters", "size_bytes", "file", "offset"}
BOUNDED = dict(timeout=30, memory_limit=1 * 2**30)


@pytest.fixture
def st_file(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({f"layer.{i}.weight": np.zeros((4, 4), dtype=np.float32) for i in range(5)} |
              {"embed": np.zeros((10, 4), dtype=np.float16)}, str(path), metadata={"format": "np"})
    return path


def test_json_contract(st_file):
    res = run_cli("inspect", st_file, "--json")
    assert res.code == 0, res.stderr
    d = res.json()
    assert INSPECT_FIELDS <= d.keys()
    assert d["schema"] == "modellens.inspect/1"
    assert d["parameters"] == 5 * 16 + 40 and d["stored_elements"] == 120
    assert d["dtypes"] == {"F32": 80, "F16": 40}
    assert d["tensor_type"] == "F32·F16"
    assert d["files"] == [{"path": str(st_file), "format": "safetensors", "size_bytes": st_file.stat().st_size}]
    assert len(d["tensors"]) == 6
    assert all(TENSOR_FIELDS <= t.keys() for t in d["tensors"])


def test_schema_doc_lists_every_field(st_file):
    doc = (REPO / "docs" / "schema" / "inspect.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)`", doc, re.M))
    d = run_cli("inspect", st_file, "--json").json()
    assert set(d) <= documented, set(d) - documented
    assert set(d["tensors"][0]) - {"stored_shape", "storage", "storage_offset", "strides", "alias_of"} <= documented


def test_filter_and_limit(st_file):
    d = run_cli("inspect", st_file, "--json", "--filter", r"layer\.[12]\.").json()
    assert [t["name"] for t in d["tensors"]] == ["layer.1.weight", "layer.2.weight"]
    assert d["parameters"] == 120  # totals stay the model's
    d = run_cli("inspect", st_file, "--json", "--limit", "2").json()
    assert len(d["tensors"]) == 2
    res = run_cli("inspect", st_file, "--tensors", "--filter", "embed")
    assert res.code == 0 and "embed" in res.stdout and "layer.1" not in res.stdout
    assert_one_line_error(run_cli("inspect", st_file, "--filter", "(["), "regular expression")


def test_human_summary(st_file):
    res = run_cli("inspect", st_file)
    assert res.code == 0
    assert "F32·F16" in res.stdout and "120" in res.stdout and "safetensors" in res.stdout


def test_usage_errors_exit_2(tmp_path):
    res = run_cli("inspect")
    assert res.code == 2 and "Traceback" not in res.stderr
    assert "Missing argument" in res.stderr and "unexpected" not in res.stderr
    res = run_cli("inspect", tmp_path / "x", "--no-such-option")
    assert res.code == 2 and "No such option" in res.stderr


def test_not_found():
    assert_one_line_error(run_cli("inspect", "/nonexistent/model.safetensors"), "no such file")


@pytest.mark.parametrize("content,expect", [
    (b"", "empty"),
    (b"hello world, just text\n" * 10, "plain text"),
    (b'{"not": "a model"}', "JSON"),
    (bytes(range(256)) * 40, "not a recognised model format"),
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "HDF5"),
])
def test_unrecognised_files(tmp_path, content, expect):
    path = tmp_path / "model.bin"
    path.write_bytes(content)
    assert_one_line_error(run_cli("inspect", path, **BOUNDED), expect)


def test_zip_of_other_things_and_corrupt_zip(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hi")
    path = tmp_path / "thing.pt"
    path.write_bytes(buf.getvalue())
    assert_one_line_error(run_cli("inspect", path, **BOUNDED), "zip archive of 1 files: notes.txt")
    raw = bytearray(buf.getvalue())
    raw[-22:] = b"\0" * 22  # wipe the end-of-central-directory record
    path.write_bytes(raw)
    assert_one_line_error(run_cli("inspect", path, **BOUNDED))


def test_random_bytes_of_every_extension(tmp_path):
    rng = np.random.default_rng(0)
    for ext in (".safetensors", ".gguf", ".bin", ".pt", ".pth", ".npy", ".npz", ".pkl", ".onnx"):
        path = tmp_path / f"r{ext}"
        path.write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
        res = run_cli("inspect", path, **BOUNDED)
        assert_one_line_error(res)


def test_huge_claims_in_bounded_memory(tmp_path):
    # safetensors header claiming 100 GB; GGUF claiming 2^60 tensors and a 2^50-byte key
    p1 = tmp_path / "a.safetensors"
    p1.write_bytes(struct.pack("<Q", 100 * 2**30) + b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}')
    p2 = tmp_path / "b.gguf"
    p2.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**60, 1) + struct.pack("<Q", 2**50) + b"x" * 64)
    p3 = tmp_path / "c.gguf"
    p3.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1, 10**6) + b"\0" * 64)
    for p in (p1, p2, p3):
        assert_one_line_error(run_cli("inspect", p, **BOUNDED), "corrupt")


def test_debug_shows_traceback(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", 10) + b'{"a": 1}  ')
    res = run_cli("inspect", path, "--debug")
    assert res.code == 2 and "Traceback" in res.stderr


def test_python_dash_m_and_help():
    res = run_cli("--help")
    assert res.code == 0 and "inspect" in res.stdout


def _laughs(levels: int = 30) -> bytes:
    """A 'billion laughs' pickle: each list holds the previous one 10 times through the memo."""
    import pickle

    obj: list = ["lol"]
    for _ in range(levels):
        obj = [obj] * 10
    return pickle.dumps(obj, protocol=4)


@pytest.mark.parametrize("payload", [
    b"\x80\x02" + b"(" * 1_000_000 + b".",  # a million MARKs
    b"\x80\x02" + b"]" * 2_000_000 + b".",  # two million empty lists on the stack
    b"\x80\x04\x8e" + struct.pack("<Q", 2**60) + b"x" * 10 + b".",  # BINBYTES8 claiming an exabyte
    b"\x80\x02X" + struct.pack("<I", 2**31) + b"abc.",  # BINUNICODE longer than the file
    _laughs(),  # exponential fan-out through memo references
], ids=["marks", "lists", "binbytes8", "binunicode", "laughs"])
def test_hostile_pickles_bounded(tmp_path, payload):
    path = tmp_path / "evil.pkl"
    path.write_bytes(payload)
    res = run_cli("inspect", path, "--json", **BOUNDED)
    # either a one-line error, or an answer: never a crash, a hang or an allocation blow-up
    assert res.code in (0, 2), res.stderr
    assert "Traceback" not in res.stderr
    if res.code == 2:
        assert len(res.stderr.strip().splitlines()) == 1
