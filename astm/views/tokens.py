"""An offline token count that approximates a BPE tokenizer (cl100k_base) on source code.

The text is split with cl100k_base's own pre-tokenizer pattern (``\\p{L}`` and ``\\p{N}``
spelt with ``re`` classes); BPE then merges within a piece, so each piece counts one token
per started ``CHARS_PER_TOKEN`` characters, and a run of whitespace counts one. No
vocabulary is involved: the count is for comparing texts (a view against its file), not
for billing. It has not been calibrated against a real BPE here (no tokenizer data is
available offline).
"""

from __future__ import annotations

import re

CHARS_PER_TOKEN = 6

_PIECE = re.compile(
    r"'(?i:[sdmt]|ll|ve|re)"  # contractions
    r"|(?:[^\r\n\w]|_)?[^\W\d_]+"  # a word, with one leading non-letter (" foo", "_bar")
    r"|\d{1,3}"  # numbers, three digits at a time
    r"| ?(?:[^\s\w]|_)+[\r\n]*"  # punctuation runs
    r"|\s*[\r\n]+"  # line ends (with the indentation before them)
    r"|\s+(?!\S)"  # indentation, leaving one space for the next word
    r"|\s+"
)


def count_tokens(text: str) -> int:
    """Approximate BPE token count of ``text``."""
    total = 0
    for piece in _PIECE.findall(text):
        n = len(piece)
        if n <= CHARS_PER_TOKEN or piece.isspace():
            total += 1
        else:
            total += -(-n // CHARS_PER_TOKEN)
    return total
