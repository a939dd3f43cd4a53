"""Keras models and weights: legacy HDF5 (``.h5``), Keras 3 ``.keras`` zips, ``.weights.h5``.

Legacy HDF5 (``model.save('x.h5')``; Keras 2, and Keras 3's ``legacy_h5_format``)::

    /  attrs: keras_version, backend, model_config (JSON), training_config (JSON)
    /model_weights  attrs: layer_names, backend, keras_version
        /<layer>  attrs: weight_names          e.g. ['dense/kernel:0', 'dense/bias:0']
            /<weight name>                      one dataset per weight
    /optimizer_weights  attrs: weight_names    the optimizer's state (when saved)

``save_weights('x.h5')`` in Keras 2 writes the ``model_weights`` part at the root.

Keras 3 (``model.save('x.keras')``, https://keras.io/guides/serialization_and_saving/) is a zip::

    metadata.json       {"keras_version", "date_saved"}
    config.json         {"module", "class_name", "config": {"layers": [...], ...},
                         "registered_name", "build_config", "compile_config"}
    model.weights.h5    /layers/<layer>/vars/<i>, /vars/<i>, /optimizer/vars/<i>   (i = 0, 1, ...)

and ``save_weights('x.weights.h5')`` writes ``model.weights.h5`` on its own.  Keras stores
bfloat16 weights as 2-byte HDF5 opaque elements (Keras 3 adds a ``dtype`` attribute).

The index lists the model's weights (their sum is ``model.count_params()``); the optimizer's
state is summarised in ``metadata["optimizer"]``.  The config is parsed as JSON, never
deserialized: Lambda layers (marshalled Python bytecode) and custom objects (classes Keras
would import) are listed in ``metadata``; ``modellens scan`` judges them.  HDF5 is read with
``h5py`` (a core dependency) from a file object over the byte source, so a ``.keras`` zip's
stored member is read in place and its tensors get absolute file offsets.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from typing import Any, Iterator

from ..core import dtypes
from ..core.errors import CorruptFileError, MissingDependencyError, UnsupportedFormatError
from ..core.io import LIMITS, ByteSource, check_limit
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register, zip_member_offset

__all__ = ["detect_h5", "detect_v3", "read_h5", "read_v3", "config_summary"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_KERAS_MARKERS = (b"keras_version", b"model_config", b"layer_names", b"weight_names")
MAX_DATASETS = 1_000_000
MAX_CONFIG_NODES = 2_000_000
MAX_LISTED = 512  # layers, lambdas, custom objects shown in metadata


# -- HDF5 access --------------------------------------------------------------------------------

class _RangeFile(io.RawIOBase):
    """A read-only file object over ``length`` bytes of a source starting at ``base``."""

    def __init__(self, src: ByteSource, base: int, length: int):
        self._src, self._base, self._len, self._pos = src, base, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = max(0, {0: 0, 1: self._pos, 2: self._len}[whence] + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, b: Any) -> int:
        n = max(0, min(len(b), self._len - self._pos))
        if n:
            b[:n] = self._src.read(self._base + self._pos, n)
            self._pos += n
        return n


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is a core dependency
        raise MissingDependencyError("h5py", "keras", "Reading Keras HDF5 files") from e
    return h5py


def _open_h5(fileobj: Any, name: str) -> Any:
    h5py = _h5py()
    try:
        return h5py.File(fileobj, "r")
    except (OSError, ValueError) as e:
        raise CorruptFileError(name, f"unreadable HDF5 ({str(e).splitlines()[0][:200]})") from None


def _attr(obj: Any, key: str) -> Any:
    try:
        v = obj.attrs.get(key)
    except (OSError, KeyError, TypeError, ValueError):
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


def _str_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, (str, bytes)):
        v = [v]
    out = []
    for x in list(v)[:MAX_DATASETS]:
        out.append(x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x))
    return out


def _json_attr(obj: Any, key: str, name: str) -> Any:
    v = _attr(obj, key)
    if v is None:
        return None
    if not isinstance(v, str):
        v = str(v)
    check_limit(name, len(v), LIMITS.max_json_bytes, f"{key} attribute length")
    try:
        return json.loads(v)
    except ValueError as e:
        raise CorruptFileError(name, f"the {key} attribute is not JSON ({e})") from None


def _dtype_of(ds: Any) -> str | None:
    dt = ds.dtype
    tagged = _attr(ds, "dtype")
    if dt.kind == "V" and dt.fields is None:
        if isinstance(tagged, str):
            found = dtypes.find(tagged)
            return found.name if found else None
        return "BF16" if dt.itemsize == 2 else None  # how Keras writes bfloat16 without a tag
    found = dtypes.from_numpy(dt.str if dt.byteorder != "=" else dt.newbyteorder("<").str)
    return found.name if found else None


def _tensor(name: str, ds: Any, base: int | None, file: str) -> TensorInfo | None:
    h5py = _h5py()
    if not isinstance(ds, h5py.Dataset):
        return None
    dtype = _dtype_of(ds)
    shape = tuple(int(x) for x in (ds.shape or ()))
    if dtype is None or ds.shape is None or len(shape) > LIMITS.max_dims:
        return None
    offset = None
    if base is not None:
        try:
            off = ds.id.get_offset()
        except (OSError, ValueError):
            off = None
        if off is not None:
            offset = base + off
    n = 1
    for s in shape:
        n *= s
    dt = dtypes.get(dtype)
    return TensorInfo(name=name, dtype=dtype, shape=shape, offset=offset,
                      nbytes=dt.nbytes(n) or 0, file=file)


def _datasets(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every dataset below ``group`` with its path, in natural name order (iterative, bounded)."""
    h5py = _h5py()
    stack: list[tuple[str, Any]] = [(prefix, group)]
    seen = 0
    while stack:
        path, obj = stack.pop()
        if isinstance(obj, h5py.Dataset):
            yield path, obj
            continue
        try:
            keys = sorted(obj.keys(), key=_natural, reverse=True)
        except (OSError, KeyError, ValueError) as e:
            raise CorruptFileError(group.file.filename, f"unreadable HDF5 group {path!r} ({e})") from None
        for k in keys:
            seen += 1
            if seen > MAX_DATASETS:
                raise CorruptFileError(group.file.filename, f"more than {MAX_DATASETS} HDF5 objects")
            try:
                child = obj.get(k)
            except (OSError, KeyError, ValueError):
                child = None
            if isinstance(child, (h5py.Group, h5py.Dataset)):
                stack.append((f"{path}/{k}" if path else k, child))


