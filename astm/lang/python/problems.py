"""Syntax problems of a Python file (the hook's check): ``compile()`` is the authority;
tree-sitter's ERROR and MISSING nodes add the places it does not reach.

``compile()`` stops at the first error, so when a file fails, tree-sitter's errors are
added too (the hook keeps those that sit in other nodes). When ``compile()`` accepts a
file, tree-sitter's opinion is dropped: its grammar has known false errors.
"""

from __future__ import annotations

import warnings

from astm.lang.problems import Lines, Problem, not_utf8, tree_errors

AUTHORITY = "compile"


def problems(data: bytes, path: str) -> list[Problem]:
    bad = not_utf8(data)
    if bad is not None:
        return [bad]
    first = _compile_problem(data, path)
    if first is None:
        return []
    from astm.lang.python import syntax

    return [first, *tree_errors(syntax.parse_tree(data), Lines(data))]


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
        return Problem(line, exc.offset, exc.msg or "invalid syntax", AUTHORITY)
    except ValueError as exc:  # NUL bytes on older Pythons
        line = data[: data.find(b"\0")].count(b"\n") + 1 if b"\0" in data else None
        return Problem(line, None, str(exc), AUTHORITY)
    except RecursionError:
        return Problem(None, None, "too deeply nested to compile", AUTHORITY)
    return None
