"""Which statements of a Python file make which nodes: the items the node builder turns
into nodes (kind, simple name, line span, definition), and the names of statements that are
no definition. The id rules are in ``astm.lang.python.syntax``'s docstring.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

IMPORTS = "(imports)"
DOCSTRING = "(docstring)"
COMMENT = "(comment"  # ``(comment before NAME)``, ``(comment end)``
_NAME_MAX = 60  # longer statement names are cut

_DEFINITIONS = ("function_definition", "class_definition")
IMPORT_TYPES = ("import_statement", "import_from_statement", "future_import_statement")
# Compound statements whose blocks a scope looks through for conditional definitions.
_LOOK_THROUGH = ("if_statement", "try_statement", "with_statement")
_CLAUSES = (
    "elif_clause",
    "else_clause",
    "except_clause",
    "except_group_clause",
    "finally_clause",
)
# Top-level compound statements: ``if``/``try``/``with`` make nodes of kind ``block`` (the
# definitions in them are their children), loops and ``match`` nodes of kind ``statement``.
_COMPOUND = (*_LOOK_THROUGH, "for_statement", "while_statement", "match_statement")
_KINDS = {"function_definition": "function", "class_definition": "class"}


@dataclass(frozen=True)
class Item:
    """A future child node: its kind, simple name, line span and definition (if any)."""

    kind: str
    name: str
    first: int  # row of its first decorator or statement line
    last: int  # row of its last line of code
    definition: tree_sitter.Node | None


def last_row(node: tree_sitter.Node) -> int:
    """Row of the last token of ``node`` that is not a comment."""
    end = node.end_byte
    if end > node.start_byte:
        # Most nodes end with code: the token holding their last byte says so in one call.
        last = node.descendant_for_byte_range(end - 1, end)
        if last is not None and last.type != "comment" and last.end_byte == end and last.start_byte < end:
            row, col = node.end_point
            return row - 1 if col == 0 else row
    # tree-sitter puts comments that follow a block's last statement inside the block.
    while True:
        # From the last child backwards: asking for every child is costly on long blocks.
        i = node.child_count - 1
        child = node.child(i) if i >= 0 else None
        while child is not None and child.type == "comment":
            i -= 1
            child = node.child(i) if i >= 0 else None
        if child is None:
            break
        node = child
    row, col = node.end_point
    return row - 1 if col == 0 and node.end_byte > node.start_byte else row


def _first_name(target: tree_sitter.Node | None) -> str | None:
    """The name of an assignment target: ``x``, ``x, y`` -> ``x``; attributes -> None."""
    while target is not None:
        if target.type == "identifier":
            return (target.text or b"").decode("utf-8")
        if target.type in ("pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern"):
            target = next((c for c in target.named_children if c.type != "comment"), None)
        else:
            return None
    return None


def assignment_name(stmt: tree_sitter.Node) -> str | None:
    if stmt.type != "expression_statement" or stmt.named_child_count != 1:
        return None
    expr = stmt.named_children[0]
    if expr.type != "assignment":
        return None
    return _first_name(expr.child_by_field_name("left"))


def definition_of(stmt: tree_sitter.Node) -> tree_sitter.Node | None:
    if stmt.type == "decorated_definition":
        stmt = stmt.child_by_field_name("definition") or stmt
    return stmt if stmt.type in _DEFINITIONS else None


def definitions(
    statements: list[tree_sitter.Node],
) -> Iterator[tuple[tree_sitter.Node, tree_sitter.Node]]:
    """``(outer, definition)`` of each def/class in ``statements``, looking through
    if/try/with blocks; ``outer`` is the decorated definition when there is one."""
    for stmt in statements:
        definition = definition_of(stmt)
        if definition is not None:
            yield stmt, definition
        elif stmt.type in _LOOK_THROUGH:
            for part in stmt.children:
                if part.type == "block":
                    yield from definitions(part.children)
                elif part.type in _CLAUSES:
                    for block in part.children:
                        if block.type == "block":
                            yield from definitions(block.children)


def def_item(
    outer: tree_sitter.Node, definition: tree_sitter.Node, rows: tuple[int, int] | None = None
) -> Item:
    """``rows``: ``outer``'s first and last row, when the caller has them already."""
    name_node = definition.child_by_field_name("name")
    name = (name_node.text or b"").decode("utf-8") if name_node else "?"
    first, last = rows if rows is not None else (outer.start_point.row, last_row(outer))
    return Item(_KINDS[definition.type], name, first, last, definition)


