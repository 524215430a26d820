"""A TOML file's nodes for the repository index: each table with its header and keys."""

from __future__ import annotations

import tree_sitter

from astm.core.node import split_id
from astm.lang.summary import PLACEHOLDER, SIG_MAX, Entry
from astm.lang.summary import grammar_tag as tag_of
from astm.lang.toml import syntax


def summary(data: bytes) -> tuple[str, str | None, tuple[Entry, ...]]:
    err = syntax.toml_error(data)
    status, note = ("broken", f"not valid TOML: {err[0]}") if err else ("ok", None)
    tree = syntax.build(PLACEHOLDER, data)
    keys: list[list[str]] = []  # keys of the preamble, then of each table, in order
    preamble: list[str] = []
    for top in syntax.parse_tree(data).root_node.children:
        if top.type == "pair":
            preamble.append(_pair_key(top))
        elif top.type in ("table", "table_array_element"):
            keys.append([_pair_key(c) for c in top.children if c.type == "pair"])
    if preamble:
        keys.insert(0, preamble)
    entries = []
    for node, names in zip(tree.children, keys):
        head = f"[{node.key}]" if node.kind == "table" else f"[[{node.key}]]"
        if node.kind == "preamble":
            head = "(preamble)"
        sig = f"{head} {', '.join(names)}" if names else head
        qual = split_id(node.id)[1] or ""
        entries.append(Entry(qual, node.kind, node.key, node.start, node.end, sig[:SIG_MAX]))
    return status, note, tuple(entries)


def _pair_key(pair: tree_sitter.Node) -> str:
    return (pair.children[0].text or b"").decode("utf-8", "replace") if pair.children else ""


def grammar_tag() -> str:
    return tag_of(syntax.GRAMMAR)
