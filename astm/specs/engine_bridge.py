"""The one place the build reaches into the engine (what ``astm/newfile.py`` uses too).

A build is an engine run: the engine's run object owns the thread pool for blocking git
work, the sandboxes (git worktrees, all removed when the run ends whatever the outcome, or
handed to the command's depot when it ends well), the run record under ``.git/astm/runs/``, token accounting, the
model-call semaphore and Ctrl-C handling. The build supplies only its ``work``. When the
engine's layout changes, this module is the one to re-point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pygit2

from astm.agents.answer import normalise
from astm.agents.context import RunContext, settle
from astm.config import Settings
from astm.core.result import ApplyResult, EventSink
from astm.engine.options import ApplyOptions
from astm.engine.run import Run
from astm.llm.base import GenerateRequest, Provider, Usage
from astm.workspace import git, landing, runs
from astm.workspace.repo import Repo
from astm.workspace.sandbox import Sandbox, open_sandbox, remove_worktree

T = TypeVar("T")

__all__ = [
    "BuildRun", "GenerateRequest", "Sandbox", "Usage", "commit_detached", "landing",
    "normalise", "open_sandbox", "remove_worktree", "run_build", "runs", "settle",
]


class BuildRun(Run):
    """An engine run whose work is a spec build (``body``), not a routed intent. The run's
    ``RunContext`` (thread pool, sandboxes, events, usage) is the engine's own."""

    def __init__(
        self, repo: Repo, settings: Settings, provider: Provider, events: EventSink,
        base: pygit2.Commit, intent: str, cwd: Path,
        body: Callable[[BuildRun], Awaitable[None]],
    ) -> None:
        super().__init__(repo, ApplyOptions(intent=intent, cwd=cwd), settings, provider, events, base)
        self.body = body
        self.ctx: RunContext | None = None

    async def work(self, ctx: RunContext, produce: object) -> None:
        self.ctx = ctx
        await self.body(self)

    def _context(self) -> RunContext:
        assert self.ctx is not None, "the build's context exists once its run started"
        return self.ctx

    @property
    def sem(self) -> asyncio.Semaphore:
        return self._context().sem

    def emit(self, node: str, state: str, attempt: int = 0, detail: str = "") -> None:
        self._context().emit(node, state, attempt, detail)

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._context().blocking(fn, *args)

    def add_usage(self, usage: Usage) -> None:
        self._context().add_usage(usage)

    async def sandbox(self, fork: pygit2.Oid, *, after: asyncio.Event | None = None) -> Sandbox:
        return await self._context().sandbox(fork, after=after)

    def release(self, box: Sandbox) -> None:
        """Remove a sandbox's worktree now (on the pool), not in the run's final clean-up:
        its commit is held by the module's (the root overlay's parent) from then on."""
        self._context().release(box)

    def message_for(self, lines: list[str]) -> str:
        """A landing commit message: the intent, the given lines, astm's trailers."""
        intent = " ".join(self.opts.intent.split())
        subject = intent[0].upper() + intent[1:] if intent else "astm build"
        return "\n".join([subject, "", *lines, "", f"Astm-Run: {self.run_id}",
                          f"Astm-Intent: {intent}"]) + "\n"


def commit_detached(repo: Repo, fork: pygit2.Oid, changes: Mapping[str, bytes], message: str,
                    extra_parents: tuple[pygit2.Oid, ...] = ()) -> pygit2.Oid:
    """A spec's definition committed alone on ``fork`` (``git.commit_detached``): its
    module's commit then holds it as a parent; or the root's overlay of the modules'
    commits (``extra_parents``). A sandbox per spec cost more than the whole commit."""
    return git.commit_detached(repo.repo, fork, changes, message, extra_parents)


def run_build(
    repo: Repo, settings: Settings, provider: Provider, events: EventSink,
    base: pygit2.Commit, intent: str, cwd: Path, body: Callable[[BuildRun], Awaitable[None]],
) -> tuple[BuildRun, ApplyResult]:
    run = BuildRun(repo, settings, provider, events, base, intent, cwd, body)

    async def unused(ctx: RunContext) -> list[Any]:  # BuildRun.work runs ``body`` instead
        return []

    result = asyncio.run(run.main(unused))
    return run, result

