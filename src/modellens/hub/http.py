"""HTTP range reads behind the ``ByteSource`` interface, so format readers do not change.

:class:`HTTPRangeSource` keeps the byte ranges it has fetched (sorted, merged segments).  A read
that misses is widened to aligned 64 KiB pages and only the missing pages are requested, in one
request per gap; the first read of a file (the 64 KiB the format probe looks at) therefore
covers a typical safetensors header, so a shard costs one request, two when its header is
larger.  A server that ignores ``Range`` is refused before its body is read: modellens never
downloads weights to read a header.

Every request goes through :class:`Transport`, which counts requests and body bytes
(:class:`TransferStats`, the ``transfer`` field of ``inspect --json``), maps HTTP failures to
one-line errors, and in offline mode refuses to touch the network at all.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from ..core.io import LIMITS, check_limit, check_range
from .errors import (HubAuthError, HubError, HubNotFoundError, HubOfflineError, HubRateLimitError,
                     HubUnreachableError, RangeNotSupportedError, RemoteReadTooLargeError)

__all__ = ["TransferStats", "Transport", "HTTPRangeSource", "Segments", "PAGE", "FIRST_READ",
           "MAX_VIEW_BYTES", "require"]

PAGE = 64 * 1024  # fetches are aligned to pages of this size
FIRST_READ = 64 * 1024  # = formats.HEAD_BYTES: the probe's read is the first request
# The most of one remote file a reader may take in one view (legacy PyTorch and plain pickles
# walk a whole-file view); beyond it, modellens refuses rather than downloads the weights.
MAX_VIEW_BYTES = int(os.environ.get("MODELLENS_HUB_MAX_VIEW", 256 * 2**20))
_RETRY_STATUS = (500, 502, 503, 504)
_RETRIES = 2
_TIMEOUT = (float(os.environ.get("MODELLENS_HUB_CONNECT_TIMEOUT", 10)),
            float(os.environ.get("MODELLENS_HUB_READ_TIMEOUT", 60)))


@dataclass
class TransferStats:
    """What a remote read cost: HTTP requests made (redirects count), body bytes received, and
    bytes served from the header cache instead."""

    requests: int = 0
    bytes: int = 0
    cached_bytes: int = 0
    started: float = field(default_factory=time.perf_counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, requests: int = 0, nbytes: int = 0, cached: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.bytes += nbytes
            self.cached_bytes += cached

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "bytes": self.bytes, "cached_bytes": self.cached_bytes,
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class ErrorHints:
    """Provider wording for error messages."""

    hub: str = "the hub"
    login: str = "log in"
    offline_env: str = "--offline"


class Transport:
    """Requests through thread-local sessions, counted, with failures mapped to HubErrors."""

    def __init__(self, stats: TransferStats | None = None, *, offline: bool = False,
                 hints: ErrorHints = ErrorHints()):
        self.stats = stats or TransferStats()
        self.offline = offline
        self.offline_reason = "offline mode (--offline or HF_HUB_OFFLINE=1)"
        self.hints = hints
        self._local = threading.local()

    def _session(self):  # noqa: ANN202 - requests is imported lazily
        s = getattr(self._local, "session", None)
        if s is None:
            requests = require("requests")
            s = self._local.session = requests.Session()
        return s

    def get(self, url: str, headers: dict[str, str], *, what: str, params: dict | None = None,
            byte_range: tuple[int, int] | None = None, stream: bool = False,
            identity: bool = False):  # noqa: ANN201
        """GET ``url`` (bytes [start, end) when ``byte_range``); a response with status < 400.

        With ``stream`` the body is not read yet (the caller checks the status first)."""
        if self.offline:
            raise HubOfflineError(f"{what}: not in the modellens cache, and {self.offline_reason}")
        requests = require("requests")

        h = dict(headers)
        if byte_range is not None:
            h["Range"] = f"bytes={byte_range[0]}-{byte_range[1] - 1}"
        if byte_range is not None or identity:
            h["Accept-Encoding"] = "identity"  # file bytes as stored: sizes and ranges must match
        for attempt in range(_RETRIES + 1):
            try:
                r = self._session().get(url, headers=h, params=params, timeout=_TIMEOUT,
                                        stream=stream, allow_redirects=True)
            except requests.exceptions.ConnectionError as e:
                self.stats.add(requests=1)
                raise HubUnreachableError(
                    f"{what}: cannot reach {_host(url)} ({_reason(e)}); check the network or the "
                    f"endpoint setting, or answer from the cache with {self.hints.offline_env}") from e
            except requests.exceptions.Timeout as e:
                self.stats.add(requests=1)
                raise HubUnreachableError(f"{what}: {_host(url)} did not answer in time ({e.__class__.__name__})") from e
            except requests.exceptions.RequestException as e:
                self.stats.add(requests=1)
                raise HubError(f"{what}: request to {_host(url)} failed ({e})") from e
            self.stats.add(requests=1 + len(r.history))
            if r.status_code in _RETRY_STATUS and attempt < _RETRIES:
                self._drain(r)
                time.sleep(0.3 * (attempt + 1))
                continue
            break
        if r.status_code >= 400:
            self._drain(r)
            raise self._error(r, what)
        if not stream:
            self.stats.add(nbytes=len(r.content))
        return r

    def body(self, r, limit: int | None = None) -> bytes:  # noqa: ANN001
        """The body of a streamed response, counted; at most ``limit`` bytes are read."""
        try:
            data = r.raw.read(limit, decode_content=True) if limit is not None else r.content
        finally:
            r.close()
        self.stats.add(nbytes=len(data))
        return data

    def _drain(self, r) -> None:  # noqa: ANN001
        try:
            self.stats.add(nbytes=len(r.content[:1 << 20]) if r.raw is not None else 0)
        except Exception:  # an error body we do not need  # noqa: BLE001
            pass
        r.close()

    def _error(self, r, what: str) -> HubError:  # noqa: ANN001
        code = r.status_code
        xcode = r.headers.get("X-Error-Code", "")
        xmsg = r.headers.get("X-Error-Message", "")
        hub, login = self.hints.hub, self.hints.login
        if code == 429:
            after = (r.headers.get("Retry-After") or "").strip()
            secs = _retry_after(after)
            when = (f"retry after {after} s" if after.isdigit() else
                    f"retry after {after}" if after else "retry later")
            return HubRateLimitError(f"{what}: rate limited by {hub} (HTTP 429); {when}, or {login} "
                                     "for a higher limit", secs)
        if xcode == "GatedRepo" or (code in (401, 403) and "gated" in xmsg.lower()):
            return HubAuthError(f"{what}: the repository is gated (HTTP {code}): accept its terms on its page, "
                                f"then {login}")
        if code == 401:
            return HubAuthError(f"{what}: repository not found, or private and not accessible without "
                                f"credentials (HTTP 401): {login}")
        if code == 403:
            return HubAuthError(f"{what}: access denied (HTTP 403): the token in use has no access to this "
                                f"repository; {login} with an account that has")
        if code == 404:
            if xcode == "RevisionNotFound":
                return HubNotFoundError(f"{what}: revision not found (HTTP 404)")
            if xcode == "EntryNotFound":
                return HubNotFoundError(f"{what}: file not found in the repository (HTTP 404)")
            return HubNotFoundError(f"{what}: not found (HTTP 404): check the repository id and revision")
        if code == 416:
            return HubError(f"{what}: the server refused the byte range (HTTP 416): the file changed?")
        detail = f": {xmsg}" if xmsg else ""
        return HubError(f"{what}: {hub} answered HTTP {code}{detail}")


def require(module: str):  # noqa: ANN201
    """Import an optional dependency of remote reads, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        from ..core.errors import MissingDependencyError

        package = {"huggingface_hub": "huggingface_hub"}.get(module.split(".")[0], module.split(".")[0])
        raise MissingDependencyError(package, "hub", "reading models from a hub") from e


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _reason(e: Exception) -> str:
    text = str(e)
    for marker, short in (("Name or service not known", "DNS lookup failed"),
                          ("nodename nor servname", "DNS lookup failed"),
                          ("Temporary failure in name resolution", "DNS lookup failed"),
                          ("getaddrinfo failed", "DNS lookup failed"),
                          ("Connection refused", "connection refused"),
                          ("timed out", "connection timed out"),
                          ("Network is unreachable", "network unreachable")):
        if marker in text:
            return short
    return e.__class__.__name__


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class Segments:
    """Known byte ranges of one file: sorted, non-overlapping, adjacent ones merged."""

    def __init__(self, items: list[tuple[int, bytes]] | None = None):
        self._starts: list[int] = []
        self._data: list[bytes] = []
        for off, data in items or ():
            self.add(off, data)

    def __iter__(self):  # noqa: ANN204
        return iter(zip(self._starts, self._data))

    @property
    def nbytes(self) -> int:
        return sum(len(d) for d in self._data)

    def get(self, off: int, n: int) -> bytes | None:
        i = bisect.bisect_right(self._starts, off) - 1
        if i >= 0:
            start, data = self._starts[i], self._data[i]
            if off + n <= start + len(data):
                return data[off - start : off - start + n]
        return None

    def gaps(self, a: int, b: int) -> list[tuple[int, int]]:
        """The parts of [a, b) not held."""
        out = []
        pos = a
        i = max(0, bisect.bisect_right(self._starts, a) - 1)
        while pos < b and i < len(self._starts):
            start, end = self._starts[i], self._starts[i] + len(self._data[i])
            if end <= pos:
                i += 1
                continue
            if start >= b:
                break
            if start > pos:
                out.append((pos, start))
            pos = max(pos, end)
            i += 1
        if pos < b:
            out.append((pos, b))
        return out

    def add(self, off: int, data: bytes) -> None:
        if not data:
            return
        end = off + len(data)
        i = bisect.bisect_left(self._starts, off)
        # merge with a segment starting before that reaches off
        if i > 0 and self._starts[i - 1] + len(self._data[i - 1]) >= off:
            i -= 1
        j = i
        new_start, new_end = off, end
        pieces: list[tuple[int, bytes]] = []
        while j < len(self._starts) and self._starts[j] <= new_end:
            s, d = self._starts[j], self._data[j]
            pieces.append((s, d))
            new_start = min(new_start, s)
            new_end = max(new_end, s + len(d))
            j += 1
        if not pieces:
            self._starts.insert(i, off)
            self._data.insert(i, bytes(data))
            return
        buf = bytearray(new_end - new_start)
        for s, d in pieces:
            buf[s - new_start : s - new_start + len(d)] = d
        buf[off - new_start : end - new_start] = data  # the fresh bytes win
        self._starts[i:j] = [new_start]
        self._data[i:j] = [bytes(buf)]


