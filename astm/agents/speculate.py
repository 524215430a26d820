"""A router's composed text, checked by ruff in the same batch as its leaves' own texts.

A router composes its leaves' patches and checks the result (``compose.compose_up``) only
after every leaf has passed its checks and committed: two ruff runs one after the other on
the critical path of every file (20-40 ms each), the second one a run of its own. Yet as
soon as the last leaf has its patch, the composed text is known, and in the common case
(no imports travelling up, no retry) it is exactly what the router will check. So the
router's text joins the batch its leaves' checks go in (``validate/ruff_batch``); the
pipeline keeps ruff's findings by content (``Pipeline.ruff_on``), and the router's check
later finds them there. When the router ends up checking another text, the guess only
cost ruff a file, on another core.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from astm.agents.context import FileCtx, RunContext, settle
from astm.core.patch import Patch, compose
from astm.errors import AstmError

if TYPE_CHECKING:
    from astm.core.node import Node
    from astm.validate.hands import Hand
    from astm.workspace.sandbox import Sandbox


class Speculation:
    """One router's guess, fed by its leaves (``offer``) through ``RunContext.speculations``."""

    def __init__(self, ctx: RunContext, f: FileCtx, node: Node, leaves: set[str],
                 box: asyncio.Future[Sandbox], prefetch: asyncio.Future[None] | None) -> None:
        self.ctx, self.f, self.node, self.box, self.prefetch = ctx, f, node, box, prefetch
        self.leaves = leaves  # the ids of the children that act as leaves: all of them
        self.patches: dict[str, Patch] = {}
        self.task: asyncio.Future[None] | None = None
        self.off = False

    @classmethod
    def start(cls, ctx: RunContext, f: FileCtx, node: Node, leaves: set[str] | None,
              box: asyncio.Future[Sandbox], prefetch: asyncio.Future[None] | None) -> Speculation | None:
        """A speculation for ``node`` when every child acting is a leaf (``leaves``;
        None: a child routes further) and its kind is checked by ruff alone."""
        conf = ctx.settings.validate_
        if not leaves or not ctx.checks.uses_ruff(f.lang.external) or conf.kind(node.kind).commands:
            return None
        if any(conf.kind(c.kind).commands for c in node.children if c.id in leaves):
            return None
        spec = cls(ctx, f, node, leaves, box, prefetch)
        ctx.speculations[node.id] = spec
        return spec

    def offer(self, owner: str, patch: Patch, imports: list[bytes]) -> None:
        """A leaf's first patch that passed its own checks, before its ruff check."""
        if self.off or self.task is not None or owner not in self.leaves:
            return
        if imports:  # the router will check the file with them folded in: no guess
            self.off = True
            return
        self.patches[owner] = patch
        if len(self.patches) == len(self.leaves):
            # Taken now, while the leaf's own hand is out: the guess goes in its batch.
            # Given back by the task's end too: a task cancelled before its first step
            # never runs its ``finally``.
            hand = self.ctx.checks.hands.take()
            self.task = asyncio.ensure_future(self._check(hand))
            self.task.add_done_callback(lambda _: hand.done())

    async def _check(self, hand: Hand) -> None:
        f, node = self.f, self.node
        bounds = (0, len(f.data)) if node.is_file else (node.start, node.end)
        try:
            try:
                view = compose(f.data, list(self.patches.values()), bounds=bounds)
            except AstmError:
                return  # the router's own composition reports it
            sandbox = await self.box
            if self.prefetch is not None:  # it writes the base file into the same sandbox
                await settle(self.prefetch)
            await self.ctx.checks.ruff_inputs(sandbox, [f.path])
            await self.ctx.blocking(sandbox.write, f.path, view)
            # Not awaited: the pipeline keeps the findings for the router's check, which
            # reports any error of the check itself (retrieved here, never printed).
            self.ctx.checks.ruff_on(f.path, sandbox, view, on_disk=True).add_done_callback(_retrieve)
        finally:
            hand.done()

    async def close(self) -> None:
        """The leaves are done: the guess's write into the router's sandbox is over
        before the router writes there itself (its ruff check may still be running)."""
        self.ctx.speculations.pop(self.node.id, None)
        if self.task is not None:
            await settle(self.task)


def _retrieve(fut: asyncio.Future[object]) -> None:
    if not fut.cancelled():
        fut.exception()