def _spans(statements: list[tree_sitter.Node]) -> list[tuple[int, int]]:
    return [(s.start_point.row, last_row(s)) for s in statements]


def _alone(spans: list[tuple[int, int]], i: int) -> bool:
    """Whether statement ``i`` shares no line with its neighbours."""
    first, last = spans[i]
    return (i == 0 or spans[i - 1][1] < first) and (i + 1 == len(spans) or spans[i + 1][0] > last)


def module_items(root: tree_sitter.Node) -> list[Item]:
    """The children of a module, in source order: every top-level statement is in one."""
    return items_of([c for c in root.children if c.is_named and c.type != "comment"])


def items_of(statements: list[tree_sitter.Node]) -> list[Item]:
    """The items of a module's top-level statements (comments left out), in order."""
    spans = _spans(statements)
    i = _leading(statements, spans)
    return _leading_items(statements, spans, i) + _tail_items(statements, spans, i)


def _leading(statements: list[tree_sitter.Node], spans: list[tuple[int, int]]) -> int:
    """How many statements the module's opening docstring and import block hold."""
    i = 1 if statements and is_docstring(statements[0]) and _alone(spans, 0) else 0
    while i < len(statements) and statements[i].type in IMPORT_TYPES and _alone(spans, i):
        i += 1
    return i


def leading_count(statements: list[tree_sitter.Node]) -> int:
    """``_leading`` of a module's statements, reading only the first ones: a big module
    has many, and only the docstring and the import run that open it count."""
    n = 1
    while True:
        n = min(len(statements), n * 2 + 2)
        head = statements[:n]
        i = _leading(head, _spans(head))
        # A statement the run took may share its last line with the next one: only a run
        # that stops inside what was read is decided.
        if i < n or n == len(statements):
            return i


def _leading_items(statements: list[tree_sitter.Node], spans: list[tuple[int, int]], end: int) -> list[Item]:
    items: list[Item] = []
    i = 0
    if end and is_docstring(statements[0]) and _alone(spans, 0):
        items.append(Item("docstring", DOCSTRING, spans[0][0], spans[0][1], None))
        i = 1
    if end > i:
        items.append(Item("imports", IMPORTS, spans[i][0], spans[end - 1][1], None))
    return items


def _tail_items(statements: list[tree_sitter.Node], spans: list[tuple[int, int]], i: int) -> list[Item]:
    items: list[Item] = []
    while i < len(statements):
        # Statements sharing a line (``p = 1; q = 2``) cannot be split by whole lines:
        # they make one node, named after the first.
        j = i
        while j + 1 < len(statements) and spans[j + 1][0] <= spans[j][1]:
            j += 1
        items.append(statement_item(statements[i], spans[i][0], spans[j][1], alone=i == j))
        i = j + 1
    return items


def window_items(statements: list[tree_sitter.Node]) -> list[Item]:
    """The items of a run of top-level statements past the module's opening docstring and
    imports, sharing no line with a statement outside the run."""
    return _tail_items(statements, _spans(statements), 0)


