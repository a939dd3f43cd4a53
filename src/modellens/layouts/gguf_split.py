"""The ``gguf-split`` layout: one model in several GGUF files.

``llama-gguf-split`` writes ``<name>-00001-of-00003.gguf`` … with ``split.no``, ``split.count``
and ``split.tensors.count`` in each part's metadata; the first part carries the model's
metadata.  Given a folder of parts or any one part, modellens reads them all.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..core.errors import CorruptFileError
from ..core.io import LocalTree, Tree
from ..core.model import FileInfo, ModelInfo
from ..quant import analyze
from . import LayoutSpec, read_tree_file, register

_PART = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")


def _series(tree: Tree) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for rel in tree.list():
        m = _PART.match(rel.rsplit("/", 1)[-1])
        if m and "/" not in rel:
            out.setdefault(m["stem"], []).append(rel)
    return out


def _detect(tree: Tree) -> int:
    others = [f for f in tree.list() if f.endswith(".gguf") and not _PART.match(f)]
    series = _series(tree)
    return 75 if len(series) == 1 and not others else 0


class _OneSeries(LocalTree):
    """A local folder narrowed to the parts of one split series."""

    def __init__(self, root: Path, stem: str):
        super().__init__(root)
        self.stem = stem

    def list(self) -> list[str]:
        return [f for f in super().list() if (m := _PART.match(f)) and m["stem"] == self.stem]


def _claim(path: Path) -> Tree | None:
    m = _PART.match(path.name)
    return _OneSeries(path.parent, m["stem"]) if m else None


def read(tree: Tree) -> ModelInfo:
    (stem, parts), = _series(tree).items()
    infos = [read_tree_file(tree, rel) for rel in sorted(parts)]
    count = int(_PART.match(parts[0])["count"])  # type: ignore[index]
    warnings: list[str] = []
    present = {int(_PART.match(p)["no"]) for p in parts}  # type: ignore[index]
    missing = sorted(set(range(1, count + 1)) - present)
    if missing:
        warnings.append(f"split parts missing: {', '.join(str(n) for n in missing)} of {count}: tensors in them not counted")
    first = infos[0]
    declared = first.metadata.get("split.tensors.count")
    tensors = tuple(t for i in infos for t in i.tensors)
    if isinstance(declared, int) and not missing and declared != len(tensors):
        raise CorruptFileError(tree.name, f"split.tensors.count says {declared} tensors, the parts hold {len(tensors)}")
    for info in infos:
        warnings += [f"{info.source}: {w}" for w in info.warnings]
    tensors, quantization = analyze(tensors, first.quantization)
    return ModelInfo(
        source=str(Path(tree.name) / f"{stem}-*-of-{count:05d}.gguf"),
        format="gguf",
        layout="gguf-split",
        files=tuple(FileInfo(f.path, f.format, f.size_bytes) for i in infos for f in i.files),
        tensors=tensors,
        metadata=first.metadata,
        architecture=first.architecture,
        quantization=quantization,
        warnings=tuple(warnings),
    )


register(LayoutSpec("gguf-split", _detect, read, "a GGUF model split into parts", claim_file=_claim))
