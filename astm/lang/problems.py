"""Syntax problems of a file, in no language: a ``Problem`` at a place, the ``Lines`` that
turn places into byte offsets and back, and the ERROR and MISSING nodes of any tree-sitter
tree. Each language's authority (``compile()``, ``tomllib``) lives in its own package, as
``astm/lang/<name>/problems.py``; ``Language.problems`` is what the hook asks.

Nothing here imports a language or the hook (``astm.hook.finding`` re-exports ``Problem``
and ``Lines``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

MAX_TREE_ERRORS = 20
TREE_SITTER = "tree-sitter"  # the source of a tree-sitter problem: never the authority
UTF8 = "utf-8"  # the source of a file that is not UTF-8


@dataclass(frozen=True)
class Problem:
    """One problem in a staged file. ``line`` is 1-based; ``col`` a 1-based character
    column; ``line=None`` means the file as a whole (e.g. not UTF-8)."""

    line: int | None
    col: int | None
    message: str
    source: str  # compile, tree-sitter, tomllib, ruff, utf-8, or an extension's name
    hint: str = ""  # what to run to fix it, when one command does


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


def not_utf8(data: bytes) -> Problem | None:
    """The file-wide problem of bytes that are not UTF-8, or ``None``."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(None, None, f"not UTF-8 (byte {exc.start})", UTF8)
    return None


def tree_errors(tree: Any, lines: Lines) -> list[Problem]:
    """The outermost ERROR nodes and the MISSING nodes of a tree-sitter tree, in order."""
    found: list[tuple[int, str]] = []
    stack = [tree.root_node]
    while stack and len(found) < MAX_TREE_ERRORS:
        n = stack.pop()
        if n.is_missing:
            found.append((n.start_byte, f"missing {_token(n.type)}"))
        elif n.is_error:
            found.append((n.start_byte, f"syntax error at {_snippet(n.text or b'')}"))
        elif n.has_error:
            stack.extend(reversed(n.children))
    return [
        Problem(lines.line_of(start), lines.col_of(start), message, TREE_SITTER)
        for start, message in sorted(found)
    ]


def _token(kind: str) -> str:
    return f'"{kind}"' if not kind.isidentifier() else kind.replace("_", " ")


def _snippet(text: bytes) -> str:
    first = text.decode("utf-8", "replace").strip().splitlines()
    word = first[0] if first else ""
    return f'"{word[:30]}…"' if len(word) > 30 else f'"{word}"'
