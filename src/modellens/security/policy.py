"""The pickle policy: which globals honest files use, which ones run code — kept as data.

The tables live in ``modellens/data/scan_policy.json`` (loaded once) and are extended by the
user (``--allow module.name``, ``--allow-file``).  A global is judged by

1. the user's allowlist (wins over everything: the user said so, and the report says it too);
2. exact entries (``builtins.eval``): deny before allow;
3. wildcard entries (``os.*``, ``torch._utils._rebuild_*``): the longest literal prefix wins,
   deny wins ties;
4. a dangerous *name* in any module (``system``, ``Popen``, ``load`` …) — modules re-export what
   they import, so ``somepkg.util.Popen`` is ``subprocess.Popen``;
5. otherwise unknown: suspicious.

Allowed entries carry a mode (``call`` ⊇ ``class`` ⊇ ``reference``) that says how the global may
be used: a class of a curated ML library may be instantiated and given its state, but a
lower-case function of the same library called with arguments is not vouched for.
Dotted names (``numpy`` ``core._internal.sys.modules``) are an attribute walk done by
``find_class``; they match exact entries only, and a walk through a dunder or an interpreter
module is dangerous.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from ..core.errors import ModelLensError
from ..core.packaged import data_json

__all__ = ["Policy", "Judgement", "load_policy", "default_policy", "read_allow_file", "MODES"]

MODES = ("reference", "class", "call")
_RANK = {m: i for i, m in enumerate(MODES)}


@dataclass(frozen=True)
class Judgement:
    """What the policy says about one global."""

    status: str  # "allow" | "deny" | "unknown"
    mode: str = ""  # for allow: reference | class | call
    reason: str = ""  # for deny: why it is dangerous
    rule: str = ""  # the policy entry that decided
    user: bool = False  # decided by the user's allowlist

    def permits(self, use: str) -> bool:
        return self.status == "allow" and _RANK[self.mode] >= _RANK[use]


@dataclass(frozen=True)
class _Entry:
    pattern: str
    status: str
    mode: str
    reason: str
    prefix_len: int


def _wild_order(e: _Entry) -> tuple[int, bool]:
    """Wildcards are tried longest prefix first, a deny before an allow of the same length."""
    return -e.prefix_len, e.status != "deny"


def _entry(pattern: str, status: str, mode: str = "", reason: str = "") -> _Entry:
    star = pattern.find("*")
    return _Entry(pattern, status, mode, reason, len(pattern) if star < 0 else star)


@dataclass
class Policy:
    exact: dict[str, _Entry] = field(default_factory=dict)
    wild: list[_Entry] = field(default_factory=list)
    user: list[_Entry] = field(default_factory=list)
    class_call: re.Pattern = re.compile(r"^[A-Z]")
    higher_order: dict[str, dict[int, str]] = field(default_factory=dict)
    nested_loaders: dict[str, str] = field(default_factory=dict)
    dangerous_names: frozenset[str] = frozenset()
    dangerous_attributes: frozenset[str] = frozenset()
    container_only: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "builtin"

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def from_data(cls, data: dict[str, Any], source: str) -> "Policy":
        p = cls(source=source)
        for mode in MODES:
            for pat in data.get("allow", {}).get(mode, []):
                p._add(_entry(pat, "allow", mode))
        for pat, reason in data.get("deny", {}).items():
            p._add(_entry(pat, "deny", reason=reason))
        p.wild.sort(key=_wild_order)
        p.class_call = re.compile(data.get("class_call_names", r"^[A-Z]"))
        p.higher_order = {k: {int(i): m for i, m in v.items()}
                          for k, v in data.get("higher_order", {}).items()}
        p.nested_loaders = dict(data.get("nested_loaders", {}))
        p.dangerous_names = frozenset(data.get("dangerous_names", ()))
        p.dangerous_attributes = frozenset(data.get("dangerous_attributes", ()))
        p.container_only = {k: tuple(v) for k, v in data.get("container_only", {}).items()}
        return p

    def _add(self, e: _Entry) -> None:
        if "*" not in e.pattern:
            old = self.exact.get(e.pattern)
            # deny before allow; among allows keep the widest mode
            if old is None or (e.status == "deny") or (
                    old.status == "allow" and _RANK[e.mode] > _RANK[old.mode]):
                self.exact[e.pattern] = e
        else:
            self.wild.append(e)  # from_data sorts them once, longest prefix first

    def with_user_allow(self, patterns: Iterable[str]) -> "Policy":
        """A copy that also allows ``patterns`` (``module.name`` or ``module.*``) in call mode."""
        pats = [p.strip() for p in patterns if p and p.strip()]
        for pat in pats:
            if "." not in pat or any(c.isspace() for c in pat):
                raise ModelLensError(f"--allow {pat!r}: expected module.name or module.*")
        q = Policy(dict(self.exact), list(self.wild), list(self.user), self.class_call,
                   self.higher_order, self.nested_loaders, self.dangerous_names,
                   self.dangerous_attributes, self.container_only, self.source)
        q.user = [*self.user, *(_entry(p, "allow", "call", "user allowlist") for p in pats)]
        return q

    @property
    def custom(self) -> tuple[str, ...]:
        return tuple(e.pattern for e in self.user)

    # -- judging ------------------------------------------------------------------------------
    def judge(self, module: str, name: str, container: str | None = None) -> Judgement:
        return _judge_cached(self, module, name, container)

    def _judge(self, module: str, name: str, container: str | None) -> Judgement:
        qual = f"{module}.{name}"
        dotted = "." in name
        for e in self.user:
            if _match(e, qual, module, name, dotted):
                return Judgement("allow", e.mode, rule=e.pattern, user=True)
        e = self.exact.get(qual)
        if e is not None and self._container_ok(e, container):
            return self._of(e)
        if not dotted and name.startswith("__") and name.endswith("__") and \
                name in self.dangerous_attributes:  # numpy.__builtins__, x.__dict__ …
            return Judgement("deny", reason=f"interpreter internals ({name})", rule="dotted-attribute")
        deny_wild = None
        for w in self.wild:
            if w.status == "deny" and _match_module(w, module, qual):
                deny_wild = w
                break
        for w in self.wild:
            if _match(w, qual, module, name, dotted) and self._container_ok(w, container):
                if deny_wild is not None and deny_wild.prefix_len >= w.prefix_len:
                    return self._of(deny_wild)
                if w.status == "allow" and not dotted and name in self.dangerous_names:
                    return Judgement("deny", reason=f"'{name}' is a dangerous name (re-exported?)",
                                     rule=f"*.{name}")
                return self._of(w)
        if deny_wild is not None:
            return self._of(deny_wild)
        parts = name.split(".")
        if dotted:
            bad = [p for p in parts if p in self.dangerous_attributes
                   or (p.startswith("__") and p.endswith("__"))]
            if bad:
                return Judgement("deny", reason=f"attribute walk through {'.'.join(bad)}",
                                 rule="dotted-attribute")
            for i in range(1, len(parts)):  # the walk may pass through a denied module object
                j = self._judge(module, ".".join(parts[:i]), container) if i > 1 else \
                    self._judge(module, parts[0], container)
                if j.status == "deny":
                    return Judgement("deny", reason=f"attribute walk from {module}.{parts[0]}: "
                                     f"{j.reason}", rule=j.rule)
        if parts[-1] in self.dangerous_names:
            return Judgement("deny", reason=f"'{parts[-1]}' is a dangerous name", rule=f"*.{parts[-1]}")
        return Judgement("unknown")

    def _container_ok(self, e: _Entry, container: str | None) -> bool:
        only = self.container_only.get(e.pattern)
        return only is None or (container in only)

    @staticmethod
    def _of(e: _Entry) -> Judgement:
        return Judgement(e.status, e.mode, e.reason, e.pattern)


def _match_module(e: _Entry, module: str, qual: str) -> bool:
    """Deny wildcards cover the whole module tree, dotted names included."""
    pat = e.pattern
    if pat.endswith(".*") and "*" not in pat[:-2]:
        base = pat[:-2]
        return module == base or module.startswith(base + ".")
    return fnmatchcase(qual, pat)


def _match(e: _Entry, qual: str, module: str, name: str, dotted: bool) -> bool:
    if e.status == "deny":
        return _match_module(e, module, qual)
    if dotted:  # attribute walks are vouched for only by exact entries
        return qual == e.pattern
    pat = e.pattern
    if pat.endswith(".*") and "*" not in pat[:-2]:
        base = pat[:-2]
        return module == base or module.startswith(base + ".")
    return fnmatchcase(qual, pat) and "." not in name


@lru_cache(maxsize=65536)
def _judge_cached(policy: Policy, module: str, name: str, container: str | None) -> Judgement:
    return policy._judge(module, name, container)


Policy.__hash__ = object.__hash__  # type: ignore[assignment] - identity: cached per instance
Policy.__eq__ = object.__eq__  # type: ignore[assignment]


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    return Policy.from_data(data_json("scan_policy.json"), "builtin")


def read_allow_file(path: str | Path) -> list[str]:
    """Allow patterns from a file: JSON or TOML (``allow = [...]``, also under ``[scan]``) or
    plain text, one pattern a line (``#`` comments)."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as e:
        raise ModelLensError(f"{p}: cannot read the allowlist ({e.strerror})") from e
    data: Any = None
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ModelLensError(f"{p}: not valid JSON ({e})") from e
    elif p.suffix == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except ValueError as e:
            raise ModelLensError(f"{p}: not valid TOML ({e})") from e
    if data is None:
        return [ln.split("#", 1)[0].strip() for ln in text.splitlines()
                if ln.split("#", 1)[0].strip()]
    if isinstance(data, dict) and isinstance(data.get("scan"), dict):
        data = data["scan"]
    allow = data.get("allow") if isinstance(data, dict) else data
    if isinstance(allow, dict):  # {"call": [...], ...} like the builtin policy
        allow = [x for v in allow.values() if isinstance(v, list) for x in v]
    if not isinstance(allow, list) or not all(isinstance(x, str) for x in allow):
        raise ModelLensError(f"{p}: expected 'allow' to be a list of 'module.name' strings")
    return allow


def load_policy(allow: Iterable[str] = (), allow_files: Iterable[str | Path] = ()) -> Policy:
    pats = list(allow)
    for f in allow_files:
        pats += read_allow_file(f)
    base = default_policy()
    return base.with_user_allow(pats) if pats else base
