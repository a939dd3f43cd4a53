"""Folder layouts and the one entry point for any path: :func:`read_path`.

A layout module registers ``LayoutSpec(id, detect(tree) -> int, read(tree, path_hint) -> ModelInfo)``.
``read_path`` picks the most confident layout for a folder (or for a file that is one part of
a layout, such as a split GGUF shard or an ``*.index.json``); a folder no layout claims is read
file by file (``layouts/files.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

from ..core.registry import Registry
from ..core.errors import NotFoundError
from ..core.io import LocalTree, Tree
from ..core.model import FileInfo, ModelInfo, TensorInfo
from ..formats import read_file
from ..quant import analyze

__all__ = ["LayoutSpec", "register", "layouts", "read_path", "read_tree_file", "relocate", "analyzed"]


@dataclass(frozen=True)
class LayoutSpec:
    id: str
    detect: Callable[[Tree], int]
    read: Callable[[Tree], ModelInfo]
    description: str = ""
    # For a single file that belongs to this layout: the folder tree to read instead, or None.
    claim_file: Callable[[Path], Tree | None] | None = None


_REGISTRY: Registry[LayoutSpec] = Registry(__name__, __path__, "layout")
register = _REGISTRY.register


def layouts() -> dict[str, LayoutSpec]:
    return dict(_REGISTRY.all())


def read_tree(tree: Tree) -> ModelInfo:
    """Read a folder: the most confident layout, else file by file."""
    scored = [(spec.detect(tree), spec) for spec in _REGISTRY.all().values()]
    score, spec = max(scored, key=lambda s: s[0])
    if score <= 0:
        raise AssertionError("the 'files' layout accepts every folder")  # pragma: no cover
    return spec.read(tree)


def read_path(path: str | os.PathLike[str]) -> ModelInfo:
    """Inspect a file or folder from its headers: the library form of ``modellens inspect``.

    A hub source (``hf://org/repo``, ``ms://org/repo``, or a bare ``org/repo`` that is not a
    local path) is read remotely, headers only, by ``modellens.hub``."""
    if isinstance(path, str) and _is_remote(path):
        # hub builds on layouts (it reads a RemoteTree with read_tree); imported only here, lazily
        from ..hub import read_remote

        return read_remote(path).info
    p = Path(path)
    if p.is_dir():
        return read_tree(LocalTree(p))
    if not p.exists():
        raise NotFoundError(f"{path}: no such file or directory")
    for spec in _REGISTRY.all().values():
        if spec.claim_file is not None:
            tree = spec.claim_file(p)
            if tree is not None:
                return spec.read(tree)
    return analyzed(read_file(str(p)))


def _is_remote(path: str) -> bool:
    if path.startswith(("hf://", "ms://", "modelscope://", "https://huggingface.co/", "https://hf.co/")):
        return True
    if path.count("/") != 1 or path.startswith(".") or os.path.exists(path):
        return False
    from ..hub.spec import is_remote_source

    return is_remote_source(path)


def relocate(tensors: Iterable[TensorInfo], file: str) -> list[TensorInfo]:
    """The tensors with their ``file`` set to ``file`` (a path relative to the layout's root)."""
    return [replace(t, file=file) for t in tensors]


def analyzed(info: ModelInfo) -> ModelInfo:
    """The file's index with quantization read from its tensors (no config at hand)."""
    tensors, quantization = analyze(info.tensors, info.quantization)
    return replace(info, tensors=tensors, quantization=quantization)


def read_tree_file(tree: Tree, rel: str) -> ModelInfo:
    """Read one file of a tree, with tensor and file paths relative to the tree (quantization
    is left to the caller, which may know the config)."""
    src = tree.open(rel)
    try:
        info = read_file(rel, src)
    finally:
        src.close()
    return replace(
        info,
        source=rel,
        files=tuple(FileInfo(rel, f.format, f.size_bytes) for f in info.files),
        tensors=tuple(relocate(info.tensors, rel)),
    )
