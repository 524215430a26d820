"""TOML files as node trees (tree-sitter-toml), with ``tomllib`` as the authority on validity.

Node ids below a TOML file ``F``:

* ``F::<key>`` for a table ``[key]``, the key normalised: parts unquoted where they are
  bare keys, joined with ``.``, no spaces (``[ tool . "pytest" ]`` -> ``tool.pytest``);
* ``F::<key>[i]`` for the i-th (0-based) ``[[key]]`` array-table element;
* a table ``[key]`` whose key was already used by an earlier table (legal only below
  different ``[[...]]`` elements) is named through its array-table element instead:
  ``[[arr]] [arr.sub] [[arr]] [arr.sub]`` -> ``F::arr[0]``, ``F::arr.sub``, ``F::arr[1]``,
  ``F::arr[1].sub`` (the first keeps ``F::<key>``, so appending elements renames nothing);
* ``F::(preamble)`` for the key/value pairs before the first table, taken as one node.

* ``F::(comment before NAME)``: comment lines above the first node, separated from it by a
  blank line (a file header); ``F::(comment end)`` for a file holding only comments.

A node covers whole lines: the comment lines directly above it (no blank line between)
belong to it; it ends after the newline of its last non-blank line, so comments between
tables belong to the table above them. Blank lines between nodes and a UTF-8 BOM belong to
the file: every other byte belongs to a node.
"""

from __future__ import annotations

import re
import threading
import tomllib

import tree_sitter
import tree_sitter_toml

from astm.core.lines import Lines, tree_depth
from astm.core.node import Node, node_id, text_hash
from astm.errors import TargetError, ValidationFailed

PREAMBLE = "(preamble)"
# How deep a new text's syntax tree may nest: an array is one level, an inline table two.
# ``tomllib`` recurses once per level and fails near 400 inline tables; real files nest
# a handful of levels.
MAX_DEPTH = 200
BOM = b"\xef\xbb\xbf"
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
GRAMMAR = tree_sitter.Language(tree_sitter_toml.language())
_local = threading.local()


def _parser() -> tree_sitter.Parser:
    # tree-sitter parsers are not thread-safe; one per thread.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = tree_sitter.Parser(GRAMMAR)
    return parser


def parse_tree(data: bytes) -> tree_sitter.Tree:
    """The raw tree-sitter tree of ``data`` (a leading BOM is blanked, offsets kept)."""
    if data.startswith(BOM):
        data = b"   " + data[3:]
    return _parser().parse(data)


