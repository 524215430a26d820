"""Upward requests a node's answer carries for its parent, beyond imports.

A node may not write outside its range. When it needs a helper next to it or a change to
a sibling (a caller), its answer carries request lines, a comment in both Python and TOML::

    # astm-request: sibling _round_cents: round a Decimal to cents, half up
    # astm-request: change checkout: pass the discount to Cart.total

The lines are taken out of the node's text wherever they stand (at the top, between
statements, at the end) and in whatever form a model writes them (``#astm-request``,
``# astm request:``, ``# ASTM_REQUEST``): a request line never lands as a comment. The
parent acts on them through the right child: a new sibling (created after the asking node)
or an existing one. They resolve into ordinary edits, so ``--save-plan`` records them.

A *proposal* is a request that carries text: a whole-file or whole-class answer that also
changed another node (or wrote a new one) proposes that text for it (``answer.extract_node``).
It travels up to the first router whose subtree holds its target, which runs the target's
agent with the proposal as its first answer, validated like any answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from astm.core.node import Node, node_id
from astm.lang import nests

# Any comment line that starts with astm-request in any spelling; a well-formed one parses.
_ANY = re.compile(rb"^[ \t]*#[ \t]*astm[-_ \t]?requests?\b[ \t]*:?(.*)$", re.IGNORECASE)
_TRAILING = re.compile(rb"[ \t]*#[ \t]*astm[-_ \t]?requests?\b.*$", re.IGNORECASE)
_BODY = re.compile(rb"^[ \t]*(sibling|change)[ \t]+([^\s:]+)[ \t]*:[ \t]*(.+?)[ \t]*$", re.IGNORECASE)
MAX_ASKS = 4  # per node: a request is a hint for one more agent, not a work queue
MAX_PROPOSALS = 12  # proposals cost no model call: a rename's callers can be many


@dataclass(frozen=True)
class Ask:
    what: str  # sibling | change
    name: str  # the target's key (requests) or its qualified name below the file (proposals)
    intent: str
    by: str  # the asking node's id
    text: bytes | None = None  # a proposal: the target's new text as the answer wrote it
    after: str | None = None  # a proposed new node: the qualified name of the node it follows

    @property
    def proposal(self) -> bool:
        return self.text is not None


def take(text: bytes, by: str) -> tuple[bytes, list[Ask]]:
    """The text without its request lines (wherever they stand), and the requests."""
    lines = text.split(b"\n")
    asks: list[Ask] = []
    kept: list[bytes] = []
    for line in lines:
        m = _ANY.match(line)
        if m is None:
            tail = _TRAILING.search(line)  # code, then a request as its comment
            kept.append(line if tail is None else line[: tail.start()].rstrip())
            continue
        body = _BODY.match(m.group(1))
        if body is not None:
            asks.append(Ask(body.group(1).decode().lower(), body.group(2).decode("utf-8", "replace"),
                            body.group(3).decode("utf-8", "replace"), by))
    if kept == lines:
        return text, []
    # Blank lines the request lines leave at either end go with them.
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    body = b"\n".join(kept)
    return (body + b"\n" if body else body), asks[:MAX_ASKS]


def qualname(node: Node) -> str:
    """``F::Cart.total`` -> ``Cart.total``; a file -> ``""``."""
    return node.id.split("::", 1)[1] if "::" in node.id else ""


def target_of(node: Node, ask: Ask) -> Node | None:
    """The existing node ``ask`` is about, inside ``node``'s subtree (``node`` excluded):
    a proposal names it by qualified name, a request by a child's key."""
    if not ask.proposal:
        # A request names a child by key; models often write it qualified
        # (``TextStats.words`` asked inside TextStats): the same child.
        own = qualname(node)
        name = ask.name.removeprefix(own + ".") if own and nests(node.path) else ask.name
        return next((c for c in node.children if c.key in (ask.name, name)), None)
    want = node_id(node.path, ask.name)
    return next((n for n in node.walk() if n.id == want and n is not node), None)


def parent_of_new(node: Node, ask: Ask) -> Node | None:
    """Where a proposed new node goes: the node of its qualified name's parent, if that is
    ``node`` or lies below it (a TOML table's parent is its file)."""
    if not ask.proposal:
        return node
    if "." not in ask.name or not nests(node.path):
        parent_id = node.path
    else:
        parent_id = node_id(node.path, ask.name.rsplit(".", 1)[0])
    return next((n for n in node.walk() if n.id == parent_id), None)


def overlaps(a: Node, b: Node) -> bool:
    return a.start < b.end and b.start < a.end


def up(node: Node, ask: Ask) -> bool:
    """Whether ``node`` must pass ``ask`` on to its own parent: a proposal whose target
    (or, for a new node, its parent) is not in ``node``'s subtree."""
    if not ask.proposal:
        return False
    if ask.what == "change":
        return target_of(node, ask) is None
    return parent_of_new(node, ask) is None
