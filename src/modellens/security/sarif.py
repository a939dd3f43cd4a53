"""SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/) for code-scanning UIs.

One run, tool ``modellens``; one rule per rule id met; one result per finding, its level from
the severity (dangerous/error -> error, suspicious -> warning, info -> note), its location the
file (an artifact URI) with the member and byte offset in the message and properties.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .findings import ScanReport, Severity

__all__ = ["to_sarif", "SARIF_SCHEMA"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.DANGEROUS: "error", Severity.ERROR: "error", Severity.SUSPICIOUS: "warning",
          Severity.INFO: "note"}


def _uri(path: str) -> str:
    p = Path(path)
    return p.as_posix() if not p.is_absolute() else p.as_uri()


def to_sarif(report: ScanReport) -> dict[str, Any]:
    from .. import __version__

    rules: dict[str, dict[str, Any]] = {}
    results = []
    for f in report.files:
        for x in f.findings:
            if x.rule not in rules:
                rules[x.rule] = {"id": x.rule, "name": x.rule.replace(".", "-"),
                                 "shortDescription": {"text": x.rule},
                                 "defaultConfiguration": {"level": _LEVEL[x.severity]}}
            where = ""
            if x.location.member:
                where += f" [member {x.location.member}]"
            if x.location.offset is not None:
                where += f" [offset {x.location.offset}]"
            loc: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": _uri(f.path)}}}
            if x.location.offset is not None and x.location.member is None:
                loc["physicalLocation"]["region"] = {"byteOffset": x.location.offset}
            results.append({
                "ruleId": x.rule,
                "ruleIndex": list(rules).index(x.rule),
                "level": _LEVEL[x.severity],
                "message": {"text": x.message + where},
                "locations": [loc],
                "properties": {"severity": x.severity.label, "member": x.location.member,
                               "offset": x.location.offset, "fileVerdict": f.verdict},
            })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "modellens", "version": __version__,
                                "informationUri": "https://github.com/modellens/modellens",
                                "rules": list(rules.values())}},
            "results": results,
            "properties": {"verdict": report.verdict,
                           "customAllowlist": list(report.custom_allowlist)},
        }],
    }
