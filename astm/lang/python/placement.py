"""Where new Python text goes, and what a delete removes.

The end of a module is after its last definition, before trailing code such as a
``__main__`` guard. A body that is only ``pass`` gives its place to the first new child; a
block left without statements by a delete keeps a ``pass``. The blank lines around both
follow ``spacing``; a new import block goes where ``imports.import_point`` says.
"""

from __future__ import annotations

import re

import tree_sitter

from astm.core.lines import eol_of
from astm.core.node import Node
from astm.core.patch import Patch
from astm.errors import CompositionError
from astm.lang.python import syntax
from astm.lang.python.imports import import_point
from astm.lang.python.indent import DEF_TYPES, indent_at
from astm.lang.python.spacing import (
    blank_above,
    blank_below,
    blank_lines,
    floor,
    gap,
    has_code,
    lines_in,
    spacing,
)

_BLOCK_TYPES = ("if_statement", "try_statement", "with_statement")
_DEFINING = ("function", "class", "assignment", "imports", "docstring")


def insert(
    parent: Node, base: bytes, text: bytes, *, after: Node | None, before: Node | None,
    position: str | None, owner: str, seq: int, first: bool = False,
    deleted: frozenset[str] = frozenset(),
) -> tuple[Patch, int]:
    """The patch inserting ``text`` as a new child, spaced like its neighbours."""
    eol = eol_of(base)
    n = gap(parent)
    head = _head(parent)
    defs = list(parent.children[len(head) :])
    kind = syntax.key_of(text)
    if kind is not None and kind[0] == "imports" and parent.kind == "file":
        point = import_point(parent, base)
        nxt = base[point:].lstrip(b"\r\n")
        code = re.sub(rb"\A(?:[ \t]*#[^\n]*\n)*", b"", nxt)  # past the comments above it
        blanks = 2 if re.match(rb"(@|def |async def |class )", code) else 1
        # Exactly one blank line below a docstring or header comments, none at the top.
        start = point - blank_above(base, point) if nxt.strip() else point
        head = base[floor(base) : start]
        prefix = b""
        if head.strip():
            prefix = b"" if head.endswith(b"\n") else eol
            if start < point or not blank_above(base, point):
                prefix += eol
        new = prefix + text + (eol * blanks if nxt.strip() else b"")
        return Patch(parent.path, start, point, new, owner, seq), len(prefix)
    if before is not None and before.kind in ("imports", "docstring"):
        raise CompositionError(f"a definition cannot go before the {before.kind} node", node=owner)
    # The first new child takes the place of a placeholder body (``pass``); the others
    # go after it, so the patches stay disjoint.
    hole = _placeholder(parent, base, eol) if first else None
    if hole is not None:  # the body was only ``pass``: the first new child takes its place
        start, end, prefix = hole
        return Patch(parent.path, start, end, prefix + text, owner, seq), len(prefix)
    if position == "start":
        if defs:
            before = defs[0]
        else:
            after = head[-1] if head else None
            position = None if after else "end"
    new_kind = kind[0] if kind is not None else "function"
    kept = [c for c in parent.children if c.id not in deleted]
    if before is not None:
        i = kept.index(before) if before in kept else 0
        prev = kept[i - 1] if i > 0 else None
        above = spacing(parent, base, kept, prev, new_kind, before) if prev else 0
        if prev is None and parent.kind == "file" and base[floor(base) : before.start].strip():
            above = n
        prefix = eol * max(0, above - blank_lines(base, before.start))
        below = spacing(parent, base, kept, None, new_kind, before)
        new = prefix + text + eol * below
        return Patch(parent.path, before.start, before.start, new, owner, seq), len(prefix)
    if after is None and parent.kind == "file" and parent.children:
        # The end of a module is after its last definition, before trailing code
        # such as ``if __name__ == "__main__": main()``, which may call the new one.
        kids = parent.children
        last = max((i for i, c in enumerate(kids) if c.kind in _DEFINING), default=None)
        if last is not None and any(c.kind in ("statement", "block") for c in kids[last + 1 :]):
            after = kids[last]
    if after is None:
        point = parent.end if parent.kind != "file" else len(base)
        prev = kept[-1] if kept else None
        nxt = None
    else:
        point = after.end
        prev = after
        i = kept.index(after) if after in kept else len(kept)
        nxt = kept[i + 1] if i + 1 < len(kept) else None
    head = base[:point]
    prefix = b""
    if head and not head.endswith(b"\n"):
        prefix += eol
    probe = head + prefix
    if prev is not None:
        want = spacing(parent, base, kept, prev, new_kind, nxt)
    elif parent.kind == "file" or has_code(
        base, _body_start(parent, base), point,
        [(c.start, c.end) for c in parent.children if c.id in deleted],
    ):
        want = n  # only the file's or the class's own lines above it: PEP 8
    else:
        want = 0  # right below the class header
    have = 0
    while have < want and probe.endswith(eol * (have + 2)):
        have += 1
    if probe.strip():
        prefix += eol * (want - have)
    suffix = b""
    if nxt is not None:
        blanks_below = blank_lines(base, nxt.start) if not base[point : nxt.start].strip() else 0
        suffix = eol * max(0, spacing(parent, base, kept, None, new_kind, nxt) - blanks_below)
    return Patch(parent.path, point, point, prefix + text + suffix, owner, seq), len(prefix)


