"""Writing safetensors, streamed: the header first (every size is known from the plan), then
each tensor's bytes in order, straight from the source.

Sharding follows ``huggingface_hub.split_state_dict_into_shards_factory``: tensors in order,
a new shard when the next tensor would pass ``max_shard_size``, a tensor larger than the limit
alone in its own shard; one shard is ``model.safetensors``, several are
``model-0000i-of-0000n.safetensors`` with ``model.safetensors.index.json``
(``{"metadata": {"total_size": …}, "weight_map": {tensor: shard}}``, written the way
transformers writes it).
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path
from typing import Callable

from ..core.errors import ModelLensError
from .plan import PlannedTensor
from .stream import Progress, write_tensor

__all__ = ["header_bytes", "parse_size", "shard_plan", "shard_names", "write_file", "index_json"]

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(value: str | int) -> int:
    """'5GB' -> 5_000_000_000 (decimal, as huggingface_hub parses it); '2GiB' -> 2**31."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B?)\s*", value.upper())
    if not m or m[2] not in _UNITS:
        raise ModelLensError(f"--shard-size {value!r}: expected a size such as 5GB, 500MB, 2GiB")
    size = int(float(m[1]) * _UNITS[m[2]])
    if size <= 0:
        raise ModelLensError(f"--shard-size {value!r} must be positive")
    return size


def header_bytes(tensors: list[PlannedTensor], metadata: dict[str, str] | None) -> bytes:
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    off = 0
    for t in tensors:
        n = t.nbytes
        header[t.name] = {"dtype": t.dtype, "shape": list(t.shape), "data_offsets": [off, off + n]}
        off += n
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-(8 + len(raw)) % 8)  # data starts 8-byte aligned, as safetensors pads
    return struct.pack("<Q", len(raw)) + raw


def shard_plan(tensors: list[PlannedTensor], max_shard_size: int | None) -> list[list[PlannedTensor]]:
    if max_shard_size is None:
        return [list(tensors)]
    shards: list[list[PlannedTensor]] = []
    current: list[PlannedTensor] = []
    size = 0
    for t in tensors:
        n = t.nbytes
        if n > max_shard_size:
            shards.append([t])
            continue
        if size + n > max_shard_size:
            shards.append(current)
            current, size = [], 0
        current.append(t)
        size += n
    if current or not shards:
        shards.append(current)
    return [s for s in shards if s] or [[]]


def shard_names(base: str, count: int) -> list[str]:
    """``model.safetensors`` -> ['model-00001-of-00002.safetensors', …] (one: the base)."""
    if count == 1:
        return [base]
    stem, ext = (base[: -len(".safetensors")], ".safetensors") if base.endswith(".safetensors") \
        else (base, "")
    return [f"{stem}-{i + 1:05d}-of-{count:05d}{ext}" for i in range(count)]


def index_json(shards: list[list[PlannedTensor]], names: list[str]) -> bytes:
    weight_map = {t.name: name for shard, name in zip(shards, names) for t in shard}
    total = sum(t.nbytes for shard in shards for t in shard)
    params = 0
    for shard in shards:
        for t in shard:
            n = 1
            for d in t.shape:
                n *= d
            params += n
    index = {"metadata": {"total_size": total, "total_parameters": params},
             "weight_map": weight_map}
    return (json.dumps(index, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_file(path: Path, tensors: list[PlannedTensor], metadata: dict[str, str] | None,
               progress: Progress | None = None,
               check: Callable[[], None] | None = None) -> int:
    """Write one safetensors file at ``path``; fsynced.  Returns its size."""
    head = header_bytes(tensors, metadata)
    total = len(head) + sum(t.nbytes for t in tensors)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if total:
            try:
                os.posix_fallocate(fd, 0, total)  # a full disk fails here, before any data
            except OSError as e:
                if e.errno not in (95, 22, 38):  # EOPNOTSUPP, EINVAL, ENOSYS: no preallocation
                    raise
        pos = os.pwrite(fd, head, 0)
        while pos < len(head):
            pos += os.pwrite(fd, head[pos:], pos)
        for t in tensors:
            if check is not None:
                check()
            pos += write_tensor(fd, pos, t, progress)
        os.ftruncate(fd, pos)
        os.fsync(fd)
    finally:
        os.close(fd)
    return total
