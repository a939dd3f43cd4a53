"""The error family of modellens.

Every failure the library reports on purpose is a :class:`ModelLensError`.  The CLI maps the
family to one line on stderr and exit code 2 (see ``cli/app.py``); anything else escaping the
library is a bug.
"""

from __future__ import annotations

__all__ = [
    "ModelLensError",
    "NotFoundError",
    "UnsupportedFormatError",
    "CorruptFileError",
    "UnsafeError",
    "MissingDependencyError",
    "LimitExceededError",
]


class ModelLensError(Exception):
    """Base class: a problem with the input or the environment, not a bug."""

    exit_code = 2


class NotFoundError(ModelLensError):
    """The path, file or member does not exist."""


class UnsupportedFormatError(ModelLensError):
    """The input is readable but is not a model format modellens understands."""


class CorruptFileError(ModelLensError):
    """The input claims to be a known format but its bytes contradict the format."""

    def __init__(self, path: str, reason: str, offset: int | None = None):
        self.path = str(path)
        self.reason = reason
        self.offset = offset
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{self.path}: corrupt file{where}: {reason}")


class LimitExceededError(CorruptFileError):
    """A length, count or size in the file is beyond what modellens accepts (see ``Limits``)."""


class UnsafeError(ModelLensError):
    """Reading the input would require executing code, or it contains known-dangerous content."""


class MissingDependencyError(ModelLensError):
    """An optional dependency is needed for this input."""

    def __init__(self, package: str, extra: str, purpose: str):
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the '{package}' package: pip install 'modellens[{extra}]'"
        )