def delete(
    parent: Node, node: Node, base: bytes, *, refilled: bool = False,
    deleted: frozenset[str] = frozenset(),
) -> Patch:
    """Remove ``node`` and the blank lines on one side of it, so its neighbours keep
    the spacing they had with it: the wider of its two gaps stays. At the end of its
    parent (nothing kept after it) the blank lines above it go, at the start of the
    file those below it: no blank lines are left doubled, leading or trailing.
    ``deleted`` names the siblings deleted in the same step (their patches merge).

    A block the node was the only statement of (a class with one method, an ``if``
    holding one ``def``) keeps a ``pass`` in its place, so the class stays valid.
    """
    if _only_statement(base, node.start, node.end) and not refilled:
        stub = indent_at(node, base) + b"pass" + eol_of(base)
        return Patch(parent.path, node.start, node.end, stub, parent.id)
    lo, hi = (floor(base), len(base)) if parent.is_file else (parent.start, parent.end)
    above = blank_above(base, node.start)
    below = blank_below(base, node.end, hi)
    gone = [(c.start, c.end) for c in parent.children if c.id in deleted or c.id == node.id]
    kept_before = has_code(base, lo, node.start - above, gone)
    kept_after = has_code(base, node.end + below, hi, gone)
    if not kept_after or (kept_before and lines_in(base, node.end, below) >= lines_in(base, node.start - above, above)):
        end = node.end if kept_after else node.end + below
        return Patch(parent.path, node.start - above, end, b"", parent.id)
    return Patch(parent.path, node.start, node.end + below, b"", parent.id)


def _head(parent: Node) -> tuple[Node, ...]:
    """The children that open a module: a header comment, the docstring, the imports
    (and the comments above those two). ``position: start`` goes after them."""
    kids = parent.children
    i = 0
    while i < len(kids):
        c = kids[i]
        nxt = kids[i + 1].kind if i + 1 < len(kids) else None
        if c.kind in ("docstring", "imports") or (
            c.kind == "comment" and (i == 0 or nxt in ("docstring", "imports"))
        ):
            i += 1
        else:
            break
    return kids[:i]


def _body_start(parent: Node, base: bytes) -> int:
    """Where the body of ``parent`` (a class, a function, a top-level block) starts: the
    end of its header."""
    stack = [syntax.tree_of(base).root_node]
    while stack:
        n = stack.pop(0)
        if n.end_byte <= parent.start or n.start_byte >= parent.end:
            continue
        if n.start_byte >= parent.start and n.type in (*DEF_TYPES, *_BLOCK_TYPES):
            body = n.child_by_field_name("body") or next(
                (c for c in n.children if c.type == "block"), None
            )
            return body.start_byte if body is not None else n.end_byte
        stack.extend(n.children)
    return parent.start


def _placeholder(parent: Node, base: bytes, eol: bytes) -> tuple[int, int, bytes] | None:
    """Where a class or function body that is only ``pass`` or ``...`` stands: its line
    range, or (``class E(Exception): pass``) the rest of the header line after the colon,
    with the line break the new text then needs before it."""
    if parent.kind == "file" or parent.children:
        return None
    stack = [syntax.tree_of(base).root_node]
    while stack:
        n = stack.pop()
        if n.end_byte <= parent.start or n.start_byte >= parent.end:
            continue
        if n.type in DEF_TYPES and n.start_byte >= parent.start:
            body = n.child_by_field_name("body")
            stmts = [c for c in body.named_children if c.type != "comment"] if body else []
            if len(stmts) != 1 or not _is_placeholder(stmts[0]):
                return None
            start = base.rfind(b"\n", 0, stmts[0].start_byte) + 1
            end = base.find(b"\n", stmts[0].end_byte)
            end = end + 1 if end >= 0 else len(base)
            if not base[start : stmts[0].start_byte].strip():
                return start, end, b""
            colon = body.prev_sibling if body is not None else None
            if colon is None or colon.type != ":" or base[end - 1 : end] != b"\n":
                return None
            return colon.end_byte, end, eol
        stack.extend(reversed(n.children))
    return None


def _is_placeholder(stmt: tree_sitter.Node) -> bool:
    if stmt.type == "pass_statement":
        return True
    kinds = [c.type for c in stmt.named_children]
    return stmt.type == "expression_statement" and kinds == ["ellipsis"]


def _only_statement(base: bytes, start: int, end: int) -> bool:
    """Whether ``[start, end)`` holds every statement of the block around it."""
    tree = syntax.tree_of(base)
    stack = [tree.root_node]
    while stack:
        n = stack.pop()
        if n.end_byte <= start or n.start_byte >= end:
            continue
        if n.type == "block" and n.parent is not None and n.parent.start_byte < start:
            stmts = [c for c in n.named_children if c.type != "comment"]
            if stmts and all(start <= c.start_byte < end for c in stmts):
                return True
        stack.extend(n.children)
    return False

