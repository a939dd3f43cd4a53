"""Judging a pickle by walking its opcodes: what it imports, what it calls, how.

``core.pickle_vm`` walks the stream exactly as CPython's C unpickler reads it and reports every
global, call, BUILD, persistent id and anomaly with its offset.  Here each of them is judged
against the :class:`~.policy.Policy`:

* a global that is denied is **dangerous**, one that is not allowlisted **suspicious**;
* a call is judged by its callable *and* the way it is called: an allowlisted class may be
  instantiated (``NEWOBJ``, ``copyreg._reconstructor``) and given its state (``BUILD``), but
  calling a function the allowlist only vouches for as a class or a reference is suspicious;
  higher-order reconstructors (``_rebuild_from_type_v2(func, …)``) have their callable
  arguments judged too;
* a callable computed at load time (a call of a call, a ``getattr`` chain), a ``STACK_GLOBAL``
  whose operands are not literal strings, ``BUILD`` on an imported module / class / function
  (attribute overwrite) and slot state that sets dunder attributes are **dangerous**;
* everything the C unpickler would read differently, or reject (``pickle_vm`` anomalies), is
  suspicious, and a stream that cannot be parsed is an **error**, never safe;
* byte strings inside the pickle that are pickles themselves are walked and judged in turn, and
  nested loaders the allowlist tolerates (``torch.storage._load_from_bytes``) have their bytes
  scanned as a file.
"""

from __future__ import annotations

import math
from typing import Any

from ..core.pickle_tree import summarize
from ..core.pickle_vm import (
    Blob, Build, Call, Ext, Global, HookResult, OutOfBand, PersistentId, PickleResult, walk,
    walk_stream,
)
from .context import ScanContext, join_member
from .findings import Severity

__all__ = ["scan_pickle_stream", "judge", "joblib_hook", "looks_like_pickle", "PICKLE_START"]

