"""Every reading of a byte blob, scanned: the dispatcher of ``modellens scan``.

A file is not "one format": a pickle with a zip appended is both (``pickle.load`` reads the
front, ``zipfile`` the back), a gzip may hold a tar that holds a torch checkpoint.  So
:func:`scan_data` tries every reading whose magic bytes match — zip (central directory at the
end, or a local header at the start), tar, 7z, gzip / bz2 / xz / lzma / zlib (inflated, bounded,
and scanned again), ``.npy``, GGUF, safetensors, HDF5 (Keras), TensorRT, and pickle (raw,
several in a row, torch legacy, joblib) — and scans each.  Nothing here imports or calls what a
file names.

Legacy torch (``_use_new_zipfile_serialization=False``) and the oldest torch tar format are
walked pickle by pickle with their raw storage sections skipped by their declared sizes, so
bytes hidden after the last storage are found too.
"""

from __future__ import annotations

import io
import re
import struct
from typing import Any

from ..core.io import LIMITS
from ..core.pickle_vm import Global, walk
from .context import MAX_DEPTH, ScanContext, join_member
from .findings import Severity
from .pickle_scan import ENCODING, judge, looks_like_pickle, scan_pickle_stream
from .zipscan import ViewFile, has_zip_directory, scan_zip

__all__ = ["scan_data", "MODEL_EXTENSIONS", "claimed"]

S, D, E, I = Severity.SUSPICIOUS, Severity.DANGEROUS, Severity.ERROR, Severity.INFO
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
MODEL_EXTENSIONS = (".pkl", ".pickle", ".pk", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".jbl",
                    ".npy", ".npz", ".h5", ".hdf5", ".keras", ".gguf", ".safetensors", ".onnx",
                    ".pb", ".tflite", ".engine", ".plan", ".trt", ".mar", ".pte", ".ptl", ".model", ".tar", ".zip", ".7z", ".gz", ".tgz", ".bz2", ".xz", ".lzma")
_HDF5 = b"\x89HDF\r\n\x1a\n"


def claimed(head: bytes, text_name: bool = False) -> bool:
    """Does some reading recognise these first bytes? (folder walks skip what none does)

    For files named like text (``.txt``, ``.md`` …) a pickle reading must be more than a first
    byte: the walk reaches STOP or calls something."""
    if _magic_readings(head):
        return True
    if not looks_like_pickle(head[:2]):
        return False
    if not text_name or head[:1] == b"\x80":
        return True
    r = walk(head, name="head", strict=False, encoding=ENCODING)
    return r.ok or any(e.kind == "call" for e in r.events)


def _compression(head: bytes) -> str | None:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return "bz2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:3] == b"]\x00\x00":
        return "lzma"
    if len(head) >= 2 and head[0] == 0x78 and head[1] in (0x01, 0x5E, 0x9C, 0xDA):
        return "zlib"
    return None


def _magic_readings(head: bytes) -> list[str]:
    out = []
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        out.append("zip")
    if len(head) > 262 and head[257:262] == b"ustar":
        out.append("tar")
    if head[:6] == b"7z\xbc\xaf\x27\x1c":
        out.append("7z")
    if _compression(head):
        out.append("compressed")
    if head[:6] == b"\x93NUMPY":
        out.append("npy")
    if head[:4] == b"GGUF":
        out.append("gguf")
    if head[:8] == _HDF5:
        out.append("hdf5")
    if len(head) >= 10:
        (n,) = struct.unpack_from("<Q", head)
        if 2 <= n and head[8:9] == b"{" and head[9:10] in (b'"', b"}", b" ", b"\n"):
            out.append("safetensors")
    if b"ftrt" in head[:32]:
        out.append("tensorrt")
    return out


def scan_data(ctx: ScanContext, data: Any, member: str | None, hint: str = "") -> bool:
    """Scan every reading of ``data``; False when no reading recognised it."""
    if ctx.depth > MAX_DEPTH:
        ctx.add(E, "scan.too-deep", f"containers nested more than {MAX_DEPTH} deep; not scanned",
                member)
        return True
    n = len(data)
    head = bytes(data[:4096])
    readings = _magic_readings(head)
    if n > 22 and "zip" not in readings and has_zip_directory(data):
        readings.append("zip")  # a zip appended to something else (polyglot)
    name = (member or ctx.path).lower()
    if any(re.search(p, name) for p in (r"\.h5$", r"\.hdf5$", r"\.keras$")) and "hdf5" not in readings:
        for off in (512, 1024, 2048):  # HDF5 user block
            if bytes(data[off : off + 8]) == _HDF5:
                readings.append("hdf5")
                break
    found = False
    for r in readings:
        if r == "zip":
            found |= scan_zip(ctx, data, member)
        elif r == "tar":
            found |= _scan_tar(ctx, data, member)
        elif r == "7z":
            found |= _scan_7z(ctx, data, member)
        elif r == "compressed":
            found |= _scan_compressed(ctx, data, member, head)
        elif r == "npy":
            found |= _scan_npy(ctx, data, member)
        else:
            from . import formats_scan

            found |= formats_scan.scan_reading(ctx, r, data, member)
    if looks_like_pickle(head[:2]):
        found |= _scan_pickle_reading(ctx, data, member, strong=not found, hint=name)
    if not found and name.endswith(".onnx"):
        from . import formats_scan

        found |= formats_scan.scan_reading(ctx, "onnx", data, member)
    return found


