"""A composed file against its base, checked at the cost of what changed (issue 11.15).

A composing parent's text is its base with its children's patches applied. The base is
valid Python: the run compiled and parsed it when it read the file (``syntax.parse``; its
tree-sitter tree is kept, ``syntax.tree_of``). Compiling and parsing the composed text
whole again cost seconds per composing level in a module of 50,000 functions. Instead:

* the *windows* are the base's top-level statements the patches touch, grown to whole
  lines that share none with a statement outside them (``p = 1; q = 2``); outside them
  the composed text is the base's bytes;
* each window's new text is parsed alone by tree-sitter: a window is whole top-level
  statements, so its tree is the composed file's there, and what it holds is read from
  it (its top-level keys, a ``__future__`` import, a ``global`` at module level);
* CPython compiles a *sparse* text: the windows' new text where it stands and the
  file's head (the encoding cookie, the docstring and ``__future__`` imports it opens
  with), every other line blank. Line numbers, future flags and the cookie are the
  file's own, and the lines left out are top-level statements CPython accepted before:
  what it says of the sparse text is what it says of the file.

Statements whose bytes compiled alone before are left out of the sparse text too: the
leaves compiled their own text (``checks.valid_alone``), and a top-level statement that
compiles alone compiles the same in the file when nothing can change how it reads (no
``__future__`` import, old or new, no encoding cookie or BOM, no backslash on the line
above it). A plan's 128 functions were compiled twice, 0.13 ms a node (``_unproven``).

The sparse text is not enough, and the whole file is compiled, when a window's new text
does not parse alone (an unclosed string would run on past it in the file), ends with a
line continuation (it would join the line after it), or holds a ``__future__`` import
below the file's head; and when the module scope has a ``global`` statement anywhere
(``x = 1`` then ``global x`` is an error between two statements). A window reaching into
the docstring and imports the module opens with starts at the file's first byte and ends
after the first statement past them: whether a statement belongs to the import block
depends on the statements before it.

The windows also say what changed among the file's top-level nodes (``Change.delta``):
the items of the base's window statements against those of the new text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

import tree_sitter

from astm.core.patch import Patch
from astm.lang.python import syntax
from astm.lang.python.items import (
    IMPORT_TYPES,
    Item,
    is_docstring,
    items_of,
    leading_count,
    window_items,
)
from astm.lang.python.kept import Kept

Key = tuple[str, str | None]
_FUTURE = "future_import_statement"
_SCOPES = ("function_definition", "class_definition", "lambda")
_GLOBAL = re.compile(rb"\bglobal\b")
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=]", re.MULTILINE)


@dataclass(frozen=True)
class Edit:
    """Base bytes ``[start, end)`` became composed bytes ``[new_start, new_end)``."""

    start: int
    end: int
    new_start: int
    new_end: int


@dataclass(frozen=True)
class Change:
    """What a composed text changed against its base."""

    windows: tuple[tuple[int, int, int, int], ...]  # (old start, old end, new start, new end)
    sparse: bytes | None  # what CPython compiles in its place; None: the whole text
    delta: tuple[list[Key], list[Key]] | None  # top-level (kind, key) removed, added


_changes: Kept[tuple[bytes, bytes], Change] = Kept(2)


def change(base: bytes, data: bytes, patches: Sequence[Patch] = ()) -> Change:
    """``data`` against ``base`` (remembered for the last pairs: a composing parent checks
    the text, then its structure). ``patches``: what made ``data`` from ``base``, a hint
    checked against the bytes (else the change is found by comparing them)."""
    return _changes.get((base, data), lambda: _change(base, data, edits_of(base, data, patches)))


def forget() -> None:
    """Drop the remembered changes."""
    _changes.clear()


def edits_of(base: bytes, data: bytes, patches: Sequence[Patch]) -> list[Edit]:
    """The edits that make ``data`` from ``base``, in order: the patches', when applying
    them gives ``data`` exactly (spacing rules may also move blank lines near them), else
    one edit from the first differing byte to the last."""
    edits: list[Edit] = []
    shift, pos = 0, 0
    for p in sorted(patches, key=lambda p: (p.start, p.end, p.seq)):
        new_start = p.start + shift
        if (
            p.start < pos
            or base[pos : p.start] != data[pos + shift : new_start]
            or data[new_start : new_start + len(p.text)] != p.text
        ):
            edits = []
            break
        shift += len(p.text) - (p.end - p.start)
        if edits and edits[-1].end == p.start:  # touching: one edit
            last = edits.pop()
            edits.append(Edit(last.start, p.end, last.new_start, new_start + len(p.text)))
        else:
            edits.append(Edit(p.start, p.end, new_start, new_start + len(p.text)))
        pos = p.end
    if edits and len(base) + shift == len(data) and base[pos:] == data[pos + shift :]:
        return edits
    if base == data:
        return []
    head = _common_prefix(base, data)
    tail = _common_prefix(base[::-1], data[::-1])
    tail = min(tail, len(base) - head, len(data) - head)
    return [Edit(head, len(base) - tail, head, len(data) - tail)]


def _common_prefix(a: bytes, b: bytes) -> int:
    n, lo, step = min(len(a), len(b)), 0, 1 << 16
    while step:
        while lo + step <= n and a[lo : lo + step] == b[lo : lo + step]:
            lo += step
        step //= 2
    return lo


@dataclass(frozen=True)
class _Window:
    old: tuple[int, int]
    new: tuple[int, int]
    tree: tree_sitter.Tree  # the new text's, parsed alone
    leading: bool  # starts at the file's first byte, past the opening docstring and imports


def _change(base: bytes, data: bytes, edits: list[Edit]) -> Change:
    tree = syntax.tree_of(base)
    kids = tree.root_node.children
    statements = [k for k in kids if k.is_named and k.type != "comment"]
    spans = _windows(base, kids, statements, edits)
    windows: list[_Window] = []
    for (oa, ob), leading in spans:
        na, nb = _to_new(edits, oa, low=True), _to_new(edits, ob, low=False)
        text = data[na:nb]
        aligned = (na == 0 or data[na - 1 : na] == b"\n") and (nb == len(data) or data[nb - 1 : nb] == b"\n")
        new = syntax.parse_tree(text)
        if not aligned or new.root_node.has_error or text.rstrip(b"\r\n").endswith(b"\\"):
            return Change(tuple((w.old + w.new) for w in windows), None, None)
        windows.append(_Window((oa, ob), (na, nb), new, leading))
    found = tuple(w.old + w.new for w in windows)
    return Change(found, _sparse(base, data, tree, windows), _delta(tree, statements, windows))


def _windows(
    base: bytes, kids: list[tree_sitter.Node], statements: list[tree_sitter.Node], edits: list[Edit],
) -> list[tuple[tuple[int, int], bool]]:
    """The base's byte ranges the edits touch, grown to whole statements and lines, merged;
    the first one made leading when it reaches into the module's opening statements."""
    grown = sorted(_expand(base, kids, e.start, e.end) for e in edits)
    merged: list[tuple[int, int]] = []
    for a, b in grown:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    if not merged:
        return []
    lead = leading_count(statements)
    lead_end = statements[lead].end_byte if lead < len(statements) else len(base)
    if merged[0][0] >= max(lead_end, _future_end(kids)):
        return [(w, False) for w in merged]
    # From the first byte to the first statement past the opening ones that is no import
    # and that no edit touches: the import block ends there, before and after.
    end, rest = merged[0][1], merged[1:]
    while True:
        i = max(lead, bisect.bisect_left(statements, end, key=lambda s: s.start_byte))
        while i < len(statements) and statements[i].type in IMPORT_TYPES:
            i += 1
        end = _expand(base, kids, statements[i].start_byte, statements[i].end_byte)[1] if i < len(statements) else len(base)
        if not rest or rest[0][0] > end:
            return [((0, end), True), *((w, False) for w in rest)]
        end, rest = max(end, rest[0][1]), rest[1:]