def _natural(s: str) -> list:
    import re

    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", s)]


def _summary_of(items: list[tuple[str, Any]]) -> dict[str, Any]:
    elements = 0
    size = 0
    for _, ds in items:
        n = 1
        for s in ds.shape or ():
            n *= int(s)
        elements += n
        size += n * ds.dtype.itemsize
    return {"variables": len(items), "elements": elements, "size_bytes": size}


# -- the config -----------------------------------------------------------------------------------

def _walk(config: Any) -> Iterator[dict]:
    stack = [config]
    budget = MAX_CONFIG_NODES
    while stack and budget > 0:
        budget -= 1
        v = stack.pop()
        if isinstance(v, dict):
            yield v
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            stack.extend(reversed(v))


def _is_builtin(obj: dict) -> bool:
    """Keras 3 configs name each object's module; older ones do not, and only a registered
    name (``package>Class``) marks a custom object there."""
    if ">" in str(obj.get("class_name", "")):
        return False
    module = obj.get("module")
    if isinstance(module, str):
        return module == "builtins" or module.split(".")[0] in ("keras", "tf_keras", "tensorflow")
    return obj.get("registered_name") in (None, obj.get("class_name"))


def config_summary(config: Any) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """(metadata, architecture, graph) from a model config (never deserialized)."""
    md: dict[str, Any] = {}
    if not isinstance(config, dict):
        return md, None, None
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    layers = inner.get("layers") if isinstance(inner.get("layers"), list) else []
    rows = []
    for layer in layers[:MAX_LISTED]:
        if isinstance(layer, dict):
            cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
            rows.append({"name": str(layer.get("name", cfg.get("name", ""))),
                         "class_name": str(layer.get("registered_name") or layer.get("class_name"))})
    md["layers"] = rows
    lambdas, custom = [], []
    for obj in _walk(config):
        cls = obj.get("class_name")
        if not isinstance(cls, str):
            continue
        cfg = obj.get("config") if isinstance(obj.get("config"), dict) else {}
        if cls == "Lambda" and len(lambdas) < MAX_LISTED:
            fn = cfg.get("function")
            if isinstance(fn, dict):
                kind = "bytecode" if fn.get("class_name") == "__lambda__" else str(fn.get("class_name"))
            elif isinstance(fn, list):  # Keras 2: [base64 marshal, defaults, closure]
                kind = "bytecode" if cfg.get("function_type") == "lambda" else str(cfg.get("function_type"))
            else:
                kind = "function" if isinstance(fn, str) else "unknown"
            lambdas.append({"name": str(cfg.get("name", "")), "function": kind,
                            "module": cfg.get("module") if isinstance(cfg.get("module"), str) else None})
        elif cls.startswith("__") or cls in ("DTypePolicy", "FloatDTypePolicy"):
            continue
        elif not _is_builtin(obj) and len(custom) < MAX_LISTED:
            name = obj.get("registered_name") or cls
            if name not in custom:
                custom.append(str(name))
    if lambdas:
        md["lambda_layers"] = lambdas
    if custom:
        md["custom_objects"] = custom
    arch = {"name": inner.get("name"), "class_name": config.get("class_name"), "layers": len(layers)}
    return md, arch, _graph(config.get("class_name"), inner, layers)


