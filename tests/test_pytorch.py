"""PyTorch checkpoints written by torch itself, read back statically.

Expected values come from the torch objects that were saved; offsets are checked by reading
the file's bytes at the reported offset.
"""

from __future__ import annotations

import io
import struct
import time
import zipfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from modellens.core.errors import CorruptFileError, UnsupportedFormatError  # noqa: E402
from modellens.formats import read_file  # noqa: E402

pytestmark = pytest.mark.torch

DTYPE_NAMES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int8: "I8", torch.int64: "I64", torch.uint8: "U8", torch.bool: "BOOL",
    torch.int32: "I32", torch.int16: "I16", torch.float8_e4m3fn: "F8_E4M3",
    torch.float8_e5m2: "F8_E5M2",
}


def _state() -> dict:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(6, 8, generator=g)
    return {
        "f32": base,
        "transposed": base.t(),
        "sliced": base[2:5, 1:],
        "f16": torch.randn(3, 5, generator=g).half(),
        "bf16": torch.randn(7, generator=g).bfloat16(),
        "f64": torch.randn(2, 2, generator=g).double(),
        "i8": torch.arange(-5, 5, dtype=torch.int8),
        "i64": torch.arange(12).reshape(3, 4),
        "u8": torch.arange(200, 210, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "f8": torch.randn(4, 4, generator=g).to(torch.float8_e4m3fn),
        "f8b": torch.randn(3, generator=g).to(torch.float8_e5m2),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
    }


def _check_tensor(info_t, t: torch.Tensor, path: Path) -> None:
    assert info_t.dtype == DTYPE_NAMES[t.dtype]
    assert info_t.shape == tuple(t.shape)
    assert info_t.strides == tuple(t.stride())
    assert info_t.storage_offset == t.storage_offset()
    es = t.element_size()
    numel = t.numel()
    span = 0 if numel == 0 else 1 + sum((n - 1) * s for n, s in zip(t.shape, t.stride()))
    assert info_t.nbytes == span * es
    if info_t.nbytes:
        storage = bytes(t.untyped_storage())
        want = storage[t.storage_offset() * es : t.storage_offset() * es + info_t.nbytes]
        with open(path, "rb") as fh:
            fh.seek(info_t.offset)
            assert fh.read(info_t.nbytes) == want, info_t.name


def _by_name(info):
    return {t.name: t for t in info.tensors}


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_state_dict_all_dtypes_and_views(tmp_path, legacy):
    sd = _state()
    path = tmp_path / "model.pt"
    torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
    info = read_file(str(path))
    assert info.format == ("pytorch-legacy" if legacy else "pytorch-zip")
    got = _by_name(info)
    assert list(got) == list(sd)
    for name, t in sd.items():
        _check_tensor(got[name], t, path)
    # views of one storage are different tensors: they all count
    assert info.parameters == sum(t.numel() for t in sd.values())
    assert got["transposed"].storage == got["f32"].storage == got["sliced"].storage
    assert not info.warnings


def test_extension_is_only_a_hint(tmp_path):
    sd = {"w": torch.ones(2, 3)}
    for name, legacy, fmt in (("weights.bin", False, "pytorch-zip"),
                              ("weights.pth", True, "pytorch-legacy"),
                              ("weights.pkl", False, "pytorch-zip")):
        torch.save(sd, tmp_path / name, _use_new_zipfile_serialization=not legacy)
        assert read_file(str(tmp_path / name)).format == fmt


def test_any_archive_root(tmp_path):
    sd = {"w": torch.arange(6.0).reshape(2, 3)}
    buf = io.BytesIO()
    torch.save(sd, buf)  # a file object: torch names the root "archive"
    path = tmp_path / "other_name.pt"
    path.write_bytes(buf.getvalue())
    info = read_file(str(path))
    assert info.metadata["archive_root"] == "archive"
    _check_tensor(info.tensors[0], sd["w"], path)
    torch.save(sd, tmp_path / "renamed-stem.tar")
    info = read_file(str(tmp_path / "renamed-stem.tar"))
    assert info.metadata["archive_root"] == "renamed-stem"


def test_tied_weights_count_once(tmp_path):
    emb = torch.nn.Embedding(10, 4)
    head = torch.nn.Linear(4, 10, bias=False)
    head.weight = emb.weight
    model = torch.nn.Sequential(emb, head)
    path = tmp_path / "tied.pt"
    torch.save(model.state_dict(), path)
    info = read_file(str(path))
    assert [t.name for t in info.tensors] == ["0.weight", "1.weight"]
    assert info.aliases == {"1.weight": "0.weight"}
    assert info.parameters == sum(p.numel() for p in model.parameters()) == 40


def test_nested_checkpoint_with_optimizer(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    ckpt = {"state_dict": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
            "config": {"lr": 1e-3, "name": "run-1", "layers": [3, 4, 2]}, "note": "x" * 10_000}
    path = tmp_path / "ckpt.pth"
    torch.save(ckpt, path)
    info = read_file(str(path))
    got = _by_name(info)
    for k, t in model.state_dict().items():
        _check_tensor(got[f"state_dict.{k}"], t, path)
    for pid, st in opt.state_dict()["state"].items():
        for k, t in st.items():
            _check_tensor(got[f"optimizer.state.{pid}.{k}"], t, path)
    expected = sum(t.numel() for t in model.state_dict().values()) + sum(
        t.numel() for st in opt.state_dict()["state"].values() for t in st.values())
    assert info.parameters == expected
    # the weights and the optimizer's state are told apart
    assert info.groups == {
        "state_dict": sum(p.numel() for p in model.parameters()),
        "optimizer": sum(t.numel() for st in opt.state_dict()["state"].values() for t in st.values()),
    }
    assert info.metadata["epoch"] == 3
    assert info.metadata["config"] == {"lr": 1e-3, "name": "run-1", "layers": [3, 4, 2]}
    assert info.metadata["optimizer.param_groups"][0]["lr"] == 1e-3
    assert len(info.metadata["note"]) < 5000  # long values are summarised


def test_whole_module_pickled(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    path = tmp_path / "module.pt"
    torch.save(model, path)
    info = read_file(str(path))
    sd = model.state_dict()
    assert [t.name for t in info.tensors] == list(sd)
    for k, t in sd.items():
        _check_tensor(_by_name(info)[k], t, path)
    assert any("globals beyond tensor rebuilding" in w for w in info.warnings)
    assert "torch.nn.modules.linear.Linear" in info.metadata["globals"]


def test_parameters_and_subclass_state(tmp_path):
    p = torch.nn.Parameter(torch.randn(2, 3))
    t = torch.randn(4)
    t.extra_attr = "hello"  # saved through _rebuild_from_type_v2
    path = tmp_path / "p.pt"
    torch.save({"p": p, "t": t}, path)
    got = _by_name(read_file(str(path)))
    _check_tensor(got["p"], p.detach(), path)
    _check_tensor(got["t"], t, path)


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
        self.register_buffer("scale", torch.ones(2))

    def forward(self, x):
        return self.fc(x) * self.scale


def test_torchscript(tmp_path):
    module = torch.jit.script(_Tiny())
    path = tmp_path / "scripted.pt"
    torch.jit.save(module, str(path))
    info = read_file(str(path))
    assert info.format == "torchscript"
    got = _by_name(info)
    sd = module.state_dict()
    assert set(got) == set(sd)
    for k, t in sd.items():
        _check_tensor(got[k], t, path)
    assert any(f.endswith(".py") for f in info.metadata["code_files"])
    assert "constants" in info.metadata
    assert info.parameters == sum(t.numel() for t in sd.values())


def test_transformers_tied_embeddings(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=64, n_positions=32,
                                     tie_word_embeddings=True)
    model = transformers.GPT2LMHeadModel(config)
    model.save_pretrained(tmp_path, safe_serialization=False)
    path = tmp_path / "pytorch_model.bin"
    info = read_file(str(path))
    assert info.format == "pytorch-zip"
    assert info.parameters == model.num_parameters()
    sd = model.state_dict()
    got = _by_name(info)
    for name, t in got.items():
        if name in sd:
            _check_tensor(t, sd[name], path)


def test_thousand_tensors_quickly(tmp_path):
    sd = {f"layers.{i}.weight": torch.zeros(4, 4) for i in range(1000)}
    path = tmp_path / "big.pt"
    torch.save(sd, path)
    read_file(str(path))
    t = time.perf_counter()
    info = read_file(str(path))
    elapsed = time.perf_counter() - t
    assert len(info.tensors) == 1000 and info.parameters == 16000
    assert elapsed < 1.0  # typically ~30 ms; generous for slow CI machines


# -- malformed files -------------------------------------------------------------------------

def _saved(tmp_path, legacy=False) -> bytes:
    path = tmp_path / "src.pt"
    torch.save({"w": torch.arange(64.0).reshape(8, 8), "b": torch.ones(3)}, path,
               _use_new_zipfile_serialization=not legacy)
    return path.read_bytes()


def _expect_error(tmp_path, data: bytes, name="bad.pt"):
    path = tmp_path / name
    path.write_bytes(data)
    t = time.perf_counter()
    with pytest.raises((CorruptFileError, UnsupportedFormatError)) as e:
        read_file(str(path))
    assert time.perf_counter() - t < 10
    assert "\n" not in str(e.value)
    return e.value


def test_truncated_zip(tmp_path):
    data = _saved(tmp_path)
    for cut in (len(data) // 2, len(data) - 30, 100):
        _expect_error(tmp_path, data[:cut])


def test_damaged_zip_directory(tmp_path):
    data = bytearray(_saved(tmp_path))
    cd = data.rfind(b"PK\x01\x02")
    data[cd : cd + 4] = b"XXXX"
    _expect_error(tmp_path, bytes(data))


def _rewrite_zip(data: bytes, edit) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            content = edit(info.filename, src.read(info.filename))
            if content is not None:
                dst.writestr(info.filename, content)
    return out.getvalue()


def test_missing_and_short_storages(tmp_path):
    data = _saved(tmp_path)
    e = _expect_error(tmp_path, _rewrite_zip(data, lambda n, c: None if n.endswith("data/0") else c))
    assert "missing" in str(e)
    e = _expect_error(tmp_path, _rewrite_zip(data, lambda n, c: c[:-4] if n.endswith("data/0") else c))
    assert "bytes" in str(e)


def test_lying_element_count_in_pickle(tmp_path):
    data = _saved(tmp_path)

    def lie(name, content):
        if name.endswith("data.pkl"):  # storage numel 64 -> 99 (BININT1 'K@' -> 'Kc')
            return content.replace(b"K@t", b"Kct", 1)
        return content

    e = _expect_error(tmp_path, _rewrite_zip(data, lie))
    assert "holds" in str(e)


def test_pickle_cut_mid_opcode(tmp_path):
    data = _saved(tmp_path)
    _expect_error(tmp_path, _rewrite_zip(data, lambda n, c: c[:40] if n.endswith("data.pkl") else c))


def test_legacy_malformed(tmp_path):
    data = _saved(tmp_path, legacy=True)
    assert read_file(str(tmp_path / "src.pt")).format == "pytorch-legacy"
    _expect_error(tmp_path, data[: len(data) - 10])  # storage bytes cut
    # lying element count in front of the first storage
    keys_end = data.rfind(b".", 0, len(data) - (64 * 4 + 3 * 4 + 16)) + 1
    (count,) = struct.unpack_from("<q", data, keys_end)
    assert count in (64, 3)
    bad = data[:keys_end] + struct.pack("<q", count + 1) + data[keys_end + 8 :]
    e = _expect_error(tmp_path, bad)
    assert "elements" in str(e)
    huge = data[:keys_end] + struct.pack("<q", 2**60) + data[keys_end + 8 :]
    _expect_error(tmp_path, huge)


def test_hostile_pickles_inside_a_zip(tmp_path):
    data = _saved(tmp_path)
    for payload in (b"\x80\x02" + b"(" * 1_000_000 + b".",
                    b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b".",
                    b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"x."):
        _expect_error(tmp_path, _rewrite_zip(data, lambda n, c: payload if n.endswith("data.pkl") else c))
