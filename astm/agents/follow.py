"""What a router does with what its children brought back, beyond their own patches.

* ``answer_asks``: requests and proposals (``astm.agents.requests``) are acted on through
  the right node of the router's subtree: a proposal runs the target's agent with the
  proposed text as its first answer (validated like any answer; no model call), a request
  runs it with the request's intent. A proposal for a node outside the subtree goes up.
* ``pull_in`` (issue 10.5): changes that must follow a change. A rename of ``_norm``
  leaves its callers with ``F821 Undefined name '_norm'``; before the router validates its
  composed text, ruff's new findings that fall on nodes that did not act bring those
  nodes in, with the finding as their sub-intent. One round, bounded.

Both take the run's ``RunContext`` (``ctx``): they call its agents, never the model
directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Any

from astm.agents import limits, requests
from astm.agents.requests import Ask
from astm.core.node import Node, node_id
from astm.core.patch import Patch, compose
from astm.core.plan import Replace
from astm.errors import AstmError
from astm.llm.base import Act, Create

if TYPE_CHECKING:
    from astm.agents.context import FileCtx, Outcome, RunContext

MAX_PULLED = 8  # nodes one router brings in after a change; more is a different change


async def answer_asks(
    ctx: RunContext, f: FileCtx, node: Node, kids: list[Outcome], skip: Iterable[str] = ()
) -> tuple[list[Outcome], list[Ask]]:
    """Act on the children's requests and proposals inside ``node``'s subtree (one round);
    return the outcomes and the proposals that must go up to ``node``'s parent.
    ``skip``: ids the router deletes (nothing acts on them)."""
    from astm.agents import leaf, router
    from astm.agents.context import gather as _all

    asks = [a for k in kids if not k.failed for a in k.asks]
    if not asks:
        return [], []
    if ctx.provider.name == "plan":  # a plan is explicit: it has no answer for them
        ctx.result.notices.append(f"requests ignored with a plan: {', '.join(a.name for a in asks)}")
        return [], []
    up = [a for a in asks if requests.up(node, a)]
    busy = [n for n in (node.find(k.result.id) for k in kids) if n is not None]
    busy += [n for n in (node.find(i) for i in skip) if n is not None]
    acted = {k.result.id for k in kids} | set(skip)
    made: set[str] = set()
    jobs: list[Awaitable[Outcome]] = []
    for i, ask in enumerate(a for a in asks if a not in up):
        ctx.emit(ask.by, "request", detail=f"{ask.what} {ask.name}")
        seq = 2000 + i
        target = requests.target_of(node, ask)
        last = ask.name.rsplit(".", 1)[-1]  # a proposal's name is qualified
        if target is None and ctx.decided and (f.lang.config or (ask.proposal and last.startswith("("))):
            # New tables in a configuration file the intent's route placed, or loose
            # statements beside a node (a print(), a __main__ guard): not asked for.
            _not_done(ctx, ask, "the intent names the nodes that change")
        elif target is None and ask.proposal and last in ctx.defined:
            # A whole-file answer that wrote its own InventoryError beside the real one
            # (or the OutOfStockError another node creates): a duplicate, not a helper.
            _not_done(ctx, ask, f"{last} is defined elsewhere already")
        elif target is None and ask.what == "sibling":
            parent = requests.parent_of_new(node, ask)
            if not f.lang.nested:
                key = ask.name
            elif ask.proposal:
                key = last
            else:  # a request may name the new sibling qualified (``Cart.helper`` in Cart)
                own = requests.qualname(parent) if parent is not None else ""
                key = ask.name.removeprefix(own + ".") if own else ask.name
                if "." in key:  # ``Inventory.add`` asked for beside Item: not a name here
                    _not_done(ctx, ask, f"{node.id} has no place named {ask.name}")
                    continue
            new_id = node_id(f.path, ask.name) if ask.proposal else ask.name
            if parent is None or new_id in made or any(requests.overlaps(parent, b) for b in busy if parent is not node):
                _not_done(ctx, ask, "its place is already acting or asked for")
                continue
            made.add(new_id)
            anchor = _anchor(f, parent, ask)
            create = Create(key, ask.intent, after=anchor, position=None if anchor else "end")
            text = ask.text.decode("utf-8", "replace") if ask.text is not None else None
            jobs.append(leaf.create(ctx, f, parent, create, seq=seq, proposed=text))
        elif target is not None and ctx.decided:
            # The intent named the nodes that change; a small model's whole-class answer
            # rewrites their siblings too (and asks to change them: line-length = 120),
            # and those changes are not what was asked.
            _not_done(ctx, ask, "the intent names the nodes that change")
        elif target is not None and target.id not in acted and not any(requests.overlaps(target, b) for b in busy):
            acted.add(target.id)
            busy.append(target)
            parent = _parent(node, target)
            if ask.proposal:
                assert ask.text is not None
                jobs.append(leaf.leaf(ctx, f, parent, target, ask.intent, rename=False, seq=seq,
                                      proposed=ask.text.decode("utf-8", "replace")))
            elif router.routes(f, target, Act(target.id, ask.intent)):
                jobs.append(router.run(ctx, f, target, ask.intent, parent=node))
            else:
                jobs.append(leaf.leaf(ctx, f, node, target, ask.intent, rename=False, seq=seq))
        else:
            why = "it is already acting" if target is not None else f"{node.id} has no such child"
            _not_done(ctx, ask, why)
    try:
        limits.charge(ctx, node.id, len(jobs), what="requested or proposed nodes")  # 11.7
    except BaseException:
        for job in jobs:  # never started: no request was sent for them
            getattr(job, "close", lambda: None)()
        raise
    if node.is_file:  # nowhere further up to go
        for ask in up:
            _not_done(ctx, ask, f"{f.path} has no place for it")
        up = []
    done = list(await _all(jobs))
    if ctx.decided:
        # The intent named what changes: what a node asked for beyond it is a suggestion,
        # and one that fails its checks is left out, not the run.
        for o in [o for o in done if o.failed or o.failed_below]:
            ctx.result.notices.append(f"{o.result.id}: asked for by another node, left out: {o.result.diagnostic}")
        done = [o for o in done if not (o.failed or o.failed_below)]
    return done, up


def _not_done(ctx: RunContext, ask: Ask, why: str) -> None:
    kind = "proposed a change to" if ask.proposal and ask.what == "change" else (
        "proposed a new" if ask.proposal else f"asked to {ask.what}")
    ctx.result.notices.append(f"{ask.by} {kind} {ask.name}; not done: {why}")


def _parent(root: Node, target: Node) -> Node:
    for n in root.walk():
        if any(c is target for c in n.children):
            return n
    return root


def _anchor(f: FileCtx, parent: Node, ask: Ask) -> str | None:
    """The sibling a new node goes after: the one the answer put it after, else the
    node that asked, when either is a child of ``parent``."""
    names = [node_id(f.path, ask.after)] if ask.after else []
    names.append(ask.by)
    return next((n for n in names if parent.child(n) is not None), None)


# ---- changes that must follow a change (10.5) ----------------------------------------


async def pull_in(
    ctx: RunContext, f: FileCtx, node: Node, kids: list[Outcome], intent: str, box: Any,
    prefetch: Any = None,
) -> list[Outcome]:
    """Nodes of ``node``'s subtree that did not act but that the composed change breaks
    (a new ruff finding on their lines) act now, with the finding as their sub-intent."""
    from astm.agents import leaf
    from astm.agents.context import gather as _all
    from astm.validate import ruff

    if (ctx.provider.name == "plan" or not f.lang.external or not ctx.settings.validate_.ruff
            or any(k.failed for k in kids)):
        return []
    patches = [k.patch for k in kids if k.patch is not None]
    if not patches:
        return []
    bounds = (0, len(f.data)) if node.is_file else (node.start, node.end)
    try:
        composed = compose(f.data, patches, bounds=bounds)
    except AstmError:
        return []  # the router's own checks report it
    if f.lang.check_file(composed, f.path) is not None:
        return []
    sandbox = await box
    if prefetch is not None:  # it materialises the same files in this sandbox: let it finish
        await asyncio.wait([prefetch])
    await ctx.blocking(sandbox.materialise, list(ruff.CONFIG_FILES))
    baseline = await ctx.checks.baseline(f.path, f.data, sandbox)
    after = await ctx.checks.ruff_on(f.path, sandbox, composed)
    if not after:
        return []
    chosen: list[tuple[Node, list[ruff.Finding]]] = []
    for d in sorted(_idle(node, patches), key=lambda n: n.end - n.start):
        if any(d.start <= c.start and c.end <= d.end for c, _ in chosen):
            continue  # a member already answers for it
        shift = sum(len(p.text) - (p.end - p.start) for p in patches if p.end <= d.start)
        fresh = ruff.new_inside(
            baseline, after, _rows(f.data, d.start, d.end), _rows(composed, d.start + shift, d.end + shift)
        )
        if fresh:
            chosen.append((d, fresh))
    if not chosen:
        return []
    why = _why(f, node, kids, intent)
    # The pulled nodes are validated alone: the names their siblings now define are on
    # their way (the router validates the whole, where nothing is excused).
    expect(ctx, f.path, [Ask("sibling", n, "", node.id) for n in _new_names(f, kids)])
    limits.charge(ctx, node.id, len(chosen[:MAX_PULLED]), what="nodes pulled in")  # 11.7
    jobs = []
    for i, (d, fresh) in enumerate(chosen[:MAX_PULLED]):
        found = "; ".join(f"ruff {x.code}: {x.message}" for x in fresh[:3])
        sub = f"{why} Update this code to match; it now fails: {found}"
        ctx.result.notices.append(f"{d.id} follows the change: {found}")
        jobs.append(leaf.leaf(ctx, f, _parent(node, d), d, sub, rename=False, seq=3000 + i))
    return list(await _all(jobs))


def _idle(node: Node, patches: list[Patch]) -> list[Node]:
    """Nodes below ``node`` that no patch touches (they did not act)."""
    def touched(n: Node) -> bool:
        return any(p.start < n.end and n.start < p.end or (p.start == p.end and n.start < p.start < n.end)
                   for p in patches)

    return [n for n in node.walk() if n is not node and n.kind not in ("imports",) and not touched(n)]


def _why(f: FileCtx, node: Node, kids: list[Outcome], intent: str) -> str:
    """What changed next to it, said so a node can follow: renames by name."""
    renames = []
    for k in kids:
        for e in k.edits:
            if isinstance(e, Replace) and e.rename:
                old = node.find(e.node)
                got = f.lang.key_of(e.text.encode("utf-8"))
                if old is not None and got is not None and old.key != got[1]:
                    renames.append(f"`{old.key}` was renamed to `{got[1]}`")
    changed = ", ".join(k.result.id for k in kids if k.patch is not None)
    head = f"{'; '.join(renames)} by a sibling." if renames else f"Siblings changed ({changed}) for: {intent}."
    return head


def _new_names(f: FileCtx, kids: list[Outcome]) -> set[str]:
    """Names the children's new texts define (a renamed or created definition)."""
    out: set[str] = set()
    for k in kids:
        if k.patch is not None and k.patch.text.strip():
            got = f.lang.key_of(k.patch.text.lstrip(b"\r\n"))
            if got is not None and got[0] != "imports":
                out.add(got[1])
    return out


def _rows(data: bytes, start: int, end: int) -> range:
    first = data.count(b"\n", 0, start) + 1
    last = first + data.count(b"\n", start, max(start, end - 1))
    return range(first, last + 1) if end > start else range(first, first)


# ---- names that are on their way -------------------------------------------------------



def expect(ctx: RunContext, path: str, asks: list[Ask]) -> None:
    """Remember the new definitions a node asked for or proposed: until its file has
    placed them, a use of their name is not an error (``Pipeline.excuse``)."""
    names = {a.name.rsplit(".", 1)[-1] for a in asks if a.what == "sibling"}
    if names:
        ctx.checks.expected.setdefault(path, set()).update(names)
