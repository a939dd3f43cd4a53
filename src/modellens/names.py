"""Read a model's name the way an expert does.

``Qwen3-235B-A22B-Instruct-2507`` is a Qwen3 mixture-of-experts model with 235B parameters in
total and 22B active per token, instruction-tuned (SFT, then preference tuning), released in
July 2025.  :func:`parse_name` turns such a name -- a hub id (``org/repo``), a bare name, a GGUF
or other file name (split parts included), a ModelScope id, a hub URL -- into a frozen
:class:`NameInfo` whose :meth:`NameInfo.to_dict` is the ``modellens.name/1`` JSON contract
(docs/name.md).

How a name is read
    The name is lower-cased (spaces and ``:`` read as ``-``; ``_`` reads as ``-`` except between
    digits, where it is a decimal point: ``2_5`` is 2.5).  Readers then claim spans of it in a
    fixed order -- file extension and split part, full dates, quantization and packaging, sizes
    and context lengths, families, date codes, versions, size words, variant words -- and
    whatever no reader claims is reported in ``notes``: nothing is dropped or guessed silently.

Where the knowledge lives
    Every fact about a family (its name pattern, org, date-code convention, size words, what
    a bare name means) and every known model (MoE totals, real parameter counts) is data in
    ``modellens/data/names.json``.  This module holds only the grammar that all names share.

The module imports the standard library only, so ``import modellens.names`` is cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from decimal import Decimal
from functools import lru_cache
from typing import Any, Iterator

from .core.packaged import data_json

__all__ = [
    "SCHEMA",
    "VARIANTS",
    "TRAINING_STAGES",
    "NameInfo",
    "parse_name",
    "format_params",
]

SCHEMA = "modellens.name/1"
VARIANTS = (
    "base", "instruct", "chat", "reasoning", "code", "math", "vision",
    "embedding", "reranker", "diffusion", "other",
)
TRAINING_STAGES = ("pretrain", "sft", "preference", "distill", "unknown")

MAX_INPUT = 512  # longer input is cut: a model name is never this long
_STAGE_RANK = {"unknown": 0, "pretrain": 1, "sft": 2, "preference": 3, "distill": 4}
_UNITS = {"k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}
_L = r"(?<![a-z0-9])"  # a word starts here
_R = r"(?![a-z0-9]|[.][0-9])"  # a word ends here (not before the .5 of 1.5)
_LN = r"(?<![a-z0-9.])"  # a number starts here (not the 5 of 2.5)
_VER = r"(?P<version>[0-9]+(?:[._][0-9]+)*)"
_NOT_RECOGNISED = "not recognised as a model name"

_STAGE_TEXT = {
    "pretrain": "base model (pretrained only, not instruction-tuned)",
    "sft": "instruction-tuned (SFT only, no preference tuning)",
    "preference": "instruction-tuned (SFT → preference)",
    "distill": "distilled (trained on a larger teacher model's outputs)",
    "unknown": "training stage not stated",
}


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class NameInfo:
    """What a model name says.  ``None`` means the name does not say; ``notes`` says why."""

    schema: str = SCHEMA
    input: str = ""
    org: str | None = None
    family: str | None = None
    version: str | None = None
    total_parameters: int | None = None
    active_parameters: int | None = None
    moe: bool | None = None
    experts: int | None = None
    variant: str | None = None
    training_stage: str = "unknown"
    quantization: str | None = None
    file_format: str | None = None
    release: str | None = None
    context_length: int | None = None
    modality: str | None = None
    confidence: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def recognised(self) -> bool:
        return self.confidence > 0

    def to_dict(self) -> dict[str, Any]:
        """The ``modellens.name/1`` JSON object (the field order is the documented one)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["schema"], d["notes"] = SCHEMA, list(self.notes)
        return d

    def summary(self) -> str:
        """One line of meaning, e.g. ``Qwen 3 · 235B total, 22B active per token (MoE) ·
        instruction-tuned (SFT → preference) · released 2025-07``."""
        if not self.recognised:
            return _NOT_RECOGNISED
        parts = [self._title()] if self.family else []
        parts.append(self._size_text())
        kind = self._stage_text()
        if self.variant and self.variant not in ("base", "instruct", "chat") and "reasoning-tuned" not in kind:
            kind = f"{self.variant} · {kind}"
        parts.append(kind)
        if self.quantization:
            parts.append(f"quantized {self.quantization}")
        if self.context_length:
            parts.append(f"{_short_context(self.context_length)} context")
        parts.append(f"released {self.release}" if self.release else "release date not in name")
        return " · ".join(parts)

    def _title(self) -> str:
        if not self.version:
            return str(self.family)
        prefix = _tables().version_prefix.get(str(self.family), "")
        version = f"{prefix}{self.version}" if self.version[0].isdigit() else self.version
        return f"{self.family} {version}"

    def _size_text(self) -> str:
        approx = any(n.startswith("approximate") for n in self.notes)
        total = f"{'≈' if approx else ''}{format_params(self.total_parameters)}" if self.total_parameters else None
        if self.active_parameters:
            active = format_params(self.active_parameters)
            if total:
                return f"{total} total, {active} active per token (MoE)"
            return f"{active} active per token (MoE), total not in name"
        if total:
            return f"{total} parameters{' (MoE)' if self.moe else ''}"
        return "size not in name"

    def _stage_text(self) -> str:
        if self.training_stage == "preference" and self.variant == "reasoning":
            return "reasoning-tuned (SFT → RL / preference)"
        return _STAGE_TEXT[self.training_stage]


