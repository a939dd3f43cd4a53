"""Other sources and targets: Flax msgpack (both ways), Keras HDF5 and ONNX initializers."""

from __future__ import annotations

import numpy as np
import pytest

import modellens

safetensors_numpy = pytest.importorskip("safetensors.numpy")
msgpack = pytest.importorskip("msgpack")
ml_dtypes = pytest.importorskip("ml_dtypes")


# -- flax.serialization, as flax writes and reads it (flax itself needs jax) -------------------

def _flax_ext_pack(x):
    if isinstance(x, np.ndarray):
        return msgpack.ExtType(1, msgpack.packb((x.shape, x.dtype.name, x.tobytes("C")),
                                                use_bin_type=True))
    return x


def _flax_chunk(d, limit):
    for k, v in list(d.items()):
        if isinstance(v, dict):
            _flax_chunk(v, limit)
        elif v.size * v.dtype.itemsize > limit:
            per = max(1, int(limit / v.dtype.itemsize))
            flat = v.reshape(-1)
            d[k] = {"__msgpack_chunked_array__": True,
                    "shape": {str(i): s for i, s in enumerate(v.shape)},
                    "chunks": {str(i): flat[j : j + per]
                               for i, j in enumerate(range(0, flat.size, per))}}
    return d


def flax_to_bytes(tree, limit=2**30):
    return msgpack.packb(_flax_chunk(tree, limit), default=_flax_ext_pack, strict_types=True)


def _flax_ext_unpack(code, data):
    shape, name, buf = msgpack.unpackb(data, raw=True)
    dt = ml_dtypes.bfloat16 if name == b"bfloat16" else np.dtype(name)
    return np.frombuffer(buf, dtype=dt).reshape(shape)


def flax_restore(raw):
    def unchunk(d):
        if isinstance(d, dict) and d.get("__msgpack_chunked_array__"):
            chunks = [d["chunks"][str(i)] for i in range(len(d["chunks"]))]
            return np.concatenate(chunks).reshape(tuple(d["shape"][str(i)]
                                                        for i in range(len(d["shape"]))))
        if isinstance(d, dict):
            return {k: unchunk(v) for k, v in d.items()}
        return d

    return unchunk(msgpack.unpackb(raw, ext_hook=_flax_ext_unpack, raw=False))


