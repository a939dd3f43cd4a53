"""TensorRT engines (``.engine`` / ``.plan`` / ``.trt``): a serialized, GPU-specific build.

An engine's format is private to NVIDIA and changes between releases.  What can be read
without TensorRT is the start of the header (observed, not specified; see docs/formats-graph.md)::

    bytes 0..4    magic tag: b"ftrt" (a standard plan; u32 0x74727466) or b"ptrt"
                  (seen from other runtimes/safety builds); TensorRT refuses anything else with
                  "Magic tag does not match"
    bytes 8..12   u32 serialization version ("Serialized Engine Version" in TensorRT's errors;
                  e.g. 205 = 8.2, 213 = 8.4, 232 = 8.5)
    bytes 24..27  TensorRT major, minor, patch of the builder (TensorRT 8.6 and later; NVIDIA's
                  answer in NVIDIA/TensorRT#3073), kept only when plausible

Everything else (layers, tactics, bindings, weights) needs TensorRT itself.  When the
``tensorrt`` package can deserialize the engine here (it needs a GPU of the architecture the
engine was built for), its I/O tensors are listed; host code embedded in version-compatible
engines stays disallowed (``engine_host_code_allowed`` is left False).
"""

from __future__ import annotations

import struct
from collections import Counter
from typing import Any

from ..core.errors import CorruptFileError
from ..core.io import ByteSource
from ..core.model import FileInfo, ModelInfo
from . import FormatSpec, Probe, register
from ._graph import graph_dict, io_entry

__all__ = ["read", "detect", "MAGICS"]

FORMAT_ID = "tensorrt"
MAGICS = {b"ftrt": "ftrt (TensorRT plan)", b"ptrt": "ptrt"}
EXTENSIONS = (".engine", ".plan", ".trt")
_HEADER = 32
_TIED = ("a TensorRT engine only runs on the GPU architecture (compute capability) and the TensorRT "
         "version that built it; rebuild it from the source model for another GPU or TensorRT")
_NEEDS_TRT = "layers, weights and precisions are not readable without TensorRT: run `trtexec --loadEngine` " \
             "or TensorRT's engine inspector on a matching GPU"


def detect(probe: Probe) -> int:
    if probe.head[:4] in MAGICS:
        return 95
    # The extension alone: claim it weakly so a damaged engine gets a TensorRT error message.
    return 1 if probe.suffix in EXTENSIONS else 0


def read_header(src: ByteSource) -> dict[str, Any]:
    if src.size < _HEADER:
        raise CorruptFileError(src.name, f"{src.size} bytes: too short for a TensorRT engine header")
    head = src.read(0, _HEADER)
    magic = head[:4]
    if magic not in MAGICS:
        raise CorruptFileError(src.name, f"not a TensorRT engine: starts with {magic.hex()} "
                               "where an engine has the magic tag 'ftrt'", 0)
    (serialization,) = struct.unpack_from("<I", head, 8)
    out: dict[str, Any] = {"magic": magic.decode("ascii"), "serialization_version": serialization}
    major, minor, patch = head[24], head[25], head[26]
    if 8 <= major <= 30 and minor < 100 and patch < 100:
        out["tensorrt_version"] = f"{major}.{minor}.{patch}"
    return out


def _bindings(src: ByteSource) -> tuple[list, list, str | None]:
    """I/O tensors through TensorRT, when it is installed and the engine loads on this GPU."""
    try:
        import tensorrt as trt  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - not installed or broken install: header only
        return [], [], None
    try:
        runtime = trt.Runtime(trt.Logger(trt.Logger.ERROR))
        engine = runtime.deserialize_cuda_engine(bytes(src.read(0, src.size)))
    except Exception as e:  # noqa: BLE001 - no GPU, wrong GPU, wrong TensorRT
        return [], [], f"TensorRT {getattr(trt, '__version__', '?')} could not load the engine here ({e})"
    if engine is None:
        return [], [], f"TensorRT {getattr(trt, '__version__', '?')} could not load the engine here"
    ins, outs = [], []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        entry = io_entry(name, str(engine.get_tensor_dtype(name)).rsplit(".", 1)[-1],
                         [None if d < 0 else int(d) for d in engine.get_tensor_shape(name)])
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        (ins if is_input else outs).append(entry)
    return ins, outs, None


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    header = read_header(src)
    ins, outs, problem = _bindings(src)
    warnings = [_TIED]
    if problem:
        warnings.append(problem)
    if not ins and not outs:
        warnings.append(_NEEDS_TRT)
    version = header.get("tensorrt_version")
    return ModelInfo(
        source=src.name,
        format=FORMAT_ID,
        files=(FileInfo(src.name, FORMAT_ID, src.size),),
        tensors=(),
        metadata=header,
        warnings=tuple(warnings),
        graph=graph_dict(ins, outs, Counter(), {"tensorrt": version} if version else {},
                         serialization_version=header["serialization_version"],
                         tied_to="GPU architecture and TensorRT version of the build",
                         layers_readable=False),
    )


register(FormatSpec(id=FORMAT_ID, detect=detect, read=read, extensions=EXTENSIONS,
                    description="TensorRT serialized engine (GPU- and version-specific)"))