class HTTPRangeSource:
    """One remote file as a ``ByteSource``: ``read``/``view`` fetch only missing aligned pages.

    ``url`` is re-resolved only once: after the first redirect (the Hub sends LFS files to a
    CDN) later ranges go straight to the redirect target, falling back to ``url`` if it
    expires.  ``on_close`` receives the segments when new bytes were fetched (the header cache).
    """

    remote = True

    def __init__(self, url: str, size: int, headers: dict[str, str], transport: Transport, *,
                 name: str | None = None, segments: Segments | None = None,
                 on_close: Callable[["HTTPRangeSource"], None] | None = None):
        self.url = url
        self.size = size
        self.name = name or url
        self.headers = headers
        self.transport = transport
        self.segments = segments if segments is not None else Segments()
        self.dirty = False
        self._direct: str | None = None  # the redirect target, once known
        self._on_close = on_close
        self._lock = threading.RLock()

    # -- ByteSource -----------------------------------------------------------------------------

    def read(self, offset: int, length: int) -> bytes:
        check_range(self, offset, length, "read")
        if length == 0:
            return b""
        with self._lock:
            data = self.segments.get(offset, length)
            if data is not None:
                return data
            self._fetch(offset, offset + length)
            data = self.segments.get(offset, length)
        assert data is not None
        return data

    def view(self, offset: int, length: int) -> memoryview:
        check_range(self, offset, length, "read")
        missing = sum(b - a for a, b in self.segments.gaps(offset, offset + length))
        if missing > MAX_VIEW_BYTES:
            raise RemoteReadTooLargeError(
                f"{self.name}: reading this file's header means fetching {missing:,} bytes "
                f"(over the {MAX_VIEW_BYTES:,}-byte limit for a remote read; "
                "set MODELLENS_HUB_MAX_VIEW to allow it, or download the file)")
        return memoryview(self.read(offset, length))

    def close(self) -> None:
        """Hand newly fetched bytes to the cache; the source stays usable."""
        with self._lock:
            if self.dirty and self._on_close is not None:
                self._on_close(self)
            self.dirty = False

    def __enter__(self) -> "HTTPRangeSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- fetching -------------------------------------------------------------------------------

    def read_all(self, limit: int = LIMITS.max_json_bytes) -> bytes:
        """The whole file in one plain GET (small files: config.json …), checked against limit."""
        check_limit(self.name, self.size, limit, "file size")
        with self._lock:
            data = self.segments.get(0, self.size) if self.size else b""
            if data is not None:
                return data
            r = self.transport.get(self.url, self.headers, what=self.name, stream=True, identity=True)
            data = self.transport.body(r, limit + 1)
            if len(data) > limit:
                check_limit(self.name, len(data), limit, "file size")
            if len(data) != self.size:
                raise HubError(f"{self.name}: the hub listed {self.size:,} bytes but sent {len(data):,} "
                               "(the file changed while reading? try again, or --no-cache)")
            self.segments.add(0, data)
            self.dirty = True
            return data

    def prefetch(self, length: int = FIRST_READ) -> None:
        """Fetch the first ``length`` bytes (what the format probe reads) if not held."""
        n = min(length, self.size)
        if n:
            self.read(0, n)

    def _fetch(self, a: int, b: int) -> None:
        start = a - a % PAGE
        end = min(self.size, b + (-b) % PAGE)
        if start == 0:
            end = max(end, min(self.size, FIRST_READ))
        for ga, gb in self.segments.gaps(start, end):
            self.segments.add(ga, self._get_range(ga, gb))
            self.dirty = True

    def _get_range(self, a: int, b: int) -> bytes:
        url = self._direct or self.url
        try:
            r = self.transport.get(url, self.headers, what=self.name, byte_range=(a, b), stream=True)
        except (HubAuthError, HubNotFoundError):
            if self._direct is None:
                raise
            self._direct = None  # a signed CDN URL expired: resolve again
            r = self.transport.get(self.url, self.headers, what=self.name, byte_range=(a, b), stream=True)
        if r.status_code != 206:
            r.close()
            if r.status_code == 200 and a == 0 and b >= self.size:
                return self.read_all(self.size)
            raise RangeNotSupportedError(
                f"{self.name}: the server ignored the Range request (HTTP {r.status_code} instead of 206); "
                f"reading the header would download the whole {self.size:,}-byte file, so modellens stops")
        crange = r.headers.get("Content-Range", "")
        expect = f"bytes {a}-{b - 1}/"
        if not crange.startswith(expect):
            r.close()
            raise HubError(f"{self.name}: asked for bytes {a}-{b - 1}, the server sent {crange or 'no Content-Range'}")
        total = crange[len(expect):]
        if total.isdigit() and int(total) != self.size:
            r.close()
            raise HubError(f"{self.name}: the hub listed {self.size:,} bytes but the file has {int(total):,} "
                           "(it changed since it was listed? try again, or --no-cache)")
        if r.history and self._direct is None:
            self._direct = r.url
        data = self.transport.body(r, b - a)
        if len(data) != b - a:
            raise HubError(f"{self.name}: connection closed after {len(data)} of {b - a} bytes at offset {a}")
        return data