def _input_entry(layer: dict) -> dict[str, Any]:
    cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    shape = cfg.get("batch_shape", cfg.get("batch_input_shape"))
    dtype = cfg.get("dtype")
    dt = dtypes.find(dtype) if isinstance(dtype, str) else None
    return {"name": str(cfg.get("name", layer.get("name", ""))), "dtype": dt.name if dt else None,
            "shape": list(shape) if isinstance(shape, list) else None}


def _names(v: Any) -> list[str]:
    """Layer names of ``input_layers`` / ``output_layers`` (``[name, 0, 0]`` or a list of them)."""
    if isinstance(v, list) and len(v) == 3 and isinstance(v[0], str) and isinstance(v[1], int):
        return [v[0]]
    out: list[str] = []
    for x in v if isinstance(v, list) else []:
        out += _names(x)
    return out


def _graph(cls: Any, inner: dict, layers: list) -> dict[str, Any] | None:
    if not layers:
        return None
    by_name = {str(l.get("name", (l.get("config") or {}).get("name"))): l
               for l in layers if isinstance(l, dict)}
    if inner.get("input_layers") is not None:
        inputs = [_input_entry(by_name[n]) if n in by_name else {"name": n, "dtype": None, "shape": None}
                  for n in _names(inner["input_layers"])]
        outputs = [{"name": n, "dtype": None, "shape": None} for n in _names(inner.get("output_layers"))]
    else:  # Sequential: an InputLayer first, or a batch_input_shape on the first layer
        first = layers[0] if isinstance(layers[0], dict) else {}
        cfg = first.get("config") if isinstance(first.get("config"), dict) else {}
        has_shape = first.get("class_name") == "InputLayer" or "batch_input_shape" in cfg
        inputs = [_input_entry(first)] if has_shape else []
        last = layers[-1] if isinstance(layers[-1], dict) else {}
        outputs = [{"name": str(last.get("name", (last.get("config") or {}).get("name", ""))),
                    "dtype": None, "shape": None}]
    ops = Counter(str(l.get("class_name")) for l in layers if isinstance(l, dict)
                  and l.get("class_name") != "InputLayer")
    return {"inputs": inputs, "outputs": outputs,
            "operators": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
            "opsets": {}, "node_count": sum(ops.values()), "model_class": cls}


def _config_warnings(md: dict[str, Any]) -> list[str]:
    out = []
    lambdas = md.get("lambda_layers") or []
    if lambdas:
        names = ", ".join(str(x["name"]) for x in lambdas[:5]) + (" …" if len(lambdas) > 5 else "")
        out.append(f"{len(lambdas)} Lambda layer{'s' if len(lambdas) > 1 else ''} ({names}): Python "
                   "code that Keras runs when loading the model (Keras 3 refuses it in safe_mode) "
                   "— run 'modellens scan'")
    custom = md.get("custom_objects") or []
    if custom:
        names = ", ".join(custom[:5]) + (" …" if len(custom) > 5 else "")
        out.append(f"custom objects ({names}): Keras imports their classes when loading the model")
    return out


