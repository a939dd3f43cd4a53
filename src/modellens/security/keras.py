"""Keras models: ``.h5`` (``model_config`` attribute), ``.keras`` (``config.json``), SavedModel.

Keras rebuilds a model from a JSON config.  Two entries carry code:

* ``Lambda`` layers: the function is Python bytecode, ``marshal``-ed and base64-encoded in
  ``config.function`` (Keras 2 runs it on ``load_model``; Keras 3 only with
  ``safe_mode=False``) — **dangerous**;
* custom objects: a ``class_name`` / ``module`` / ``registered_name`` outside Keras's own
  layers, imported from a module when loading — **suspicious**, naming it.

Any string in the config that decodes to marshalled bytecode is dangerous as well (a function
hidden in another field).  Nothing is unmarshalled: the marshal header bytes are enough.
SavedModel graphs are searched for the ops that run Python or touch files (``PyFunc``,
``EagerPyFunc``, ``ReadFile`` / ``WriteFile``).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .context import ScanContext, join_member
from .findings import Severity

__all__ = ["scan_h5", "scan_config_text", "scan_savedmodel"]

S, D, E, I = Severity.SUSPICIOUS, Severity.DANGEROUS, Severity.ERROR, Severity.INFO
_MAX_NODES = 200_000
_KERAS_MODULES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras")
_CONTAINERS = {"Sequential", "Functional", "Model"}
# Built-in layer / object class names a config may hold without a module (Keras 2).
_BUILTIN = {
    "InputLayer", "Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
    "Conv3DTranspose", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv2D", "MaxPooling1D",
    "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "Flatten", "Reshape", "Permute", "RepeatVector", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "BatchNormalization",
    "LayerNormalization", "GroupNormalization", "UnitNormalization", "Activation", "ReLU",
    "LeakyReLU", "PReLU", "ELU", "Softmax", "Embedding", "LSTM", "GRU", "SimpleRNN", "RNN",
    "Bidirectional", "TimeDistributed", "ConvLSTM2D", "Attention", "AdditiveAttention",
    "MultiHeadAttention", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
    "Concatenate", "Dot", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D",
    "UpSampling1D", "UpSampling2D", "Masking", "Rescaling", "Normalization", "Resizing",
    "CenterCrop", "StringLookup", "IntegerLookup", "TextVectorization", "CategoryEncoding",
    "Hashing", "Discretization", "Identity", "Lambda", "Sequential", "Functional", "Model",
    "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "Zeros", "Ones", "Constant",
    "RandomNormal", "RandomUniform", "TruncatedNormal", "Orthogonal", "VarianceScaling",
    "LecunNormal", "LecunUniform", "Identity", "L1", "L2", "L1L2", "MaxNorm", "NonNeg",
    "UnitNorm", "MinMaxNorm", "Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax",
    "Nadam", "Ftrl", "DTypePolicy", "Policy", "float32", "TensorShape", "__tuple__",
    "ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay", "InverseTimeDecay",
    "PolynomialDecay", "function", "LSTMCell", "GRUCell", "SimpleRNNCell", "StackedRNNCells",
}


def _marshalled(s: str) -> bool:
    """Base64 text whose bytes start like a marshalled code object (type 'c', flag 0x80)."""
    if len(s) < 24 or not s.isascii():
        return False
    try:
        raw = base64.b64decode(s[:64] + "=" * (-len(s[:64]) % 4), validate=False)
    except (binascii.Error, ValueError):
        return False
    return raw[:1] in (b"\xe3", b"c") and len(raw) > 16


def scan_config(ctx: ScanContext, cfg: Any, member: str | None) -> None:
    todo: list[tuple[Any, str]] = [(cfg, "")]
    n = 0
    while todo and n < _MAX_NODES:
        v, path = todo.pop()
        n += 1
        if isinstance(v, dict):
            cls = v.get("class_name")
            conf = v.get("config")
            if cls == "Lambda":
                fn = conf.get("function") if isinstance(conf, dict) else None
                code = fn[0] if isinstance(fn, list) and fn else fn.get("config", {}).get("code") \
                    if isinstance(fn, dict) and isinstance(fn.get("config"), dict) else fn
                if isinstance(code, str) and _marshalled(code):
                    ctx.add(D, "keras.lambda", f"Lambda layer {_lname(conf)} holds marshalled Python "
                            "bytecode that Keras runs when loading", member)
                else:
                    ctx.add(D, "keras.lambda", f"Lambda layer {_lname(conf)}: arbitrary Python "
                            "function deserialized when loading", member)
            elif isinstance(cls, str):
                module = v.get("module")
                registered = v.get("registered_name")
                custom = (isinstance(module, str) and module and not module.startswith(_KERAS_MODULES)) \
                    or (module is None and cls not in _BUILTIN and "config" in v) \
                    or (isinstance(registered, str) and ">" in registered)
                if custom:
                    ctx.add(S, "keras.custom-object", f"custom object {cls!r}"
                            + (f" from module {module!r}" if module else "")
                            + (f" (registered as {registered!r})" if registered else "")
                            + ": its code is imported when loading", member)
            for k, x in v.items():
                todo.append((x, f"{path}.{k}"))
        elif isinstance(v, list):
            todo.extend((x, f"{path}[{i}]") for i, x in enumerate(v))
        elif isinstance(v, str) and _marshalled(v) and "function" in path:
            ctx.add(D, "keras.bytecode", f"marshalled Python bytecode at {path or 'config'}", member)


def _lname(conf: Any) -> str:
    return repr(conf.get("name")) if isinstance(conf, dict) else ""


def scan_config_text(ctx: ScanContext, text: str | bytes, member: str | None) -> None:
    try:
        cfg = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        ctx.add(E, "keras.bad-config", f"model config is not JSON ({e})", member)
        return
    scan_config(ctx, cfg, member)


def scan_h5(ctx: ScanContext, f: Any, member: str | None) -> None:
    found = False
    for key in ("model_config", "training_config"):
        if key in f.attrs:
            found = True
            val = f.attrs[key]
            if isinstance(val, bytes):
                val = val.decode("utf-8", "replace")
            scan_config_text(ctx, str(val), join_member(member, key) if member else key)
    if not found:
        ctx.add(I, "keras.weights-only", "HDF5 without a model config (weights only)", member)


def scan_savedmodel(ctx: ScanContext, data: Any, member: str | None, kind: str) -> None:
    raw = bytes(data[: 256 << 20])
    if kind == "keras_metadata":
        for token in (b'"class_name": "Lambda"', b'"class_name":"Lambda"'):
            if token in raw:
                ctx.add(D, "keras.lambda", "SavedModel Keras metadata holds a Lambda layer", member,
                        raw.find(token))
                break
        return
    for op, sev, why in ((b"EagerPyFunc", D, "runs a Python function"),
                         (b"PyFunc", D, "runs a Python function"),
                         (b"PyFuncStateless", D, "runs a Python function"),
                         (b"WriteFile", S, "writes files"), (b"ReadFile", S, "reads files"),
                         (b"MatchingFiles", S, "lists files")):
        i = raw.find(op)
        if i >= 0:
            ctx.add(sev, "tf.dangerous-op", f"graph uses op {op.decode()} ({why})", member, i)
