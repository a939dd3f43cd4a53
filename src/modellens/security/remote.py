"""Scanning hub repos (``hf://``, ``ms://``, ``org/repo``) without downloading the weights.

What a scan needs from each file is small, so only that is fetched through range reads:

* zip checkpoints (``pytorch_model.bin``, TorchScript): the central directory, then every member
  that is a pickle (``*.pkl``) — never the storages;
* safetensors and GGUF: the header, checked by the same readers a local scan uses (GGUF chat
  templates judged by the Jinja sandbox check);
* every other file up to :data:`WHOLE_FILE_LIMIT`: the whole file, scanned as a local one is.

A larger file that none of these readings covers is reported as ``error`` (not scanned), never
as safe.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ModelLensError
from ..core.io import ByteSource
from .context import ScanContext, join_member
from .findings import FileReport, Severity

__all__ = ["scan_remote", "WHOLE_FILE_LIMIT"]

WHOLE_FILE_LIMIT = 64 << 20


def scan_remote(source: str, policy: Any, *, offline: bool | None = None,
                use_cache: bool = True) -> tuple[list[FileReport], list[str]]:
    """One report per model-looking file of the remote source (a repo, a folder in it, or one
    file), chosen as a local folder scan chooses them; and the files skipped."""
    from ..hub import open_source
    from .scanner import HEAD, wanted_by_head, wanted_by_name

    target, repo = open_source(source, offline=offline, use_cache=use_cache)
    reports: list[FileReport] = []
    skipped: list[str] = []
    with repo:
        if hasattr(target, "list"):
            for rel in target.list():
                name = f"{source.rstrip('/')}/{rel}"
                src = target.open(rel)
                try:
                    if wanted_by_name(rel) or wanted_by_head(src.read(0, min(HEAD, src.size)), rel):
                        reports.append(_scan_source(src, name, policy))
                    else:
                        skipped.append(name)
                finally:
                    src.close()
        else:
            reports.append(_scan_source(target, source, policy))
    return reports, skipped


def _scan_source(src: ByteSource, name: str, policy: Any) -> FileReport:
    from .scanner import _report, _scan_blob

    ctx = ScanContext(policy, name, scan_blob=_scan_blob)
    try:
        if src.size == 0:
            ctx.add(Severity.ERROR, "scan.empty", "the file is empty")
        elif src.size <= WHOLE_FILE_LIMIT:
            _scan_blob(ctx, src.read(0, src.size), None, "file")
        else:
            _scan_large(ctx, src)
    except ModelLensError as e:  # a reader refused the input: a finding, not a crash
        ctx.add(Severity.ERROR, "scan.reader-error", str(e))
    return _report(ctx, name, src.size)


def _scan_large(ctx: ScanContext, src: ByteSource) -> None:
    from ..formats import Probe, gguf, safetensors
    from .templates import check_template

    probe = Probe(src)
    if probe.zip is not None:
        from .pickle_scan import scan_pickle_stream
        from .zipscan import _torch_root

        names = probe.zip.namelist()
        root = _torch_root(names)
        kind = None
        if root is not None:  # judged as torch's reader sees them: persistent ids are storages
            kind = "torchscript" if (f"{root}/constants.pkl" in names or
                                     any(n.startswith(f"{root}/code/") for n in names)) else "pytorch-zip"
        ctx.format(kind or "zip")
        pickles = [i for i in probe.zip.infolist() if i.filename.endswith(".pkl")]
        if not pickles:
            ctx.add(Severity.ERROR, "scan.remote-too-large",
                    f"a {src.size:,}-byte zip without pickle members: not scanned remotely", None)
        for info in pickles:
            scan_pickle_stream(ctx, probe.zip.read(info), info.filename, container=kind)
        return
    if safetensors.detect(probe):
        ctx.format("safetensors")
        try:
            safetensors.read(src)
        except ModelLensError as e:
            ctx.add(Severity.SUSPICIOUS, "safetensors.header-abuse",
                    f"header fails the reference checks: {getattr(e, 'reason', str(e))}", None,
                    getattr(e, "offset", None))
        return
    if gguf.detect(probe):
        ctx.format("gguf")
        try:
            hdr = gguf.read_header(src)
        except ModelLensError as e:
            ctx.add(Severity.SUSPICIOUS, "gguf.header-abuse",
                    f"header fails the reference checks: {getattr(e, 'reason', str(e))}", None,
                    getattr(e, "offset", None))
            return
        for key, value in hdr.kv.items():
            if key.startswith("tokenizer.chat_template") and isinstance(value, str):
                check_template(ctx, value, join_member(None, key))
        return
    ctx.add(Severity.ERROR, "scan.remote-too-large",
            f"{src.size:,} bytes, and no header-only reading applies: download it and scan it locally")
