"""Which node holds a place in a staged file, and whether the commit changed that node.

A node changed when, in every parent of the commit (HEAD, plus each MERGE_HEAD during a
merge), it is missing or its text hash differs: a node merged in untouched from either side
is not the committer's work. Nodes are compared by qualified name, so a renamed file keeps
its nodes, and by text, so moving a node changes nothing. Text outside every child node
(module-level statements, blank lines) is compared line by line instead.
"""

from __future__ import annotations

import difflib

from astm.core.node import Node, split_id
from astm.hook.finding import Lines, Problem
from astm.hook.staged import StagedFile
from astm.lang import language_for


def build(path: str, data: bytes) -> Node | None:
    """The node tree of possibly invalid text; None if not even tree-sitter can place it."""
    try:
        return language_for(path).build(path, data)
    except Exception:  # noqa: BLE001 - a tolerant parse of broken input: no nodes beats a crash
        return None


class NodeMap:
    def __init__(self, f: StagedFile) -> None:
        self.file = f
        self.tree = build(f.path, f.data)
        self.lines = Lines(f.data)
        self.bases: list[dict[str, str] | None] = []
        for base in f.bases:
            tree = build(f.old_path or f.path, base) if base is not None else None
            self.bases.append(_hashes(tree) if tree is not None else None)
        self._changed_lines: set[int] | None = None

    def node_at(self, offset: int) -> Node | None:
        """The innermost child node around ``offset`` (None: outside every node)."""
        best = None
        if self.tree is None:
            return None
        size = len(self.file.data)
        for n in self.tree.walk():
            if n.is_file or n.end <= n.start:
                continue
            inside = n.start <= offset < n.end or (offset == size == n.end)
            if inside and (best is None or n.end - n.start <= best.end - best.start):
                best = n
        return best

    def changed(self, node: Node) -> bool:
        qual = split_id(node.id)[1]
        return all(base is None or base.get(qual or "") != node.hash for base in self.bases)

    def line_changed(self, line: int) -> bool:
        if self._changed_lines is None:
            new = self.file.data.splitlines()
            sets = []
            for base in self.file.bases:
                if base is None:
                    sets.append(set(range(1, len(new) + 2)))
                    continue
                sm = difflib.SequenceMatcher(None, base.splitlines(), new, autojunk=False)
                lines: set[int] = set()
                for tag, _, _, j1, j2 in sm.get_opcodes():
                    if tag != "equal":
                        lines.update(range(j1 + 1, max(j2, j1 + 1) + 1))
                sets.append(lines)
            self._changed_lines = set.intersection(*sets) if sets else set(range(1, len(new) + 2))
        return line in self._changed_lines

    def place(self, problem: Problem) -> tuple[str, bool]:
        """``(node id, counts)`` of a problem; one without a line belongs to the file."""
        if problem.line is None:
            if problem.source != "utf-8":
                return self.file.path, True
            # Not UTF-8 counts unless every parent already had the file so.
            pre_existing = bool(self.file.bases) and all(
                b is not None and not _is_utf8(b) for b in self.file.bases
            )
            return self.file.path, not pre_existing
        line = problem.line
        node = self.node_at(self.lines.offset(line, problem.col))
        if node is None:
            return self.file.path, self.line_changed(line)
        return node.id, self.changed(node)


def _hashes(tree: Node) -> dict[str, str]:
    return {split_id(n.id)[1] or "": n.hash for n in tree.walk() if not n.is_file}


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
