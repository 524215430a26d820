"""Line tables over UTF-8 bytes (the whole-line ranges every node is made of) and the
nesting depth of a syntax tree (how deep input is refused before any other work)."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

import tree_sitter

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Lines:
    """Byte offsets of each line's start; a UTF-8 BOM belongs to the file, never to row 0."""

    data: bytes
    starts: list[int]

    @classmethod
    def of(cls, data: bytes) -> Lines:
        # One split and a running sum: far cheaper than a find per line on large files.
        starts = list(itertools.accumulate((len(line) + 1 for line in data.split(b"\n")), initial=0))
        starts.pop()  # the sum past the last line
        if starts[-1] == len(data) and len(starts) > 1:
            starts.pop()  # no empty last line after a final newline
        return cls(data, starts)

    def __len__(self) -> int:
        return len(self.starts)

    def row(self, byte: int) -> int:
        return bisect.bisect_right(self.starts, byte) - 1

    def start(self, row: int) -> int:
        """Offset of the first byte of ``row`` (after the BOM on the first row)."""
        if row == 0 and self.data.startswith(BOM):
            return len(BOM)
        return self.starts[row]

    def end(self, row: int) -> int:
        """Offset just after the newline of ``row`` (or the end of the data)."""
        return self.starts[row + 1] if row + 1 < len(self.starts) else len(self.data)

    def text(self, row: int) -> bytes:
        return self.data[self.start(row) : self.end(row)]

    def blank(self, row: int) -> bool:
        return not self.text(row).strip()

    def indent(self, row: int) -> bytes:
        line = self.text(row)
        return line[: len(line) - len(line.lstrip(b" \t\f"))]


def eol_of(data: bytes) -> bytes:
    """The file's line ending: CRLF when most of its lines end so, else LF."""
    crlf = data.count(b"\r\n")
    return b"\r\n" if crlf and crlf * 2 >= data.count(b"\n") else b"\n"


def tree_depth(tree: tree_sitter.Tree, limit: int) -> int:
    """How deep the syntax ``tree`` nests, counted up to ``limit + 1``.

    One cursor walk, no recursion and no ``Node.parent`` (tree-sitter finds a parent by
    walking down from the root, so calling it per node is quadratic in the depth). It stops
    as soon as the depth passes ``limit``: the cost is linear in the nodes seen.
    """
    cursor = tree.walk()
    depth = deepest = 0
    while True:
        if cursor.goto_first_child():
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return deepest
            depth -= 1


def error_count(tree: tree_sitter.Tree, start: int = 0, end: int | None = None) -> int:
    """Number of ERROR and MISSING nodes that start inside ``[start, end)``."""
    count = 0
    stack = [tree.root_node]
    while stack:
        n = stack.pop()
        if n.end_byte < start or (end is not None and n.start_byte >= end):
            continue
        if (n.is_error or n.is_missing) and n.start_byte >= start:
            count += 1
        if n.has_error:
            stack.extend(n.children)
    return count
