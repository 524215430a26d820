"""A router: one node agent that routes its intent to its children and composes them.

A router (a file; a Python class; any node a plan edits below) asks which children act,
runs them concurrently (routers again, or leaves: ``astm.agents.leaf``), resets a failed
child once with its siblings' news, answers its children's requests (a new sibling, a
sibling that has not acted), deletes what the route deletes, and composes the results
(``astm.agents.compose``). Its result is one patch over its own range.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from astm.agents import follow, limits, routing
from astm.agents.compose import CrossNode, compose_up, merge_deletes
from astm.agents.context import FileCtx, Outcome, RunContext, gather, settle
from astm.agents.leaf import create, leaf
from astm.agents.speculate import Speculation
from astm.core.node import Node, node_id
from astm.core.plan import Delete
from astm.core.result import NodeResult
from astm.errors import ValidationFailed
from astm.llm.base import Act, ChildInfo, Route, RouteRequest

if TYPE_CHECKING:
    from astm.workspace.sandbox import Sandbox


async def route_node(ctx: RunContext, f: FileCtx, node: Node, intent: str) -> Route:
    decided = ctx.decided.get(node.id)
    if decided is not None:  # the intent names what acts here (astm.agents.named)
        limits.charge(ctx, node.id, limits.fan_out(decided, root=node.is_file))
        ctx.emit(node.id, "waiting", detail=f"{len(decided.act)} act, {len(decided.create)} new, named in the intent")
        return decided
    children = tuple(
        ChildInfo(
            c.id, c.kind, _first_line(f.data[c.start : c.end]),
            frozenset(n.id for n in c.walk()) - {c.id},
        )
        for c in node.children
    )
    if node.is_file:
        context = f.outline
    else:
        # A router decides from its own lines and its children's signatures: their
        # bodies are their own agents' business (and most of the bytes).
        context = f"Node text, children folded to their signatures:\n{folded(node, f.data)}"
    req = RouteRequest(intent, node.id, node.kind, f.lang.name, children, context)
    texts = {c.id: f.data[c.start : c.end].decode("utf-8", "replace") for c in node.children}
    ctx.emit(node.id, "routing")
    route, usage = await routing.decide_checked(  # 10.2/10.3: near-miss ids, named nodes
        # Model calls are bounded by the provider (model_jobs), not by the CPU slots.
        ctx.provider, req, node, mode=ctx.settings.routing, texts=texts,
        limit=asyncio.Semaphore(len(children) + 1),
    )
    ctx.add_usage(usage)
    limits.charge(ctx, node.id, limits.fan_out(route, root=node.is_file))  # 11.7: before any request
    ctx.emit(
        node.id, "waiting",
        detail=f"{len(route.act)} act, {len(route.create)} new, {len(route.delete)} deleted",
    )
    return route


def routes(f: FileCtx, node: Node, act: Act) -> bool:
    if act.mode == "rewrite":
        return False
    if act.mode == "route":
        return True
    # A block with no definitions in it has nothing to route to: it generates whole.
    return node.kind in f.lang.routers and (node.kind != "block" or bool(node.children))


async def run(ctx: RunContext, f: FileCtx, node: Node, intent: str, *, parent: Node | None) -> Outcome:
    """Route, run the acting children, compose, validate, commit an overlay commit."""
    routed = asyncio.Event()
    box = asyncio.ensure_future(ctx.sandbox(ctx.base.id, after=routed))
    prefetch: asyncio.Future[None] | None = None
    if node.is_file and ctx.checks.uses_ruff(f.lang.external):
        # The baseline runs while the model routes: off the critical path.
        prefetch = asyncio.ensure_future(ctx.checks.prefetch(f.path, f.data, box))
    try:
        route = await route_node(ctx, f, node, intent)
        routed.set()
        if route.rewrite and parent is not None:
            return await leaf(ctx, f, parent, node, intent, rename=False, seq=0,  # 11.8: keep members
                              keep=None if ctx.plan_mode else frozenset(route.delete))
        res = NodeResult(node.id, "unchanged", 0, "compose", intent)
        if route.empty:
            return Outcome(res)
        jobs: list[Callable[[str], Awaitable[Outcome]]] = []
        for seq, a in enumerate(route.act):
            child = node.child(a.node_id)
            assert child is not None  # check_route made sure
            todo = (a.intent or intent)
            if routes(f, child, a):
                jobs.append(lambda extra, c=child, t=todo: run(ctx, f, c, t + extra, parent=node))
            else:
                jobs.append(
                    lambda extra, c=child, t=todo, a=a, s=seq: leaf(
                        ctx, f, node, c, t + extra, rename=a.rename, seq=s, proposed=None if extra else a.proposed,
                    )
                )
        for seq, c in enumerate(route.create):
            jobs.append(
                lambda extra, c=c, s=seq: create(
                    ctx, f, node, dataclasses.replace(c, intent=c.intent + extra), seq=1000 + s, first=s == 0,
                    deleted=frozenset(route.delete),
                )
            )
        leaves = {a.node_id for a in route.act}
        if any(routes(f, node.child(a.node_id), a) for a in route.act) or route.create or route.delete:  # type: ignore[arg-type]
            leaves = set()  # the composed text is not its leaves' patches alone: no guess
        spec = Speculation.start(ctx, f, node, leaves, box, prefetch)
        try:
            kids: list[Outcome] = list(await gather(job("") for job in jobs))
        finally:
            if spec is not None:
                await spec.close()
        kids = await reset_failed(ctx, jobs, kids)
        more, up = await follow.answer_asks(ctx, f, node, kids, skip=route.delete)  # 10.1
        kids += more
        deletes: list[Outcome] = []
        for nid in route.delete:
            gone = node.child(nid)
            assert gone is not None
            r = NodeResult(nid, "changed", 0, "delete", intent)
            patch = f.lang.delete(
                node, gone, f.data, refilled=bool(route.create), deleted=frozenset(route.delete)
            )
            deletes.append(Outcome(r, patch, edits=[Delete(op="delete", node=nid, base=gone.hash)]))
        kids += merge_deletes(deletes)
        kids += await follow.pull_in(ctx, f, node, kids, intent, box, prefetch)  # 10.5
        for k in kids:
            if k.result.action != "compose":
                ctx.result.nodes.append(k.result)
        failed = [k.result for k in kids if k.failed and k.result.action != "compose"]
        failed += [r for k in kids for r in k.failed_below]
        if failed:
            res.status, res.diagnostic = "failed", f"{len(failed)} node(s) below failed"
            return Outcome(res, failed_below=failed)
        out = await compose_checked(ctx, f, node, intent, jobs, kids, res, box, prefetch)
        out.asks = up  # proposals for nodes outside this subtree go up
        return out
    finally:
        if prefetch is not None:
            await settle(prefetch)
        await settle(box)


async def compose_checked(
    ctx: RunContext, f: FileCtx, node: Node, intent: str, jobs: list[Callable[[str], Awaitable[Outcome]]],
    kids: list[Outcome], res: NodeResult, box: asyncio.Future[Sandbox], prefetch: asyncio.Future[None] | None,
) -> Outcome:
    """Compose and validate at this level; a failure there (a name a sibling removed, an
    import nobody uses...) is attributed to the child whose lines it falls on, which
    retries with the hint and its siblings' news; recompose; at most ``retries`` rounds.
    A plan cannot answer differently: its failure is final, naming the node."""
    for round_ in range(ctx.settings.retries + 1):
        try:
            return await compose_up(ctx, f, node, kids, res, box, prefetch)
        except CrossNode as exc:
            blame = exc.blame
            if ctx.plan_mode or blame.owner is None or round_ == ctx.settings.retries:
                raise
            hint = blame.diag.hint()
            extra = (
                f"\n\nComposed with its siblings, this node fails: {hint}."
                + (f" Its siblings now define: {blame.news}." if blame.news else "")
                + " Make this node work with them."
            )
            ctx.emit(blame.owner, "retry", round_ + 1, hint)
            i = next((i for i, k in enumerate(kids) if k.result.id == blame.owner), None)
            if i is not None and i < len(jobs):
                again = await jobs[i](extra)
                again.result.attempts += kids[i].result.attempts
                _swap(ctx, kids[i].result, again.result)
                kids[i] = again
            elif i is None and (target := node.child(blame.owner)) is not None:
                # A node that did not act breaks with its siblings' change: it acts now.
                fix = f"Keep this node working with its siblings' changes.{extra}"
                if routes(f, target, Act(target.id, fix)):
                    again = await run(ctx, f, target, fix, parent=node)
                else:
                    again = await leaf(ctx, f, node, target, fix, rename=False, seq=3000 + round_)
                if again.result.action != "compose":
                    ctx.result.nodes.append(again.result)
                kids.append(again)
            else:
                raise
            if again.failed or again.failed_below:
                raise ValidationFailed(again.result.diagnostic or str(blame.diag), node=blame.owner) from None
    raise AssertionError("unreachable: the last round raises")


def _swap(ctx: RunContext, old: NodeResult, new: NodeResult) -> None:
    """A retried child's result takes the place of its first one in the run's list."""
    for i, r in enumerate(ctx.result.nodes):
        if r is old:
            ctx.result.nodes[i] = new
            return
    if new.action != "compose":
        ctx.result.nodes.append(new)


async def reset_failed(
    ctx: RunContext, jobs: list[Callable[[str], Awaitable[Outcome]]], kids: list[Outcome]
) -> list[Outcome]:
    """Healing: a child that failed all its attempts is reset once, told its last
    diagnostic and how its siblings fared. A plan would answer the same: skip."""
    failed = [i for i, k in enumerate(kids) if k.failed and k.result.action != "compose"]
    if not failed or not ctx.settings.reset or ctx.plan_mode:
        return kids
    siblings = "; ".join(f"{k.result.id}: {k.result.status}" for k in kids)
    for i in failed:
        ctx.emit(kids[i].result.id, "reset", detail=kids[i].result.diagnostic or "")
    again = await gather(
        jobs[i](
            f"\n\nA first try at this node failed: {kids[i].result.diagnostic}. "
            f"Its siblings: {siblings}. Avoid that problem."
        )
        for i in failed
    )
    out = list(kids)
    for i, k in zip(failed, again):
        k.result.attempts += kids[i].result.attempts
        out[i] = k
    return out


async def plan_node(ctx: RunContext, f: FileCtx, node: Node, intent: str) -> None:
    """Route down without generating (a dry run): record which nodes would act."""
    route = await route_node(ctx, f, node, intent)
    for a in route.act:
        child = node.child(a.node_id)
        assert child is not None
        if routes(f, child, a):
            await plan_node(ctx, f, child, a.intent or intent)
        else:
            ctx.result.nodes.append(NodeResult(a.node_id, "would-change", 0, "replace", a.intent))
    for c in route.create:
        key = c.key or "(new)"
        qual = key if node.is_file or node.kind == "block" else f"{node.id.split('::', 1)[1]}.{key}"
        ctx.result.nodes.append(NodeResult(node_id(f.path, qual), "would-change", 0, "create", c.intent))
    for d in route.delete:
        ctx.result.nodes.append(NodeResult(d, "would-change", 0, "delete", intent))


def folded(node: Node, data: bytes) -> str:
    """``node``'s text with each child cut to its header (decorators, signature) and ``...``."""
    from astm.lang.python import syntax as pysyntax

    text = data[node.start : node.end]
    for child in sorted(node.children, key=lambda c: c.start, reverse=True):
        own = data[child.start : child.end]
        head = own
        stack = [pysyntax.parse_tree(own).root_node]
        while stack:  # the first definition's body starts where its header ends
            n = stack.pop(0)
            if n.type in ("function_definition", "class_definition"):
                body = n.child_by_field_name("body")
                if body is not None:
                    cut = own.rfind(b"\n", 0, body.start_byte) + 1 or body.start_byte
                    indent = own[cut : body.start_byte] if own[cut : body.start_byte].isspace() else b"    "
                    head = own[:cut] + indent + b"...\n"
                break
            stack.extend(n.children)
        text = text[: child.start - node.start] + head + text[child.end - node.start :]
    return text.decode("utf-8", "replace")


def _first_line(data: bytes) -> str:
    """A child's one-line summary for its router: its signature or header, not a
    decorator or a comment above it."""
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip() and not line.lstrip().startswith(("#", "@")):
            return line.strip()[:120]
    return ""