def format_params(n: int | None) -> str:
    """235000000000 → ``235B``; 46700000000 → ``46.7B``; 350000000 → ``350M``."""
    if n is None:
        return "?"
    for unit, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            text = f"{Decimal(n) / scale:.2f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return str(n)


def _short_context(n: int) -> str:
    return f"{n >> 20}M" if n % (1 << 20) == 0 else f"{n >> 10}k" if n % 1024 == 0 else str(n)


def _count(text: str) -> int:
    """``46.7B`` → 46700000000 (Decimal, so ``1.5B`` is exactly 1500000000)."""
    text = text.strip().lower().replace("_", ".")
    return int(Decimal(text[:-1]) * _UNITS[text[-1]])


# --------------------------------------------------------------------------- the tables


@dataclass(frozen=True)
class _Word:
    rx: re.Pattern[str]
    variant: str | None = None
    stage: str | None = None
    rank: int = 0
    strong: bool = False
    modality: str | None = None
    note: str | None = None
    distill: bool = False


@dataclass(frozen=True)
class _Family:
    id: str
    name: str
    rx: re.Pattern[str]
    org: str | None
    modality: str
    variant: str | None
    stage: str | None
    version: str | None
    date_code: str | None
    years: dict[str, int]
    bare: tuple[str, str] | None
    bare_by_version: dict[str, tuple[str, str]]
    bare_note: str | None
    bare_size: int | None
    size_words: dict[str, int]
    words: tuple[_Word, ...]
    note: str | None


@dataclass(frozen=True)
class _Model:
    rx: re.Pattern[str]
    unless: re.Pattern[str] | None
    facts: dict[str, Any]


@dataclass(frozen=True)
class _Quant:
    rx: re.Pattern[str]
    label: str  # a fixed label, or UPPER / LOWER / GGML: the matched text so cased
    file_format: str | None
    note: str | None
    dtype: bool  # BF16, F16 …: a weight type, not a quantization


@dataclass(frozen=True)
class _Tables:
    families: tuple[_Family, ...]
    models: tuple[_Model, ...]
    words: tuple[_Word, ...]
    quant: tuple[_Quant, ...]
    packaging: tuple[tuple[re.Pattern[str], str, str | None], ...]
    extensions: dict[str, str]
    flags: tuple[re.Pattern[str], ...]
    lines: re.Pattern[str]
    ignore: tuple[tuple[re.Pattern[str], str | None], ...]
    orgs: dict[str, dict[str, str]]
    version_prefix: dict[str, str]


def _word_rx(pattern: str) -> re.Pattern[str]:
    return re.compile(f"{_L}(?:{pattern.replace('{ver}', _VER)}){_R}")


