"""OpenVINO IR: a graph in XML (``model.xml``) and its constants in a raw blob (``model.bin``)
(https://docs.openvino.ai/2025/documentation/openvino-ir-format/operation-sets.html).

Layout of the XML (IR version 10 and 11)::

    <net name="…" version="11">
      <layers>
        <layer id="0" name="x" type="Parameter" version="opset1">
          <data shape="?,3,224,224" element_type="f32"/>
          <output><port id="0" precision="FP32" names="x"><dim>-1</dim>…</port></output>
        </layer>
        <layer id="1" name="conv.weight" type="Const" version="opset1">
          <data element_type="u8" shape="8, 3, 3, 3" offset="0" size="216"/>   bytes in model.bin
        </layer>
        …  type="Result" for each output
      </layers>
      <edges><edge from-layer="1" from-port="0" to-layer="2" to-port="0"/>…</edges>
      <rt_info><Runtime_version value="2025.1.0-…"/><conversion_parameters>…</conversion_parameters></rt_info>
    </net>

Compressed weights (NNCF ``compress_weights``) are low-bit ``Const`` layers feeding
``Convert`` -> ``Subtract`` (zero point) -> ``Multiply`` (scale); ``compress_to_fp16`` gives f16
constants feeding ``Convert``.  Scales and zero points are bookkeeping: no parameters.

The XML is parsed with expat in streaming mode and any DTD is refused (``<!DOCTYPE`` never
appears in IR), so no entity can be declared, expanded or fetched: the billion-laughs and
external-entity attacks have nothing to work with.  Only sizes of the ``.bin`` are checked.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter, defaultdict
from typing import Any
from xml.parsers import expat

from ..core.errors import CorruptFileError
from ..core.io import LIMITS, ByteSource
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register
from ._graph import graph_dict, holds_parameters, quant_report, io_entry, low_bits, nbytes_of, sibling_tree

__all__ = ["read", "detect", "OV_DTYPES"]

FORMAT_ID = "openvino-ir"

# element_type -> modellens dtype name.
OV_DTYPES = {
    "f64": "F64", "f32": "F32", "f16": "F16", "bf16": "BF16", "i64": "I64", "i32": "I32",
    "i16": "I16", "i8": "I8", "i4": "I4", "u64": "U64", "u32": "U32", "u16": "U16", "u8": "U8",
    "u4": "U4", "u2": "U2", "u1": "U1", "u3": "U3", "u6": "U6", "nf4": "NF4", "boolean": "BOOL",
    "f8e4m3": "F8_E4M3", "f8e5m2": "F8_E5M2", "f8e8m0": "F8_E8M0", "f4e2m1": "F4", "string": "STRING",
}
_XML_CHUNK = 1 << 20
_MAX_DEPTH = 64


def detect(probe: Probe) -> int:
    head = probe.head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        return 0
    m = re.search(rb"<net\s[^>]*version=\"(\d+)\"", head)
    if m is None:
        return 0
    return 90 if b"<layers" in head or b"<layer " in head else 60


class _Refused(Exception):
    pass


class _Layer:
    __slots__ = ("id", "name", "type", "version", "data", "ports")

    def __init__(self, attrs: dict[str, str]):
        self.id = attrs.get("id", "")
        self.name = attrs.get("name", "")
        self.type = attrs.get("type", "")
        self.version = attrs.get("version", "")
        self.data: dict[str, str] = {}
        self.ports: dict[str, dict[str, Any]] = {}  # output port id -> {precision, names, dims}


class _IR:
    """Streaming expat handlers collecting layers, edges and the net's rt_info."""

    def __init__(self, name: str):
        self.name = name
        self.net: dict[str, str] = {}
        self.layers: list[_Layer] = []
        self.edges: list[tuple[str, str, str, str]] = []
        self.rt_info: dict[str, Any] = {}
        self.stack: list[str] = []
        self.layer: _Layer | None = None
        self.port: dict[str, Any] | None = None
        self.in_dim = False
        self.dim_text: list[str] = []
        self.rt_path: list[dict[str, Any]] = []

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        stack = self.stack
        parent = stack[-1] if stack else ""
        stack.append(tag)
        if len(stack) > _MAX_DEPTH:
            raise CorruptFileError(self.name, f"XML nested more than {_MAX_DEPTH} deep")
        if tag == "net" and len(stack) == 1:
            self.net = dict(attrs)
        elif tag == "layer" and parent == "layers":
            if len(self.layers) >= LIMITS.max_tensors:
                raise CorruptFileError(self.name, f"more than {LIMITS.max_tensors} layers")
            self.layer = _Layer(attrs)
            self.layers.append(self.layer)
        elif self.layer is not None and tag == "data" and parent == "layer":
            self.layer.data = dict(attrs)
        elif self.layer is not None and tag == "port" and parent == "output":
            self.port = {"precision": attrs.get("precision"), "names": attrs.get("names"), "dims": []}
            self.layer.ports[attrs.get("id", "")] = self.port
        elif tag == "dim" and self.port is not None:
            self.in_dim = True
            self.dim_text = []
        elif tag == "edge" and parent == "edges":
            self.edges.append((attrs.get("from-layer", ""), attrs.get("from-port", ""),
                               attrs.get("to-layer", ""), attrs.get("to-port", "")))
        elif tag == "rt_info" and len(stack) == 2:
            self.rt_path = [self.rt_info]
        elif self.rt_path and self.layer is None and "rt_info" in stack[:2]:
            node: dict[str, Any] = {}
            if "value" in attrs:
                self.rt_path[-1][tag] = attrs["value"][:1000]
                self.rt_path.append({})  # children of a valued item are ignored
            else:
                if len(self.rt_path[-1]) < 1000:
                    self.rt_path[-1][tag] = node
                self.rt_path.append(node)

    def end(self, tag: str) -> None:
        self.stack.pop()
        if tag == "layer" and self.layer is not None and self.stack and self.stack[-1] == "layers":
            self.layer = None
        elif tag == "port":
            self.port = None
        elif tag == "dim" and self.in_dim:
            self.in_dim = False
            if self.port is not None and len(self.port["dims"]) < LIMITS.max_dims:
                self.port["dims"].append("".join(self.dim_text).strip())
        elif tag == "rt_info" and len(self.stack) == 1:
            self.rt_path = []
        elif self.rt_path and self.layer is None and len(self.rt_path) > 1 and "rt_info" in self.stack[:2]:
            self.rt_path.pop()

    def chars(self, data: str) -> None:
        if self.in_dim and len(self.dim_text) < 64:
            self.dim_text.append(data)


