"""Graph formats: ONNX, TFLite, OpenVINO IR, Core ML, TensorRT.

The committed fixtures under tests/fixtures/graph/ were written by the formats' own libraries
(make_fixtures.py, versions in expected.json); expected.json holds what those libraries report
(parameter counts, inputs, outputs, operators), recorded when the fixtures were made.  ONNX
models are also built here with ``onnx.helper`` (external data, Constant nodes, subgraphs).
Malformed variants are built inline; TensorRT is tested with a synthetic header, since a real
engine needs TensorRT and a GPU to build.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from modellens.layouts import read_path

from .conftest import REPO, assert_one_line_error, run_cli

FIX = REPO / "tests" / "fixtures" / "graph"
EXPECTED = json.loads((FIX / "expected.json").read_text())["fixtures"]
BOUNDED = dict(timeout=30, memory_limit=1 * 2**30)
NP_TO_DTYPE = {"float32": "F32", "float16": "F16", "int8": "I8", "uint8": "U8", "int32": "I32", "int64": "I64"}

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def graph(path) -> dict:
    info = read_path(path)
    assert info.graph is not None
    return info.to_dict(tensors=True)


# --- ONNX ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["torch_cnn.onnx", "torch_cnn_int8_dynamic.onnx", "mlp_matmulnbits4.onnx"])
def test_onnx_fixtures_match_writer(name):
    exp = EXPECTED[name]
    d = graph(FIX / name)
    assert d["format"] == "onnx"
    assert d["parameters"] == exp["parameters"]
    g = d["graph"]
    assert [(i["name"], i["shape"]) for i in g["inputs"]] == [(i["name"], i["shape"]) for i in exp["inputs"]]
    assert [(o["name"], o["shape"]) for o in g["outputs"]] == [(o["name"], o["shape"]) for o in exp["outputs"]]
    assert [i["dtype"] for i in g["inputs"]] == [NP_TO_DTYPE[i["elem_type"]] for i in exp["inputs"]]
    assert g["operators"] == exp["operators"]
    assert g["opsets"] == exp["opsets"]
    assert d["metadata"]["ir_version"] == exp["ir_version"]
    assert d["metadata"].get("producer_name", "") == exp["producer_name"]
    assert {t["name"] for t in d["tensors"]} == set(exp["initializers"])
    for t in d["tensors"]:
        assert t["shape"] == exp["initializers"][t["name"]]["shape"] or t.get("stored_shape") == \
            exp["initializers"][t["name"]]["shape"]


def test_onnx_offsets_point_at_the_bytes():
    path = FIX / "torch_cnn.onnx"
    m = onnx.load(str(path))
    raw = path.read_bytes()
    info = read_path(path)
    by_name = {t.name: t for t in info.tensors}
    for init in m.graph.initializer:
        t = by_name[init.name]
        assert raw[t.offset : t.offset + t.nbytes] == init.raw_data


def test_onnx_quantization_summaries():
    q = graph(FIX / "torch_cnn_int8_dynamic.onnx")["quantization"]
    assert q["method"] == "onnx-dynamic" and q["bits"] == 8
    assert q["quantized_parameters"] == 37720 and q["overhead_bytes"] > 0
    q = graph(FIX / "mlp_matmulnbits4.onnx")
    assert q["quantization"]["method"] == "onnx-matmulnbits"
    assert q["quantization"]["bits"] == 4 and q["quantization"]["group_size"] == 32
    w1 = next(t for t in q["tensors"] if t["name"].startswith("w1"))
    assert w1["shape"] == [128, 64] and w1["parameters"] == 64 * 128  # logical (N, K)


def _mlp(n_in=4, n_out=3, **kw):
    w = numpy_helper.from_array(np.arange(n_in * n_out, dtype=np.float32).reshape(n_in, n_out), "W")
    b = numpy_helper.from_array(np.ones(n_out, np.float32), "B")
    shape = numpy_helper.from_array(np.array([-1, n_out], np.int64), "shape")
    c = helper.make_node("Constant", [], ["C"], value=numpy_helper.from_array(np.ones((2, 2), np.float16)))
    nodes = [c, helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "B"], ["a"]),
             helper.make_node("Reshape", ["a", "shape"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_in])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n_out])], [w, b, shape])
    return helper.make_model(g, producer_name="helper", opset_imports=[helper.make_opsetid("", 17)], **kw)


def test_onnx_helper_model_constants_and_io(tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(_mlp(doc_string="hello"), str(p))
    d = graph(p)
    names = {t["name"]: t for t in d["tensors"]}
    assert set(names) == {"W", "B", "shape", "C"}
    assert names["C"]["dtype"] == "F16" and names["C"]["parameters"] == 4
    assert names["shape"]["parameters"] == 0  # an I64 shape constant is not a weight
    assert d["parameters"] == 12 + 3 + 4
    assert d["graph"]["inputs"] == [{"name": "x", "dtype": "F32", "shape": ["batch", 4]}]
    assert d["metadata"]["doc_string"] == "hello"


def test_onnx_external_data(tmp_path):
    p = tmp_path / "big.onnx"
    onnx.save(_mlp(64, 32), str(p), save_as_external_data=True, all_tensors_to_one_file=True,
              location="big.onnx.data", size_threshold=0)
    d = graph(p)
    data = tmp_path / "big.onnx.data"
    assert {f["path"] for f in d["files"]} == {str(p), str(data)}
    w = next(t for t in d["tensors"] if t["name"] == "W")
    assert w["file"] == str(data) and w["size_bytes"] == 64 * 32 * 4
    raw = data.read_bytes()
    assert raw[w["offset"] : w["offset"] + w["size_bytes"]] == np.arange(64 * 32, dtype=np.float32).tobytes()
    assert not d["warnings"]
    # a truncated data file and a missing one are reported, not fatal
    data.write_bytes(raw[:100])
    assert any("truncated" in x for x in graph(p)["warnings"])
    data.unlink()
    assert any("external data missing" in x for x in graph(p)["warnings"])


def test_onnx_external_location_outside_folder_not_followed(tmp_path):
    m = _mlp()
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "48")):
        e = w.external_data.add()
        e.key, e.value = k, v
    p = tmp_path / "evil.onnx"
    p.write_bytes(m.SerializeToString())
    d = graph(p)
    assert any("outside" in x for x in d["warnings"])
    assert all(f["path"] == str(p) for f in d["files"])


def test_onnx_subgraphs_and_custom_domains(tmp_path):
    then_w = numpy_helper.from_array(np.ones(5, np.float32), "then_w")
    then_g = helper.make_graph([helper.make_node("Identity", ["then_w"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [5])], [then_w])
    else_g = helper.make_graph([helper.make_node("Constant", [], ["e"], value_floats=[1.0] * 5)], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [5])])
    nodes = [helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Foo", ["y"], ["z"], domain="my.domain")]
    g = helper.make_graph(nodes, "main", [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.domain", 2)])
    p = tmp_path / "sub.onnx"
    onnx.save(m, str(p))
    d = graph(p)
    # nodes of subgraphs (If/Loop/Scan bodies) are counted too
    assert d["graph"]["operators"] == {"If": 1, "my.domain::Foo": 1, "Identity": 1, "Constant": 1}
    assert d["graph"]["subgraphs"] == 2
    assert d["graph"]["opsets"] == {"ai.onnx": 17, "my.domain": 2}
    assert [t["name"] for t in d["tensors"]] == ["then_w"]  # value_floats is an attribute, not a tensor proto
    assert d["graph"]["outputs"] == [{"name": "z", "dtype": "F32", "shape": None}]


def test_onnx_int4_and_float8_initializers(tmp_path):
    w4 = helper.make_tensor("w4", TensorProto.INT4, [4, 8], np.zeros(16, np.uint8).tobytes(), raw=True)
    w8 = helper.make_tensor("w8", TensorProto.FLOAT8E4M3FN, [4, 8], np.zeros(32, np.uint8).tobytes(), raw=True)
    g = helper.make_graph([helper.make_node("DequantizeLinear", ["w4", "s"], ["d"])], "g", [],
                          [helper.make_tensor_value_info("d", TensorProto.FLOAT, [4, 8])],
                          [w4, w8, numpy_helper.from_array(np.array(0.5, np.float32), "s")])
    p = tmp_path / "q.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)]), str(p))
    d = graph(p)
    assert d["dtypes"] == {"F8_E4M3": 32, "I4": 32}
    q = d["quantization"]
    assert q["method"] == "onnx-qdq" and q["quantized_parameters"] == 64
    assert next(t for t in d["tensors"] if t["name"] == "s")["parameters"] == 0


def test_onnx_cli_json_and_human(tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(_mlp(), str(p))
    res = run_cli("inspect", p, "--json")
    assert res.code == 0, res.stderr
    d = res.json()
    assert set(d["graph"]) >= {"inputs", "outputs", "operators", "opsets"}
    doc = (REPO / "docs" / "schema" / "inspect.md").read_text()
    for key in d["graph"]:
        assert f"`graph.{key}`" in doc or f"`{key}`" in doc, key
    res = run_cli("inspect", p)
    assert res.code == 0 and "graph inputs and outputs" in res.stdout and "MatMul 1" in res.stdout


def _corrupt_onnx(tmp_path) -> dict[str, bytes]:
    good = _mlp().SerializeToString()
    short = TensorProto(name="x", data_type=TensorProto.FLOAT, dims=[1000], raw_data=b"\x00" * 8)
    return {
        "truncated": good[: len(good) // 2],
        "bad_raw_len": helper.make_model(helper.make_graph([], "g", [], [], [short])).SerializeToString(),
        "huge_length": b"\x08\x08\x3a\xff\xff\xff\xff\x0f" + b"\x00" * 32,
        "bad_wire": b"\x08\x08\x3a\x04\x0f\x0f\x0f\x0f",
        "no_graph": b"\x08\x08\x12\x03abc",
        "deep": b"\x08\x08" + _nested_graphs(40),
    }


def _nested_graphs(depth: int) -> bytes:
    """GraphProto(node=If(then_branch=GraphProto(...))) nested ``depth`` times, as field 7."""
    def ld(fno: int, payload: bytes) -> bytes:
        n, out = len(payload), b""
        while True:
            b = n & 0x7F
            n >>= 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                break
        return bytes([(fno << 3) | 2]) + out + payload

    g = b""
    for _ in range(depth):
        attr = ld(1, b"then_branch") + b"\xa0\x01\x05" + ld(6, g)  # name, type=GRAPH, g
        node = ld(4, b"If") + ld(5, attr)
        g = ld(1, node)
    return ld(7, g)


@pytest.mark.parametrize("kind", ["truncated", "bad_raw_len", "huge_length", "bad_wire", "no_graph", "deep"])
def test_onnx_malformed_exit_2(tmp_path, kind):
    p = tmp_path / f"{kind}.onnx"
    p.write_bytes(_corrupt_onnx(tmp_path)[kind])
    assert_one_line_error(run_cli("inspect", p, **BOUNDED))


# --- TFLite ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["keras_cnn_f32.tflite", "keras_cnn_int8_dynamic.tflite"])
def test_tflite_fixtures_match_writer(name):
    exp = EXPECTED[name]
    d = graph(FIX / name)
    assert d["format"] == "tflite"
    assert d["parameters"] == exp["parameters"]  # Keras' count_params()
    g = d["graph"]
    for mine, theirs in ((g["inputs"], exp["inputs"]), (g["outputs"], exp["outputs"])):
        assert [(x["name"], x["dtype"], x["shape"]) for x in mine] == \
            [(x["name"], NP_TO_DTYPE[x["dtype"]], [None if s < 0 else s for s in x["shape"]]) for x in theirs]
    ops = {k: v for k, v in exp["operators"].items() if k != "DELEGATE"}  # XNNPACK's, added at run time
    assert g["operators"] == ops
    assert g["signatures"]["serving_default"]["inputs"] == exp["signatures"]["serving_default"]["inputs"]
    for t in d["tensors"]:
        e = exp["tensors"][t["name"]]
        assert (t["dtype"], t["shape"]) == (NP_TO_DTYPE[e["dtype"]], e["shape"])


def test_tflite_quantization_and_runtime_version():
    d = graph(FIX / "keras_cnn_int8_dynamic.tflite")
    q = d["quantization"]
    assert q["method"] == "tflite-dynamic-range" and q["bits"] == 8 and q["quantized_parameters"] > 0
    assert d["graph"]["min_runtime_version"]
    assert graph(FIX / "keras_cnn_f32.tflite")["quantization"] is None


def test_tflite_offsets_point_at_buffers():
    tflite = pytest.importorskip("tflite")
    raw = (FIX / "keras_cnn_f32.tflite").read_bytes()
    m = tflite.Model.GetRootAsModel(raw, 0)
    sg = m.Subgraphs(0)
    ref = {}
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        b = m.Buffers(t.Buffer())
        if b.DataLength():
            ref[t.Name().decode()] = b.DataAsNumpy().tobytes()
    d = graph(FIX / "keras_cnn_f32.tflite")
    assert {t["name"] for t in d["tensors"]} == set(ref)
    for t in d["tensors"]:
        assert raw[t["offset"] : t["offset"] + t["size_bytes"]] == ref[t["name"]]


@pytest.mark.parametrize("kind", ["truncated", "bad_root", "bad_vector", "ident_only"])
def test_tflite_malformed_exit_2(tmp_path, kind):
    raw = bytearray((FIX / "keras_cnn_f32.tflite").read_bytes())
    if kind == "truncated":
        data = bytes(raw[:2000])
    elif kind == "bad_root":
        data = struct.pack("<I", 0xFFFFFF00) + bytes(raw[4:])
    elif kind == "bad_vector":
        data = bytes(raw)
        # point every u32 that looks like a small offset at a huge count: the reader must not
        # allocate what the file claims
        data = bytes(raw[:8]) + b"\xff" * 64 + bytes(raw[72:])
    else:
        data = b"\x08\x00\x00\x00TFL3" + b"\x00" * 8
    p = tmp_path / f"{kind}.tflite"
    p.write_bytes(data)
    assert_one_line_error(run_cli("inspect", p, **BOUNDED))


# --- OpenVINO IR --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ov_cnn_f32.xml", "ov_cnn_f16.xml", "ov_cnn_int8.xml", "ov_cnn_int4.xml"])
def test_openvino_fixtures_match_writer(name):
    exp = EXPECTED[name]
    d = graph(FIX / name)
    assert d["format"] == "openvino-ir"
    assert d["parameters"] == exp["parameters"]  # the torch model's sum(p.numel())
    g = d["graph"]
    assert [(i["name"], i["shape"]) for i in g["inputs"]] == [(i["names"][0], i["shape"]) for i in exp["inputs"]]
    assert [o["shape"] for o in g["outputs"]] == [o["shape"] for o in exp["outputs"]]
    ops = {{"Const": "Constant", "ReLU": "Relu"}.get(k, k): v for k, v in g["operators"].items()}
    assert ops == exp["operators"]
    consts = {t["name"]: (t["dtype"], t["shape"]) for t in d["tensors"]}
    ov_names = {"f32": "F32", "f16": "F16", "u8": "U8", "i8": "I8", "u4": "U4", "i4": "I4", "i64": "I64", "i32": "I32"}
    assert consts == {k: (ov_names[v["dtype"]], v["shape"]) for k, v in exp["constants"].items()}
    assert g["runtime_version"] and g["ir_version"] == 11


def test_openvino_quantization():
    assert graph(FIX / "ov_cnn_f32.xml")["quantization"] is None
    assert graph(FIX / "ov_cnn_f16.xml")["quantization"]["method"] == "openvino-fp16"
    q8 = graph(FIX / "ov_cnn_int8.xml")["quantization"]
    assert q8["method"] == "openvino-compressed-weights" and q8["bits"] == 8 and q8["overhead_bytes"] > 0
    q4 = graph(FIX / "ov_cnn_int4.xml")["quantization"]
    assert q4["bits"] == 4 and q4["group_size"] == 32
    assert q4["quantized_parameters"] == q8["quantized_parameters"]


def _ov_copy(tmp_path: Path, xml: str | None = None, bin_bytes: bytes | None = None) -> Path:
    src = FIX / "ov_cnn_f32.xml"
    p = tmp_path / "m.xml"
    p.write_text(xml if xml is not None else src.read_text())
    (tmp_path / "m.bin").write_bytes(bin_bytes if bin_bytes is not None else (FIX / "ov_cnn_f32.bin").read_bytes())
    return p


def test_openvino_missing_bin_is_a_warning(tmp_path):
    p = _ov_copy(tmp_path)
    (tmp_path / "m.bin").unlink()
    d = graph(p)
    assert d["parameters"] == EXPECTED["ov_cnn_f32.xml"]["parameters"]
    assert any("not found" in w for w in d["warnings"])


LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE net [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
]>
<net name="&e;" version="11"><layers></layers></net>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE net [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<net name="&x;" version="11"><layers></layers></net>"""


