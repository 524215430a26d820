"""Routing decisions: which children act, which are created, which are deleted.

``structured`` asks the parent once; ``broadcast`` asks every child "is this yours?"
concurrently (plus one call for new and deleted children). Either way the answer is
checked against the real children before anything acts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import re
from collections.abc import Awaitable
from typing import TypeVar

from astm.agents import limits
from astm.core.node import Node, node_id
from astm.core.plan import Delete, Insert, Plan, Replace
from astm.errors import PlanError, UnknownNodeError, ValidationFailed
from astm.lang import find
from astm.llm.base import Act, ClaimRequest, Create, Provider, Route, RouteRequest, Usage
from astm.validate import pyproject

T = TypeVar("T")
CONTAINERS = ("file", "class", "function", "block")  # node kinds that can take new children


def closest(nid: str, known: list[str]) -> str:
    near = difflib.get_close_matches(nid, known, n=3, cutoff=0.4)
    return f"; closest: {', '.join(near)}" if near else ""


def check_route(route: Route, parent: Node) -> Route:
    """Refuse a routing answer that names nodes the parent does not have."""
    ids = [c.id for c in parent.children]
    for nid in [a.node_id for a in route.act] + list(route.delete):
        if nid not in ids:
            raise ValidationFailed(
                f"the router named {nid!r}, which is not a child of {parent.id}{closest(nid, ids)}",
                node=parent.id,
            )
    for c in route.create:
        for anchor in (c.after, c.before):
            if anchor is not None and anchor not in ids:
                raise ValidationFailed(
                    f"new child {c.key!r} is anchored to {anchor!r}, not a child of {parent.id}"
                    f"{closest(anchor, ids)}",
                    node=parent.id,
                )
    # 11.8: a decision with no single meaning is refused, naming the nodes; a child that
    # acts twice with one intent acts once, one deleted twice is deleted once.
    clashes = limits.contradictions(route)
    if clashes:
        raise ValidationFailed(f"contradictory routing decision: {'; '.join(clashes)}", node=parent.id)
    seen: set[str] = set()
    act = []
    for a in route.act:
        if a.node_id not in seen:
            seen.add(a.node_id)
            act.append(a)
    return Route(tuple(act), route.create, tuple(dict.fromkeys(route.delete)), route.rewrite)


async def decide(
    provider: Provider,
    req: RouteRequest,
    *,
    mode: str,
    texts: dict[str, str],
    limit: asyncio.Semaphore,
) -> tuple[Route, Usage]:
    """One parent's routing decision, by ``mode`` (structured | broadcast); ``limit``
    bounds the model calls in flight."""

    async def bounded(call: Awaitable[T]) -> T:
        async with limit:
            return await call

    if mode != "broadcast" or not req.children:
        return await bounded(provider.route(req))
    claims = [
        bounded(provider.claim(ClaimRequest(req.intent, c, req.language, texts.get(c.id, ""), req.context)))
        for c in req.children
    ]
    # New and deleted children are the parent's business: one more call, concurrently.
    creation = bounded(provider.route(req))
    *answers, (new_route, new_usage) = await asyncio.gather(*claims, creation)
    usage = new_usage
    act = []
    for child, (claim, u) in zip(req.children, answers):
        usage = usage + u
        if claim.mine:
            act.append(Act(child.id, claim.intent or req.intent))
    return Route(tuple(act), new_route.create, new_route.delete, new_route.rewrite), usage


def check_plan(plan: Plan, trees: dict[str, Node]) -> None:
    """Every node a plan names exists (inserts: the parent and its anchors)."""
    known: dict[str, Node] = {}
    for tree in trees.values():
        for n in tree.walk():
            known[n.id] = n
    ids = sorted(known)
    for e in plan.edits:
        if isinstance(e, Insert):
            if e.parent not in known:
                raise UnknownNodeError(f"plan inserts into unknown node {e.parent!r}{closest(e.parent, ids)}")
            siblings = [c.id for c in known[e.parent].children]
            for anchor in (e.after, e.before):
                if anchor is not None and anchor not in siblings:
                    raise UnknownNodeError(
                        f"plan anchors an insert to {anchor!r}, not a child of {e.parent}"
                        f"{closest(anchor, siblings)}"
                    )
            if known[e.parent].kind not in CONTAINERS:
                raise PlanError(f"plan inserts into {e.parent!r}, a {known[e.parent].kind}, which takes no children")
        elif e.node not in known:
            raise UnknownNodeError(f"plan names unknown node {e.node!r}{closest(e.node, ids)}")
        elif known[e.node].kind == "file":
            raise PlanError(f"plan {e.op}s the whole file {e.node!r}; edit its nodes instead")
    plan_contradictions(plan, known)


def plan_contradictions(plan: Plan, known: dict[str, Node]) -> None:
    """PlanError naming the nodes when two edits of ``plan`` cannot both hold (11.8): a
    node replaced twice, replaced and deleted, or deleted twice; an edit inside a node
    another edit replaces or deletes (``Cart`` and ``Cart.total``); an insert anchored on
    a node the plan deletes. Every id is known (``check_plan`` checked first)."""
    replaced: dict[str, int] = {}
    deleted: dict[str, int] = {}
    for e in plan.edits:
        if isinstance(e, Replace):
            replaced[e.node] = replaced.get(e.node, 0) + 1
        elif isinstance(e, Delete):
            deleted[e.node] = deleted.get(e.node, 0) + 1
    for nid, n in replaced.items():
        if n > 1:
            raise PlanError(f"plan replaces {nid!r} {n} times; give it one replace")
        if nid in deleted:
            raise PlanError(f"plan both replaces and deletes {nid!r}; keep one of the two")
    for nid, n in deleted.items():
        if n > 1:
            raise PlanError(f"plan deletes {nid!r} {n} times; give it one delete")
    whole = {**{n: "replaces" for n in replaced}, **{n: "deletes" for n in deleted}}
    for outer, verb in whole.items():
        below = {d.id for d in known[outer].walk()} - {outer}
        for e in plan.edits:
            if isinstance(e, Insert):
                if e.parent == outer or e.parent in below:
                    inside = f", inside {outer!r}," if e.parent != outer else ""
                    raise PlanError(f"plan inserts into {e.parent!r}{inside} which it {verb}; edit one of the two")
                for anchor in (e.after, e.before):
                    if anchor == outer and verb == "deletes":
                        raise PlanError(f"plan anchors an insert to {outer!r}, which it deletes; anchor it elsewhere")
            elif e.node in below:
                raise PlanError(
                    f"plan {e.op}s {e.node!r}, inside {outer!r}, which it {verb}; "
                    f"edit one of the two"
                )


# ---- near-miss ids (issue 10.2) ----------------------------------------------------


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


def misplaced(route: Route, parent: Node) -> list[str]:
    """The new children that cannot stand where the route creates them, with why."""
    if not parent.is_file:
        return []
    found = ((c.key, pyproject.misplaced(parent.path, c.key)) for c in route.create)
    return [f"[{key}]: {why}" for key, why in found if why]


def correction(unknown: list[str], parent: Node) -> str:
    """The corrective turn: what was wrong, and the exact ids there are."""
    ids = [c.id for c in parent.children]
    near = "; ".join(f"{u!r}{closest(u, ids)}" for u in unknown)
    listed = "\n".join(f"- {i}" for i in ids)
    return (f"\n\nYour previous answer named ids that do not exist: {near}. "
            f"Use only these ids, exactly as written:\n{listed}")


async def decide_checked(
    provider: Provider,
    req: RouteRequest,
    parent: Node,
    *,
    mode: str,
    texts: dict[str, str],
    limit: asyncio.Semaphore,
) -> tuple[Route, Usage]:
    """``decide``, with near-miss ids resolved, one corrective turn for ids that mean
    nothing, and the nodes the intent names acting (``evidence``); then ``check_route``."""
    route, usage = await decide(provider, req, mode=mode, texts=texts, limit=limit)
    if provider.name == "plan":
        return check_route(route, parent), usage
    route, unknown = resolve(route, parent)
    clashes = limits.contradictions(route)  # 11.8: one corrective turn, then refused
    stray = misplaced(route, parent)  # a new table the file's standards refuse
    if unknown or clashes or stray:
        told = (correction(unknown, parent) if unknown else "") + (limits.correction(clashes) if clashes else "")
        told += "".join(f"\n\nYour previous answer created {s}. Act on or create the right table instead." for s in stray)
        again = dataclasses.replace(req, context=req.context + told)
        route, more = await decide(provider, again, mode="structured", texts=texts, limit=limit)
        usage = usage + more
        route, unknown = resolve(route, parent)
        if unknown:
            ids = [c.id for c in parent.children]
            raise ValidationFailed(
                f"the router named {unknown[0]!r}, which is not a child of {parent.id}{closest(unknown[0], ids)}",
                node=parent.id,
            )
    from astm.agents import candidates

    route = candidates.add_named(route, parent, req.intent)
    return check_route(route, parent), usage


def settle_repo(route: Route, repo: Node, intent: str, provider: str) -> Route:
    """The repository router's choice of files: near-miss paths resolved, the files the
    intent names added, a pyproject-only intent kept to TOML files; unknown paths refused."""
    route = Route(route.act)
    if provider != "plan":
        from astm.agents import candidates

        route, unknown = resolve(route, repo)
        if unknown:
            ids = [c.id for c in repo.children]
            raise ValidationFailed(
                f"the router named {unknown[0]!r}, which is not a child of {repo.id}{closest(unknown[0], ids)}",
                node=repo.id,
            )
        route = candidates.add_named(route, repo, intent)
    return check_route(route, repo)
