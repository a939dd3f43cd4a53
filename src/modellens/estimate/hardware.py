"""The GPU catalog (``modellens/data/gpus.json``) and the fit questions asked of it.

Does it fit on one card, how many cards at least, and which tensor-parallel size the model's
head counts allow.  ``cpu`` means this machine's RAM (read from the OS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from ..core.errors import ModelLensError
from ..core.packaged import data_json

__all__ = ["GPU", "HardwareFit", "find_gpu", "all_gpus", "tensor_parallel_sizes", "fit"]


@dataclass(frozen=True)
class GPU:
    id: str
    name: str
    memory_bytes: int
    vendor: str
    usable_fraction: float = 1.0
    aliases: tuple[str, ...] = ()
    fp8: bool = False

    @property
    def usable_bytes(self) -> int:
        return int(self.memory_bytes * self.usable_fraction)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "memory_bytes": self.memory_bytes,
                "usable_bytes": self.usable_bytes, "vendor": self.vendor}


@lru_cache(maxsize=1)
def all_gpus() -> tuple[GPU, ...]:
    raw = data_json("gpus.json")
    out = []
    for g in raw["gpus"]:
        mem = int(g["memory_mib"]) * 2**20 if "memory_mib" in g else int(g["memory_gib"]) * 2**30
        out.append(GPU(g["id"], g["name"], mem, g["vendor"], float(g.get("usable_fraction", 1.0)),
                       tuple(a.lower() for a in g.get("aliases", ())), bool(g.get("fp8", False))))
    return tuple(out)


def _host_ram() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 16 * 2**30


def find_gpu(name: str) -> GPU:
    """A catalog entry by id, alias or name (case-insensitive); ``cpu`` is this machine's RAM."""
    key = name.strip().lower()
    if key in ("cpu", "ram", "host"):
        return GPU("cpu", "CPU RAM (this machine)", _host_ram(), "cpu", 0.85)
    for g in all_gpus():
        if key in (g.id, g.name.lower(), *g.aliases):
            return g
    squashed = key.replace(" ", "").replace("-", "")
    for g in all_gpus():
        if squashed in {g.id.replace("-", ""), *(a.replace(" ", "").replace("-", "") for a in g.aliases)}:
            return g
    known = ", ".join(g.id for g in all_gpus())
    raise ModelLensError(f"unknown GPU {name!r}; known: {known}, cpu")


def tensor_parallel_sizes(heads: int | None, kv_heads: int | None, limit: int = 64) -> list[int]:
    """Tensor-parallel sizes the attention allows: powers of two dividing the query heads, and
    either dividing the KV heads or a multiple of them (KV heads are then replicated, as vLLM does)."""
    sizes = []
    t = 1
    while t <= limit:
        ok = heads is None or heads % t == 0
        if ok and kv_heads:
            ok = kv_heads % t == 0 or t % kv_heads == 0
        if ok:
            sizes.append(t)
        t *= 2
    return sizes


@dataclass(frozen=True)
class HardwareFit:
    gpu: GPU
    count: int
    fits: bool
    min_count: int | None
    tensor_parallel: int | None
    per_gpu_bytes: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"gpu": self.gpu.id, "gpu_name": self.gpu.name, "memory_bytes": self.gpu.memory_bytes,
                "usable_bytes": self.gpu.usable_bytes, "count": self.count, "fits": self.fits,
                "min_count": self.min_count, "tensor_parallel": self.tensor_parallel,
                "per_gpu_bytes": self.per_gpu_bytes, "notes": list(self.notes)}


def fit(gpu: GPU, count: int, per_gpu: Callable[[int], int], heads: int | None, kv_heads: int | None,
        budget_fraction: float = 1.0, max_count: int = 64) -> HardwareFit:
    """Fit of a workload whose per-device bytes are ``per_gpu(n)`` on ``n`` devices.

    ``budget_fraction`` is the share of each device the engine may use (vLLM's
    gpu-memory-utilization).  The minimum count searches the tensor-parallel sizes the heads
    allow, then any count for workloads that shard freely (training with ZeRO-3 / FSDP)."""
    budget = int(gpu.usable_bytes * budget_fraction)
    need = per_gpu(count)
    fits = need <= budget
    notes: list[str] = []
    tp_sizes = tensor_parallel_sizes(heads, kv_heads, max_count)
    min_count = next((n for n in tp_sizes if per_gpu(n) <= budget), None)
    if min_count is None:
        notes.append(f"does not fit on {max_count} × {gpu.id} with a tensor-parallel size the heads allow")
    tp = min_count
    if count > 1 and count not in tp_sizes:
        notes.append(f"{count} GPUs is not a tensor-parallel size the heads allow ({', '.join(map(str, tp_sizes[:6]))}); "
                     "use pipeline parallelism or fewer GPUs")
    if gpu.vendor == "apple":
        notes.append(f"unified memory: about {gpu.usable_fraction:.0%} is usable by the GPU by default")
    return HardwareFit(gpu, count, fits, min_count, tp, need, tuple(notes))