def _word(d: dict[str, Any]) -> _Word:
    return _Word(
        rx=_word_rx(d["match"]), variant=d.get("variant"), stage=d.get("stage"),
        rank=int(d.get("rank", 40)), strong=bool(d.get("strong", False)),
        modality=d.get("modality"), note=d.get("note"), distill=bool(d.get("distill", False)),
    )


def _pair(v: Any) -> tuple[str, str] | None:
    return (v[0], v[1]) if v else None


def _family(d: dict[str, Any]) -> _Family:
    return _Family(
        id=d["id"], name=d["family"], rx=_word_rx(d["match"]), org=d.get("org"),
        modality=d.get("modality", "text"), variant=d.get("variant"), stage=d.get("stage"),
        version=d.get("version"), date_code=d.get("date_code"),
        years={str(k).lower(): int(v) for k, v in d.get("years", {}).items()},
        bare=_pair(d.get("bare")),
        bare_by_version={str(k).lower(): _pair(v) for k, v in d.get("bare_by_version", {}).items()},  # type: ignore[misc]
        bare_note=d.get("bare_note"),
        bare_size=_count(d["bare_size"]) if d.get("bare_size") else None,
        size_words={k: _count(v) for k, v in d.get("size_words", {}).items()},
        words=tuple(_word(w) for w in d.get("words", ())), note=d.get("note"),
    )


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    raw = data_json("names.json")
    fams = tuple(_family(f) for f in raw["families"])
    return _Tables(
        families=fams,
        models=tuple(
            _Model(_word_rx(m["match"]), re.compile(m["unless"]) if m.get("unless") else None,
                   {k: v for k, v in m.items() if k not in ("match", "unless")})
            for m in raw["models"]
        ),
        words=tuple(_word(w) for w in raw["words"]),
        quant=tuple(
            _Quant(_word_rx(q["match"]), q["label"], q.get("file_format"), q.get("note"), bool(q.get("dtype")))
            for q in raw["quantization"]
        ),
        packaging=tuple((_word_rx(p["match"]), p["file_format"], p.get("note")) for p in raw["packaging"]),
        extensions=dict(raw["extensions"]),
        flags=tuple(_word_rx(f["match"]) for f in raw["flags"] if f.get("moe")),
        lines=_word_rx(raw["lines"]),
        ignore=tuple((_word_rx(i["match"]), i.get("note")) for i in raw["ignore"]),
        orgs={k.lower(): v for k, v in raw["orgs"].items()},
        version_prefix={r["family"]: r["version_prefix"] for r in raw["families"] if r.get("version_prefix")},
    )


# --------------------------------------------------------------------------- the input

_HUB = re.compile(
    r"^(?:hf://|ms://|(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co|hf-mirror\.com"
    r"|modelscope\.cn/models|modelscope\.cn)/)",
    re.I,
)
_SPLIT = re.compile(r"[-_.](\d{5})-of-(\d{5})$", re.I)
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x1f\x7f]")  # ANSI escapes, control characters


@dataclass
class _Input:
    org: str | None
    base: str
    file_format: str | None
    notes: list[str]


def _split_input(text: str) -> _Input:
    """Separate the org, the file name and its extension, and the split-part suffix."""
    notes: list[str] = []
    org: str | None = None
    stripped = _HUB.sub("", text)
    hub = stripped != text
    parts = [p for p in re.split(r"[/\\]", stripped) if p]
    looks_like_path = not hub and (
        text[:1] in "/\\~." or "\\" in text or stripped.count("/") >= 2 or re.match(r"^[a-z]:", text, re.I)
    )
    if not parts:
        return _Input(None, "", None, notes)
    if looks_like_path:
        base = parts[-1]
        notes.append("a path: read its last part only")
    elif len(parts) >= 2:
        org = parts[0]
        # hub URLs may go on (/blob/main/file.gguf): read the file if there is one
        base = parts[-1] if len(parts) > 2 and "." in parts[-1] else parts[1]
    else:
        base = parts[0]
    tables = _tables()
    file_format = None
    ext = re.search(r"\.([a-z0-9]+)$", base, re.I)
    if ext and ext.group(1).lower() in tables.extensions:
        file_format = tables.extensions[ext.group(1).lower()]
        base = base[: ext.start()]
        if ext.group(1).lower() in ("bin", "pt", "pth", "ckpt"):
            notes.append(f".{ext.group(1).lower()}: PyTorch by extension only (zip or legacy pickle)")
    split = _SPLIT.search(base)
    if split:
        notes.append(f"split file: part {int(split.group(1))} of {int(split.group(2))}")
        base = base[: split.start()]
    return _Input(org, base, file_format, notes)


