"""What the intent asks of a function: its stub, and what its new text visibly lacks
(issue 10, real models).

Asked for a new method with an empty "current text", the 1.5B rewrote the whole class
without it, three times running. Shown ``def restock(self, sku, quantity):`` and a body of
``...`` (the parameters as the intent writes the call), it has the line to continue from.

Asked to "add type hints to every parameter and return value", the 1.5B rewrote three of
five docstrings instead and left the signatures bare; the answers compiled and passed
ruff. When the intent asks for type hints (annotations), a function's new text that still
has an unannotated parameter or no return annotation is refused with a hint naming them.
"""

from __future__ import annotations

import ast
import re
import textwrap

from astm import pyast
from astm.validate.diagnostic import Diagnostic

_HINTS = re.compile(r"\btype[- ]?hints?\b|\bannotat|\btype annotations?\b|\bfully typed\b", re.IGNORECASE)


_SUBCLASS = re.compile(r"\bsub-?class(?:es)? of\s+((?:`?[A-Za-z_][\w.]*`?(?:\s*,\s*|\s+and\s+)?)+)")


def missing(new_text: bytes, intent: str) -> Diagnostic | None:
    """What ``intent`` asks of the new text's functions and classes that it visibly lacks:
    a type on each parameter and return (type hints asked), each base class a "subclass
    of A and B" names; None otherwise."""
    bases = _bases(intent)
    if not _HINTS.search(intent) and not bases:
        return None
    try:
        tree = pyast.parse(textwrap.dedent(new_text.decode("utf-8", "replace")))
    except (SyntaxError, ValueError, RecursionError):
        return None
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and re.search(rf"\b{n.name}\b", intent)):
        have = {ast.unparse(b).rsplit(".", 1)[-1] for b in cls.bases}
        lack = [b for b in bases if b not in have]
        if bases and lack:
            return Diagnostic(f"{cls.name} must also subclass {', '.join(lack)}", "shape", cls.lineno)
    if not _HINTS.search(intent):
        return None
    for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        args = fn.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        params += [a for a in (args.vararg, args.kwarg) if a is not None]
        bare = [a.arg for i, a in enumerate(params) if a.annotation is None and not (i == 0 and a.arg in ("self", "cls"))]
        if fn.returns is None and fn.name != "__init__":
            bare.append("the return value")
        if bare:
            return Diagnostic(f"{fn.name} still lacks type hints for {', '.join(bare)}", "shape", fn.lineno)
    return None


def _bases(intent: str) -> list[str]:
    """``"a subclass of InventoryError and ValueError"`` -> ``[InventoryError, ValueError]``."""
    m = _SUBCLASS.search(intent)
    if m is None:
        return []
    names = re.findall(r"[A-Za-z_][\w.]*", m.group(1).replace(" and ", ","))
    return [n.rsplit(".", 1)[-1] for n in names if n != "and" and n[:1].isupper()]


def stub(key: str, *, member: bool, intent: str) -> bytes:
    """A new function's first line and a placeholder body; b"" for what is not a plain
    function name (a class, an assignment, a statement)."""
    if not re.fullmatch(r"_*[a-z][a-z0-9_]*", key) or key.isupper():
        return b""
    call = re.search(rf"(?<![\w]){re.escape(key)}\(([^()]*)\)", intent)
    params = [p.strip() for p in call.group(1).split(",") if p.strip()] if call else []
    if member:
        params = ["self", *[p for p in params if p != "self"]]
    indent = "    " if member else ""
    return f"{indent}def {key}({', '.join(params)}):\n{indent}    ...\n".encode()


def section(text: bytes, key: str) -> bytes | None:
    """The one definition named ``key`` (top level, or right inside a top-level class) of
    an answer that does not compile as a whole (a half-written class beside it), when that
    definition compiles alone; None otherwise. tree-sitter reads past the broken parts."""
    from astm.lang.python import syntax

    root = syntax.parse_tree(text).root_node
    defs = [n for n in root.children if n.type in ("function_definition", "class_definition", "decorated_definition")]
    whole_class = len(defs) == 1 and _members(defs[0]) and _name(defs[0]) != key.encode()
    if len(defs) < 2 and not whole_class:
        return None  # not a whole file or class: the usual reading applies (imports above a def)
    found = []
    for top in root.children:
        for n in (top, *_members(top)):
            d = n.child_by_field_name("definition") if n.type == "decorated_definition" else n
            if d is not None and d.type in ("function_definition", "class_definition"):
                name = d.child_by_field_name("name")
                if name is not None and name.text == key.encode() and not n.has_error:
                    found.append(n)
    if len(found) != 1:
        return None
    n = found[0]
    start = text.rfind(b"\n", 0, n.start_byte) + 1
    own = text[start : n.end_byte].rstrip() + b"\n"
    try:
        compile(textwrap.dedent(own.decode("utf-8", "replace")), "<answer>", "exec")
    except (SyntaxError, ValueError, RecursionError):
        return None
    return own


def _name(top: object) -> bytes | None:  # tree_sitter.Node
    d = top.child_by_field_name("definition") if top.type == "decorated_definition" else top  # type: ignore[attr-defined]
    name = d.child_by_field_name("name") if d is not None else None
    return name.text if name is not None else None


def _members(top: object) -> list:  # tree_sitter.Node
    d = top.child_by_field_name("definition") if top.type == "decorated_definition" else top  # type: ignore[attr-defined]
    if d is None or d.type != "class_definition":
        return []
    body = d.child_by_field_name("body")
    return list(body.children) if body is not None else []
