"""modellens convert: PyTorch / safetensors / npz sources to safetensors and npz, checked with
the reference loaders (safetensors.numpy / safetensors.torch, numpy)."""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

import modellens
from modellens.core.errors import ModelLensError, UnsafeError

from .conftest import assert_one_line_error, run_cli

torch = pytest.importorskip("torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")
safetensors_torch = pytest.importorskip("safetensors.torch")

pytestmark = pytest.mark.torch


def _state() -> dict:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(6, 8, generator=g)
    return {
        "f32": base,
        "transposed": base.t(),
        "sliced": base[2:5, 1:],
        "strided": base[::2, ::3],
        "f16": torch.randn(3, 5, generator=g).half(),
        "bf16": torch.randn(7, 3, generator=g).bfloat16(),
        "f64": torch.randn(2, 2, generator=g).double(),
        "i8": torch.arange(-5, 5, dtype=torch.int8),
        "i16": torch.arange(-5, 5, dtype=torch.int16),
        "i32": torch.arange(7, dtype=torch.int32),
        "i64": torch.arange(12).reshape(3, 4),
        "u8": torch.arange(200, 210, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "f8": torch.randn(4, 4, generator=g).to(torch.float8_e4m3fn),
        "f8b": torch.randn(3, generator=g).to(torch.float8_e5m2),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "tied": base,  # the same storage view as "f32": written once
    }


def _bits(t: torch.Tensor) -> bytes:
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def _assert_same(got: dict, want: dict, dropped: dict) -> None:
    assert set(got) == set(want) - set(dropped)
    for name, t in want.items():
        if name in dropped:
            continue
        g = got[name]
        assert g.dtype == t.dtype and tuple(g.shape) == tuple(t.shape), name
        assert _bits(g) == _bits(t), name


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_pytorch_to_safetensors_every_dtype_and_view(tmp_path, legacy):
    sd = _state()
    src = tmp_path / "model.pt"
    torch.save(sd, src, _use_new_zipfile_serialization=not legacy)
    before = src.read_bytes()
    out = tmp_path / "model.safetensors"
    report = modellens.convert(src, out, verify=True)
    assert report.aliases_dropped == {"tied": "f32"}
    assert report.verified is True and report.tensors == len(sd) - 1
    _assert_same(safetensors_torch.load_file(out), sd, report.aliases_dropped)
    meta = _metadata(out)
    assert meta["format"] == "pt"
    assert json.loads(meta["modellens.dropped_aliases"]) == {"tied": "f32"}
    assert src.read_bytes() == before  # the source is never touched


def _metadata(path: Path) -> dict:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n])["__metadata__"]


def test_numpy_loader_reads_the_output(tmp_path):
    sd = {k: v for k, v in _state().items() if k not in ("bf16", "f8", "f8b", "tied")}
    torch.save(sd, tmp_path / "m.pt")
    out = tmp_path / "m.safetensors"
    modellens.convert(tmp_path / "m.pt", out)
    arrays = safetensors_numpy.load_file(out)
    for k, t in sd.items():
        np.testing.assert_array_equal(arrays[k], t.numpy())
        assert arrays[k].dtype == t.numpy().dtype


@pytest.mark.parametrize("dtype,torch_dtype", [("f16", torch.float16), ("bf16", torch.bfloat16),
                                               ("f32", torch.float32)])
def test_cast(tmp_path, dtype, torch_dtype):
    sd = _state()
    torch.save(sd, tmp_path / "m.pt")
    out = tmp_path / "m.safetensors"
    report = modellens.convert(tmp_path / "m.pt", out, dtype=dtype, verify=True)
    got = safetensors_torch.load_file(out)
    for name, t in sd.items():
        if name in report.aliases_dropped:
            continue
        if t.is_floating_point():
            want = t.to(torch.float32).to(torch_dtype) if t.dtype in (
                torch.float8_e4m3fn, torch.float8_e5m2) else t.to(torch_dtype)
            assert got[name].dtype == torch_dtype
            assert _bits(got[name]) == _bits(want), name
        else:  # integers and bools keep their type
            assert got[name].dtype == t.dtype and _bits(got[name]) == _bits(t)