def _to_new(edits: list[Edit], pos: int, *, low: bool) -> int:
    """Where base byte ``pos`` (outside the edits, or at an edge of one) is in the composed
    text; ``low``: an edit starting at ``pos`` comes after it."""
    shift = 0
    for e in edits:
        if pos < e.start or (low and pos == e.start):
            break
        if pos < e.end:
            return e.new_start if low else e.new_end
        shift = e.new_end - e.end
    return pos + shift


def _end_row(node: tree_sitter.Node) -> int:
    row, col = node.end_point
    return row - 1 if col == 0 and node.end_byte > node.start_byte else row


def _expand(text: bytes, kids: list[tree_sitter.Node], a: int, b: int) -> tuple[int, int]:
    """``[a, b)`` grown to the whole lines of the top-level statements it overlaps (holds,
    when empty), and of those sharing a line with them."""
    i = bisect.bisect_right(kids, a, key=lambda k: k.end_byte)
    j = bisect.bisect_left(kids, max(b, a + 1), key=lambda k: k.start_byte)
    if i < j:
        first, last = kids[i].start_point.row, _end_row(kids[j - 1])
        while i > 0 and _end_row(kids[i - 1]) >= first:
            i -= 1
            first = min(first, kids[i].start_point.row)
        while j < len(kids) and kids[j].start_point.row <= last:
            j += 1
            last = max(last, _end_row(kids[j - 1]))
        a, b = min(a, kids[i].start_byte), max(b, kids[j - 1].end_byte)
    return _line_start(text, a), _line_end(text, b)


def _line_start(text: bytes, pos: int) -> int:
    return text.rfind(b"\n", 0, pos) + 1


def _line_end(text: bytes, pos: int) -> int:
    if pos == 0 or text[pos - 1 : pos] == b"\n":
        return pos
    end = text.find(b"\n", pos)
    return len(text) if end < 0 else end + 1


def _future_end(kids: list[tree_sitter.Node]) -> int:
    """Where the ``__future__`` imports the module opens with end (0: it has none)."""
    end, first = 0, True
    for k in kids:
        if k.type == _FUTURE:
            end = k.end_byte
        elif k.type != "comment" and not (first and is_docstring(k)):
            break
        first = first and k.type == "comment"
    return end


