"""TensorFlow, Keras, Flax, scikit-learn, PMML and Caffe files, read without their frameworks.

The committed fixtures under ``tests/fixtures/framework/`` were written by the frameworks
themselves (``make_fixtures.py``, versions in its README); ``expected.json`` holds what the
writers' own APIs report about them (``count_params()``, ``tf.train.list_variables``, the
signatures of the loaded SavedModel, the Flax parameter tree …).  scikit-learn / joblib files
are written here, in ``tmp_path``.  Malformed variants are built from the fixtures and must fail
through the CLI with one line and exit 2, inside a bounded address space.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from modellens.core.errors import CorruptFileError, UnsafeError
from modellens.formats import read_file
from modellens.layouts import read_path

from .conftest import assert_one_line_error, run_cli

FIX = Path(__file__).parent / "fixtures" / "framework"
EXPECTED = json.loads((FIX / "expected.json").read_text())
BOUNDED = dict(timeout=30, memory_limit=1 * 2**30)
TF_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "int64": "I64",
             "int32": "I32", "string": "STRING", "float64": "F64"}


def _check_offsets(info, root: Path) -> None:
    """Every located tensor lies inside its file, and no two overlap."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for t in info.tensors:
        if t.offset is None or t.alias_of:
            continue
        path = root / t.file if not Path(t.file).is_absolute() and (root / t.file).exists() else Path(t.file)
        assert t.offset + t.nbytes <= path.stat().st_size, t.name
        spans.setdefault(str(path), []).append((t.offset, t.offset + t.nbytes))
    for s in spans.values():
        s.sort()
        assert all(a[1] <= b[0] for a, b in zip(s, s[1:]))


# -- Keras --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, fmt", [("mlp.h5", "keras-h5"), ("mlp.keras", "keras-v3"),
                                       ("mlp.weights.h5", "keras-h5")])
def test_keras_mlp_counts_match_keras(name, fmt):
    exp = EXPECTED["keras"]["mlp"]
    info = read_path(FIX / "keras" / name)
    assert info.format == fmt
    assert info.parameters == exp["count_params"]
    assert len(info.tensors) == len(exp["weights"])
    assert sorted(t.shape for t in info.tensors) == sorted(tuple(w["shape"]) for w in exp["weights"])
    assert {t.dtype for t in info.tensors} == {"F32"}
    opt = info.metadata["optimizer"]
    assert opt["variables"] == exp["optimizer_variables"]
    assert opt["elements"] == exp["optimizer_elements"]
    if fmt == "keras-v3" or name == "mlp.h5":
        assert info.metadata["keras_version"] == EXPECTED["versions"]["keras"]
        assert info.architecture["name"] == "mlp"
        assert [l["name"] for l in info.metadata["layers"] if l["class_name"] != "InputLayer"] == \
            [l["name"] for l in exp["layers"]]
        assert info.graph["inputs"] == [{"name": "features", "dtype": "F32", "shape": [None, 8]}]
        assert [o["name"] for o in info.graph["outputs"]] == ["logits"]


def test_keras_tensor_offsets_hold_the_weights():
    h5py = pytest.importorskip("h5py")
    for name in ("mlp.h5", "mlp.weights.h5", "two_tower.h5"):
        path = FIX / "keras" / name
        info = read_path(path)
        data = path.read_bytes()
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            for t in info.tensors:
                want = np.asarray(root[t.name][()]).tobytes()
                assert data[t.offset : t.offset + t.nbytes] == want, (name, t.name)
    path = FIX / "keras" / "two_tower.keras"
    info = read_path(path)
    data = path.read_bytes()
    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        for t in info.tensors:
            assert data[t.offset : t.offset + t.nbytes] == np.asarray(f[t.name][()]).tobytes()
    _check_offsets(info, path.parent)


