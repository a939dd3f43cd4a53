"""A remote repo (or one folder of it) as a ``Tree``, so ``layouts.read_tree`` runs unchanged.

Names, sizes and existence come from the listing; ``open`` gives the repo's shared range
source for the file; ``read_bytes`` fetches a small file whole (config.json, index json …).
:meth:`RemoteTree.prefetch` reads several files' headers concurrently (a small thread pool):
the layout's own sequential pass then finds them in memory.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

from ..core.errors import NotFoundError
from ..core.io import LIMITS, check_limit
from .http import HTTPRangeSource

__all__ = ["RemoteTree", "PREFETCH_WORKERS"]

PREFETCH_WORKERS = 8


class RemoteTree:
    def __init__(self, repo, prefix: str = "", only: Callable[[str], bool] | None = None):  # noqa: ANN001
        self.repo = repo
        self.prefix = prefix.strip("/")
        self.only = only
        self.name = repo.name + (f"/{self.prefix}" if self.prefix else "")
        self._files: list[str] | None = None

    def _full(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def list(self) -> list[str]:
        """Every file below the prefix, as LocalTree lists a folder (hidden names skipped)."""
        if self._files is None:
            cut = len(self.prefix) + 1 if self.prefix else 0
            out = []
            for path in self.repo.files:
                if self.prefix and not path.startswith(self.prefix + "/"):
                    continue
                rel = path[cut:]
                if any(part.startswith(".") for part in rel.split("/")):
                    continue
                if self.only is None or self.only(rel):
                    out.append(rel)
            self._files = sorted(out)
        return self._files

    def exists(self, rel: str) -> bool:
        return rel in self._set()

    def _set(self) -> set[str]:
        s = getattr(self, "_fileset", None)
        if s is None:
            s = self._fileset = set(self.list())
        return s

    def size(self, rel: str) -> int:
        if not self.exists(rel):
            raise NotFoundError(f"{self.name}/{rel}: no such file")
        return self.repo.files[self._full(rel)].size

    def open(self, rel: str) -> HTTPRangeSource:
        if not self.exists(rel):
            raise NotFoundError(f"{self.name}/{rel}: no such file")
        return self.repo.open(self._full(rel))

    def read_bytes(self, rel: str, limit: int = LIMITS.max_json_bytes) -> bytes:
        if not self.exists(rel):
            raise NotFoundError(f"{self.name}/{rel}: no such file")
        check_limit(f"{self.name}/{rel}", self.size(rel), limit, "file size")
        src = self.open(rel)
        try:
            return src.read_all(limit)
        finally:
            src.close()

    def prefetch(self, small: Iterable[str] = (), headers: Iterable[str] = (),
                 read: Callable[["RemoteTree", str], object] | None = None) -> None:
        """Fetch ``small`` files whole and run ``read(tree, rel)`` over ``headers`` files,
        concurrently.  Failures are left for the sequential pass to report."""
        jobs: list[tuple[Callable[..., object], str]] = [(self.read_bytes, rel) for rel in small if self.exists(rel)]
        for rel in headers:
            if self.exists(rel):
                jobs.append(((lambda r: read(self, r)) if read else (lambda r: self.open(r).prefetch()), rel))
        if not jobs:
            return
        if len(jobs) == 1:
            _quiet(*jobs[0])
            return
        with ThreadPoolExecutor(max_workers=min(PREFETCH_WORKERS, len(jobs)),
                                thread_name_prefix="modellens-prefetch") as pool:
            list(pool.map(lambda job: _quiet(*job), jobs))

    def close(self) -> None:
        self.repo.close()


def _quiet(fn: Callable[[str], object], rel: str) -> None:
    try:
        fn(rel)
    except Exception:  # noqa: BLE001 - speculative: the layout reads the file again and reports
        pass
