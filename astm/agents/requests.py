"""Upward requests a node's answer carries for its parent, beyond imports.

A node may not write outside its range. When it needs a helper next to it or a change to
a sibling (a caller), its answer ends with request lines, a comment in both Python and TOML::

    # astm-request: sibling _round_cents: round a Decimal to cents, half up
    # astm-request: change checkout: pass the discount to Cart.total

The lines are taken out of the node's text; the parent acts on them through the right
child: a new sibling (created after the asking node) or an existing one. They resolve into
ordinary edits, so ``--save-plan`` records them like any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(rb"^[ \t]*#[ \t]*astm-request:[ \t]*(sibling|change)[ \t]+([^\s:]+)[ \t]*:[ \t]*(.+?)[ \t]*$")
MAX_ASKS = 4  # per node: a request is a hint for one more agent, not a work queue


@dataclass(frozen=True)
class Ask:
    what: str  # sibling | change
    name: str
    intent: str
    by: str  # the asking node's id


def take(text: bytes, by: str) -> tuple[bytes, list[Ask]]:
    """The text without its trailing request lines, and the requests."""
    lines = text.split(b"\n")
    asks: list[Ask] = []
    end = len(lines)
    while end > 0 and (not lines[end - 1].strip() or _LINE.match(lines[end - 1])):
        m = _LINE.match(lines[end - 1])
        if m:
            asks.append(Ask(m.group(1).decode(), m.group(2).decode("utf-8", "replace"),
                            m.group(3).decode("utf-8", "replace"), by))
        end -= 1
    if not asks:
        return text, []
    body = b"\n".join(lines[:end])
    return (body + b"\n" if body else body), list(reversed(asks))[:MAX_ASKS]