@pytest.mark.parametrize("kind", ["laughs", "xxe", "truncated", "past_bin", "bad_size", "bad_shape", "not_xml"])
def test_openvino_malformed_exit_2(tmp_path, kind):
    text = (FIX / "ov_cnn_f32.xml").read_text()
    bin_bytes = None
    if kind == "laughs":
        text = LAUGHS
    elif kind == "xxe":
        text = XXE
    elif kind == "truncated":
        text = text[: len(text) // 2]
    elif kind == "past_bin":
        bin_bytes = b"\x00" * 100
    elif kind == "bad_size":
        text = text.replace('size="864"', 'size="865"', 1)
        assert 'size="865"' in text
    elif kind == "bad_shape":
        text = text.replace('shape="8, 3, 3, 3"', 'shape="8, x"', 1)
    else:
        text = '<net version="11"><layers><layer id="0"'
    assert_one_line_error(run_cli("inspect", _ov_copy(tmp_path, text, bin_bytes), **BOUNDED))


# --- Core ML --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nn_mlp.mlmodel", "mlprogram_mlp_f16.mlpackage", "mlprogram_mlp_f32.mlpackage"])
def test_coreml_fixtures_match_writer(name):
    exp = EXPECTED[name]
    d = graph(FIX / name)
    assert d["format"] == ("coreml" if name.endswith(".mlmodel") else "coreml-package")
    assert d["parameters"] == exp["parameters"]
    md = d["metadata"]
    assert md["specification_version"] == exp["specificationVersion"]
    assert md["model_type"] == exp["model_type"]
    assert md.get("author") == exp["metadata"]["author"]
    assert md.get("versionString") == exp["metadata"]["versionString"]
    dt = {"FLOAT32": "F32", "DOUBLE": "F64", "FLOAT16": "F16", "INT32": "I32"}
    g = d["graph"]
    for mine, theirs in ((g["inputs"], exp["inputs"]), (g["outputs"], exp["outputs"])):
        assert [(x["name"], x["dtype"], x["shape"]) for x in mine] == \
            [(x["name"], dt[x["dtype"]], x["shape"]) for x in theirs]


def test_coreml_weights_and_precision():
    f16 = graph(FIX / "mlprogram_mlp_f16.mlpackage")
    f32 = graph(FIX / "mlprogram_mlp_f32.mlpackage")
    assert f16["dtypes"] == {"F16": 676} and f32["dtypes"] == {"F32": 676}
    blob = next(t for t in f32["tensors"] if t["file"].endswith("weight.bin") and t["shape"] == [32, 16])
    data = (FIX / "mlprogram_mlp_f32.mlpackage" / blob["file"]).read_bytes()
    w = np.frombuffer(data[blob["offset"] : blob["offset"] + blob["size_bytes"]], np.float32)
    assert w.shape == (512,) and np.isfinite(w).all()
    nn = graph(FIX / "nn_mlp.mlmodel")
    assert {t["name"]: t["shape"] for t in nn["tensors"]}["fc1.weights"] == [32, 16]
    assert nn["graph"]["operators"] == {"innerProduct": 2, "activation": 1}


@pytest.mark.parametrize("kind", ["truncated", "bad_blob", "bad_manifest", "missing_spec"])
def test_coreml_malformed_exit_2(tmp_path, kind):
    if kind == "truncated":
        raw = (FIX / "nn_mlp.mlmodel").read_bytes()
        p = tmp_path / "t.mlmodel"
        p.write_bytes(raw[: len(raw) // 2])
    else:
        p = tmp_path / "m.mlpackage"
        shutil.copytree(FIX / "mlprogram_mlp_f32.mlpackage", p)
        if kind == "bad_blob":
            wb = p / "Data/com.apple.CoreML/weights/weight.bin"
            wb.write_bytes(b"\x00" * wb.stat().st_size)
        elif kind == "bad_manifest":
            (p / "Manifest.json").write_text("{not json")
        else:
            (p / "Data/com.apple.CoreML/model.mlmodel").unlink()
    assert_one_line_error(run_cli("inspect", p, **BOUNDED))


# --- TensorRT ---------------------------------------------------------------------------------------

def test_tensorrt_synthetic_header(tmp_path):
    # No TensorRT here: a synthetic engine whose first 32 bytes follow the header layout that
    # TensorRT 10 writes (docs/formats-graph.md), then random bytes.
    p = tmp_path / "model.plan"
    p.write_bytes(b"ftrt" + b"\x00" * 4 + struct.pack("<I", 239) + b"\x00" * 12 + bytes([10, 3, 0, 0])
                  + os.urandom(4096))
    res = run_cli("inspect", p, "--json")
    assert res.code == 0, res.stderr
    d = res.json()
    assert d["format"] == "tensorrt" and d["tensors"] == [] and d["parameters"] == 0
    assert d["metadata"]["tensorrt_version"] == "10.3.0"
    assert d["metadata"]["serialization_version"] == 239
    assert any("GPU architecture" in w for w in d["warnings"])
    assert any("without TensorRT" in w for w in d["warnings"])
    assert d["graph"]["layers_readable"] is False


@pytest.mark.parametrize("suffix", [".engine", ".plan", ".trt", ".onnx", ".tflite", ".mlmodel", ".xml"])
def test_random_bytes_with_graph_extensions_exit_2(tmp_path, suffix):
    p = tmp_path / f"random{suffix}"
    p.write_bytes(np.random.default_rng(1).bytes(5000))
    assert_one_line_error(run_cli("inspect", p, **BOUNDED))


def test_tensorrt_short_file(tmp_path):
    p = tmp_path / "short.engine"
    p.write_bytes(b"ftrt\x00")
    assert_one_line_error(run_cli("inspect", p, **BOUNDED), "too short")


# --- folders ------------------------------------------------------------------------------------------

def test_folder_with_one_graph_model(tmp_path):
    shutil.copy(FIX / "ov_cnn_int8.xml", tmp_path / "model.xml")
    shutil.copy(FIX / "ov_cnn_int8.bin", tmp_path / "model.bin")
    d = read_path(tmp_path).to_dict()
    assert d["format"] == "openvino-ir" and d["parameters"] == EXPECTED["ov_cnn_int8.xml"]["parameters"]
    assert d["quantization"]["method"] == "openvino-compressed-weights"
