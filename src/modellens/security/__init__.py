"""Is this model file safe to load?  Static analysis, never execution.

    >>> from modellens.security import scan_path
    >>> report = scan_path("downloads/model.bin")        # a file or a folder
    >>> report.verdict                                     # safe | suspicious | error | dangerous
    >>> report.to_dict()                                   # the modellens.scan/1 JSON
    >>> report.to_sarif()                                  # SARIF 2.1.0

Pickles are judged by walking their opcodes as CPython's unpickler reads them
(``pickle_scan``), against a policy kept as data (``policy``, ``data/scan_policy.json``), in
every container (``containers``, ``zipscan``); the other formats' traps are in
``formats_scan``, ``keras`` and ``templates``.  See docs/scan.md.
"""

from __future__ import annotations

from .findings import SCHEMA_SCAN, FileReport, Finding, Location, ScanReport, Severity
from .policy import Policy, default_policy, load_policy
from .scanner import scan_bytes, scan_file, scan_path, scan_paths

__all__ = ["scan_path", "scan_paths", "scan_file", "scan_bytes", "ScanReport", "FileReport",
           "Finding", "Location", "Severity", "Policy", "load_policy", "default_policy",
           "SCHEMA_SCAN", "to_sarif"]


def to_sarif(report: ScanReport) -> dict:
    from .sarif import to_sarif as _to

    return _to(report)


ScanReport.to_sarif = to_sarif  # type: ignore[attr-defined]