@pytest.mark.parametrize("name", ["two_tower.keras", "two_tower.h5"])
def test_keras_functional_lambda_custom_bf16(name):
    exp = EXPECTED["keras"]["two_tower"]
    info = read_path(FIX / "keras" / name)
    assert info.parameters == exp["count_params"]
    bf16 = sum(math.prod(w["shape"]) for w in exp["weights"] if w["dtype"] == "bfloat16")
    assert info.dtypes["BF16"] == bf16
    assert [l["name"] for l in info.metadata["lambda_layers"]] == exp["lambda_layers"]
    assert info.metadata["lambda_layers"][0]["function"] == "bytecode"
    assert info.metadata["custom_objects"] == exp["custom_objects"]
    assert any("Lambda" in w for w in info.warnings) and any("custom objects" in w for w in info.warnings)
    got_inputs = [(i["name"], i["shape"]) for i in info.graph["inputs"]]
    assert got_inputs == [(i["name"], i["shape"]) for i in exp["inputs"]]
    assert [o["name"] for o in info.graph["outputs"]] == exp["outputs"]
    assert info.graph["operators"]["Dense"] == 2


def test_keras_cli_shows_lambda_and_custom_objects():
    res = run_cli("inspect", FIX / "keras" / "two_tower.keras")
    assert res.code == 0, res.stderr
    assert "Lambda layer" in res.stdout and "fixtures>Scale" in res.stdout
    res = run_cli("inspect", "--json", FIX / "keras" / "mlp.h5")
    d = res.json()
    assert d["format"] == "keras-h5" and d["parameters"] == EXPECTED["keras"]["mlp"]["count_params"]
    assert d["graph"]["inputs"][0]["name"] == "features"


def test_plain_hdf5_is_not_a_keras_model(tmp_path):
    h5py = pytest.importorskip("h5py")
    p = tmp_path / "data.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.arange(4)
    res = run_cli("inspect", p, **BOUNDED)
    assert_one_line_error(res, "not a Keras model")


# -- TensorFlow ---------------------------------------------------------------------------------

def _variables(exp: dict) -> dict[str, tuple[str, tuple[int, ...]]]:
    return {v["name"]: (TF_DTYPES[v["dtype"]], tuple(v["shape"])) for v in exp["variables"]
            if v["name"] != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def _sig(entries: list[dict]) -> dict:
    return {e["name"]: {"dtype": e["dtype"], "shape": e["shape"]} for e in entries}


@pytest.mark.parametrize("name", ["savedmodel_module", "savedmodel_keras"])
def test_savedmodel_matches_tensorflow(name):
    exp = EXPECTED["tensorflow"][name]
    root = FIX / "tensorflow" / name
    info = read_path(root)
    assert info.format == "tf-savedmodel"
    assert {t.name: (t.dtype, t.shape) for t in info.tensors} == _variables(exp)
    assert info.metadata["tags"] == exp["tags"]
    assert info.graph["tags"] == exp["tags"]
    assert set(info.graph["signatures"]) == set(exp["signatures"])
    for key, sig in exp["signatures"].items():
        got = info.graph["signatures"][key]
        for side in ("inputs", "outputs"):
            assert _sig(got[side]) == {k: {"dtype": TF_DTYPES[v["dtype"]], "shape": v["shape"]}
                                       for k, v in sig[side].items()}
    assert info.graph["operators"] and info.graph["node_count"] > 0
    assert info.metadata["fingerprint"]["saved_model_checksum"].isdigit()
    _check_offsets(info, root)
    if "count_params" in exp:  # Keras export stores each weight twice: counted once
        assert info.parameters == exp["count_params"]
        assert len(info.aliases) == len(info.tensors) // 2
    else:
        assert info.parameters == sum(math.prod(s) for _, s in _variables(exp).values())
        assert info.metadata["assets"] == exp["assets"]


def test_savedmodel_named_by_any_of_its_files():
    root = FIX / "tensorflow" / "savedmodel_module"
    whole = read_path(root)
    for rel in ("saved_model.pb", "variables/variables.index", "variables/variables.data-00000-of-00001"):
        info = read_path(root / rel)
        assert info.format == "tf-savedmodel"
        assert [t.name for t in info.tensors] == [t.name for t in whole.tensors]


def test_tf_checkpoint_matches_list_variables():
    exp = EXPECTED["tensorflow"]["checkpoint"]
    root = FIX / "tensorflow" / "checkpoint"
    want = _variables(exp)
    for target in (root, root / "ckpt-1.index", root / "ckpt-1.data-00000-of-00001"):
        info = read_path(target)
        assert info.format == "tf-checkpoint"
        assert {t.name: (t.dtype, t.shape) for t in info.tensors} == want
        assert info.parameters == sum(math.prod(s) for _, s in want.values())
        assert info.metadata["object_based"] is True
        _check_offsets(info, root)
    res = run_cli("inspect", "--json", root)
    assert res.code == 0 and res.json()["tensor_count"] == len(want)


def test_tf_checkpoint_picks_the_latest_prefix(tmp_path):
    src = FIX / "tensorflow" / "checkpoint"
    for f in src.iterdir():
        shutil.copy(f, tmp_path / f.name)
        shutil.copy(f, tmp_path / f.name.replace("ckpt-1", "ckpt-2"))
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\n'
                                         'all_model_checkpoint_paths: "ckpt-1"\n')
    info = read_path(tmp_path)
    assert info.metadata["checkpoint_prefix"] == "ckpt-2"
    assert info.metadata["other_checkpoints"] == ["ckpt-1"]