def _parse(src: ByteSource) -> _IR:
    ir = _IR(src.name)
    p = expat.ParserCreate()

    def refuse(*_: object) -> None:
        # An IR never has a DTD: refusing it up front means no entity can ever be declared.
        raise _Refused("the XML declares a DTD / entities, which OpenVINO IR never does (refused)")

    p.StartDoctypeDeclHandler = refuse
    p.EntityDeclHandler = refuse
    p.UnparsedEntityDeclHandler = refuse
    p.ExternalEntityRefHandler = refuse
    p.StartElementHandler = ir.start
    p.EndElementHandler = ir.end
    p.CharacterDataHandler = ir.chars
    p.buffer_text = True
    try:
        for off in range(0, src.size, _XML_CHUNK):
            n = min(_XML_CHUNK, src.size - off)
            p.Parse(src.read(off, n), off + n >= src.size)
        if src.size == 0:
            p.Parse(b"", True)
    except _Refused as e:
        raise CorruptFileError(src.name, str(e)) from None
    except expat.ExpatError as e:
        raise CorruptFileError(src.name, f"malformed XML ({expat.errors.messages.get(e.code, e)}, "
                               f"line {e.lineno})") from None
    if not ir.net:
        raise CorruptFileError(src.name, "no <net> root element: not an OpenVINO IR")
    return ir


def _shape(text: str | None, name: str, what: str) -> tuple[int, ...]:
    if text is None:
        raise CorruptFileError(name, f"{what}: no shape")
    text = text.strip()
    if not text:
        return ()
    try:
        dims = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise CorruptFileError(name, f"{what}: shape {text!r} is not a list of integers") from None
    if len(dims) > LIMITS.max_dims or any(d < 0 for d in dims):
        raise CorruptFileError(name, f"{what}: invalid shape {text!r}")
    return dims


def _dim(d: str) -> int | str | None:
    if d in ("-1", "?", ""):
        return None
    try:
        return int(d)
    except ValueError:
        return d  # a range such as "1..10"


