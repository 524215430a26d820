"""How much of a node's surroundings a prompt carries: each thing said once.

A router's prompt lists its children (exact ids, kinds, first lines) and an outline of
the node; the outline repeats every child's first line and, for a file, every member's
signature under it. ``route_parts`` says each of those once: a child's line carries its
first line (or the richer outline line that starts with it, a TOML table's keys) and its
members' names, and the outline keeps only what no child line shows (the node's own
lines: a class's docstring and attributes, a file's further imports).

A worker's prompt needs the code around its node, not the whole file's outline again
for every node that generates: ``around`` keeps the outline's block that holds the node
(a method's class), or, for a top-level node, the file's top-level lines.

Both read outlines as text indented by nesting (Python's skeletons and views, TOML's flat
header lines); text they cannot place is kept whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from astm.llm.base import ChildInfo

__all__ = ["around", "route_parts"]

# A folded body: it stands for the child's text, which the child line already names.
PLACEHOLDERS = frozenset({"pass", "...", "…"})
# What a router's context opens with when it shows its own text with the children folded
# (agents/router.py); once the children are taken out, the label no longer says what follows.
FOLDED_LABEL = "Node text, children folded to their signatures:"
NEAR = 8  # a worker's outline: this many lines either side of its node in its block
OWN_LINES = 12  # a router's own lines beyond this many are cut (a class's long docstring)


@dataclass(frozen=True)
class RouteParts:
    """A router's prompt parts: the outline lines no child line shows, and the child lines."""

    context: str
    children: str


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip())


def members(child: ChildInfo) -> list[str]:
    """The names of the nodes right inside ``child`` (a class's methods, the definitions
    in a block), from the ids below it; none for a file (its first line lists them)."""
    if child.kind == "file":
        return []
    ids = child.descendants
    names = set()
    for d in ids:
        if "." in d and d.rsplit(".", 1)[0] in ids:
            continue  # inside another one of them
        name = d[len(child.id) + 1 :] if d.startswith(child.id + ".") else d.partition("::")[2] or d
        names.add(name)
    return sorted(names)


@lru_cache(maxsize=8)
def _by_summary(children: tuple[ChildInfo, ...]) -> dict[str, int]:
    """Each child's first line -> its index (the first child wins)."""
    out: dict[str, int] = {}
    for i, c in enumerate(children):
        out.setdefault(c.summary.strip(), i)
    return out


def _shown_by(line: str, children: tuple[ChildInfo, ...]) -> tuple[int, str] | None:
    """The child whose first line ``line`` is (index, what the line adds to it), if any."""
    exact = _by_summary(children).get(line)
    if exact is not None and line:
        return exact, ""
    for i, c in enumerate(children):
        s = c.summary.strip()
        if not s:
            continue
        if line == s or s.startswith(line + " "):  # the summary may carry a trailing comment
            return i, ""
        if line.startswith(s + " "):  # the outline's line says more (a table's keys)
            return i, line[len(s) :].strip()
    return None


_CLAUSE = re.compile(r"[a-z]+\b[^:]*:$")  # ``except ImportError:``, ``else:``


def _clause(line: str, after: ChildInfo, children: tuple[ChildInfo, ...]) -> bool:
    """A further clause of the compound statement ``after`` (``except ...:``, ``else:``)
    at its depth: a keyword line opening a body, and no child itself."""
    return (
        after.summary.rstrip().endswith(":")
        and _CLAUSE.match(line) is not None
        and _shown_by(line, children) is None
    )


def route_parts(context: str, children: tuple[ChildInfo, ...]) -> RouteParts:
    """The outline without what the children's lines show, and those lines."""
    extra: dict[int, list[str]] = {}
    kept: list[str] = []
    held: list[str] = []  # decorator lines: they belong to the definition below them
    skip_below: int | None = None  # depth of a shown child's line: its body is the child's
    shown_last: ChildInfo | None = None
    for raw in context.splitlines():
        line = raw.strip()
        if skip_below is not None:
            if not line or _depth(raw) > skip_below:
                continue
            if _depth(raw) == skip_below and shown_last is not None and _clause(line, shown_last, children):
                continue  # ``else:`` of a shown ``try:``: the same child
            skip_below = None
        if line.startswith("@"):
            held.append(line)
            continue
        shown = _shown_by(line, children) if line else None
        if shown is None:
            kept.extend(held)
            held = []
            if line in PLACEHOLDERS or line.startswith("#"):
                continue  # a folded body; a comment line (what a router decides on is code)
            kept.append(raw.rstrip())
            continue
        i, more = shown
        shown_last = children[i]
        extra.setdefault(i, []).extend([*held, *([more] if more else [])])
        held = []
        skip_below = _depth(raw)
    kept.extend(held)
    while kept and not kept[-1].strip():
        kept.pop()
    if kept and kept[0].strip() == FOLDED_LABEL:
        kept = kept[1:]
    if len(kept) > OWN_LINES:
        kept = [*kept[:OWN_LINES], f"... ({len(kept) - OWN_LINES} more lines)"]
    lines = []
    for i, c in enumerate(children):
        head = " ".join([*(x for x in extra.get(i, []) if x.startswith("@")), c.summary.strip()])
        tail = [x for x in extra.get(i, []) if not x.startswith("@")]
        # Runs of spaces (a comment aligned far right) say nothing to a router.
        line = f"- {c.id} | {c.kind} | {' '.join(' '.join([head, *tail]).split())}"
        names = members(c)
        if names:
            line += f" | has {', '.join(names)}"
        lines.append(line)
    text = "\n".join(kept).strip("\n")
    return RouteParts(text if text.strip() else "", "\n".join(lines) if lines else "(none)")