# -- Flax ---------------------------------------------------------------------------------------

def test_flax_msgpack_tree_matches_flax():
    exp = EXPECTED["flax"]["mlp"]
    path = FIX / "flax" / "mlp.msgpack"
    info = read_path(path)
    assert info.format == "flax-msgpack"
    names = {"float32": "F32", "bfloat16": "BF16", "int32": "I32"}
    assert {t.name: (t.dtype, list(t.shape)) for t in info.tensors} == \
        {k: (names[v["dtype"]], v["shape"]) for k, v in exp["tensors"].items()}
    assert info.groups["params"] == exp["param_count"]
    assert info.metadata["params_parameters"] == exp["param_count"]
    assert info.parameters == exp["total_elements"]
    assert info.metadata["note"] == "fixture"
    msgpack = pytest.importorskip("msgpack")
    ml_dtypes = pytest.importorskip("ml_dtypes")

    def hook(code, payload):
        shape, dt, buf = msgpack.unpackb(payload, raw=False)
        dt = ml_dtypes.bfloat16 if dt == "bfloat16" else np.dtype(dt)
        return np.frombuffer(buf, dtype=dt).reshape(shape)

    data = path.read_bytes()
    tree = msgpack.unpackb(data, ext_hook=hook, strict_map_key=False)
    for t in info.tensors:
        node = tree
        for part in t.name.split("."):
            node = node[part]
        assert data[t.offset : t.offset + t.nbytes] == node.tobytes(), t.name


def test_flax_chunked_array(tmp_path):
    msgpack = pytest.importorskip("msgpack")

    def nd(a):
        return msgpack.ExtType(1, msgpack.packb((list(a.shape), a.dtype.name, a.tobytes()), use_bin_type=True))

    flat = np.arange(10, dtype=np.float32)
    doc = {"params": {"w": {"__msgpack_chunked_array__": True, "shape": {"0": 2, "1": 5},
                            "chunks": {"0": nd(flat[:6]), "1": nd(flat[6:])}}, "b": nd(np.zeros(3, np.float16))}}
    p = tmp_path / "chunked.msgpack"
    p.write_bytes(msgpack.packb(doc, use_bin_type=True))
    info = read_file(str(p))
    got = {t.name: (t.dtype, t.shape, t.nbytes) for t in info.tensors}
    assert got == {"params.w": ("F32", (2, 5), 40), "params.b": ("F16", (3,), 6)}


# -- scikit-learn / joblib ----------------------------------------------------------------------

def _fitted_arrays(est) -> dict[str, np.ndarray]:
    return {k: v for k, v in vars(est).items()
            if isinstance(v, np.ndarray) and not v.dtype.hasobject and v.dtype.fields is None}


