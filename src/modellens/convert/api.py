"""``modellens.convert(src, dst, **options)``: the conversion, start to end.

    source (file or folder) ─ open_source ─ safety check of pickles ─► SourceTensor stream
        └─ make_plan: filter, rename, cast, tied weights written once
            └─ writer (safetensors single / sharded + index, npz, Flax msgpack) into Staging
                └─ --verify on the staged files ─► commit (fsync, rename) ─► ConvertReport

Memory stays at about one tensor (or one block of a cast) whatever the model's size; the
source is only ever opened read-only.  The library reports progress through a callback and
never prints.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..core.errors import ModelLensError
from . import safetensors_writer as stw
from .atomic import Staging
from .plan import Plan, make_plan, parse_dtype
from .source import Source, open_output, open_source
from .verify import Verification, VerificationError, verify_outputs

__all__ = ["convert", "ConvertReport", "SCHEMA_CONVERT", "TARGETS"]

SCHEMA_CONVERT = "modellens.convert/1"
DEFAULT_FOLDER_SHARD = "5GB"  # transformers' save_pretrained default
TARGETS = {"safetensors": ".safetensors", "numpy-npz": ".npz", "flax-msgpack": ".msgpack"}
_TARGET_ALIASES = {"safetensors": "safetensors", "st": "safetensors", "npz": "numpy-npz",
                   "numpy-npz": "numpy-npz", "numpy": "numpy-npz", "msgpack": "flax-msgpack",
                   "flax": "flax-msgpack", "flax-msgpack": "flax-msgpack"}
_TORCH_DTYPE = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}

ProgressCallback = Callable[[str, int, int], None]  # (phase, bytes done, bytes total)


@dataclass(frozen=True)
class ConvertReport:
    source: str
    destination: str
    source_format: str | None
    target_format: str
    files: tuple[str, ...]
    tensors: int
    bytes: int
    seconds: float
    aliases_dropped: dict[str, str]
    dtype: str | None = None
    shards: int = 1
    copied: tuple[str, ...] = ()
    verification: Verification | None = None
    warnings: tuple[str, ...] = ()
    dequantized: dict[str, str] = field(default_factory=dict)

    @property
    def verified(self) -> bool | None:
        return None if self.verification is None else self.verification.ok

    @property
    def bytes_per_second(self) -> float:
        return self.bytes / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_CONVERT,
            "source": self.source,
            "destination": self.destination,
            "source_format": self.source_format,
            "target_format": self.target_format,
            "files": list(self.files),
            "tensors": self.tensors,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "bytes_per_second": round(self.bytes_per_second),
            "dtype": self.dtype,
            "shards": self.shards,
            "aliases_dropped": self.aliases_dropped,
            "copied": list(self.copied),
            "dequantized": self.dequantized,
            "verified": self.verified,
            "verification": None if self.verification is None else self.verification.to_dict(),
            "warnings": list(self.warnings),
        }


def _target(dst: Path, to: str | None) -> tuple[str, bool]:
    """(target format, folder target?)"""
    by_ext = {ext: fmt for fmt, ext in TARGETS.items()}
    ext_fmt = by_ext.get(dst.suffix.lower())
    fmt = None
    if to is not None:
        fmt = _TARGET_ALIASES.get(to.strip().lower())
        if fmt is None:
            raise ModelLensError(f"--to {to!r}: expected one of safetensors, npz, flax-msgpack")
        if ext_fmt is not None and ext_fmt != fmt:
            raise ModelLensError(f"--to {to} but {dst.name} is named like {ext_fmt}")
    folder = ext_fmt is None or dst.is_dir()
    fmt = fmt or ext_fmt or "safetensors"
    if folder and fmt != "safetensors":
        raise ModelLensError(f"{dst}: a folder target holds safetensors; name a "
                             f"{TARGETS[fmt]} file for {fmt}")
    return fmt, folder


def _check_paths(src: Path, dst: Path) -> None:
    s, d = src.resolve(), dst.resolve()
    if s == d:
        raise ModelLensError(f"{dst} is the source; choose another destination")
    if d in s.parents:
        raise ModelLensError(f"{dst} contains the source {src}; choose another destination")


def _metadata(source: Source, plan: Plan) -> dict[str, str]:
    meta = dict(source.metadata)
    meta.setdefault("format", "pt")
    if plan.aliases:
        meta["modellens.dropped_aliases"] = json.dumps(plan.aliases, sort_keys=True)
    return meta


def _copy_folder_files(source: Source, staging: Staging, dtype: str | None) -> list[str]:
    """Everything but the weights (config, tokenizer, …); config's dtype follows a cast."""
    from ..core.io import LocalTree

    assert source.root is not None
    copied = []
    for rel in LocalTree(source.root).list():
        if rel in source.weight_files:
            continue
        out = staging.path(rel)
        if rel == "config.json" and dtype is not None and source.config is not None:
            cfg = dict(source.config)
            changed = False
            for key in ("torch_dtype", "dtype"):
                if key in cfg:
                    cfg[key] = _TORCH_DTYPE[dtype]
                    changed = True
            if changed:
                out.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
                copied.append(rel)
                continue
        shutil.copy2(source.root / rel, out)
        copied.append(rel)
    return copied


class _Sigterm:
    """SIGTERM raises KeyboardInterrupt during the call, so staged files are removed."""

    def __enter__(self) -> "_Sigterm":
        self.prev = None
        if threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                self.prev = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("terminated")

    def __exit__(self, *exc: object) -> None:
        if self.prev is not None:
            signal.signal(signal.SIGTERM, self.prev)


