"""Routing decisions: which children act, which are created, which are deleted.

``structured`` asks the parent once; ``broadcast`` asks every child "is this yours?"
concurrently (plus one call for new and deleted children). Either way the answer is
checked against the real children before anything acts.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Awaitable
from typing import TypeVar

from astm.core.node import Node
from astm.core.plan import Insert, Plan
from astm.errors import PlanError, UnknownNodeError, ValidationFailed
from astm.llm.base import Act, ClaimRequest, Provider, Route, RouteRequest, Usage

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
    # A child that is deleted does not also act; one that acts twice acts once.
    seen: set[str] = set(route.delete)
    act = []
    for a in route.act:
        if a.node_id not in seen:
            seen.add(a.node_id)
            act.append(a)
    return Route(tuple(act), route.create, route.delete, route.rewrite)


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
