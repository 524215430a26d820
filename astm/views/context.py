"""What a node agent sees of its file: its own text in full, the rest as skeleton.

The skeleton keeps every signature above the node, so its parent chain (class, outer
function) reads as it is written; the node's own lines replace its skeleton lines, or,
when the skeleton hides the node (a function nested in a function body), the stub of its
nearest shown ancestor.
"""

from __future__ import annotations

from astm.core.node import SEP, Node, split_id
from astm.core.view import STUB, Line, View
from astm.errors import UnknownNodeError
from astm.lang import find, language_for


def focus(path: str, data: bytes, nid: str) -> View:
    """The prompt view of node ``nid`` of ``path``: see the module docstring."""
    from astm.views import skeleton

    node = _tree(path, data).find(nid)
    if node is None:
        raise UnknownNodeError(f"no node {nid!r} in this file", path=path)
    own = data[node.start : node.end].decode("utf-8", "replace").replace("\r\n", "\n")
    own_lines = [Line(t, nid) for t in own.removesuffix("\n").split("\n")] if own else []
    view = skeleton(path, data)
    if node.is_file or view.skipped:
        return View(path, "focus", tuple(own_lines), view.notes)
    lines = list(view.lines)
    lang = find(path)
    nested = lang is not None and lang.nested  # TOML keys have dots but no nesting
    i, j = _span(lines, nid, nested)
    if i < j or not nested:
        return View(path, "focus", tuple(lines[:i] + own_lines + lines[j:]), view.notes)
    for ancestor in _ancestors(nid):  # the node is hidden in an ancestor's body
        i, j = _span(lines, ancestor, nested)
        if i == j:
            continue
        stubs = [k for k in range(i, j) if lines[k].role == STUB and lines[k].node == ancestor]
        stub = stubs[0] if stubs else j
        rest = lines[stub + 1 :] if stub < j else lines[j:]
        return View(path, "focus", tuple(lines[:stub] + own_lines + rest), view.notes)
    return View(path, "focus", tuple(own_lines), view.notes)


def _tree(path: str, data: bytes) -> Node:
    return language_for(path).build(path, data)


def _span(lines: list[Line], nid: str, nested: bool) -> tuple[int, int]:
    """``[i, j)``: the lines of ``nid`` and (``nested``) of the nodes below it."""
    below = nid + "." if nested else "\0"
    idx = [k for k, line in enumerate(lines) if line.node == nid or line.node.startswith(below)]
    return (idx[0], idx[-1] + 1) if idx else (0, 0)


def _ancestors(nid: str) -> list[str]:
    """``f::A.b.c`` -> ``['f::A.b', 'f::A']`` (nearest first)."""
    path, qual = split_id(nid)
    parts = (qual or "").split(".")
    return [f"{path}{SEP}{'.'.join(parts[:n])}" for n in range(len(parts) - 1, 0, -1)]