def _module_global(data: bytes, root: tree_sitter.Node) -> bool:
    """Whether a ``global`` statement stands in the module's own scope."""
    for m in _GLOBAL.finditer(data):
        node = root.descendant_for_byte_range(m.start(), m.end())
        if node is None or node.type != "global":
            continue  # the word in a string, a comment or a name
        up = node.parent
        while up is not None and up.type not in _SCOPES:
            up = up.parent
        if up is None:
            return True
    return False


def _sparse(base: bytes, data: bytes, tree: tree_sitter.Tree, windows: list[_Window]) -> bytes | None:
    """The windows' new text where it stands with the file's head, other lines blank
    (None: the whole file must be compiled)."""
    if b"global" in base and _module_global(base, tree.root_node):
        return None
    keep: list[tuple[int, int]] = []
    kids = tree.root_node.children
    head = _future_end(kids)  # in the leading window, or before every window
    cookie = _cookie_lines(data)
    # A leaf's text compiled alone compiles the same in the file when nothing can change
    # how it reads: no __future__ import (the file's, or a new one), no cookie or BOM.
    plain = not head and not cookie and not data.startswith(syntax.BOM) and not any(
        k.type == _FUTURE for w in windows for k in w.tree.root_node.children
    )
    for w in windows:
        root = w.tree.root_node
        if not w.leading and any(k.type == _FUTURE for k in root.children):
            return None  # below the head: CPython says so of the file, not of the window
        text = data[w.new[0] : w.new[1]]
        if b"global" in text and _module_global(text, root):
            return None
        if w.new[1] > w.new[0]:
            keep += _unproven(data, w, root) if plain else [w.new]
    if head and not any(w.leading for w in windows):
        keep.append(_expand(base, kids, 0, head))
    if cookie:
        keep.append((0, cookie))
    elif data.startswith(syntax.BOM):
        keep.append((0, len(syntax.BOM)))
    out, pos = bytearray(), 0
    for a, b in sorted(keep):
        if a > pos:
            out += b"\n" * data.count(b"\n", pos, a)
        if b > pos:
            out += data[max(a, pos) : b]
            pos = b
    return bytes(out)


def _unproven(data: bytes, w: _Window, root: tree_sitter.Node) -> list[tuple[int, int]]:
    """The parts of window ``w`` still to compile: all of it but the runs of whole lines
    holding top-level statements whose bytes, as they stand, compiled alone before (a
    leaf's text, ``syntax.compiled``). The lines kept compile with the others blank, as
    the lines outside every window do. A line before a run that ends in a backslash would
    join it: that run is compiled."""
    out: list[tuple[int, int]] = []
    pos = w.new[0]
    for stmt in root.children:
        a, b = w.new[0] + stmt.start_byte, _line_end(data, w.new[0] + stmt.end_byte)
        if stmt.type == "comment" or a != _line_start(data, a) or a < pos:
            continue
        before = a - 2 if data[a - 2 : a] == b"\r\n" else a - 1  # the last byte of the line above
        joined = before > 0 and data[before - 1 : before] == b"\\"
        if not joined and _compiled(data[a:b]):
            if a > pos:
                out.append((pos, a))
            pos = b
    if pos < w.new[1]:
        out.append((pos, w.new[1]))
    return out


def _compiled(lines: bytes) -> bool:
    """Whether these whole lines compiled alone, with or without their last line break
    (a leaf's text ends where its node does; a line break after it changes nothing)."""
    if syntax.compiled(lines):
        return True
    bare = lines[:-2] if lines.endswith(b"\r\n") else lines[:-1] if lines.endswith(b"\n") else None
    return bare is not None and syntax.compiled(bare)


def _cookie_lines(data: bytes) -> int:
    """The end of the comment lines among the first two that hold an encoding cookie
    (CPython reads one there, under comment lines only); 0: there is none."""
    end = 0
    for _ in range(2):
        stop = _line_end(data, end + 1)
        line = data[end:stop].removeprefix(syntax.BOM if end == 0 else b"").lstrip(b" \t\f")
        if stop == end or not (line.startswith(b"#") or not line.strip()):
            break
        end = stop
    return end if end and _CODING.search(data[:end]) else 0


def _delta(
    tree: tree_sitter.Tree, statements: list[tree_sitter.Node], windows: list[_Window]
) -> tuple[list[Key], list[Key]] | None:
    """The top-level (kind, key)s the windows held in the base and hold now (None: the
    base's tree has an error, whose recovery the windows may change)."""
    if tree.root_node.has_error:
        return None
    removed: list[Key] = []
    added: list[Key] = []
    for w in windows:
        i = bisect.bisect_left(statements, w.old[0], key=lambda s: s.start_byte)
        j = bisect.bisect_left(statements, w.old[1], key=lambda s: s.start_byte)
        new = [k for k in w.tree.root_node.children if k.is_named and k.type != "comment"]
        read = items_of if w.leading else window_items
        removed += [_key(item) for item in read(statements[i:j])]
        added += [_key(item) for item in read(new)]
    return removed, added


def _key(item: Item) -> Key:
    return item.kind, None if item.kind == "imports" else item.name
