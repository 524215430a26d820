"""Byte-range patches and their composition (pure: bytes in, bytes out)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from astm.errors import CompositionError


@dataclass(frozen=True)
class Patch:
    """Replace ``[start, end)`` of the file at ``path`` with ``text``; insert when empty.

    ``owner`` is the id of the node that made the patch; ``seq`` orders several inserts
    at one point (lower first), so composition is deterministic whatever the input order.
    ``spacing`` (blank lines above, below; None for either = as the text stands) makes the
    junctions of an insert exact: a plan derived from a commit records the author's blank
    lines, which no neighbour rule can guess (``insert`` in plan-format.md).
    """

    path: str
    start: int
    end: int
    text: bytes
    owner: str
    seq: int = 0
    spacing: tuple[int | None, int | None] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad patch range [{self.start}, {self.end}) from {self.owner}")

    def within(self, start: int, end: int) -> bool:
        return start <= self.start and self.end <= end


def check_disjoint(patches: Iterable[Patch]) -> list[Patch]:
    """The patches in file order; CompositionError naming both owners if two overlap."""
    ordered = sorted(patches, key=lambda p: (p.path, p.start, p.end, p.seq))
    for a, b in itertools.pairwise(ordered):
        if a.path == b.path and a.end > b.start:
            raise CompositionError(
                f"patches from {a.owner} [{a.start}, {a.end}) and {b.owner} "
                f"[{b.start}, {b.end}) overlap",
                path=a.path,
            )
    return ordered


def compose(base: bytes, patches: Iterable[Patch], *, bounds: tuple[int, int] | None = None) -> bytes:
    """Apply disjoint patches to ``base`` in descending byte order.

    ``bounds`` is the owner's range: a patch outside it is refused, as is a patch past
    the end of ``base`` or two patches that overlap.
    """
    ordered = check_disjoint(patches)
    paths = {p.path for p in ordered}
    if len(paths) > 1:
        raise CompositionError(f"patches for several files composed together: {sorted(paths)}")
    lo, hi = bounds if bounds is not None else (0, len(base))
    for p in ordered:
        if not p.within(lo, hi) or p.end > len(base):
            raise CompositionError(
                f"patch from {p.owner} [{p.start}, {p.end}) is outside its range [{lo}, {hi})",
                path=p.path,
            )
    if not any(p.spacing for p in ordered):
        out = bytearray(base)
        for p in reversed(ordered):
            out[p.start : p.end] = p.text
        return bytes(out)
    return _compose_spaced(base, ordered, lo, hi)


def _compose_spaced(base: bytes, ordered: list[Patch], lo: int, hi: int) -> bytes:
    """Compose front to back, setting the blank lines at each spaced patch's junctions.

    Only blank lines inside ``[lo, hi)`` and the patches' own texts are ever removed."""
    eol = b"\r\n" if b"\r\n" in base else b"\n"
    out = bytearray(base[:lo])
    floor = lo  # blank lines below this offset of ``out`` are not ours to remove
    pos, pending = lo, None
    for p in ordered:
        out += _lead(base[pos : p.start], pending, eol)
        if base[pos : p.start]:
            pending = None
        above, below = p.spacing or (None, None)
        text = p.text
        if p.spacing is not None and text.strip():
            text = _trim(text)
        if above is not None and text.strip():
            _drop_tail_blanks(out, floor)
            if len(out) > lo:
                out += eol * above
        elif pending is not None:
            text = _lead(text, pending, eol)
        if text.strip():
            pending = None
        out += text
        pos = p.end
        if below is not None and text.strip():
            pending = below
    rest = base[pos:hi]
    out += _lead(rest, pending, eol) if rest else b""
    out += base[hi:]
    return bytes(out)


def _lead(seg: bytes, blanks: int | None, eol: bytes) -> bytes:
    """``seg`` starting with exactly ``blanks`` blank lines (None: as it is)."""
    if blanks is None or not seg:
        return seg
    rest = seg
    while True:
        nl = rest.find(b"\n")
        if nl < 0 or rest[:nl].strip():
            break
        rest = rest[nl + 1 :]
    return eol * blanks + rest


def _trim(text: bytes) -> bytes:
    """``text`` without blank lines before its first or after its last line."""
    lines = text.splitlines(keepends=True)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return b"".join(lines)


def _drop_tail_blanks(out: bytearray, floor: int) -> None:
    """Remove the whitespace-only lines that end ``out`` (none that start below ``floor``)."""
    if not out.endswith(b"\n"):
        return
    cut = len(out)
    while cut > floor:
        prev = out.rfind(b"\n", floor, cut - 1)
        start = prev + 1 if prev >= 0 else floor
        if out[start:cut].strip():
            break
        cut = start
        if prev < 0:
            break
    del out[cut:]
