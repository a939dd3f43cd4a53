"""Hugging Face folder → GGUF, quantized on the way, one tensor (piece) at a time.

    HF folder ─ open_source (safetensors / static .bin) ─ arch table: rename, stack experts,
      permute Q/K, Gemma norms ─► recipe: GGML type per tensor ─► quantizer (numpy, by rows)
        └─► GGUFFileWriter (one file, or split parts) in Staging ─ --verify ─► commit

Each tensor is produced in row blocks of at most :data:`PIECE_BYTES` (float32): a stacked
expert tensor is written expert by expert and a plain one block by block, so memory stays at
one block plus what the transforms of one Q/K matrix need, whatever the model's size.
"""

from __future__ import annotations

import hashlib
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ...core.errors import ModelLensError
from ..api import ConvertReport
from ..atomic import Staging
from ..source import Source, SourceTensor, open_source
from ..verify import Verification, VerificationError
from . import archs, quants
from .recipes import ModelShape, Recipe, parse_quant
from .tokenizer import read_vocab
from .writer import GGUFFileWriter

__all__ = ["export_gguf", "GGUFReport", "plan_export", "PIECE_BYTES", "split_names"]

PIECE_BYTES = 64 * 2**20
QUANTIZATION_VERSION = 2  # GGML_QNT_VERSION
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class GGUFReport(ConvertReport):
    """A ConvertReport plus the GGUF side: tensors per GGML type, the llama.cpp file type."""

    tensor_types: dict[str, int] = field(default_factory=dict)
    file_type: str | None = None
    architecture: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["gguf"] = {"architecture": self.architecture, "file_type": self.file_type,
                     "tensor_types": self.tensor_types}
        return d


@dataclass
class OutTensor:
    """One GGUF tensor: its name, numpy-order shape, type and where its values come from."""

    name: str
    shape: tuple[int, ...]
    sources: list[SourceTensor]  # one, or one per expert (stacked in order)
    ops: tuple[str, ...] = ()
    data: np.ndarray | None = None  # a computed tensor (rope factors)
    ggml_type: str = "F32"

    @property
    def source_bytes(self) -> int:
        if self.data is not None:
            return self.data.nbytes
        return sum(s.nbytes for s in self.sources)


@dataclass
class ExportPlan:
    spec: archs.ArchSpec
    config: dict[str, Any]
    tensors: list[OutTensor]
    kv: list[tuple[str, str, Any]]
    recipe: Recipe
    warnings: list[str]