def test_safetensors_roundtrip_and_cast_from_safetensors(tmp_path):
    g = torch.Generator().manual_seed(1)
    tensors = {"a": torch.randn(33, 17, generator=g), "b": torch.randn(5, generator=g).bfloat16(),
               "c": torch.arange(10, dtype=torch.int32)}
    safetensors_torch.save_file(tensors, tmp_path / "in.safetensors", metadata={"format": "pt", "x": "y"})
    out = tmp_path / "out.safetensors"
    modellens.convert(tmp_path / "in.safetensors", out, dtype="bf16", verify=True)
    got = safetensors_torch.load_file(out)
    assert got["a"].dtype == torch.bfloat16 and torch.equal(got["a"], tensors["a"].bfloat16())
    assert torch.equal(got["b"], tensors["b"]) and torch.equal(got["c"], tensors["c"])
    assert _metadata(out)["x"] == "y"  # source metadata carried over


def test_large_tensor_streamed_in_blocks(tmp_path, monkeypatch):
    from modellens.convert import stream

    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    g = torch.Generator().manual_seed(2)
    base = torch.randn(64, 300, generator=g)
    sd = {"t": base.t(), "c": base, "s": base[:, 7:250:3]}
    torch.save(sd, tmp_path / "m.pt")
    out = tmp_path / "m.safetensors"
    modellens.convert(tmp_path / "m.pt", out, dtype="f16", verify=True)
    got = safetensors_torch.load_file(out)
    for k, t in sd.items():
        assert torch.equal(got[k], t.half().contiguous())


def test_sharded_safetensors_source_and_target(tmp_path):
    g = torch.Generator().manual_seed(3)
    sd = {f"layer.{i}.weight": torch.randn(64, 64, generator=g) for i in range(10)}
    out_dir = tmp_path / "sharded"
    report = modellens.convert(_save(tmp_path, sd), out_dir, shard_size="40KB", verify=True)
    assert report.shards == 5  # 16 KB tensors: two fit in 40 KB, a third does not
    index = json.loads((out_dir / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_size"] == 10 * 64 * 64 * 4
    names = sorted(set(index["weight_map"].values()))
    assert names == [f"model-{i:05d}-of-{report.shards:05d}.safetensors"
                     for i in range(1, report.shards + 1)]
    got = {}
    for n in names:
        got.update(safetensors_torch.load_file(out_dir / n))
    _assert_same(got, sd, {})
    # the sharded folder is itself a source
    back = tmp_path / "back.safetensors"
    modellens.convert(out_dir, back, verify=True)
    _assert_same(safetensors_torch.load_file(back), sd, {})


def _save(tmp_path: Path, sd: dict) -> Path:
    p = tmp_path / "src.pt"
    torch.save(sd, p)
    return p


def test_shard_plan_matches_huggingface_hub(tmp_path):
    from huggingface_hub import split_torch_state_dict_into_shards

    g = torch.Generator().manual_seed(4)
    sizes = [10, 300, 40, 2000, 7, 800, 800, 3, 1500]
    sd = {f"t{i}": torch.randn(n, generator=g) for i, n in enumerate(sizes)}
    split = split_torch_state_dict_into_shards(sd, max_shard_size=4000)
    out = tmp_path / "out"
    modellens.convert(_save(tmp_path, sd), out, shard_size=4000)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert index["weight_map"] == split.tensor_to_filename
    assert index["metadata"]["total_size"] == split.metadata["total_size"]


def test_filter_and_rename(tmp_path):
    sd = {"model.a.weight": torch.ones(2), "model.b.weight": torch.zeros(3), "other": torch.ones(1)}
    out = tmp_path / "o.safetensors"
    report = modellens.convert(_save(tmp_path, sd), out, filter=r"^model\.",
                               rename=[r"^model\.=>", r"weight$=>w"])
    got = safetensors_torch.load_file(out)
    assert set(got) == {"a.w", "b.w"} and report.tensors == 2
    with pytest.raises(ModelLensError, match="maps both"):
        modellens.convert(_save(tmp_path, sd), tmp_path / "x.safetensors", rename=[r".*=>same"])
    with pytest.raises(ModelLensError, match="matched none"):
        modellens.convert(_save(tmp_path, sd), tmp_path / "y.safetensors", filter="nothing")


def test_npz_target_and_source(tmp_path):
    sd = {k: v for k, v in _state().items() if k not in ("bf16", "f8", "f8b")}
    out = tmp_path / "m.npz"
    report = modellens.convert(_save(tmp_path, sd), out, verify=True)
    with np.load(out) as z:  # allow_pickle is False by default
        assert set(z.files) == set(sd) - set(report.aliases_dropped)
        for k in z.files:
            np.testing.assert_array_equal(z[k], sd[k].numpy())
            assert z[k].dtype == sd[k].numpy().dtype
    # npz (stored and deflated) back to safetensors
    arrays = {"x": np.arange(12, dtype=np.float32).reshape(3, 4), "y": np.ones(5, np.int16),
              "f": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3))}
    for saver in (np.savez, np.savez_compressed):
        p = tmp_path / f"{saver.__name__}.npz"
        saver(p, **arrays)
        o = tmp_path / f"{saver.__name__}.safetensors"
        modellens.convert(p, o, verify=True)
        got = safetensors_numpy.load_file(o)
        for k, a in arrays.items():
            np.testing.assert_array_equal(got[k], a)


