"""Syntax problems of a staged file: ``compile()`` for Python and ``tomllib`` for TOML are the
authorities; tree-sitter's ERROR and MISSING nodes add the places they do not reach.

Both authorities stop at the first error, so when a file fails, tree-sitter's errors are
added too (the caller keeps those that sit in other nodes). When the authority accepts a
file, tree-sitter's opinion is dropped: its grammars have known false errors.
"""

from __future__ import annotations

import re
import tomllib
import warnings
from typing import Any

from astm.hook.finding import Lines, Problem

MAX_TREE_ERRORS = 20


def python_problems(data: bytes, path: str) -> list[Problem]:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [Problem(None, None, f"not UTF-8 (byte {exc.start})", "utf-8")]
    first = _compile_problem(data, path)
    if first is None:
        return []
    from astm.lang.python import syntax as python

    return [first, *_tree_errors(python.parse_tree(data), Lines(data))]


def _compile_problem(data: bytes, path: str) -> Problem | None:
    try:
        with warnings.catch_warnings():
            # SyntaxWarnings are not errors (and ``-W error`` would make them so).
            warnings.simplefilter("ignore")
            compile(data, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = exc.lineno
        if line is None and b"\0" in data:
            line = data[: data.find(b"\0")].count(b"\n") + 1
        return Problem(line, exc.offset, exc.msg or "invalid syntax", "compile")
    except ValueError as exc:  # NUL bytes on older Pythons
        line = data[: data.find(b"\0")].count(b"\n") + 1 if b"\0" in data else None
        return Problem(line, None, str(exc), "compile")
    except RecursionError:
        return Problem(None, None, "too deeply nested to compile", "compile")
    return None


def toml_problems(data: bytes, path: str) -> list[Problem]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [Problem(None, None, f"not UTF-8 (byte {exc.start})", "utf-8")]
    try:
        tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        first = _toml_problem(str(exc), data)
    else:
        return []
    from astm.lang.toml import syntax as toml

    return [first, *_tree_errors(toml.parse_tree(data), Lines(data))]


_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_AT_END = re.compile(r"\s*\(at end of document\)")


def _toml_problem(message: str, data: bytes) -> Problem:
    m = _AT.search(message)
    if m:
        line, col = int(m.group(1)), int(m.group(2))
        # A leading BOM is removed before tomllib counts columns.
        if line == 1 and data.startswith(b"\xef\xbb\xbf"):
            col += 1
        return Problem(line, col, _AT.sub("", message), "tomllib")
    if _AT_END.search(message):
        lines = Lines(data)
        last = max(lines.count, 1)
        return Problem(
            last, len(lines.text(last)) + 1, _AT_END.sub(" at end of document", message), "tomllib"
        )
    return Problem(None, None, message, "tomllib")


def _tree_errors(tree: Any, lines: Lines) -> list[Problem]:
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
        Problem(lines.line_of(start), lines.col_of(start), message, "tree-sitter")
        for start, message in sorted(found)
    ]


def _token(kind: str) -> str:
    return f'"{kind}"' if not kind.isidentifier() else kind.replace("_", " ")


def _snippet(text: bytes) -> str:
    first = text.decode("utf-8", "replace").strip().splitlines()
    word = first[0] if first else ""
    return f'"{word[:30]}…"' if len(word) > 30 else f'"{word}"'
