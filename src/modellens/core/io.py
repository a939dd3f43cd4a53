"""Byte sources: where a reader's bytes come from.

Readers never open files themselves.  They take a :class:`ByteSource` (``size``, bounded
``read``/``view``) for one file and a :class:`Tree` (list, open, read small files) for a folder.
The local implementations use ``mmap``; an HTTP range source implements the same two
protocols, so readers do not change when a model is remote.

Every read is checked against the source's real size first: a length field in a file is a
claim, not a fact.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

from .errors import CorruptFileError, LimitExceededError, NotFoundError

__all__ = ["Limits", "LIMITS", "ByteSource", "LocalFile", "Tree", "LocalTree", "open_file", "is_remote"]


@dataclass(frozen=True)
class Limits:
    """Upper bounds for anything a file claims; beyond them the file is refused as corrupt."""

    max_header_bytes: int = 100 * 2**20  # safetensors' own cap on its JSON header
    max_json_bytes: int = 64 * 2**20  # config.json, index json, tokenizer_config …
    max_pickle_bytes: int = 1 * 2**30  # one pickle stream walked statically
    max_pickle_ops: int = 50_000_000
    max_pickle_stack: int = 1 << 20  # items on the pickle machine's stack at once
    max_pickle_memo: int = 10_000_000  # memo entries
    max_pickle_depth: int = 2_000  # open MARKs, and nesting of containers built by a pickle
    max_decompressed_bytes: int = 1 * 2**30  # a compressed stream (joblib) inflated in memory
    max_tensors: int = 10_000_000
    max_zip_members: int = 1_000_000
    max_kv_pairs: int = 1_000_000  # GGUF metadata entries
    max_string_bytes: int = 256 * 2**20
    max_dims: int = 64
    max_metadata_value_chars: int = 4096  # longer metadata strings are summarised in reports


LIMITS = Limits()


class ByteSource(Protocol):
    """Random access to one file's bytes.

    A source may set ``remote = True`` (the HTTP range source of ``modellens.hub`` does): each
    read that misses its cache is then a network round trip, so readers fetch headers in a few
    growing reads rather than taking ``view(0, size)`` of the whole file, and skip optional
    scattered reads (see :func:`is_remote`).
    """

    name: str  # path or URL, for messages
    size: int

    def read(self, offset: int, length: int) -> bytes: ...

    def view(self, offset: int, length: int) -> memoryview: ...

    def close(self) -> None: ...


def is_remote(src: object) -> bool:
    """True for sources whose reads cost a network request (``remote = True``), False for local
    ones: local files are memory-mapped, so reading the whole header at once is free."""
    return bool(getattr(src, "remote", False))


def check_range(src: ByteSource, offset: int, length: int, what: str) -> None:
    """Raise CorruptFileError unless [offset, offset+length) lies inside the source."""
    if offset < 0 or length < 0 or offset + length > src.size:
        raise CorruptFileError(
            src.name,
            f"{what} needs bytes {offset}..{offset + length} but the file has {src.size}",
            offset,
        )


def check_limit(src_name: str, value: int, limit: int, what: str, offset: int | None = None) -> None:
    if value > limit:
        raise LimitExceededError(src_name, f"{what} is {value}, over the limit of {limit}", offset)


_PREAD_MAX = 64 * 1024


class LocalFile:
    """A local file, memory-mapped read-only (an empty file has no map)."""

    remote = False

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.name = str(path)
        try:
            self._fh = open(self.path, "rb")
        except FileNotFoundError as e:
            raise NotFoundError(f"{self.name}: no such file") from e
        except IsADirectoryError as e:
            raise NotFoundError(f"{self.name}: is a directory") from e
        except OSError as e:
            raise NotFoundError(f"{self.name}: cannot open ({e.strerror})") from e
        self.size = os.fstat(self._fh.fileno()).st_size
        self._map = (
            mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if self.size else None
        )

    def read(self, offset: int, length: int) -> bytes:
        check_range(self, offset, length, "read")
        if self._map is None:
            return b""
        if length <= _PREAD_MAX:
            # Small scattered reads (zip local headers across an 8 GB .bin) through the map fault
            # in pages around each one; pread copies just the bytes asked for.
            return os.pread(self._fh.fileno(), length, offset)
        return self._map[offset : offset + length]

    def view(self, offset: int, length: int) -> memoryview:
        check_range(self, offset, length, "read")
        if self._map is None:
            return memoryview(b"")
        return memoryview(self._map)[offset : offset + length]

    def head(self, length: int) -> bytes:
        return self.read(0, min(length, self.size))

    def close(self) -> None:
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a numpy view is still alive; the GC will close it
                pass
        self._fh.close()

    def __enter__(self) -> "LocalFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_file(path: str | os.PathLike[str]) -> LocalFile:
    return LocalFile(path)


class Tree(Protocol):
    """A folder of files, local or remote, addressed by '/'-separated relative paths."""

    name: str

    def list(self) -> list[str]: ...

    def exists(self, rel: str) -> bool: ...

    def size(self, rel: str) -> int: ...

    def open(self, rel: str) -> ByteSource: ...

    def read_bytes(self, rel: str, limit: int = LIMITS.max_json_bytes) -> bytes: ...


class LocalTree:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.name = str(root)
        self._files: list[str] | None = None

    def list(self) -> list[str]:
        """Every regular file below the root (hidden folders such as .git skipped), sorted."""
        if self._files is None:
            out: list[str] = []
            for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                rel_dir = os.path.relpath(dirpath, self.root)
                for f in filenames:
                    if f.startswith("."):
                        continue
                    rel = f if rel_dir == "." else f"{rel_dir}/{f}".replace(os.sep, "/")
                    if os.path.isfile(os.path.join(dirpath, f)):
                        out.append(rel)
            self._files = sorted(out)
        return self._files

    def path(self, rel: str) -> Path:
        return self.root / rel

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def size(self, rel: str) -> int:
        return (self.root / rel).stat().st_size

    def open(self, rel: str) -> LocalFile:
        return LocalFile(self.root / rel)

    def read_bytes(self, rel: str, limit: int = LIMITS.max_json_bytes) -> bytes:
        p = self.root / rel
        try:
            size = p.stat().st_size
        except FileNotFoundError as e:
            raise NotFoundError(f"{p}: no such file") from e
        check_limit(str(p), size, limit, "file size")
        return p.read_bytes()

    def walk(self) -> Iterator[str]:
        return iter(self.list())
