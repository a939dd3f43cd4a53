"""Graph formats that span several files, and graph files read on their own.

* ``coreml-package``: an ``.mlpackage`` folder (``Manifest.json``, the model spec under
  ``Data/com.apple.CoreML/``, ML Program weights in ``weights/weight.bin``).
* ``openvino-ir``: ``model.xml`` + ``model.bin``; the XML names offsets into the ``.bin``.
* ``onnx`` with external data: ``model.onnx`` + ``model.onnx.data`` (or one file per tensor).

A single graph file (``.onnx``, ``.tflite``, ``.xml``, ``.mlmodel``, ``.engine``) is claimed
here too, by content: its reader checks the sibling files it names, and the quantization it
reports (QDQ, MatMulNBits, TFLite per-axis int8, OpenVINO compressed weights …) is the graph's
own, so it is not re-derived from tensor names as it is for checkpoint formats.
"""

from __future__ import annotations

from pathlib import Path

from ..core.io import LocalFile, LocalTree, Tree
from ..core.model import ModelInfo
from ..formats import Probe, detect as detect_format, read_file
from ..formats._graph import GRAPH_FORMATS
from . import LayoutSpec, register

__all__ = ["read"]

_MLPACKAGE_MODEL = "Data/com.apple.CoreML/"


class _GraphFile(LocalTree):
    """The folder of one graph file that was named on its own."""

    def __init__(self, path: Path):
        super().__init__(path.parent)
        self.file = path


def _format_of(path: Path) -> str | None:
    try:
        with LocalFile(path) as src:
            spec = detect_format(Probe(src))
    except OSError:
        return None
    return spec.id if spec is not None else None


def _claim(path: Path) -> Tree | None:
    if path.is_file() and _format_of(path) in GRAPH_FORMATS:
        return _GraphFile(path)
    return None


def _top(tree: Tree) -> list[str]:
    return [f for f in tree.list() if "/" not in f]


def _graph_files(tree: Tree) -> list[str]:
    """Top-level files of the tree that are graph models by content (not data files)."""
    out = []
    for rel in _top(tree):
        low = rel.lower()
        if low.endswith((".onnx", ".tflite", ".xml", ".mlmodel", ".engine", ".plan", ".trt")):
            root = getattr(tree, "root", None)
            if root is not None and _format_of(Path(root) / rel) in GRAPH_FORMATS:
                out.append(rel)
    return out


def _detect(tree: Tree) -> int:
    if isinstance(tree, _GraphFile):
        return 100
    if tree.exists("Manifest.json") and any(f.startswith(_MLPACKAGE_MODEL) for f in tree.list()):
        return 100
    top = _top(tree)
    if "config.json" in top or any(f.endswith((".safetensors", ".bin.index.json", ".gguf")) for f in top):
        return 0  # a checkpoint folder (an ONNX export next to it is an extra, not the model)
    return 65 if len(_graph_files(tree)) == 1 else 0


def read(tree: Tree) -> ModelInfo:
    if isinstance(tree, _GraphFile):
        return read_file(str(tree.file))
    if tree.exists("Manifest.json"):
        from ..formats.coreml import read_package

        return read_package(tree)
    (rel,) = _graph_files(tree)
    root = Path(getattr(tree, "root"))
    return read_file(str(root / rel))


register(LayoutSpec("graph", _detect, read,
                    "graph model files (ONNX, TFLite, OpenVINO IR, Core ML, TensorRT) with their data files",
                    claim_file=_claim))