@pytest.mark.parametrize("writer", ["joblib", "pickle"])
def test_sklearn_pipeline_summary(tmp_path, writer):
    joblib = pytest.importorskip("joblib")
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.random((30, 5))
    y = (X[:, 0] > 0.5).astype(int)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y)
    p = tmp_path / f"pipe.{writer}"
    if writer == "joblib":
        joblib.dump(pipe, p)
    else:
        p.write_bytes(pickle.dumps(pipe, protocol=5))
    info = read_path(p)
    sk = info.metadata["sklearn"]
    assert sk["estimator"] == "sklearn.pipeline.Pipeline"
    assert sk["steps"] == [["scale", "sklearn.preprocessing._data.StandardScaler"],
                           ["clf", "sklearn.linear_model._logistic.LogisticRegression"]]
    assert info.metadata["estimator"] == "Pipeline(StandardScaler → LogisticRegression)"
    by_path = {e["path"]: e for e in sk["estimators"]}
    for i, (_, est) in enumerate(pipe.steps):
        arrays = _fitted_arrays(est)
        e = by_path[f"steps.{i}.1"]
        assert e["fitted"] is True
        assert e["arrays"] == len(arrays), (e, list(arrays))
        assert e["parameters"] == sum(a.size for a in arrays.values())
    assert info.parameters == sum(a.size for _, est in pipe.steps for a in _fitted_arrays(est).values())


def test_sklearn_forest_summary(tmp_path):
    joblib = pytest.importorskip("joblib")
    pytest.importorskip("sklearn")
    from sklearn.ensemble import RandomForestRegressor

    X = np.random.default_rng(1).random((40, 3))
    forest = RandomForestRegressor(n_estimators=4, max_depth=3, random_state=0).fit(X, X[:, 0])
    p = tmp_path / "forest.joblib"
    joblib.dump(forest, p)
    info = read_path(p)
    sk = info.metadata["sklearn"]
    assert sk["estimator"] == "sklearn.ensemble._forest.RandomForestRegressor"
    trees = [e for e in sk["estimators"] if e["class"].endswith(".DecisionTreeRegressor")]
    assert sum(e["fitted"] for e in trees) == len(forest.estimators_)  # + the unfitted template
    assert sk["classes"]["Tree"] == len(forest.estimators_)
    # each tree's node table is a record array (skipped, with a warning); its values are listed
    assert len(info.tensors) == len(forest.estimators_)
    assert info.parameters == sum(t.tree_.value.size for t in forest.estimators_)
    assert "RandomForestRegressor" in info.metadata["estimator"]


# -- PMML ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tree", "forest", "regression", "mlp"])
def test_pmml_from_nyoka(name):
    exp = EXPECTED["pmml"][name]
    info = read_path(FIX / "pmml" / f"{name}.pmml")
    md = info.metadata
    assert info.format == "pmml" and not info.tensors
    assert md["pmml_version"] == exp["pmml_version"]
    assert md["application"] == exp["application"]
    assert md["application_version"] == exp["application_version"]
    assert md["model_type"] == exp["model_element"]
    assert [f["name"] for f in md["data_fields"]] == exp["fields"]
    model = md["models"][0]
    assert model["targets"] == ["target"] and model["inputs"] == exp["fields"][:-1]
    assert [i["name"] for i in info.graph["inputs"]] == exp["fields"][:-1]
    assert info.graph["outputs"][0]["name"] == "target"
    if "segments" in exp:
        assert model["segments"] == exp["segments"]
    if "tree_nodes" in exp:
        assert model["nodes"] == exp["tree_nodes"]
    if "coefficients" in exp:
        assert model["numeric_predictors"] == exp["coefficients"]