def _path(node_id: str) -> list[str]:
    """The names from the file down to the node (``f.py::A.b`` -> ``[A, b]``)."""
    _, sep, rest = node_id.partition("::")
    return [p for p in rest.split(".") if p] if sep else []


def _blocks(lines: list[str]) -> tuple[int, list[list[str]]]:
    """Top-level entries (a line at the outline's least depth, decorators above it
    included, and the deeper lines after it), and that depth."""
    top = min((_depth(ln) for ln in lines), default=0)
    blocks: list[list[str]] = []
    for ln in lines:
        decorated = bool(blocks) and all(x.lstrip().startswith("@") for x in blocks[-1])
        if (_depth(ln) <= top or not blocks) and not decorated:
            blocks.append([ln])
        else:
            blocks[-1].append(ln)
    return top, blocks


@dataclass(frozen=True)
class _Outline:
    lines: tuple[str, ...]  # without folded bodies and blank lines
    top: int
    blocks: tuple[tuple[str, ...], ...]
    skeleton: str  # the top-level lines


@lru_cache(maxsize=8)
def _read(context: str) -> _Outline:
    """A file's outline read once: every worker of the file gets the same one."""
    lines = [ln.rstrip() for ln in context.splitlines() if ln.strip() and ln.strip() not in PLACEHOLDERS]
    top, blocks = _blocks(lines)
    skeleton = "\n".join(ln for ln in lines if _depth(ln) <= top)
    return _Outline(tuple(lines), top, tuple(tuple(b) for b in blocks), skeleton)


def around(context: str, node_id: str) -> str:
    """The part of a file's outline a worker on ``node_id`` needs: the top-level block
    that holds it when it is nested (a method: its class), else the top-level lines.
    Folded bodies (``pass``) and blank lines are left out; an outline it cannot place is
    kept whole."""
    outline = _read(context)
    lines, top, blocks = list(outline.lines), outline.top, outline.blocks
    if not blocks:
        return context
    path = _path(node_id)
    if len(path) < 2:
        return outline.skeleton
    name = _defines(path[0])
    inside = [
        b for b in blocks
        if any(_depth(ln) > top for ln in b) and any(name.match(ln) for ln in b if _depth(ln) <= top)
    ]
    if len(inside) != 1:
        return "\n".join(lines)  # not placed: whole
    return "\n".join(_window(list(inside[0]), top, path[1]))


def _defines(name: str) -> re.Pattern[str]:
    """A line that defines ``name``: only keywords before it (``class A(B):`` defines A)."""
    return re.compile(rf"^\s*(?:[a-z]+\s+)*{re.escape(name.split('#')[0])}\b")


def _window(block: list[str], top: int, name: str) -> list[str]:
    """``block``'s header and the lines near the one that defines ``name``; what is left
    out is marked (a class of 80 methods: its worker sees the 2 * NEAR around its own)."""
    at = next((i for i, ln in enumerate(block) if _depth(ln) > top and _defines(name).match(ln)), None)
    if at is None or len(block) <= 2 * NEAR + 2:
        return block
    keep = [i for i, ln in enumerate(block) if _depth(ln) <= top or abs(i - at) <= NEAR]
    out: list[str] = []
    for prev, i in zip([-1, *keep], keep):
        if i > prev + 1:
            out.append(f"{' ' * (_depth(block[i]) or 4)}... ({i - prev - 1} more lines)")
        out.append(block[i])
    if keep[-1] < len(block) - 1:
        out.append(f"{' ' * _depth(block[-1])}... ({len(block) - 1 - keep[-1]} more lines)")
    return out
