"""Core ML: ``.mlmodel`` files (one protobuf ``Model``) and ``.mlpackage`` folders
(spec: https://apple.github.io/coremltools/mlmodel/Format/Model.html).

Layout (field numbers of Model.proto; read at wire level, ``coremltools`` is not needed)::

    Model            1 specificationVersion  2 description  10 isUpdatable
                     one of: 500 neuralNetwork  403 neuralNetworkClassifier  303 neuralNetworkRegressor
                     502 mlProgram  202 pipeline (200/201 classifier/regressor) … (model type)
    ModelDescription 1 input  10 output  100 metadata{1 shortDescription, 2 versionString,
                     3 author, 4 license, 100 userDefined}
    FeatureType      5 multiArrayType{1 shape, 2 dataType}  4 imageType{1 width, 2 height, 3 colorSpace} …
    NeuralNetwork    1 layers{1 name, 2 input, 3 output, <layer-type field> params}
                     weights are WeightParams{1 floatValue, 2 float16Value, 30 rawValue,
                     31 int8RawValue, 40 quantization{1 numberOfBits}}
    mlProgram        Program{2 functions<name, Function{1 inputs, 2 opset, 3 blocks<name,
                     Block{3 operations{1 type, 3 outputs, 5 attributes<"val", Value>}}>}>}
                     Value{2 type{1 tensorType{1 dataType, 3 dimensions}}, 3 immediateValue, 5 blobFileValue{1 fileName, 2 offset}}

An ``.mlpackage`` holds ``Manifest.json`` (which item is the root model) and, under
``Data/com.apple.CoreML/``, the spec and ``weights/weight.bin``: a 64-byte header (u32 count,
u32 version 2) then, per blob at the offset the spec names, 64 bytes of metadata (u32 sentinel
0xDEADBEEF, u32 storage type, u64 size, u64 data offset) and the data.
"""

from __future__ import annotations

import json
import math
import struct
from collections import Counter
from typing import Any

from ..core.errors import CorruptFileError, NotFoundError
from ..core.io import LIMITS, ByteSource, Tree
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register
from ._graph import graph_dict, holds_parameters, io_entry, nbytes_of
from ._protobuf import WireError, fields, repeated_ints, text, varint

__all__ = ["read", "detect", "read_package", "MODEL_TYPES"]

FORMAT_ID = "coreml"
PACKAGE_ID = "coreml-package"

MODEL_TYPES = {
    200: "pipelineClassifier", 201: "pipelineRegressor", 202: "pipeline", 300: "glmRegressor",
    301: "supportVectorRegressor", 302: "treeEnsembleRegressor", 303: "neuralNetworkRegressor",
    304: "bayesianProbitRegressor", 400: "glmClassifier", 401: "supportVectorClassifier",
    402: "treeEnsembleClassifier", 403: "neuralNetworkClassifier", 404: "kNearestNeighborsClassifier",
    500: "neuralNetwork", 501: "itemSimilarityRecommender", 502: "mlProgram", 555: "customModel",
    556: "linkedModel", 560: "classConfidenceThresholding", 600: "oneHotEncoder", 601: "imputer",
    602: "featureVectorizer", 603: "dictVectorizer", 604: "scaler", 606: "categoricalMapping",
    607: "normalizer", 609: "arrayFeatureExtractor", 610: "nonMaximumSuppression", 900: "identity",
    2000: "textClassifier", 2001: "wordTagger", 2002: "visionFeaturePrint",
    2003: "soundAnalysisPreprocessing", 2004: "gazetteer", 2005: "wordEmbedding",
    2006: "audioFeaturePrint", 3000: "serializedModel",
}
_NN = (500, 403, 303)
_PIPELINES = (200, 201, 202)
_ARRAY_DTYPES = {65568: "F32", 65600: "F64", 131104: "I32", 131080: "I8", 65552: "F16"}
_MIL_DTYPES = {1: "BOOL", 2: "STRING", 10: "F16", 11: "F32", 12: "F64", 13: "BF16", 21: "I8", 22: "I16",
               23: "I32", 24: "I64", 25: "I4", 31: "U8", 32: "U16", 33: "U32", 34: "U64", 35: "U4",
               36: "U2", 37: "U1", 38: "U6", 39: "U3", 40: "F8_E4M3", 41: "F8_E5M2"}
