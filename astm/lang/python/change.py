"""A composed file against its base, re-parsed and checked at the cost of what changed.

A composing parent's text is its base with its children's patches applied. The base is
valid Python: the run compiled it when it read the file (``syntax.parse``). Compiling and
parsing the composed text whole again cost seconds per composing level in a module of
50,000 functions (issue 11.15). Instead:

* the base's tree-sitter tree (``syntax.tree_of``) is copied, ``edit``ed and re-parsed
  incrementally: tree-sitter re-parses only around the edits;
* the *windows* are the top-level statements around the changed bytes and around what
  tree-sitter says changed structure: whole lines, sharing none with a statement outside;
* CPython compiles a *sparse* text: the windows where they stand, and the file's head
  (an encoding cookie, the docstring and the ``__future__`` imports it opens with),
  every other line blank. Line numbers, future flags and the cookie are the file's own,
  and the lines left out are unchanged top-level statements CPython accepted before, so
  what it says of the sparse text is what it says of the file.

That holds in a file tree-sitter parses without an error and whose module scope declares
no ``global`` name (``x = 1`` then ``global x`` is an error between two statements); a
window that reaches into the ``__future__`` imports, or holds a new one, starts at the
file's first byte. Otherwise there is no sparse text and the whole file is compiled.

The same windows say what changed among the file's top-level nodes (``Change.delta``):
the items of the base's window statements against the composed text's, when no window
reaches into the docstring and import block the module opens with (whose items depend on
the statements around them).
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import tree_sitter

from astm.core.patch import Patch
from astm.lang.python import syntax
from astm.lang.python.items import is_docstring, module_leading, window_items

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
    """What a composed text changed against its base, read from the incremental re-parse
    (its tree is ``syntax.tree_of`` the text's, kept there)."""

    windows: tuple[tuple[int, int, int, int], ...]  # (old start, old end, new start, new end)
    sparse: bytes | None  # what CPython compiles in its place; None: the whole text
    delta: tuple[list[Key], list[Key]] | None  # top-level (kind, key) removed, added


_KEPT = 2
_changes: OrderedDict[tuple[bytes, bytes], Change] = OrderedDict()
_lock = threading.Lock()


def change(base: bytes, data: bytes, patches: Sequence[Patch] = ()) -> Change:
    """``data`` against ``base`` (remembered for the last few pairs: the composing parent
    checks the text, then its structure). ``patches``: what made ``data`` from ``base``,
    a hint checked against the bytes (else the changed span is found by comparing them)."""
    key = (base, data)
    with _lock:
        found = _changes.get(key)
    if found is not None:
        return found
    found = _change(base, data, edits_of(base, data, patches))
    with _lock:
        _changes[key] = found
        while len(_changes) > _KEPT:
            _changes.popitem(last=False)
    return found


def edits_of(base: bytes, data: bytes, patches: Sequence[Patch]) -> list[Edit]:
    """The edits that make ``data`` from ``base``, in order: the patches', when applying
    them gives ``data`` exactly (spacing rules may also move blank lines near them), else
    one edit from the first differing byte to the last."""
    edits: list[Edit] = []
    shift, pos = 0, 0
    for p in sorted(patches, key=lambda p: (p.start, p.end, p.seq)):
        if p.start < pos:
            edits = []
            break
        new_start = p.start + shift
        if base[pos : p.start] != data[pos + shift : new_start]:
            edits = []
            break
        if data[new_start : new_start + len(p.text)] != p.text:
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


def _point(text: bytes, pos: int) -> tuple[int, int]:
    return text.count(b"\n", 0, pos), pos - (text.rfind(b"\n", 0, pos) + 1)


def _reparse(base: bytes, data: bytes, edits: list[Edit]) -> tuple[tree_sitter.Tree, tree_sitter.Tree]:
    """The base's tree edited to ``data`` (for ``changed_ranges``) and ``data``'s own."""
    old = syntax.tree_of(base).copy()
    for e in reversed(edits):  # from the end: each edit's base positions still hold
        start = _point(base, e.start)
        rows = data.count(b"\n", e.new_start, e.new_end)
        if rows:
            new_end = (start[0] + rows, e.new_end - (data.rfind(b"\n", e.new_start, e.new_end) + 1))
        else:
            new_end = (start[0], start[1] + e.new_end - e.new_start)
        old.edit(
            start_byte=e.start, old_end_byte=e.end, new_end_byte=e.start + e.new_end - e.new_start,
            start_point=start, old_end_point=_point(base, e.end), new_end_point=new_end,
        )
    new = syntax.reparse(data, old)
    syntax.keep_tree(data, new)
    return old, new


def _change(base: bytes, data: bytes, edits: list[Edit]) -> Change:
    old, new = _reparse(base, data, edits)
    if new.root_node.has_error:
        return Change((), None, None)
    base_root = syntax.tree_of(base).root_node
    sides = _Sides(base, base_root.children, data, new.root_node.children, edits)
    ranges = [(e.start, e.end, e.new_start, e.new_end) for e in edits]
    for r in old.changed_ranges(new):  # structure tree-sitter re-read beyond the edits
        ranges.append((sides.to_old(r.start_byte, low=True), sides.to_old(r.end_byte, low=False),
                       r.start_byte, r.end_byte))
    head = _future_end(base_root.children)
    windows = sides.windows(ranges, head)
    sparse = _sparse(data, new.root_node, windows, sides.new_kids)
    return Change(tuple(windows), sparse, _delta(sides, windows))


class _Sides:
    """The base's and the composed text's top-level statements, and positions mapped
    between them (outside the edits, the two texts are the same bytes)."""

    def __init__(
        self, base: bytes, old_kids: list[tree_sitter.Node], data: bytes,
        new_kids: list[tree_sitter.Node], edits: list[Edit],
    ) -> None:
        self.base, self.old_kids, self.data, self.new_kids = base, old_kids, data, new_kids
        self.edits = edits

    def to_old(self, pos: int, *, low: bool) -> int:
        shift = 0
        for e in self.edits:
            if pos < e.new_start:
                break
            if pos < e.new_end or (pos == e.new_end and e.new_start == e.new_end):
                return e.start if low else e.end
            shift = e.end - e.new_end
        return pos + shift

    def to_new(self, pos: int, *, low: bool) -> int:
        shift = 0
        for e in self.edits:
            if pos < e.start:
                break
            if pos < e.end or (pos == e.end and e.start == e.end):
                return e.new_start if low else e.new_end
            shift = e.new_end - e.end
        return pos + shift

    def windows(self, ranges: list[tuple[int, int, int, int]], head: int) -> list[tuple[int, int, int, int]]:
        """The ranges grown to whole top-level statements on both sides, merged, until
        nothing grows. A window reaching into the ``__future__`` imports (base bytes
        ``[0, head)``), or holding a new one, starts at the file's first byte."""
        wins = sorted(ranges)
        while True:
            grown = []
            for oa, ob, na, nb in wins:
                oa2, ob2 = _expand(self.base, self.old_kids, oa, ob)
                na2, nb2 = _expand(self.data, self.new_kids, na, nb)
                if oa2 < head or any(k.type == _FUTURE for k in _inside(self.new_kids, na2, nb2)):
                    oa2, ob2, na2 = 0, max(ob2, head), 0
                oa3 = min(oa2, self.to_old(na2, low=True))
                ob3 = max(ob2, self.to_old(nb2, low=False))
                na3 = min(na2, self.to_new(oa3, low=True))
                nb3 = max(nb2, self.to_new(ob3, low=False))
                grown.append((oa3, ob3, na3, nb3))
            grown.sort()
            merged: list[tuple[int, int, int, int]] = []
            for w in grown:
                if merged and (w[0] <= merged[-1][1] or w[2] <= merged[-1][3]):
                    last = merged.pop()
                    w = (last[0], max(last[1], w[1]), last[2], max(last[3], w[3]))
                merged.append(w)
            if merged == wins:
                return merged
            wins = merged


def _end_row(node: tree_sitter.Node) -> int:
    row, col = node.end_point
    return row - 1 if col == 0 and node.end_byte > node.start_byte else row


def _span(kids: list[tree_sitter.Node], a: int, b: int) -> tuple[int, int]:
    """Indices ``[i, j)`` of the top-level statements overlapping ``[a, b)`` (holding ``a``
    when the range is empty)."""
    i = bisect.bisect_right(kids, a, key=lambda k: k.end_byte)
    j = bisect.bisect_left(kids, max(b, a + 1), key=lambda k: k.start_byte)
    return i, j


def _inside(kids: list[tree_sitter.Node], a: int, b: int) -> list[tree_sitter.Node]:
    i, j = _span(kids, a, b)
    return kids[i:j]


def _expand(text: bytes, kids: list[tree_sitter.Node], a: int, b: int) -> tuple[int, int]:
    """``[a, b)`` grown to the whole lines of the statements it overlaps, and of those
    sharing a line with them."""
    i, j = _span(kids, a, b)
    if i < j:
        first, last = _start_row(kids[i]), _end_row(kids[j - 1])
        while i > 0 and _end_row(kids[i - 1]) >= first:
            i -= 1
            first = min(first, _start_row(kids[i]))
        while j < len(kids) and _start_row(kids[j]) <= last:
            j += 1
            last = max(last, _end_row(kids[j - 1]))
        a, b = min(a, kids[i].start_byte), max(b, kids[j - 1].end_byte)
    return _line_start(text, a), _line_end(text, b)


def _start_row(node: tree_sitter.Node) -> int:
    return node.start_point.row


def _line_start(text: bytes, pos: int) -> int:
    return text.rfind(b"\n", 0, pos) + 1


def _line_end(text: bytes, pos: int) -> int:
    if pos == 0 or text[pos - 1 : pos] == b"\n":
        return pos
    end = text.find(b"\n", pos)
    return len(text) if end < 0 else end + 1


def _future_end(kids: list[tree_sitter.Node]) -> int:
    """Where the ``__future__`` imports the module opens with end (0: it has none)."""
    end, docstring = 0, True
    for k in kids:
        if k.type == _FUTURE:
            end = k.end_byte
        elif k.type != "comment" and not (docstring and is_docstring(k)):
            break
        docstring = docstring and k.type == "comment"
    return end


def _module_globals(data: bytes, root: tree_sitter.Node) -> bool:
    """Whether a ``global`` statement stands in the module's own scope."""
    for m in _GLOBAL.finditer(data):
        node = root.descendant_for_byte_range(m.start(), m.end())
        if node is None or node.type != "global" or node.parent is None:
            continue  # the word in a string, a comment or a name
        up: tree_sitter.Node | None = node.parent
        while up is not None and up.type not in _SCOPES:
            up = up.parent
        if up is None:
            return True
    return False


def _sparse(
    data: bytes, root: tree_sitter.Node, windows: list[tuple[int, int, int, int]],
    kids: list[tree_sitter.Node],
) -> bytes | None:
    """The windows where they stand with the file's head, other lines blank (None: the
    whole file must be compiled)."""
    if b"global" in data and _module_globals(data, root):
        return None
    keep = [(na, nb) for _, _, na, nb in windows if nb > na]
    head = _future_end(kids)
    if head:
        keep.append(_expand(data, kids, 0, head))
    cookie = _cookie_lines(data)
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


def _delta(sides: _Sides, windows: list[tuple[int, int, int, int]]) -> tuple[list[Key], list[Key]] | None:
    """The top-level (kind, key)s the windows held in the base and hold now; None when a
    window reaches into the module's opening docstring and imports."""
    lead = module_leading(sides.old_kids)
    removed: list[Key] = []
    added: list[Key] = []
    for oa, ob, na, nb in windows:
        if oa < lead:
            return None
        removed += [(i.kind, None if i.kind == "imports" else i.name) for i in window_items(_statements(sides.old_kids, oa, ob))]
        added += [(i.kind, None if i.kind == "imports" else i.name) for i in window_items(_statements(sides.new_kids, na, nb))]
    return removed, added


def _statements(kids: list[tree_sitter.Node], a: int, b: int) -> list[tree_sitter.Node]:
    return [k for k in _inside(kids, a, b) if k.is_named and k.type != "comment" and a <= k.start_byte]

