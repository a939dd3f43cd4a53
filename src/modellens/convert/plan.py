"""From the source's tensors to what will be written: filter, rename, cast, tied weights.

* ``--filter REGEX`` keeps the tensors whose *source* name matches (``re.search``);
* ``--rename 'from=>to'`` rewrites names with ``re.sub`` (applied in order, after the filter);
* ``--dtype f32|f16|bf16`` casts floating tensors (integer and bool tensors keep their type,
  as ``transformers`` does with ``torch_dtype``); GGML block tensors are dequantized to it
  (F32 when no dtype is asked for);
* tensors that are the same storage view (tied weights) are written once.  Which name is kept
  follows Hugging Face: the names a model declares as tied copies (``lm_head.weight`` …) are
  the ones dropped, else every name after the first; the dropped names are reported and
  recorded in the safetensors metadata, and transformers re-ties them on load.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..core import dtypes
from ..core.errors import ModelLensError
from .source import SourceTensor

__all__ = ["PlannedTensor", "Plan", "make_plan", "parse_renames", "CAST_TARGETS", "parse_dtype"]

CAST_TARGETS = {"f32": "F32", "float32": "F32", "fp32": "F32", "f16": "F16", "float16": "F16",
                "fp16": "F16", "half": "F16", "bf16": "BF16", "bfloat16": "BF16"}

# Names Hugging Face models declare in ``_tied_weights_keys``: the copy, not the original.
_TIED_COPIES = (
    re.compile(r"(^|\.)lm_head\.weight$"),
    re.compile(r"(^|\.)embed_out\.weight$"),
    re.compile(r"(^|\.)lm_head\.decoder\.weight$"),
    re.compile(r"(^|\.)cls\.predictions\.decoder\.(weight|bias)$"),
    re.compile(r"(^|\.)(generator_)?lm_head\.bias$"),
    re.compile(r"(^|\.)(encoder|decoder)\.embed_tokens\.weight$"),
)


@dataclass
class PlannedTensor:
    name: str  # output name
    src: SourceTensor
    dtype: str  # output dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self.src.shape

    @property
    def nbytes(self) -> int:
        return dtypes.get(self.dtype).nbytes(math.prod(self.shape)) or 0

    @property
    def cast(self) -> bool:
        return self.dtype != self.src.dtype


@dataclass
class Plan:
    tensors: list[PlannedTensor]
    aliases: dict[str, str]  # dropped output name -> kept output name

    @property
    def total_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)


def parse_dtype(value: str | None) -> str | None:
    if value is None:
        return None
    dt = CAST_TARGETS.get(value.strip().lower())
    if dt is None:
        raise ModelLensError(f"--dtype {value!r}: expected one of f32, f16, bf16")
    return dt


def parse_renames(specs: list[str] | tuple[str, ...]) -> list[tuple[re.Pattern[str], str]]:
    out = []
    for spec in specs:
        if "=>" not in spec:
            raise ModelLensError(f"--rename {spec!r}: expected 'from=>to' (a regex and its "
                                 "replacement)")
        pat, repl = spec.split("=>", 1)
        try:
            out.append((re.compile(pat), repl))
        except re.error as e:
            raise ModelLensError(f"--rename {spec!r}: invalid regular expression ({e})") from e
    return out


def _out_dtype(src: SourceTensor, target: str | None) -> str:
    if target is None:
        return src.dtype
    dt = dtypes.get(src.dtype)
    return target if dt.kind == "float" else src.dtype


def make_plan(tensors: list[SourceTensor], *, dtype: str | None = None,
              filter_: str | None = None, renames: list[str] | tuple[str, ...] = ()) -> Plan:
    try:
        pattern = re.compile(filter_) if filter_ else None
    except re.error as e:
        raise ModelLensError(f"--filter: invalid regular expression ({e})") from e
    rules = parse_renames(renames)
    target = parse_dtype(dtype) if dtype is not None and dtype.lower() in CAST_TARGETS else dtype
    chosen: list[PlannedTensor] = []
    seen: dict[str, str] = {}
    for st in tensors:
        if pattern is not None and not pattern.search(st.name):
            continue
        name = st.name
        for rx, repl in rules:
            name = rx.sub(repl, name)
        if not name:
            raise ModelLensError(f"--rename turns {st.name!r} into an empty name")
        if name in seen:
            raise ModelLensError(f"--rename maps both {seen[name]!r} and {st.name!r} to {name!r}")
        seen[name] = st.name
        chosen.append(PlannedTensor(name, st, _out_dtype(st, target)))
    groups: dict[str, list[PlannedTensor]] = {}
    for t in chosen:
        groups.setdefault(t.src.group or t.src.name, []).append(t)
    aliases: dict[str, str] = {}
    drop: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        keep = next((m for m in members if not any(p.search(m.src.name) for p in _TIED_COPIES)),
                    members[0])
        for m in members:
            if m is not keep:
                aliases[m.name] = keep.name
                drop.add(id(m))
    return Plan([t for t in chosen if id(t) not in drop], aliases)
