"""Which pickled checkpoints convert may read: the globals their pickles name.

A converter never executes the source, so a hostile pickle cannot run here.  It is still
refused: a checkpoint that names ``os.system`` or ``builtins.eval`` is an attack, not a model,
and shipping its tensors as "safe" safetensors would launder it.  What a plain checkpoint needs
is small and known (tensor rebuild functions, storages, ``OrderedDict``); a whole pickled module
adds its ``torch.nn`` layer classes and ``copyreg``'s object reconstruction.  Anything else must
be named by the user (``--trust-globals module.name,…``; ``module.*`` trusts a module).

When the scanner (``modellens.security``) is installed its verdict is asked first: a file it
finds dangerous is refused with its finding even if every global is on this list.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Iterable

from ..core.errors import ModelLensError, UnsafeError

__all__ = ["ALLOWED_GLOBALS", "PICKLE_FORMATS", "untrusted_globals", "check_source"]

PICKLE_FORMATS = ("pytorch-zip", "pytorch-legacy", "torchscript", "pickle", "joblib")

# Patterns of ``module.name``; '*' spans dots.  Policy is data (STYLE.md 8).
ALLOWED_GLOBALS: tuple[str, ...] = (
    # tensors and storages
    "torch._utils._rebuild_*",
    "torch._tensor._rebuild_from_type*",
    "torch.*Storage",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "torch.Size",
    "torch.device",
    "torch.Tensor",
    "torch.nn.parameter.Parameter",
    "torch.nn.parameter.Buffer",
    "torch.serialization._get_layout",
    "torch.float*", "torch.bfloat16", "torch.half", "torch.double", "torch.int*", "torch.uint*",
    "torch.bool", "torch.long", "torch.short", "torch.complex*",
    # plain data
    "collections.OrderedDict",
    "builtins.set", "builtins.frozenset", "builtins.bytearray", "builtins.bytes",
    "builtins.object", "__builtin__.set", "__builtin__.object",
    "_codecs.encode",
    # a pickled nn.Module: object.__new__(cls) then __setstate__ of torch's own layers
    "copyreg._reconstructor", "copy_reg._reconstructor",
    "torch.nn.modules.*",
    # numpy arrays (pickle / joblib sources)
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer",
    "numpy.ndarray", "numpy.dtype", "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar", "numpy.dtypes.*",
    "joblib.numpy_pickle.NumpyArrayWrapper",
)


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def untrusted_globals(names: Iterable[str], trusted: Iterable[str] = (),
                      fmt: str | None = None) -> list[str]:
    """The globals of ``names`` neither allowed by default nor trusted by the user."""
    trusted = tuple(trusted)
    out = []
    for n in names:
        if fmt == "torchscript" and n.startswith("__torch__."):
            continue  # the archive's own compiled classes; their code is never run here
        if not _matches(n, ALLOWED_GLOBALS) and not _matches(n, trusted):
            out.append(n)
    return sorted(set(out))


def _scanner_verdict(path: str, trusted: tuple[str, ...]) -> tuple[bool, str] | None:
    """(dangerous, first finding) from ``modellens.security.scan_path`` (with the user's trusted
    globals as its allowlist), or None when the scanner is not installed."""
    try:
        from ..security import scan_path  # optional: written separately
    except ImportError:
        return None
    report = scan_path(path, allow=trusted)
    verdict = _field(report, "verdict")
    if verdict is None:
        return None
    verdict = str(getattr(verdict, "name", verdict)).lower()
    first = ""
    for f in _field(report, "findings") or ():
        sev = _field(f, "severity")
        if str(getattr(sev, "name", sev)).lower() == "dangerous" or not first:
            first = str(_field(f, "message") or f)
    return verdict == "dangerous", first


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def check_source(path: str, fmt: str | None, globals_: Iterable[str],
                 trusted: Iterable[str] = ()) -> list[str]:
    """Raise UnsafeError for a pickled source that names untrusted globals; return warnings."""
    if fmt not in PICKLE_FORMATS:
        return []
    trusted = tuple(trusted)
    bad = untrusted_globals(globals_, trusted, fmt)
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise UnsafeError(
            f"{path}: refusing to convert: the pickle calls {shown}, which a checkpoint does not "
            f"need (nothing was executed or written; if you trust the file, pass "
            f"--trust-globals {','.join(bad[:5])})")
    warnings: list[str] = []
    try:
        verdict = _scanner_verdict(path, trusted)
    except ModelLensError:
        raise
    except Exception as e:  # noqa: BLE001 - a scanner bug must not block the allowlist check
        warnings.append(f"the scanner failed ({type(e).__name__}: {e}); the global allowlist "
                        "was checked instead")
        verdict = None
    if verdict is not None and verdict[0]:
        raise UnsafeError(f"{path}: refusing to convert: the scanner finds it dangerous"
                          + (f" ({verdict[1]})" if verdict[1] else "")
                          + "; nothing was executed or written")
    return warnings
