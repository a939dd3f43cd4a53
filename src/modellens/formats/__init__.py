"""The format registry: detection by content, then the format's reader.

Each module in this package registers one or more formats with :func:`register`:

    register(FormatSpec(id="safetensors", detect=detect, read=read, extensions=(".safetensors",)))

``detect(probe)`` returns a confidence (0 = not this format; 100 = magic bytes and structure
agree; the file name only breaks ties) and ``read(source, probe)`` returns a ``ModelInfo``.
Adding a format is adding a module: the package imports every module in it on first use.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

from ..core.registry import Registry
from ..core.errors import CorruptFileError, UnsupportedFormatError
from ..core.io import LIMITS, ByteSource, LocalFile, check_limit, check_range
from ..core.model import ModelInfo

__all__ = ["FormatSpec", "Probe", "register", "formats", "detect", "read_file", "describe_bytes",
           "zip_member_offset"]

HEAD_BYTES = 64 * 1024


class Probe:
    """What detection looks at, computed lazily and shared by all detectors."""

    def __init__(self, source: ByteSource):
        self.source = source
        self.name = source.name
        self.size = source.size
        self.head = source.read(0, min(HEAD_BYTES, source.size))
        lower = self.name.lower()
        self.suffix = lower[lower.rfind(".") :] if "." in lower.rsplit("/", 1)[-1] else ""

    @property
    def is_zip(self) -> bool:
        return self.head[:4] in (b"PK\x03\x04", b"PK\x05\x06")

    @cached_property
    def zip(self) -> zipfile.ZipFile | None:
        """The zip's central directory, or None if the file is not a readable zip."""
        if not self.is_zip:
            return None
        try:
            zf = zipfile.ZipFile(_SourceFile(self.source))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            return None
        check_limit(self.name, len(zf.filelist), LIMITS.max_zip_members, "zip member count")
        return zf

    @cached_property
    def zip_names(self) -> list[str]:
        return [] if self.zip is None else self.zip.namelist()


class _SourceFile:
    """A read-only file object over a ByteSource, for zipfile."""

    def __init__(self, source: ByteSource):
        self._src = source
        self._pos = 0

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._src.size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = self._src.size if n is None or n < 0 else min(self._src.size, self._pos + n)
        if end <= self._pos:
            return b""
        data = self._src.read(self._pos, end - self._pos)
        self._pos = end
        return data


def zip_member_offset(src: ByteSource, info: zipfile.ZipInfo) -> int:
    """Absolute offset of a zip member's data, from its *local* header (whose name and extra
    fields may differ from the central directory's copy), checked against the file."""
    check_range(src, info.header_offset, 30, f"local header of {info.filename!r}")
    hdr = src.read(info.header_offset, 30)
    if hdr[:4] != b"PK\x03\x04":
        raise CorruptFileError(src.name, f"no local header for zip member {info.filename!r}",
                               info.header_offset)
    n, m = struct.unpack_from("<HH", hdr, 26)
    off = info.header_offset + 30 + n + m
    check_range(src, off, info.compress_size, f"zip member {info.filename!r}")
    return off


@dataclass(frozen=True)
class FormatSpec:
    id: str
    detect: Callable[[Probe], int]
    read: Callable[[ByteSource, Probe], ModelInfo]
    extensions: tuple[str, ...] = ()
    description: str = ""
    aliases: tuple[str, ...] = field(default=())


_REGISTRY: Registry[FormatSpec] = Registry(__name__, __path__, "format")
register = _REGISTRY.register


def formats() -> dict[str, FormatSpec]:
    return dict(_REGISTRY.all())


# The weight formats met most often are asked first, so that a safetensors shard or a GGUF file
# is recognised without importing the other twenty readers.
_COMMON = ("safetensors", "gguf", "pytorch", "numpy", "pickle")


def detect(probe: Probe) -> FormatSpec | None:
    """The most confident format for the probed file, or None.

    A full-confidence match (magic bytes and structure, score 100) whose extension also fits
    cannot be beaten, so the search stops there."""
    best: tuple[int, int, FormatSpec] | None = None
    for spec in _REGISTRY.progressive(_COMMON):
        score = spec.detect(probe)
        if score <= 0:
            continue
        hint = 1 if probe.suffix in spec.extensions else 0
        if best is None or (score, hint) > best[:2]:
            best = (score, hint, spec)
            if score >= 100 and hint:
                break
    return best[2] if best else None


def read_file(path: str, source: ByteSource | None = None) -> ModelInfo:
    """Detect the format of one file by content and read its index."""
    own = source is None
    src = source if source is not None else LocalFile(path)
    try:
        probe = Probe(src)
        spec = detect(probe)
        if spec is None:
            raise UnsupportedFormatError(
                f"{src.name}: not a recognised model format ({describe_bytes(probe)})"
            )
        try:
            return spec.read(src, probe)
        except (CorruptFileError, UnsupportedFormatError):
            raise
        except (ValueError, KeyError, IndexError, TypeError, OverflowError,
                UnicodeDecodeError, zipfile.BadZipFile, EOFError) as e:
            # A reader met bytes it did not expect: the file contradicts its format.
            raise CorruptFileError(src.name, f"unreadable {spec.id} data ({e})") from e
    finally:
        if own:
            src.close()


def describe_bytes(probe: Probe) -> str:
    """A short guess at what an unrecognised file is, for the error message."""
    head = probe.head
    if probe.size == 0:
        return "the file is empty"
    if probe.zip is not None:
        names = probe.zip_names
        shown = ", ".join(names[:3]) + (" …" if len(names) > 3 else "")
        return f"a zip archive of {len(names)} files: {shown}"
    if probe.is_zip:
        return "looks like a zip archive but its directory is unreadable"
    signatures = (
        (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
        (b"\x1f\x8b", "gzip-compressed data"),
        (b"BZh", "bzip2-compressed data"),
        (b"\xfd7zXZ\x00", "xz-compressed data"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
        (b"\x7fELF", "an ELF executable"),
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
    )
    for magic, what in signatures:
        if head.startswith(magic):
            return f"looks like {what}"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "looks like a tar archive"
    sample = head[:4096]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        stripped = text.lstrip()
        if stripped.startswith(("{", "[")):
            return "looks like JSON text"
        if stripped.startswith("<"):
            return "looks like XML or HTML text"
        return "looks like plain text"
    return f"unrecognised binary data starting with {head[:8].hex()}"
