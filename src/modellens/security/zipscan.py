"""Zip containers (torch.save, TorchScript, .npz, .keras, shared archives): anomalies and members.

A zip is read the way the loaders read it, not the way ``zipfile`` would like it to be: torch's
reader (miniz) ignores the "encrypted" flag and CRCs, takes member data from the local header,
and finds ``<root>/data.pkl`` by name.  So members are read raw from their local headers
(stored or deflated; other methods through ``zipfile``), every disagreement between the central
directory and a local header is reported, and every member is scanned by content whatever its
name — except torch storages, which are only probed (their first bytes), so an 8 GB checkpoint
costs a few page reads.

Anomalies (suspicious): path traversal names, duplicate names, encrypted members, compression
ratio over 100, sizes beyond the file, local/central header mismatches, bytes before the
archive (a polyglot), local entries the central directory does not list.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from typing import Any, Callable

from ..core.io import LIMITS
from .context import ScanContext, join_member
from .findings import Severity
from .pickle_scan import looks_like_pickle, scan_pickle_stream

__all__ = ["scan_zip", "has_zip_directory", "ViewFile"]

S, D, E, I = Severity.SUSPICIOUS, Severity.DANGEROUS, Severity.ERROR, Severity.INFO
MAX_RATIO = 100
PROBE_BYTES = 64 << 10  # how much of a storage member is walked when it looks like a pickle
PROBE_WINDOW = 4096  # ... walked first from a small read
HIDDEN_SEARCH_MAX = 256 << 20  # below this size, local headers missing from the directory are sought


class ViewFile:
    """A read-only, seekable file over bytes / mmap / memoryview, for zipfile and tarfile."""

    def __init__(self, data: Any):
        self._d = data
        self._n = len(data)
        self._p = 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._p, 2: self._n}[whence]
        self._p = max(0, base + pos)
        return self._p

    def tell(self) -> int:
        return self._p

    def read(self, n: int = -1) -> bytes:
        end = self._n if n is None or n < 0 else min(self._n, self._p + n)
        if end <= self._p:
            return b""
        out = bytes(self._d[self._p : end])
        self._p = end
        return out

    def close(self) -> None:
        pass


def has_zip_directory(data: Any) -> bool:
    """An end-of-central-directory record at the end (then within the 64 KiB comment window,
    read only when the last 22 bytes are not one, as zipfile does)."""
    n = len(data)
    if n >= 22 and bytes(data[n - 22 : n - 18]) == b"PK\x05\x06":
        return True
    tail = bytes(data[max(0, n - 65557) : n])
    return tail.rfind(b"PK\x05\x06") >= 0


def _bad_name(name: str) -> str | None:
    n = name.replace("\\", "/")
    if n.startswith("/") or (len(n) > 1 and n[1] == ":"):
        return "absolute path"
    if ".." in n.split("/"):
        return "'..' component"
    if "\\" in name:
        return "backslash separators"
    if "\x00" in name:
        return "NUL in name"
    return None


LOCAL_READ = 320  # one read covers a local header, its name and extra field, and the data's head


def _local(peek: Callable[[int, int], bytes], size: int, info: zipfile.ZipInfo
           ) -> tuple[int, str, int, int, int, int, bytes] | None:
    """(data offset, name, method, flags, compressed size, size, first data bytes) from the
    local header: one small read per member."""
    off = info.header_offset
    if off < 0 or off + 30 > size:
        return None
    buf = peek(off, LOCAL_READ)
    if buf[:4] != b"PK\x03\x04":
        return None
    flags, method = struct.unpack_from("<HH", buf, 6)
    csize, usize = struct.unpack_from("<II", buf, 18)
    n, m = struct.unpack_from("<HH", buf, 26)
    start = off + 30 + n + m
    if 30 + n + m + 2 > len(buf) and off + 30 + n + m + 2 <= size:
        buf = peek(off, 30 + n + m + 2)
    name = bytes(buf[30 : 30 + n]).decode("utf-8" if flags & 0x800 else "cp437", "replace")
    return start, name, method, flags, csize, usize, bytes(buf[30 + n + m : 30 + n + m + 2])


def _read_member(ctx: ScanContext, zf: zipfile.ZipFile, data: Any, info: zipfile.ZipInfo,
                 start: int, where: str, limit: int = LIMITS.max_decompressed_bytes) -> Any:
    """The member's bytes as the torch reader would see them (None when unreadable)."""
    end = start + info.compress_size
    if end > len(data):
        ctx.add(S, "zip.size-mismatch", f"member claims {info.compress_size} bytes but the file "
                f"ends {end - len(data)} bytes earlier", where, start)
        end = len(data)
    if info.compress_type == zipfile.ZIP_STORED:
        return memoryview(data)[start:end] if not isinstance(data, bytes) else data[start:end]
    if info.compress_type == zipfile.ZIP_DEFLATED:
        d = zlib.decompressobj(-15)
        out = bytearray()
        view = memoryview(data)[start:end] if not isinstance(data, (bytes, bytearray)) else data[start:end]
        try:
            for i in range(0, len(view), 1 << 20):
                out += d.decompress(bytes(view[i : i + (1 << 20)]), limit + 1 - len(out))
                if len(out) > limit:
                    break
        except zlib.error as e:
            ctx.add(E, "zip.unreadable-member", f"deflate stream is corrupt ({e})", where, start)
            return None
        if len(out) > limit:
            ctx.add(E, "zip.bomb", f"member inflates beyond {limit} bytes; not scanned", where, start)
            return None
        return bytes(out)
    try:
        with zf.open(info) as fh:
            out = fh.read(limit + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError, ValueError) as e:
        ctx.add(E, "zip.unreadable-member", f"cannot read member (method {info.compress_type}: "
                f"{e})", where, start)
        return None
    if len(out) > limit:
        ctx.add(E, "zip.bomb", f"member inflates beyond {limit} bytes; not scanned", where, start)
        return None
    return out


