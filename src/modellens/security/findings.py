"""What a scan reports: findings with an ordered severity, per-file reports, the whole report.

Severity is ordered (fickling's ``Severity`` idea): ``info < suspicious < error < dangerous``.
A file's verdict is its worst finding — ``safe`` when it has none above ``info``:

* ``dangerous`` — something that runs code or touches the system when the file is loaded;
* ``error`` — part of the file could not be analysed (a parse failure, a container not
  understood): never reported safe, since an attacker hides exactly there;
* ``suspicious`` — something not on the allowlist, or a structure no honest writer produces.

``ScanReport.to_dict()`` is the ``modellens.scan/1`` JSON contract (docs/scan.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

__all__ = ["Severity", "Location", "Finding", "FileReport", "ScanReport", "SCHEMA_SCAN",
           "VERDICTS"]

SCHEMA_SCAN = "modellens.scan/1"
VERDICTS = ("safe", "suspicious", "error", "dangerous")


class Severity(enum.IntEnum):
    INFO = 1
    SUSPICIOUS = 2
    ERROR = 3
    DANGEROUS = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def verdict(self) -> str:
        return "safe" if self is Severity.INFO else self.label

    @classmethod
    def parse(cls, text: str) -> "Severity":
        return cls[text.upper()]


def verdict_rank(verdict: str) -> int:
    return VERDICTS.index(verdict)


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is: the file, the member inside it (``a.zip!x/data.pkl``, nested with
    ``!``), and the byte offset of the opcode or field inside that member."""

    path: str
    member: str | None = None
    offset: int | None = None
    opcode: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "member": self.member, "offset": self.offset}
        if self.opcode is not None:
            d["opcode"] = self.opcode
        return d

    def __str__(self) -> str:
        s = self.path
        if self.member:
            s += f"!{self.member}"
        if self.offset is not None:
            s += f" @{self.offset}"
        if self.opcode:
            s += f" ({self.opcode})"
        return s


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    rule: str
    message: str
    location: Location

    def to_dict(self) -> dict[str, Any]:
        return {"severity": self.severity.label, "rule": self.rule, "message": self.message,
                "location": self.location.to_dict()}


def _worst(findings: tuple[Finding, ...]) -> str:
    worst = max((f.severity for f in findings), default=Severity.INFO)
    return worst.verdict


@dataclass(frozen=True)
class FileReport:
    path: str
    format: str | None
    findings: tuple[Finding, ...] = ()
    size_bytes: int = 0

    @cached_property
    def verdict(self) -> str:
        return _worst(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "verdict": self.verdict,
                "size_bytes": self.size_bytes,
                "findings": [f.to_dict() for f in self.findings]}


@dataclass(frozen=True)
class ScanReport:
    source: str
    files: tuple[FileReport, ...]
    custom_allowlist: tuple[str, ...] = ()
    policy: str = ""
    skipped: tuple[str, ...] = field(default=())
    seconds: float = 0.0

    @cached_property
    def verdict(self) -> str:
        worst = "safe"
        for f in self.files:
            if verdict_rank(f.verdict) > verdict_rank(worst):
                worst = f.verdict
        return worst

    @cached_property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(x for f in self.files for x in f.findings)

    @cached_property
    def by_verdict(self) -> dict[str, int]:
        counts = {v: 0 for v in VERDICTS}
        for f in self.files:
            counts[f.verdict] += 1
        return counts

    def at_least(self, threshold: str) -> bool:
        """True when the report's verdict is at or above ``threshold`` (error counts as above
        suspicious: what could not be analysed is not safe)."""
        return verdict_rank(self.verdict) >= verdict_rank(threshold)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_SCAN,
            "source": self.source,
            "verdict": self.verdict,
            "files": [f.to_dict() for f in self.files],
            "summary": {"files": len(self.files), "by_verdict": self.by_verdict,
                        "findings": len(self.findings), "skipped": len(self.skipped),
                        "seconds": round(self.seconds, 3)},
            "policy": {"source": self.policy, "custom_allowlist": list(self.custom_allowlist),
                       "custom": bool(self.custom_allowlist)},
        }
