"""Statistics over one text."""

from __future__ import annotations

from collections import Counter

from textkit.core import WORD, _norm


class TextStats:
    """Word and line statistics of a text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def words(self) -> list[str]:
        """The normalised words, in order."""
        return WORD.findall(_norm(self.text))

    def top_words(self, n: int) -> list[tuple[str, int]]:
        """The N most frequent words with their counts, most frequent first."""
        counts = Counter(self.words())
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[: n - 1]

    def line_lengths(self) -> list[int]:
        """The length of each line."""
        return [len(line) for line in self.text.splitlines()]

    def longest_line(self) -> str:
        """The longest line (the first one on a tie), or "" for an empty text."""
        lines = self.text.splitlines()
        return max(lines, key=len) if lines else ""
