"""Caffe models: ``.caffemodel`` (a binary ``NetParameter``) and its ``.prototxt``.

A ``.caffemodel`` is one protobuf message (``src/caffe/proto/caffe.proto`` of BVLC/caffe);
the fields read here, by number::

    NetParameter      1 name, 3 input (repeated string), 8 input_shape (BlobShape),
                      4 input_dim (repeated int64, 4 per input), 100 layer (LayerParameter),
                      2 layers (V1LayerParameter, the pre-2015 spelling)
    LayerParameter    1 name, 2 type (string), 3 bottom, 4 top, 7 blobs (BlobProto),
                      143 input_param { 1 shape (BlobShape) }
    V1LayerParameter  4 name, 5 type (enum LayerType), 2 bottom, 3 top, 6 blobs
    BlobProto         7 shape { 1 dim (packed int64) }, 5 data (packed float), 8 double_data
                      (packed double), 6 / 9 diff / double_diff, 1-4 num/channels/height/width
                      (the legacy 4-D shape)

Each blob is a tensor named ``<layer>.<index>`` (Caffe's ``net.params[layer][index]``: 0 the
weights, 1 the bias …); a packed ``data`` field is contiguous little-endian floats, so its file
offset is exact.  The ``.prototxt`` next to the weights (same stem, or ``deploy.prototxt``) is
the protobuf text format of the same message: its input shapes complete the graph.  The
protobuf wire is read by ``formats/_protobuf.py``; every length is checked against its message.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ..core.errors import CorruptFileError
from ..core.io import LIMITS, ByteSource
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register
from ._protobuf import WireError, fields, repeated_ints, text

__all__ = ["detect", "read", "parse_prototxt"]

FORMAT_ID = "caffe"
MAX_PROTOTXT_BYTES = 64 * 2**20
MAX_TEXT_TOKENS = 5_000_000

# V1LayerParameter.LayerType
V1_TYPES = {
    0: "None", 35: "AbsVal", 1: "Accuracy", 30: "ArgMax", 2: "BNLL", 3: "Concat",
    37: "ContrastiveLoss", 4: "Convolution", 5: "Data", 39: "Deconvolution", 6: "Dropout",
    32: "DummyData", 7: "EuclideanLoss", 25: "Eltwise", 38: "Exp", 8: "Flatten", 9: "HDF5Data",
    10: "HDF5Output", 28: "HingeLoss", 11: "Im2col", 12: "ImageData", 13: "InfogainLoss",
    14: "InnerProduct", 15: "LRN", 29: "MemoryData", 16: "MultinomialLogisticLoss", 34: "MVN",
    17: "Pooling", 26: "Power", 18: "ReLU", 19: "Sigmoid", 27: "SigmoidCrossEntropyLoss",
    36: "Silence", 20: "Softmax", 21: "SoftmaxWithLoss", 22: "Split", 33: "Slice", 23: "TanH",
    24: "WindowData", 31: "Threshold",
}


def _blob_shape(buf: Any, span: tuple[int, int]) -> list[int]:
    items = [f for f in fields(buf, *span) if f[0] == 1]
    dims = repeated_ints(buf, items, LIMITS.max_dims)
    if any(d < 0 for d in dims):
        raise WireError(f"negative blob dimension in {dims}", span[0])
    return dims


def _blob(buf: Any, span: tuple[int, int], name: str, file: str
          ) -> tuple[TensorInfo | None, str | None]:
    shape: list[int] | None = None
    legacy = [0, 0, 0, 0]
    has_legacy = False
    data: list[tuple[int, int, Any]] = []  # (field, wire type, value)
    diff = False
    for fno, wt, v in fields(buf, *span):
        if fno == 7 and wt == 2:
            shape = _blob_shape(buf, v)
        elif fno in (1, 2, 3, 4) and wt == 0:
            legacy[fno - 1] = v
            has_legacy = True
        elif fno in (5, 8):
            data.append((fno, wt, v))
        elif fno in (6, 9):
            diff = True
    if shape is None:
        shape = legacy if has_legacy else []
    kinds = {f for f, _, _ in data}
    if len(kinds) > 1:
        raise WireError(f"blob {name!r} has both float and double data", span[0])
    dtype, width = ("F64", 8) if kinds == {8} else ("F32", 4)
    count = 0
    offset: int | None = None
    if len(data) == 1 and data[0][1] == 2:  # packed: one contiguous run
        s, e = data[0][2]
        if (e - s) % width:
            raise WireError(f"blob {name!r}: {e - s} bytes of data is not a whole number of {dtype}", s)
        count, offset = (e - s) // width, s
    else:
        for _, wt, v in data:
            if wt == 2:
                count += (v[1] - v[0]) // width
            elif wt == (1 if width == 8 else 5):
                count += 1
            else:
                raise WireError(f"blob {name!r}: data field of wire type {wt}", span[0])
    elements = math.prod(shape) if shape else 0
    if not data:
        return TensorInfo(name=name, dtype=dtype, shape=tuple(shape), nbytes=0, file=file), \
            f"{name} holds no data"
    if count != elements:
        raise WireError(f"blob {name!r} has shape {shape} ({elements} values) but holds {count}", span[0])
    t = TensorInfo(name=name, dtype=dtype, shape=tuple(shape), offset=offset,
                   nbytes=count * width, file=file)
    return t, ("diff" if diff else None)


def _strings(buf: Any, items: list[tuple[int, int, Any]]) -> list[str]:
    return [text(buf, v, 1024) for _, wt, v in items if wt == 2]


def _layer(buf: Any, span: tuple[int, int], v1: bool) -> dict[str, Any]:
    f_name, f_type, f_bottom, f_top, f_blobs = (4, 5, 2, 3, 6) if v1 else (1, 2, 3, 4, 7)
    layer: dict[str, Any] = {"name": "", "type": None, "bottom": [], "top": [], "blobs": [],
                             "input_shapes": []}
    for fno, wt, v in fields(buf, *span):
        if fno == f_name and wt == 2:
            layer["name"] = text(buf, v, 1024)
        elif fno == f_type:
            if v1 and wt == 0:
                layer["type"] = V1_TYPES.get(v, f"V1Type{v}")
            elif not v1 and wt == 2:
                layer["type"] = text(buf, v, 256)
        elif fno == f_bottom and wt == 2:
            layer["bottom"].append(text(buf, v, 1024))
        elif fno == f_top and wt == 2:
            layer["top"].append(text(buf, v, 1024))
        elif fno == f_blobs and wt == 2:
            layer["blobs"].append(v)
        elif not v1 and fno == 143 and wt == 2:
            for f2, w2, v2 in fields(buf, *v):
                if f2 == 1 and w2 == 2:
                    layer["input_shapes"].append(_blob_shape(buf, v2))
    return layer


def _net(buf: Any, start: int, end: int) -> dict[str, Any]:
    net: dict[str, Any] = {"name": None, "inputs": [], "input_shapes": [], "input_dim": [],
                           "layers": [], "v1": False}
    dims: list[tuple[int, int, Any]] = []
    for fno, wt, v in fields(buf, start, end):
        if fno == 1 and wt == 2:
            net["name"] = text(buf, v, 1024)
        elif fno == 3 and wt == 2:
            net["inputs"].append(text(buf, v, 1024))
        elif fno == 8 and wt == 2:
            net["input_shapes"].append(_blob_shape(buf, v))
        elif fno == 4:
            dims.append((fno, wt, v))
        elif fno == 100 and wt == 2:
            net["layers"].append(_layer(buf, v, False))
        elif fno == 2 and wt == 2:
            net["layers"].append(_layer(buf, v, True))
            net["v1"] = True
    net["input_dim"] = repeated_ints(buf, dims, 4 * 100_000)
    return net


def _graph(net: dict[str, Any]) -> dict[str, Any]:
    inputs = []
    shapes = net["input_shapes"]
    flat = net["input_dim"]
    for i, name in enumerate(net["inputs"]):
        shape = shapes[i] if i < len(shapes) else (flat[4 * i : 4 * i + 4] or None)
        inputs.append({"name": name, "dtype": "F32", "shape": shape})
    for layer in net["layers"]:
        if layer["type"] == "Input":
            for j, top in enumerate(layer["top"]):
                s = layer["input_shapes"]
                shape = s[j] if j < len(s) else (s[0] if len(s) == 1 else None)
                inputs.append({"name": top, "dtype": "F32", "shape": shape})
    consumed = {b for layer in net["layers"] for b in layer["bottom"]}
    produced: list[str] = []
    for layer in net["layers"]:
        for t in layer["top"]:
            if t not in produced:
                produced.append(t)
    outputs = [{"name": t, "dtype": "F32", "shape": None} for t in produced
               if t not in consumed and t not in {i["name"] for i in inputs}]
    ops = Counter(str(layer["type"]) for layer in net["layers"] if layer["type"] != "Input")
    return {"inputs": inputs, "outputs": outputs,
            "operators": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
            "opsets": {}, "node_count": sum(ops.values()),
            "layers": [{"name": l["name"], "type": l["type"], "blobs": len(l["blobs"])}
                       for l in net["layers"][:4096]]}


# -- prototxt (protobuf text format) ----------------------------------------------------------

_TOKEN = re.compile(rb'\s*(?:#[^\n]*\n\s*)*(?:("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|([{}:\[\],;<>])|([^\s{}:\[\],;<>"\'#]+))')


def parse_prototxt(data: bytes, name: str) -> dict[str, Any]:
    """A protobuf text message as nested dicts of lists (``{"layer": [{...}, ...]}``)."""
    root: dict[str, Any] = {}
    stack = [root]
    key: str | None = None
    pos = 0
    tokens = 0
    while pos < len(data):
        m = _TOKEN.match(data, pos)
        if m is None or m.end() == pos:
            if data[pos:].strip() == b"":
                break
            raise CorruptFileError(name, "prototxt: unexpected text", pos)
        pos = m.end()
        tokens += 1
        if tokens > MAX_TEXT_TOKENS:
            raise CorruptFileError(name, f"prototxt: more than {MAX_TEXT_TOKENS} tokens")
        quoted, punct, word = m.groups()
        if punct in (b"{", b"<"):
            if key is None or len(stack) > 64:
                raise CorruptFileError(name, "prototxt: a message without a field name or nested too deep", pos)
            child: dict[str, Any] = {}
            stack[-1].setdefault(key, []).append(child)
            stack.append(child)
            key = None
        elif punct in (b"}", b">"):
            if len(stack) == 1:
                raise CorruptFileError(name, "prototxt: unbalanced '}'", pos)
            stack.pop()
        elif punct in (b":", b",", b";", b"[", b"]"):
            continue
        elif key is None:
            key = (word or b"").decode("utf-8", "replace")
        else:
            value: Any = quoted[1:-1].decode("utf-8", "replace") if quoted else word.decode("utf-8", "replace")
            if not quoted:
                try:
                    value = int(value)
                except ValueError:
                    pass
            stack[-1].setdefault(key, []).append(value)
            if not _next_is_value(data, pos):
                key = None
    if len(stack) != 1:
        raise CorruptFileError(name, "prototxt: unclosed '{'")
    return root


def _next_is_value(data: bytes, pos: int) -> bool:
    """After ``dim: [1, 2`` a list continues; otherwise the next word is a field name."""
    rest = data[pos:pos + 2].lstrip()
    return rest.startswith(b",")


def _text_net(msg: dict[str, Any]) -> dict[str, Any]:
    def shape(s: Any) -> list[int]:
        return [int(d) for d in s.get("dim", []) if isinstance(d, int)] if isinstance(s, dict) else []

    net: dict[str, Any] = {"name": (msg.get("name") or [None])[0], "inputs": [],
                           "input_shapes": [], "input_dim": [], "layers": [], "v1": False}
    net["inputs"] = [str(x) for x in msg.get("input", [])]
    net["input_shapes"] = [shape(s) for s in msg.get("input_shape", [])]
    net["input_dim"] = [int(x) for x in msg.get("input_dim", []) if isinstance(x, int)]
    for key, v1 in (("layer", False), ("layers", True)):
        for layer in msg.get(key, []):
            if not isinstance(layer, dict):
                continue
            ip = (layer.get("input_param") or [{}])[0]
            net["layers"].append({
                "name": str((layer.get("name") or [""])[0]), "type": str((layer.get("type") or [None])[0]),
                "bottom": [str(x) for x in layer.get("bottom", [])],
                "top": [str(x) for x in layer.get("top", [])], "blobs": [],
                "input_shapes": [shape(s) for s in ip.get("shape", [])] if isinstance(ip, dict) else []})
    return net


def _sibling_prototxt(src: ByteSource) -> Path | None:
    path = getattr(src, "path", None)
    if not isinstance(path, Path):
        return None
    for cand in (path.with_suffix(".prototxt"), path.parent / "deploy.prototxt"):
        if cand.is_file() and cand.stat().st_size <= MAX_PROTOTXT_BYTES:
            return cand
    return None


# -- the format -------------------------------------------------------------------------------

def detect(probe: Probe) -> int:
    head = probe.head
    if probe.suffix == ".prototxt":
        return 80 if re.search(rb"^\s*(layers?|input|name)\s*[:{]", head[:4096], re.M) else 0
    if len(head) < 2 or head[0] not in (0x0A, 0x12, 0x1A, 0xA2):
        return 0
    if probe.suffix == ".caffemodel":
        return 90
    # no extension hint: a net name followed by layers, all inside the first bytes
    try:
        first = fields(head, 0, len(head)) if len(head) == probe.size else []
    except (WireError, IndexError):
        return 0
    if first and first[0][:2] == (1, 2) and any(f[0] in (100, 2) and f[1] == 2 for f in first[1:]):
        return 40
    return 0


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    if src.name.lower().endswith(".prototxt"):
        return _read_prototxt(src)
    buf = src.view(0, src.size)
    warnings: list[str] = []
    try:
        net = _net(buf, 0, src.size)
        tensors: list[TensorInfo] = []
        empty: list[str] = []
        diffs = 0
        for layer in net["layers"]:
            for j, span in enumerate(layer["blobs"]):
                t, note = _blob(buf, span, f"{layer['name']}.{j}", src.name)
                if note == "diff":
                    diffs += 1
                elif note:
                    empty.append(note.split(" ", 1)[0])
                if t is not None:
                    tensors.append(t)
            if len(tensors) > LIMITS.max_tensors:
                raise WireError(f"more than {LIMITS.max_tensors} blobs", 0)
    except WireError as e:
        raise e.corrupt(src.name, "not a Caffe NetParameter") from None
    if not net["layers"]:
        raise CorruptFileError(src.name, "the NetParameter holds no layers")
    files = [FileInfo(src.name, FORMAT_ID, src.size)]
    proto = _sibling_prototxt(src)
    if proto is not None and not net["inputs"] and not any(l["type"] == "Input" for l in net["layers"]):
        try:
            text_net = _text_net(parse_prototxt(proto.read_bytes(), str(proto)))
            net["inputs"], net["input_shapes"], net["input_dim"] = (
                text_net["inputs"], text_net["input_shapes"], text_net["input_dim"])
            by_name = {l["name"]: l for l in text_net["layers"]}
            for layer in net["layers"]:
                if layer["name"] in by_name and by_name[layer["name"]]["type"] == "Input":
                    layer["input_shapes"] = by_name[layer["name"]]["input_shapes"]
        except CorruptFileError as e:
            warnings.append(f"{proto.name}: {e.reason}")
    if proto is not None:
        files.append(FileInfo(str(proto), None, proto.stat().st_size))
        metadata_proto = proto.name
    else:
        metadata_proto = None
    if empty:
        warnings.append(f"{len(empty)} blobs hold no data: " + ", ".join(empty[:5]))
    metadata: dict[str, Any] = {"net_name": net["name"], "layers": len(net["layers"]),
                                "layer_format": "V1LayerParameter" if net["v1"] else "LayerParameter"}
    if metadata_proto:
        metadata["prototxt"] = metadata_proto
    if diffs:
        metadata["blobs_with_diff"] = diffs
    return ModelInfo(source=src.name, format=FORMAT_ID, files=tuple(files), tensors=tuple(tensors),
                     metadata={k: v for k, v in metadata.items() if v is not None},
                     architecture={"name": net["name"], "layers": len(net["layers"])},
                     warnings=tuple(warnings), graph=_graph(net))


def _read_prototxt(src: ByteSource) -> ModelInfo:
    if src.size > MAX_PROTOTXT_BYTES:
        raise CorruptFileError(src.name, f"prototxt of {src.size} bytes is over the "
                               f"{MAX_PROTOTXT_BYTES}-byte limit")
    net = _text_net(parse_prototxt(src.read(0, src.size), src.name))
    if not net["layers"]:
        raise CorruptFileError(src.name, "the prototxt defines no layers")
    return ModelInfo(source=src.name, format=FORMAT_ID, files=(FileInfo(src.name, FORMAT_ID, src.size),),
                     metadata={"net_name": net["name"], "layers": len(net["layers"]),
                               "weights": "none (a .prototxt holds the architecture only)"},
                     architecture={"name": net["name"], "layers": len(net["layers"])},
                     graph=_graph(net))


register(FormatSpec(id=FORMAT_ID, detect=detect, read=read, extensions=(".caffemodel", ".prototxt"),
                    description="Caffe NetParameter (.caffemodel weights, .prototxt architecture)"))
