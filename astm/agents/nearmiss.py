"""Near-miss ids in a model's routing decision, resolved (issue 10.2).

Small models name children loosely: ``textkit/utils.py::imports`` for ``(imports)``,
``build-system`` for ``pyproject.toml::build-system``, the path twice, a method without
its class, a key inside a table for the table, ``create`` of a name that exists (it meant
"act on it"). ``resolve`` maps each to the id it uniquely means; what stays unknown gets
one corrective turn (``correction``) listing the exact ids.
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from astm.core.node import Node, node_id
from astm.lang import find
from astm.llm.base import Act, Create, Route


def closest(nid: str, known: list[str]) -> str:
    near = difflib.get_close_matches(nid, known, n=3, cutoff=0.4)
    return f"; closest: {', '.join(near)}" if near else ""


def _loose(text: str) -> str:
    """An id or key as a model may garble it: quotes, brackets, case and spaces gone."""
    return re.sub(r"[\"'`\[\]()\s]", "", text).lower()


def find_child(nid: str, parent: Node) -> tuple[Node | None, str | None]:
    """The child of ``parent`` that ``nid`` means, and the descendant it named (a method
    named without its class names the class's child); (None, None) if no unique match.

    Tried in order: the exact id; the path repeated (``F::F::x``); the path left out
    (``build-system`` for ``pyproject.toml::build-system``); ``imports`` for
    ``(imports)``; quotes, brackets and case ignored; a method named without its class
    (``recent_movements`` for ``F::Inventory.recent_movements``)."""
    kids = {c.id: c for c in parent.children}
    if nid in kids:
        return kids[nid], None
    path = parent.path
    name = _local(nid, path)
    if "::" in name and parent.kind == "repo":
        name = name.split("::", 1)[0]
    tries = [name] if parent.kind == "repo" else [node_id(path, name)]
    for t in tries:
        if t in kids:
            return kids[t], None
    want = _loose(name)
    own = [c for c in parent.children if _loose(_tail(c.id, parent)) == want]
    if len(own) == 1:
        return own[0], None
    if parent.kind == "repo":  # a path given relative to a folder, or a bare file name
        by_path = [c for c in parent.children if c.id.endswith("/" + name) or c.id == name.lstrip("./")]
        if len(by_path) == 1:
            return by_path[0], None
        # A node inside one file named without its path (``tool.pytest.ini_options``).
        holders = [c for c in parent.children
                   if any(_loose(d.id.split("::", 1)[1]) == want for d in c.walk() if "::" in d.id)]
        if len(holders) == 1:
            return holders[0], None
        return None, None
    # A descendant named by its last part(s): a method without its class.
    below = [
        (c, d) for c in parent.children for d in c.walk()
        if d is not c and (_loose(_tail(d.id, parent)) == want or _loose(_tail(d.id, parent)).endswith("." + want))
    ]
    if len(below) == 1:
        return below[0][0], below[0][1].id
    return None, None


def _local(nid: str, path: str) -> str:
    """``nid`` without back-quotes and without the file's path, once or repeated."""
    name = nid.strip().strip("`").strip()
    while name.startswith(path + "::") and name != path:
        name = name[len(path) + 2 :]
    return name


def _home_of_new(nid: str, parent: Node) -> tuple[Node | None, str]:
    """For an id naming a member that does not exist yet (``F::Cart.count``), the child
    that would hold it (``Cart``, when it has members of its own) and the new name."""
    name = _local(nid, parent.path)
    if parent.kind == "repo" or "." not in name:
        return None, ""
    owner, new = name.rsplit(".", 1)
    child, deeper = find_child(owner, parent)
    if child is None or deeper is not None or not child.children or not new.isidentifier():
        return None, ""
    return child, new


def _holder(nid: str, parent: Node) -> tuple[Node, str] | None:
    """For an id naming something inside a childless child (a key of a TOML table:
    ``pyproject.toml::project.dependencies``), that child and the rest of the name."""
    if parent.kind == "repo":
        return None
    parts = _local(nid, parent.path).split(".")
    for i in range(len(parts) - 1, 0, -1):
        child, deeper = find_child(".".join(parts[:i]), parent)
        if child is not None and deeper is None and not child.children:
            return child, ".".join(parts[i:])
    return None


def _new_member(nid: str, parent: Node) -> str:
    """The name a class router acted on that it does not have, when that name is no
    near miss of one it has (``Cart.count`` in a Cart without ``count``); else ""."""
    if parent.kind != "class":
        return ""
    name = _local(nid, parent.path)
    own = parent.id.split("::", 1)[1] + "."
    new = name.removeprefix(own)
    keys = [c.key for c in parent.children if c.key]
    if not new.isidentifier() or difflib.get_close_matches(new, keys, n=1, cutoff=0.8):
        return ""
    return new


def _tail(nid: str, parent: Node) -> str:
    """``nid`` without the path, and without the parent's own qualified name in front."""
    if parent.kind == "repo":
        return nid
    rest = nid.split("::", 1)[1] if "::" in nid else nid
    own = parent.id.split("::", 1)[1] if "::" in parent.id else ""
    if own and rest.startswith(own + "."):
        rest = rest[len(own) + 1 :]
    return rest


def resolve(route: Route, parent: Node) -> tuple[Route, list[str]]:
    """``route`` with near-miss ids replaced by the ids they uniquely mean, a ``create`` of
    an existing name turned into acting on it; and the ids that stay unknown."""
    unknown: list[str] = []
    act: list[Act] = []
    extra: list[Create] = []
    for a in route.act:
        child, deeper = find_child(a.node_id, parent)
        if child is None:
            home, new = _home_of_new(a.node_id, parent)
            if home is not None and not any(x.node_id == home.id for x in act):
                # "act on Cart.count" where Cart has no count yet: Cart routes its creation.
                act.append(Act(home.id, f"{new}: {a.intent}", mode="route"))
            elif home is None and (inner := _holder(a.node_id, parent)) is not None:
                # "act on project.dependencies": a key inside the [project] table acts as it.
                if not any(x.node_id == inner[0].id for x in act):
                    act.append(Act(inner[0].id, f"{inner[1]}: {a.intent}"))
            elif home is None and (new := _new_member(a.node_id, parent)):
                # "act on Cart.count" answered by Cart's own router: it meant "create".
                if not any(c.key == new for c in route.create):
                    extra.append(Create(new, a.intent, position="end"))
            elif home is None:
                unknown.append(a.node_id)
            continue
        intent = a.intent
        if deeper is not None and deeper.split("::", 1)[-1] not in intent:
            intent = f"{deeper.split('::', 1)[-1]}: {intent}"
        act.append(dataclasses.replace(a, node_id=child.id, intent=intent,
                                       mode="route" if deeper is not None and a.mode == "auto" else a.mode))
    delete: list[str] = []
    for d in route.delete:
        child, deeper = find_child(d, parent)
        if child is None or deeper is not None:
            unknown.append(d)
        else:
            delete.append(child.id)
    create: list[Create] = []
    for c in (*route.create, *extra):
        key = _plain_key(c.key, parent)
        existing = _existing(key, parent)
        if existing is not None:  # "create" of a name that exists: it meant "act on it"
            if existing.id in delete:  # delete and create it again: a replacement
                delete.remove(existing.id)
            if not any(a.node_id == existing.id for a in act):  # an explicit act wins
                act.append(Act(existing.id, c.intent))
            continue
        create.append(dataclasses.replace(
            c, key=key, after=_anchor(c.after, parent), before=_anchor(c.before, parent),
            position=c.position if (_anchor(c.after, parent) or _anchor(c.before, parent)) else (c.position or "end"),
        ))
    return Route(tuple(act), tuple(create), tuple(delete), route.rewrite), unknown


def _plain_key(key: str, parent: Node) -> str:
    """A new child's key without the ids and brackets a model wraps it in."""
    k = key.strip().strip("`").strip()
    while k.startswith(parent.path + "::"):
        k = k[len(parent.path) + 2 :]
    own = parent.id.split("::", 1)[1] if "::" in parent.id else ""
    if own and k.startswith(own + "."):
        k = k[len(own) + 1 :]
    lang = find(parent.path)
    if lang is not None:
        k = lang.bare_key(k)
    return k or key


def _existing(key: str, parent: Node) -> Node | None:
    if not key or key.startswith("("):
        return None
    same = [c for c in parent.children if c.key is not None and (c.key == key or _loose(c.key) == _loose(key))]
    return same[0] if len(same) == 1 else None


def _anchor(anchor: str | None, parent: Node) -> str | None:
    """An anchor resolved like an id; one that means nothing is dropped (the end)."""
    if anchor is None:
        return None
    child, deeper = find_child(anchor, parent)
    return child.id if child is not None and deeper is None else None


def correction(unknown: list[str], parent: Node) -> str:
    """The corrective turn: what was wrong, and the exact ids there are."""
    ids = [c.id for c in parent.children]
    near = "; ".join(f"{u!r}{closest(u, ids)}" for u in unknown)
    listed = "\n".join(f"- {i}" for i in ids)
    return (f"\n\nYour previous answer named ids that do not exist: {near}. "
            f"Use only these ids, exactly as written:\n{listed}")