def _io(layer: _Layer, port: dict[str, Any] | None) -> dict[str, Any]:
    names = [n.strip() for n in ((port or {}).get("names") or "").split(",") if n.strip()]
    et = layer.data.get("element_type") or ""
    if port is not None and port["dims"]:
        shape: list | None = [_dim(d) for d in port["dims"]]
    elif "shape" in layer.data:
        s = layer.data["shape"].strip()
        shape = [_dim(x.strip()) for x in s.split(",")] if s else []
    else:
        shape = None
    return io_entry(names[0] if names else layer.name, OV_DTYPES.get(et, et or None), shape,
                    names=names if len(names) > 1 else None, layer=layer.name)


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    ir = _parse(src)
    by_id = {l.id: l for l in ir.layers}
    consumers: dict[str, list[tuple[str, str]]] = defaultdict(list)  # from layer id -> [(to id, to port)]
    producer: dict[tuple[str, str], str] = {}  # (to id, to port) -> from layer id
    port_of: dict[str, str] = {}  # to layer id -> from port (for Result names)
    for fl, fp, tl, tp in ir.edges:
        consumers[fl].append((tl, tp))
        producer[(tl, tp)] = fl
        port_of[tl] = fp
    warnings: list[str] = []
    stem = os.path.splitext(src.name)[0]
    bin_name = stem + ".bin"
    tree = sibling_tree(src)
    bin_rel = os.path.basename(bin_name)
    bin_size = tree.size(bin_rel) if tree is not None and tree.exists(bin_rel) else None
    tensors: list[TensorInfo] = []
    ops: Counter = Counter()
    opsets: dict[str, Any] = {}
    inputs, outputs = [], []
    for layer in ir.layers:
        ops[layer.type] += 1  # the IR's type names ("Const", "ReLU"), as written in the file
        v = layer.version
        if v and v not in opsets:
            m = re.fullmatch(r"opset(\d+)", v)
            opsets[v] = int(m.group(1)) if m else v
        if layer.type == "Const":
            tensors.append(_const(src.name, layer, bin_name))
        elif layer.type == "Parameter":
            inputs.append(_io(layer, next(iter(layer.ports.values()), None)))
        elif layer.type == "Result":
            src_id = producer.get((layer.id, "0"))
            src_layer = by_id.get(src_id or "")
            port = src_layer.ports.get(port_of.get(layer.id, "")) if src_layer else None
            entry = _io(layer, port)
            entry["dtype"] = _precision(port) if port else None
            if port is not None and not (port.get("names") or "").strip():
                entry["name"] = layer.name
            outputs.append(entry)
    if bin_size is None:
        if tensors:
            warnings.append(f"weights file {bin_rel} not found next to the XML: constants not checked")
    else:
        for t in tensors:
            if (t.offset or 0) + t.nbytes > bin_size:
                raise CorruptFileError(src.name, f"constant {t.name!r}: bytes {t.offset}..{(t.offset or 0) + t.nbytes} "
                                       f"lie past the end of {bin_rel} ({bin_size} bytes)")
    tensors, quant = _quantization(tensors, ir, by_id, consumers, producer)
    files = [FileInfo(src.name, FORMAT_ID, src.size)]
    if bin_size is not None:
        files.append(FileInfo(bin_name, FORMAT_ID, bin_size))
    meta: dict[str, Any] = {"ir_version": _int(ir.net.get("version")), "name": ir.net.get("name")}
    if ir.rt_info:
        meta["rt_info"] = ir.rt_info
    runtime = ir.rt_info.get("Runtime_version")
    conv = ir.rt_info.get("conversion_parameters")
    graph = graph_dict(inputs, outputs, ops, opsets, ir_version=meta["ir_version"],
                       runtime_version=runtime if isinstance(runtime, str) else None,
                       framework=conv.get("framework") if isinstance(conv, dict) else None)
    return ModelInfo(
        source=src.name,
        format=FORMAT_ID,
        files=tuple(files),
        tensors=tuple(tensors),
        metadata=meta,
        quantization=quant,
        warnings=tuple(warnings),
        graph=graph,
    )


def _int(v: str | None) -> int | str | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return v


_PRECISIONS = {"FP32": "F32", "FP16": "F16", "BF16": "BF16", "FP64": "F64", "I64": "I64", "I32": "I32",
               "I8": "I8", "U8": "U8", "BOOL": "BOOL", "BOOLEAN": "BOOL", "U4": "U4", "I4": "I4"}


def _precision(port: dict[str, Any]) -> str | None:
    p = (port.get("precision") or "").upper()
    return _PRECISIONS.get(p, p or None)


def _const(name: str, layer: _Layer, bin_name: str) -> TensorInfo:
    d = layer.data
    what = f"constant {layer.name!r}"
    et = d.get("element_type", "")
    dtype = OV_DTYPES.get(et)
    if dtype is None:
        raise CorruptFileError(name, f"{what}: unknown element_type {et!r}")
    shape = _shape(d.get("shape"), name, what)
    try:
        offset, size = int(d.get("offset", "")), int(d.get("size", ""))
    except ValueError:
        raise CorruptFileError(name, f"{what}: offset/size missing or not integers") from None
    if offset < 0 or size < 0:
        raise CorruptFileError(name, f"{what}: negative offset or size")
    expected = nbytes_of(dtype, math.prod(shape))
    if expected is not None and dtype != "STRING" and expected != size:
        raise CorruptFileError(name, f"{what}: {et} {list(shape)} needs {expected} bytes but size is {size}")
    return TensorInfo(layer.name, dtype, shape, offset, size, bin_name,
                      logical_parameters=None if holds_parameters(dtype) else 0)


