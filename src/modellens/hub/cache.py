"""The header cache: what was fetched from a hub, so a second look transfers nothing.

Under ``$MODELLENS_CACHE_DIR``, else ``$XDG_CACHE_HOME/modellens``, else ``~/.cache/modellens``::

    hub/<provider>/<endpoint host>/<org>--<name>/
        refs/<revision>.json     the file listing of a revision: commit, sizes, etags, when fetched
        blobs/<etag>.ranges      the byte ranges fetched from one file version

A file version is keyed by its etag (the LFS sha256 or git blob id the hub lists; ModelScope's
Sha256), inside the repo's folder: a new commit that keeps a file reuses its cached header, a
changed file has a new etag and is fetched again.  A listing for a commit sha never goes stale;
one for a branch or tag is reused for ``MODELLENS_HUB_CACHE_TTL`` seconds (default 3600), and
at any age when offline.  Files without an etag are not cached.  The cache is best effort:
unreadable entries are ignored, failed writes are skipped.

``.ranges`` layout: ``b"MLRANGE1"``, u64 little-endian JSON length, JSON
``{"size", "path", "segments": [[offset, length], ...]}``, then the segments' bytes in order.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .http import Segments

__all__ = ["HeaderCache", "cache_root", "is_commit"]

_MAGIC = b"MLRANGE1"
_MAX_CACHED_FILE = 512 * 2**20  # never cache more than this of one file
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def cache_root() -> Path:
    explicit = os.environ.get("MODELLENS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "modellens"


def is_commit(revision: str | None) -> bool:
    return bool(revision and _COMMIT.match(revision))


def _slug(text: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", text)
    if safe != text or len(safe) > 120 or safe in ("", ".", ".."):
        return safe[:60].strip(".") + "-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return safe


def _ttl() -> float:
    try:
        return float(os.environ.get("MODELLENS_HUB_CACHE_TTL", 3600))
    except ValueError:
        return 3600.0


class HeaderCache:
    """Listings and fetched byte ranges on disk; ``enabled=False`` (``--no-cache``) reads and
    writes nothing."""

    def __init__(self, root: Path | None = None, *, enabled: bool = True):
        self.root = (root or cache_root()) / "hub"
        self.enabled = enabled

    def repo_dir(self, provider: str, endpoint: str, repo: str) -> Path:
        host = urlsplit(endpoint).netloc or endpoint
        return self.root / provider / _slug(host) / _slug(repo.replace("/", "--"))

    # -- listings ---------------------------------------------------------------------------

    def load_listing(self, provider: str, endpoint: str, repo: str, revision: str, *,
                     any_age: bool = False) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        p = self.repo_dir(provider, endpoint, repo) / "refs" / f"{_slug(revision)}.json"
        try:
            data = json.loads(p.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("files"), list):
            return None
        fresh = is_commit(revision) or time.time() - float(data.get("fetched_at", 0)) < _ttl()
        return data if fresh or any_age else None

    def save_listing(self, provider: str, endpoint: str, repo: str, revision: str, data: dict[str, Any]) -> None:
        if not self.enabled:
            return
        d = self.repo_dir(provider, endpoint, repo) / "refs"
        payload = json.dumps({"version": 1, **data}, separators=(",", ":")).encode()
        self._write(d / f"{_slug(revision)}.json", payload)
        commit = data.get("commit")
        if commit and commit != revision and is_commit(commit):
            self._write(d / f"{commit}.json", payload)  # the same listing, by its commit

    # -- byte ranges ------------------------------------------------------------------------

    def _blob(self, provider: str, endpoint: str, repo: str, etag: str) -> Path:
        return self.repo_dir(provider, endpoint, repo) / "blobs" / f"{_slug(etag)}.ranges"

    def load_segments(self, provider: str, endpoint: str, repo: str, etag: str | None,
                      size: int) -> Segments | None:
        if not self.enabled or not etag:
            return None
        p = self._blob(provider, endpoint, repo, etag)
        try:
            raw = p.read_bytes()
        except OSError:
            return None
        try:
            if raw[:8] != _MAGIC:
                return None
            (n,) = struct.unpack_from("<Q", raw, 8)
            head = json.loads(raw[16 : 16 + n])
            if head.get("size") != size:
                return None
            pos = 16 + n
            items = []
            for off, length in head["segments"]:
                if not (isinstance(off, int) and isinstance(length, int)) or off < 0 or length <= 0 \
                        or off + length > size or pos + length > len(raw):
                    return None
                items.append((off, raw[pos : pos + length]))
                pos += length
            if pos != len(raw):
                return None
        except (ValueError, KeyError, TypeError, struct.error):
            return None
        return Segments(items)

    def save_segments(self, provider: str, endpoint: str, repo: str, etag: str | None, size: int,
                      path: str, segments: Segments) -> None:
        if not self.enabled or not etag:
            return
        items = list(segments)
        total = sum(len(d) for _, d in items)
        if not items or total > _MAX_CACHED_FILE:
            return
        head = json.dumps({"size": size, "path": path, "segments": [[o, len(d)] for o, d in items]}).encode()
        payload = b"".join([_MAGIC, struct.pack("<Q", len(head)), head, *(d for _, d in items)])
        self._write(self._blob(provider, endpoint, repo, etag), payload)

    @staticmethod
    def _write(path: Path, payload: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            pass  # a read-only or full cache folder: the next run fetches again
