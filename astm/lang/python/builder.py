"""Nodes from items: each item's whole-line span (its leading comments, a commented-out
tail), repeated names numbered, and the comment lines no node holds made nodes of their own.
"""

from __future__ import annotations

import re

import tree_sitter

from astm.core.lines import Lines
from astm.core.node import Node, node_id, text_hash
from astm.lang.python.items import COMMENT, Item, body_items

_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")
_INDENT = re.compile(rb"[ \t\f]*")  # what ``Lines.indent`` strips
_BLANK = re.compile(rb"[ \t\n\r\x0b\x0c]*")  # what ``bytes.strip`` strips


def _past(run: re.Pattern[bytes], data: bytes, pos: int, end: int | None = None) -> int:
    """Where the run of bytes ``run`` matches at ``pos`` ends (both patterns match empty)."""
    m = run.match(data, pos) if end is None else run.match(data, pos, end)
    return m.end() if m is not None else pos


class Builder:
    def __init__(self, path: str, data: bytes, tree: tree_sitter.Tree) -> None:
        self.path = path
        self.data = data
        self.root = tree.root_node
        self.lines = Lines.of(data)

    def is_comment_row(self, row: int) -> bool:
        """A line holding only a comment (not a ``#`` inside a multi-line string)."""
        return self._comment_at(_past(_INDENT, self.data, self.lines.start(row)))

    def _comment_at(self, pos: int) -> bool:
        """Whether a comment starts at ``pos`` (the first byte after a line's indent)."""
        if self.data[pos : pos + 1] != b"#":
            return False
        found = self.root.descendant_for_byte_range(pos, pos + 1)
        return found is not None and found.type == "comment"

    def is_file_header(self, row: int) -> bool:
        """A shebang or encoding cookie: these speak for the file, not the node below."""
        line = self.lines.text(row)
        return (row == 0 and line.startswith(b"#!")) or (row <= 1 and bool(_CODING.match(line)))

    def span(self, item: Item, floor: int) -> tuple[int, int]:
        """First and last row of ``item``'s node; its leading comments stay above ``floor``."""
        first = item.first
        while (
            first - 1 >= floor
            and self.is_comment_row(first - 1)
            and not self.is_file_header(first - 1)
        ):
            first -= 1
        # Then the comment lines below it indented deeper than its first line (a
        # commented-out tail of its body), over blank lines. Read in place: a big file has
        # a line or two of this per node, and slicing each line costs more than the test.
        last = item.last
        indent: bytes | None = None
        data, lines = self.data, self.lines
        row = last + 1
        while row < len(lines):
            start, end = lines.start(row), lines.end(row)
            if _past(_BLANK, data, start, end) == end:
                row += 1
                continue
            pos = _past(_INDENT, data, start)
            if not self._comment_at(pos):
                break
            indent = lines.indent(item.first) if indent is None else indent
            deeper = data[start:pos]
            if not (deeper.startswith(indent) and deeper != indent):
                break
            last = row
            row += 1
        return first, last

    def nodes(
        self, items: list[Item], prefix: str, floor: int, seen: dict[str, int] | None = None,
        *, deep: bool = True,
    ) -> tuple[Node, ...]:
        """One node per item, in order. ``seen`` counts the names used in the scope so far:
        a block shares its scope's (a block is no scope: ``if X: def f`` is ``F::f``).
        ``deep=False``: no children and no hashes (ids and ranges of this level only)."""
        seen = {} if seen is None else seen
        out: list[Node] = []
        for item in items:
            count = seen[item.name] = seen.get(item.name, 0) + 1
            name = item.name if count == 1 else f"{item.name}#{count}"
            qual = f"{prefix}.{name}" if prefix else name
            first, last = self.span(item, floor)
            floor = last + 1
            children: tuple[Node, ...] = ()
            if item.kind == "block" and item.definition is not None:
                inner = body_items(item.definition)
                if deep:
                    children = self.nodes(inner, prefix, item.first + 1, seen)
                else:  # the names still count: a later sibling may repeat one
                    for sub in inner:
                        seen[sub.name] = seen.get(sub.name, 0) + 1
            elif deep and item.definition is not None:
                inner = body_items(item.definition)
                children = self.nodes(inner, qual, item.first + 1) if inner else ()
            start, end = self.lines.start(first), self.lines.end(last)
            out.append(
                Node(
                    id=node_id(self.path, qual),
                    kind=item.kind,
                    path=self.path,
                    start=start,
                    end=end,
                    key=None if item.kind == "imports" else item.name,
                    hash=text_hash(self.data[start:end]) if deep else "",
                    children=children,
                )
            )
        return tuple(out)

    def comments(self, children: tuple[Node, ...]) -> tuple[Node, ...]:
        """``children`` with the lines between them that no node holds made nodes too.

        Those are comment lines separated by a blank line from the node below (or with no
        node below), a shebang and an encoding cookie: each run of them between two nodes
        is one node of kind ``comment``, ``(comment before NAME)`` after the node it
        stands above or ``(comment end)`` at the end of the file. Blank lines around it
        stay the file's.
        """
        out: list[Node] = []
        pos = self.lines.start(0) if self.data else 0
        for child in (*children, None):
            stop = child.start if child is not None else len(self.data)
            gap = self.data[pos:stop]
            if gap.strip():
                first = self.lines.row(pos + len(gap) - len(gap.lstrip()))
                last = self.lines.row(pos + len(gap.rstrip()) - 1)
                start, end = self.lines.start(first), self.lines.end(last)
                after = child.id.split("::", 1)[1] if child is not None else ""
                qual = f"{COMMENT} before {after})" if child is not None else f"{COMMENT} end)"
                out.append(
                    Node(
                        id=node_id(self.path, qual), kind="comment", path=self.path,
                        start=start, end=end, key=None, hash=text_hash(self.data[start:end]),
                    )
                )
            if child is not None:
                out.append(child)
                pos = child.end
        return tuple(out)
