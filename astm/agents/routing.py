"""Routing decisions: which children act, which are created, which are deleted.

``structured`` asks the parent once; ``broadcast`` asks every child "is this yours?"
concurrently (plus one call for new and deleted children). Either way the answer is
checked against the real children before anything acts.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable
from typing import TypeVar

from astm.agents import limits
from astm.agents.nearmiss import closest, correction, resolve
from astm.core.node import Node
from astm.core.plan import Delete, Insert, Plan, Replace
from astm.errors import PlanError, UnknownNodeError, ValidationFailed
from astm.llm.base import Act, ClaimRequest, Provider, Route, RouteRequest, Usage
from astm.validate import pyproject

T = TypeVar("T")
CONTAINERS = ("file", "class", "function", "block")  # node kinds that can take new children


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


def misplaced(route: Route, parent: Node) -> list[str]:
    """The new children that cannot stand where the route creates them, with why."""
    if not parent.is_file:
        return []
    found = ((c.key, pyproject.misplaced(parent.path, c.key)) for c in route.create)
    return [f"[{key}]: {why}" for key, why in found if why]


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
