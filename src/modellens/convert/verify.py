"""``--verify``: read the written files back and compare every tensor, bit for bit, with the
source after the declared cast.  Runs on the staged files, before they are renamed into place:
a mismatch leaves nothing behind.

The outputs are read the way any source is (:func:`.source.open_output`: modellens' own
readers, views over the mapped files), so the check does not trust the writer's bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import ModelLensError
from .plan import PlannedTensor
from .source import SourceTensor
from .stream import Progress, blocks

__all__ = ["Verification", "VerificationError", "verify_outputs"]


class VerificationError(ModelLensError):
    """The output differs from the source; nothing was kept."""


@dataclass(frozen=True)
class Verification:
    tensors: int
    bytes: int
    ok: bool
    first_mismatch: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "tensors": self.tensors, "bytes": self.bytes,
                "first_mismatch": self.first_mismatch}


def _compare(t: PlannedTensor, out: SourceTensor) -> str | None:
    import numpy as np

    if out.dtype != t.dtype or tuple(out.shape) != tuple(t.shape):
        return (f"tensor {t.name!r}: written as {out.dtype} {list(out.shape)}, expected "
                f"{t.dtype} {list(t.shape)}")
    if not t.nbytes:
        return None
    arr = np.ascontiguousarray(out.read())
    flat = arr.reshape(-1).view(np.uint8)
    if flat.size != t.nbytes:
        return f"tensor {t.name!r}: {flat.size} bytes written, expected {t.nbytes}"
    pos = 0
    try:
        for b in blocks(t):
            got = flat[pos : pos + len(b)]
            if len(got) != len(b) or not np.array_equal(got, b):
                n = min(len(got), len(b))
                diff = np.flatnonzero(got[:n] != b[:n])
                at = pos + (int(diff[0]) if len(diff) else n)
                return (f"tensor {t.name!r} differs at byte {at} "
                        f"(element {at // max(1, arr.dtype.itemsize)})")
            pos += len(b)
    finally:
        t.src.release()
        out.release()
    return None


def verify_outputs(tensors: list[PlannedTensor], outputs: list[SourceTensor],
                   progress: Progress | None = None) -> Verification:
    """Compare the planned ``tensors`` with the ``outputs`` read back from the written files."""
    located: dict[str, SourceTensor] = {}
    for o in outputs:
        if o.name in located:
            return Verification(0, 0, False, f"tensor {o.name!r} is written twice")
        located[o.name] = o
    extra = sorted(set(located) - {t.name for t in tensors})
    if extra:
        return Verification(0, 0, False, f"unexpected tensor {extra[0]!r} in the output")
    checked = nbytes = 0
    for t in tensors:
        out = located.get(t.name)
        if out is None:
            return Verification(checked, nbytes, False, f"tensor {t.name!r} is missing")
        msg = _compare(t, out)
        if msg is not None:
            return Verification(checked, nbytes, False, msg)
        checked += 1
        nbytes += t.nbytes
        if progress is not None:
            progress(t.nbytes)
    return Verification(checked, nbytes, True)