def decode(data: bytes, path: str) -> str:
    """The text of a TOML file for ``tomllib``; raises TargetError for non-UTF-8 bytes."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TargetError(f"not UTF-8 (byte {exc.start})", path=path) from None
    return text.removeprefix("\ufeff")


def toml_error(data: bytes, path: str = "<text>") -> tuple[str, int | None] | None:
    """``None`` if ``data`` is valid TOML, else ``(message, line)`` from ``tomllib``."""
    try:
        tomllib.loads(decode(data, path))
    except TargetError as exc:
        return exc.message, None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        return "too deeply nested", None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        line = getattr(exc, "lineno", None)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        if line is None and m:
            line = int(m.group(1))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        msg = re.sub(r"\s*\(at end of document\)", " at end of document", msg)
        return msg, line
    return None


def refuse_deep(text: bytes) -> None:
    """Raise ValidationFailed if ``text`` nests deeper than ``MAX_DEPTH`` syntax levels
    (one linear walk, before anything that recurses reads the text)."""
    depth = tree_depth(parse_tree(text), MAX_DEPTH)
    if depth > MAX_DEPTH:
        raise ValidationFailed(f"the text nests more than {MAX_DEPTH} levels deep; refused")


def normalise_key(key_text: str) -> tuple[str, ...]:
    """The parts of a TOML key as written (``a."b c".'d'``) -> ``('a', 'b c', 'd')``."""
    doc = tomllib.loads(f"{key_text} = 0")
    parts: list[str] = []
    cur: object = doc
    while isinstance(cur, dict):
        (name, cur), = cur.items()
        parts.append(name)
    return tuple(parts)


def render_key(parts: tuple[str, ...]) -> str:
    return ".".join(p if _BARE.match(p) else '"' + p.replace('"', '\\"') + '"' for p in parts)


def _header_key(node: tree_sitter.Node) -> str:
    for child in node.children:
        if child.type in ("bare_key", "quoted_key", "dotted_key"):
            # "replace": invalid input may put non-UTF-8 bytes in a key.
            return (child.text or b"").decode("utf-8", "replace")
    return ""


def parse(path: str, data: bytes) -> Node:
    """The node tree of a TOML file; raises TargetError if it is not valid TOML."""
    decode(data, path)  # non-UTF-8 is its own error, not a TOML one
    err = toml_error(data, path)
    if err:
        raise TargetError(f"not valid TOML: {err[0]}", path=path, line=err[1])
    return build(path, data)


def build(path: str, data: bytes) -> Node:
    """The node tree of ``data`` without checking validity (used on valid files)."""
    tree = parse_tree(data)
    lines = Lines.of(data)
    top = tree.root_node.children

    comment_rows = set()
    stack = list(top)
    while stack:
        n = stack.pop()
        if n.type == "comment":
            row = n.start_point.row
            if not data[lines.start(row) : n.start_byte].strip():
                comment_rows.add(row)
        elif n.type in ("table", "table_array_element", "ERROR"):
            stack.extend(n.children)

    # (first content row, kind, key) of each item: the preamble and every table.
    items: list[tuple[int, str, str | None]] = []
    pairs = [n for n in top if n.type == "pair"]
    tables = [n for n in top if n.type in ("table", "table_array_element")]
    first_table_row = tables[0].start_point.row if tables else None
    pre_pairs = [p for p in pairs if first_table_row is None or p.start_point.row < first_table_row]
    if pre_pairs:
        items.append((pre_pairs[0].start_point.row, "preamble", None))
    for t in tables:
        kind = "table" if t.type == "table" else "array_table"
        items.append((t.start_point.row, kind, _header_key(t)))

    def first_row(row: int) -> int:
        while row - 1 in comment_rows:
            row -= 1
        return row

    firsts = [first_row(row) for row, _, _ in items]
    # The preamble cannot take comments above the first pair that sit above nothing else.
    children: list[Node] = []
    aot_index: dict[str, int] = {}
    aot_parts: dict[tuple[str, ...], str] = {}  # key parts -> id of its latest element
    used: set[str] = set()
    n_rows = len(lines.starts)
    for i, (row, kind, key_text) in enumerate(items):
        start_row = firsts[i]
        limit = firsts[i + 1] if i + 1 < len(items) else n_rows
        last = limit - 1
        while last > row and lines.blank(last):
            last -= 1
        start, end = lines.start(start_row), lines.end(last)
        if start_row == 0 and data.startswith(BOM):
            start = len(BOM)  # the BOM belongs to the file, never to a node
        if kind == "preamble":
            qual, key = PREAMBLE, None
        else:
            try:
                parts = normalise_key(key_text or "")
                key = render_key(parts)
            except (tomllib.TOMLDecodeError, ValueError):
                key = " ".join((key_text or "").split())
                parts = (key,)
            qual = key
            if kind == "array_table":
                idx = aot_index.get(key, 0)
                aot_index[key] = idx + 1
                qual = f"{key}[{idx}]"
                aot_parts[parts] = qual
            elif qual in used:
                qual = _through_element(parts, aot_parts) or qual
            qual = _unique(qual, used)  # only invalid files (a table twice) need this
            used.add(qual)
        children.append(
            Node(
                id=node_id(path, qual),
                kind=kind,
                path=path,
                start=start,
                end=end,
                key=key,
                hash=text_hash(data[start:end]),
            )
        )
    return Node(
        id=node_id(path),
        kind="file",
        path=path,
        start=0,
        end=len(data),
        key=None,
        hash=text_hash(data),
        children=_with_comments(path, data, lines, children),
    )


def _with_comments(path: str, data: bytes, lines: Lines, children: list[Node]) -> tuple[Node, ...]:
    """``children`` with the comment lines no node holds made nodes too: a run of them
    above the first node, separated from it by a blank line (a file header), is
    ``(comment before NAME)``; a file of only comments is ``(comment end)``. (Comments
    between tables are the table's above them.) Blank lines stay the file's."""
    out: list[Node] = []
    pos = lines.start(0) if data else 0
    for child in (*children, None):
        stop = child.start if child is not None else len(data)
        gap = data[pos:stop]
        if gap.strip():
            first = lines.row(pos + len(gap) - len(gap.lstrip()))
            last = lines.row(pos + len(gap.rstrip()) - 1)
            start, end = lines.start(first), lines.end(last)
            name = f"(comment before {child.id.split('::', 1)[1]})" if child else "(comment end)"
            out.append(
                Node(
                    id=node_id(path, name), kind="comment", path=path, start=start, end=end,
                    key=None, hash=text_hash(data[start:end]),
                )
            )
        if child is not None:
            out.append(child)
            pos = child.end
    return tuple(out)


def _through_element(parts: tuple[str, ...], aot_parts: dict[tuple[str, ...], str]) -> str:
    """``arr[1].sub`` for ``[arr.sub]`` below the latest ``[[arr]]``; "" if none is above."""
    for n in range(len(parts) - 1, 0, -1):
        element = aot_parts.get(parts[:n])
        if element:
            return element + "." + render_key(parts[n:])
    return ""


def _unique(qual: str, used: set[str]) -> str:
    n = 2
    name = qual
    while name in used:
        name = f"{qual}#{n}"
        n += 1
    return name


def table_headers(data: bytes) -> list[tuple[str, str]]:
    """``(kind, key)`` of each top-level table in ``data`` in order; kinds as in ``Node``."""
    tree = parse_tree(data)
    out = []
    for n in tree.root_node.children:
        if n.type in ("table", "table_array_element"):
            kind = "table" if n.type == "table" else "array_table"
            try:
                key = render_key(normalise_key(_header_key(n)))
            except (tomllib.TOMLDecodeError, ValueError):
                key = _header_key(n)
            out.append((kind, key))
    return out


def outline(data: bytes, *, max_keys: int = 12) -> str:
    """Small context for prompts: each table header with its keys (no values)."""
    tree = parse_tree(data)
    out: list[str] = []
    for n in tree.root_node.children:
        if n.type == "pair":
            out.append(_pair_key(n))
        elif n.type in ("table", "table_array_element"):
            header = (n.children[0].text or b"").decode("utf-8", "replace") + _header_key(n)
            header += "]]" if n.type == "table_array_element" else "]"
            keys = [_pair_key(c) for c in n.children if c.type == "pair"]
            more = f", … (+{len(keys) - max_keys})" if len(keys) > max_keys else ""
            out.append(f"{header}  # keys: {', '.join(keys[:max_keys])}{more}" if keys else header)
    return "\n".join(out)


def _pair_key(pair: tree_sitter.Node) -> str:
    return (pair.children[0].text or b"").decode("utf-8", "replace") if pair.children else ""


_HEADER_LINE = re.compile(rb"^[ \t]*\[\[?[ \t]*([^\]\n]+?)[ \t]*\]\]?[ \t]*(?:#.*)?$")


def section(text: bytes, key: str) -> bytes | None:
    """The lines of ``text`` from the header of table ``key`` to the next header (comment
    lines right above the next header go with it); None without exactly one such header."""
    lines = text.split(b"\n")
    starts = [i for i, ln in enumerate(lines) if _HEADER_LINE.match(ln)]
    if len(starts) < 2:
        return None  # one table: nothing to cut out
    want = key.replace('"', "").replace("'", "").replace(" ", "")
    own = [i for i in starts
           if (m := _HEADER_LINE.match(lines[i])) and m.group(1).decode("utf-8", "replace").replace('"', "")
           .replace("'", "").replace(" ", "") == want]
    if len(own) != 1:
        return None
    first = own[0]
    end = next((i for i in starts if i > first), len(lines))
    while end > first + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(b"#")):
        end -= 1
    return b"\n".join(lines[first:end]).rstrip(b"\n") + b"\n"