def test_npz_refuses_bf16_without_cast(tmp_path):
    sd = {"b": torch.ones(3, dtype=torch.bfloat16)}
    with pytest.raises(ModelLensError, match="--dtype f32"):
        modellens.convert(_save(tmp_path, sd), tmp_path / "o.npz")
    assert not (tmp_path / "o.npz").exists()
    modellens.convert(_save(tmp_path, sd), tmp_path / "o.npz", dtype="f32")
    with np.load(tmp_path / "o.npz") as z:
        assert z["b"].dtype == np.float32


def test_whole_pickled_module_converted_by_state_dict_names(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU())
    torch.save(model, tmp_path / "module.pt")
    out = tmp_path / "module.safetensors"
    modellens.convert(tmp_path / "module.pt", out, verify=True)
    _assert_same(safetensors_torch.load_file(out), model.state_dict(), {})


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_malicious_pickle_refused_and_nothing_written(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(2), "x": _Evil()}, path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(UnsafeError, match="posix.system|os.system"):
        modellens.convert(path, tmp_path / "out.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    res = run_cli("convert", path, tmp_path / "out.safetensors")
    assert_one_line_error(res, "refusing to convert", "system")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_trusted_global_is_an_explicit_opt_in(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(2), "x": _Evil()}, path)
    report = modellens.convert(path, tmp_path / "o.safetensors", trust_globals=["posix.*"])
    assert report.tensors == 1  # nothing was run: the call is only skipped as non-tensor data
    assert torch.equal(safetensors_torch.load_file(tmp_path / "o.safetensors")["w"], torch.ones(2))


def test_scanner_verdict_is_asked(tmp_path, monkeypatch):
    from modellens.convert import safety

    src = _save(tmp_path, {"a": torch.ones(2)})
    monkeypatch.setattr(safety, "_scanner_verdict", lambda p, t: (True, "a planted finding"))
    with pytest.raises(UnsafeError, match="scanner finds it dangerous .a planted finding"):
        modellens.convert(src, tmp_path / "o.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["src.pt"]


def test_legacy_raw_pickle_with_custom_class_needs_trust(tmp_path):
    # A pickled module of a user class: refused, then accepted when its class is named.
    path = tmp_path / "custom.pt"
    data = _custom_module_pickle()
    path.write_bytes(data)
    with pytest.raises(UnsafeError, match="mypkg.Net"):
        modellens.convert(path, tmp_path / "o.safetensors")
    report = modellens.convert(path, tmp_path / "o.safetensors", trust_globals=["mypkg.Net"],
                               verify=True)
    assert report.tensors == 2
    got = safetensors_torch.load_file(tmp_path / "o.safetensors")
    assert set(got) == {"fc.weight", "fc.bias"}


def _custom_module_pickle() -> bytes:
    """torch.save of an nn.Module whose class lives in a module that does not exist here."""
    import sys
    import types

    mod = types.ModuleType("mypkg")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 3)

    Net.__module__ = "mypkg"
    Net.__qualname__ = "Net"
    mod.Net = Net
    sys.modules["mypkg"] = mod
    try:
        import io

        buf = io.BytesIO()
        torch.save(Net(), buf)
        return buf.getvalue()
    finally:
        del sys.modules["mypkg"]