def _pieces(t: OutTensor, config: dict[str, Any]) -> Iterator[np.ndarray]:
    """float32 row blocks of ``t``, in order; each is ``(rows, ncols)``."""
    if t.data is not None:
        yield t.data.reshape(-1, t.shape[-1] if t.shape else 1)
        return
    ncols = t.shape[-1] if t.shape else 1
    for src in t.sources:
        arr = src.read()
        if t.ops:  # a transform needs the whole matrix (Q/K rows move between heads)
            w = archs.apply_transforms(t.ops, np.asarray(arr, dtype=np.float32), config)
            yield w.reshape(-1, ncols)
        else:
            rows = arr.reshape(-1, ncols) if arr.ndim else arr.reshape(1, 1)
            step = max(1, PIECE_BYTES // (4 * ncols))
            for i in range(0, rows.shape[0], step):
                yield np.asarray(rows[i : i + step], dtype=np.float32)
        src.release()


def _encode(block: np.ndarray, ggml_type: str, pool: ThreadPoolExecutor | None) -> np.ndarray:
    if ggml_type == "F32":
        return np.ascontiguousarray(block, dtype=np.float32)
    if ggml_type == "F16":
        return block.astype(np.float16)
    if ggml_type == "BF16":
        import ml_dtypes

        return block.astype(ml_dtypes.bfloat16)
    return quants.quantize(block, ggml_type, pool=pool)


def _param_counts(tensors: list[OutTensor], n_expert: int) -> tuple[int, int, int]:
    total = expert = 0
    for t in tensors:
        n = math.prod(t.shape)
        total += n
        if "_exps." in t.name:
            expert += n
    return total, total - expert, (expert // n_expert if n_expert else 0)


def plan_export(source: Source, quant: str, *, pure: bool = False,
                name: str | None = None) -> ExportPlan:
    """Map, type and describe every output tensor and the metadata, reading no weights."""
    if source.root is None or source.config is None:
        raise ModelLensError(f"{source.path}: GGUF export needs a Hugging Face folder "
                             "(config.json, weights, tokenizer)")
    config = dict(source.config)
    if isinstance(config.get("text_config"), dict) and "num_hidden_layers" not in config:
        config = {**config, **config["text_config"]}
    spec = archs.find_arch(config)
    warnings: list[str] = []
    singles: dict[str, OutTensor] = {}
    stacks: dict[str, dict[int, SourceTensor]] = {}
    order: list[str] = []
    for st in source.tensors:
        mapped = spec.map_name(st.name)
        if mapped is None:
            if st.name.endswith("rotary_emb.inv_freq") or st.name.split(".")[0] in spec.drop:
                continue
            warnings.append(f"tensor {st.name!r} has no GGUF name for {spec.name}; not written")
            continue
        gname, xid = mapped
        if gname == "output.weight" and st.group is not None:
            continue  # tied to the embeddings: llama.cpp reuses token_embd
        if gname not in singles and gname not in stacks:
            order.append(gname)
        if xid is None:
            singles[gname] = OutTensor(gname, tuple(st.shape), [st], spec.transforms_for(gname))
        else:
            stacks.setdefault(gname, {})[xid] = st
    out: list[OutTensor] = []
    for gname in order:
        if gname in singles:
            out.append(singles[gname])
            continue
        experts = stacks[gname]
        n = len(experts)
        if sorted(experts) != list(range(n)):
            raise ModelLensError(f"{gname}: experts {sorted(experts)} are not 0..{n - 1}")
        first = experts[0]
        if any(tuple(e.shape) != tuple(first.shape) for e in experts.values()):
            raise ModelLensError(f"{gname}: experts differ in shape")
        out.append(OutTensor(gname, (n, *first.shape), [experts[i] for i in range(n)],
                             spec.transforms_for(gname)))
    for ename, data in archs.extra_tensors(spec, config).items():
        out.insert(0, OutTensor(ename, tuple(data.shape), [], (), data))
    names = {t.name for t in out}
    if "token_embd.weight" not in names:
        raise ModelLensError(f"{source.path}: no token embeddings found for {spec.name}")

    n_vocab = int(config.get("vocab_size") or 0)
    vocab = read_vocab(source.root, config, n_vocab)
    warnings += vocab.warnings
    n_layer = int(config.get("num_hidden_layers") or 0)
    n_expert = int(archs.config_get(config, "num_experts", "num_local_experts") or 0)
    shape = ModelShape(n_layer, int(config.get("num_attention_heads") or 1),
                       int(config.get("num_key_value_heads") or config.get("num_attention_heads")
                           or 1), n_expert, spec.name)
    recipe = Recipe(quant, shape, tied_embeddings="output.weight" not in names, pure=pure)
    for t in out:
        t.ggml_type = recipe.type_for(t.name, t.shape)
    warnings += recipe.fallbacks

    from gguf.utility import size_label

    total, shared, per_expert = _param_counts(out, n_expert)
    label = size_label(total, shared, per_expert, n_expert) if n_expert else size_label(
        total, total, 0, 0)
    model_name = name or config.get("_name_or_path") or source.root.name
    model_name = str(model_name).rstrip("/").rsplit("/", 1)[-1] or source.root.name
    kv: list[tuple[str, str, Any]] = [
        ("general.architecture", "str", spec.name),
        ("general.type", "str", "model"),
        ("general.name", "str", model_name),
        ("general.size_label", "str", label),
        ("general.file_type", "u32", recipe.file_type),
        ("general.quantization_version", "u32", QUANTIZATION_VERSION),
    ]
    hp, hw = archs.hparam_metadata(spec, config, len(vocab.tokens))
    kv += hp
    warnings += hw
    kv += vocab.metadata()
    return ExportPlan(spec, config, out, kv, recipe, warnings)


def split_names(dst: Path, parts: int) -> list[str]:
    if parts == 1:
        return [dst.name]
    stem = dst.name[:-5] if dst.name.lower().endswith(".gguf") else dst.name
    return [f"{stem}-{i + 1:05d}-of-{parts:05d}.gguf" for i in range(parts)]


def _shards(tensors: list[OutTensor], max_bytes: int | None) -> list[list[OutTensor]]:
    from .writer import tensor_nbytes

    if not max_bytes:
        return [tensors]
    shards: list[list[OutTensor]] = [[]]
    size = 0
    for t in tensors:
        n = tensor_nbytes(t.ggml_type, t.shape)
        if shards[-1] and size + n > max_bytes:
            shards.append([])
            size = 0
        shards[-1].append(t)
        size += n
    return shards


def _verify(paths: list[Path], shards: list[list[OutTensor]],
            digests: dict[str, str]) -> Verification:
    """Read the staged files back with gguf-py's own reader: every tensor present with its
    type and shape, and its bytes those that were written (sha-256)."""
    from gguf import GGUFReader

    count = nbytes = 0
    for path, shard in zip(paths, shards):
        try:
            reader = GGUFReader(path)
        except Exception as e:  # noqa: BLE001 - any parse failure is a failed verification
            return Verification(count, nbytes, False, f"{path.name}: gguf cannot read it ({e})")
        by_name = {t.name: t for t in reader.tensors}
        for t in shard:
            rt = by_name.get(t.name)
            if rt is None:
                return Verification(count, nbytes, False, f"{t.name}: missing in {path.name}")
            if rt.tensor_type.name != t.ggml_type or tuple(int(d) for d in reversed(
                    rt.shape)) != tuple(t.shape or (1,)):
                return Verification(count, nbytes, False,
                                    f"{t.name}: {rt.tensor_type.name} {list(rt.shape)}, "
                                    f"expected {t.ggml_type} {list(reversed(t.shape))}")
            raw = np.ascontiguousarray(rt.data).view(np.uint8).reshape(-1)
            if hashlib.sha256(raw).hexdigest() != digests[t.name]:
                return Verification(count, nbytes, False, f"{t.name}: bytes differ")
            count += 1
            nbytes += raw.nbytes
    return Verification(count, nbytes, True)


def export_gguf(src: str | Path, dst: str | Path, *, quant: str = "f16",
                split_max_size: str | int | None = None, verify: bool = False,
                force: bool = False, pure: bool = False, threads: int | None = None,
                progress: ProgressCallback | None = None,
                trust_globals: tuple[str, ...] = ()) -> GGUFReport:
    """Export a Hugging Face folder to GGUF (``--quant`` in llama.cpp's names); see
    docs/gguf-export.md."""
    from ..safetensors_writer import parse_size

    t0 = time.perf_counter()
    src_p, dst_p = Path(src), Path(dst)
    quant = parse_quant(quant)
    if not src_p.is_dir():
        raise ModelLensError(f"{src}: GGUF export reads a Hugging Face folder")
    if dst_p.exists() and not force:
        raise ModelLensError(f"{dst} exists; pass --force to replace it")
    max_bytes = parse_size(split_max_size) if split_max_size is not None else None
    source = open_source(src_p, tuple(trust_globals))
    try:
        plan = plan_export(source, quant, pure=pure)
        shards = _shards(plan.tensors, max_bytes)
        names = split_names(dst_p, len(shards))
        staging = Staging(dst_p, folder=False, force=force)
        total = sum(t.source_bytes for t in plan.tensors)
        done = [0]
        digests: dict[str, str] = {}
        types: dict[str, int] = {}
        written: list[Path] = []
        n_threads = threads or quants.default_threads()
        pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None
        try:
            for i, (shard, fname) in enumerate(zip(shards, names)):
                path = staging.path(fname)
                w = GGUFFileWriter(path)
                if i == 0:
                    for key, vtype, value in plan.kv:
                        w.add_kv(key, vtype, value)
                if len(shards) > 1:
                    w.add_kv("split.no", "u16", i)
                    w.add_kv("split.count", "u16", len(shards))
                    w.add_kv("split.tensors.count", "i32", len(plan.tensors))
                for t in shard:
                    w.add_tensor(t.name, t.ggml_type, t.shape)
                w.write_header()
                written.append(path)
                try:
                    for t in shard:
                        h = hashlib.sha256() if verify else None
                        for block in _pieces(t, plan.config):
                            enc = _encode(block, t.ggml_type, pool)
                            mv = memoryview(np.ascontiguousarray(enc).reshape(-1).view(np.uint8))
                            w.write_tensor_data(mv)
                            if h is not None:
                                h.update(mv)
                            done[0] += block.size * 4 * (t.source_bytes / max(1, 4 * math.prod(
                                t.shape)))
                            if progress is not None:
                                progress("quantize", int(done[0]), total)
                        if h is not None:
                            digests[t.name] = h.hexdigest()
                        types[t.ggml_type] = types.get(t.ggml_type, 0) + 1
                    w.close()
                except BaseException:
                    w.abort()
                    raise
            verification = None
            if verify:
                verification = _verify(written, shards, digests)
                if not verification.ok:
                    raise VerificationError(f"verification failed: "
                                            f"{verification.first_mismatch}; nothing was written")
            staging.commit()
        except OSError as e:
            staging.abort()
            raise ModelLensError(f"{dst_p}: cannot write ({e.strerror or e})") from e
        finally:
            if pool is not None:
                pool.shutdown()
            staging.abort()
    finally:
        source.close()
    files = tuple(str(staging.final(n)) for n in names)
    out_bytes = sum(Path(f).stat().st_size for f in files)
    return GGUFReport(
        source=str(src_p), destination=str(dst_p), source_format=source.format or source.layout,
        target_format="gguf", files=files, tensors=len(plan.tensors), bytes=out_bytes,
        seconds=time.perf_counter() - t0, aliases_dropped={}, dtype=quant.upper(),
        shards=len(shards), verification=verification, warnings=tuple(plan.warnings),
        tensor_types=dict(sorted(types.items())), file_type=plan.recipe.ftype,
        architecture=plan.spec.name)