def _normalize(base: str) -> str:
    """Lower-case, separators to '-', but '_' between digits is a decimal point; same length."""
    s = "".join(c.lower() if len(c.lower()) == 1 else c for c in base)  # "İ".lower() is 2 chars
    s = re.sub(r"[\s:+,;()\[\]]", "-", s)
    return re.sub(r"_(?![0-9])|(?<![0-9])_", "-", s)


# --------------------------------------------------------------------------- the scan


class _Scan:
    """The normalized name and which of its characters a reader has already claimed."""

    def __init__(self, s: str, original: str):
        self.s = s
        self.o = original
        self.kind = [""] * len(s)

    def find(self, rx: re.Pattern[str], free_of: str = "*") -> Iterator[re.Match[str]]:
        """Matches of ``rx`` over characters not yet claimed (``free_of="*"``) or not claimed
        by anything but the kinds in ``free_of``."""
        for m in rx.finditer(self.s):
            if m.start() == m.end():
                continue
            span = self.kind[m.start(): m.end()]
            if all(k == "" or (free_of != "*" and k in free_of.split(",")) for k in span):
                yield m

    def claim(self, m: re.Match[str] | tuple[int, int], kind: str) -> None:
        a, b = (m.start(), m.end()) if isinstance(m, re.Match) else m
        for i in range(a, b):
            if not self.kind[i]:
                self.kind[i] = kind

    def leftovers(self) -> list[str]:
        masked = "".join(" " if k else ch for ch, k in zip(self.o, self.kind))
        return re.findall(r"[^\W_]+(?:\.[^\W_]+)*", masked)


_ISO_DATE = re.compile(_LN + r"(20[0-9]{2})-?(0[1-9]|1[0-2])(?:-?([0-3][0-9]))?" + _R)
_MM_YYYY = re.compile(_LN + r"(0[1-9]|1[0-2])-(20[0-9]{2})" + _R)
_EXPERT_SIZE = re.compile(_LN + r"([0-9]+)x([0-9]+(?:[._][0-9]+)?)([mbt])" + _R)
_ACTIVE = re.compile(_L + r"a([0-9]+(?:[._][0-9]+)?)([mb])" + _R)
_EFFECTIVE = re.compile(_L + r"e([0-9]+(?:[._][0-9]+)?)b" + _R)
_EXPERTS = re.compile(_LN + r"([0-9]+)e" + _R)
_SIZE = re.compile(_LN + r"([0-9]+(?:[._][0-9]+)?)([mbt])([0-9])?" + _R)
_CONTEXT = re.compile(_LN + r"([0-9]+)k" + _R)
_CODE4 = re.compile(_LN + r"([0-9]{4})" + _R)
_LABELS = {  # how a quantization word is written back: Q4_K_M, GPTQ, 4.0bpw
    "UPPER": str.upper,
    "LOWER": lambda s: s.lower().replace("_", "."),
    "GGML": lambda s: s.upper().replace("-", "_").replace("UD_", "UD-"),
}
_VTOKEN = re.compile(_L + r"v([0-9]+(?:[._][0-9]+)*)" + r"(?![a-z0-9])")
_DOTTED = re.compile(_LN + r"([0-9]+(?:[._][0-9]+)+)" + r"(?![a-z0-9])")


# --------------------------------------------------------------------------- parse


def parse_name(name: str) -> NameInfo:
    """Read a model name; never raises.  Unrecognised input gives ``confidence == 0``."""
    text = _CONTROL.sub("", str(name if name is not None else "")).strip()
    notes: list[str] = []
    if len(text) > MAX_INPUT:
        text = text[:MAX_INPUT]
        notes.append(f"input cut to {MAX_INPUT} characters")
    inp = _split_input(text)
    notes += inp.notes
    if not inp.base:
        return NameInfo(input=str(name), file_format=inp.file_format, notes=(*notes, _NOT_RECOGNISED))
    return _Reader(str(name), inp, notes).read()


