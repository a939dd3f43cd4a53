"""ONNX: one protobuf ``ModelProto`` (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto).

Layout (field numbers of onnx.proto; every message is protobuf wire format, see ``_protobuf``)::

    ModelProto   1 ir_version  8 opset_import{1 domain, 2 version}  2 producer_name
                 3 producer_version  4 domain  5 model_version  6 doc_string  7 graph
                 14 metadata_props{1 key, 2 value}  20 training_info  25 functions
    GraphProto   1 node  2 name  5 initializer  15 sparse_initializer  11 input  12 output
    NodeProto    1 input  2 output  3 name  4 op_type  7 domain  5 attribute
    Attribute    1 name  20 type  5 t (tensor)  6 g (graph)  10 tensors  11 graphs
    TensorProto  1 dims  2 data_type  8 name  9 raw_data  4/5/7/10/11 typed data
                 13 external_data{location, offset, length}  14 data_location (1 = EXTERNAL)
    ValueInfo    1 name  2 type{1 tensor_type{1 elem_type, 2 shape{1 dim{1 value, 2 param}}}}

There is no magic number: detection checks that the first fields are ModelProto's with the
right wire types and a plausible ``ir_version``.

The file is read at wire level over a memory map: an initializer's ``raw_data`` is recorded as
(file offset, length), never copied, so a 1.9 GB single-file model costs its field count.
Weights stored outside (``data_location = EXTERNAL``; models over 2 GB must) are listed with
their file, offset and length; the files are checked for existence and size, never read.
Tensors are the graph's initializers, sparse initializers and ``Constant`` node values,
subgraphs (``If``/``Loop``/``Scan`` bodies) included.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import replace
from typing import Any

from ..core.errors import CorruptFileError
from ..core.io import LIMITS, ByteSource, Tree, check_limit
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register
from ._graph import (bits_of, graph_dict, quant_report, holds_parameters, io_entry, low_bits, nbytes_of, safe_relative,
                     sibling_tree)
from ._protobuf import WireError, fields, repeated_ints, text, to_signed, varint

__all__ = ["read", "detect", "read_model", "ONNX_DTYPES"]

FORMAT_ID = "onnx"

# TensorProto.DataType -> modellens dtype name (core.dtypes spelling).
ONNX_DTYPES = {
    1: "F32", 2: "U8", 3: "I8", 4: "U16", 5: "I16", 6: "I32", 7: "I64", 8: "STRING", 9: "BOOL",
    10: "F16", 11: "F64", 12: "U32", 13: "U64", 14: "C64", 15: "C128", 16: "BF16",
    17: "F8_E4M3", 18: "F8_E4M3FNUZ", 19: "F8_E5M2", 20: "F8_E5M2FNUZ", 21: "U4", 22: "I4",
    23: "F4", 24: "F8_E8M0", 25: "U2", 26: "I2", 27: "F6_E2M3", 28: "F6_E3M2",
}

_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_MAX_DEPTH = 32  # nested subgraphs
_MAX_IR = 64
_DOC_CHARS = 1000

# Nodes whose attributes are parsed: Constant values, subgraph bodies, quantizer parameters.
# Other standard ops carry no tensors or graphs in their attributes.
_ATTR_OPS = {"Constant", "If", "Loop", "Scan", "SequenceMap", "MatMulNBits", "GatherBlockQuantized"}

# Quantized operators: input positions that hold scales / zero points / group indices
# (bookkeeping, no parameters).  Anything else such an op reads from a low-bit initializer
# is a quantized weight.
_QUANT_BOOKKEEPING: dict[str, tuple[int, ...]] = {
    "QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2), "DynamicQuantizeLinear": (),
    "MatMulInteger": (2, 3), "ConvInteger": (2, 3), "DynamicQuantizeMatMul": (2, 3),
    "QLinearConv": (1, 2, 4, 5, 6, 7), "QLinearMatMul": (1, 2, 4, 5, 6, 7),
    "QGemm": (1, 2, 4, 5, 7, 8), "MatMulNBits": (2, 3, 4), "GatherBlockQuantized": (2, 3),
    "DynamicQuantizeLSTM": (), "QAttention": (3, 4, 6, 7), "MatMulBnb4": (2,),
}
_QLINEAR_BINARY = (1, 2, 4, 5, 6, 7)  # QLinearAdd/Mul/…: A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp


_BOOK_SUFFIXES = ("_scale", "_zero_point", "_scales", "_zp", "_zero_points")


def _stem(name: str) -> str:
    for suffix in _BOOK_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_quant_op(op: str) -> bool:
    return op in _QUANT_BOOKKEEPING or op.startswith("QLinear")


def detect(probe: Probe) -> int:
    head = probe.head
    pos, end = 0, len(head)
    seen: set[int] = set()
    try:
        while pos < end and len(seen) < 16:
            key, pos = varint(head, pos, end)
            fno, wt = key >> 3, key & 7
            if _MODEL_FIELDS.get(fno) != wt:
                return 0
            if fno == 1 and not 1 <= varint(head, pos, end)[0] <= _MAX_IR:
                return 0
            seen.add(fno)
            if wt == 0:
                _, pos = varint(head, pos, end)
            else:
                n, pos = varint(head, pos, end)
                pos += n
    except WireError:
        pass  # the head ends inside a field: judge what was seen
    if 1 in seen and seen & {7, 8}:
        return 90
    if 1 in seen and pos >= end:
        return 40
    return 0


class _Reader:
    """One pass over the ModelProto; state shared by the graph walk."""

    def __init__(self, src: ByteSource):
        self.src = src
        self.name = src.name
        self.buf = src.view(0, src.size)
        self.tensors: list[TensorInfo] = []
        self.names: set[str] = set()
        self.ops: Counter = Counter()
        self.func_ops: Counter = Counter()
        self.warnings: list[str] = []
        self.quant_uses: list[tuple[str, int, str]] = []  # (op, input position, tensor name)
        self.nbits: dict[str, dict[str, int]] = {}  # MatMulNBits weight -> {K, N, bits, block_size}
        self.subgraphs = 0

    def corrupt(self, reason: str, offset: int | None = None) -> CorruptFileError:
        return CorruptFileError(self.name, reason, offset)

    def fields(self, span: tuple[int, int], what: str) -> list:
        try:
            return fields(self.buf, span[0], span[1])
        except WireError as e:
            raise e.corrupt(self.name, f"malformed {what}") from None

    def str(self, span: tuple[int, int], limit: int = 1 << 16) -> str:
        return text(self.buf, span, limit)

    # --- tensors ---------------------------------------------------------------------------

    def tensor(self, span: tuple[int, int], name: str | None = None, where: str = "initializer") -> TensorInfo:
        dims_f: list = []
        data_type = 0
        raw = None
        typed: list[tuple[int, tuple[int, int]]] = []
        ext: dict[str, str] = {}
        location = 0
        tname = ""
        for fno, wt, v in self.fields(span, where):
            if fno == 1:
                dims_f.append((fno, wt, v))
            elif fno == 2 and wt == 0:
                data_type = v
            elif fno == 8 and wt == 2:
                tname = self.str(v)
            elif fno == 9 and wt == 2:
                raw = v
            elif fno in (4, 5, 6, 7, 10, 11) and wt == 2:
                typed.append((fno, v))
            elif fno == 13 and wt == 2:
                entry = {f: self.str(x) for f, w, x in self.fields(v, "external_data entry") if w == 2}
                ext[entry.get(1, "")] = entry.get(2, "")
            elif fno == 14 and wt == 0:
                location = v
        name = name or tname
        try:
            dims = repeated_ints(self.buf, dims_f, LIMITS.max_dims)
        except WireError as e:
            raise e.corrupt(self.name, f"tensor {name!r}: dims") from None
        if any(d < 0 for d in dims):
            raise self.corrupt(f"tensor {name!r}: negative dimension in {dims}", span[0])
        dtype = ONNX_DTYPES.get(data_type)
        if dtype is None:
            raise self.corrupt(f"tensor {name!r}: unknown data_type {data_type}", span[0])
        elements = math.prod(dims)
        expected = nbytes_of(dtype, elements)
        if location == 1:
            return self._external(name, dtype, tuple(dims), ext, expected, span[0])
        if raw is not None:
            n = raw[1] - raw[0]
            if expected is not None and n != expected:
                raise self.corrupt(
                    f"tensor {name!r}: {dtype} {dims} needs {expected} bytes but raw_data holds {n}", raw[0])
            return TensorInfo(name, dtype, tuple(dims), raw[0], n, self.name)
        stored = sum(e - s for _, (s, e) in typed)
        if dtype == "STRING":
            return TensorInfo(name, dtype, tuple(dims), None, stored, self.name)
        if typed and typed[0][0] in (4, 10):  # float_data / double_data: fixed width, checkable
            width = 8 if typed[0][0] == 10 else 4
            count = stored // width * (1 if dtype not in ("C64", "C128") else 1)
            want = elements * (2 if dtype in ("C64", "C128") else 1)
            if count != want:
                raise self.corrupt(f"tensor {name!r}: {dims} needs {want} values, the file holds {count}", span[0])
        # Values in typed fields are varint-encoded or widened: no contiguous bytes to point at.
        return TensorInfo(name, dtype, tuple(dims), None, expected or 0, self.name)

    def _external(self, name: str, dtype: str, shape: tuple[int, ...], ext: dict[str, str],
                  expected: int | None, at: int) -> TensorInfo:
        loc = ext.get("location", "")
        try:
            offset = int(ext.get("offset") or 0)
            length = int(ext["length"]) if ext.get("length") else (expected or 0)
        except ValueError:
            raise self.corrupt(f"tensor {name!r}: external_data offset/length not integers: {ext}", at) from None
        if offset < 0 or length < 0:
            raise self.corrupt(f"tensor {name!r}: negative external offset or length", at)
        if expected is not None and length != expected:
            raise self.corrupt(f"tensor {name!r}: {dtype} {list(shape)} needs {expected} bytes "
                               f"but external_data says length {length}", at)
        rel = safe_relative(loc)
        if rel is None:
            self.warnings.append(f"tensor {name!r}: external data location {loc!r} points outside "
                                 "the model's folder (ONNX refuses it; not followed)")
        return TensorInfo(name, dtype, shape, offset, length, rel or loc, storage="external")

    def sparse(self, span: tuple[int, int]) -> None:
        values = indices = None
        dims_f = []
        for fno, wt, v in self.fields(span, "sparse initializer"):
            if fno == 1 and wt == 2:
                values = v
            elif fno == 2 and wt == 2:
                indices = v
            elif fno == 3:
                dims_f.append((fno, wt, v))
        if values is None:
            raise self.corrupt("sparse initializer without values", span[0])
        vt = self.tensor(values, where="sparse initializer values")
        dense = tuple(repeated_ints(self.buf, dims_f, LIMITS.max_dims))
        self.add(replace(vt, shape=dense, logical_parameters=vt.parameters))
        if indices is not None:
            it = self.tensor(indices, name=vt.name + ".indices", where="sparse initializer indices")
            self.add(replace(it, logical_parameters=0))

    def add(self, t: TensorInfo) -> None:
        check_limit(self.name, len(self.tensors), LIMITS.max_tensors, "tensor count")
        if t.name in self.names:
            self.warnings.append(f"tensor name {t.name!r} appears more than once")
        self.names.add(t.name)
        self.tensors.append(t)

    # --- graphs ----------------------------------------------------------------------------

    def graph(self, span: tuple[int, int], depth: int) -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise self.corrupt(f"subgraphs nested more than {_MAX_DEPTH} deep", span[0])
        out: dict[str, Any] = {"inputs": [], "outputs": [], "name": ""}
        for fno, wt, v in self.fields(span, "graph"):
            if wt != 2:
                continue
            if fno == 1:
                self.node(v, depth, self.ops)
            elif fno == 5:
                self.add(self.tensor(v))
            elif fno == 15:
                self.sparse(v)
            elif depth == 0 and fno == 11:
                out["inputs"].append(v)
            elif depth == 0 and fno == 12:
                out["outputs"].append(v)
            elif fno == 2:
                out["name"] = self.str(v, 1000)
        return out

    def node(self, span: tuple[int, int], depth: int, ops: Counter) -> None:
        op = domain = ""
        inputs: list[tuple[int, int]] = []
        outputs: list[tuple[int, int]] = []
        attrs: list[tuple[int, int]] = []
        for fno, wt, v in self.fields(span, "node"):
            if wt != 2:
                continue
            if fno == 4:
                op = self.str(v, 256)
            elif fno == 7:
                domain = self.str(v, 256)
            elif fno == 1:
                inputs.append(v)
            elif fno == 2:
                outputs.append(v)
            elif fno == 5:
                attrs.append(v)
        key = op if domain in ("", "ai.onnx") else f"{domain}::{op}"
        ops[key] += 1
        if op in _ATTR_OPS or domain not in ("", "ai.onnx", "ai.onnx.ml"):
            self.attributes(op, attrs, outputs, depth)
        if _is_quant_op(op):
            for i, s in enumerate(inputs):
                if s[1] > s[0]:
                    self.quant_uses.append((op, i, self.str(s)))
            if op == "MatMulNBits" and len(inputs) > 1:
                self.nbits[self.str(inputs[1])] = self._int_attrs(attrs)

    def _int_attrs(self, attrs: list[tuple[int, int]]) -> dict[str, int]:
        out = {}
        for a in attrs:
            f = self.fields(a, "attribute")
            name = next((self.str(v, 256) for fno, wt, v in f if fno == 1 and wt == 2), "")
            val = next((to_signed(v) for fno, wt, v in f if fno == 3 and wt == 0), None)
            if val is not None:
                out[name] = val
        return out

    def attributes(self, op: str, attrs: list[tuple[int, int]], outputs: list, depth: int) -> None:
        for a in attrs:
            aname = ""
            for fno, wt, v in self.fields(a, "attribute"):
                if fno == 1 and wt == 2:
                    aname = self.str(v, 256)
                elif fno == 5 and wt == 2 and op == "Constant":
                    out = self.str(outputs[0]) if outputs else aname
                    self.add(replace(self.tensor(v, name=out, where="Constant value"), storage="constant"))
                elif fno == 6 and wt == 2:
                    self.subgraphs += 1
                    self.graph(v, depth + 1)
                elif fno == 11 and wt == 2:
                    self.subgraphs += 1
                    self.graph(v, depth + 1)

    def value_info(self, span: tuple[int, int]) -> dict[str, Any]:
        name = ""
        type_span = None
        for fno, wt, v in self.fields(span, "value_info"):
            if fno == 1 and wt == 2:
                name = self.str(v, 4096)
            elif fno == 2 and wt == 2:
                type_span = v
        dtype, shape = self.type_proto(type_span, 0) if type_span else (None, None)
        return io_entry(name, dtype, shape)

    def type_proto(self, span: tuple[int, int], depth: int) -> tuple[str | None, list | None]:
        if depth > 8:
            raise self.corrupt("type nested too deeply", span[0])
        for fno, wt, v in self.fields(span, "type"):
            if wt != 2:
                continue
            if fno in (1, 8):  # tensor_type, sparse_tensor_type
                elem, shape = 0, None
                for f2, w2, v2 in self.fields(v, "tensor type"):
                    if f2 == 1 and w2 == 0:
                        elem = v2
                    elif f2 == 2 and w2 == 2:
                        shape = self.shape(v2)
                dtype = ONNX_DTYPES.get(elem, f"type{elem}" if elem else None)
                return (dtype if fno == 1 else f"sparse({dtype})"), shape
            if fno in (4, 9):  # sequence_type / optional_type {1 elem_type}
                inner = next((v2 for f2, w2, v2 in self.fields(v, "type") if f2 == 1 and w2 == 2), None)
                d, s = self.type_proto(inner, depth + 1) if inner else (None, None)
                return f"{'sequence' if fno == 4 else 'optional'}({d})", s
            if fno == 5:
                return "map", None
            if fno == 7:
                return "opaque", None
        return None, None

    def shape(self, span: tuple[int, int]) -> list:
        dims: list = []
        for fno, wt, v in self.fields(span, "shape"):
            if fno != 1 or wt != 2:
                continue
            if len(dims) >= LIMITS.max_dims:
                raise self.corrupt(f"shape with more than {LIMITS.max_dims} dimensions", v[0])
            d: int | str | None = None
            for f2, w2, v2 in self.fields(v, "dimension"):
                if f2 == 1 and w2 == 0:
                    d = to_signed(v2)
                elif f2 == 2 and w2 == 2:
                    d = self.str(v2, 256)
            dims.append(d)
        return dims


def _opsets(r: _Reader, spans: list[tuple[int, int]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in spans:
        dom, ver = "", None
        for fno, wt, v in r.fields(s, "opset_import"):
            if fno == 1 and wt == 2:
                dom = r.str(v, 256)
            elif fno == 2 and wt == 0:
                ver = to_signed(v)
        out[dom or "ai.onnx"] = ver
    return out


def _function(r: _Reader, span: tuple[int, int]) -> str:
    name = domain = ""
    for fno, wt, v in r.fields(span, "function"):
        if fno == 1 and wt == 2:
            name = r.str(v, 256)
        elif fno == 10 and wt == 2:
            domain = r.str(v, 256)
        elif fno == 7 and wt == 2:
            r.node(v, 1, r.func_ops)
    return f"{domain}::{name}" if domain else name


def read_model(src: ByteSource, tree: Tree | None = None, rel: str | None = None) -> ModelInfo:
    """Read an ONNX file; with ``tree`` (the model's folder) check its external data files.

    ``rel`` is the model's path inside ``tree`` (external locations are relative to its folder).
    Tensor ``file`` fields are paths relative to ``tree``; without a tree, the ONNX file's name
    for inline tensors and the location as written for external ones."""
    r = _Reader(src)
    top = r.fields((0, src.size), "model")
    if not top or not any(f == 1 and w == 0 for f, w, _ in top):
        raise r.corrupt("no ir_version: not an ONNX ModelProto", 0)
    meta: dict[str, Any] = {}
    opset_spans: list = []
    graph_span = None
    props: dict[str, str] = {}
    functions: list[str] = []
    for fno, wt, v in top:
        if fno == 1 and wt == 0:
            meta["ir_version"] = to_signed(v)
        elif fno == 8 and wt == 2:
            opset_spans.append(v)
        elif fno in (2, 3, 4, 6) and wt == 2:
            key = {2: "producer_name", 3: "producer_version", 4: "domain", 6: "doc_string"}[fno]
            meta[key] = r.str(v, _DOC_CHARS * 4)[: _DOC_CHARS] if fno == 6 else r.str(v, 1000)
        elif fno == 5 and wt == 0:
            meta["model_version"] = to_signed(v)
        elif fno == 7 and wt == 2:
            graph_span = v
        elif fno == 14 and wt == 2:
            kv = {f: r.str(x, LIMITS.max_metadata_value_chars) for f, w, x in r.fields(v, "metadata_props") if w == 2}
            props[kv.get(1, "")] = kv.get(2, "")
        elif fno == 20 and wt == 2:
            meta["training_info"] = True
        elif fno == 25 and wt == 2:
            functions.append(_function(r, v))
    if graph_span is None:
        raise r.corrupt("the model has no graph", 0)
    g = r.graph(graph_span, 0)
    init_names = r.names
    inputs = [e for e in (r.value_info(s) for s in g["inputs"]) if e["name"] not in init_names]
    outputs = [r.value_info(s) for s in g["outputs"]]
    if g["name"]:
        meta["graph_name"] = g["name"]
    if props:
        meta["metadata_props"] = props
    if functions:
        meta["functions"] = functions
    tensors, quant = _quantization(r)
    files, warnings = [FileInfo(rel or src.name, FORMAT_ID, src.size)], r.warnings
    if tree is None:
        tree = sibling_tree(src)
        base = os.path.dirname(src.name)
    else:
        base = rel.rsplit("/", 1)[0] if rel and "/" in rel else ""
    tensors, ext_files = _check_external(tensors, tree, base, warnings, rel)
    files += ext_files
    opsets = _opsets(r, opset_spans)
    extra = {"subgraphs": r.subgraphs or None,
             "function_operators": dict(r.func_ops) or None}
    return ModelInfo(
        source=src.name,
        format=FORMAT_ID,
        files=tuple(files),
        tensors=tuple(tensors),
        metadata=meta,
        quantization=quant,
        warnings=tuple(warnings),
        graph=graph_dict(inputs, outputs, r.ops, opsets, **extra),
    )


def _check_external(tensors: list[TensorInfo], tree: Tree | None, base: str, warnings: list[str],
                    rel: str | None) -> tuple[list[TensorInfo], list[FileInfo]]:
    """Existence and size of each external data file (never read); tensor ``file`` fields
    become ``base/location`` (inline ones ``rel`` when the model is a member of a tree)."""
    def join(loc: str) -> str:
        return f"{base}/{loc}" if base else loc

    sizes: dict[str, int | None] = {}
    for t in tensors:
        if t.storage == "external" and t.file not in sizes and safe_relative(t.file or ""):
            p = join(t.file or "")
            sizes[t.file or ""] = tree.size(p) if tree is not None and tree.exists(p) else None
    if sizes and tree is None:
        warnings.append("external data files not checked (the model is not a local file)")
    elif sizes:
        missing = [f for f, s in sizes.items() if s is None]
        if missing:
            lost = [t for t in tensors if t.storage == "external" and t.file in missing]
            warnings.append(f"external data missing: {', '.join(missing[:5])}"
                            f"{' …' if len(missing) > 5 else ''} ({len(lost)} tensors, "
                            f"{sum(t.nbytes for t in lost):,} bytes not on disk)")
        for t in tensors:
            size = sizes.get(t.file or "") if t.storage == "external" else None
            if size is not None and (t.offset or 0) + t.nbytes > size:
                warnings.append(f"tensor {t.name!r}: bytes {t.offset}..{(t.offset or 0) + t.nbytes} "
                                f"lie past the end of {t.file} ({size:,} bytes): the file is truncated")
    out = []
    for t in tensors:
        # ``storage`` only marked external / Constant tensors during the read: it is PyTorch's field
        if t.storage == "external" and t.file in sizes:
            out.append(replace(t, file=join(t.file or ""), storage=None))
        elif rel is not None and t.storage != "external":
            out.append(replace(t, file=rel, storage=None))
        else:
            out.append(replace(t, storage=None))
    files = [FileInfo(join(f), FORMAT_ID, s) for f, s in sizes.items() if s is not None]
    return out, files


# --- quantization ------------------------------------------------------------------------------

def _quantization(r: _Reader) -> tuple[list[TensorInfo], dict[str, Any] | None]:
    ops = {k.rsplit("::", 1)[-1]: n for k, n in r.ops.items()}
    qops = {k: n for k, n in ops.items() if _is_quant_op(k)}
    by_name = {t.name: i for i, t in enumerate(r.tensors)}
    tensors = list(r.tensors)
    book: set[str] = set()
    weights: set[str] = set()
    operands: set[str] = set()  # read by a quantized op as data (int32 biases of QLinearConv …)
    for op, pos, name in r.quant_uses:
        if name not in by_name:
            continue
        slots = _QUANT_BOOKKEEPING.get(op, _QLINEAR_BINARY if op.startswith("QLinear") else ())
        if pos in slots:
            book.add(name)
        elif low_bits(tensors[by_name[name]].dtype):
            weights.add(name)
        else:
            operands.add(name)
    weights -= book
    # Dynamic quantization multiplies by the weight's scale in a plain Mul: onnxruntime names it
    # after the weight (``fc1.weight_quantized`` -> ``fc1.weight_scale``).
    stems = {n.removesuffix("_quantized") for n in weights} | {_stem(n) for n in book}
    for t in tensors:
        if t.name not in weights and _stem(t.name) in stems and t.name.endswith(_BOOK_SUFFIXES):
            book.add(t.name)
    for i, t in enumerate(tensors):
        if not holds_parameters(t.dtype) and t.name not in operands:
            tensors[i] = replace(t, logical_parameters=0)
    lowbit_free = [t for t in tensors if low_bits(t.dtype) and t.name not in book and t.name not in weights
                   and t.dtype not in ("U8", "I8") and len(t.shape) >= 2]
    if not qops and not lowbit_free:
        return [t if holds_parameters(t.dtype) else replace(t, logical_parameters=0) for t in tensors], None
    overhead = 0
    bits_seen: Counter = Counter()
    group = None
    for name in book:
        t = tensors[by_name[name]]
        overhead += t.nbytes
        tensors[by_name[name]] = replace(t, logical_parameters=0)
    for name in weights | {t.name for t in lowbit_free}:
        t = tensors[by_name[name]]
        nb = r.nbits.get(name)
        if nb and "K" in nb and "N" in nb and len(t.shape) == 3:
            logical = (nb["N"], nb["K"])
            t = replace(t, shape=logical, stored_shape=t.shape, logical_parameters=math.prod(logical))
            tensors[by_name[name]] = t
            bits_seen[nb.get("bits", 4)] += t.parameters
            group = nb.get("block_size", group)
        else:
            bits_seen[bits_of(t.dtype) or 8] += t.parameters
    quantized = sum(tensors[by_name[n]].parameters for n in weights | {t.name for t in lowbit_free})
    total = sum(t.parameters for t in tensors)
    if "MatMulNBits" in qops:
        method, variant = "onnx-matmulnbits", "MatMulNBits (onnxruntime contrib)"
    elif any(k.startswith("QLinear") or k == "QGemm" for k in qops):
        method, variant = "onnx-qoperator", "QOperator"
    elif qops.keys() & {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "DynamicQuantizeMatMul"}:
        method, variant = "onnx-dynamic", "dynamic (activations quantized at run time)"
    elif qops:
        method = "onnx-qdq"
        variant = "QDQ static" if qops.get("QuantizeLinear") else "QDQ weight-only"
    else:
        method, variant = "onnx-lowbit", "low-precision initializers"
    wdtypes = Counter()
    for n in weights | {t.name for t in lowbit_free}:
        wdtypes[tensors[by_name[n]].dtype] += tensors[by_name[n]].parameters
    bits = max(bits_seen, key=lambda b: bits_seen[b]) if bits_seen else None
    report = quant_report(
        tensors, method=method, bits=bits, group=group, variant=variant, quantized=quantized,
        overhead=overhead, weight_dtypes=wdtypes,
        operators=dict(sorted(qops.items(), key=lambda kv: -kv[1])),
        evidence=[f"{n} × {k}" for k, n in list(qops.items())[:4]]
        + [f"{t.dtype} initializer {t.name}" for t in lowbit_free[:2]])
    dt = "·".join(report["weight_dtypes"]) or "?"
    head = f"{bits}-bit weights" if bits else "weights"
    report["summary"] = (f"ONNX {variant}: {head}" + (f", block {group}" if group else "")
                         + f" stored as {dt} · {quantized:,} of {total:,} parameters quantized")
    return tensors, report


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    return read_model(src)


register(
    FormatSpec(
        id=FORMAT_ID,
        detect=detect,
        read=read,
        extensions=(".onnx", ".ort.onnx"),
        description="ONNX protobuf graph; weights inline or in external data files",
    )
)
