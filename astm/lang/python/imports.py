"""Python imports: the lines an answer puts above its definition (an upward request the
file resolves into an edit of its ``(imports)`` node), where a new import block goes
(below the module docstring and header comments), and the names a module is imported by.
"""

from __future__ import annotations

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
    tree = syntax.parse_tree(base)
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
