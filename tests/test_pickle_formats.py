"""Raw pickles and joblib files, written by pickle/joblib themselves, read back statically."""

from __future__ import annotations

import dataclasses
import pickle
import struct
import time
import zlib

import numpy as np
import pytest

import modellens.formats.pickle as pickle_format
from modellens.core.errors import CorruptFileError, LimitExceededError, UnsupportedFormatError
from modellens.core.io import LIMITS
from modellens.formats import read_file

NP_NAMES = {np.float64: "F64", np.float32: "F32", np.float16: "F16", np.int64: "I64",
            np.int32: "I32", np.int8: "I8", np.uint8: "U8", np.bool_: "BOOL", np.int16: "I16"}


def _arrays() -> dict:
    rng = np.random.default_rng(0)
    return {
        "f64": rng.standard_normal((3, 4)),
        "f32": rng.standard_normal(10).astype(np.float32),
        "f16": np.arange(6, dtype=np.float16).reshape(2, 3),
        "fortran": np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)),
        "i8": np.arange(-3, 3, dtype=np.int8),
        "u8": np.arange(300, dtype=np.uint8).reshape(100, 3)[:5],
        "bool": np.array([True, False]),
        "big": np.arange(5000, dtype=np.int64),
        "scalar_array": np.array(2.5),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


def _check(info, arrays, path, raw_offsets=True):
    got = {t.name: t for t in info.tensors}
    assert set(got) == set(arrays)
    data = path.read_bytes()
    for name, a in arrays.items():
        t = got[name]
        assert t.dtype == NP_NAMES[a.dtype.type], name
        assert t.shape == a.shape
        assert t.nbytes == a.nbytes
        fortran = a.flags.f_contiguous and not a.flags.c_contiguous
        if raw_offsets and a.nbytes:
            assert t.offset is not None, name
            assert data[t.offset : t.offset + t.nbytes] == a.tobytes(order="F" if fortran else "C")
        if fortran:
            assert t.strides == tuple(s // a.itemsize for s in a.strides)
    assert info.parameters == sum(a.size for a in arrays.values())


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_of_numpy_arrays(tmp_path, protocol):
    arrays = _arrays()
    path = tmp_path / "arrays.pkl"
    path.write_bytes(pickle.dumps({**arrays, "epoch": 7, "name": "run"}, protocol=protocol))
    info = read_file(str(path))
    assert info.format == "pickle"
    # protocols 0-2 spell bytes as latin-1 text: no verbatim bytes to point at
    _check(info, arrays, path, raw_offsets=protocol >= 3)
    assert info.metadata["epoch"] == 7 and info.metadata["name"] == "run"
    assert any(g.endswith("_reconstruct") or g.endswith("_frombuffer")
               for g in info.metadata["globals"])
    assert not info.warnings


def test_joblib_plain(tmp_path):
    joblib = pytest.importorskip("joblib")
    arrays = _arrays()
    path = tmp_path / "model.joblib"
    joblib.dump({**arrays, "objects": np.array([1, "x"], dtype=object), "n": 3}, path)
    info = read_file(str(path))
    assert info.format == "joblib"
    _check(info, arrays, path)
    assert info.metadata["n"] == 3
    assert "joblib.numpy_pickle.NumpyArrayWrapper" in info.metadata["globals"]


@pytest.mark.parametrize("method", ["zlib", "gzip", "bz2", "lzma", "xz"])
def test_joblib_compressed(tmp_path, method):
    joblib = pytest.importorskip("joblib")
    arrays = _arrays()
    path = tmp_path / f"model.{method}.pkl"
    joblib.dump(arrays, path, compress=(method, 3))
    info = read_file(str(path))
    assert info.format == "joblib"
    assert info.metadata["compression"] == method
    _check(info, arrays, path, raw_offsets=False)
    assert all(t.offset is None for t in info.tensors)


def test_joblib_single_array_and_list(tmp_path):
    joblib = pytest.importorskip("joblib")
    a = np.arange(10.0)
    joblib.dump(a, tmp_path / "a.joblib")
    info = read_file(str(tmp_path / "a.joblib"))
    assert [(t.name, t.shape) for t in info.tensors] == [("array", (10,))]
    joblib.dump([a, a * 2], tmp_path / "l.joblib")
    info = read_file(str(tmp_path / "l.joblib"))
    assert [t.name for t in info.tensors] == ["0", "1"]


def test_sklearn_estimator(tmp_path):
    sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed (optional)")
    from sklearn.linear_model import LinearRegression

    joblib = pytest.importorskip("joblib")
    X = np.random.default_rng(0).standard_normal((20, 3))
    est = LinearRegression().fit(X, X @ np.array([1.0, 2.0, 3.0]))
    for dump in (lambda p: p.write_bytes(pickle.dumps(est)), lambda p: joblib.dump(est, p)):
        path = tmp_path / "est.pkl"
        dump(path)
        info = read_file(str(path))
        names = {t.name for t in info.tensors}
        assert "coef_" in names
        assert any("sklearn" in g for g in info.metadata["globals"])
    del sklearn


def test_unknown_globals_are_listed_not_run(tmp_path):
    # os.system('echo hi') spelled by hand: inspect must list it, never call it
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"\x80\x02}q\x00X\x01\x00\x00\x00xcos\nsystem\nX\x07\x00\x00\x00echo hi"
                     b"\x85Rs.")
    info = read_file(str(path))
    assert info.format == "pickle"
    assert info.metadata["globals"] == ["os.system"]
    assert any("os.system" in w for w in info.warnings)
    assert "os.system" in str(info.metadata["x"])


