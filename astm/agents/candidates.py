"""Which files a repository-wide intent may concern, before the model routes among them.

Cheap and deterministic: the intent's words (identifiers split at case and underscores)
are looked up in each file's path and text; the best-scoring files go to the repository
router with their skeletons. Root TOML files are always candidates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

MAX_CANDIDATES = 40
_STOP = frozenset(
    ["a", "an", "and", "the", "to", "of", "in", "on", "for", "with", "by", "from", "as", "is", "are", "be", "must", "should", "add", "make", "use", "it", "its", "that", "this", "into", "at", "or", "not", "new", "method", "function", "class", "file"]
)


def words(intent: str) -> set[str]:
    """``"Cart.total must round"`` -> {cart, total, round} (+ the dotted names as written)."""
    raw = re.findall(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", intent)
    out: set[str] = set()
    for token in raw:
        for part in re.split(r"[._]|(?<=[a-z0-9])(?=[A-Z])", token):
            if len(part) > 2 and part.lower() not in _STOP:
                out.add(part.lower())
    return out


def rank(
    paths: Iterable[str], intent: str, read: Callable[[str], bytes], *, limit: int = MAX_CANDIDATES
) -> list[str]:
    """The files worth routing over, best first; root TOML files always included."""
    keys = words(intent)
    scored: list[tuple[int, str]] = []
    always: list[str] = []
    for path in paths:
        if "/" not in path and path.endswith(".toml"):
            always.append(path)
            continue
        name = path.lower()
        score = sum(3 for k in keys if k in name)
        if keys:
            text = read(path).lower()
            score += sum(1 for k in keys if k.encode() in text)
        if score:
            scored.append((score, path))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return always + [p for _, p in scored[:limit]]