def _quantization(tensors: list[TensorInfo], ir: _IR, by_id: dict[str, _Layer], consumers: dict,
                  producer: dict) -> tuple[list[TensorInfo], dict[str, Any] | None]:
    const_ids = {l.name: l.id for l in ir.layers if l.type == "Const"}
    id_to_tensor = {const_ids[t.name]: i for i, t in enumerate(tensors) if t.name in const_ids}

    def const_behind(layer_id: str | None) -> str | None:
        """The Const behind a chain of Convert/Reshape layers, if any."""
        for _ in range(4):
            layer = by_id.get(layer_id or "")
            if layer is None:
                return None
            if layer.type == "Const":
                return layer.id
            if layer.type not in ("Convert", "Reshape", "Unsqueeze"):
                return None
            layer_id = producer.get((layer.id, "0"))
        return None

    weights: dict[str, str] = {}  # const id -> dtype
    book: set[str] = set()
    group = None
    f16 = 0
    for cid, ti in id_to_tensor.items():
        t = tensors[ti]
        nxt = consumers.get(cid, [])
        if len(nxt) != 1 or by_id[nxt[0][0]].type != "Convert":
            continue
        if t.dtype == "F16" or t.dtype == "BF16":
            f16 += t.parameters
            continue
        if not low_bits(t.dtype) and t.dtype not in ("NF4", "U1", "U3", "U6"):
            continue
        after = consumers.get(nxt[0][0], [])
        if not after:
            continue
        op_id, port = after[0]
        op = by_id.get(op_id)
        if op is None or op.type not in ("Subtract", "Multiply") or port != "0":
            continue
        weights[cid] = t.dtype
        chain = [op]
        if op.type == "Subtract":
            zp = const_behind(producer.get((op.id, "1")))
            if zp:
                book.add(zp)
            nxt2 = consumers.get(op.id, [])
            if nxt2 and by_id[nxt2[0][0]].type == "Multiply":
                chain.append(by_id[nxt2[0][0]])
        for layer in chain:
            if layer.type == "Multiply":
                sc = const_behind(producer.get((layer.id, "1")))
                if sc:
                    book.add(sc)
                    st = tensors[id_to_tensor[sc]].shape if sc in id_to_tensor else ()
                    if len(st) == 3 and st[-1] == 1 and len(t.shape) == 3:
                        group = t.shape[-1]
    fq = sum(1 for l in ir.layers if l.type == "FakeQuantize")
    if not weights and not f16 and not fq:
        return tensors, None
    overhead = 0
    for cid in book:
        if cid in id_to_tensor:
            i = id_to_tensor[cid]
            overhead += tensors[i].nbytes
            tensors[i] = TensorInfo(tensors[i].name, tensors[i].dtype, tensors[i].shape, tensors[i].offset,
                                    tensors[i].nbytes, tensors[i].file, logical_parameters=0)
    total = sum(t.parameters for t in tensors)
    wd: Counter = Counter()
    for cid, dt in weights.items():
        if cid not in book:
            wd[dt] += tensors[id_to_tensor[cid]].parameters
    quantized = sum(wd.values())
    if wd:
        main = wd.most_common(1)[0][0]
        bits = {"I4": 4, "U4": 4, "NF4": 4, "F4": 4, "U2": 2, "U1": 1, "U3": 3, "U6": 6}.get(main, 8)
        method, variant = "openvino-compressed-weights", "weight compression (NNCF): low-bit Const -> Convert -> Subtract -> Multiply"
    elif fq:
        bits, method, variant, quantized = 8, "openvino-fakequantize", f"{fq} FakeQuantize layers (quantization-aware IR)", 0
    else:
        bits, method, variant, quantized = 16, "openvino-fp16", "compress_to_fp16: F16 constants converted at load", f16
        wd = Counter({"F16": f16})
    report = quant_report(
        tensors, method=method, bits=bits, group=group, variant=variant, quantized=quantized,
        overhead=overhead, weight_dtypes=wd,
        evidence=[f"{n:,} {d} weights behind Convert" for d, n in wd.items()][:3] or [variant])
    if ir.rt_info.get("nncf"):
        report["nncf"] = ir.rt_info["nncf"]
    report["summary"] = (f"OpenVINO {'compressed weights' if wd and method.endswith('weights') else variant.split(':')[0]}"
                         f": {bits}-bit" + (f", group {group}" if group else "")
                         + f" · {quantized:,} of {total:,} parameters")
    return tensors, report


register(
    FormatSpec(
        id=FORMAT_ID,
        detect=detect,
        read=read,
        extensions=(".xml",),
        description="OpenVINO IR: XML graph + .bin constants",
    )
)