def test_pmml_refuses_dtd_and_entities(tmp_path):
    bomb = tmp_path / "bomb.pmml"
    lol = "".join(f'<!ENTITY l{i} "&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};">' for i in range(1, 10))
    bomb.write_text(f'<?xml version="1.0"?><!DOCTYPE PMML [<!ENTITY l0 "lol">{lol}]>'
                    '<PMML version="4.4"><Header copyright="&l9;"/></PMML>')
    with pytest.raises(UnsafeError):
        read_file(str(bomb))
    assert_one_line_error(run_cli("inspect", bomb, **BOUNDED), "DOCTYPE")
    xxe = tmp_path / "xxe.pmml"
    xxe.write_text('<?xml version="1.0"?><!DOCTYPE PMML [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   '<PMML version="4.4"><Header description="&x;"/></PMML>')
    assert_one_line_error(run_cli("inspect", xxe, **BOUNDED), "DOCTYPE")


# -- Caffe --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tiny_lenet", "legacy_v1"])
def test_caffemodel_blobs_match_caffe_proto(name):
    exp = EXPECTED["caffe"][name]
    path = FIX / "caffe" / f"{name}.caffemodel"
    info = read_path(path)
    assert info.format == "caffe"
    assert info.metadata["net_name"] == exp["name"]
    def norm(layers):  # V1 enum names (INNER_PRODUCT) are the layer types Caffe upgrades them to
        return [{**l, "type": l["type"].replace("_", "").lower()} for l in layers]

    assert norm(info.graph["layers"]) == norm(exp["layers"])
    got = {t.name: {"shape": list(t.shape), "dtype": t.dtype, "elements": t.parameters} for t in info.tensors}
    assert got == exp["blobs"]
    assert info.parameters == sum(b["elements"] for b in exp["blobs"].values())
    _check_offsets(info, path.parent)
    data = path.read_bytes()
    for t in info.tensors:  # the located bytes are finite floats (random normal values)
        vals = np.frombuffer(data, dtype="<f8" if t.dtype == "F64" else "<f4",
                             count=t.parameters, offset=t.offset)
        assert np.isfinite(vals).all() and np.abs(vals).max() < 10


def test_caffe_inputs_from_prototxt():
    info = read_path(FIX / "caffe" / "tiny_lenet.caffemodel")
    assert info.graph["inputs"] == [{"name": "data", "dtype": "F32", "shape": [1, 1, 12, 12]}]
    assert [o["name"] for o in info.graph["outputs"]] == ["prob"]
    assert info.metadata["prototxt"] == "tiny_lenet.prototxt"
    text_only = read_path(FIX / "caffe" / "tiny_lenet.prototxt")
    assert text_only.format == "caffe" and not text_only.tensors
    assert text_only.graph["operators"] == info.graph["operators"]
    v1 = read_path(FIX / "caffe" / "legacy_v1.caffemodel")
    assert v1.graph["inputs"] == [{"name": "data", "dtype": "F32", "shape": [1, 3, 8, 8]}]


# -- malformed variants: one line, exit 2, bounded -----------------------------------------------

def _copy(tmp_path: Path, rel: str) -> Path:
    src = FIX / rel
    dst = tmp_path / src.name
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
    return dst


def _truncate(p: Path, keep: float | int) -> Path:
    data = p.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    p.write_bytes(data[:n])
    return p


def _patch(p: Path, offset: int, new: bytes) -> Path:
    data = bytearray(p.read_bytes())
    data[offset : offset + len(new)] = new
    p.write_bytes(bytes(data))
    return p


def _index_with_huge_handle(tmp_path: Path) -> Path:
    d = _copy(tmp_path, "tensorflow/checkpoint")
    idx = d / "ckpt-1.index"
    data = bytearray(idx.read_bytes())
    footer = bytearray(48)
    footer[0:2] = b"\x00\x00"  # metaindex handle 0+0
    footer[2:12] = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"  # index offset 2**63-1
    footer[12] = 5
    footer[40:48] = struct.pack("<Q", 0xDB4775248B80FB57)
    idx.write_bytes(bytes(data[:-48]) + bytes(footer))
    return d


def _index_data_truncated(tmp_path: Path) -> Path:
    d = _copy(tmp_path, "tensorflow/checkpoint")
    _truncate(d / "ckpt-1.data-00000-of-00001", 100)
    return d


def _msgpack_huge_map(tmp_path: Path) -> Path:
    p = tmp_path / "huge.msgpack"
    p.write_bytes(b"\xdf\xff\xff\xff\xff" + b"\xa1a\xc7\x10\x01" + b"\x00" * 16)
    return p


def _msgpack_bad_ndarray(tmp_path: Path) -> Path:
    payload = b"\x93\x92\xce\x10\x00\x00\x00\x10\xa7float32\xc4\x04abcd"  # shape 2**28 x 16, 4 bytes
    p = tmp_path / "bad.msgpack"
    p.write_bytes(b"\x81\xa6params\xc7" + bytes([len(payload)]) + b"\x01" + payload)
    return p


def _h5_bad_config(tmp_path: Path) -> Path:
    h5py = pytest.importorskip("h5py")
    p = _copy(tmp_path, "keras/mlp.h5")
    with h5py.File(p, "a") as f:
        f.attrs["model_config"] = "{not json"
    return p


def _keras_v3_bad_superblock(tmp_path: Path) -> Path:
    p = _copy(tmp_path, "keras/two_tower.keras")
    at = p.read_bytes().index(b"\x89HDF\r\n\x1a\n")
    return _patch(p, at + 8, b"\xff" * 40)


def _caffe_bad_blob(tmp_path: Path) -> Path:
    p = _copy(tmp_path, "caffe/legacy_v1.caffemodel")
    data = p.read_bytes()
    i = data.index(b"\x08\x02\x10\x03\x18\x03\x20\x03")  # num 2, channels 3, height 3, width 3
    return _patch(p, i, b"\x08\x07")


MALFORMED = {
    "keras_h5_truncated": lambda t: _truncate(_copy(t, "keras/mlp.h5"), 0.5),
    "keras_h5_bad_config": _h5_bad_config,
    "keras_v3_truncated": lambda t: _truncate(_copy(t, "keras/mlp.keras"), 0.7),
    "keras_v3_bad_weights": _keras_v3_bad_superblock,
    "savedmodel_pb_truncated": lambda t: (_truncate(_copy(t, "tensorflow/savedmodel_module") / "saved_model.pb", 0.5)).parent,
    "savedmodel_pb_garbage": lambda t: _patch(_copy(t, "tensorflow/savedmodel_module") / "saved_model.pb", 0, b"\x12\xff\xff\xff\xff\x0f").parent,
    "checkpoint_bad_magic": lambda t: _patch(_copy(t, "tensorflow/checkpoint/ckpt-1.index"), -8 % 1436, b"\x00" * 8),
    "checkpoint_huge_handle": _index_with_huge_handle,
    "checkpoint_data_truncated": _index_data_truncated,
    "checkpoint_index_truncated": lambda t: _patch(_truncate(_copy(t, "tensorflow/checkpoint/ckpt-1.index"), 200), 0, b""),
    "flax_truncated": lambda t: _truncate(_copy(t, "flax/mlp.msgpack"), 0.6),
    "flax_huge_map": _msgpack_huge_map,
    "flax_bad_ndarray": _msgpack_bad_ndarray,
    "pmml_not_well_formed": lambda t: _truncate(_copy(t, "pmml/tree.pmml"), 0.5),
    "caffe_truncated": lambda t: _truncate(_copy(t, "caffe/tiny_lenet.caffemodel"), 0.5),
    "caffe_shape_mismatch": _caffe_bad_blob,
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_inputs_fail_in_one_line(tmp_path, case):
    target = MALFORMED[case](tmp_path)
    res = run_cli("inspect", target, **BOUNDED)
    assert_one_line_error(res)
    assert "corrupt" in res.stderr or "not a" in res.stderr or "DOCTYPE" in res.stderr, res.stderr


def test_malformed_raise_corrupt_file_error_in_the_library(tmp_path):
    for case in ("checkpoint_huge_handle", "flax_huge_map", "caffe_shape_mismatch"):
        target = MALFORMED[case](tmp_path / case if (tmp_path / case).mkdir() is None else tmp_path)
        with pytest.raises(CorruptFileError):
            read_path(target)