_COLOR = {10: "GRAYSCALE", 20: "RGB", 30: "BGR", 40: "GRAYSCALE_FLOAT16"}
_FEATURE = {1: "INT64", 2: "DOUBLE", 3: "STRING", 6: "dictionary", 7: "sequence", 8: "state"}
# NeuralNetworkLayer's "layer" oneof: field number -> layer type (NeuralNetwork.proto).
NN_LAYERS = {
    100: 'convolution', 120: 'pooling', 130: 'activation', 140: 'innerProduct', 150: 'embedding',
    160: 'batchnorm', 165: 'mvn', 170: 'l2normalize', 175: 'softmax', 180: 'lrn', 190: 'crop',
    200: 'padding', 210: 'upsample', 211: 'resizeBilinear', 212: 'cropResize', 220: 'unary',
    230: 'add', 231: 'multiply', 240: 'average', 245: 'scale', 250: 'bias', 260: 'max',
    261: 'min', 270: 'dot', 280: 'reduce', 290: 'loadConstant', 300: 'reshape', 301: 'flatten',
    310: 'permute', 320: 'concat', 330: 'split', 340: 'sequenceRepeat', 345: 'reorganizeData',
    350: 'slice', 400: 'simpleRecurrent', 410: 'gru', 420: 'uniDirectionalLSTM',
    430: 'biDirectionalLSTM', 500: 'custom', 600: 'copy', 605: 'branch', 615: 'loop',
    620: 'loopBreak', 625: 'loopContinue', 635: 'rangeStatic', 640: 'rangeDynamic', 660: 'clip',
    665: 'ceil', 670: 'floor', 680: 'sign', 685: 'round', 700: 'exp2', 710: 'sin', 715: 'cos',
    720: 'tan', 730: 'asin', 735: 'acos', 740: 'atan', 750: 'sinh', 755: 'cosh', 760: 'tanh',
    770: 'asinh', 775: 'acosh', 780: 'atanh', 790: 'erf', 795: 'gelu', 815: 'equal',
    820: 'notEqual', 825: 'lessThan', 827: 'lessEqual', 830: 'greaterThan', 832: 'greaterEqual',
    840: 'logicalOr', 845: 'logicalXor', 850: 'logicalNot', 855: 'logicalAnd',
    865: 'modBroadcastable', 870: 'minBroadcastable', 875: 'maxBroadcastable',
    880: 'addBroadcastable', 885: 'powBroadcastable', 890: 'divideBroadcastable',
    895: 'floorDivBroadcastable', 900: 'multiplyBroadcastable', 905: 'subtractBroadcastable',
    920: 'tile', 925: 'stack', 930: 'gather', 935: 'scatter', 940: 'gatherND', 945: 'scatterND',
    950: 'softmaxND', 952: 'gatherAlongAxis', 954: 'scatterAlongAxis', 960: 'reverse',
    965: 'reverseSeq', 975: 'splitND', 980: 'concatND', 985: 'transpose', 995: 'sliceStatic',
    1000: 'sliceDynamic', 1005: 'slidingWindows', 1015: 'topK', 1020: 'argMin', 1025: 'argMax',
    1040: 'embeddingND', 1045: 'batchedMatmul', 1065: 'getShape', 1070: 'loadConstantND',
    1080: 'fillLike', 1085: 'fillStatic', 1090: 'fillDynamic', 1100: 'broadcastToLike',
    1105: 'broadcastToStatic', 1110: 'broadcastToDynamic', 1120: 'squeeze', 1125: 'expandDims',
    1130: 'flattenTo2D', 1135: 'reshapeLike', 1140: 'reshapeStatic', 1145: 'reshapeDynamic',
    1150: 'rankPreservingReshape', 1155: 'constantPad', 1170: 'randomNormalLike',
    1175: 'randomNormalStatic', 1180: 'randomNormalDynamic', 1190: 'randomUniformLike',
    1195: 'randomUniformStatic', 1200: 'randomUniformDynamic', 1210: 'randomBernoulliLike',
    1215: 'randomBernoulliStatic', 1220: 'randomBernoulliDynamic',
    1230: 'categoricalDistribution', 1250: 'reduceL1', 1255: 'reduceL2', 1260: 'reduceMax',
    1265: 'reduceMin', 1270: 'reduceSum', 1275: 'reduceProd', 1280: 'reduceMean',
    1285: 'reduceLogSum', 1290: 'reduceSumSquare', 1295: 'reduceLogSumExp', 1313: 'whereNonZero',
    1315: 'matrixBandPart', 1320: 'lowerTriangular', 1325: 'upperTriangular',
    1330: 'whereBroadcastable', 1350: 'layerNormalization', 1400: 'NonMaximumSuppression',
    1450: 'oneHot', 1455: 'cumSum', 1460: 'clampedReLU', 1461: 'argSort', 1465: 'pooling3d',
    1466: 'globalPooling3d', 1470: 'sliceBySize', 1471: 'convolution3d',
}
# Field names of the weights of the common layer types (others are named by field number).
_WEIGHT_NAMES = {"innerProduct": {20: "weights", 21: "bias"}, "convolution": {90: "weights", 91: "bias"},
                 "embedding": {20: "weights", 21: "bias"}, "embeddingND": {20: "weights", 21: "bias"},
                 "batchnorm": {15: "gamma", 16: "beta", 17: "mean", 18: "variance"},
                 "scale": {2: "scale", 4: "bias"}, "bias": {2: "bias"}, "loadConstant": {2: "data"},
                 "loadConstantND": {2: "data"}, "batchedMatmul": {8: "weights", 9: "bias"}}