def _training(tc: Any) -> dict[str, Any] | None:
    if not isinstance(tc, dict):
        return None
    out: dict[str, Any] = {}
    opt = tc.get("optimizer_config") or tc.get("optimizer")
    if isinstance(opt, dict):
        out["optimizer"] = opt.get("class_name")
    elif isinstance(opt, str):
        out["optimizer"] = opt
    loss = tc.get("loss")
    if isinstance(loss, (str, int, float)) or loss is None:
        out["loss"] = loss
    elif isinstance(loss, dict):
        out["loss"] = loss.get("class_name", "custom")
    metrics = tc.get("metrics")
    if isinstance(metrics, list):
        out["metrics"] = [m if isinstance(m, str) else str(m)[:80] for m in metrics[:32]]
    return out


# -- weights ----------------------------------------------------------------------------------------

def _legacy_weights(root: Any, base: int | None, file: str) -> tuple[list[TensorInfo], list[str]]:
    tensors: list[TensorInfo] = []
    skipped: list[str] = []
    for layer in _str_list(_attr(root, "layer_names")):
        g = root.get(layer)
        if g is None:
            skipped.append(f"layer {layer!r} has no group")
            continue
        for w in _str_list(_attr(g, "weight_names")):
            try:
                ds = g.get(w)
            except (OSError, KeyError, ValueError):
                ds = None
            t = _tensor(f"{layer}/{w}", ds, base, file) if ds is not None else None
            if t is None:
                skipped.append(f"{layer}/{w}")
            else:
                tensors.append(t)
    return tensors, skipped


def _v3_weights(root: Any, base: int | None, file: str
                ) -> tuple[list[TensorInfo], list[str], list[tuple[str, Any]]]:
    tensors: list[TensorInfo] = []
    skipped: list[str] = []
    optimizer: list[tuple[str, Any]] = []
    for path, ds in _datasets(root):
        if path.split("/", 1)[0] == "optimizer":
            optimizer.append((path, ds))
            continue
        t = _tensor(path, ds, base, file)
        if t is None:
            skipped.append(path)
        else:
            tensors.append(t)
    return tensors, skipped, optimizer


def _read_weights_h5(f: Any, base: int | None, file: str, name: str
                     ) -> tuple[list[TensorInfo], dict[str, Any], list[str], str]:
    """Tensors, metadata and warnings of an open Keras HDF5 file, and its kind."""
    md: dict[str, Any] = {}
    warnings: list[str] = []
    if "model_weights" in f or _attr(f, "layer_names") is not None:
        kind = "legacy-model" if "model_weights" in f else "legacy-weights"
        root = f["model_weights"] if "model_weights" in f else f
        tensors, skipped = _legacy_weights(root, base, file)
        if "optimizer_weights" in f:
            items = list(_datasets(f["optimizer_weights"], "optimizer_weights"))
            md["optimizer"] = _summary_of(items)
    elif "layers" in f or "vars" in f:
        kind = "keras3-weights"
        tensors, skipped, opt = _v3_weights(f, base, file)
        if opt:
            md["optimizer"] = _summary_of(opt)
    else:
        raise UnsupportedFormatError(f"{name}: an HDF5 file, but not a Keras model or weights file "
                                     "(no model_weights, layer_names or layers/)")
    if skipped:
        shown = ", ".join(skipped[:5]) + (" …" if len(skipped) > 5 else "")
        warnings.append(f"{len(skipped)} weights not listed (missing or of an unknown dtype): {shown}")
    return tensors, md, warnings, kind


# -- detection ----------------------------------------------------------------------------------

def detect_h5(probe: Probe) -> int:
    if not probe.head.startswith(HDF5_MAGIC):
        return 0
    if any(m in probe.head for m in _KERAS_MARKERS):
        return 90
    return 60 if probe.suffix in (".h5", ".hdf5", ".keras") else 30


def detect_v3(probe: Probe) -> int:
    if probe.zip is None:
        return 0
    names = set(probe.zip_names)
    if "config.json" in names and ({"model.weights.h5", "model.weights.npz", "metadata.json"} & names):
        return 100
    return 0


# -- reading ------------------------------------------------------------------------------------

