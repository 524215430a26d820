"""A Python file's nodes for the repository index: kind, name, signature, byte range.

One parse gives the node ranges and the signatures: the items walked are the ones the node
builder names, in the same order (``syntax.build`` does exactly this).
"""

from __future__ import annotations

import re

import tree_sitter

from astm.core.node import Node, split_id
from astm.lang.python import syntax
from astm.lang.python.builder import Builder
from astm.lang.python.items import Item, body_items, module_items
from astm.lang.summary import PLACEHOLDER, SIG_MAX, Entry
from astm.lang.summary import grammar_tag as tag_of


def summary(data: bytes) -> tuple[str, str | None, tuple[Entry, ...]]:
    tree = syntax.parse_tree(data)
    root = tree.root_node
    status, note = "ok", None
    if root.has_error:
        status, note = "broken", "tree-sitter found syntax errors"
    items = module_items(root)
    builder = Builder(PLACEHOLDER, data, tree)
    entries: list[Entry] = []
    _walk(data, builder.nodes(items, "", 0), items, entries)
    return status, note, tuple(entries)


def _walk(
    data: bytes, nodes: tuple[Node, ...], items: list[Item], out: list[Entry]
) -> None:
    for node, item in zip(nodes, items):
        qual = split_id(node.id)[1] or ""
        if item.definition is not None and item.kind != "block":
            sig = _def_signature(data, item.definition)
        elif item.kind == "imports":
            sig = fold(data[node.start : node.end])
        else:  # an assignment, a statement, a block header: its first line of code
            lines = data[node.start : node.end].split(b"\n")
            sig = fold(next((x for x in lines if not x.lstrip().startswith(b"#")), b""))
        out.append(Entry(qual, node.kind, node.key, node.start, node.end, sig[:SIG_MAX]))
        if item.definition is not None and node.children:
            _walk(data, node.children, body_items(item.definition), out)


def _def_signature(data: bytes, d: tree_sitter.Node) -> str:
    """``@deco def name(params) -> ret:`` on one line, comments left out."""
    parts: list[bytes] = []
    parent = d.parent
    if parent is not None and parent.type == "decorated_definition":
        parts += [data[c.start_byte : c.end_byte] for c in parent.children if c.type == "decorator"]
    body = d.child_by_field_name("body")
    end = body.start_byte if body is not None else d.end_byte
    header = data[d.start_byte : end]
    if b"#" in header:
        header = _strip_comments(data, d, d.start_byte, end)
    parts.append(header.rstrip())
    return fold(b" ".join(parts))


def _strip_comments(data: bytes, node: tree_sitter.Node, start: int, end: int) -> bytes:
    found: list[tuple[int, int]] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.start_byte >= end or n.end_byte <= start:
            continue
        if n.type == "comment":
            found.append((n.start_byte, n.end_byte))
        elif n.type != "block":
            stack.extend(n.children)
    out, pos = [], start
    for s, e in sorted(found):
        out.append(data[pos:s])
        pos = e
    out.append(data[pos:end])
    return b"".join(out)


_SPACES = re.compile(r"\s+")


def fold(text: bytes) -> str:
    """Whitespace runs (line breaks included) made one space."""
    return _SPACES.sub(" ", text.decode("utf-8", "replace")).strip()


def grammar_tag() -> str:
    return tag_of(syntax.GRAMMAR)
