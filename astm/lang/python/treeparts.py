"""Parts of a tree-sitter-python tree the views look for: docstrings, assignment targets,
decorator names, the colon that ends a block's header, the regions tree-sitter could not
parse, a block's indentation and where a definition's code ends."""

from __future__ import annotations

import tree_sitter


def is_docstring(stmt: tree_sitter.Node) -> bool:
    return (
        stmt.type == "expression_statement"
        and stmt.named_child_count == 1
        and stmt.named_children[0].type in ("string", "concatenated_string")
    )


def assignment_target(stmt: tree_sitter.Node) -> tuple[tree_sitter.Node, str] | None:
    """``(assignment, name)`` of a statement that assigns to a name (``x``, ``x, y``)."""
    if stmt.type != "expression_statement" or stmt.named_child_count != 1:
        return None
    expr = stmt.named_children[0]
    if expr.type != "assignment":
        return None
    target = expr.child_by_field_name("left")
    while target is not None:
        if target.type == "identifier":
            return expr, (target.text or b"").decode("utf-8")
        if target.type in ("pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern"):
            target = next((c for c in target.named_children if c.type != "comment"), None)
        else:
            return None
    return None


def decorator_name(deco: tree_sitter.Node) -> str:
    expr = next((c for c in deco.children if c.is_named and c.type != "comment"), None)
    if expr is not None and expr.type == "call":
        expr = expr.child_by_field_name("function")
    text = (expr.text or b"").decode("utf-8", "replace") if expr is not None else ""
    return text.rsplit(".", 1)[-1].strip()


def colon_before(block: tree_sitter.Node) -> tree_sitter.Node | None:
    """The ``:`` token that ends a block's header (comments may sit between them)."""
    prev = block.prev_sibling
    while prev is not None and prev.type == "comment":
        prev = prev.prev_sibling
    return prev if prev is not None and prev.type == ":" else None


def range_broken(node: tree_sitter.Node, end: int) -> bool:
    """An ERROR or MISSING node in ``node`` that starts before ``end`` (its header)."""
    if not node.has_error:
        return False
    return any(n.start_byte < end for n in error_nodes(node))


def error_nodes(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The outermost ERROR and MISSING nodes below ``node``, in source order."""
    found: list[tree_sitter.Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.is_error or n.is_missing:
            found.append(n)
        elif n.has_error:
            stack.extend(n.children)
    return sorted(found, key=lambda n: n.start_byte)


def block_indent(data: bytes, block: tree_sitter.Node, outer: bytes) -> bytes:
    """Indentation of a block's statements; a block on its header's line gets 4 spaces."""
    first = block.child(0) if block.child_count else None
    while first is not None and first.type == "comment":
        first = first.next_sibling
    if first is not None:
        line_start = data.rfind(b"\n", 0, first.start_byte) + 1
        prefix = data[line_start : first.start_byte]
        if len(prefix) > len(outer) and prefix.startswith(outer) and not prefix.strip(b" \t\f"):
            return prefix
    return outer + b"    "


def code_end(data: bytes, node: tree_sitter.Node) -> int:
    """End of the last line of code of ``node`` (trailing comment lines excluded)."""
    while node.child_count:
        last = node.child(node.child_count - 1)
        while last is not None and last.type == "comment":
            last = last.prev_sibling
        if last is None:
            break
        node = last
    end = node.end_byte
    if end > node.start_byte and data[end - 1 : end] == b"\n":
        end -= 1
    line_end = data.find(b"\n", end)
    return len(data) if line_end == -1 else line_end


def end_row(node: tree_sitter.Node) -> int:
    row, col = node.end_point
    return row - 1 if col == 0 and row > node.start_point.row else row

