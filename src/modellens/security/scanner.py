"""``scan_path``: files, folders (recursively) and several paths at once, into one report.

Each file is memory-mapped and every reading of its bytes is scanned (``containers``); folders
are walked and every file that looks like a model is scanned whatever its extension: its magic
bytes are recognised, or its name has a model extension (then a file that no reading
understands is an ``error``, never safe), or it is a file whose name carries code or templates
(``tokenizer_config.json``, ``saved_model.pb``, ``*.jinja``).
"""

from __future__ import annotations

import mmap
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from ..core.errors import ModelLensError, NotFoundError
from .containers import MODEL_EXTENSIONS, claimed, scan_data
from .context import ScanContext
from .findings import FileReport, ScanReport, Severity
from .policy import Policy, load_policy

__all__ = ["scan_path", "scan_paths", "scan_file", "scan_bytes"]

Progress = Callable[[str], None]
_TEXT_FILES = {"tokenizer_config.json", "chat_template.json", "config.json"}
_SAVEDMODEL = {"saved_model.pb": "saved_model", "keras_metadata.pb": "keras_metadata"}
HEAD = 4096
_TEXT_EXTENSIONS = (".txt", ".md", ".rst", ".json", ".jsonl", ".py", ".yaml", ".yml", ".cfg",
                    ".ini", ".toml", ".csv", ".tsv", ".html", ".xml", ".sh", ".log", ".gitattributes")


def _named_reading(ctx: ScanContext, data: Any, name: str, member: str | None) -> bool:
    """Readings chosen by file name where content has no magic (JSON, protobuf, Jinja)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base in _SAVEDMODEL:
        from .keras import scan_savedmodel

        ctx.format("tf-savedmodel")
        scan_savedmodel(ctx, data, member, _SAVEDMODEL[base])
        return True
    if base in _TEXT_FILES or base.endswith(".jinja"):
        if len(data) > (64 << 20):
            return False
        text = bytes(data).decode("utf-8", "replace")
        if base.endswith(".jinja"):
            from .templates import check_template

            check_template(ctx, text, member)
            return True
        if base == "config.json" and member is not None and ('"class_name"' in text):
            from .keras import scan_config_text

            scan_config_text(ctx, text, member)
            return True
        from .formats_scan import scan_json_text

        scan_json_text(ctx, text, member)
        return True
    return False


def _scan_blob(ctx: ScanContext, data: Any, member: str | None, why: str) -> None:
    name = member or ctx.path
    if _named_reading(ctx, data, name, member):
        return
    if scan_data(ctx, data, member, why):
        return
    low = name.lower()
    if low.endswith(MODEL_EXTENSIONS) or why == "nested":
        ctx.add(Severity.ERROR, "scan.unknown-format",
                "no reading recognises this content (a model-looking name or a nested load): "
                "it could not be analysed", member, 0)


def scan_bytes(data: bytes, name: str = "<bytes>", policy: Policy | None = None) -> FileReport:
    """Scan an in-memory file (``name`` is used for locations and name-based readings)."""
    ctx = ScanContext(policy or load_policy(), name, scan_blob=_scan_blob)
    _scan_blob(ctx, data, None, "file")
    return _report(ctx, name, len(data))


def _report(ctx: ScanContext, path: str, size: int) -> FileReport:
    findings = sorted(ctx.findings, key=lambda f: (-int(f.severity), f.location.member or "",
                                                    f.location.offset or 0))
    fmt = "+".join(ctx.formats) if ctx.formats else None
    return FileReport(path, fmt, tuple(findings), size)


def scan_file(path: str | os.PathLike[str], policy: Policy | None = None) -> FileReport:
    return _scan_file(path, policy)[0]


def _scan_file(path: str | os.PathLike[str], policy: Policy | None = None) -> tuple[FileReport, set[str]]:
    p = str(path)
    pol = policy or load_policy()
    ctx = ScanContext(pol, p, scan_blob=_scan_blob)
    try:
        fh = open(p, "rb")
    except OSError as e:
        ctx.add(Severity.ERROR, "scan.unreadable", f"cannot open the file ({e.strerror})")
        return _report(ctx, p, 0), ctx.refs
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            ctx.add(Severity.ERROR, "scan.empty", "the file is empty")
            return _report(ctx, p, 0), ctx.refs
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        ctx.file = (mm, fh.fileno())
        try:
            try:
                _scan_blob(ctx, mm, None, "file")
            except ModelLensError as e:  # a reader refused the input: a finding, not a crash
                ctx.add(Severity.ERROR, "scan.reader-error", str(e))
            except (RecursionError, MemoryError) as e:
                ctx.add(Severity.ERROR, "scan.limit", f"analysis gave up ({type(e).__name__})")
        finally:
            ctx.file = None
            try:
                mm.close()
            except BufferError:  # a view is still alive somewhere; the GC closes it
                pass
    return _report(ctx, p, size), ctx.refs


def wanted_by_name(name: str) -> bool:
    """A file scanned for its name alone: model extensions, configs, templates, SavedModel."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return (name in _TEXT_FILES or name in _SAVEDMODEL or name.endswith(".jinja")
            or name.endswith(MODEL_EXTENSIONS))


