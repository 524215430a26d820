"""The sandboxes a file's leaves validate in: a pool of at most ``jobs``, shared in turn.

Opening and removing a worktree per leaf was a third of a leaf's time (a 5,000-line file
with 128 edited functions: 11 ms of 24). A leaf needs a sandbox only while it validates
and commits, and it does that holding one of the run's ``jobs`` CPU slots: so a file never
needs more than ``jobs`` at once, and the next leaf of the file takes one the last gave
back. Each keeps the files every leaf of the file needs (the project's configuration);
the one file that differs, each leaf writes itself. A leaf commits on no branch
(``git.commit_detached``): a sandbox is only where its file is checked.

A lease is taken only while the leaf holds its CPU slot and given back before the slot is
(before a model call): a leaf waiting for a sandbox holds a slot, and so do all the
holders of sandboxes, so one is always free or can be opened.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from astm.agents.context import RunContext
    from astm.workspace.sandbox import Sandbox


class LeafBoxes:
    """The pool of one file's leaves in a run (``LeafBoxes.of``, kept in ``RunContext.boxes``)."""

    @classmethod
    def of(cls, ctx: RunContext, path: str) -> LeafBoxes:
        """The pool of ``path``'s leaves in this run (made on first use)."""
        if path not in ctx.boxes:
            ctx.boxes[path] = cls(ctx, ctx.settings.jobs)
        pool: LeafBoxes = ctx.boxes[path]
        return pool

    def __init__(self, ctx: RunContext, limit: int) -> None:
        self.ctx, self.limit = ctx, max(1, limit)
        self.idle: list[Sandbox] = []
        self.opening: list[asyncio.Future[Sandbox]] = []
        self.total = 0  # made or being made
        self.wanted = 0  # leaves of the file under way (each may want a sandbox at once)
        self.answered = asyncio.Event()  # a leaf of the file has its first answer
        self._returned = asyncio.Event()

    def warm(self) -> None:
        """A leaf starts: open sandboxes now, while the model works, up to one per leaf
        under way (at most ``limit``). The answers of a wave come back together: opening
        only one ahead made the other leaves of the wave open theirs after their answers,
        on the critical path (8 methods of a class: 0.1 s)."""
        self.wanted += 1
        while self.total < min(self.wanted, self.limit):
            self._open()

    def leave(self) -> None:
        """A leaf is done with the pool."""
        self.wanted -= 1

    async def lease(self) -> Sandbox:
        """A sandbox at the run's base for one leaf."""
        while True:
            if self.idle:
                return self.idle.pop()
            if self.opening:
                return await self.opening.pop(0)
            if self.total < self.limit:
                return await self._open(queued=False)
            self._returned.clear()
            await self._returned.wait()

    def give_back(self, box: Sandbox) -> None:
        self.idle.append(box)
        self._returned.set()

    def lost(self) -> None:
        """A leased sandbox stays out (its leaf broke off): the pool may open another."""
        self.total -= 1
        self._returned.set()

    def _open(self, *, queued: bool = True) -> asyncio.Future[Sandbox]:
        self.total += 1
        task = asyncio.ensure_future(self._make(ahead=queued))
        if queued:
            self.opening.append(task)

        def failed(t: asyncio.Future[Sandbox]) -> None:
            if t.cancelled() or t.exception() is not None:
                if t in self.opening:
                    self.opening.remove(t)
                self.lost()

        task.add_done_callback(failed)
        return task

    async def _make(self, *, ahead: bool) -> Sandbox:
        # Opened ahead: once the leaves' requests are out or an answer is in (RunContext.sandbox).
        return await self.ctx.sandbox(self.ctx.base.id, after=self.answered if ahead else None)


class LeafBox:
    """One leaf's sandbox: leased from its file's pool while it validates and commits.

    A node kind that runs the project's own commands gets a sandbox of its own instead,
    opened while the model works and removed once the node committed, as before the pool:
    a command may read or leave anything in it."""

    def __init__(self, ctx: RunContext, path: str, kind: str | None) -> None:
        self.ctx = ctx
        self.box: Sandbox | None = None
        self.own: asyncio.Future[Sandbox] | None = None
        self.pool: LeafBoxes | None = None
        if ctx.settings.validate_.kind(kind or "").commands:
            self.own = asyncio.ensure_future(ctx.sandbox(ctx.base.id))
        else:
            self.pool = LeafBoxes.of(ctx, path)
            self.pool.warm()

    async def get(self) -> Sandbox:
        if self.own is not None:
            return await self.own
        if self.box is None:
            assert self.pool is not None
            self.box = await self.pool.lease()
        return self.box

    def answered(self) -> None:
        """The leaf has an answer: a sandbox being opened ahead need wait no longer."""
        if self.pool is not None:
            self.pool.answered.set()

    def put(self) -> None:
        """Give the sandbox back before the CPU slot goes (a model call, a retry)."""
        if self.pool is not None and self.box is not None:
            self.pool.give_back(self.box)
            self.box = None

    async def close(self, *, ok: bool, committed: bool) -> None:
        """The leaf is done. After an error the sandbox stays out of the pool (the run's
        clean-up removes it, whatever state the error left it in)."""
        if self.own is not None:
            from astm.agents.context import settle

            await settle(self.own)
            if committed and not self.own.cancelled() and self.own.exception() is None:
                self.ctx.release(self.own.result())
        elif ok:
            self.put()
        elif self.box is not None and self.pool is not None:
            self.pool.lost()
            self.box = None
        if self.pool is not None:
            self.pool.leave()
