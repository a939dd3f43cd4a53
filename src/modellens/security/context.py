"""The state one file's scan carries: the policy, where we are, and the findings so far."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

from .findings import Finding, Location, Severity
from .policy import Policy

__all__ = ["ScanContext", "MAX_DEPTH", "join_member"]

MAX_DEPTH = 6  # containers inside containers (zip in tar.gz in 7z …) before we give up


def join_member(parent: str | None, child: str) -> str:
    return child if not parent else f"{parent}!{child}"


@dataclass
class ScanContext:
    policy: Policy
    path: str
    findings: list[Finding] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    depth: int = 0
    # set by the container layer: scan a nested byte blob (nested loaders, archive members)
    scan_blob: Callable[["ScanContext", Any, str | None, str], None] | None = None
    refs: set[str] = field(default_factory=set)  # files this one loads as raw data (ONNX)
    # (mapping, fd) of the file itself: small reads at scattered offsets use pread, since a page
    # fault per read on a many-GB mapping costs more and swells resident memory (see peeker)
    file: tuple[Any, int] | None = None
    _seen: set[tuple] = field(default_factory=set)

    def add(self, severity: Severity, rule: str, message: str, member: str | None = None,
            offset: int | None = None, opcode: str | None = None) -> None:
        key = (rule, message, member, offset)
        if key in self._seen:
            return
        self._seen.add(key)
        self.findings.append(Finding(severity, rule, message,
                                     Location(self.path, member, offset, opcode)))

    def peeker(self, data: Any) -> Callable[[int, int], bytes]:
        """``peek(offset, n)``: up to n bytes of ``data`` at offset, as bytes."""
        if self.file is not None and data is self.file[0]:
            fd = self.file[1]
            return lambda off, n: os.pread(fd, n, off)
        return lambda off, n: bytes(data[off : off + n])

    def format(self, fmt: str) -> None:
        if fmt not in self.formats:
            self.formats.append(fmt)
