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
    """

    path: str
    start: int
    end: int
    text: bytes
    owner: str
    seq: int = 0

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
    out = bytearray(base)
    for p in reversed(ordered):
        if not p.within(lo, hi) or p.end > len(base):
            raise CompositionError(
                f"patch from {p.owner} [{p.start}, {p.end}) is outside its range [{lo}, {hi})",
                path=p.path,
            )
        out[p.start : p.end] = p.text
    return bytes(out)
