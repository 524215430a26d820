"""The parsed summary of one blob: its nodes with kinds, names, signatures and byte ranges.

A summary depends only on the bytes and the language, so it is stored once per blob id
and shared by every path and commit holding that blob; node ids are the summary's
qualified names joined to a path (``Summary.ids``). Bad input gives a summary, never an
exception: ``status`` is ``ok``, ``broken`` (tree-sitter found errors; nodes are what it
could still see) or ``skipped`` (not UTF-8, too large), with a ``note`` saying why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import tree_sitter

from astm.core.node import Node, split_id
from astm.index import terms
from astm.lang.python import syntax as pysyntax
from astm.lang.toml import syntax as tomlsyntax

MAX_BYTES = 8 * 1024 * 1024  # larger files are skipped with a note
_SIG_MAX = 300
_PLACEHOLDER = "_"  # the path nodes are built under before the summary strips it


@dataclass(frozen=True)
class Entry:
    """One node below the file: ``qual`` is its id without the ``path::`` prefix."""

    qual: str
    kind: str
    key: str | None
    start: int
    end: int
    signature: str


@dataclass(frozen=True)
class Summary:
    lang: str  # "python" or "toml"
    status: str  # "ok", "broken" or "skipped"
    note: str | None
    size: int
    nodes: tuple[Entry, ...]

    def ids(self, path: str) -> list[str]:
        return [f"{path}::{e.qual}" for e in self.nodes]

    def weights(self) -> dict[str, int]:
        """Routing term -> its highest weight over the nodes."""
        out: dict[str, int] = {}
        for e in self.nodes:
            for term, w in terms.node_weights(e.key, e.signature).items():
                if w > out.get(term, 0):
                    out[term] = w
        return out

    def to_json(self) -> str:
        nodes = [[e.qual, e.kind, e.key, e.start, e.end, e.signature] for e in self.nodes]
        return json.dumps(
            {"lang": self.lang, "status": self.status, "note": self.note, "size": self.size,
             "nodes": nodes},
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Summary:
        """The summary ``to_json`` wrote; ValueError for anything else."""
        try:
            d = json.loads(text)
            nodes = tuple(Entry(str(q), str(k), key, int(s), int(e), str(sig))
                          for q, k, key, s, e, sig in d["nodes"])
            return cls(str(d["lang"]), str(d["status"]), d["note"], int(d["size"]), nodes)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a summary: {exc}") from None


def summarize(lang: str, data: bytes) -> Summary:
    """The summary of ``data`` read as ``lang`` (see ``astm.lang.language_of``)."""
    if len(data) > MAX_BYTES:
        return Summary(lang, "skipped", f"too large ({len(data)} bytes)", len(data), ())
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Summary(lang, "skipped", f"not UTF-8 (byte {exc.start})", len(data), ())
    try:
        if lang == "toml":
            return _toml(data)
        return _python(data)
    except RecursionError:
        return Summary(lang, "skipped", "nesting too deep", len(data), ())


def _python(data: bytes) -> Summary:
    tree = pysyntax.parse_tree(data)
    root = tree.root_node
    status, note = "ok", None
    if root.has_error:
        status, note = "broken", "tree-sitter found syntax errors"
    # One parse for node ranges and signatures: the items below are the ones the node
    # builder names, in the same order (astm.lang.python.syntax.build does exactly this).
    items = pysyntax._module_items(root)
    builder = pysyntax._Builder(_PLACEHOLDER, data, tree)
    entries: list[Entry] = []
    _walk(data, builder.nodes(items, "", 0), items, entries)
    return Summary("python", status, note, len(data), tuple(entries))


def _walk(
    data: bytes, nodes: tuple[Node, ...], items: list[pysyntax._Item], out: list[Entry]
) -> None:
    for node, item in zip(nodes, items):
        qual = split_id(node.id)[1] or ""
        if item.definition is not None and item.kind != "block":
            sig = _def_signature(data, item.definition)
        elif item.kind == "imports":
            sig = _fold(data[node.start : node.end])
        else:  # an assignment, a statement, a block header: its first line of code
            lines = data[node.start : node.end].split(b"\n")
            sig = _fold(next((x for x in lines if not x.lstrip().startswith(b"#")), b""))
        out.append(Entry(qual, node.kind, node.key, node.start, node.end, sig[:_SIG_MAX]))
        if item.definition is not None and node.children:
            _walk(data, node.children, pysyntax._body_items(item.definition), out)


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
    return _fold(b" ".join(parts))


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


def _fold(text: bytes) -> str:
    return _SPACES.sub(" ", text.decode("utf-8", "replace")).strip()


def _toml(data: bytes) -> Summary:
    err = tomlsyntax.toml_error(data)
    status, note = ("broken", f"not valid TOML: {err[0]}") if err else ("ok", None)
    tree = tomlsyntax.build(_PLACEHOLDER, data)
    keys: list[list[str]] = []  # keys of the preamble, then of each table, in order
    preamble: list[str] = []
    for top in tomlsyntax.parse_tree(data).root_node.children:
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
        entries.append(Entry(qual, node.kind, node.key, node.start, node.end, sig[:_SIG_MAX]))
    return Summary("toml", status, note, len(data), tuple(entries))


def _pair_key(pair: tree_sitter.Node) -> str:
    return (pair.children[0].text or b"").decode("utf-8", "replace") if pair.children else ""
