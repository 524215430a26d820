"""What a Python view is written with: ``Scope`` (the node a block belongs to and the names
used below it) and ``Emitter`` (the walk's output: lines labelled with their node's id,
stubs, and a note for each region tree-sitter could not parse)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import tree_sitter

from astm.core.view import ID, NOTE, STUB, Line
from astm.lang.python import syntax as pysyntax
from astm.lang.python.treeparts import end_row


@dataclass
class Scope:
    """The node whose body a block belongs to, and the names already used below it."""

    id: str
    kind: str  # "module", "class" or "function": what a block of this scope keeps
    prefix: str = ""  # qualified name of the scope ("" for the module)
    seen: dict[str, int] = field(default_factory=dict)
    imports: frozenset[int] = frozenset()  # start bytes of the import block's statements
    assigns: frozenset[int] = frozenset()  # start bytes of assignments that are nodes
    recovered: bool = False  # inside an ERROR node: no nodes, lines take the scope's id

    def name(self, simple: str) -> str:
        """The qualified name of the next child called ``simple`` (``x``, ``x#2`` ...)."""
        count = self.seen[simple] = self.seen.get(simple, 0) + 1
        name = simple if count == 1 else f"{simple}#{count}"
        return f"{self.prefix}.{name}" if self.prefix else name


class Emitter:
    def __init__(self, path: str, data: bytes, tree: tree_sitter.Tree) -> None:
        self.path = path
        self.data = data
        self.root = tree.root_node
        self.notes: list[str] = []
        # The module's children as the node builder makes them (start, end, id, kind): a
        # top-level line takes the id of the node it stands in. Not for a broken file,
        # whose nodes the builder does not promise.
        self.tops: list[tuple[int, int, str, str]] = []
        if not self.root.has_error:
            top = pysyntax.top_level(path, data, tree)
            self.tops = [(c.start, c.end, c.id, c.kind) for c in top]
        self.shown: set[str] = set()  # top-level ids met
        self.stubbed: set[str] = set()  # top-level ids given a stub line

    # -- output -----------------------------------------------------------------------

    def top(self, pos: int) -> tuple[str, str] | None:
        """``(id, kind)`` of the module's child holding byte ``pos``."""
        i = bisect.bisect_right(self.tops, (pos, len(self.data) + 1)) - 1
        if i >= 0 and self.tops[i][0] <= pos < self.tops[i][1]:
            return self.tops[i][2], self.tops[i][3]
        return None

    def emit(self, indent: bytes, start: int, end: int, nid: str, out: list[Line]) -> None:
        text = (indent + self.data[start:end]).decode("utf-8")
        if "\n" in text:
            out.extend(Line(t.rstrip("\r"), nid) for t in text.split("\n"))
        else:
            out.append(Line(text, nid))

    def verbatim(self, indent: bytes, start: int, end: int, nid: str, out: list[Line]) -> None:
        """Lines ``start:end`` as written, moved to ``indent`` if they stand elsewhere (a
        definition recovered from a region tree-sitter could not parse)."""
        line_start = self.data.rfind(b"\n", 0, start) + 1
        orig = self.data[line_start:start]
        if orig == indent or orig.strip():
            self.emit(indent, start, end, nid, out)
            return
        text = self.data[start:end].decode("utf-8").split("\n")
        shift = orig.decode("utf-8")
        new = indent.decode("utf-8")
        out.append(Line(new + text[0].rstrip("\r"), nid))
        for t in text[1:]:
            t = t.rstrip("\r")
            out.append(Line(new + t[len(shift):] if t.startswith(shift) else t, nid))

    def stub(self, indent: bytes, nid: str, out: list[Line], text: str) -> None:
        out.append(Line(indent.decode("utf-8") + text, nid, STUB))

    def broken(
        self,
        node: tree_sitter.Node,
        indent: bytes,
        nid: str,
        out: list[Line],
        how: str = "left out",
    ) -> None:
        """Mark a region tree-sitter could not parse; the walk goes on after it."""
        first, last = node.start_point.row + 1, end_row(node) + 1
        where = f"line {first}" if first == last else f"lines {first}-{last}"
        self.notes.append(f"{where}: could not be parsed ({how})")
        text = f"{indent.decode('utf-8')}# astm: {where}: could not be parsed ({how})"
        out.append(Line(text, nid, NOTE))

    def id_line(self, nid: str, pos: int, out: list[Line]) -> None:
        """A top-level node the view keeps nothing of: a line that only ``--ids`` shows
        (role ``id``), its first line as written, so every id of the file appears."""
        self.stubbed.add(nid)
        end = self.data.find(b"\n", pos)
        first = self.data[pos : end if end >= 0 else len(self.data)].decode("utf-8").rstrip()
        out.append(Line(first if len(first) <= 80 else first[:79] + "…", nid, ID))