class _Reader:
    """One reading of one name; each ``_read_*`` step claims what it understands."""

    def __init__(self, raw: str, inp: _Input, notes: list[str]):
        self.t = _tables()
        self.raw = raw
        self.inp = inp
        self.notes = notes
        original = re.sub(r"[\s:+,;()\[\]]", "-", inp.base)
        self.scan = _Scan(_normalize(inp.base), original)
        self.f: dict[str, Any] = {"org": inp.org, "file_format": inp.file_format}
        self.quant: list[str] = []
        self.family: _Family | None = None
        self.family_end = 0
        self.sizes: list[tuple[int, int]] = []  # (start, count) of plain sizes
        self.m_sizes: list[tuple[int, str]] = []  # plain "<n>M" tokens: size or context
        self.active: int | None = None
        self.experts: int | None = None
        self.expert_size: int | None = None
        self.words: list[_Word] = []
        self.family_version = False  # the version came with the family ("Qwen3"), not later
        self.unread: list[str] = []

    # -- steps in order ---------------------------------------------------------------

    def read(self) -> NameInfo:
        self._read_dates()
        self._read_quant()
        self._read_sizes()
        self._read_family()
        self._read_date_codes()
        self._read_version()
        self._read_size_words()
        self._read_words()
        self._read_leftovers()
        return self._result()

    def _read_dates(self) -> None:
        for rx, year, month in ((_ISO_DATE, 1, 2), (_MM_YYYY, 2, 1)):  # 2024-08-06, 20240620; 08-2024
            m = next(self.scan.find(rx), None)
            if m:
                self.f["release"] = f"{m.group(year)}-{m.group(month)}"
                self.scan.claim(m, "date")
                return

    def _read_quant(self) -> None:
        found: list[tuple[int, str]] = []
        for q in self.t.quant:
            for m in self.scan.find(q.rx):
                text = self.scan.o[m.start(): m.end()]
                label = _LABELS[q.label](text) if q.label in _LABELS else q.label
                found.append((m.start(), label))
                self.scan.claim(m, "quant")
                if q.file_format:
                    self.f["file_format"] = self.f.get("file_format") or q.file_format
                if q.note:
                    self.notes.append(q.note)
                if q.dtype:
                    self.notes.append(f"{label}: unquantized {label} weights")
        self.quant = [label for _, label in sorted(found)]
        for rx, fmt, note in self.t.packaging:
            for m in self.scan.find(rx):
                self.scan.claim(m, "pack")
                if self.f.get("file_format") in (None, "hf-transformers"):  # an extension wins over "-hf"
                    self.f["file_format"] = fmt
                if note:
                    self.notes.append(note)
        org = (self.inp.org or "").lower()
        if org in self.t.orgs:
            extra = self.t.orgs[org]
            if extra.get("file_format") and not self.f.get("file_format"):
                self.f["file_format"] = extra["file_format"]
            if extra.get("note"):
                self.notes.append(extra["note"])

    def _read_sizes(self) -> None:
        sc = self.scan
        for m in sc.find(_EXPERT_SIZE):
            self.experts, self.expert_size = int(m.group(1)), _count(m.group(2) + m.group(3))
            sc.claim(m, "size")
        for m in sc.find(_ACTIVE):
            self.active = _count(m.group(1) + m.group(2))
            sc.claim(m, "size")
        for m in sc.find(_EFFECTIVE):
            self.notes.append(f"E{m.group(1)}B: {m.group(1)}B effective parameters")
            sc.claim(m, "size")
        for m in sc.find(_EXPERTS):
            self.experts = int(m.group(1))
            sc.claim(m, "size")
        for m in sc.find(_SIZE):
            number = m.group(1) + (f".{m.group(3)}" if m.group(3) else "")  # bloom-7b1 = 7.1B
            if m.group(2) == "m":
                self.m_sizes.append((m.start(), number))
            else:
                self.sizes.append((m.start(), _count(number + m.group(2))))
            sc.claim(m, "size")
        for m in sc.find(_CONTEXT):
            self.f["context_length"] = int(m.group(1)) * 1024
            sc.claim(m, "context")
        # "1M" beside a billion-scale size is a context length (Qwen2.5-7B-Instruct-1M)
        for start, number in self.m_sizes:
            if self.sizes or self.expert_size:
                self.f["context_length"] = int(Decimal(number) * (1 << 20))
            else:
                self.sizes.append((start, _count(number + "m")))

    def _family_matches(self, s: str) -> list[tuple[int, int, _Family, re.Match[str]]]:
        out = []
        for fam in self.t.families:
            for m in fam.rx.finditer(s):
                out.append((m.start(), -(m.end() - m.start()), fam, m))
        return sorted(out, key=lambda x: (x[0], x[1]))

    def _read_family(self) -> None:
        sc = self.scan
        matches = [x for x in self._family_matches(sc.s) if all(k == "" for k in sc.kind[x[3].start(): x[3].end()])]
        # drop matches inside a longer, earlier one (llama inside meta-llama-3)
        kept: list[tuple[int, int, _Family, re.Match[str]]] = []
        for x in matches:
            if not any(k[3].start() <= x[3].start() and x[3].end() <= k[3].end() for k in kept):
                kept.append(x)
        distill = next((m for w in self.t.words if w.distill for m in sc.find(w.rx)), None)
        chosen = None
        if distill and any(x[0] > distill.start() for x in kept):
            chosen = next(x for x in kept if x[0] > distill.start())
            teachers = [x for x in kept if x[0] < distill.start()]
            for x in teachers:
                sc.claim(x[3], "teacher")
            if teachers:
                teacher = sc.o[teachers[0][3].start(): distill.start()].strip("-_. ")
                self.notes.append(f"distilled from {teacher} into {chosen[2].name} (the student names the family)")
        elif kept:
            chosen = kept[0]
        if chosen is None and self.inp.org:
            org_matches = self._family_matches(_normalize(self.inp.org))
            if org_matches:
                self.family = org_matches[0][2]
                self.notes.append(f"family read from the org '{self.inp.org}', not from the name")
        if chosen is not None:
            fam, m = chosen[2], chosen[3]
            self.family, self.family_end = fam, m.end()
            sc.claim(m, "family")
            if "version" in fam.rx.groupindex and m.group("version"):
                self._set_version(sc.o[m.start("version"): m.end("version")])
                self.family_version = True
            for other in kept:
                if other is not chosen and other[2] is not fam and not (distill and other[0] < distill.start()):
                    self.notes.append(f"also names {other[2].name} (often the base model of a fine-tune)")
                    sc.claim(other[3], "family2")
        if self.family is not None:
            if self.family.version and not self.f.get("version"):
                self.f["version"] = self.family.version
            if not self.f.get("org") and self.family.org:
                self.f["org"] = self.family.org
                self.notes.append(f"org '{self.family.org}' from the {self.family.name} family table (the name has no org)")
            if self.family.note:
                self.notes.append(self.family.note)

    def _set_version(self, text: str) -> None:
        text = re.sub(r"^[vV](?=[0-9])", "", text)
        self.f["version"] = re.sub(r"(?<=[0-9])[-_](?=[0-9])", ".", text)

    def _read_date_codes(self) -> None:
        for m in self.scan.find(_CODE4):
            code = m.group(1)
            release, note = self._date_code(code)
            if release is None and note is None:
                continue
            self.scan.claim(m, "date")
            if release and not self.f.get("release"):
                self.f["release"] = release
            if note:
                self.notes.append(note)
            return

    def _date_code(self, code: str) -> tuple[str | None, str | None]:
        a, b = int(code[:2]), int(code[2:])
        fam = self.family
        conv = fam.date_code if fam else None
        if conv == "YYMM" and 1 <= b <= 12:
            return f"20{code[:2]}-{code[2:]}", None
        if conv == "MMYY" and 1 <= a <= 12:
            return f"20{code[2:]}-{code[:2]}", None
        if conv == "MMDD" and 1 <= a <= 12 and 1 <= b <= 31 and fam is not None:
            version = (self.f.get("version") or "").lower()
            year = fam.years.get(code) or fam.years.get(version)
            if year:
                return f"{year}-{code[:2]}", f"-{code}: month-day code; year {year} from the {fam.name} family table"
            return None, f"-{code}: month {code[:2]}, day {code[2:]}; the year is not in the name"
        if conv is None and 23 <= a <= 30 and 1 <= b <= 12:
            return f"20{code[:2]}-{code[2:]}", f"-{code}: read as year-month (the family has no known date convention)"
        return None, None

    def _read_version(self) -> None:
        if self.family is None or self.f.get("version"):
            return
        for rx in (_VTOKEN, _DOTTED):
            for m in self.scan.find(rx):
                if rx is _DOTTED and m.start() < self.family_end:
                    continue  # "OpenHermes-2.5-Mistral": 2.5 belongs to the fine-tune
                self._set_version(m.group(1))
                self.scan.claim(m, "version")
                return

    def _read_size_words(self) -> None:
        fam = self.family
        if fam is None or not fam.size_words:
            return
        rx = _word_rx("|".join(re.escape(w) for w in sorted(fam.size_words, key=len, reverse=True)))
        for m in self.scan.find(rx):
            word = m.group(0)
            self.scan.claim(m, "sizeword")
            if not self.sizes:
                self.sizes.append((m.start(), fam.size_words[word]))
                self.notes.append(
                    f"'{word}' stands for {format_params(fam.size_words[word])} parameters in the {fam.name} family"
                )
            return

    def _read_words(self) -> None:
        sc = self.scan
        pools = (self.family.words if self.family else ()) + self.t.words
        for w in pools:
            for m in sc.find(w.rx, free_of="family,teacher"):
                self.words.append(w)
                if w.note:
                    self.notes.append(w.note)
                sc.claim(m, "word")
        for rx in self.t.flags:
            for m in sc.find(rx):
                self.f["moe"] = True
                sc.claim(m, "flag")

    def _read_leftovers(self) -> None:
        sc = self.scan
        for m in sc.find(self.t.lines):
            self.notes.append(f"line: {sc.o[m.start(): m.end()]}")
            sc.claim(m, "line")
        for rx, note in self.t.ignore:
            for m in sc.find(rx):
                if note:
                    self.notes.append(note)
                sc.claim(m, "ignore")
        self.unread = sc.leftovers()
        if self.unread:
            self.notes.append("not read: " + ", ".join(self.unread))

    # -- the answer -------------------------------------------------------------------

    def _result(self) -> NameInfo:
        f, fam = self.f, self.family
        self._resolve_sizes()
        variant, stage = self._resolve_variant()
        f["variant"], f["training_stage"] = variant, stage
        f["quantization"] = " ".join(self.quant) or None
        modality = next((w.modality for w in sorted(self.words, key=lambda w: -w.rank) if w.modality), None)
        f["modality"] = f.get("modality") or modality or (fam.modality if fam else None)
        size_known = bool(f.get("total_parameters") or f.get("active_parameters"))
        # a lone "31M" is not a model name; a size with anything else we read is one
        other = bool(self.words or f.get("version") or f.get("release") or f.get("context_length"))
        recognised = fam is not None or bool(self.quant) or (size_known and (f["moe"] or other))
        if not recognised:
            return NameInfo(input=self.raw, file_format=f.get("file_format"),
                            notes=tuple(self.notes + [_NOT_RECOGNISED]))
        if fam is None:
            self.notes.append("family not recognised")
        score = 0.05 + 0.35 * (fam is not None) + 0.25 * size_known
        score += 0.15 * (stage != "unknown" or variant is not None)
        score += 0.1 * bool(f.get("version") or f.get("release"))
        score += 0.1 * bool(self.quant or f.get("file_format") or f.get("context_length") or self.inp.org)
        score -= min(0.3, 0.05 * len(self.unread))
        return NameInfo(
            input=self.raw,
            org=f.get("org"),
            family=fam.name if fam else None,
            version=f.get("version"),
            total_parameters=f.get("total_parameters"),
            active_parameters=f.get("active_parameters"),
            moe=f["moe"],
            experts=f.get("experts"),
            variant=variant,
            training_stage=stage,
            quantization=f["quantization"],
            file_format=f.get("file_format"),
            release=f.get("release"),
            context_length=f.get("context_length"),
            modality=f["modality"],
            confidence=round(max(0.05, min(1.0, score)), 2),
            notes=tuple(dict.fromkeys(self.notes)),
        )

    def _known_model(self) -> dict[str, Any]:
        for model in self.t.models:
            if model.rx.search(self.scan.s) and not (model.unless and model.unless.search(self.scan.s)):
                return model.facts
        return {}

    def _resolve_sizes(self) -> None:
        f, fam = self.f, self.family
        sizes = sorted(self.sizes)
        total = None
        if len(sizes) > 1:
            total = max(n for _, n in sizes)
            self.notes.append("several sizes in the name: " + ", ".join(format_params(n) for _, n in sizes)
                              + f"; taking {format_params(total)} as the total")
        elif sizes:
            total = sizes[0][1]
        active = self.active
        if self.experts and total and not self.expert_size and not active:
            # Llama 4 "17B-16E": the plain size is the active count
            active, total = total, None
            self.notes.append(f"{format_params(active)}-{self.experts}E: {format_params(active)} active per token, {self.experts} experts")
        if self.expert_size:
            total = None
        known = self._known_model()
        if known.get("total"):
            real = _count(known["total"])
            named = total or (self.experts * self.expert_size if self.expert_size and self.experts else None)
            if named and named != real:
                self.notes.append(f"name says {format_params(named)}; the model card gives {format_params(real)} in total")
            total = real
        elif self.expert_size and self.experts:
            total = self.experts * self.expert_size
            self.notes.append(
                f"approximate total: {self.experts} × {format_params(self.expert_size)}; experts share attention "
                "and embeddings, so the real total is lower"
            )
        if known.get("active"):
            real = _count(known["active"])
            if active and active != real:
                self.notes.append(f"name says {format_params(active)} active; the model card gives {format_params(real)}")
            active = real
        if known.get("experts"):
            self.experts = int(known["experts"])
        if self.expert_size or self.experts:
            f["moe"] = True
        if total is None and active is None and fam is not None and fam.bare_size:
            total = fam.bare_size
            self.notes.append(f"size not in the name; {format_params(total)} from the {fam.name} family table")
        if known.get("modality"):
            f["modality"] = known["modality"]
        if known.get("note"):
            self.notes.append(known["note"])
        if known.get("variant"):
            self.words.append(_Word(rx=re.compile("^$"), variant=known["variant"], rank=100))
        if known.get("stage"):
            self.words.append(_Word(rx=re.compile("^$"), stage=known["stage"], strong=True, rank=0))
        f["total_parameters"], f["active_parameters"] = total, active
        f["moe"] = bool(f.get("moe") or active or self.experts)
        f["experts"] = self.experts
        if active and total is None:
            self.notes.append("total parameters not in the name")

    def _resolve_variant(self) -> tuple[str | None, str]:
        fam = self.family
        words = list(self.words)
        if fam is not None and (fam.variant or fam.stage):
            words.append(_Word(rx=re.compile("^$"), variant=fam.variant, stage=fam.stage,
                               rank=65, strong=fam.stage is not None))
        with_variant = [w for w in words if w.variant]
        variant = max(with_variant, key=lambda w: w.rank).variant if with_variant else None
        strong = [w.stage for w in words if w.stage and w.strong]
        weak = [w.stage for w in words if w.stage and not w.strong]
        stage = max(strong or weak, key=_STAGE_RANK.__getitem__) if strong or weak else None
        if fam is None or (stage and variant):
            return variant, stage or "unknown"
        # "DeepSeek-V3" names the line, "DeepSeek-Prover-V2" does not: only a version that
        # comes with the family name selects the line's bare-name convention
        version = (self.f.get("version") or "").lower() if self.family_version else ""
        bare = fam.bare_by_version.get(version, fam.bare)
        if bare is None:
            if not stage:
                self.notes.append("training stage not stated in the name")
            return variant, stage or "unknown"
        if self.unread:
            self.notes.append(
                f"no stage word and unread words ({', '.join(self.unread)}): possibly a fine-tune, "
                f"so the {fam.name} bare-name convention is not applied"
            )
            return variant, stage or "unknown"
        self.notes.append(fam.bare_note or f"no variant word: a bare {fam.name} name is a {bare[0]} model by the family's convention")
        return variant or bare[0], stage or bare[1]
