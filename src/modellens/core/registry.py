"""A registry of specs contributed by the modules of one package.

``formats/`` and ``layouts/`` each keep one: a module registers its spec when imported, and the
package imports all of its modules the first time the registry is read, so adding a format or
a layout is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Generic, Iterable, Iterator, Protocol, TypeVar


class _Spec(Protocol):
    id: str


T = TypeVar("T", bound=_Spec)

__all__ = ["Registry"]


class Registry(Generic[T]):
    def __init__(self, package: str, path: Iterable[str], kind: str):
        self._package = package
        self._path = list(path)
        self._kind = kind
        self._specs: dict[str, T] = {}
        self._loaded = False

    def register(self, spec: T) -> T:
        if spec.id in self._specs:
            raise ValueError(f"{self._kind} {spec.id!r} registered twice")
        self._specs[spec.id] = spec
        return spec

    def all(self) -> dict[str, T]:
        if not self._loaded:
            for _ in self.progressive():
                pass
        return self._specs

    def progressive(self, first: tuple[str, ...] = ()) -> Iterator[T]:
        """Every spec, importing the modules as it goes: those already imported, then the
        modules named in ``first``, then the rest.  A caller that finds its answer early (a
        magic-byte match) stops before importing modules it does not need."""
        seen: set[str] = set()

        def fresh() -> Iterator[T]:
            for spec_id in list(self._specs):
                if spec_id not in seen:
                    seen.add(spec_id)
                    yield self._specs[spec_id]

        yield from fresh()
        if self._loaded:
            return
        names = [m.name for m in pkgutil.iter_modules(self._path) if not m.name.startswith("_")]
        for name in [n for n in first if n in names] + [n for n in names if n not in first]:
            importlib.import_module(f"{self._package}.{name}")
            yield from fresh()
        self._loaded = True
