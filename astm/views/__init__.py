"""Small, faithful views of a file for prompts and for people: skeleton, curated, focus.

Pure: bytes in, a ``View`` out; nothing here reads files or touches git. See docs/views.md.
"""

from __future__ import annotations

from astm.core.view import MAX_BYTES, NOTE, SOURCE, STUB, Line, View, skipped, unreadable
from astm.lang import find
from astm.views.context import focus
from astm.views.tokens import count_tokens

__all__ = [
    "MAX_BYTES",
    "NOTE",
    "SOURCE",
    "STUB",
    "Line",
    "View",
    "count_tokens",
    "curated",
    "focus",
    "skeleton",
]


def skeleton(path: str, data: bytes) -> View:
    """Imports, signatures and structure of a Python file (bodies ``pass``); table headers
    and keys of a TOML file (long values shortened)."""
    return _view(path, data, "skeleton")


def curated(path: str, data: bytes) -> View:
    """A Python file with its docstrings and marked bodies (``@core_logic``, ``# [HOT]``)
    in full and every other body ``...  # Hidden``; for TOML, the skeleton."""
    return _view(path, data, "curated")


def _view(path: str, data: bytes, kind: str) -> View:
    lang = find(path)
    if lang is None:
        return skipped(path, kind, "not a Python or TOML file; skipped")
    return unreadable(path, kind, data, MAX_BYTES) or lang.view(path, data, kind)
