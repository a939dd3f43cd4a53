"""What can go wrong talking to a model hub, as ``ModelLensError``s (one line, exit 2).

Each message says what happened and what to do: log in for a gated or private repo, check the
name or revision for a 404, wait for a 429, go online (or use the cache) when the hub cannot be
reached.
"""

from __future__ import annotations

from ..core.errors import ModelLensError, NotFoundError

__all__ = ["HubError", "HubAuthError", "HubNotFoundError", "HubRateLimitError", "HubUnavailableError",
           "HubOfflineError", "HubUnreachableError", "RangeNotSupportedError", "RemoteReadTooLargeError"]


class HubError(ModelLensError):
    """A hub answered with an error, or could not be asked."""


class HubAuthError(HubError):
    """401 / 403: a gated or private repository, or a token without access."""


class HubNotFoundError(HubError, NotFoundError):
    """404: no such repository, revision or file."""


class HubRateLimitError(HubError):
    """429: too many requests; ``retry_after`` seconds (None when the hub did not say)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class HubUnavailableError(HubError):
    """The hub cannot be asked (offline mode, DNS failure, refused connection) and the cache does
    not hold the answer.  Commands that can answer from a model's name catch this one."""


class HubOfflineError(HubUnavailableError):
    """Offline mode (``--offline``, ``HF_HUB_OFFLINE=1``) and the answer is not cached."""


class HubUnreachableError(HubUnavailableError):
    """DNS failure, refused or timed-out connection."""


class RangeNotSupportedError(HubError):
    """The server ignored a Range request: reading a header would mean downloading the file."""


class RemoteReadTooLargeError(HubError):
    """A reader asked for more of a remote file than modellens fetches for a header."""