# -- pickles ----------------------------------------------------------------------------------

def _scan_pickle_reading(ctx: ScanContext, data: Any, member: str | None, strong: bool,
                         hint: str) -> bool:
    first = walk(data, name=ctx.path, strict=False, encoding=ENCODING, end=min(len(data), 1 << 16))
    binary = bytes(data[:1]) == b"\x80"
    truncated = first.error is not None and "truncated" in first.error.message
    plausible = first.ok or (truncated and binary) or any(e.kind == "global" for e in first.events)
    pickle_name = hint.endswith((".pkl", ".pickle", ".pk", ".joblib", ".jbl", ".pt", ".pth",
                                 ".bin", ".ckpt", ".dat"))
    if not plausible and not (strong and (binary or pickle_name)):
        return False  # text or binary that merely starts with an opcode byte
    if first.ok and first.value == LEGACY_MAGIC and type(first.value) is int:
        ctx.format("pytorch-legacy")
        _scan_legacy(ctx, data, member)
        return True
    ctx.format("pickle")
    results = scan_pickle_stream(ctx, data, member)
    if any(e.target is not None and isinstance(e.target, Global)
           and e.target.name == "NumpyArrayWrapper" for r in results for e in r.events
           if e.kind == "global"):
        ctx.format("joblib")
    return True