def statement_item(stmt: tree_sitter.Node, first: int, last: int, *, alone: bool) -> Item:
    """The node a top-level statement (or a line of several) makes."""
    if alone:
        name = assignment_name(stmt)
        if name is not None:
            return Item("assignment", name, first, last, None)
        definition = definition_of(stmt)
        if definition is not None:
            return def_item(stmt, definition, (first, last))
        if stmt.type in _LOOK_THROUGH:  # a block: the definitions in it are its children
            return Item("block", statement_name(stmt), first, last, stmt)
    return Item("statement", statement_name(stmt), first, last, None)


def statement_name(stmt: tree_sitter.Node) -> str:
    """The name of a top-level statement that is no definition, import block or assignment.

    Named by what it does, never by where it stands, so the id survives lines shifting
    above it: ``(call setup)`` for an expression calling ``setup`` (``(call app.run)``),
    ``(set X.attr)`` for an assignment to an attribute, a subscript or augmented
    (``X += 1``), ``(import os)`` / ``(from pkg)`` for an import outside the import block,
    ``(if COND)``, ``(while COND)``, ``(for TARGET in ITER)``, ``(with ITEMS)``,
    ``(match SUBJECT)``, ``(try)`` for a compound statement (its header as written,
    whitespace collapsed), ``(expr)`` for another expression, and ``(assert)``,
    ``(delete)``, ``(raise)`` ... (the statement's own keyword) for the rest. Names longer
    than ``_NAME_MAX`` characters are cut and end with ``…``.
    """
    kind = stmt.type
    if kind == "decorated_definition":  # only when it shares a line with others
        definition = definition_of(stmt)
        return def_item(stmt, definition).name if definition is not None else "(def)"
    if kind in _COMPOUND:
        word = kind.removesuffix("_statement")
        colon = next((c for c in stmt.children if c.type == ":"), None)
        keyword = stmt.children[0] if stmt.children else stmt
        end = colon.start_byte if colon is not None else keyword.end_byte
        header = _collapse(stmt, keyword.end_byte, end)
        return _short(f"({word} {header})" if header else f"({word})")
    if kind == "expression_statement" and stmt.named_child_count >= 1:
        expr = stmt.named_children[0]
        if expr.type == "call":
            callee = expr.child_by_field_name("function")
            if callee is not None and callee.type in ("identifier", "attribute"):
                return _short(f"(call {_collapse(callee, callee.start_byte, callee.end_byte)})")
            return "(call)"
        if expr.type in ("assignment", "augmented_assignment"):
            left = expr.child_by_field_name("left")
            if left is not None:
                return _short(f"(set {_collapse(left, left.start_byte, left.end_byte)})")
        return "(expr)"
    if kind in IMPORT_TYPES:
        module = stmt.child_by_field_name("module_name") or stmt.child_by_field_name("name")
        word = "import" if kind == "import_statement" else "from"
        if module is None:
            return f"({word})"
        return _short(f"({word} {_collapse(module, module.start_byte, module.end_byte)})")
    return f"({kind.removesuffix('_statement')})"


def _collapse(node: tree_sitter.Node, start: int, end: int) -> str:
    """The source of ``node`` between ``start`` and ``end``, whitespace collapsed."""
    text = (node.text or b"")[start - node.start_byte : end - node.start_byte]
    return " ".join(text.decode("utf-8", "replace").split())


def _short(name: str) -> str:
    return name if len(name) <= _NAME_MAX else name[: _NAME_MAX - 2] + "…)"


def is_docstring(stmt: tree_sitter.Node) -> bool:
    return (
        stmt.type == "expression_statement"
        and stmt.named_child_count == 1
        and stmt.named_children[0].type in ("string", "concatenated_string")
    )


def body_items(definition: tree_sitter.Node) -> list[Item]:
    """The children of a def or class (its methods, nested definitions), or of a
    top-level block (the definitions standing in it, at any depth)."""
    if definition.type in _COMPOUND:
        return [def_item(o, d) for o, d in definitions([definition])]
    body = definition.child_by_field_name("body")
    if body is None:
        return []
    return [def_item(o, d) for o, d in definitions(body.children)]