def read_h5(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    f = _open_h5(_RangeFile(src, 0, src.size), src.name)
    try:
        tensors, md, warnings, kind = _read_weights_h5(f, 0, src.name, src.name)
        md = {"saving_format": kind, "keras_version": _attr(f, "keras_version"),
              "backend": _attr(f, "backend"), **md}
        config = _json_attr(f, "model_config", src.name)
        training = _training(_json_attr(f, "training_config", src.name))
    finally:
        f.close()
    if kind == "legacy-model" and config is None:
        warnings.append("no model_config attribute: the architecture is unknown")
    arch, graph = None, None
    if config is not None:
        cmd, arch, graph = config_summary(config)
        md.update(cmd)
        warnings += _config_warnings(cmd)
    if training:
        md["training_config"] = training
    md = {k: v for k, v in md.items() if v is not None}
    return ModelInfo(source=src.name, format="keras-h5", files=(FileInfo(src.name, "keras-h5", src.size),),
                     tensors=tuple(tensors), metadata=md, architecture=arch,
                     warnings=tuple(warnings), graph=graph)


def _zip_json(zf: zipfile.ZipFile, member: str, name: str) -> Any:
    try:
        info = zf.getinfo(member)
    except KeyError:
        return None
    check_limit(name, info.file_size, LIMITS.max_json_bytes, f"{member} size")
    try:
        with zf.open(info) as fh:
            raw = fh.read(LIMITS.max_json_bytes + 1)
        return json.loads(raw.decode("utf-8"))
    except (ValueError, zipfile.BadZipFile, OSError, EOFError) as e:
        raise CorruptFileError(name, f"{member} is unreadable ({e})") from None


def read_v3(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    zf = probe.zip if probe is not None and probe.zip is not None else None
    if zf is None:
        from . import Probe as _Probe

        zf = _Probe(src).zip
    if zf is None:
        raise CorruptFileError(src.name, "not a readable zip archive")
    config = _zip_json(zf, "config.json", src.name)
    meta = _zip_json(zf, "metadata.json", src.name) or {}
    md: dict[str, Any] = {"saving_format": "keras3",
                          "keras_version": meta.get("keras_version") if isinstance(meta, dict) else None,
                          "date_saved": meta.get("date_saved") if isinstance(meta, dict) else None}
    warnings: list[str] = []
    tensors: list[TensorInfo] = []
    names = zf.namelist()
    if "model.weights.h5" in names:
        info = zf.getinfo("model.weights.h5")
        if info.compress_type == zipfile.ZIP_STORED:
            base = zip_member_offset(src, info)
            fobj: Any = _RangeFile(src, base, info.file_size)
        else:
            check_limit(src.name, info.file_size, LIMITS.max_decompressed_bytes, "model.weights.h5 size")
            try:
                with zf.open(info) as fh:
                    fobj = io.BytesIO(fh.read(LIMITS.max_decompressed_bytes + 1))
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise CorruptFileError(src.name, f"model.weights.h5 is unreadable ({e})") from None
            base = None
        f = _open_h5(fobj, f"{src.name}!model.weights.h5")
        try:
            tensors, wmd, warnings, _ = _read_weights_h5(f, base, src.name, src.name)
        finally:
            f.close()
        md.update(wmd)
    elif "model.weights.npz" in names:
        warnings.append("weights are in model.weights.npz: not listed (inspect the .npz on its own)")
    else:
        warnings.append("the archive holds no weights file")
    arch, graph = None, None
    if isinstance(config, dict):
        cmd, arch, graph = config_summary(config)
        md.update(cmd)
        warnings += _config_warnings(cmd)
        compile_cfg = config.get("compile_config")
        if isinstance(compile_cfg, dict) and compile_cfg:
            md["training_config"] = _training(compile_cfg)
    else:
        warnings.append("config.json is missing or not an object: the architecture is unknown")
    assets = [n for n in names if n.startswith("assets/")]
    if assets:
        md["assets"] = assets[:MAX_LISTED]
    md = {k: v for k, v in md.items() if v is not None}
    return ModelInfo(source=src.name, format="keras-v3", files=(FileInfo(src.name, "keras-v3", src.size),),
                     tensors=tuple(tensors), metadata=md, architecture=arch,
                     warnings=tuple(warnings), graph=graph)


register(FormatSpec(id="keras-h5", detect=detect_h5, read=read_h5, extensions=(".h5", ".hdf5"),
                    description="Keras HDF5: legacy model.save('x.h5'), save_weights, .weights.h5"))
register(FormatSpec(id="keras-v3", detect=detect_v3, read=read_v3, extensions=(".keras",),
                    description="Keras 3 .keras zip (config.json, metadata.json, model.weights.h5)"))