def _elsize(g: Any) -> int | None:
    if not isinstance(g, Global) or g.obfuscated:
        return None
    if g.name == "UntypedStorage":
        return 1
    from ..core import dtypes

    dt = dtypes.from_torch(str(g.name))
    return None if dt is None else max(1, (dt.bits or 8) // 8)


def _storages(results: list) -> dict[str, tuple[int, int]]:
    """key -> (element size, numel) from the storage persistent ids."""
    out: dict[str, tuple[int, int]] = {}
    for r in results:
        for e in r.events:
            v = getattr(e.target, "value", None) if e.kind == "persid" else None
            if type(v) is tuple and len(v) >= 5 and type(v[2]) is str and type(v[4]) is int:
                size = _elsize(v[1])
                if size is not None:
                    out.setdefault(v[2], (size, v[4]))
    return out


def _scan_legacy(ctx: ScanContext, data: Any, member: str | None) -> None:
    """magic, protocol, sys_info, object, storage keys — then u64 count + raw bytes per key."""
    pos = 0
    results = []
    for i in range(5):
        r = walk(data, name=ctx.path, start=pos, strict=False, encoding=ENCODING)
        judge(ctx, r, member, container="pytorch-legacy", index=i)
        results.append(r)
        if not r.ok:
            return
        pos = r.end
    keys = results[4].value
    if type(keys) is not list or not all(type(k) is str for k in keys):
        ctx.add(S, "torch.legacy-layout", "the storage key list is not a list of strings: the raw "
                "section cannot be delimited; the rest is scanned as pickles", member, results[4].start)
        scan_pickle_stream(ctx, data, member, start=pos, trailing="suspicious", container="pytorch-legacy")
        return
    storages = _storages(results[3:4])
    for key in keys:
        if key not in storages or pos + 8 > len(data):
            ctx.add(S, "torch.legacy-layout", f"storage {key!r} cannot be located; the rest is "
                    "scanned as pickles", member, pos)
            scan_pickle_stream(ctx, data, member, start=pos, container="pytorch-legacy")
            return
        (count,) = struct.unpack("<q", bytes(data[pos : pos + 8]))
        size, numel = storages[key]
        if count != numel or count < 0:
            ctx.add(S, "torch.legacy-layout", f"storage {key!r}: {count} elements stored, "
                    f"{numel} claimed", member, pos)
        pos += 8 + max(0, count) * size
    if pos < len(data):
        ctx.add(S, "pickle.trailing-data", f"{len(data) - pos} bytes after the last storage",
                member, pos)
        if looks_like_pickle(bytes(data[pos : pos + 2])):
            scan_pickle_stream(ctx, data, member, start=pos, trailing="ignore",
                               container="pytorch-legacy")
    elif pos > len(data):
        ctx.add(E, "torch.legacy-layout", f"storages need {pos - len(data)} bytes more than the "
                "file holds (truncated)", member, len(data))


# -- npy --------------------------------------------------------------------------------------

_NPY_DESCR = re.compile(r"""['"]descr['"]\s*:\s*(.+?),\s*['"]fortran_order['"]""", re.S)


def _scan_npy(ctx: ScanContext, data: Any, member: str | None) -> bool:
    """Header parsed as text (no ``ast``): object arrays hold a pickle after the header."""
    ctx.format("numpy-npy")
    head = bytes(data[:12])
    major = head[6] if len(head) > 6 else 0
    if major == 1 and len(head) >= 10:
        hlen, start = struct.unpack_from("<H", head, 8)[0], 10
    elif major in (2, 3) and len(head) >= 12:
        hlen, start = struct.unpack_from("<I", head, 8)[0], 12
    else:
        ctx.add(E, "numpy.bad-header", f"unknown .npy version {major}", member, 6)
        return True
    if start + hlen > len(data) or hlen > (1 << 20):
        ctx.add(E, "numpy.bad-header", f"header of {hlen} bytes runs past the data", member, 8)
        return True
    text = bytes(data[start : start + hlen]).decode("latin-1")
    m = _NPY_DESCR.search(text)
    if m is None or "shape" not in text:
        ctx.add(E, "numpy.bad-header", "header lacks descr / fortran_order / shape", member, start)
        return True
    if re.search(r"""['"][|<>=]?O\d*['"]""", m.group(1)):
        ctx.add(I, "numpy.object-array", "object array: its data is a pickle (np.load needs "
                "allow_pickle=True); the pickle was judged", member, start + hlen)
        scan_pickle_stream(ctx, data, member, start=start + hlen, container="numpy")
    return True


# -- compression and archives -----------------------------------------------------------------

def _scan_compressed(ctx: ScanContext, data: Any, member: str | None, head: bytes) -> bool:
    kind = _compression(head)
    assert kind is not None
    from ..formats.pickle import decompress
    from ..core.errors import CorruptFileError, LimitExceededError

    try:
        raw = decompress(data, kind, LIMITS.max_decompressed_bytes, ctx.path)
    except LimitExceededError as e:
        ctx.add(E, "archive.bomb", f"{kind} stream inflates beyond the limit ({e.reason}); not "
                "scanned", member, 0)
        return True
    except CorruptFileError as e:
        if kind == "zlib":
            return False  # 0x78 was a coincidence
        ctx.add(E, "archive.corrupt", f"{kind} stream cannot be inflated ({e.reason})", member, 0)
        return True
    where = join_member(member, f"<{kind}>")
    ctx.depth += 1
    try:
        if not scan_data(ctx, raw, where):
            if kind == "zlib":
                return False
            ctx.add(E, "archive.unknown-content", f"{kind} stream holds data no reading "
                    "recognises", where, 0)
    finally:
        ctx.depth -= 1
    return True


_TORCH_TAR = {"sys_info", "pickle", "storages", "tensors"}


def _scan_tar(ctx: ScanContext, data: Any, member: str | None) -> bool:
    import tarfile

    try:
        tf = tarfile.open(fileobj=ViewFile(data), mode="r:")
        infos = tf.getmembers()
    except (tarfile.TarError, OSError, EOFError, ValueError) as e:
        ctx.add(E, "archive.corrupt", f"tar archive cannot be read ({e})", member, 0)
        return True
    names = {m.name for m in infos}
    torch_tar = _TORCH_TAR <= names
    ctx.format("pytorch-tar" if torch_tar else "tar")
    storages: dict[str, tuple[int, int]] = {}
    for m in sorted(infos, key=lambda m: (m.name != "pickle", m.name != "storages")):
        where = join_member(member, m.name)
        n = m.name.replace("\\", "/")
        if n.startswith("/") or ".." in n.split("/"):
            ctx.add(S, "archive.path-traversal", f"member name {m.name!r} escapes the folder",
                    where, m.offset)
        if m.issym() or m.islnk():
            ctx.add(S, "archive.link", f"member is a link to {m.linkname!r} (extraction follows it)",
                    where, m.offset)
            continue
        if not m.isfile():
            continue
        if m.size > LIMITS.max_decompressed_bytes:
            ctx.add(E, "archive.limit", f"member of {m.size} bytes not scanned", where, m.offset)
            continue
        fh = tf.extractfile(m)
        body = fh.read() if fh is not None else b""
        if torch_tar and m.name in _TORCH_TAR:
            if m.name in ("pickle", "sys_info"):
                res = scan_pickle_stream(ctx, body, where, container="pytorch-legacy")
                storages.update(_storages(res))
            elif m.name == "storages":
                _torch_tar_storages(ctx, body, where)
            else:
                _torch_tar_tensors(ctx, body, where)
            continue
        ctx.depth += 1
        try:
            if ctx.scan_blob is not None:
                ctx.scan_blob(ctx, body, where, "member")
        finally:
            ctx.depth -= 1
    return True


def _torch_tar_storages(ctx: ScanContext, body: bytes, where: str) -> None:
    """count pickle; per storage: (key, location, storage_type) pickle, u64 numel, raw bytes."""
    r = walk(body, name=ctx.path, strict=False, encoding=ENCODING)
    judge(ctx, r, where, container="pytorch-legacy")
    if not r.ok or type(r.value) is not int:
        return
    pos = r.end
    for i in range(min(r.value, 1 << 20)):
        a = walk(body, name=ctx.path, start=pos, strict=False, encoding=ENCODING)
        judge(ctx, a, where, container="pytorch-legacy", index=i + 1)
        if not a.ok:
            return
        pos = a.end
        v = a.value
        size = _elsize(v[2]) if type(v) is tuple and len(v) == 3 else None
        if size is None or pos + 8 > len(body):
            ctx.add(S, "torch.legacy-layout", "storage record is not (key, location, type)",
                    where, a.start)
            scan_pickle_stream(ctx, body, where, start=pos, container="pytorch-legacy")
            return
        (numel,) = struct.unpack_from("<q", body, pos)
        pos += 8 + max(0, numel) * size
    if pos < len(body):  # the storage views: [(target, root, offset, numel), ...]
        v = walk(body, name=ctx.path, start=pos, strict=False, encoding=ENCODING)
        judge(ctx, v, where, container="pytorch-legacy", index=r.value + 1)
        if not v.ok:
            return
        pos = v.end
    if pos < len(body):
        ctx.add(S, "pickle.trailing-data", f"{len(body) - pos} bytes after the last storage",
                where, pos)
        scan_pickle_stream(ctx, body, where, start=pos, trailing="ignore", container="pytorch-legacy")


def _torch_tar_tensors(ctx: ScanContext, body: bytes, where: str) -> None:
    r = walk(body, name=ctx.path, strict=False, encoding=ENCODING)
    judge(ctx, r, where, container="pytorch-legacy")
    if not r.ok or type(r.value) is not int:
        return
    pos = r.end
    for i in range(min(r.value, 1 << 20)):
        a = walk(body, name=ctx.path, start=pos, strict=False, encoding=ENCODING)
        judge(ctx, a, where, container="pytorch-legacy", index=i + 1)
        if not a.ok or a.end + 8 > len(body):
            return
        pos = a.end
        (ndim,) = struct.unpack_from("<i", body, pos)
        pos += 8 + 16 * max(0, ndim) + 8
    if pos < len(body):
        ctx.add(S, "pickle.trailing-data", f"{len(body) - pos} bytes after the last tensor",
                where, pos)
        scan_pickle_stream(ctx, body, where, start=pos, trailing="ignore", container="pytorch-legacy")


def _scan_7z(ctx: ScanContext, data: Any, member: str | None) -> bool:
    ctx.format("7z")
    try:
        import py7zr
        from py7zr.io import BytesIOFactory
    except ImportError:
        ctx.add(E, "archive.unsupported", "7z archive not scanned: install py7zr "
                "(pip install 'modellens[archives]')", member, 0)
        return True
    try:
        with py7zr.SevenZipFile(io.BytesIO(bytes(data)), "r") as z:
            infos = z.list()
            total = sum(i.uncompressed or 0 for i in infos)
            if total > LIMITS.max_decompressed_bytes:
                ctx.add(E, "archive.bomb", f"7z members inflate to {total} bytes; not scanned", member)
                return True
            if z.needs_password():
                ctx.add(E, "archive.encrypted", "encrypted 7z archive: members cannot be scanned",
                        member)
                return True
            f = BytesIOFactory(LIMITS.max_decompressed_bytes)
            z.extractall(factory=f)
    except Exception as e:  # py7zr raises many kinds on hostile input
        ctx.add(E, "archive.corrupt", f"7z archive cannot be read ({type(e).__name__}: {e})",
                member, 0)
        return True
    for info in infos:
        where = join_member(member, info.filename)
        n = info.filename.replace("\\", "/")
        if n.startswith("/") or ".." in n.split("/"):
            ctx.add(S, "archive.path-traversal", f"member name {info.filename!r} escapes the folder", where)
        if info.is_symlink:
            ctx.add(S, "archive.link", "member is a symbolic link", where)
        prod = f.products.get(info.filename)
        if prod is None or info.is_directory:
            continue
        body = prod.read()
        ctx.depth += 1
        try:
            if ctx.scan_blob is not None:
                ctx.scan_blob(ctx, body, where, "member")
        finally:
            ctx.depth -= 1
    return True