def _torch_root(names: list[str]) -> str | None:
    for n in names:
        if n.endswith("/data.pkl") and n.count("/") == 1:
            return n[: -len("/data.pkl")]
    return None


def _storage_keys(results: list) -> set[str]:
    keys: set[str] = set()
    for r in results:
        for e in r.events:
            if e.kind == "persid":
                v = getattr(e.target, "value", None)
                if type(v) is tuple and len(v) >= 3 and type(v[2]) in (str, bytes):
                    keys.add(v[2] if type(v[2]) is str else v[2].decode("latin-1"))
    return keys


def scan_zip(ctx: ScanContext, data: Any, member: str | None) -> bool:
    """Scan a zip reading; False when ``data`` is not a readable zip."""
    try:
        zf = zipfile.ZipFile(ViewFile(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, struct.error) as e:
        if bytes(data[:4]) == b"PK\x03\x04":
            ctx.add(E, "zip.unreadable", f"starts like a zip but its directory is unreadable ({e}); "
                    "loaders that read local headers may still load it", member, 0)
            return True
        return False
    if len(infos) > LIMITS.max_zip_members:
        ctx.add(E, "zip.limit", f"{len(infos)} members, over the limit", member)
        return True
    names = [i.filename for i in infos]
    root = _torch_root(names)
    kind = "zip"
    if root is not None:
        kind = "torchscript" if (f"{root}/constants.pkl" in names or
                                 any(n.startswith(f"{root}/code/") for n in names)) else "pytorch-zip"
    elif names and all(n.endswith(".npy") for n in names):
        kind = "numpy-npz"
    elif "config.json" in names and ("metadata.json" in names or "model.weights.h5" in names):
        kind = "keras-v3"
    ctx.format(kind)

    seen_names: dict[str, int] = {}
    offsets = set()
    first = min((i.header_offset for i in infos), default=0)
    if first > 0 and member is None:
        ctx.add(S, "zip.prefix-data", f"{first} bytes before the first zip entry: the file is two "
                "formats at once (each reading is scanned)", member, 0)
    for info in infos:
        where = join_member(member, info.filename)
        why = _bad_name(info.filename)
        if why:
            ctx.add(S, "zip.path-traversal", f"member name {info.filename!r}: {why}", where,
                    info.header_offset)
        if info.filename in seen_names:
            ctx.add(S, "zip.duplicate-name", "member name appears twice (readers disagree on "
                    "which copy they load); both are scanned", where, info.header_offset)
        seen_names[info.filename] = info.header_offset
        if info.flag_bits & 1:
            ctx.add(S, "zip.encrypted", "member is flagged encrypted: Python's zipfile refuses it, "
                    "torch's reader ignores the flag; read as plain data", where, info.header_offset)
        if info.compress_size and info.file_size > (1 << 20) and \
                info.file_size / info.compress_size > MAX_RATIO:
            ctx.add(S, "zip.compression-ratio", f"compression ratio {info.file_size // info.compress_size}"
                    f" (over {MAX_RATIO}): a decompression bomb?", where, info.header_offset)
        if info.header_offset + info.compress_size > len(data) or info.file_size > (1 << 46):
            ctx.add(S, "zip.size-mismatch", f"declared sizes ({info.compress_size} compressed, "
                    f"{info.file_size} plain) go beyond the file ({len(data)} bytes)", where,
                    info.header_offset)
        offsets.add(info.header_offset)
    if len(data) <= HIDDEN_SEARCH_MAX:
        _hidden_entries(ctx, data, infos, offsets, member)

    peek = ctx.peeker(data)
    pickles = [i for i in infos if i.filename.endswith(".pkl")]
    storage_keys: set[str] = set()
    container = kind if kind in ("pytorch-zip", "torchscript") else None
    order = sorted(infos, key=lambda i: (not i.filename.endswith("data.pkl"), i.header_offset))
    done: set[int] = set()
    for info in order:
        if info.header_offset in done or info.is_dir():
            continue
        done.add(info.header_offset)
        where = join_member(member, info.filename)
        loc = _local(peek, len(data), info)
        if loc is None:
            ctx.add(S, "zip.header-mismatch", "no local header where the directory points",
                    where, info.header_offset)
            continue
        start, lname, method, flags, csize, size, head = loc
        if lname != info.filename:
            ctx.add(S, "zip.header-mismatch", f"local header names {lname!r}, the directory "
                    f"{info.filename!r} (readers disagree on the name)", where, info.header_offset)
        if method != info.compress_type:
            ctx.add(S, "zip.header-mismatch", f"local header method {method}, directory "
                    f"{info.compress_type}", where, info.header_offset)
        if not flags & 0x08 and (csize, size) != (info.compress_size, info.file_size) \
                and csize != 0xFFFFFFFF:
            ctx.add(S, "zip.header-mismatch", f"local header sizes {csize}/{size}, directory "
                    f"{info.compress_size}/{info.file_size}", where, info.header_offset)
        base = info.filename.rsplit("/", 1)[-1]
        is_storage = (container is not None and root is not None
                      and info.filename.startswith((f"{root}/data/", f"{root}/.data/"))
                      and base in storage_keys and info.compress_type == zipfile.ZIP_STORED)
        if is_storage or (container and info.file_size > (64 << 20) and not info.filename.endswith(".pkl")):
            _probe_storage(ctx, data, start, min(info.compress_size, len(data) - start), where,
                           container, head)
            continue
        content = _read_member(ctx, zf, data, info, start, where)
        if content is None:
            continue
        if info.filename.endswith(".pkl") or (container and base == "data.pkl"):
            res = scan_pickle_stream(ctx, content, where, container=container)
            if base == "data.pkl":
                storage_keys |= _storage_keys(res)
            continue
        if container == "torchscript" and "/code/" in info.filename:
            _scan_torchscript_code(ctx, content, where)
            continue
        if ctx.scan_blob is not None:
            ctx.depth += 1
            try:
                ctx.scan_blob(ctx, content, where, "member")
            finally:
                ctx.depth -= 1
    if kind == "torchscript" and not any(i.filename.endswith(".py") for i in infos):
        pass
    if not pickles and kind in ("pytorch-zip", "torchscript"):
        ctx.add(E, "zip.no-pickle", "torch archive without pickles", member)
    return True


def _hidden_entries(ctx: ScanContext, data: Any, infos: list, offsets: set[int],
                    member: str | None) -> None:
    spans = []
    peek = ctx.peeker(data)
    for i in infos:
        loc = _local(peek, len(data), i)
        if loc is not None:
            spans.append((loc[0], loc[0] + i.compress_size))
    spans.sort()
    find = data.find if hasattr(data, "find") else bytes(data).find
    pos = find(b"PK\x03\x04", 0)
    count = 0
    while pos >= 0 and count < 64:
        inside = any(a <= pos < b for a, b in spans)
        if pos not in offsets and not inside:
            count += 1
            ctx.add(S, "zip.hidden-entry", "a local zip entry the central directory does not list "
                    "(some readers load it)", member, pos)
            if pos + 30 <= len(data):
                hdr = bytes(data[pos : pos + 30])
                method = struct.unpack_from("<H", hdr, 8)[0]
                csize = struct.unpack_from("<I", hdr, 18)[0]
                n, m = struct.unpack_from("<HH", hdr, 26)
                s = pos + 30 + n + m
                body: Any = None
                if method == 0:
                    body = bytes(data[s : min(len(data), s + csize)])
                elif method == 8:
                    try:
                        body = zlib.decompressobj(-15).decompress(bytes(data[s : min(len(data), s + csize)]),
                                                                  LIMITS.max_decompressed_bytes)
                    except zlib.error:
                        body = None
                if body and ctx.scan_blob is not None:
                    ctx.scan_blob(ctx, body, join_member(member, f"<hidden entry @{pos}>"), "member")
        pos = find(b"PK\x03\x04", pos + 4)


def _probe_storage(ctx: ScanContext, data: Any, start: int, n: int, where: str,
                   container: str | None, head: bytes) -> None:
    """A storage is raw tensor bytes; only a storage that really is a pickle is reported."""
    if n < 2 or not looks_like_pickle(head):
        return
    from ..core.pickle_vm import walk

    # One byte in twenty of random tensor data looks like an opening opcode: walk a small
    # window first, and the whole probe only when the walk ran out of that window.
    peek = ctx.peeker(data)
    window = peek(start, min(n, PROBE_WINDOW))
    r = walk(window, name=ctx.path, strict=False, encoding="latin-1")
    if r.error is not None and r.error.truncated and n > len(window):
        r = walk(peek(start, min(n, PROBE_BYTES)), name=ctx.path, strict=False, encoding="latin-1")
    if any(e.kind == "global" for e in r.events) and (r.ok or len(r.events) > 1):
        ctx.add(S, "zip.pickle-in-storage", "a tensor storage member holds a pickle with imports",
                where, start)
        scan_pickle_stream(ctx, data, where, start=start, end=start + n, container=container,
                           trailing="ignore")


_TS_DANGER = ("load_library", "torch.ops.load_library", "torch.classes.load_library", "__import__",
              "builtins", "subprocess", "os.system", "eval(", "exec(")


def _scan_torchscript_code(ctx: ScanContext, content: Any, where: str) -> None:
    text = bytes(content[: 4 << 20]).decode("utf-8", "replace")
    ctx.add(I, "torchscript.code", "TorchScript code: compiled to TorchScript IR, it runs when the "
            "module is called and can call any registered operator", where, 0)
    for tok in _TS_DANGER:
        i = text.find(tok)
        if i >= 0:
            ctx.add(D, "torchscript.dangerous-code", f"TorchScript code uses {tok.rstrip('(')}",
                    where, i)
    import re

    for m in re.finditer(r"\bops\.([A-Za-z_][A-Za-z0-9_]*)\.", text):
        if m.group(1) not in ("aten", "prim", "quantized", "_caffe2", "profiler", "_quantized"):
            ctx.add(S, "torchscript.custom-op", f"calls operators of namespace {m.group(1)!r}, "
                    "which needs a native library loaded into the process", where, m.start())
            break