S, D, E, I = Severity.SUSPICIOUS, Severity.DANGEROUS, Severity.ERROR, Severity.INFO
ENCODING = "latin-1"  # decodes every Python 2 STRING, so the globals it spells are seen
MAX_NESTED = 64
_WRAPPERS = {("joblib.numpy_pickle", "NumpyArrayWrapper"),
             ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper")}
# first bytes of a protocol 0/1 pickle: the opcodes a pickler starts with
PICKLE_START = frozenset(b"(]}cilNIKJFSVXUTdptC)GLMP\x80")


def looks_like_pickle(head: bytes) -> bool:
    """A cheap first look: PROTO 0-5, or a protocol-0/1 opening opcode."""
    if len(head) < 2:
        return False
    if head[0] == 0x80:
        return head[1] <= 5
    return head[0] in PICKLE_START


# -- joblib: raw array bytes between pickle opcodes --------------------------------------------

def _key(g: Any) -> tuple[Any, Any]:
    return (g.module, g.name) if isinstance(g, Global) and not g.obfuscated else (None, None)


def _state_dict(node: Any) -> dict:
    st = node.state if isinstance(node, Call) else None
    if type(st) is tuple and len(st) == 2 and type(st[1]) is dict:
        return {**(st[0] if type(st[0]) is dict else {}), **st[1]}
    return st if type(st) is dict else {}


def _itemsize(dt: Any) -> tuple[int, bool]:
    """(item size, holds objects) of a pickled ``numpy.dtype`` call, without importing anything
    it names; raises ValueError when it cannot tell."""
    import numpy as np

    if not (isinstance(dt, Call) and type(dt.args) is tuple and dt.args):
        raise ValueError("dtype is not a numpy.dtype call")
    descr = dt.args[0]
    if type(descr) is bytes:
        descr = descr.decode("latin-1")
    if type(descr) is not str or len(descr) > 40:
        raise ValueError(f"dtype descriptor {descr!r}")
    st = dt.state
    flags = st[7] if type(st) is tuple and len(st) > 7 and type(st[7]) is int else 0
    if descr[:1] == "O":
        return 8, True
    if descr[:1] in ("V", "U", "S", "a") and type(st) is tuple and len(st) > 5 \
            and type(st[5]) is int and st[5] > 0:
        return st[5], bool(flags & 1)
    return np.dtype(descr).itemsize, bool(flags & 1)  # parses a type code, imports nothing


def joblib_hook(name: str) -> Any:
    """Skip the raw bytes joblib writes after each ``NumpyArrayWrapper`` (any dtype, structured
    ones included); object arrays are a nested pickle, walked in place."""

    def hook(obj: Any, pos: int, data: Any) -> HookResult | None:
        if type(obj) is not Call or _key(obj.func) not in _WRAPPERS:
            return None
        st = _state_dict(obj)
        try:
            shape = st.get("shape")
            if type(shape) is int:
                shape = (shape,)
            if type(shape) not in (tuple, list) or not all(type(x) is int and x >= 0 for x in shape):
                raise ValueError("shape")
            size, hasobj = _itemsize(st.get("dtype"))
        except (ValueError, TypeError):
            return None  # the bytes are then read as opcodes: the walk reports what it finds
        if hasobj:
            r = walk(data, name=name, start=pos, strict=False, encoding=ENCODING,
                     on_build=hook)
            return HookResult(obj, r.end if r.ok else pos, tuple(r.events))
        if st.get("numpy_array_alignment_bytes") is not None:
            if pos >= len(data):
                return None
            pos += 1 + data[pos]
        n = math.prod(shape) * size
        return HookResult(obj, pos + n)

    return hook


# -- walking ----------------------------------------------------------------------------------

def scan_pickle_stream(ctx: ScanContext, data: Any, member: str | None, *, start: int = 0,
                       end: int | None = None, max_pickles: int = 1024,
                       trailing: str = "suspicious", container: str | None = None) -> list[PickleResult]:
    """Walk every pickle from ``start`` (``pickle.dump`` called several times, or data after
    STOP) and judge them.  ``trailing``: how bytes after the last pickle that are not a pickle
    are reported ("suspicious", "info" or "ignore")."""
    stop = len(data) if end is None else end
    results = walk_stream(data, name=ctx.path, start=start, end=stop, strict=False,
                          encoding=ENCODING, on_build=joblib_hook(ctx.path),
                          max_pickles=max_pickles)
    for i, r in enumerate(results):
        if i and not r.ok and not r.events and r.end == r.start:
            # not a pickle at all: bytes after STOP
            if trailing != "ignore":
                sev = S if trailing == "suspicious" else I
                ctx.add(sev, "pickle.trailing-data",
                        f"{stop - r.start} bytes after the last STOP are not a pickle "
                        "(pickle.load ignores them; another loader may not)", member, r.start)
            results = results[:i]
            break
        judge(ctx, r, member, container=container, index=i)
    if len(results) > 1:
        ctx.add(I, "pickle.multiple-streams",
                f"{len(results)} pickles in a row (pickle.load reads the first, torch/joblib "
                "loaders more); every one was scanned", member, results[1].start)
    if len(results) >= max_pickles and results[-1].ok and results[-1].end < stop:
        ctx.add(E, "pickle.limit", f"more than {max_pickles} pickles in a row; the rest was not "
                "scanned", member, results[-1].end)
    return results


def judge(ctx: ScanContext, r: PickleResult, member: str | None, *,
          container: str | None = None, index: int = 0, nested_depth: int = 0) -> None:
    pol = ctx.policy
    used: dict[str, dict] = {}
    call_nodes: list[Call] = []

    def note(g: Global, offset: int, opcode: str, use: str | None) -> None:
        u = used.get(g.qualname)
        if u is None:
            u = used[g.qualname] = {"g": g, "offset": offset, "opcode": opcode, "uses": set(),
                                    "call_offset": None}
        if use is not None:
            u["uses"].add(use)
            if use == "call" and u["call_offset"] is None:
                u["call_offset"] = offset

    for e in r.events:
        k = e.kind
        if k == "global":
            g = e.target
            if g.obfuscated:
                ctx.add(D, "pickle.obfuscated-global",
                        "STACK_GLOBAL operands are computed, not literal strings: the imported "
                        "name is hidden until load time", member, e.offset, e.opcode)
            else:
                note(g, e.offset, e.opcode, None)
        elif k == "call":
            f = e.target
            if isinstance(f, Global) and not f.obfuscated:
                name = str(f.name)
                if e.detail in ("newobj", "newobj_ex"):
                    use = "class"
                elif pol.class_call.search(name.rsplit(".", 1)[-1]):
                    use = "class"
                else:
                    use = "call"
                note(f, e.offset, e.opcode, use)
            elif isinstance(f, Global):
                pass  # reported as an obfuscated global
            elif isinstance(f, (Call, Build)):
                what = f.func.qualname if isinstance(f, Call) and isinstance(f.func, Global) \
                    else type(f).__name__
                ctx.add(D, "pickle.computed-callable",
                        f"calls the result of another call ({what}): a callable computed at "
                        "load time (getattr / attrgetter chain)", member, e.offset, e.opcode)
            elif isinstance(f, (Ext, PersistentId, OutOfBand)):
                ctx.add(S, "pickle.indirect-callable",
                        f"calls a {type(f).__name__} resolved by the loading process", member,
                        e.offset, e.opcode)
            else:
                ctx.add(S, "pickle.anomaly", f"calls a {type(f).__name__} (CPython raises)",
                        member, e.offset, e.opcode)
            if isinstance(e.node, Call):
                call_nodes.append(e.node)
        elif k == "build":
            b = e.node
            if isinstance(b, Build) and isinstance(b.obj, Global):
                ctx.add(D, "pickle.build-on-global",
                        f"BUILD sets attributes on the imported object {b.obj.qualname} itself "
                        "(rewires a module / class / function for later calls)", member,
                        e.offset, e.opcode)
            elif isinstance(b, Build) and isinstance(b.obj, (PersistentId, Ext, OutOfBand, Build)):
                ctx.add(S, "pickle.anomaly", f"BUILD on a {type(b.obj).__name__}", member,
                        e.offset, e.opcode)
        elif k == "persid":
            v = e.target.value if isinstance(e.target, PersistentId) else None
            if container in ("pytorch-zip", "pytorch-legacy", "torchscript") and \
                    type(v) is tuple and v and v[0] in ("storage", b"storage"):
                continue
            ctx.add(S, "pickle.persistent-id",
                    f"persistent id {summarize(v, 80)!r}: the loader's persistent_load decides "
                    "what it becomes", member, e.offset, e.opcode)
        elif k == "ext":
            ctx.add(S, "pickle.extension-code",
                    f"extension code {e.target.code}: resolved through copyreg's registry of "
                    "the loading process", member, e.offset, e.opcode)
        elif k == "buffer":
            ctx.add(S, "pickle.out-of-band",
                    "out-of-band buffer (protocol 5): the loader must supply it", member,
                    e.offset, e.opcode)
        elif k == "anomaly":
            ctx.add(S, "pickle.anomaly", f"{e.detail} — no pickler writes this; the stream "
                    "was crafted", member, e.offset, e.opcode)

    for q, u in used.items():
        g = u["g"]
        j = pol.judge(str(g.module), str(g.name), container)
        called = " and calls it" if "call" in u["uses"] else (
            " and instantiates it" if "class" in u["uses"] else "")
        off = u["call_offset"] if u["call_offset"] is not None else u["offset"]
        if j.status == "deny":
            ctx.add(D, "pickle.dangerous-global", f"imports {q}{called} — {j.reason}",
                    member, off, u["opcode"])
        elif j.status == "unknown":
            ctx.add(S, "pickle.unknown-global",
                    f"imports {q}{called}: not on the allowlist (the loader imports it; its "
                    "code runs if called)", member, off, u["opcode"])
        else:
            need = "call" if "call" in u["uses"] else "class" if "class" in u["uses"] else "reference"
            if q in pol.nested_loaders:
                need = "reference"  # judged call by call below
            if not j.permits(need):
                ctx.add(S, "pickle.unvouched-call",
                        f"{q} is allowlisted as a {j.mode} only, but the pickle "
                        f"{'calls it with arguments' if need == 'call' else 'instantiates it'}",
                        member, off, u["opcode"])
            if j.user:
                ctx.add(I, "policy.custom-allow", f"{q} allowed by the custom allowlist "
                        f"({j.rule})", member, u["offset"], u["opcode"])

    for c in call_nodes:
        _judge_call(ctx, c, member, container)
    _scan_hidden(ctx, r, call_nodes, member, container, nested_depth)
    if r.error is not None:
        rule = "pickle.limit" if r.error.limit else "pickle.parse-error"
        ctx.add(E, rule, f"pickle #{index + 1} cannot be fully parsed: {r.error.message} "
                "(the unpickler would stop or act here; the rest is unscanned)", member,
                r.error.offset)


def _judge_call(ctx: ScanContext, c: Call, member: str | None, container: str | None) -> None:
    pol = ctx.policy
    g = c.callable
    q = g.qualname if g is not None else None
    args = c.args if type(c.args) is tuple else ()
    if q is not None and q in pol.higher_order:
        for i, mode in pol.higher_order[q].items():
            if i >= len(args):
                continue
            a = args[i]
            if isinstance(a, Global) and not a.obfuscated:
                j = pol.judge(str(a.module), str(a.name), container)
                if j.status == "allow" and not j.permits(mode):
                    ctx.add(S, "pickle.unvouched-call",
                            f"{a.qualname} is passed to {q}, which "
                            f"{'calls' if mode == 'call' else 'instantiates'} it, but it is "
                            f"allowlisted as a {j.mode} only", member, c.offset, "REDUCE")
            elif isinstance(a, (Call, Build)):
                ctx.add(D, "pickle.computed-callable",
                        f"{q} is given a callable computed at load time", member, c.offset)
    if q is not None and q in pol.nested_loaders:
        blob = args[0] if args else None
        if isinstance(blob, (bytes, bytearray, Blob)) and ctx.scan_blob is not None:
            ctx.add(I, "pickle.nested-loader", f"{q}: {pol.nested_loaders[q]}; its "
                    f"{len(blob)} bytes were scanned as a file", member, c.offset)
            if ctx.depth < 4:
                raw = blob.tobytes() if isinstance(blob, Blob) else bytes(blob)
                sub = join_member(member, f"<{q.rsplit('.', 1)[-1]}@{c.offset}>")
                ctx.depth += 1
                try:
                    ctx.scan_blob(ctx, raw, sub, "nested")
                finally:
                    ctx.depth -= 1
        else:
            ctx.add(D, "pickle.dangerous-global", f"{q} loads {summarize(blob, 60)!r}, which "
                    "is not literal bytes that could be scanned", member, c.offset)
    for st in c.states or ():
        if type(st) is tuple and len(st) == 2 and type(st[1]) is dict:
            bad = [k for k in st[1] if type(k) is str and k.startswith("__")]
            if bad:
                ctx.add(D, "pickle.build-dunder",
                        f"BUILD sets {', '.join(sorted(bad)[:4])} with setattr on a "
                        f"{q or 'computed object'} (rewires the object)", member, c.offset)


_LEAVES = frozenset({int, float, bool, type(None), complex, Global})
_TENSOR_REBUILDERS = frozenset({"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3"})


def _children(v: Any) -> list[Any]:
    t = type(v)
    if t in (list, tuple, set, frozenset):
        return list(v)
    if t is dict:
        return [*v.keys(), *v.values()]
    if t is Call:
        out = [v.func, v.args, v.kwargs, v.data]
        for part in (v.states, v.listitems, v.setitems):
            if part:
                out.extend(part)
        if v.dictitems:
            out.extend(x for kv in v.dictitems for x in kv)
        return out
    if t is Build:
        return [v.obj, v.state]
    if t is PersistentId:
        return [v.value]
    return []


def _scan_hidden(ctx: ScanContext, r: PickleResult, call_nodes: list[Call], member: str | None,
                 container: str | None, depth: int) -> None:
    """Byte strings that are pickles themselves (a nested ``pickle.loads`` payload)."""
    loaders = ctx.policy.nested_loaders
    skip = set()  # the blobs nested loaders get were scanned by _judge_call
    for c in call_nodes:
        f = c.func
        if type(f) is Global and not f.obfuscated and type(c.args) is tuple and c.args \
                and f"{f.module}.{f.name}" in loaders:
            skip.add(id(c.args[0]))
    budget = 200_000
    seen: set[int] = set()
    todo: list[Any] = [r.value, *call_nodes]
    found = 0
    while todo and budget > 0 and found < MAX_NESTED:
        v = todo.pop()
        budget -= 1
        t = type(v)
        if t in (bytes, bytearray, Blob, str):
            if len(v) < 8 or id(v) in skip:
                continue
            if t is Blob:
                raw, lo, hi = v._data, v.offset, v.offset + v.length
                if not looks_like_pickle(bytes(raw[lo : lo + 2])):
                    continue
            elif t is str:  # a tensor name, mostly: look at its head before encoding it all
                if not looks_like_pickle(v[:2].encode("latin-1", "replace")):
                    continue
                raw = v.encode("latin-1", "replace")
                lo, hi = 0, len(raw)
            else:
                if not looks_like_pickle(bytes(v[:2])):
                    continue
                raw, lo, hi = bytes(v), 0, len(v)
            sub = walk_stream(raw, name=ctx.path, start=lo, end=hi, strict=False,
                              encoding=ENCODING, max_pickles=8)
            if not sub or not (sub[0].ok or any(x.kind == "global" for x in sub[0].events)):
                continue
            if not any(x.kind in ("global", "call") for s in sub for x in s.events):
                continue  # plain data that happens to be a pickle: nothing to run
            found += 1
            where = join_member(member, f"<nested pickle #{found}>")
            ctx.add(I, "pickle.nested-pickle",
                    f"a {hi - lo}-byte string inside the pickle is itself a pickle with "
                    "imports (run by whoever unpickles it); its content was judged", where, 0)
            if depth < 3:
                for i, s in enumerate(sub):
                    judge(ctx, s, where, container=container, index=i, nested_depth=depth + 1)
            continue
        if t in (list, tuple, set, frozenset, dict, Call, Build, PersistentId):
            if id(v) in seen:
                continue
            seen.add(id(v))
            f = v.func if t is Call else None
            if type(f) is Global and not f.obfuscated and f.module == "torch._utils" \
                    and f.name in _TENSOR_REBUILDERS:
                # torch's tensor rebuilders take a storage, sizes and strides: nothing they are
                # given is ever unpickled, so a thousand-tensor checkpoint is not walked twice
                continue
            # numbers, None, globals …: nothing inside can be a pickle; not queued at all
            todo.extend(c for c in _children(v) if type(c) not in _LEAVES)
