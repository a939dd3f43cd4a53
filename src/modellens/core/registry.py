"""A registry of specs contributed by the modules of one package.

``formats/`` and ``layouts/`` each keep one: a module registers its spec when imported, and the
package imports all of its modules the first time the registry is read, so adding a format or
a layout is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Generic, Iterable, Protocol, TypeVar


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
            self._loaded = True
            for mod in pkgutil.iter_modules(self._path):
                if not mod.name.startswith("_"):
                    importlib.import_module(f"{self._package}.{mod.name}")
        return self._specs
