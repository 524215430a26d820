"""What a leaf's linter reads: the patched file without the definitions it cannot involve.

At a leaf, only ruff's findings on the node's own lines count, and only codes that do not
depend on the rest of the file (``ruff.CROSS_NODE`` is left to the parent, which lints the
whole composed file once). Linting the whole file at every leaf made ruff read a
5,000-line file 128 times over for 128 edited functions: most of a leaf's time. Here every
definition that holds none of the patches (a top-level function or class; a member of a
class that holds one) is replaced by as many empty lines, so rows stay where they were;
the module's imports and statements, and the headers of the classes around the node, stay.
"""

from __future__ import annotations

from collections.abc import Sequence

from astm.core.node import Node
from astm.core.patch import Patch

DEFINITIONS = ("function", "class")


def lint_view(tree: Node, base: bytes, patches: Sequence[Patch]) -> bytes | None:
    """The patched text with the uninvolved definitions blanked; None if nothing would be."""
    spans = [(p.start, p.end) for p in patches]
    cuts = _uninvolved(tree, spans)
    if not cuts:
        return None
    edits = sorted([*((p.start, p.end, p.text) for p in patches), *((s, e, _blank(base[s:e])) for s, e in cuts)])
    out, at = [], 0
    for start, end, text in edits:
        out += [base[at:start], text]
        at = end
    out.append(base[at:])
    return b"".join(out)


def _uninvolved(node: Node, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for child in node.children:
        if child.kind not in DEFINITIONS:
            continue
        if not any(_touches(child, s, e) for s, e in spans):
            out.append((child.start, child.end))
        elif child.kind == "class":
            out += _uninvolved(child, spans)
    return out


def _touches(node: Node, start: int, end: int) -> bool:
    """A patch inside ``node``, over it, or inserting at its edge (kept: it may be its member)."""
    if start == end:
        return node.start <= start <= node.end
    return node.start < end and start < node.end


def _blank(text: bytes) -> bytes:
    return (b"\r\n" if b"\r\n" in text else b"\n") * text.count(b"\n")
