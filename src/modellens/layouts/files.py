"""The fallback for folders no layout claims: every model file in it, one by one, with a total.

Each file is detected by content (whatever its extension); files that are not models (text,
images …) are skipped, and files that look like models but fail to read become warnings.
"""

from __future__ import annotations

from ..core.errors import ModelLensError, NotFoundError, UnsupportedFormatError
from ..core.io import Tree
from ..core.model import FileInfo, ModelInfo
from . import LayoutSpec, analyzed, read_tree_file, register
from .hf import WEIGHT_EXTENSIONS


def _detect(tree: Tree) -> int:
    return 1


def read(tree: Tree) -> ModelInfo:
    files = tree.list()
    if not files:
        raise NotFoundError(f"{tree.name}: the folder is empty")
    components: list[ModelInfo] = []
    warnings: list[str] = []
    for rel in files:
        try:
            components.append(analyzed(read_tree_file(tree, rel)))
        except UnsupportedFormatError:
            if rel.lower().endswith(WEIGHT_EXTENSIONS):
                warnings.append(f"{rel}: not a recognised model format")
        except ModelLensError as e:
            warnings.append(str(e))
    if not components:
        raise UnsupportedFormatError(
            f"{tree.name}: no model files found among {len(files)} files"
            + (f" ({warnings[0]})" if warnings else "")
        )
    formats = {c.files[0].path: c.format for c in components}
    fmts = sorted({f for f in formats.values() if f})
    for c in components:
        warnings += [f"{c.source}: {w}" for w in c.warnings]
    single = len(components) == 1
    return ModelInfo(
        source=tree.name,
        format=fmts[0] if len(fmts) == 1 else "mixed",
        layout=None,
        files=tuple(FileInfo(rel, formats.get(rel), tree.size(rel)) for rel in files),
        tensors=tuple(t for c in components for t in c.tensors),
        metadata=components[0].metadata if single else {},
        architecture=components[0].architecture if single else None,
        quantization=components[0].quantization if single else None,
        warnings=tuple(warnings),
        components=() if single else tuple(components),
        component_names=() if single else tuple(c.source for c in components),
    )


register(LayoutSpec("files", _detect, read, "a folder of unrelated model files"))