def test_existing_destination_needs_force(tmp_path):
    src = _save(tmp_path, {"a": torch.ones(2)})
    out = tmp_path / "o.safetensors"
    out.write_bytes(b"keep me")
    with pytest.raises(ModelLensError, match="--force"):
        modellens.convert(src, out)
    assert out.read_bytes() == b"keep me"
    modellens.convert(src, out, force=True)
    assert torch.equal(safetensors_torch.load_file(out)["a"], torch.ones(2))
    with pytest.raises(ModelLensError, match="is the source"):
        modellens.convert(src, src, force=True, to="safetensors")


def test_verify_reports_first_mismatch(tmp_path, monkeypatch):
    from modellens.convert import api

    src = _save(tmp_path, {"a": torch.arange(10, dtype=torch.float32), "b": torch.ones(4)})
    real = api.stw.write_file

    def corrupt(path, tensors, meta, progress=None, check=None):
        n = real(path, tensors, meta, progress, check)
        with open(path, "r+b") as fh:  # flip one byte of tensor "b"
            fh.seek(n - 3)
            byte = fh.read(1)
            fh.seek(n - 3)
            fh.write(bytes([byte[0] ^ 0xFF]))
        return n

    monkeypatch.setattr(api.stw, "write_file", corrupt)
    with pytest.raises(modellens.convert.VerificationError, match="'b' differs at byte 13"):
        modellens.convert(src, tmp_path / "o.safetensors", verify=True)
    assert [p.name for p in tmp_path.iterdir()] == ["src.pt"]


def test_full_disk_leaves_nothing(tmp_path, monkeypatch):
    from modellens.convert import stream

    src = _save(tmp_path, {"a": torch.ones(1000), "b": torch.ones(1000).t()})

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(stream, "pwrite_all", full)
    monkeypatch.setattr(stream, "_copy_ok", False)
    with pytest.raises(ModelLensError, match="no space left"):
        modellens.convert(src, tmp_path / "o.safetensors", dtype="f16")
    assert [p.name for p in tmp_path.iterdir()] == ["src.pt"]


def test_cli_json_and_quiet(tmp_path):
    src = _save(tmp_path, _state())
    res = run_cli("convert", src, tmp_path / "o.safetensors", "--json", "--verify")
    assert res.code == 0, res.stderr
    d = res.json()
    assert d["schema"] == "modellens.convert/1"
    assert d["verified"] is True and d["aliases_dropped"] == {"tied": "f32"}
    assert d["tensors"] == len(_state()) - 1
    res = run_cli("convert", src, tmp_path / "q.safetensors", "--quiet")
    assert res.code == 0 and res.stdout == "" and res.stderr == ""
    res = run_cli("convert", src, tmp_path / "q.safetensors")
    assert_one_line_error(res, "exists", "--force")
    res = run_cli("convert", src, tmp_path / "r.safetensors", "--dtype", "f12")
    assert_one_line_error(res, "--dtype")


def test_unknown_source_is_one_line_error(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    assert_one_line_error(run_cli("convert", p, tmp_path / "o.safetensors"), "not a recognised")
    assert not (tmp_path / "o.safetensors").exists()


def test_zip_with_compressed_storage_is_refused_cleanly(tmp_path):
    src = _save(tmp_path, {"a": torch.ones(100)})
    bad = tmp_path / "deflated.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    with pytest.raises(ModelLensError, match="compressed"):
        modellens.convert(bad, tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()


def test_folder_target_replaced_only_with_force(tmp_path):
    src = _save(tmp_path, {"a": torch.ones(2), "b": torch.zeros(3)})
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(ModelLensError, match="--force"):
        modellens.convert(src, out)
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    report = modellens.convert(src, out, force=True, verify=True)
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors"]
    assert report.files == (str(out / "model.safetensors"),)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src.pt"]  # no leftovers
