"""Syntax problems of a TOML file (the hook's check): ``tomllib`` is the authority;
tree-sitter's ERROR and MISSING nodes add the places it does not reach.

``tomllib`` stops at the first error, so when a file fails, tree-sitter's errors are added
too (the hook keeps those that sit in other nodes). When ``tomllib`` accepts a file,
tree-sitter's opinion is dropped: its grammar has known false errors.
"""

from __future__ import annotations

import re
import tomllib

from astm.lang.problems import Lines, Problem, not_utf8, tree_errors

AUTHORITY = "tomllib"

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_AT_END = re.compile(r"\s*\(at end of document\)")


def problems(data: bytes, path: str) -> list[Problem]:
    bad = not_utf8(data)
    if bad is not None:
        return [bad]
    try:
        tomllib.loads(data.decode("utf-8").removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        first = _toml_problem(str(exc), data)
    else:
        return []
    from astm.lang.toml import syntax

    return [first, *tree_errors(syntax.parse_tree(data), Lines(data))]


def _toml_problem(message: str, data: bytes) -> Problem:
    m = _AT.search(message)
    if m:
        line, col = int(m.group(1)), int(m.group(2))
        # A leading BOM is removed before tomllib counts columns.
        if line == 1 and data.startswith(b"\xef\xbb\xbf"):
            col += 1
        return Problem(line, col, _AT.sub("", message), AUTHORITY)
    if _AT_END.search(message):
        lines = Lines(data)
        last = max(lines.count, 1)
        return Problem(
            last, len(lines.text(last)) + 1, _AT_END.sub(" at end of document", message), AUTHORITY
        )
    return Problem(None, None, message, AUTHORITY)
