"""Derive a node plan from two versions of a file: the edits that turn ``old`` into ``new``.

This is what makes any commit expressible as a plan (``astm pick``, ``bench/replay.py``).
Pure: bytes and node trees in, plan edits out.

A parent's bytes are its children's ranges and the *gaps* around them (its header, the blank
lines and comments between children, its tail). Children are matched by id:

* a child whose bytes are equal needs nothing;
* a changed child is recursed into when its own gaps are unchanged (a class whose methods
  changed), else replaced whole;
* a child only in ``old`` is deleted, a child only in ``new`` is inserted after the nearest
  kept sibling before it (or before the nearest after it); a delete and an insert of the
  same kind in one slot are one ``replace`` with ``rename`` (the node keeps its place);
* a gap that changed, or kept children that swapped places, cannot be said as child
  edits: the parent is replaced whole, and for the file itself the change lies *outside
  every node* (``Outside``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from astm.core.node import Node, text_hash
from astm.core.plan import Delete, Edit, Insert, Replace


class Outside(Exception):
    """The change touches bytes of the file that belong to no node."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail


@dataclass(frozen=True)
class _Side:
    node: Node
    data: bytes

    def text(self, n: Node) -> bytes:
        return self.data[n.start : n.end]

    def gaps(self) -> list[bytes]:
        """The bytes of ``node`` around its children: len(children) + 1 pieces."""
        out, pos = [], self.node.start
        for c in self.node.children:
            out.append(self.data[pos : c.start])
            pos = c.end
        out.append(self.data[pos : self.node.end])
        return out


def _code(gap: bytes) -> list[bytes]:
    """A gap without its blank lines: what must not change around inserts and deletes."""
    return [ln.rstrip() for ln in gap.splitlines() if ln.strip()]


def derive(path: str, old: bytes, new: bytes, parse: Callable[[str, bytes], Node]) -> list[Edit]:
    """The edits from ``old`` to ``new`` (both parse); ``Outside`` if none can say it."""
    if old == new:
        return []
    a, b = _Side(parse(path, old), old), _Side(parse(path, new), new)
    edits = _children(a, b)
    if edits is None:
        raise Outside(path, "a change lies outside every node")
    return edits


def _children(a: _Side, b: _Side) -> list[Edit] | None:
    """Edits of ``a.node``'s children that make it ``b.node``; None if its gaps changed."""
    # A child is kept when its id and kind stay (``X = ...`` turned into ``def X`` is a new node).
    old_kinds = {c.id: c.kind for c in a.node.children}
    new_kinds = {c.id: c.kind for c in b.node.children}
    kept = {i for i, k in old_kinds.items() if new_kinds.get(i) == k}
    common = [c.id for c in a.node.children if c.id in kept]
    if common != [c.id for c in b.node.children if c.id in kept]:
        return None  # kept children moved
    old_gaps, new_gaps = a.gaps(), b.gaps()
    # Slots: the runs between consecutive kept children (and before the first, after the last).
    slots_a = _slots(a.node.children, set(common))
    slots_b = _slots(b.node.children, set(common))
    edits: list[Edit] = []
    for (kept_a, gone, ga), (kept_b, born, gb) in zip(slots_a, slots_b, strict=True):
        gaps_a = [old_gaps[i] for i in ga]
        gaps_b = [new_gaps[i] for i in gb]
        if not gone and not born:
            if gaps_a != gaps_b:
                return None
        elif [x for g in gaps_a for x in _code(g)] != [x for g in gaps_b for x in _code(g)]:
            return None
        edits += _slot_edits(a, b, kept_a, gone, born)
        if kept_a is not None and kept_b is not None:
            edits += _child(a, b, kept_a, kept_b)
    return edits


