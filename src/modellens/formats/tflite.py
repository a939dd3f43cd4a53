"""TFLite (LiteRT): one FlatBuffer with the identifier ``TFL3``
(schema: https://github.com/tensorflow/tensorflow/blob/master/tensorflow/compiler/mlir/lite/schema/schema.fbs).

Layout (table fields by index, see ``_flatbuffers``)::

    Model      0 version  1 operator_codes  2 subgraphs  3 description  4 buffers
               6 metadata{0 name, 1 buffer}  7 signature_defs  8 external_buffer_groups
               9 external_buffers{0 id, 1 group, 2 offset, 3 length}
    OperatorCode 0 deprecated_builtin_code (i8)  1 custom_code  2 version  3 builtin_code (i32)
    SubGraph   0 tensors  1 inputs  2 outputs  3 operators{0 opcode_index, 1 inputs, 2 outputs}  4 name
    Tensor     0 shape  1 type  2 buffer  3 name  4 quantization{2 scale, 3 zero_point,
               6 quantized_dimension}  6 sparsity  7 shape_signature (-1 = dynamic)  10 external_buffer
    Buffer     0 data (inline bytes) | 1 offset, 2 size (models over 2 GB: bytes after the flatbuffer)
    SignatureDef 0 inputs{0 name, 1 tensor_index}  1 outputs  2 signature_key  4 subgraph_index

A tensor whose buffer holds bytes is a constant (a parameter); buffer 0 is the empty sentinel.
Tensors sharing one buffer are reported as aliases.  Metadata buffers such as
``min_runtime_version`` are decoded; larger ones (``TFLITE_METADATA``, ``CONVERSION_METADATA``)
are listed with their size.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from ..core.errors import CorruptFileError
from ..core.io import LIMITS, ByteSource, check_limit
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register
from ._flatbuffers import Table, WireError, root
from ._graph import graph_dict, holds_parameters, quant_report, io_entry, nbytes_of, safe_relative, sibling_tree

__all__ = ["read", "detect", "TFLITE_DTYPES", "BUILTIN_OPERATORS"]

FORMAT_ID = "tflite"
IDENTIFIER = b"TFL3"

# TensorType -> modellens dtype name.
TFLITE_DTYPES = {0: "F32", 1: "F16", 2: "I32", 3: "U8", 4: "I64", 5: "STRING", 6: "BOOL", 7: "I16",
                 8: "C64", 9: "I8", 10: "F64", 11: "C128", 12: "U64", 13: "RESOURCE", 14: "VARIANT",
                 15: "U32", 16: "U16", 17: "I4", 18: "BF16", 19: "I2", 20: "U4"}

# BuiltinOperator names by code (schema.fbs, TF 2.21); 32 is CUSTOM (named by custom_code).
BUILTIN_OPERATORS = (
    'ADD', 'AVERAGE_POOL_2D', 'CONCATENATION', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'DEPTH_TO_SPACE',
    'DEQUANTIZE', 'EMBEDDING_LOOKUP', 'FLOOR', 'FULLY_CONNECTED', 'HASHTABLE_LOOKUP',
    'L2_NORMALIZATION', 'L2_POOL_2D', 'LOCAL_RESPONSE_NORMALIZATION', 'LOGISTIC',
    'LSH_PROJECTION', 'LSTM', 'MAX_POOL_2D', 'MUL', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'RESHAPE',
    'RESIZE_BILINEAR', 'RNN', 'SOFTMAX', 'SPACE_TO_DEPTH', 'SVDF', 'TANH', 'CONCAT_EMBEDDINGS',
    'SKIP_GRAM', 'CALL', 'CUSTOM', 'EMBEDDING_LOOKUP_SPARSE', 'PAD',
    'UNIDIRECTIONAL_SEQUENCE_RNN', 'GATHER', 'BATCH_TO_SPACE_ND', 'SPACE_TO_BATCH_ND',
    'TRANSPOSE', 'MEAN', 'SUB', 'DIV', 'SQUEEZE', 'UNIDIRECTIONAL_SEQUENCE_LSTM', 'STRIDED_SLICE',
    'BIDIRECTIONAL_SEQUENCE_RNN', 'EXP', 'TOPK_V2', 'SPLIT', 'LOG_SOFTMAX', 'DELEGATE',
    'BIDIRECTIONAL_SEQUENCE_LSTM', 'CAST', 'PRELU', 'MAXIMUM', 'ARG_MAX', 'MINIMUM', 'LESS',
    'NEG', 'PADV2', 'GREATER', 'GREATER_EQUAL', 'LESS_EQUAL', 'SELECT', 'SLICE', 'SIN',
    'TRANSPOSE_CONV', 'SPARSE_TO_DENSE', 'TILE', 'EXPAND_DIMS', 'EQUAL', 'NOT_EQUAL', 'LOG',
    'SUM', 'SQRT', 'RSQRT', 'SHAPE', 'POW', 'ARG_MIN', 'FAKE_QUANT', 'REDUCE_PROD', 'REDUCE_MAX',
    'PACK', 'LOGICAL_OR', 'ONE_HOT', 'LOGICAL_AND', 'LOGICAL_NOT', 'UNPACK', 'REDUCE_MIN',
    'FLOOR_DIV', 'REDUCE_ANY', 'SQUARE', 'ZEROS_LIKE', 'FILL', 'FLOOR_MOD', 'RANGE',
    'RESIZE_NEAREST_NEIGHBOR', 'LEAKY_RELU', 'SQUARED_DIFFERENCE', 'MIRROR_PAD', 'ABS', 'SPLIT_V',
    'UNIQUE', 'CEIL', 'REVERSE_V2', 'ADD_N', 'GATHER_ND', 'COS', 'WHERE', 'RANK', 'ELU',
    'REVERSE_SEQUENCE', 'MATRIX_DIAG', 'QUANTIZE', 'MATRIX_SET_DIAG', 'ROUND', 'HARD_SWISH', 'IF',
    'WHILE', 'NON_MAX_SUPPRESSION_V4', 'NON_MAX_SUPPRESSION_V5', 'SCATTER_ND', 'SELECT_V2',
    'DENSIFY', 'SEGMENT_SUM', 'BATCH_MATMUL', 'PLACEHOLDER_FOR_GREATER_OP_CODES', 'CUMSUM',
    'CALL_ONCE', 'BROADCAST_TO', 'RFFT2D', 'CONV_3D', 'IMAG', 'REAL', 'COMPLEX_ABS', 'HASHTABLE',
    'HASHTABLE_FIND', 'HASHTABLE_IMPORT', 'HASHTABLE_SIZE', 'REDUCE_ALL', 'CONV_3D_TRANSPOSE',
    'VAR_HANDLE', 'READ_VARIABLE', 'ASSIGN_VARIABLE', 'BROADCAST_ARGS', 'RANDOM_STANDARD_NORMAL',
    'BUCKETIZE', 'RANDOM_UNIFORM', 'MULTINOMIAL', 'GELU', 'DYNAMIC_UPDATE_SLICE', 'RELU_0_TO_1',
    'UNSORTED_SEGMENT_PROD', 'UNSORTED_SEGMENT_MAX', 'UNSORTED_SEGMENT_SUM', 'ATAN2',
    'UNSORTED_SEGMENT_MIN', 'SIGN', 'BITCAST', 'BITWISE_XOR', 'RIGHT_SHIFT', 'STABLEHLO_LOGISTIC',
    'STABLEHLO_ADD', 'STABLEHLO_DIVIDE', 'STABLEHLO_MULTIPLY', 'STABLEHLO_MAXIMUM',
    'STABLEHLO_RESHAPE', 'STABLEHLO_CLAMP', 'STABLEHLO_CONCATENATE', 'STABLEHLO_BROADCAST_IN_DIM',
    'STABLEHLO_CONVOLUTION', 'STABLEHLO_SLICE', 'STABLEHLO_CUSTOM_CALL', 'STABLEHLO_REDUCE',
    'STABLEHLO_ABS', 'STABLEHLO_AND', 'STABLEHLO_COSINE', 'STABLEHLO_EXPONENTIAL',
    'STABLEHLO_FLOOR', 'STABLEHLO_LOG', 'STABLEHLO_MINIMUM', 'STABLEHLO_NEGATE', 'STABLEHLO_OR',
    'STABLEHLO_POWER', 'STABLEHLO_REMAINDER', 'STABLEHLO_RSQRT', 'STABLEHLO_SELECT',
    'STABLEHLO_SUBTRACT', 'STABLEHLO_TANH', 'STABLEHLO_SCATTER', 'STABLEHLO_COMPARE',
    'STABLEHLO_CONVERT', 'STABLEHLO_DYNAMIC_SLICE', 'STABLEHLO_DYNAMIC_UPDATE_SLICE',
    'STABLEHLO_PAD', 'STABLEHLO_IOTA', 'STABLEHLO_DOT_GENERAL', 'STABLEHLO_REDUCE_WINDOW',
    'STABLEHLO_SORT', 'STABLEHLO_WHILE', 'STABLEHLO_GATHER', 'STABLEHLO_TRANSPOSE', 'DILATE',
    'STABLEHLO_RNG_BIT_GENERATOR', 'REDUCE_WINDOW', 'STABLEHLO_COMPOSITE', 'STABLEHLO_SHIFT_LEFT',
    'STABLEHLO_CBRT', 'STABLEHLO_CASE',
)
_CUSTOM = 32
_QUANT_DTYPES = {"I8", "U8", "I4", "U4", "I16", "I2"}
_SMALL_METADATA = 256  # metadata buffers up to this size are decoded as text when they are text


def detect(probe: Probe) -> int:
    head = probe.head
    if len(head) >= 8 and head[4:8] == IDENTIFIER:
        return 100 if int.from_bytes(head[:4], "little") < probe.size else 50
    return 0


def _op_name(code: Table) -> str:
    builtin = max(code.scalar(0, "b", 0), code.scalar(3, "i", 0))
    if builtin == _CUSTOM:
        return code.string(1, 256) or "CUSTOM"
    return BUILTIN_OPERATORS[builtin] if 0 <= builtin < len(BUILTIN_OPERATORS) else f"BUILTIN_{builtin}"


def _dims(values: list[int]) -> list[int | None]:
    return [None if v < 0 else v for v in values]


class _Buffer:
    __slots__ = ("offset", "size", "first")

    def __init__(self, offset: int | None, size: int):
        self.offset = offset
        self.size = size
        self.first: str | None = None  # the first tensor that uses it (later ones are aliases)


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    try:
        return _read(src)
    except WireError as e:
        raise e.corrupt(src.name, "malformed TFLite flatbuffer") from None


def _read(src: ByteSource) -> ModelInfo:
    buf = src.view(0, src.size)
    if src.size < 8 or bytes(buf[4:8]) != IDENTIFIER:
        raise CorruptFileError(src.name, "missing the TFL3 file identifier", 4)
    m = root(buf, src.size)
    lim = LIMITS.max_tensors
    warnings: list[str] = []
    opcodes = m.tables(1, lim)
    op_names = [_op_name(c) for c in opcodes]
    op_versions: dict[str, int] = {}
    for name, c in zip(op_names, opcodes):
        op_versions[name] = max(op_versions.get(name, 0), c.scalar(2, "i", 1))
    buffers: list[_Buffer] = []
    for b in m.tables(4, lim):
        data = b.vector(0, 1)
        if data is not None and data[1]:
            buffers.append(_Buffer(data[0], data[1]))
            continue
        off, size = b.scalar(1, "Q", 0), b.scalar(2, "Q", 0)
        if off > 1 and size:
            if off + size > src.size:
                raise CorruptFileError(src.name, f"buffer of {size} bytes at {off} runs past the end of the "
                                       f"file ({src.size} bytes)", off)
            buffers.append(_Buffer(off, size))
        else:
            buffers.append(_Buffer(None, 0))
    groups = [g.string(0, 4096) or "" for g in m.tables(8, lim)]
    ext: dict[int, tuple[str, int, int]] = {}
    for e in m.tables(9, lim):
        g = e.scalar(1, "I", 0)
        ext[e.scalar(0, "I", 0)] = (groups[g] if g < len(groups) else f"group{g}", e.scalar(2, "Q", 0),
                                    e.scalar(3, "Q", 0))
    meta: dict[str, Any] = {"schema_version": m.scalar(0, "I", 0)}
    desc = m.string(3, 4096)
    if desc:
        meta["description"] = desc
    runtime = None
    meta_buffers: dict[str, Any] = {}
    for md in m.tables(6, 4096):
        name = md.string(0, 256) or ""
        bi = md.scalar(1, "I", 0)
        b = buffers[bi] if bi < len(buffers) else None
        if b is None or b.offset is None:
            meta_buffers[name] = 0
            continue
        raw = bytes(buf[b.offset : b.offset + min(b.size, _SMALL_METADATA)])
        txt = raw.rstrip(b"\x00")
        if b.size <= _SMALL_METADATA and txt and all(32 <= c < 127 for c in txt):
            meta_buffers[name] = txt.decode("ascii")
        else:
            meta_buffers[name] = {"bytes": b.size}
        b.first = f"metadata:{name}"  # a metadata buffer is not a tensor's data
    if "min_runtime_version" in meta_buffers:
        runtime = meta_buffers["min_runtime_version"]
    if meta_buffers:
        meta["metadata_buffers"] = meta_buffers

    tensors: list[TensorInfo] = []
    ops: Counter = Counter()
    quant: dict[str, Any] = {"weights": Counter(), "per_axis": 0, "activations": Counter(), "f16": 0}
    graph_io: dict[str, list] = {"inputs": [], "outputs": []}
    subgraphs = m.tables(2, 65536)
    if not subgraphs:
        raise CorruptFileError(src.name, "the model has no subgraph")
    sg_names = []
    for si, sg in enumerate(subgraphs):
        sg_names.append(sg.string(4, 256) or f"subgraph{si}")
        sg_tensors = sg.tables(0, lim)
        check_limit(src.name, len(tensors) + len(sg_tensors), lim, "tensor count")
        infos = []
        for ti, t in enumerate(sg_tensors):
            infos.append(_tensor(src, t, ti, si, buffers, ext, tensors, quant, warnings))
        for op in sg.tables(3, lim):
            idx = op.scalar(0, "I", 0)
            if idx >= len(op_names):
                raise CorruptFileError(src.name, f"operator uses opcode {idx}, the model has {len(op_names)}")
            ops[op_names[idx]] += 1
        if si == 0:
            for key, field in (("inputs", 1), ("outputs", 2)):
                for i in sg.scalars(field, "i", lim):
                    if not 0 <= i < len(infos):
                        raise CorruptFileError(src.name, f"subgraph {key} names tensor {i} of {len(infos)}")
                    graph_io[key].append(infos[i])
    signatures = {}
    for sd in m.tables(7, 4096):
        key = sd.string(2, 256) or ""
        signatures[key] = {
            "subgraph": sd.scalar(4, "I", 0),
            "inputs": [tm.string(0, 256) for tm in sd.tables(0, 4096)],
            "outputs": [tm.string(0, 256) for tm in sd.tables(1, 4096)],
        }
    files = [FileInfo(src.name, FORMAT_ID, src.size)]
    files += _check_external(src, tensors, warnings)
    graph = graph_dict(
        graph_io["inputs"], graph_io["outputs"], ops, {"tflite": meta["schema_version"]},
        min_runtime_version=runtime,
        operator_versions=dict(sorted(op_versions.items())),
        custom_operators=sorted({n for n, c in zip(op_names, opcodes)
                                 if max(c.scalar(0, "b", 0), c.scalar(3, "i", 0)) == _CUSTOM}) or None,
        subgraphs=sg_names if len(sg_names) > 1 else None,
        signatures=signatures or None,
    )
    return ModelInfo(
        source=src.name,
        format=FORMAT_ID,
        files=tuple(files),
        tensors=tuple(tensors),
        metadata=meta,
        quantization=_quant_report(tensors, quant, ops),
        warnings=tuple(warnings),
        graph=graph,
    )


def _tensor(src: ByteSource, t: Table, ti: int, si: int, buffers: list[_Buffer], ext: dict,
            tensors: list[TensorInfo], quant: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """Add a constant tensor to ``tensors``; return the I/O entry of any tensor."""
    name = t.string(3, 4096) or f"tensor{ti}"
    if si:
        name = f"{si}/{name}"
    code = t.scalar(1, "b", 0)
    dtype = TFLITE_DTYPES.get(code)
    if dtype is None:
        raise CorruptFileError(src.name, f"tensor {name!r}: unknown tensor type {code}")
    shape = t.scalars(0, "i", LIMITS.max_dims)
    if any(d < 0 for d in shape):
        raise CorruptFileError(src.name, f"tensor {name!r}: negative dimension in {shape}")
    sig = t.scalars(7, "i", LIMITS.max_dims)
    q = t.table(4)
    scales = q.scalars(2, "f", lim := 1 << 24) if q is not None else []
    zps = q.scalars(3, "q", lim) if q is not None else []
    qdim = q.scalar(6, "i", 0) if q is not None else 0
    entry_q = None
    if scales:
        entry_q = {"scale": scales[0] if len(scales) == 1 else scales[:8],
                   "zero_point": (zps[0] if len(zps) == 1 else zps[:8]) if zps else 0}
        if len(scales) > 1:
            entry_q["quantized_dimension"] = qdim
            entry_q["channels"] = len(scales)
    entry = io_entry(name, dtype, _dims(sig) if sig else shape, quantization=entry_q)
    bi = t.scalar(2, "I", 0)
    ext_id = t.scalar(10, "I", 0)
    elements = math.prod(shape)
    if ext_id and ext_id in ext:
        fname, off, length = ext[ext_id]
        tensors.append(TensorInfo(name, dtype, tuple(shape), off, length, fname, storage="external"))
    elif 0 < bi < len(buffers) and buffers[bi].size:
        b = buffers[bi]
        if b.first is not None and b.first.startswith("metadata:"):
            warnings.append(f"tensor {name!r} uses the {b.first} buffer")
        expected = nbytes_of(dtype, elements)
        sparse = t.has(6)
        if expected is not None and expected != b.size and not sparse:
            warnings.append(f"tensor {name!r}: {dtype} {shape} needs {expected} bytes, its buffer holds {b.size}")
        counts = holds_parameters(dtype) or bool(scales)
        alias = b.first
        tensors.append(TensorInfo(name, dtype, tuple(shape), b.offset, b.size, src.name, alias_of=alias,
                                  logical_parameters=None if counts else 0))
        if b.first is None:
            b.first = name
        if alias is None and counts:
            if scales and dtype in _QUANT_DTYPES:
                quant["weights"][dtype] += elements
                quant["per_axis"] += len(scales) > 1
            elif dtype == "F16":
                quant["f16"] += elements
    elif scales and dtype in _QUANT_DTYPES:
        quant["activations"][dtype] += 1
    elif bi >= len(buffers) and bi:
        raise CorruptFileError(src.name, f"tensor {name!r} uses buffer {bi}, the model has {len(buffers)}")
    return entry


def _check_external(src: ByteSource, tensors: list[TensorInfo], warnings: list[str]) -> list[FileInfo]:
    ext = [t for t in tensors if t.storage == "external"]
    if not ext:
        return []
    tree = sibling_tree(src)
    files: list[FileInfo] = []
    for fname in sorted({t.file or "" for t in ext}):
        rel = safe_relative(fname)
        if rel is None:
            warnings.append(f"external buffer file {fname!r} points outside the model's folder: not followed")
        elif tree is None or not tree.exists(rel):
            warnings.append(f"external buffer file {fname!r} not found")
        else:
            size = tree.size(rel)
            files.append(FileInfo(rel, FORMAT_ID, size))
            for t in ext:
                if t.file == fname and (t.offset or 0) + t.nbytes > size:
                    warnings.append(f"tensor {t.name!r} lies past the end of {fname} ({size} bytes)")
    for i, t in enumerate(tensors):
        if t.storage == "external":
            tensors[i] = TensorInfo(t.name, t.dtype, t.shape, t.offset, t.nbytes, t.file)
    return files


def _quant_report(tensors: list[TensorInfo], q: dict[str, Any], ops: Counter) -> dict[str, Any] | None:
    weights: Counter = q["weights"]
    if not weights and not q["f16"]:
        return None
    total = sum(t.parameters for t in tensors if t.alias_of is None)
    if weights:
        quantized = sum(weights.values())
        if q["activations"]:
            method, variant = "tflite-full-integer", "full integer (weights and activations)"
        else:
            method, variant = "tflite-dynamic-range", "dynamic range (int weights, float activations)"
        bits = {"I4": 4, "U4": 4, "I2": 2, "I16": 16}.get(next(iter(weights.most_common()))[0], 8)
    else:
        quantized = q["f16"]
        method, variant, bits = "tflite-float16", "float16 weights (dequantized at load)", 16
    report = quant_report(
        tensors, method=method, bits=bits, variant=variant, quantized=quantized,
        weight_dtypes=weights or {"F16": q["f16"]}, per_axis_tensors=q["per_axis"],
        quantized_activation_dtypes=dict(q["activations"]) or None,
        evidence=[f"{n} {d} constants with quantization parameters" for d, n in weights.items()]
        or [f"{ops.get('DEQUANTIZE', 0)} DEQUANTIZE ops over F16 constants"])
    report["summary"] = (f"TFLite {variant}: {bits}-bit weights"
                         + (f", {q['per_axis']} per-axis" if q["per_axis"] else "")
                         + f" · {quantized:,} of {total:,} parameters quantized")
    return report


register(
    FormatSpec(
        id=FORMAT_ID,
        detect=detect,
        read=read,
        extensions=(".tflite", ".lite"),
        description="TFLite / LiteRT flatbuffer: subgraphs, operators, constant buffers",
    )
)
