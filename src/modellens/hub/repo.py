"""A resolved remote repo: its file listing at one revision, and byte sources for its files.

:func:`resolve` asks the provider for the listing (one API request), or takes it from the
header cache; :class:`RemoteRepo` then opens files as :class:`~.http.HTTPRangeSource`s that
start from the cached byte ranges and hand what they fetch back to the cache.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..core.errors import NotFoundError
from .cache import HeaderCache
from .errors import HubOfflineError, HubUnreachableError
from .http import ErrorHints, HTTPRangeSource, TransferStats, Transport
from .spec import RemoteSpec

__all__ = ["RemoteFile", "Listing", "Provider", "RemoteRepo", "resolve", "provider_for"]


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    etag: str | None = None  # content identity: LFS sha256, git blob id, ModelScope Sha256
    lfs: bool = False


@dataclass(frozen=True)
class Listing:
    repo: str
    revision: str  # as asked, or the provider's default branch
    commit: str | None  # the commit the revision resolved to (None where the hub does not say)
    files: tuple[RemoteFile, ...]
    fetched_at: float = field(default_factory=time.time)
    gated: Any = False

    def by_path(self) -> dict[str, RemoteFile]:
        return {f.path: f for f in self.files}

    def to_json(self) -> dict[str, Any]:
        return {"repo": self.repo, "revision": self.revision, "commit": self.commit, "gated": self.gated,
                "fetched_at": self.fetched_at,
                "files": [[f.path, f.size, f.etag, f.lfs] for f in self.files]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Listing":
        return cls(d["repo"], d["revision"], d.get("commit"),
                   tuple(RemoteFile(p, int(s), e, bool(lfs)) for p, s, e, lfs in d["files"]),
                   float(d.get("fetched_at", 0)), d.get("gated", False))


class Provider(Protocol):
    id: str  # "hf" | "ms": the cache folder and the scheme
    endpoint: str
    default_revision: str
    hints: ErrorHints

    def offline_default(self) -> bool: ...

    def file_headers(self) -> dict[str, str]: ...

    def list(self, transport: Transport, spec: RemoteSpec, revision: str) -> Listing: ...

    def file_url(self, listing: Listing, path: str) -> str: ...


def provider_for(spec: RemoteSpec) -> Provider:
    if spec.provider == "ms":
        from .modelscope import ModelScope

        return ModelScope()
    from .hf import HuggingFace

    return HuggingFace()


class RemoteRepo:
    """One repo at one revision: the listing, the transfer counter, and file sources."""

    def __init__(self, spec: RemoteSpec, provider: Provider, listing: Listing, transport: Transport,
                 cache: HeaderCache, *, listing_cached: bool = False, warnings: list[str] | None = None):
        self.spec = spec
        self.provider = provider
        self.listing = listing
        self.transport = transport
        self.cache = cache
        self.listing_cached = listing_cached
        self.warnings = list(warnings or ())
        self.files = listing.by_path()
        self._sources: dict[str, HTTPRangeSource] = {}
        self._lock = threading.Lock()

    @property
    def transfer(self) -> TransferStats:
        return self.transport.stats

    @property
    def name(self) -> str:
        """``hf://org/repo@rev`` (no subpath)."""
        rev = f"@{self.spec.revision}" if self.spec.revision else ""
        return f"{self.spec.provider}://{self.spec.repo}{rev}"

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.listing.files)

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.spec.provider, "endpoint": self.provider.endpoint, "repo": self.spec.repo,
                "revision": self.listing.revision, "commit": self.listing.commit,
                "files": len(self.listing.files), "size_bytes": self.size_bytes}

    def open(self, path: str) -> HTTPRangeSource:
        """The file at ``path`` (one shared source per file, so prefetched bytes are reused)."""
        with self._lock:
            src = self._sources.get(path)
            if src is not None:
                return src
            f = self.files.get(path)
            if f is None:
                raise NotFoundError(f"{self.name}/{path}: no such file in the repository")
            p = self.provider
            segments = self.cache.load_segments(p.id, p.endpoint, self.spec.repo, f.etag, f.size)
            if segments is not None:
                self.transport.stats.add(cached=segments.nbytes)
            src = HTTPRangeSource(p.file_url(self.listing, path), f.size, p.file_headers(), self.transport,
                                  name=f"{self.name}/{path}", segments=segments, on_close=self._save)
            src.etag = f.etag  # type: ignore[attr-defined]
            src.path = path  # type: ignore[attr-defined]
            self._sources[path] = src
            return src

    def tree(self, prefix: str = "", only=None):  # noqa: ANN001, ANN201
        from .tree import RemoteTree

        return RemoteTree(self, prefix, only)

    def _save(self, src: HTTPRangeSource) -> None:
        p = self.provider
        self.cache.save_segments(p.id, p.endpoint, self.spec.repo, getattr(src, "etag", None), src.size,
                                 getattr(src, "path", src.name), src.segments)

    def close(self) -> None:
        for src in list(self._sources.values()):
            src.close()

    def __enter__(self) -> "RemoteRepo":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve(spec: RemoteSpec, *, offline: bool | None = None, use_cache: bool = True,
            cache: HeaderCache | None = None) -> RemoteRepo:
    """List ``spec``'s repo at its revision: from the cache when fresh (or offline), else one
    API request.  Raises HubOfflineError / HubUnreachableError when neither can answer."""
    provider = provider_for(spec)
    offline = provider.offline_default() if offline is None else offline
    cache = cache or HeaderCache(enabled=use_cache)
    transport = Transport(TransferStats(), offline=offline, hints=provider.hints)
    revision = spec.revision or provider.default_revision
    key = spec.revision or f"{provider.default_revision}"
    data = cache.load_listing(provider.id, provider.endpoint, spec.repo, key, any_age=offline)
    warnings: list[str] = []
    if data is not None:
        return RemoteRepo(spec, provider, Listing.from_json(data), transport, cache, listing_cached=True)
    if offline:
        raise HubOfflineError(
            f"{spec.display}: not in the modellens cache, and offline mode is on ({provider.hints.offline_env}); "
            "run it once online first")
    try:
        listing = provider.list(transport, spec, revision)
    except HubUnreachableError as e:
        stale = cache.load_listing(provider.id, provider.endpoint, spec.repo, key, any_age=True)
        if stale is None:
            raise
        listing = Listing.from_json(stale)
        transport.offline = True
        host = urlsplit(provider.endpoint).netloc
        transport.offline_reason = f"{host} is unreachable"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(listing.fetched_at))
        warnings.append(f"{host} is unreachable ({e}); answered from the cache of {when}")
        return RemoteRepo(spec, provider, listing, transport, cache, listing_cached=True, warnings=warnings)
    cache.save_listing(provider.id, provider.endpoint, spec.repo, key, listing.to_json())
    return RemoteRepo(spec, provider, listing, transport, cache, warnings=warnings)