def wanted_by_head(head: bytes, name: str) -> bool:
    """Any other file is scanned when its first bytes look like a model (whatever its name)."""
    return claimed(head, text_name=name.lower().endswith(_TEXT_EXTENSIONS))


def _wanted(path: Path) -> bool:
    if wanted_by_name(path.name):
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD)
    except OSError:
        return True  # reported as unreadable
    return wanted_by_head(head, path.name)


def _walk(root: Path) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in (".git", ".hg", ".svn", "__pycache__"))
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if p.is_symlink() and not p.exists():
                continue
            if not p.is_file():
                continue
            (files if _wanted(p) else skipped).append(p)
    return files, [str(s) for s in skipped]


def scan_paths(paths: Iterable[str | os.PathLike[str]], *, allow: Iterable[str] = (),
               allow_files: Iterable[str | os.PathLike[str]] = (), policy: Policy | None = None,
               progress: Progress | None = None) -> ScanReport:
    """Scan files and folders; raises NotFoundError for a path that does not exist."""
    t0 = time.perf_counter()
    pol = policy or load_policy(allow, allow_files)
    given = [str(p) for p in paths]
    remote = [p for p in given if not os.path.lexists(p) and _is_remote(p)]
    plist = [Path(p) for p in given if p not in remote]
    reports: list[FileReport] = []
    skipped: list[str] = []
    refs: set[str] = set()
    for p in plist:
        if not p.exists() and not p.is_symlink():
            raise NotFoundError(f"{p}: no such file or folder")
    for spec in remote:  # hub repos: headers and pickle members over range reads
        from .remote import scan_remote

        rep, sk = scan_remote(spec, pol)
        reports += rep
        skipped += sk
    for p in plist:
        if p.is_dir():
            files, sk = _walk(p)
            skipped += sk
        else:
            files = [p]
        for f in files:
            if progress is not None:
                progress(str(f))
            rep, r = _scan_file(f, pol)
            reports.append(rep)
            refs |= r
    if refs:  # raw external data of an ONNX model scanned alongside: not a model of its own
        reports = [_as_external(r) if os.path.realpath(r.path) in refs else r for r in reports]
    source = ", ".join(given)
    return ScanReport(source, tuple(reports), pol.custom, pol.source, tuple(skipped),
                      time.perf_counter() - t0)


def _is_remote(path: str) -> bool:
    from ..hub import is_remote_source  # only for a path that is not on this machine

    return is_remote_source(path)


def _as_external(r: FileReport) -> FileReport:
    from .findings import Finding, Location

    kept = tuple(f for f in r.findings if f.rule != "scan.unknown-format")
    note = Finding(Severity.INFO, "onnx.external-data", "raw tensor data of an ONNX model in the "
                   "same folder", Location(r.path))
    return FileReport(r.path, r.format or "onnx-external-data", (*kept, note), r.size_bytes)


def scan_path(path: str | os.PathLike[str], *, allow: Iterable[str] = (),
              allow_files: Iterable[str | os.PathLike[str]] = (), policy: Policy | None = None,
              progress: Progress | None = None) -> ScanReport:
    """Scan one file or folder (recursively). The file's code is never executed."""
    return scan_paths([path], allow=allow, allow_files=allow_files, policy=policy,
                      progress=progress)
