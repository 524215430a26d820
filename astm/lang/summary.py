"""What a language tells the repository index about one file: its nodes as ``Entry``s.

Each language computes them (``Language.summary``, in ``lang/<name>/summary.py``); the
index (``astm.index.summary``) stores them once per blob.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tree_sitter


@dataclass(frozen=True)
class Entry:
    """One node below the file: ``qual`` is its id without the ``path::`` prefix."""

    qual: str
    kind: str
    key: str | None
    start: int
    end: int
    signature: str


SIG_MAX = 300  # a longer signature is cut
PLACEHOLDER = "_"  # the path nodes are built under before the summary strips it


def grammar_tag(g: tree_sitter.Language) -> str:
    """A tree-sitter grammar's version and size: summaries made with another are stale."""
    version = ".".join(map(str, g.semantic_version or ()))
    return f"{version}/{g.abi_version}/{g.node_kind_count}/{g.parse_state_count}"