def _flat(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        name = f"{prefix}.{k}" if prefix else k
        out.update(_flat(v, name) if isinstance(v, dict) else {name: v})
    return out


def _arrays():
    rng = np.random.default_rng(0)
    return {
        "transformer.h.0.attn.kernel": rng.standard_normal((8, 24)).astype(np.float32),
        "transformer.h.0.attn.bias": rng.standard_normal(24).astype(np.float16),
        "transformer.wte.embedding": rng.standard_normal((50, 8)).astype(ml_dtypes.bfloat16),
        "transformer.ln.scale": np.ones(8, np.float32),
        "step": np.arange(3, dtype=np.int32),
    }


def _st_file(tmp_path, arrays):
    """A safetensors source (numpy has no bf16: bf16 arrays go in as raw bytes via torch)."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    tensors = {}
    for k, a in arrays.items():
        if a.dtype == ml_dtypes.bfloat16:
            tensors[k] = torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
        else:
            tensors[k] = torch.from_numpy(a.copy())
    p = tmp_path / "src.safetensors"
    save_file(tensors, p)
    return p


@pytest.mark.parametrize("chunk", [None, 256], ids=["plain", "chunked"])
def test_safetensors_to_flax_msgpack(tmp_path, monkeypatch, chunk):
    from modellens.convert import flax_msgpack

    if chunk:
        monkeypatch.setattr(flax_msgpack, "MAX_CHUNK_SIZE", chunk)
    arrays = _arrays()
    out = tmp_path / "flax_model.msgpack"
    report = modellens.convert(_st_file(tmp_path, arrays), out, verify=True)
    assert report.target_format == "flax-msgpack" and report.verified
    restored = _flat(flax_restore(out.read_bytes()))
    assert set(restored) == set(arrays)
    for k, a in arrays.items():
        assert restored[k].dtype == a.dtype and restored[k].shape == a.shape, k
        assert restored[k].tobytes() == a.tobytes(), k
    # byte for byte what flax.serialization.msgpack_serialize writes for the same tree
    assert out.read_bytes() == flax_to_bytes(flax_restore(out.read_bytes()), limit=chunk or 2**30)


@pytest.mark.parametrize("chunk", [2**30, 100], ids=["plain", "chunked"])
def test_flax_msgpack_to_safetensors(tmp_path, chunk):
    arrays = {k: v for k, v in _arrays().items() if v.dtype != ml_dtypes.bfloat16}
    tree: dict = {}
    for k, v in arrays.items():
        node = tree
        *parents, leaf = k.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    src = tmp_path / "flax_model.msgpack"
    src.write_bytes(flax_to_bytes(tree, limit=chunk))
    out = tmp_path / "out.safetensors"
    modellens.convert(src, out, verify=True)
    got = safetensors_numpy.load_file(out)
    assert set(got) == set(arrays)
    for k, a in arrays.items():
        np.testing.assert_array_equal(got[k], a)
        assert got[k].dtype == a.dtype


def test_flax_msgpack_truncated_is_corrupt(tmp_path):
    src = tmp_path / "flax_model.msgpack"
    src.write_bytes(flax_to_bytes({"a": {"b": np.ones(100, np.float32)}})[:-50])
    with pytest.raises(modellens.CorruptFileError):
        modellens.convert(src, tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()


def test_keras_h5_to_safetensors(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(1)
    kernel = rng.standard_normal((4, 3)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    big = rng.standard_normal((64, 32)).astype(np.float64)
    legacy = tmp_path / "model.h5"
    with h5py.File(legacy, "w") as f:  # Keras 2 model.save(): model_weights/<layer>/<layer>/…:0
        g = f.create_group("model_weights/dense/dense")
        g["kernel:0"] = kernel
        g["bias:0"] = bias
        f.create_dataset("model_weights/emb/emb/embeddings:0", data=big, chunks=(16, 32),
                         compression="gzip")
        f.create_dataset("optimizer_weights/iter:0", data=np.int64(5))
        f.attrs["model_config"] = '{"class_name": "Sequential"}'
    out = tmp_path / "legacy.safetensors"
    modellens.convert(legacy, out, verify=True)
    got = safetensors_numpy.load_file(out)
    assert set(got) == {"dense.dense.kernel", "dense.dense.bias", "emb.emb.embeddings"}
    np.testing.assert_array_equal(got["dense.dense.kernel"], kernel)
    np.testing.assert_array_equal(got["emb.emb.embeddings"], big)

    v3 = tmp_path / "model.weights.h5"
    with h5py.File(v3, "w") as f:  # Keras 3 save_weights(): layers/<layer>/vars/<i>
        f["layers/dense/vars/0"] = kernel
        f["layers/dense/vars/1"] = bias
    out3 = tmp_path / "v3.safetensors"
    modellens.convert(v3, out3, dtype="f16", verify=True)
    got = safetensors_numpy.load_file(out3)
    np.testing.assert_array_equal(got["layers.dense.vars.0"], kernel.astype(np.float16))
    np.testing.assert_array_equal(got["layers.dense.vars.1"], bias.astype(np.float16))


@pytest.mark.parametrize("external", [False, True], ids=["embedded", "external"])
def test_onnx_initializers_to_safetensors(tmp_path, external):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2)
    w = rng.standard_normal((16, 8)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    idx = np.arange(4, dtype=np.int64)
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B"),
             numpy_helper.from_array(idx, "idx")]
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["X", "W", "B"], ["Y"])], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 8])], initializer=inits)
    model = helper.make_model(graph)
    path = tmp_path / "model.onnx"
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.data", size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    out = tmp_path / "onnx.safetensors"
    modellens.convert(path, out, verify=True)
    got = safetensors_numpy.load_file(out)
    np.testing.assert_array_equal(got["W"], w)
    np.testing.assert_array_equal(got["B"], b)
    np.testing.assert_array_equal(got["idx"], idx)
