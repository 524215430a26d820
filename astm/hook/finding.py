"""What a check reports: a ``Problem`` at a place in a file, and a ``Finding`` once it is
placed in the node that holds it."""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in a staged file. ``line`` is 1-based; ``col`` a 1-based character
    column; ``line=None`` means the file as a whole (e.g. not UTF-8)."""

    line: int | None
    col: int | None
    message: str
    source: str  # compile, tree-sitter, tomllib, ruff, utf-8, or an extension's name
    hint: str = ""  # what to run to fix it, when one command does


@dataclass(frozen=True)
class Finding:
    """A problem inside a node the commit changed. ``node`` is the node id (the file id
    for text outside every node); ``text`` the staged line, for the caret."""

    path: str
    node: str
    line: int | None
    col: int | None
    message: str
    source: str
    text: str = ""
    hint: str = ""

    def short(self) -> str:
        """One line, for the repair intent: ``line 3: Invalid value (tomllib)``."""
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{' '.join(self.message.split())} ({self.source})"


class Lines:
    """Line starts of a file: (line, column) <-> byte offset."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.starts = [0]
        pos = data.find(b"\n")
        while pos != -1:
            self.starts.append(pos + 1)
            pos = data.find(b"\n", pos + 1)

    @property
    def count(self) -> int:
        """Number of lines (a final newline opens no new line)."""
        n = len(self.starts)
        return n - 1 if n > 1 and self.starts[-1] == len(self.data) else n

    def raw(self, line: int) -> bytes:
        start = self.starts[line - 1]
        end = self.starts[line] if line < len(self.starts) else len(self.data)
        return self.data[start:end].rstrip(b"\r\n")

    def text(self, line: int | None) -> str:
        if line is None or not 1 <= line <= len(self.starts):
            return ""
        return self.raw(line).decode("utf-8", "replace")

    def offset(self, line: int, col: int | None) -> int:
        """Byte offset of a 1-based (line, character column); clamped into the file."""
        line = max(1, min(line, len(self.starts)))
        start = self.starts[line - 1]
        if not col or col <= 1:
            return start
        prefix = self.raw(line).decode("utf-8", "replace")[: col - 1]
        return min(start + len(prefix.encode("utf-8")), len(self.data))

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def col_of(self, offset: int) -> int:
        """1-based character column of a byte offset."""
        start = self.starts[self.line_of(offset) - 1]
        return len(self.data[start:offset].decode("utf-8", "replace")) + 1
