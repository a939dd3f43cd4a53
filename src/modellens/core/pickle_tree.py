"""Reading the symbolic value a pickle walk produced: named leaves, plain metadata, summaries.

A checkpoint is a tree (really a graph: the memo shares nodes, and may close cycles) of dicts,
lists, tuples and symbolic objects (``pickle_vm.Call``).  Readers want two things from it:

* every *tensor* leaf with a dotted name (``optimizer.state.0.exp_avg``), named the way the
  framework would name it — a pickled ``nn.Module`` is named like its ``state_dict()``
  (``fc.weight``, not ``fc._parameters.weight``);
* every subtree that holds no tensor at all (``epoch``, a config dict) as one metadata value.

Everything here is iterative and budgeted: a hostile pickle can build a graph with 2**n paths
or cycles, so each container is expanded a bounded number of times and the total visit count is
capped; summaries stop at a fixed depth and length.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

from .pickle_vm import Blob, Build, Call, Ext, Global, OutOfBand, PersistentId

__all__ = ["children", "flatten", "summarize", "state_dict_of", "Flattened"]

_MODULE_KEYS = ("_parameters", "_buffers", "_modules")
MAX_EXPANSIONS = 4  # how often one shared container is walked under different names


def state_dict_of(node: Any) -> dict | None:
    """The attribute dict BUILD gave an object (``__dict__``, or the dict half of a
    ``(dict, slots)`` state), or None."""
    state = node.state if isinstance(node, (Call, Build)) else None
    if type(state) is tuple and len(state) == 2 and type(state[1]) is dict:
        merged = dict(state[0]) if type(state[0]) is dict else {}
        merged.update(state[1])
        return merged
    return state if type(state) is dict else None


def _dict_pairs(node: Any) -> list[tuple[Any, Any]] | None:
    if type(node) is dict:
        return list(node.items())
    if isinstance(node, Call):
        pairs: list[tuple[Any, Any]] = []
        # OrderedDict([(k, v), ...]) spelled with REDUCE arguments (protocols 0/1, some writers)
        args = node.args
        if (type(args) is tuple and len(args) == 1 and type(args[0]) in (list, tuple)
                and all(type(p) in (list, tuple) and len(p) == 2 for p in args[0])):
            pairs.extend((p[0], p[1]) for p in args[0])
        if node.dictitems:
            pairs.extend(node.dictitems)
        return pairs if pairs or node.dictitems is not None else None
    return None


def children(node: Any) -> list[tuple[str, Any]] | None:
    """Named children of a container, or None for a leaf."""
    t = type(node)
    if t is dict:
        return [(_key(k), v) for k, v in node.items()]
    if t is list or t is tuple:
        return [(str(i), v) for i, v in enumerate(node)]
    if t is Call or t is Build:
        state = state_dict_of(node)
        if state is not None and any(k in state for k in _MODULE_KEYS):
            return _module_children(state)
        pairs = _dict_pairs(node)
        if pairs is not None:
            return [(_key(k), v) for k, v in pairs]
        if t is Call and node.listitems:
            return [(str(i), v) for i, v in enumerate(node.listitems)]
        if state is not None:
            return [(_key(k), v) for k, v in state.items()]
        if t is Call and type(node.state) in (list, tuple):
            return [(str(i), v) for i, v in enumerate(node.state)]
    return None


def _module_children(state: dict) -> list[tuple[str, Any]]:
    """An ``nn.Module``'s ``__dict__`` named like ``state_dict()``: parameters, persistent
    buffers, then submodules (None entries skipped, as ``state_dict`` does)."""
    out: list[tuple[str, Any]] = []
    skip = state.get("_non_persistent_buffers_set")
    skip = skip if isinstance(skip, (set, frozenset)) else set()
    for key in _MODULE_KEYS:
        pairs = _dict_pairs(state.get(key))
        for k, v in pairs or ():
            if v is None or (key == "_buffers" and k in skip):
                continue
            out.append((_key(k), v))
    return out


def _key(k: Any) -> str:
    if type(k) is str:
        return k
    if type(k) in (int, bool, float) or k is None:
        return str(k)
    if type(k) is bytes or type(k) is Blob:
        return bytes(k).decode("utf-8", "replace")
    return summarize_text(k, 80)


class Flattened:
    """Tensor leaves and plain (tensor-free) subtrees of a value, by dotted name."""

    def __init__(self) -> None:
        self.tensors: list[tuple[str, Any]] = []
        self.plain: list[tuple[str, Any]] = []
        self.truncated = False


def flatten(root: Any, is_tensor: Callable[[Any], bool], *, max_visits: int = 10_000_000,
            max_depth: int = 256) -> Flattened:
    """Split ``root`` into named tensor leaves and named plain subtrees (file order)."""
    out = Flattened()
    has = _tensor_closure(root, is_tensor, max_visits)
    expanded: dict[int, int] = {}
    visits = 0
    stack: list[tuple[Any, str, int]] = [(root, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        visits += 1
        if visits > max_visits:
            out.truncated = True
            break
        if is_tensor(node):
            out.tensors.append((path, node))
            continue
        if not has.get(id(node), False) and (depth or type(node) is not dict):
            out.plain.append((path, node))  # (a plain top-level dict is still split by key)
            continue
        n = expanded.get(id(node), 0)
        if n >= MAX_EXPANSIONS or depth >= max_depth:
            out.truncated = True
            continue
        expanded[id(node)] = n + 1
        kids = children(node) or []
        for k, v in reversed(kids):
            stack.append((v, f"{path}.{k}" if path else k, depth + 1))
    return out


def _tensor_closure(root: Any, is_tensor: Callable[[Any], bool], budget: int) -> dict[int, bool]:
    """id(container) -> whether a tensor lies below it (post-order, iterative, cycle-safe)."""
    has: dict[int, bool] = {}
    keep: list[Any] = []  # ids must stay valid while the dict is in use
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack and budget > 0:
        budget -= 1
        node, done = stack.pop()
        if done:
            kids = children(node) or []
            has[id(node)] = any(is_tensor(c) or has.get(id(c), False) for _, c in kids)
            continue
        if id(node) in has or is_tensor(node):
            continue
        kids = children(node)
        if kids is None:
            continue
        has[id(node)] = False  # in progress: a cycle back here adds nothing
        keep.append(node)
        stack.append((node, True))
        for _, c in kids:
            if id(c) not in has and not is_tensor(c):
                stack.append((c, False))
    return has


def summarize(value: Any, max_chars: int = 4096, max_depth: int = 6,
              max_items: int = 64) -> Any:
    """A JSON-safe, bounded rendering of a plain value (symbolic parts become short strings)."""
    return _summ(value, max_chars, max_depth, max_items)


def _summ(v: Any, max_chars: int, depth: int, max_items: int) -> Any:
    t = type(v)
    if v is None or t is bool or t is int:
        if t is int and v.bit_length() > 64:
            return summarize_text(v, 64)
        return v
    if t is float:
        return v if math.isfinite(v) else str(v)
    if t is str:
        return v if len(v) <= max_chars else f"{v[:max_chars]}… ({len(v)} chars)"
    if t in (bytes, bytearray) or t is Blob:
        return f"<{len(v)} bytes>"
    if depth <= 0:
        return "…"
    if t is dict:
        out: dict[str, Any] = {}
        for i, (k, x) in enumerate(v.items()):
            if i >= max_items:
                out["…"] = f"{len(v) - max_items} more"
                break
            out[_key(k)] = _summ(x, max_chars, depth - 1, max_items)
        return out
    if t in (list, tuple, set, frozenset):
        items = list(v)[: max_items + 1] if t in (set, frozenset) else v[: max_items + 1]
        res = [_summ(x, max_chars, depth - 1, max_items) for x in items[:max_items]]
        if len(v) > max_items:
            res.append(f"… {len(v) - max_items} more")
        return res
    state = state_dict_of(v)
    if state is not None and isinstance(v, (Call, Build)):
        cls = v.func if isinstance(v, Call) else v.obj
        head = {"__class__": summarize_text(cls, 120)}
        body = _summ(state, max_chars, depth - 1, max_items)
        return {**head, **body} if type(body) is dict else head
    return summarize_text(v, max_chars)


def summarize_text(v: Any, limit: int = 200) -> str:
    """One short line for any value, symbolic ones as ``module.name(...)``."""
    parts: list[str] = []
    _text(v, parts, 3)
    s = "".join(parts)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _text(v: Any, out: list[str], depth: int) -> None:
    if sum(map(len, out)) > 400:
        out.append("…")
        return
    if isinstance(v, Global):
        out.append(v.qualname)
    elif isinstance(v, Call):
        _text(v.func, out, depth - 1)
        out.append("(")
        if depth > 0 and type(v.args) is tuple:
            for i, a in enumerate(v.args[:6]):
                if i:
                    out.append(", ")
                _text(a, out, depth - 1)
        else:
            out.append("…")
        out.append(")")
    elif isinstance(v, Build):
        out.append("build(")
        _text(v.obj, out, depth - 1)
        out.append(")")
    elif isinstance(v, (PersistentId, Ext, OutOfBand, Blob)):
        out.append(repr(v))
    elif type(v) in (list, tuple) and depth > 0:
        out.append("[" if type(v) is list else "(")
        for i, a in enumerate(v[:6]):
            if i:
                out.append(", ")
            _text(a, out, depth - 1)
        if len(v) > 6:
            out.append(", …")
        out.append("]" if type(v) is list else ")")
    elif type(v) is int and v.bit_length() > 64:
        out.append(f"<int of {v.bit_length()} bits>")
    elif type(v) in (str, bytes):
        out.append(repr(v[:80]))
    elif type(v) in (int, float, bool) or v is None:
        out.append(repr(v))
    else:
        out.append(f"<{type(v).__name__}>")


def iter_calls(root: Any, budget: int = 1_000_000) -> Iterator[Call]:
    """Every Call reachable from ``root`` once (iterative; for readers looking for objects)."""
    seen: set[int] = set()
    stack = [root]
    while stack and budget > 0:
        budget -= 1
        node = stack.pop()
        if id(node) in seen:
            continue
        if isinstance(node, Call):
            seen.add(id(node))
            yield node
            stack.extend(x for x in (node.args, node.states, node.listitems, node.dictitems,
                                     node.kwargs) if x is not None)
        elif type(node) in (list, tuple, set, frozenset):
            seen.add(id(node))
            stack.extend(node)
        elif type(node) is dict:
            seen.add(id(node))
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, Build):
            seen.add(id(node))
            stack.extend((node.obj, node.state))