def convert(src: str | Path, dst: str | Path, *, to: str | None = None,
            dtype: str | None = None, shard_size: str | int | None = None,
            filter: str | None = None, rename: list[str] | tuple[str, ...] = (),  # noqa: A002
            verify: bool = False, force: bool = False,
            trust_globals: list[str] | tuple[str, ...] = (),
            progress: ProgressCallback | None = None,
            quant: str | None = None, pure: bool = False) -> ConvertReport:
    """Convert a model file or folder to safetensors (file, shards or a Hugging Face folder),
    ``.npz``, Flax msgpack, or — from a Hugging Face folder — GGUF with ``quant`` (llama.cpp's
    type names, default f16), streaming one tensor at a time; see docs/convert.md and
    docs/gguf-export.md."""
    if Path(dst).suffix.lower() == ".gguf" or (to or "").strip().lower() == "gguf":
        from .gguf import export_gguf

        return export_gguf(src, dst, quant=quant or "f16", split_max_size=shard_size, verify=verify,
                           force=force, pure=pure, progress=progress, trust_globals=tuple(trust_globals))
    if quant is not None:
        raise ModelLensError("--quant applies to .gguf targets")
    t0 = time.perf_counter()
    src_p, dst_p = Path(src), Path(dst)
    if not src_p.exists():
        raise ModelLensError(f"{src}: no such file or directory")
    fmt, folder = _target(dst_p, to)
    target_dtype = parse_dtype(dtype)
    max_shard = stw.parse_size(shard_size) if shard_size is not None else None
    if folder and max_shard is None:
        max_shard = stw.parse_size(DEFAULT_FOLDER_SHARD)
    _check_paths(src_p, dst_p)
    if dst_p.exists() and not force:
        raise ModelLensError(f"{dst} exists; pass --force to replace it")
    with _Sigterm():
        source = open_source(src_p, tuple(trust_globals))
        try:
            return _run(source, src_p, dst_p, fmt, folder, target_dtype, max_shard, filter,
                        tuple(rename), verify, force, progress, t0)
        finally:
            source.close()


def _run(source: Source, src_p: Path, dst_p: Path, fmt: str, folder: bool,
         target_dtype: str | None, max_shard: int | None, filter_: str | None,
         rename: tuple[str, ...], verify: bool, force: bool,
         progress: ProgressCallback | None, t0: float) -> ConvertReport:
    plan = make_plan(source.tensors, dtype=target_dtype, filter_=filter_, renames=rename)
    if not plan.tensors:
        raise ModelLensError(f"{src_p}: no tensors to convert"
                             + (" (--filter matched none)" if filter_ else ""))
    if fmt == "numpy-npz":
        from .npz_writer import check_npz_dtypes

        check_npz_dtypes(plan.tensors)
    total = plan.total_bytes
    done = [0]

    def tick(phase: str) -> Callable[[int], None]:
        def step(n: int) -> None:
            done[0] += n
            if progress is not None:
                progress(phase, done[0], total)
        return step

    staging = Staging(dst_p, folder=folder, force=force)
    written: list[Path] = []
    names: list[str] = []
    copied: list[str] = []
    shards = 1
    try:
        if fmt == "safetensors":
            base = "model.safetensors" if folder else dst_p.name
            shard_lists = stw.shard_plan(plan.tensors, max_shard)
            shards = len(shard_lists)
            names = stw.shard_names(base, shards)
            meta = _metadata(source, plan)
            step = tick("write")
            for shard, name in zip(shard_lists, names):
                p = staging.path(name)
                stw.write_file(p, shard, meta, step)
                written.append(p)
            if shards > 1:
                index_name = f"{base}.index.json"
                _write_small(staging.path(index_name), stw.index_json(shard_lists, names))
                names.append(index_name)
        elif fmt == "numpy-npz":
            from .npz_writer import write_npz

            p = staging.path(dst_p.name)
            write_npz(p, plan.tensors, tick("write"))
            written.append(p)
            names = [dst_p.name]
        else:
            from .flax_msgpack import write_msgpack

            p = staging.path(dst_p.name)
            write_msgpack(p, plan.tensors, tick("write"))
            written.append(p)
            names = [dst_p.name]
        if folder and source.root is not None:
            copied = _copy_folder_files(source, staging, target_dtype)
        verification = None
        if verify:
            done[0] = 0
            out = open_output(written, fmt)
            try:
                verification = verify_outputs(plan.tensors, out.tensors, tick("verify"))
            finally:
                out.close()
            if not verification.ok:
                raise VerificationError(f"verification failed: {verification.first_mismatch}; "
                                        "nothing was written")
        staging.commit()
    except OSError as e:
        staging.abort()
        if e.errno == 28:
            raise ModelLensError(f"{dst_p.parent}: no space left on device; nothing was "
                                 "written") from e
        raise ModelLensError(f"{dst_p}: cannot write ({e.strerror or e})") from e
    finally:
        staging.abort()
    files = tuple(str(staging.final(n)) for n in names)
    dequantized = {t.name: t.src.quantized_from for t in plan.tensors if t.src.quantized_from}
    return ConvertReport(
        source=str(src_p), destination=str(dst_p), source_format=source.format or source.layout,
        target_format=fmt, files=files, tensors=len(plan.tensors), bytes=plan.total_bytes,
        seconds=time.perf_counter() - t0, aliases_dropped=dict(plan.aliases),
        dtype=target_dtype, shards=shards, copied=tuple(copied), verification=verification,
        warnings=tuple(source.warnings), dequantized=dequantized)


def _write_small(path: Path, data: bytes) -> None:
    import os

    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
