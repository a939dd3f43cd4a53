"""Chat templates (GGUF ``tokenizer.chat_template``, ``tokenizer_config.json``) judged with Jinja's
own sandbox rules, statically.

llama.cpp, transformers and Ollama render these templates; a template that reaches Python
internals (``''.__class__.__mro__[1].__subclasses__()``, ``cycler.__init__.__globals__``,
``lipsum.__globals__['os']``, ``namespace.__init__.__globals__`` …) runs code where a renderer
is not sandboxed (CVE-2024-34359 in llama-cpp-python).  The template is *parsed* with
``jinja2.sandbox.ImmutableSandboxedEnvironment`` — parsing builds an AST and never compiles or
runs anything — and every attribute or item access with a known name is put to the sandbox's
own test (:func:`jinja2.sandbox.is_internal_attribute`, and the "no ``_``-prefixed attributes"
rule of ``SandboxedEnvironment.is_safe_attribute``) against the objects a template can reach.
Names computed at render time (``attr(x)``, ``obj[a ~ b]`` with dunder pieces) are reported too:
that is how filters are dodged.  Ordinary templates (loops, ``namespace()``, ``raise_exception``,
``tojson``) pass.
"""

from __future__ import annotations

from typing import Any

from .context import ScanContext
from .findings import Severity

__all__ = ["check_template"]

S, D, E, I = Severity.SUSPICIOUS, Severity.DANGEROUS, Severity.ERROR, Severity.INFO
MAX_TEMPLATE = 1 << 20
# What a template can reach: strings, lists, dicts, functions, and the sandbox's globals.
_PROBES: tuple[Any, ...] = ("", [], {}, len, (lambda: 0), iter([]), type, object())
_RISKY_GLOBALS = {"cycler", "joiner", "lipsum", "namespace", "range", "dict", "self", "config",
                  "request", "os", "sys", "__builtins__"}


def _unsafe(attr: str) -> str | None:
    """Why the sandbox would refuse ``obj.attr`` for some reachable object, or None."""
    from jinja2.sandbox import is_internal_attribute

    if attr.startswith("_"):
        return "a private / dunder attribute (refused by the Jinja sandbox)"
    for obj in _PROBES:
        try:
            if is_internal_attribute(obj, attr):
                return f"an interpreter-internal attribute of {type(obj).__name__}"
        except Exception:  # noqa: BLE001 - the sandbox probe itself must never fail a scan
            continue
    return None


def _constants(node: Any) -> list[str]:
    from jinja2 import nodes

    return [c.value for c in node.find_all(nodes.Const) if isinstance(c.value, str)]


def check_template(ctx: ScanContext, text: str, member: str | None) -> None:
    from jinja2 import TemplateSyntaxError, nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    if len(text) > MAX_TEMPLATE:
        ctx.add(S, "template.too-large", f"chat template of {len(text)} characters", member)
        return
    env = ImmutableSandboxedEnvironment()
    try:
        ast = env.parse(text)
    except TemplateSyntaxError as e:
        ctx.add(E, "template.unparseable", f"chat template is not valid Jinja ({e.message}, "
                f"line {e.lineno})", member)
        return
    except Exception as e:  # noqa: BLE001 - hostile input
        ctx.add(E, "template.unparseable", f"chat template cannot be parsed ({type(e).__name__})",
                member)
        return
    reported = 0

    def bad(sev: Severity, rule: str, msg: str, lineno: int | None) -> None:
        nonlocal reported
        if reported < 20:
            reported += 1
            ctx.add(sev, rule, msg + (f" (line {lineno})" if lineno else ""), member)

    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Call,
                              nodes.Name, nodes.Import, nodes.FromImport, nodes.Include,
                              nodes.Extends, nodes.Const)):
        ln = getattr(node, "lineno", None)
        if isinstance(node, nodes.Getattr):
            why = _unsafe(node.attr)
            if why:
                bad(D, "template.sandbox-escape", f"accesses .{node.attr}: {why}", ln)
        elif isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                why = _unsafe(node.arg.value)
                if why and node.arg.value.startswith("__"):
                    bad(D, "template.sandbox-escape", f"accesses [{node.arg.value!r}]: {why}", ln)
            elif not isinstance(node.arg, (nodes.Const, nodes.Name, nodes.Getattr, nodes.Getitem)):
                if any("_" in s for s in _constants(node.arg)):
                    bad(D, "template.computed-name", "item name assembled at render time from "
                        "pieces with underscores (filter evasion)", ln)
        elif isinstance(node, nodes.Filter) and node.name == "attr":
            names = [a.value for a in node.args if isinstance(a, nodes.Const)]
            if names and isinstance(names[0], str):
                why = _unsafe(names[0])
                if why:
                    bad(D, "template.sandbox-escape", f"|attr({names[0]!r}): {why}", ln)
            else:
                bad(S, "template.computed-name", "|attr() with a name computed at render time", ln)
        elif isinstance(node, nodes.Name) and node.name in _RISKY_GLOBALS - {"namespace", "range", "dict"}:
            bad(S, "template.risky-global", f"uses the global {node.name!r}, a classic route to "
                "Python internals", ln)
        elif isinstance(node, (nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends)):
            bad(S, "template.loads-template", f"{type(node).__name__.lower()} of another template",
                ln)
        elif isinstance(node, nodes.Const) and isinstance(node.value, str):
            v = node.value
            if "{" in v and ("__" in v or ".mro" in v) and "}" in v:
                bad(D, "template.format-escape", "a format string reaching attributes "
                    f"({v[:40]!r}) — str.format walks attributes", ln)
            for dunder in ("__class__", "__globals__", "__subclasses__", "__builtins__",
                           "__import__", "__mro__", "__base__", "__init__", "__getattribute__"):
                if dunder in v:
                    bad(D, "template.sandbox-escape", f"string constant names {dunder}", ln)
                    break