def test_several_pickles_in_one_file(tmp_path):
    path = tmp_path / "two.pkl"
    path.write_bytes(pickle.dumps({"a": np.ones(3)}, protocol=4) + pickle.dumps([1], protocol=4))
    info = read_file(str(path))
    assert [t.name for t in info.tensors] == ["a"]
    assert any("2 pickles" in w for w in info.warnings)


def _expect_error(tmp_path, data: bytes, name="bad.pkl"):
    path = tmp_path / name
    path.write_bytes(data)
    t = time.perf_counter()
    with pytest.raises((CorruptFileError, UnsupportedFormatError)) as e:
        read_file(str(path))
    assert time.perf_counter() - t < 10
    return e.value


def test_malformed_pickles(tmp_path):
    good = pickle.dumps({"w": np.arange(100.0)}, protocol=4)
    _expect_error(tmp_path, good[: len(good) // 2])  # ends mid-opcode / mid-bytes
    _expect_error(tmp_path, good[:-1])  # no STOP
    _expect_error(tmp_path, b"\x80\x04" + b"(" * 1_000_000 + b".")
    _expect_error(tmp_path, b"\x80\x04" + b"]" * 200_000 + b"a" * 199_999 + b".")
    _expect_error(tmp_path, b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc.")
    _expect_error(tmp_path, b"\x80\x04\x95" + struct.pack("<Q", 2**40) + b"K\x01.")
    # an array whose shape claims more bytes than the pickle holds: (100,) -> (101,)
    lie = good.replace(b"Kd\x85", b"Ke\x85", 1)
    assert lie != good
    assert "needs 808 bytes" in str(_expect_error(tmp_path, lie))


def test_malformed_joblib(tmp_path):
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "m.joblib"
    joblib.dump({"w": np.arange(1000.0), "b": np.ones(3)}, path)
    data = path.read_bytes()
    _expect_error(tmp_path, data[: len(data) // 2], "cut.joblib")  # array bytes cut short
    # a wrapper claiming a shape far larger than the file
    bad = data.replace(b"M\xe8\x03", b"J\x00\x00\x00\x10", 1)
    assert bad != data
    _expect_error(tmp_path, bad, "shape.joblib")
    joblib.dump({"w": np.arange(1000.0)}, path, compress=("zlib", 3))
    z = path.read_bytes()
    _expect_error(tmp_path, z[: len(z) // 2], "cut.zlib.joblib")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    bomb = zlib.compress(b"\x80\x04K\x01." + b"\x00" * (8 << 20), 9)
    assert len(bomb) < 20_000
    monkeypatch.setattr(pickle_format, "LIMITS",
                        dataclasses.replace(LIMITS, max_decompressed_bytes=1 << 20))
    path = tmp_path / "bomb.joblib"
    path.write_bytes(bomb)
    with pytest.raises(LimitExceededError, match="bomb"):
        read_file(str(path))


def test_not_a_pickle(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(b"hello world, this is text\n")
    with pytest.raises(UnsupportedFormatError):
        read_file(str(path))
