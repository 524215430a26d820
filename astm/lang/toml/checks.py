"""TOML validation at the node and at the file level.

``tomllib`` is the authority on validity (tree-sitter-toml accepts some invalid files and
rejects a few valid multi-line strings); tree-sitter decides the *shape* of new text:
exactly one table with the node's key, or only key/value pairs for the preamble.
"""

from __future__ import annotations

import tomllib

from astm.lang.toml import syntax as ts
from astm.validate.diagnostic import Diagnostic


def check_file(data: bytes, path: str = "<file>") -> Diagnostic | None:
    """Whole-file validity (duplicate keys and tables included)."""
    err = ts.toml_error(data, path)
    if err is None:
        return None
    return Diagnostic(err[0], "tomllib", err[1], relative=False, snippet=_line(data, err[1]))


def check_block(text: bytes, *, tables: list[str]) -> Diagnostic | None:
    """A template block of ``astm new`` alone: valid, its tables only under the prefixes
    the template allows (any with none listed), and at least one table."""
    diag = check_file(text)
    if diag is not None:
        return diag
    for _, key in ts.table_headers(text):
        if tables and not any(key == p or key.startswith(p + ".") for p in tables):
            allowed = ", ".join(f"[{p}]" for p in tables)
            return Diagnostic(f"[{key}] does not belong in this block (only {allowed})", "shape")
    if not ts.table_headers(text):
        return Diagnostic("the block must hold its tables, with their headers", "shape")
    return None


def check_node(
    patched: bytes,
    new_start: int,
    new_text: bytes,
    *,
    kind: str,
    key: str | None,
    rename: bool = False,
    path: str = "<file>",
) -> Diagnostic | None:
    """Validate a node's new text placed at ``new_start`` of the whole ``patched`` file."""
    if not new_text.strip():
        return Diagnostic("the answer is empty; give the whole new text of the node", "shape")
    shape = check_shape(new_text, kind=kind, key=key, rename=rename)
    if shape:
        return shape
    whole = check_file(patched, path)
    if whole is None:
        return None
    if whole.line is not None:
        first = patched.count(b"\n", 0, new_start) + 1
        last = first + new_text.count(b"\n")
        if first <= whole.line <= last:
            return Diagnostic(whole.message, "tomllib", whole.line - first + 1, True, whole.snippet)
    return whole


def check_shape(new_text: bytes, *, kind: str, key: str | None, rename: bool) -> Diagnostic | None:
    """The new text is one table of the node's kind and key (or only pairs, for the preamble)."""
    tree = ts.parse_tree(new_text)
    top = [n for n in tree.root_node.children if n.type != "comment"]
    if kind == "comment":
        if top:
            return Diagnostic("a comment node holds only comment lines", "shape", top[0].start_point.row + 1)
        return None
    tables = [n for n in top if n.type in ("table", "table_array_element")]
    if kind == "preamble":
        if tables:
            return Diagnostic(
                "the top-level keys must not contain a [table] header",
                "shape",
                tables[0].start_point.row + 1,
            )
        return None
    if tree.root_node.has_error and not tables:
        return _shape_by_tomllib(new_text, kind=kind, key=key, rename=rename)
    if top and top[0].type == "pair":
        return Diagnostic(
            "keys come before the table header; start with the header",
            "shape",
            top[0].start_point.row + 1,
        )
    if len(tables) != 1:
        found = ", ".join(k for _, k in ts.table_headers(new_text)) or "none"
        return Diagnostic(f"expected exactly one table [{key}], found: {found}", "shape")
    got_kind, got_key = ts.table_headers(new_text)[0]
    want = f"[[{key}]]" if kind == "array_table" else f"[{key}]"
    if got_kind != kind:
        return Diagnostic(f"the header must be {want}", "shape", tables[0].start_point.row + 1)
    if key is not None and got_key != key and not rename:
        return Diagnostic(
            f"the table is [{got_key}] but this node is {want}; keep the header",
            "shape",
            tables[0].start_point.row + 1,
        )
    return None


def _shape_by_tomllib(new_text: bytes, *, kind: str, key: str | None, rename: bool) -> Diagnostic | None:
    # tree-sitter-toml rejects a few valid multi-line strings: fall back to the data.
    err = ts.toml_error(new_text)
    if err is not None:
        return Diagnostic(err[0], "tomllib", err[1])
    doc = tomllib.loads(new_text.decode("utf-8", "replace").removeprefix("\ufeff"))
    if rename or key is None:
        return None
    cur: object = doc
    for part in ts.normalise_key(key):
        if not isinstance(cur, dict) or list(cur) != [part]:
            return Diagnostic(f"expected exactly one table [{key}]", "shape")
        cur = cur[part]
    return None


def key_of(text: bytes) -> tuple[str, str] | None:
    """``(kind, key)`` of the first table in ``text``, or None."""
    headers = ts.table_headers(text)
    return headers[0] if headers else None


def _line(data: bytes, line: int | None) -> str:
    if not line:
        return ""
    lines = data.split(b"\n")
    return lines[line - 1].decode("utf-8", "replace") if line <= len(lines) else ""
