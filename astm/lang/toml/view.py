"""The skeleton of a TOML file: every table header and key, long values shortened.

A pair that fits on one line of at most ``SHORT`` characters stays as written. A longer
value is shortened and stays valid TOML: a string is cut to ``KEEP`` characters and ends
with ``…``; an array or inline table keeps its first items up to about ``KEEP`` characters
and a comment says how many were left out (``# … 12 more``). Comments go. A region
tree-sitter could not parse is left out and marked ``# astm: lines A-B: could not be parsed``.
"""

from __future__ import annotations

import bisect
import datetime
import json
import math
import re
import tomllib

import tree_sitter

from astm.core.node import Node
from astm.core.view import ID, NOTE, Line
from astm.lang.toml import syntax as tomlsyntax

SHORT = 80
KEEP = 40
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
_TABLES = ("table", "table_array_element")
_KEYS = ("bare_key", "quoted_key", "dotted_key")


class _Ids:
    """The id of the node that holds a byte offset (the deepest table, else the file)."""

    def __init__(self, path: str, data: bytes) -> None:
        try:
            tree = tomlsyntax.build(path, data)
        except Exception:  # noqa: BLE001 - a broken file still gets a view, named by file
            tree = Node(id=path, kind="file", path=path, start=0, end=len(data))
        self.file = tree.id
        self.children = tree.children
        self.starts = [c.start for c in tree.children]
        self.kinds = {c.id: c.kind for c in tree.children}

    def kind(self, nid: str) -> str:
        return self.kinds.get(nid, "file")

    def at(self, offset: int) -> str:
        i = bisect.bisect_right(self.starts, offset) - 1
        if i >= 0 and self.children[i].start <= offset < self.children[i].end:
            return self.children[i].id
        return self.file


def _broken(node: tree_sitter.Node, nid: str, out: list[Line], notes: list[str]) -> None:
    first = node.start_point.row + 1
    row, col = node.end_point
    last = (row if col or row == node.start_point.row else row - 1) + 1
    where = f"line {first}" if first == last else f"lines {first}-{last}"
    notes.append(f"{where}: could not be parsed (left out)")
    out.append(Line(f"# astm: {where}: could not be parsed (left out)", nid, NOTE))


def lines(path: str, data: bytes) -> tuple[list[Line], list[str]]:
    """The skeleton lines and notes of ``data`` (valid UTF-8)."""
    tree = tomlsyntax.parse_tree(data)
    ids = _Ids(path, data)
    out: list[Line] = []
    notes: list[str] = []
    shown: set[str] = set()
    for top in tree.root_node.children:
        nid = ids.at(top.start_byte)
        if top.type == "comment":
            if nid != ids.file and nid not in shown and ids.kind(nid) == "comment":
                # A comment node (a file header): its first line, shown by --ids only.
                out.append(Line(_text(data, top.start_byte, top.end_byte).rstrip()[:80], nid, ID))
            shown.add(nid)
            continue
        shown.add(nid)
        if top.type == "pair":
            _pair(data, top, nid, out, notes)
        elif top.type in _TABLES:
            close = next((c for c in top.children if c.type in ("]", "]]")), None)
            if close is None or any(c.has_error or c.is_missing for c in top.children
                                    if c.end_byte <= close.end_byte):
                _broken(top, nid, out, notes)
                continue
            out.append(Line(_text(data, top.start_byte, close.end_byte), nid))
            for child in top.children:
                if child.type == "pair":
                    _pair(data, child, nid, out, notes)
                elif child.type == "ERROR" or child.is_missing:
                    _broken(child, nid, out, notes)
        elif top.type == "ERROR" or top.is_missing or top.has_error:
            _broken(top, nid, out, notes)
    return out, notes


def _text(data: bytes, start: int, end: int) -> str:
    return data[start:end].decode("utf-8").replace("\r\n", "\n")


def _pair(data: bytes, pair: tree_sitter.Node, nid: str, out: list[Line], notes: list[str]) -> None:
    if pair.has_error:
        _broken(pair, nid, out, notes)
        return
    text = _text(data, pair.start_byte, pair.end_byte)
    if "\n" not in text and len(text) <= SHORT:
        out.append(Line(text, nid))
        return
    key = next((c for c in pair.children if c.type in _KEYS), None)
    value = pair.children[-1] if pair.children else None
    if key is None or value is None:
        _broken(pair, nid, out, notes)
        return
    try:
        parsed = tomllib.loads("v = " + _text(data, value.start_byte, value.end_byte))["v"]
    except (tomllib.TOMLDecodeError, KeyError, RecursionError):
        _broken(pair, nid, out, notes)
        return
    short, left_out = _short(parsed, KEEP)
    line = f"{_text(data, key.start_byte, key.end_byte)} = {short}"
    if left_out:
        line += f"  # … {left_out} more"
    out.append(Line(line, nid))


def _short(value: object, budget: int) -> tuple[str, int]:
    """``value`` as TOML within about ``budget`` characters, and how many items it left out."""
    if isinstance(value, str):
        return _string(value if len(value) <= budget else value[:budget] + "…"), 0
    if isinstance(value, list):
        parts, used = [], 0
        for i, item in enumerate(value):
            text, _ = _short(item, max(8, budget - used))
            if parts and used + len(text) > budget:
                return "[" + ", ".join(parts) + "]", len(value) - i
            parts.append(text)
            used += len(text) + 2
        return "[" + ", ".join(parts) + "]", 0
    if isinstance(value, dict):
        parts, used = [], 0
        for i, (k, item) in enumerate(value.items()):
            text, _ = _short(item, max(8, budget - used))
            text = f"{_key(k)} = {text}"
            if parts and used + len(text) > budget:
                return "{ " + ", ".join(parts) + " }", len(value) - i
            parts.append(text)
            used += len(text) + 2
        return ("{ " + ", ".join(parts) + " }") if parts else "{}", 0
    return _scalar(value), 0


def _string(s: str) -> str:
    # JSON escapes are all TOML escapes; TOML also forbids a raw DEL in basic strings.
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007F")


def _key(k: str) -> str:
    return k if _BARE.match(k) else _string(k)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return str(value)
