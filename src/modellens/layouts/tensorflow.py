"""TensorFlow folders: SavedModel folders and bare checkpoints.

* ``tf-savedmodel``: ``saved_model.pb`` + ``variables/variables.{index,data-*}`` + ``assets/``
  (``formats/tf_savedmodel.py``).  Naming ``saved_model.pb`` or anything under ``variables/``
  reads the whole folder.
* ``tf-checkpoint``: ``PREFIX.index`` + ``PREFIX.data-00000-of-0000N`` (``formats/tf_checkpoint.py``),
  often several prefixes next to a ``checkpoint`` state file (``model_checkpoint_path: "ckpt-3"``).
  A folder is read at the state file's latest prefix (else the last one in natural order); naming
  one ``.index`` or ``.data-*`` file reads that prefix.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from ..core.io import LocalFile, LocalTree, Tree
from ..core.model import ModelInfo
from ..formats.tf_checkpoint import is_table, prefix_of, read_prefix
from ..formats.tf_savedmodel import read_folder
from . import LayoutSpec, register

__all__ = ["read_savedmodel", "read_checkpoint"]

_STATE = re.compile(r'^model_checkpoint_path:\s*"([^"\n]{1,4096})"\s*$', re.M)


class _Prefix(LocalTree):
    """The folder of a checkpoint named through one of its files."""

    def __init__(self, root: Path, prefix: str):
        super().__init__(root)
        self.prefix = prefix


def _is_index(tree: Tree, rel: str) -> bool:
    try:
        src = tree.open(rel)
    except OSError:
        return False
    try:
        return is_table(src)
    finally:
        src.close()


def _prefixes(tree: Tree) -> list[str]:
    """Top-level checkpoint prefixes: an ``.index`` table with its first data shard."""
    top = [f for f in tree.list() if "/" not in f]
    names = set(top)
    out = []
    for f in top:
        if f.endswith(".index"):
            p = f[: -len(".index")]
            if any(n.startswith(p + ".data-") for n in names) and _is_index(tree, f):
                out.append(p)
    return out


def _natural(s: str) -> list:
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", s)]


def _latest(tree: Tree, prefixes: list[str]) -> str:
    if tree.exists("checkpoint") and tree.size("checkpoint") < 1 << 20:
        m = _STATE.search(tree.read_bytes("checkpoint", 1 << 20).decode("utf-8", "replace"))
        if m:
            name = m.group(1).replace("\\", "/").rsplit("/", 1)[-1]
            if name in prefixes:
                return name
    return sorted(prefixes, key=_natural)[-1]


def _detect(tree: Tree) -> int:
    if isinstance(tree, _Prefix):
        return 100
    if tree.exists("saved_model.pb"):
        return 100
    top = [f for f in tree.list() if "/" not in f]
    if "config.json" in top:
        return 0
    return 90 if _prefixes(tree) else 0


def read_savedmodel(tree: Tree) -> ModelInfo:
    return read_folder(tree)


def read_checkpoint(tree: Tree) -> ModelInfo:
    if isinstance(tree, _Prefix):
        prefix = tree.prefix
        others: list[str] = []
    else:
        prefixes = _prefixes(tree)
        prefix = _latest(tree, prefixes)
        others = [p for p in prefixes if p != prefix]
    info = read_prefix(tree, prefix, source=tree.name)
    if others:
        md = dict(info.metadata)
        md["other_checkpoints"] = sorted(others, key=_natural)
        info = replace(info, metadata=md)
    return replace(info, layout="tf-checkpoint")


def _read(tree: Tree) -> ModelInfo:
    if not isinstance(tree, _Prefix) and tree.exists("saved_model.pb"):
        return read_savedmodel(tree)
    return read_checkpoint(tree)


def _claim(path: Path) -> Tree | None:
    if not path.is_file():
        return None
    if path.name == "saved_model.pb":
        return LocalTree(path.parent)
    if path.parent.name == "variables" and (path.parent.parent / "saved_model.pb").is_file():
        return LocalTree(path.parent.parent)
    prefix = prefix_of(path.name)
    if prefix is None:
        return None
    index = path.parent / (prefix + ".index")
    if not index.is_file():
        return None
    try:
        with LocalFile(index) as src:
            if not is_table(src):
                return None
    except OSError:
        return None
    return _Prefix(path.parent, prefix)


register(LayoutSpec("tensorflow", _detect, _read,
                    "TensorFlow SavedModel folder, or a checkpoint (PREFIX.index + PREFIX.data-*)",
                    claim_file=_claim))