def _slots(children: tuple[Node, ...], kept: set[str]) -> list[tuple[Node | None, list[Node], list[int]]]:
    """Per kept child (and one leading slot): (the kept child closing the slot or None at the
    end, the unkept children in the slot, the gap indices the slot spans)."""
    out: list[tuple[Node | None, list[Node], list[int]]] = []
    run: list[Node] = []
    gaps = [0]
    for i, c in enumerate(children):
        if c.id in kept:
            out.append((c, run, gaps))
            run, gaps = [], [i + 1]
        else:
            run.append(c)
            gaps.append(i + 1)
    out.append((None, run, gaps))
    return out


def _slot_edits(a: _Side, b: _Side, closing: Node | None, gone: list[Node], born: list[Node]) -> list[Edit]:
    parent = a.node.id
    prev = _kept_before(a.node, closing, gone)
    edits: list[Edit] = []
    # Deletes and inserts in one slot, in order and of one kind: the nodes were rewritten in
    # place. A rename-replace keeps each node's own spacing, where a delete next to an
    # insert would have to guess the blank lines between them.
    paired = 0
    while paired < min(len(gone), len(born)) and gone[paired].kind == born[paired].kind:
        g, n = gone[paired], born[paired]
        edits.append(Replace(op="replace", node=g.id, text=_plain(b.text(n)), rename=True))
        paired += 1
    if paired:
        prev = gone[paired - 1].id  # the rest goes after the last rewritten node
    gone, born = gone[paired:], born[paired:]
    edits += [Delete(op="delete", node=g.id) for g in gone]
    for n in born:
        # The author's blank lines around it, exactly: no neighbour rule can guess them all.
        space = {"text": _plain(b.text(n)), "blank_above": _blanks_above(b.data, n.start),
                 "blank_below": _blanks_below(b.data, n.end)}
        if closing is not None and (gone or prev is None):
            # Next to deletes, anchor on the node after them: the deletes take their own gap.
            edits.append(Insert(op="insert", parent=parent, before=closing.id, **space))
        elif prev is not None:
            edits.append(Insert(op="insert", parent=parent, after=prev, **space))
        elif closing is not None:
            edits.append(Insert(op="insert", parent=parent, before=closing.id, **space))
        else:
            edits.append(Insert(op="insert", parent=parent, position="end", **space))
    return edits


def _blanks_above(data: bytes, pos: int) -> int:
    """Whitespace-only lines right above the line starting at ``pos``."""
    n = 0
    while pos > 0:
        prev = data.rfind(b"\n", 0, pos - 1)
        if data[prev + 1 : pos].strip():
            break
        n, pos = n + 1, prev + 1
    return min(n, 99)


def _blanks_below(data: bytes, pos: int) -> int:
    """Whitespace-only lines from ``pos`` (a line start) down to the next code."""
    n = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0 or data[pos:nl].strip():
            break
        n, pos = n + 1, nl + 1
    return min(n, 99)


def _kept_before(parent: Node, closing: Node | None, gone: list[Node]) -> str | None:
    """The kept sibling just before this slot (the previous slot's closing child)."""
    kids = list(parent.children)
    first = gone[0] if gone else closing
    if first is None:  # the trailing slot with no deletes: after the last child
        return kids[-1].id if kids else None
    i = kids.index(first)
    return kids[i - 1].id if i > 0 else None


def _child(a: _Side, b: _Side, old: Node, new: Node) -> list[Edit]:
    before, after = a.text(old), b.text(new)
    if before == after:
        return []
    if old.children and new.children:
        inner = _children(_Side(old, a.data), _Side(new, b.data))
        if inner is not None:
            return inner
    return [Replace(op="replace", node=old.id, text=_plain(after))]


def base_digests(edits: list[Edit], tree: Node, data: bytes) -> dict[str, str]:
    """Each replaced or deleted node's text digest at the base (``base`` of a saved plan)."""
    out: dict[str, str] = {}
    for e in edits:
        if isinstance(e, (Replace, Delete)):
            n = tree.find(e.node)
            if n is not None:
                out[e.node] = text_hash(data[n.start : n.end])
    return out


def _plain(data: bytes) -> str:
    return data.decode("utf-8")
