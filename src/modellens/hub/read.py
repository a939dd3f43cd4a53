"""``inspect`` of a remote source: resolve, prefetch the headers concurrently, read the layout.

What is fetched: the listing (one request), small JSON files whole (config.json,
generation_config.json, tokenizer_config.json, model_index.json, ``*.index.json``), and of each
weight file the layout reads only its header: safetensors' length and JSON; GGUF's metadata and
tensor infos in growing chunks; a zip checkpoint's first page, central directory and pickle
members.  Never the weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from ..core.errors import NotFoundError
from ..core.model import ModelInfo
from .errors import HubNotFoundError
from .http import TransferStats
from .repo import RemoteRepo, resolve
from .spec import RemoteSpec, parse_source
from .tree import RemoteTree

__all__ = ["RemoteResult", "read_remote", "open_source", "prefetch_headers"]

_SMALL = ("config.json", "generation_config.json", "tokenizer_config.json", "model_index.json")
_GGUF_PART = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")
_INDEX = re.compile(r"^.+\.(?:safetensors|bin)\.index(?:\.[\w-]+)?\.json$")


@dataclass(frozen=True)
class RemoteResult:
    info: ModelInfo
    repo: RemoteRepo

    @property
    def transfer(self) -> TransferStats:
        return self.repo.transfer


def _spec(source: str | RemoteSpec) -> RemoteSpec:
    if isinstance(source, RemoteSpec):
        return source
    spec = parse_source(source)
    if spec is None:
        raise NotFoundError(f"{source}: not a hub source (hf://org/repo, ms://org/repo or org/repo)")
    return spec


def open_source(source: str | RemoteSpec, *, offline: bool | None = None, use_cache: bool = True):  # noqa: ANN201
    """``(tree_or_file, repo)`` for a remote source: a :class:`RemoteTree` for a repo or a folder
    of it, an ``HTTPRangeSource`` for a file path inside it; ``repo`` (a :class:`RemoteRepo`)
    holds the listing and ``repo.transfer``.  Close ``repo`` when done: that writes the header
    cache."""
    spec = _spec(source)
    repo = resolve(spec, offline=offline, use_cache=use_cache)
    sub = spec.subpath
    if not sub:
        return repo.tree(), repo
    if sub in repo.files:
        return repo.open(sub), repo
    if any(p.startswith(sub + "/") for p in repo.files):
        return repo.tree(sub), repo
    raise HubNotFoundError(f"{spec.display}: no file or folder '{sub}' in {repo.name}")


def fetch_header(tree: RemoteTree, rel: str, parse_gguf: bool = True) -> None:
    """Fetch the bytes a reader of ``rel`` will ask for, without parsing more than needed to
    find them: safetensors' header, a zip's central directory and pickle members, a GGUF's
    metadata (that one is parsed: its length is known only at its end; ``parse_gguf=False``
    leaves it to the layout, for a lone file that gains nothing from running ahead).  The
    layout's own pass then reads them from memory."""
    import struct

    from ..formats import Probe
    from ..formats.gguf import read_header as read_gguf_header

    src = tree.open(rel)
    probe = Probe(src)  # the first page
    head = probe.head
    if head[:4] == b"GGUF":
        if parse_gguf:
            read_gguf_header(src)
    elif len(head) >= 8 and head[8:9] == b"{":  # safetensors: u64 length, then the JSON
        (n,) = struct.unpack_from("<Q", head)
        if 8 + n <= src.size and n <= 100 * 2**20:
            src.read(8, n)
    elif probe.zip is not None:  # the central directory (read by Probe.zip), then the pickles
        for info in probe.zip.infolist():
            if info.filename.endswith(".pkl"):
                span = 30 + len(info.filename.encode()) + len(info.extra) + info.compress_size + 128
                src.read(info.header_offset, min(span, src.size - info.header_offset))


def prefetch_headers(tree: RemoteTree) -> None:
    """Fetch, concurrently, what the layout will read: small JSON files whole, and the headers
    of the weight files it would load (root and diffusers component folders)."""
    from ..layouts.hf import select_weights

    files = tree.list()
    folders = [""]
    if tree.exists("model_index.json"):
        folders += sorted({f.split("/", 1)[0] for f in files if "/" in f})
    small: list[str] = []
    weights: list[str] = []
    for folder in folders:
        prefix = f"{folder}/" if folder else ""
        small += [prefix + n for n in _SMALL if tree.exists(prefix + n)]
        ws = select_weights(tree, folder)
        if ws.index:
            small.append(ws.index)
        weights += ws.files
    from ..formats import formats

    formats()  # load the registry once, before the worker threads use it
    many = len(weights) > 1
    tree.prefetch(small, weights, read=lambda t, rel: fetch_header(t, rel, parse_gguf=many))


def read_remote(source: str | RemoteSpec, *, offline: bool | None = None, use_cache: bool = True) -> RemoteResult:
    """Inspect a hub repo, folder or file from its headers; ``result.transfer`` says what it cost."""
    from ..layouts import analyzed, layouts, read_tree, read_tree_file

    spec = _spec(source)
    target, repo = open_source(spec, offline=offline, use_cache=use_cache)
    try:
        if isinstance(target, RemoteTree):
            prefetch_headers(target)
            info = read_tree(target)
        else:
            info = _read_file(repo, spec.subpath, read_tree, read_tree_file, analyzed, layouts)
    finally:
        repo.close()
    meta: dict[str, Any] = {**info.metadata, "hub": repo.to_dict()}
    warnings = tuple(repo.warnings) + tuple(info.warnings)
    return RemoteResult(replace(info, source=spec.display, metadata=meta, warnings=warnings), repo)


def _read_file(repo: RemoteRepo, path: str, read_tree, read_tree_file, analyzed, layouts) -> ModelInfo:  # noqa: ANN001
    folder, _, name = path.rpartition("/")
    m = _GGUF_PART.match(name)
    if m:  # one part of a split GGUF: read the series, as a local path does
        stem = m["stem"]
        tree = repo.tree(folder, only=lambda rel: "/" not in rel and bool(
            (p := _GGUF_PART.match(rel)) and p["stem"] == stem))
        tree.prefetch(headers=tree.list(), read=fetch_header)
        return layouts()["gguf-split"].read(tree)
    if _INDEX.match(name):  # an index names its shards: read the folder
        tree = repo.tree(folder)
        prefetch_headers(tree)
        return read_tree(tree)
    tree = repo.tree(folder)
    info = analyzed(read_tree_file(tree, name))
    return replace(info, source=name)
