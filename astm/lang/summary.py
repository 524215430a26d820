"""What a language tells the repository index about one file: its nodes as ``Entry``s.

Each language computes them (``Language.summary``, in ``lang/<name>/summary.py``); the
index (``astm.index.summary``) stores them once per blob.
"""

from __future__ import annotations

from dataclasses import dataclass


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
