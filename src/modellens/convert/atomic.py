"""Atomic outputs: everything is written under temporary names in the target folder, fsynced,
then renamed into place; on any error or interruption the temporaries are removed and the
target folder is left as it was.

A file target (``out.safetensors``, maybe with sibling shards and an index) stages each file as
``.<name>.modellens-<pid>-<token>.tmp`` next to it; :meth:`Staging.commit` renames them (the index
last).  A folder target stages a whole folder ``.<name>.modellens-<pid>-<token>.tmp/`` beside it
and renames it in one step (an existing folder, with ``force``, is moved aside first and removed
after the swap).
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from ..core.errors import ModelLensError

__all__ = ["Staging", "TMP_MARK"]

TMP_MARK = ".modellens-"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Staging:
    """Temporary outputs for ``dst`` (a file, or a folder when ``folder``)."""

    def __init__(self, dst: Path, *, folder: bool, force: bool):
        self.dst = dst
        self.folder = folder
        self.force = force
        self.parent = dst.parent
        self.token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.files: list[tuple[Path, Path]] = []  # (temporary, final)
        self.tmpdir: Path | None = None
        self.done = False
        if not self.parent.is_dir():
            raise ModelLensError(f"{self.parent}: the target folder does not exist")
        if dst.exists() and not force:
            raise ModelLensError(f"{dst} exists; pass --force to replace it")
        if folder and dst.exists() and not dst.is_dir():
            raise ModelLensError(f"{dst} is a file, not a folder")
        if not folder and dst.is_dir():
            raise ModelLensError(f"{dst} is a folder; name a file, or use a folder target")
        if folder:
            self.tmpdir = self.parent / f".{dst.name}{TMP_MARK}{self.token}.tmp"
            self.tmpdir.mkdir()

    def path(self, name: str) -> Path:
        """Where to write the output file ``name`` (relative to the target folder for a folder
        target, a sibling of ``dst`` otherwise)."""
        if self.tmpdir is not None:
            p = self.tmpdir / name
            p.parent.mkdir(parents=True, exist_ok=True)
            return p
        final = self.parent / name
        if final.exists() and not self.force:
            raise ModelLensError(f"{final} exists; pass --force to replace it")
        tmp = self.parent / f".{name}{TMP_MARK}{self.token}.tmp"
        self.files.append((tmp, final))
        return tmp

    def final(self, name: str) -> Path:
        return (self.dst / name) if self.folder else (self.parent / name)

    def commit(self) -> None:
        """Rename everything into place; SIGINT / SIGTERM wait until it is done, so an
        interruption never lands between two renames."""
        import signal

        blocked = {signal.SIGINT, signal.SIGTERM}
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            self._commit()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)

    def _commit(self) -> None:
        if self.tmpdir is not None:
            _fsync_dir(self.tmpdir)
            old = None
            if self.dst.exists():
                old = self.parent / f".{self.dst.name}{TMP_MARK}{self.token}.old"
                os.replace(self.dst, old)
            os.replace(self.tmpdir, self.dst)
            self.tmpdir = None
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        else:
            for tmp, final in self.files:
                os.replace(tmp, final)
            self.files = []
        _fsync_dir(self.parent)
        self.done = True

    def abort(self) -> None:
        if self.done:
            return
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        for tmp, _ in self.files:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
        self.files = []
