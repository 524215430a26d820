"""Small, faithful views of a file for prompts and for people: skeleton, curated, focus.

Pure: bytes in, a ``View`` out; nothing here reads files or touches git. See docs/views.md.
"""

from __future__ import annotations

import ast
import warnings

from astm.syntax import language_of
from astm.syntax.python import parse_tree
from astm.views import python as _python
from astm.views import toml as _toml
from astm.views.context import focus
from astm.views.model import NOTE, SOURCE, STUB, Line, View, skipped
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

MAX_BYTES = 8 * 1024 * 1024  # larger files are skipped with a note


def skeleton(path: str, data: bytes) -> View:
    """Imports, signatures and structure of a Python file (bodies ``pass``); table headers
    and keys of a TOML file (long values shortened)."""
    return _view(path, data, "skeleton")


def curated(path: str, data: bytes) -> View:
    """A Python file with its docstrings and marked bodies (``@core_logic``, ``# [HOT]``)
    in full and every other body ``...  # Hidden``; for TOML, the skeleton."""
    return _view(path, data, "curated")


def _view(path: str, data: bytes, kind: str) -> View:
    lang = language_of(path)
    if lang is None:
        return skipped(path, kind, "not a Python or TOML file; skipped")
    if len(data) > MAX_BYTES:
        return skipped(path, kind, f"too large ({len(data)} bytes > {MAX_BYTES}); skipped")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return skipped(path, kind, f"not UTF-8 (byte {exc.start}); skipped")
    if lang == "toml":
        lines, notes = _toml.lines(path, data)
        return View(path, kind, tuple(lines), tuple(notes))
    tree = parse_tree(data)
    lines, notes = _python.lines(path, data, tree, curated=kind == "curated")
    view = View(path, kind, tuple(lines), tuple(notes))
    if not _parses(view.text):
        # tree-sitter accepts some input CPython refuses (Python 2 code, a header its
        # error recovery kept): the view must stay valid source, so it says so instead.
        note = "no valid view: the file is not valid Python"
        return View(path, kind, (Line(f"# astm: {note}", path, NOTE),), (*notes, note))
    return view



def _parses(text: str) -> bool:
    """Whether ``text`` is Python that parses (names need not resolve: a view hides code)."""
    # ``catch_warnings`` swaps process-global state: share the syntax layer's lock.
    from astm.syntax.python import _warnings_lock

    try:
        with _warnings_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, "<view>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