_MAX_DEPTH = 8
_BLOB_SENTINEL = 0xDEADBEEF


def detect(probe: Probe) -> int:
    head = probe.head
    try:
        key, pos = varint(head, 0, len(head))
        if key != 0x08:  # specificationVersion first, as every writer does
            return 0
        ver, pos = varint(head, pos, len(head))
        if not 1 <= ver <= 64:
            return 0
        key, pos = varint(head, pos, len(head))
    except WireError:
        return 0
    fno, wt = key >> 3, key & 7
    if wt == 2 and (fno == 2 or fno in MODEL_TYPES):
        return 85
    return 0


class _Reader:
    def __init__(self, src: ByteSource, weights: Tree | None, weights_base: str, file_label: str):
        self.src = src
        self.name = src.name
        self.buf = src.view(0, src.size)
        self.tensors: list[TensorInfo] = []
        self.ops: Counter = Counter()
        self.opsets: dict[str, Any] = {}
        self.types: list[str] = []
        self.weights = weights
        self.weights_base = weights_base
        self.file_label = file_label
        self.blob_files: dict[str, int | None] = {}
        self.warnings: list[str] = []
        self.quant_bits: Counter = Counter()

    def fields(self, span: tuple[int, int], what: str) -> list:
        try:
            return fields(self.buf, span[0], span[1])
        except WireError as e:
            raise e.corrupt(self.name, f"malformed {what}") from None

    def str(self, span: tuple[int, int], limit: int = 4096) -> str:
        return text(self.buf, span, limit)

    def add(self, t: TensorInfo) -> None:
        if len(self.tensors) >= LIMITS.max_tensors:
            raise CorruptFileError(self.name, f"more than {LIMITS.max_tensors} weights")
        self.tensors.append(t)

    # --- model ---------------------------------------------------------------------------------

    def model(self, span: tuple[int, int], depth: int, prefix: str = "") -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise CorruptFileError(self.name, "pipelines nested too deeply")
        out: dict[str, Any] = {"spec": None, "type": None, "description": None}
        for fno, wt, v in self.fields(span, "model"):
            if fno == 1 and wt == 0:
                out["spec"] = v
            elif fno == 2 and wt == 2:
                out["description"] = v
            elif fno in MODEL_TYPES and wt == 2:
                kind = MODEL_TYPES[fno]
                out["type"] = kind
                self.types.append(kind)
                if fno in _NN:
                    self.neural_network(v, prefix)
                elif fno == 502:
                    self.program(v, prefix)
                elif fno in _PIPELINES:
                    self.pipeline(v, fno, depth, prefix)
                else:
                    self.ops[kind] += 1
        return out

    def pipeline(self, span: tuple[int, int], fno: int, depth: int, prefix: str) -> None:
        if fno != 202:  # PipelineClassifier / PipelineRegressor wrap a Pipeline in field 1
            inner = [v for f, w, v in self.fields(span, "pipeline") if f == 1 and w == 2]
            if not inner:
                return
            span = inner[0]
        names = [self.str(v, 256) for f, w, v in self.fields(span, "pipeline") if f == 2 and w == 2]
        models = [v for f, w, v in self.fields(span, "pipeline") if f == 1 and w == 2]
        for i, m in enumerate(models):
            label = names[i] if i < len(names) else f"model{i}"
            self.model(m, depth + 1, f"{prefix}{label}/")

    # --- neural networks -----------------------------------------------------------------------

    def neural_network(self, span: tuple[int, int], prefix: str) -> None:
        for fno, wt, v in self.fields(span, "neural network"):
            if fno != 1 or wt != 2:
                continue
            lname, kind, params = "", None, None
            for f2, w2, v2 in self.fields(v, "layer"):
                if f2 == 1 and w2 == 2:
                    lname = self.str(v2, 1024)
                elif f2 in NN_LAYERS and w2 == 2:
                    kind, params = NN_LAYERS[f2], v2
            self.ops[kind or "unknown"] += 1
            if params is not None:
                self.layer_weights(prefix + lname, kind or "", params, 0)

    def layer_weights(self, lname: str, kind: str, span: tuple[int, int], depth: int) -> None:
        fs = self.fields(span, f"layer {lname!r}")
        ints = {f: v for f, w, v in fs if w == 0}
        names = _WEIGHT_NAMES.get(kind, {})
        for f, w, v in fs:
            if w != 2:
                continue
            wp = self.weight_params(v)
            if wp is not None:
                dtype, count, offset, nbytes, bits = wp
                shape: tuple[int, ...] = (count,)
                if kind == "innerProduct" and f == 20 and ints.get(1) and ints.get(2) == count // ints[1]:
                    shape = (ints[2], ints[1])
                name = f"{lname}.{names.get(f, f'field{f}')}"
                if bits:
                    self.quant_bits[bits] += count
                self.add(TensorInfo(name, dtype, shape, offset, nbytes, self.file_label))
            elif depth < 3 and kind in ("", "lstm", "uniDirectionalLSTM", "biDirectionalLSTM", "gru", "simpleRecurrent"):
                self.layer_weights(lname, "", v, depth + 1)

    def weight_params(self, span: tuple[int, int]) -> tuple[str, int, int | None, int, int | None] | None:
        """(dtype, elements, offset, bytes, quantized bits) if ``span`` is a WeightParams."""
        try:
            fs = fields(self.buf, span[0], span[1])
        except WireError:
            return None
        allowed = {1: 2, 2: 2, 30: 2, 31: 2, 40: 2, 50: 0}
        if not fs or any(allowed.get(f) != w for f, w, _ in fs):
            return None
        data = {f: v for f, w, v in fs if f in (1, 2, 30, 31)}
        if len(data) != 1:
            return None
        (f, (s, e)), = data.items()
        n = e - s
        bits = None
        for qf, qw, qv in fs:
            if qf == 40:
                for bf, bw, bv in self.fields(qv, "quantization"):
                    if bf == 1 and bw == 0:
                        bits = bv
        if f == 1:
            if n % 4:
                return None
            return "F32", n // 4, s, n, None
        if f == 2:
            return ("F16", n // 2, s, n, None) if n % 2 == 0 else None
        if f == 31:
            return "I8", n, s, n, 8
        if bits and 1 <= bits <= 8:
            return "U8" if bits == 8 else f"U{bits}", n * 8 // bits, s, n, bits
        return ("F32", n // 4, s, n, None) if n % 4 == 0 else None

    # --- ML programs ---------------------------------------------------------------------------

    def program(self, span: tuple[int, int], prefix: str) -> None:
        for fno, wt, v in self.fields(span, "program"):
            if fno == 1 and wt == 0:
                self.opsets["mil_program"] = v
            elif fno == 2 and wt == 2:
                fname, fspan = self.map_entry(v)
                self.function(fspan, prefix + (fname + "/" if fname != "main" else ""))

    def map_entry(self, span: tuple[int, int]) -> tuple[str, tuple[int, int]]:
        key, val = "", (0, 0)
        for f, w, v in self.fields(span, "map entry"):
            if f == 1 and w == 2:
                key = self.str(v, 1024)
            elif f == 2 and w == 2:
                val = v
        return key, val

    def function(self, span: tuple[int, int], prefix: str) -> None:
        for f, w, v in self.fields(span, "function"):
            if f == 2 and w == 2:
                self.opsets["mil"] = self.str(v, 64)
            elif f == 3 and w == 2:
                _, block = self.map_entry(v)
                self.block(block, prefix, 0)

    def block(self, span: tuple[int, int], prefix: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise CorruptFileError(self.name, "ML program blocks nested too deeply")
        for f, w, v in self.fields(span, "block"):
            if f != 3 or w != 2:
                continue
            op, out_name, val, blocks = "", "", None, []
            for f2, w2, v2 in self.fields(v, "operation"):
                if f2 == 1 and w2 == 2:
                    op = self.str(v2, 256)
                elif f2 == 3 and w2 == 2 and not out_name:
                    out_name = next((self.str(x, 1024) for a, b, x in self.fields(v2, "output") if a == 1 and b == 2), "")
                elif f2 == 5 and w2 == 2:
                    k, vs = self.map_entry(v2)
                    if k == "val":
                        val = vs
                elif f2 == 4 and w2 == 2:
                    blocks.append(v2)
            self.ops[op] += 1
            if op == "const" and val is not None:
                self.const(prefix + out_name, val)
            for b in blocks:
                self.block(b, prefix, depth + 1)

    def const(self, name: str, span: tuple[int, int]) -> None:
        dtype, shape, imm, blob = None, None, None, None
        for f, w, v in self.fields(span, "value"):
            if f == 2 and w == 2:
                dtype, shape = self.value_type(v)
            elif f == 3 and w == 2:
                imm = v
            elif f == 5 and w == 2:
                blob = v
        if dtype is None or shape is None:
            return  # lists, tuples, dictionaries: not tensors
        elements = math.prod(shape)
        if blob is not None:
            fname, off = "", 0
            for f, w, v in self.fields(blob, "blob reference"):
                if f == 1 and w == 2:
                    fname = self.str(v, 1024)
                elif f == 2 and w == 0:
                    off = v
            file, data_off, size = self.blob(fname, off, name)
            self.add(TensorInfo(name, dtype, shape, data_off, size, file,
                                logical_parameters=None if holds_parameters(dtype) else 0))
        elif imm is not None:
            if not shape or dtype == "STRING":
                return  # scalars and strings are op attributes (axes, modes), not weights
            self.add(TensorInfo(name, dtype, shape, None, nbytes_of(dtype, elements) or 0, self.file_label,
                                logical_parameters=None if holds_parameters(dtype) else 0))

    def value_type(self, span: tuple[int, int]) -> tuple[str | None, tuple[int, ...] | None]:
        for f, w, v in self.fields(span, "value type"):
            if f == 1 and w == 2:
                code, dims = 0, []
                for f2, w2, v2 in self.fields(v, "tensor type"):
                    if f2 == 1 and w2 == 0:
                        code = v2
                    elif f2 == 3 and w2 == 2:
                        if len(dims) >= LIMITS.max_dims:
                            raise CorruptFileError(self.name, "tensor with too many dimensions")
                        dims.append(self.dimension(v2))
                if any(d is None for d in dims):
                    return _MIL_DTYPES.get(code), None
                return _MIL_DTYPES.get(code, f"type{code}"), tuple(dims)
        return None, None

    def dimension(self, span: tuple[int, int]) -> int | None:
        for f, w, v in self.fields(span, "dimension"):
            if f == 1 and w == 2:
                for f2, w2, v2 in self.fields(v, "dimension"):
                    if f2 == 1 and w2 == 0:
                        return v2
                return 0
        return None

    def blob(self, fname: str, off: int, name: str) -> tuple[str, int | None, int]:
        rel = fname.removeprefix("@model_path/")
        path = self.weights_base + rel
        if self.weights is None or not self.weights.exists(path):
            if path not in self.blob_files:
                self.warnings.append(f"weights file {fname} not found: blob weights not checked")
            self.blob_files[path] = None
            return path, None, 0
        src = self.weights.open(path)
        try:
            self.blob_files[path] = src.size
            if off + 64 > src.size:
                raise CorruptFileError(src.name, f"weight {name!r}: blob metadata at {off} lies past the end "
                                       f"of the file ({src.size} bytes)", off)
            sentinel, _stype, size, data_off = struct.unpack_from("<IIQQ", src.read(off, 24))
            if sentinel != _BLOB_SENTINEL:
                raise CorruptFileError(src.name, f"weight {name!r}: no blob metadata at {off} "
                                       f"(sentinel {sentinel:#x})", off)
            if data_off + size > src.size:
                raise CorruptFileError(src.name, f"weight {name!r}: {size} bytes at {data_off} run past the end "
                                       f"of the file ({src.size} bytes)", off)
            return path, data_off, size
        finally:
            src.close()

    # --- description -----------------------------------------------------------------------------

    def description(self, span: tuple[int, int] | None) -> tuple[list, list, dict[str, Any]]:
        inputs, outputs, meta = [], [], {}
        if span is None:
            return inputs, outputs, meta
        for f, w, v in self.fields(span, "description"):
            if f in (1, 10) and w == 2:
                (inputs if f == 1 else outputs).append(self.feature(v))
            elif f == 100 and w == 2:
                for f2, w2, v2 in self.fields(v, "metadata"):
                    if f2 in (1, 2, 3, 4) and w2 == 2:
                        meta[{1: "shortDescription", 2: "versionString", 3: "author", 4: "license"}[f2]] = \
                            self.str(v2, LIMITS.max_metadata_value_chars)
                    elif f2 == 100 and w2 == 2:
                        k, vs = self.map_entry(v2)
                        meta.setdefault("userDefined", {})[k] = self.str(vs, LIMITS.max_metadata_value_chars)
            elif f in (11, 12) and w == 2:
                meta["predictedFeatureName" if f == 11 else "predictedProbabilitiesName"] = self.str(v, 256)
        return inputs, outputs, meta

    def feature(self, span: tuple[int, int]) -> dict[str, Any]:
        name, dtype, shape, extra = "", None, None, {}
        for f, w, v in self.fields(span, "feature"):
            if f == 1 and w == 2:
                name = self.str(v, 1024)
            elif f == 3 and w == 2:
                for f2, w2, v2 in self.fields(v, "feature type"):
                    if f2 == 5 and w2 == 2:
                        dims: list = []
                        for f3, w3, v3 in self.fields(v2, "multiarray type"):
                            if f3 == 1:
                                dims = repeated_ints(self.buf, [(f3, w3, v3)], LIMITS.max_dims)
                                shape = dims
                            elif f3 == 2 and w3 == 0:
                                dtype = _ARRAY_DTYPES.get(v3, f"array{v3}")
                            elif f3 in (21, 31) and w3 == 2:
                                extra["flexible_shape"] = "enumerated" if f3 == 21 else "range"
                        dtype = dtype or "F64"  # the proto default is INVALID; writers always set it
                    elif f2 == 4 and w2 == 2:
                        ints = {a: b for a, c, b in self.fields(v2, "image type") if c == 0}
                        dtype = "image"
                        extra["color_space"] = _COLOR.get(ints.get(3, 0))
                        shape = [ints.get(2, 0) or None, ints.get(1, 0) or None]
                    elif f2 in _FEATURE and w2 == 2:
                        dtype = _FEATURE[f2]
                    elif f2 == 1000 and w2 == 0:
                        extra["optional"] = bool(v2)
        return io_entry(name, dtype, shape, **extra)


def _read(src: ByteSource, weights: Tree | None, weights_base: str, label: str,
          fmt: str) -> tuple[ModelInfo, _Reader]:
    r = _Reader(src, weights, weights_base, label)
    top = r.model((0, src.size), 0)
    if top["spec"] is None:
        raise CorruptFileError(src.name, "no specificationVersion: not a Core ML model", 0)
    inputs, outputs, meta = r.description(top["description"])
    meta = {"specification_version": top["spec"], "model_type": top["type"], **meta}
    if len(r.types) > 1:
        meta["model_types"] = r.types
    opsets = {"coreml": top["spec"], **r.opsets}
    quant = None
    if r.quant_bits:
        q = sum(r.quant_bits.values())
        bits = r.quant_bits.most_common(1)[0][0]
        quant = {"method": "coreml-nn-quantized", "bits": bits, "quantized_parameters": q,
                 "summary": f"Core ML neural network weights quantized to {bits} bits · {q:,} parameters"}
    elif r.ops.get("constexpr_affine_dequantize") or r.ops.get("constexpr_blockwise_shift_scale") \
            or r.ops.get("constexpr_lut_to_dense") or r.ops.get("constexpr_sparse_to_dense"):
        kinds = {k: n for k, n in r.ops.items() if k.startswith("constexpr_")}
        quant = {"method": "coreml-compressed", "operators": kinds,
                 "summary": "Core ML compressed weights: " + ", ".join(f"{n} × {k}" for k, n in kinds.items())}
    info = ModelInfo(source=src.name, format=fmt, files=(FileInfo(label, fmt, src.size),),
                     tensors=tuple(r.tensors), metadata=meta, quantization=quant,
                     warnings=tuple(r.warnings),
                     graph=graph_dict(inputs, outputs, r.ops, opsets, model_type=top["type"]))
    return info, r


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    from ._graph import sibling_tree

    info, _ = _read(src, sibling_tree(src), "", src.name, FORMAT_ID)
    return info


def read_package(tree: Tree) -> ModelInfo:
    """An ``.mlpackage`` folder: Manifest.json names the root model spec."""
    try:
        manifest = json.loads(tree.read_bytes("Manifest.json", LIMITS.max_json_bytes))
        entries = manifest["itemInfoEntries"]
        root = entries[manifest["rootModelIdentifier"]]
        rel = "Data/" + str(root["path"])
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptFileError(f"{tree.name}/Manifest.json", f"not an mlpackage manifest ({e})") from None
    if ".." in rel.split("/"):
        raise CorruptFileError(f"{tree.name}/Manifest.json", f"root model path {rel!r} leaves the package")
    if not tree.exists(rel):
        raise NotFoundError(f"{tree.name}: the manifest names {rel}, which is missing")
    base = rel.rsplit("/", 1)[0] + "/"
    src = tree.open(rel)
    try:
        info, r = _read(src, tree, base, rel, PACKAGE_ID)
    finally:
        src.close()
    files = [FileInfo("Manifest.json", None, tree.size("Manifest.json")), FileInfo(rel, PACKAGE_ID, info.files[0].size_bytes)]
    files += [FileInfo(p, PACKAGE_ID, s) for p, s in r.blob_files.items() if s is not None]
    meta = dict(info.metadata)
    meta["package_items"] = [str(e.get("path")) for e in entries.values() if isinstance(e, dict)]
    from dataclasses import replace

    return replace(info, source=tree.name, files=tuple(files), metadata=meta)


register(FormatSpec(id=FORMAT_ID, detect=detect, read=read, extensions=(".mlmodel",),
                    description="Core ML model spec (protobuf): neural network, ML program, pipeline …"))
