"""What a curated view must keep, computed with ``ast`` and ``tokenize`` independently of
the tree-sitter walk that makes the view, so each checks the other (tests, benchmarks).

Scopes follow the node rules: a module, class or function body, looking through
``if``/``try``/``with`` blocks for nested definitions.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections import Counter
from collections.abc import Iterator

from astm import pyast

_HOT = re.compile(r"#\s*\[HOT\]")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


_Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _children(body: list[ast.stmt]) -> Iterator[_Def]:
    for stmt in body:
        if isinstance(stmt, _DEFS):
            yield stmt
        elif isinstance(stmt, ast.If):
            yield from _children(stmt.body)
            yield from _children(stmt.orelse)
        elif isinstance(stmt, ast.Try | ast.TryStar):
            for block in (stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody):
                yield from _children(block)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            yield from _children(stmt.body)


def docstrings(source: str | ast.Module) -> Counter[str]:
    """The docstrings of the module and of every class and function a node can name."""
    tree = pyast.parse(source) if isinstance(source, str) else source
    found: Counter[str] = Counter()

    def visit(node: ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        doc = ast.get_docstring(node, clean=False)
        if doc is not None:
            found[doc] += 1
        for child in _children(node.body):
            visit(child)

    visit(tree)
    return found


def _hot_lines(source: str) -> set[int]:
    if "[HOT]" not in source:
        return set()
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.start[0] for t in tokens if t.type == tokenize.COMMENT and _HOT.match(t.string)}


def _is_core_logic(deco: ast.expr) -> bool:
    if isinstance(deco, ast.Call):
        deco = deco.func
    name = deco.attr if isinstance(deco, ast.Attribute) else getattr(deco, "id", "")
    return name == "core_logic"


def marked_bodies(source: str) -> list[str]:
    """The full text (decorators to last line of code) of every marked function: decorated
    ``@core_logic`` or holding a ``# [HOT]`` comment from its ``def`` line on."""
    tree = pyast.parse(source)
    lines = source.splitlines()
    hot = _hot_lines(source)
    out: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in _children(getattr(node, "body", [])):
            end = child.end_lineno or child.lineno
            if not isinstance(child, ast.ClassDef) and (
                any(_is_core_logic(d) for d in child.decorator_list)
                or any(child.lineno <= n <= end for n in hot)
            ):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                out.append("\n".join(lines[first - 1 : end]))
            else:
                visit(child)

    visit(tree)
    return out


def mark(source: str, every: int = 3, tree: ast.Module | None = None) -> tuple[str, list[str]]:
    """``source`` (parsed: ``tree``) with every ``every``-th function marked, in turns
    ``@core_logic`` and ``# [HOT]`` (a comment line atop its body), and the marked bodies
    it then has."""
    tree = tree or pyast.parse(source)
    lines = source.splitlines(keepends=True)
    funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    inserts: list[tuple[int, str]] = []  # (0-based line index, line to insert before it)
    for k, f in enumerate(sorted(funcs, key=lambda f: f.lineno)[::every]):
        first = min([f.lineno, *(d.lineno for d in f.decorator_list)])
        indent = lines[first - 1][: len(lines[first - 1]) - len(lines[first - 1].lstrip())]
        body = f.body[0]
        if k % 2 == 0:
            inserts.append((first - 1, f"{indent}@core_logic\n"))
        elif body.lineno > f.lineno:
            line = lines[body.lineno - 1]
            inserts.append((body.lineno - 1, line[: len(line) - len(line.lstrip())] + "# [HOT]\n"))
    for index, text in sorted(inserts, reverse=True):
        lines.insert(index, text)
    marked = "".join(lines)
    return marked, marked_bodies(marked)


def keeps_body(view_text: str, body: str) -> bool:
    """Whether ``body`` appears in ``view_text`` line for line (indentation aside: a body
    recovered from a region tree-sitter could not parse may stand at another depth)."""
    if body in view_text:
        return True
    flat = "\n".join(line.strip() for line in view_text.splitlines())
    return "\n".join(line.strip() for line in body.splitlines()) in flat
