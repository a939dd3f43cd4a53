"""The traps of the non-pickle formats: header abuse, Keras code, native plugins, ONNX paths.

* safetensors / GGUF: the reference readers' validations (header length within the file,
  tensors inside the data and not overlapping, sane counts) — a violation is suspicious, an
  unreadable header an error; names that are not UTF-8 are suspicious;
* GGUF chat templates: see :mod:`.templates`;
* HDF5 (Keras ``.h5``) and ``.keras`` ``config.json``: Lambda layers (marshalled Python bytecode
  that Keras runs), other custom objects (code imported from a module) — :mod:`.keras`;
* TensorRT engines: an embedded plugin library (an ELF / PE image) is native code that runs when
  the engine is deserialized;
* ONNX: external-data locations that leave the model's folder and custom operator domains.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

from ..core.errors import CorruptFileError, ModelLensError
from .context import ScanContext, join_member
from .findings import Severity

__all__ = ["scan_reading", "BytesSource"]

S, D, E, I = Severity.SUSPICIOUS, Severity.DANGEROUS, Severity.ERROR, Severity.INFO


class BytesSource:
    """A ByteSource over bytes / mmap / memoryview, so the format readers run on members."""

    def __init__(self, name: str, data: Any):
        self.name = name
        self._d = data
        self.size = len(data)

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise CorruptFileError(self.name, f"read needs bytes {offset}..{offset + length} but "
                                   f"the data has {self.size}", offset)
        return bytes(self._d[offset : offset + length])

    def view(self, offset: int, length: int) -> memoryview:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise CorruptFileError(self.name, f"read needs bytes {offset}..{offset + length} but "
                                   f"the data has {self.size}", offset)
        return memoryview(self._d)[offset : offset + length]

    def close(self) -> None:
        pass


def scan_reading(ctx: ScanContext, reading: str, data: Any, member: str | None) -> bool:
    fn = {"gguf": _gguf, "safetensors": _safetensors, "hdf5": _hdf5, "tensorrt": _tensorrt,
          "onnx": _onnx}[reading]
    return fn(ctx, data, member)


def _name(ctx: ScanContext, member: str | None) -> str:
    return ctx.path if member is None else f"{ctx.path}!{member}"


# -- safetensors ------------------------------------------------------------------------------

def _safetensors(ctx: ScanContext, data: Any, member: str | None) -> bool:
    from ..formats import safetensors as st

    ctx.format("safetensors")
    (n,) = struct.unpack_from("<Q", bytes(data[:8]))
    if 8 + n > len(data):
        ctx.add(S, "safetensors.header-bounds", f"header length {n} runs past the end of the "
                f"file ({len(data)} bytes)", member, 0)
        return True
    raw = bytes(data[8 : 8 + min(n, 100 << 20)])
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        ctx.add(S, "safetensors.bad-name", f"header is not UTF-8 ({e.reason})", member, 8 + e.start)
        return True
    try:
        st.read(BytesSource(_name(ctx, member), data))
    except ModelLensError as e:
        ctx.add(S, "safetensors.header-abuse", f"header fails the reference checks: "
                f"{getattr(e, 'reason', str(e))}", member, getattr(e, "offset", None))
    return True


# -- GGUF -------------------------------------------------------------------------------------

def _gguf(ctx: ScanContext, data: Any, member: str | None) -> bool:
    from ..formats import gguf
    from . import templates

    ctx.format("gguf")
    try:
        hdr = gguf.read_header(BytesSource(_name(ctx, member), data))
    except ModelLensError as e:
        ctx.add(S, "gguf.header-abuse", f"header fails the reference checks: "
                f"{getattr(e, 'reason', str(e))}", member, getattr(e, "offset", None))
        return True
    bad = [k for k in hdr.kv if "\ufffd" in k] + [t.name for t in hdr.tensors if "\ufffd" in t.name]
    if bad:
        ctx.add(S, "gguf.bad-name", f"{len(bad)} key / tensor names are not valid UTF-8 "
                f"(e.g. {bad[0][:60]!r})", member)
    for key, value in hdr.kv.items():
        if key.startswith("tokenizer.chat_template") and isinstance(value, str):
            templates.check_template(ctx, value, join_member(member, key) if member else key)
    return True


# -- HDF5 / Keras -----------------------------------------------------------------------------

def _hdf5(ctx: ScanContext, data: Any, member: str | None) -> bool:
    from . import keras

    ctx.format("keras-h5")
    try:
        import h5py
    except ImportError:
        ctx.add(E, "keras.unsupported", "HDF5 file not scanned: install h5py "
                "(pip install 'modellens[keras]')", member)
        return True
    import io

    try:
        src: Any = ctx.path if member is None else io.BytesIO(bytes(data))
        with h5py.File(src, "r") as f:
            keras.scan_h5(ctx, f, member)
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        ctx.add(E, "keras.unreadable", f"HDF5 file cannot be read ({e})", member)
    return True


# -- TensorRT ---------------------------------------------------------------------------------

def _tensorrt(ctx: ScanContext, data: Any, member: str | None) -> bool:
    ctx.format("tensorrt")
    ctx.add(I, "tensorrt.engine", "TensorRT engine: deserializing runs the plugins it names",
            member, 0)
    find = data.find if hasattr(data, "find") else bytes(data).find
    for magic, what in ((b"\x7fELF", "ELF shared library"), (b"MZ", "Windows PE image")):
        pos = find(magic, 16)
        while pos >= 0:
            ok = (magic == b"\x7fELF" and bytes(data[pos + 4 : pos + 5]) in (b"\x01", b"\x02")) or (
                magic == b"MZ" and _pe_at(data, pos))
            if ok:
                ctx.add(D, "tensorrt.embedded-plugin", f"the engine embeds a {what} (a plugin "
                        "library): native code that runs when the engine is loaded", member, pos)
                return True
            pos = find(magic, pos + 1)
    return True


def _pe_at(data: Any, pos: int) -> bool:
    if pos + 64 > len(data):
        return False
    (off,) = struct.unpack_from("<I", bytes(data[pos + 60 : pos + 64]))
    return pos + off + 4 <= len(data) and bytes(data[pos + off : pos + off + 4]) == b"PE\x00\x00"


# -- ONNX -------------------------------------------------------------------------------------

_STD_DOMAINS = {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training",
                "com.microsoft", "com.microsoft.nchwc", "com.ms.internal.nhwc", "org.pytorch.aten"}


def _onnx(ctx: ScanContext, data: Any, member: str | None) -> bool:
    try:
        import onnx
    except ImportError:
        ctx.add(E, "onnx.unsupported", "ONNX file not scanned: install onnx", member)
        return True
    ctx.format("onnx")
    try:
        model = onnx.load_model_from_string(bytes(data))
    except Exception as e:  # protobuf DecodeError and friends
        ctx.add(E, "onnx.unreadable", f"not a readable ONNX model ({type(e).__name__})", member)
        return True
    base = os.path.dirname(os.path.abspath(ctx.path))
    tensors = list(_onnx_tensors(model.graph))
    for t in tensors:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        why = None
        if not loc:
            why = "no location"
        elif os.path.isabs(loc) or loc.startswith(("/", "\\")) or (len(loc) > 1 and loc[1] == ":"):
            why = "an absolute path"
        elif ".." in loc.replace("\\", "/").split("/"):
            why = "a '..' path"
        elif member is None:
            full = os.path.realpath(os.path.join(base, loc))
            if not full.startswith(os.path.realpath(base) + os.sep):
                why = "a symbolic link out of the model's folder"
        if not why and member is None:
            ctx.refs.add(os.path.realpath(os.path.join(base, loc)))
        if why:
            ctx.add(D, "onnx.external-data-escape", f"tensor {t.name!r}: external data location "
                    f"{loc!r} is {why} (reads files outside the model's folder)", member)
    domains = {o.domain for o in model.opset_import} | {n.domain for n in _onnx_nodes(model.graph)}
    custom = sorted(d for d in domains if d not in _STD_DOMAINS)
    if custom:
        ctx.add(S, "onnx.custom-domain", f"custom operator domains {custom}: they need a native "
                "operator library registered with the runtime", member)
    return True


def _onnx_graphs(g: Any) -> Any:
    todo = [g]
    while todo:
        g = todo.pop()
        yield g
        for n in g.node:
            for a in n.attribute:
                if a.g is not None and a.HasField("g"):
                    todo.append(a.g)
                todo.extend(a.graphs)


def _onnx_tensors(g: Any) -> Any:
    for sub in _onnx_graphs(g):
        yield from sub.initializer
        for n in sub.node:
            for a in n.attribute:
                if a.HasField("t"):
                    yield a.t
                yield from a.tensors


def _onnx_nodes(g: Any) -> Any:
    for sub in _onnx_graphs(g):
        yield from sub.node


def scan_json_text(ctx: ScanContext, text: str, member: str | None) -> None:
    """``tokenizer_config.json`` / ``chat_template.json``: their Jinja chat templates."""
    from . import templates

    try:
        obj = json.loads(text)
    except ValueError:
        return
    tpl = obj.get("chat_template") if isinstance(obj, dict) else None
    if isinstance(tpl, str):
        templates.check_template(ctx, tpl, join_member(member, "chat_template"))
    elif isinstance(tpl, list):
        for i, t in enumerate(tpl):
            if isinstance(t, dict) and isinstance(t.get("template"), str):
                templates.check_template(ctx, t["template"], join_member(member, f"chat_template[{i}]"))
