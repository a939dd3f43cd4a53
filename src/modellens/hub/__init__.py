"""Hugging Face and ModelScope: header-only remote reads.

    >>> from modellens import hub
    >>> r = hub.read_remote("hf://Qwen/Qwen3-8B")          # inspect, from a few MB of headers
    >>> r.info.parameters, r.info.tensor_type, r.transfer.to_dict()
    >>> tree, repo = hub.open_source("hf://org/repo")     # a Tree (or a ByteSource for a file)
    >>> repo.close()                                       # writes the header cache

Sources: ``hf://org/repo[@revision][/path]``, ``ms://org/repo[@revision][/path]``, a bare
``org/repo`` when no local path has that name (see :mod:`.spec`).  Reads go through
:class:`~.http.HTTPRangeSource`, which implements the same ``ByteSource`` as a local file, so
the format readers are the local ones.  Fetched headers are cached (:mod:`.cache`); offline
mode answers from the cache or raises :class:`HubOfflineError`.

This module imports only the light parts eagerly: ``requests`` and ``huggingface_hub`` load
on the first remote call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (HubAuthError, HubError, HubNotFoundError, HubOfflineError, HubRateLimitError,
                     HubUnavailableError, HubUnreachableError, RangeNotSupportedError,
                     RemoteReadTooLargeError)
from .spec import RemoteSpec, is_remote_source, parse_source

if TYPE_CHECKING:  # pragma: no cover
    from .read import RemoteResult
    from .repo import RemoteRepo

__all__ = [
    "RemoteSpec", "parse_source", "is_remote_source", "resolve", "open_source", "read_remote",
    "HubError", "HubAuthError", "HubNotFoundError", "HubRateLimitError", "HubUnavailableError",
    "HubOfflineError", "HubUnreachableError", "RangeNotSupportedError", "RemoteReadTooLargeError",
]


def resolve(source: "str | RemoteSpec", *, offline: bool | None = None, use_cache: bool = True) -> "RemoteRepo":
    """The repo's listing at its revision (cached, or one API request), without reading files.

    ``offline=None`` follows the environment (``HF_HUB_OFFLINE``, ``MODELLENS_OFFLINE``)."""
    from .read import _spec
    from .repo import resolve as _resolve

    return _resolve(_spec(source), offline=offline, use_cache=use_cache)


def open_source(source: "str | RemoteSpec", *, offline: bool | None = None, use_cache: bool = True) -> tuple[Any, "RemoteRepo"]:
    """``(Tree | ByteSource, repo)`` for a remote source; see :func:`.read.open_source`."""
    from .read import open_source as _open

    return _open(source, offline=offline, use_cache=use_cache)


def read_remote(source: "str | RemoteSpec", *, offline: bool | None = None, use_cache: bool = True) -> "RemoteResult":
    """Inspect a remote source from its headers: ``.info`` (ModelInfo), ``.transfer``."""
    from .read import read_remote as _read

    return _read(source, offline=offline, use_cache=use_cache)
