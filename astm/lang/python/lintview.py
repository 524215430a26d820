"""What a leaf's linter reads: the patched file without the definitions it cannot involve.

At a leaf, only ruff's findings on the node's own lines count, and only codes that do not
depend on the rest of the file (``ruff.CROSS_NODE`` is left to the parent, which lints the
whole composed file once). Linting the whole file at every leaf made ruff read a
5,000-line file 128 times over for 128 edited functions: most of a leaf's time. Here every
definition that holds none of the patches (a top-level function or class; a member of a
class that holds one) is replaced by as many empty lines, so rows stay where they were;
the module's imports and statements, and the headers of the classes around the node, stay.

Blanking every other definition is itself a walk of the whole file, at every leaf (a
5,000-line file of 160 functions: half a millisecond a leaf). So the file with all its
top-level definitions blanked (its *skeleton*) is made once per file and kept; a leaf's
view is that skeleton with only the stretch between its first and last patch (and the
definitions they touch) made again: its cost does not grow with the rest of the file.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from astm.core.node import Node
from astm.core.patch import Patch
from astm.lang.python.kept import Kept

DEFINITIONS = ("function", "class")


def lint_view(tree: Node, base: bytes, patches: Sequence[Patch]) -> bytes | None:
    """The patched text with the uninvolved definitions blanked; None if nothing would be."""
    sk = _skeleton(tree, base)
    if not patches:
        return sk.text if sk.defs else None
    spans = [(p.start, p.end) for p in patches]
    # The window: from the first patch (or definition it touches) to the last. A
    # definition no patch touches lies wholly inside it or wholly outside (a patch that
    # reached into one would touch it): outside, the skeleton has it blank already.
    lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
    first = max(0, bisect.bisect_right(sk.starts, lo) - 1)
    last = bisect.bisect_right(sk.starts, hi)
    touched = [d for d in sk.defs[first:last] if any(_touches(d, s, e) for s, e in spans)]
    if touched:
        lo, hi = min(lo, touched[0].start), max(hi, touched[-1].end)
    inside = [d for d in sk.defs[first:last] if lo <= d.start and d.end <= hi]
    cuts = [(d.start, d.end) for d in inside if d not in touched]
    for d in touched:
        if d.kind == "class":
            cuts += _uninvolved(d, spans)
    if not cuts and len(touched) == len(sk.defs):
        return None
    return sk.text[: sk.at(lo)] + _stitch(base, lo, hi, patches, cuts) + sk.text[sk.at(hi) :]


@dataclass(frozen=True)
class _Skel:
    """``base`` with every top-level definition blanked, and how offsets move in it."""

    tree: Node  # held: the cache's key is its id
    base: bytes
    defs: list[Node]
    starts: list[int]
    ends: list[int]
    shrunk: list[int]  # bytes the first i definitions lost to their blanks
    text: bytes

    def at(self, offset: int) -> int:
        """Where ``offset`` of the base (outside every definition) is in ``text``."""
        return offset - self.shrunk[bisect.bisect_right(self.ends, offset)]


_skeletons: Kept[tuple[int, int], _Skel] = Kept(8)


def _skeleton(tree: Node, base: bytes) -> _Skel:
    sk = _skeletons.get((id(tree), id(base)), lambda: _make(tree, base))
    return sk if sk.tree is tree and sk.base is base else _make(tree, base)  # an id reused


def _make(tree: Node, base: bytes) -> _Skel:
    defs = [c for c in tree.children if c.kind in DEFINITIONS]
    shrunk, out, at = [0], [], 0
    for d in defs:
        blank = _blank(base[d.start : d.end])
        out += [base[at : d.start], blank]
        at = d.end
        shrunk.append(shrunk[-1] + (d.end - d.start) - len(blank))
    out.append(base[at:])
    return _Skel(tree, base, defs, [d.start for d in defs], [d.end for d in defs], shrunk, b"".join(out))


def _stitch(base: bytes, lo: int, hi: int, patches: Sequence[Patch], cuts: list[tuple[int, int]]) -> bytes:
    """``base[lo:hi]`` with the patches applied and the cuts blanked."""
    edits = sorted([*((p.start, p.end, p.text) for p in patches), *((s, e, _blank(base[s:e])) for s, e in cuts)])
    out, at = [], lo
    for start, end, text in edits:
        out += [base[at:start], text]
        at = end
    out.append(base[at:hi])
    return b"".join(out)


def _uninvolved(node: Node, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for child in node.children:
        if child.kind not in DEFINITIONS:
            continue
        if not any(_touches(child, s, e) for s, e in spans):
            out.append((child.start, child.end))
        elif child.kind == "class":
            out += _uninvolved(child, spans)
    return out


def _touches(node: Node, start: int, end: int) -> bool:
    """A patch inside ``node``, over it, or inserting at its edge (kept: it may be its member)."""
    if start == end:
        return node.start <= start <= node.end
    return node.start < end and start < node.end


def _blank(text: bytes) -> bytes:
    return (b"\r\n" if b"\r\n" in text else b"\n") * text.count(b"\n")
