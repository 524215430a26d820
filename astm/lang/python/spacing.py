"""Blank lines around Python nodes: what an insert puts between a new node and its
neighbours, and what a delete takes with the node.

Spacing follows the neighbours: an inserted node gets the gap its siblings use (the
neighbours' own gap when all three are alike, else the file's most common gap between
siblings of the same two kinds, PEP 8 only where the file has no example); a delete
keeps the wider of the node's two gaps and leaves no leading or trailing blank lines.
"""

from __future__ import annotations

import itertools
from collections import Counter

from astm.core.node import Node
from astm.lang.python import syntax


def floor(base: bytes) -> int:
    """Where the file's text starts: after a UTF-8 BOM, which belongs to the file."""
    return len(syntax.BOM) if base.startswith(syntax.BOM) else 0


def blank_above(base: bytes, pos: int) -> int:
    """How many bytes of blank lines end at ``pos`` (a line start)."""
    start = pos
    while start > floor(base):
        prev = base.rfind(b"\n", 0, start - 1) + 1
        if base[prev:start].strip() or base[start - 1 : start] != b"\n":
            break
        start = prev
    return pos - start


def group(kind: str) -> str:
    """Functions and classes space alike; every other kind spaces by itself."""
    return "def" if kind in ("function", "class") else kind


def blank_below(base: bytes, pos: int, limit: int) -> int:
    """How many bytes of blank lines start at ``pos`` (a line start), up to ``limit``."""
    end = pos
    while end < limit:
        nxt = base.find(b"\n", end)
        nxt = limit if nxt < 0 or nxt >= limit else nxt + 1
        if base[end:nxt].strip():
            break
        end = nxt
    return end - pos


def lines_in(base: bytes, start: int, size: int) -> int:
    return base.count(b"\n", start, start + size)


def has_code(base: bytes, start: int, end: int, gone: list[tuple[int, int]]) -> bool:
    """Whether ``[start, end)`` holds anything but whitespace outside the ``gone`` ranges."""
    pos = start
    for a, b in sorted(gone):
        if b <= pos or a >= end:
            continue
        if base[pos:a].strip():
            return True
        pos = max(pos, b)
    return bool(base[pos:end].strip())


def blank_lines(base: bytes, pos: int) -> int:
    """How many blank lines end at ``pos`` (a line start)."""
    return base[pos - blank_above(base, pos) : pos].count(b"\n")


def gap(parent: Node) -> int:
    """PEP 8: two blank lines between definitions at module level, one in a class."""
    return 2 if parent.kind == "file" else 1


def spacing(
    parent: Node, base: bytes, kept: list[Node], a: Node | None, new_kind: str, b: Node | None,
) -> int:
    """Blank lines between a new node of ``new_kind`` and its neighbour: after ``a``
    (when given) or before ``b`` (``a`` None). The file's own example decides: the
    gap between the two neighbours when all three are alike (``X = 1`` / ``Z = 3`` /
    ``Y = 2`` stay together), else the most common gap between siblings of the same
    two kinds; PEP 8 (two lines at module level, one in a class) only where the file
    has no such pair and a definition is involved; otherwise none between statements
    of one kind and one line between different ones."""
    left, right = (a.kind, new_kind) if a is not None else (new_kind, b.kind if b else new_kind)
    alike = a is not None and b is not None and group(a.kind) == group(new_kind) == group(b.kind)
    if alike and a is not None and b is not None and not base[a.end : b.start].strip():
        return blank_lines(base, b.start)
    examples: Counter[int] = Counter()
    pair = (group(left), group(right))
    for p, q in itertools.pairwise(kept):
        if (group(p.kind), group(q.kind)) == pair:
            between = base[p.end : q.start]
            # Only blank lines between two nodes (whole lines, code on their own last
            # lines): ``blank_lines(base, q.start)``, counted without walking them.
            if not between.strip():
                examples[between.count(b"\n")] += 1
    if examples:
        return max(examples, key=lambda g: (examples[g], g))
    if "def" in (group(left), group(right)):
        return gap(parent)
    return 0 if left == right else 1
