""".npy and .npz written by numpy itself."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import modellens
from modellens import CorruptFileError
from modellens.formats import read_file


def test_npy_dtypes_and_offsets(tmp_path):
    for arr in (np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.zeros((5,), dtype=np.int64),
                np.array([True, False]), np.ones((3, 3), dtype=np.float16)):
        path = tmp_path / "a.npy"
        np.save(path, arr)
        info = modellens.inspect(str(path))
        (t,) = info.tensors
        assert info.format == "numpy-npy"
        assert t.shape == arr.shape and t.nbytes == arr.nbytes
        assert path.read_bytes()[t.offset : t.offset + t.nbytes] == arr.tobytes()
        assert info.parameters == arr.size


def test_npy_fortran_order(tmp_path):
    arr = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4))
    np.save(tmp_path / "f.npy", arr)
    (t,) = modellens.inspect(str(tmp_path / "f.npy")).tensors
    assert t.strides == (1, 3)  # element strides of column-major data


def test_npy_object_array_is_not_loaded(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    info = modellens.inspect(str(tmp_path / "o.npy"))
    assert info.tensors == ()
    assert any("allow_pickle" in w for w in info.warnings)


@pytest.mark.parametrize("compressed", [False, True])
def test_npz(tmp_path, compressed):
    arrays = {"w": np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32),
              "b": np.zeros(4, dtype=np.float32), "ids": np.arange(10, dtype=np.int32)}
    path = tmp_path / "m.npz"
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    info = modellens.inspect(str(path))
    assert info.format == "numpy-npz"
    ours = {t.name: t for t in info.tensors}
    with np.load(path) as ref:  # allow_pickle defaults to False
        assert set(ours) == set(ref.files)
        for k in ref.files:
            assert ours[k].shape == ref[k].shape
            if not compressed:
                raw = path.read_bytes()
                assert raw[ours[k].offset : ours[k].offset + ours[k].nbytes] == ref[k].tobytes()
            else:
                assert ours[k].offset is None
    assert info.parameters == sum(a.size for a in arrays.values())


def test_npy_bf16_via_ml_dtypes(tmp_path):
    # numpy saves ml_dtypes arrays with an anonymous void descriptor ('<V2'): the element type
    # is lost in the file, so it is reported, not guessed.
    np.save(tmp_path / "b.npy", np.zeros(3, dtype=ml_dtypes.bfloat16))
    info = modellens.inspect(str(tmp_path / "b.npy"))
    assert info.tensors == ()
    assert info.warnings == ("array: dtype '<V2' not listed as a tensor",)


def test_npy_corrupt(tmp_path):
    path = tmp_path / "c.npy"
    np.save(path, np.zeros((1000,), dtype=np.float32))
    raw = path.read_bytes()
    path.write_bytes(raw[:200])
    with pytest.raises(CorruptFileError, match="bytes"):
        read_file(str(path))
    path.write_bytes(raw[:8] + b"\xff\xff" + raw[10:20])
    with pytest.raises(CorruptFileError):
        read_file(str(path))
    path.write_bytes(raw.replace(b"(1000,)", b"(xxxx,)"))  # a name, not a literal
    with pytest.raises(CorruptFileError):
        read_file(str(path))
