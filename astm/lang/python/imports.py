"""Python imports: the lines an answer puts above its definition (an upward request the
file resolves into an edit of its ``(imports)`` node), where a new import block goes
(below the module docstring and header comments), and the names a module is imported by.
"""

from __future__ import annotations

from collections.abc import Callable

import tree_sitter

from astm.core.node import Node
from astm.lang.python import syntax
from astm.lang.python.indent import statements
from astm.lang.python.spacing import floor

IMPORT_TYPES = ("import_statement", "import_from_statement", "future_import_statement")


def split_requests(text: bytes) -> tuple[bytes, list[bytes]]:
    """Leading import lines of an answer (above its definition) and the rest."""
    _, stmts = statements(text)
    imports: list[bytes] = []
    for stmt in stmts:
        if stmt.type not in IMPORT_TYPES:
            break
        imports.append((stmt.text or b"").strip())
    if not imports or len(imports) == len(stmts):
        return text, []
    lines = text.split(b"\n")
    # Drop every line up to the end of the last import (and blank lines after it).
    last = stmts[len(imports) - 1].end_point.row
    rest = lines[last + 1 :]
    while rest and not rest[0].strip():
        del rest[0]
    return b"\n".join(rest), imports


def import_lines(text: bytes) -> list[bytes]:
    """The statements of an import block, one each (the ``pass`` after them makes
    ``split_requests`` take them all)."""
    return split_requests(text + b"\npass\n")[1]


def import_point(file: Node, base: bytes) -> int:
    """Where a new import block goes: after the module docstring and header comments."""
    tree = syntax.tree_of(base)  # shared with the node tree: parsed once
    for stmt in tree.root_node.children:
        if stmt.type == "comment":
            continue
        if stmt.type == "expression_statement" and stmt.children and stmt.children[0].type == "string" and stmt.start_byte == _first_code(tree):
            continue
        point = max(base.rfind(b"\n", 0, stmt.start_byte) + 1, floor(base))
        # The comment lines directly above a definition are its own: go above them.
        owner = next((c for c in file.children if c.start <= point < c.end), None)
        return owner.start if owner is not None else point
    return len(base)


def _first_code(tree: tree_sitter.Tree) -> int:
    for stmt in tree.root_node.children:
        if stmt.type != "comment":
            return stmt.start_byte
    return -1


def module_names(path: str) -> list[str]:
    """Import names a changed file may be imported by: ``src/pkg/mod.py`` -> pkg.mod, mod.
    A stub (``.pyi``) is imported by no name of its own: none."""
    if not path.endswith(".py"):
        return []
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    names = [".".join(parts[i:]) for i in range(len(parts))]
    return [n for n in names if n]


# ---- names another module of the project defines (issue 10: two-file changes) ----------


def unbound(text: bytes) -> set[str]:
    """Names ``text`` reads that nothing in it binds and that are not builtins.

    Deliberately coarse: a name bound anywhere in the module (any scope) counts as bound,
    so this errs towards "bound"; it only decides which imports may be added."""
    import ast
    import builtins

    from astm import pyast

    try:
        tree = pyast.parse_only(text.decode("utf-8", "replace"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    read: set[str] = set()
    bound: set[str] = set(dir(builtins)) | {"__file__", "__name__", "__doc__", "__spec__", "__path__"}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            (read if isinstance(n.ctx, ast.Load) else bound).add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(n.name)
        elif isinstance(n, ast.arg):
            bound.add(n.arg)
        elif isinstance(n, ast.alias):
            bound.add(n.asname or n.name.split(".", 1)[0])
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            bound.update(n.names)
        elif isinstance(n, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and n.name:
            bound.add(n.name)
        elif isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names):
            return set()  # a star import may bind anything
    return read - bound


def imports_for(
    text: bytes, path: str, importable: dict[str, str], cycle: Callable[[str], bool] = lambda p: False
) -> list[bytes]:
    """``from MODULE import NAME`` for each name ``text`` reads unbound that exactly one
    other file of the project defines at its top level (``importable``: name -> path),
    unless ``cycle(that file)`` says it imports ``path`` as it loads. The module is named
    as the file's other imports name it: relative when they are."""
    wanted = sorted(n for n in unbound(text) if importable.get(n, path) != path and not cycle(importable[n]))
    if not wanted:
        return []
    relative = b"\nfrom ." in b"\n" + text
    out = []
    for name in wanted:
        module = _module_from(path, importable[name], relative=relative)
        if module:
            out.append(f"from {module} import {name}".encode())
    return out


def _module_from(path: str, other: str, *, relative: bool) -> str | None:
    """How ``path`` imports the module at ``other``: its dotted name (``src/`` and ``lib/``
    left out), or ``.sibling`` in the same package when the file imports relatively."""
    names = module_names(other)
    if not names:
        return None
    here, there = path.rsplit("/", 1)[0] if "/" in path else "", other.rsplit("/", 1)[0] if "/" in other else ""
    if relative and here == there:
        stem = other.rsplit("/", 1)[-1].removesuffix(".py")
        return "." if stem == "__init__" else "." + stem
    return names[0]


def module_imports(path: str, data: bytes) -> frozenset[str]:
    """The modules ``path`` imports at its top level, where an import runs as the module
    loads (an import that closes a cycle there breaks both modules): ``import a.b`` and
    ``from a.b import c`` give a.b and a.b.c; a relative import is resolved from ``path``.
    Only top-level import statements count: not imports inside functions or under
    ``if TYPE_CHECKING:`` (which never run at load time), nor under ``try:`` (rare)."""
    import ast

    from astm import pyast

    try:
        tree = pyast.parse_only(data.decode("utf-8", "replace"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    if not isinstance(tree, ast.Module):
        return frozenset()
    here = (module_names(path) or [""])[0].split(".")
    package = here if path.endswith("__init__.py") else here[:-1]
    out: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            out.update(a.name for a in stmt.names)
        elif isinstance(stmt, ast.ImportFrom):
            base = stmt.module or ""
            if stmt.level:
                up = package[: len(package) - (stmt.level - 1)] if stmt.level - 1 <= len(package) else []
                base = ".".join([*up, *([base] if base else [])])
            if base:
                out.add(base)
                out.update(f"{base}.{a.name}" for a in stmt.names)
    return frozenset(out)
