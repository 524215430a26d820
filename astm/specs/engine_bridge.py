"""The one place the build reaches into the engine (what ``astm/newfile.py`` uses too).

A build is an engine run: the engine's run object owns the thread pool for blocking git
work, the sandboxes (git worktrees on ephemeral branches, all removed when the run ends,
whatever the outcome), the run record under ``.git/astm/runs/``, token accounting, the
model-call semaphore and Ctrl-C handling. The build supplies only its ``work``. When the
engine's layout changes, this module is the one to re-point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from astm.agents.answer import normalise
from astm.agents.tree import settle
from astm.config import Settings
from astm.engine import ApplyOptions, _Run
from astm.llm.base import GenerateRequest, Provider, Usage
from astm.result import ApplyResult, EventSink
from astm.workspace import landing, runs
from astm.workspace.repo import Repo
from astm.workspace.sandbox import Sandbox, delete_ref, open_sandbox, remove_worktree

if TYPE_CHECKING:
    import pygit2

__all__ = [
    "BuildRun", "GenerateRequest", "Sandbox", "Usage", "delete_ref", "landing", "normalise",
    "open_sandbox", "remove_worktree", "run_build", "runs", "settle",
]


class BuildRun(_Run):
    """An engine run whose work is a spec build (``body``), not a routed intent."""

    def __init__(
        self, repo: Repo, settings: Settings, provider: Provider, events: EventSink,
        base: pygit2.Commit, intent: str, cwd: Path,
        body: Callable[[BuildRun], Awaitable[None]],
    ) -> None:
        super().__init__(repo, ApplyOptions(intent=intent, cwd=cwd), settings, provider, events,
                         base, {})
        self.body = body

    async def work(self) -> None:
        await self.body(self)

    def message_for(self, lines: list[str]) -> str:
        """A landing commit message: the intent, the given lines, astm's trailers."""
        intent = " ".join(self.opts.intent.split())
        subject = intent[0].upper() + intent[1:] if intent else "astm build"
        return "\n".join([subject, "", *lines, "", f"Astm-Run: {self.run_id}",
                          f"Astm-Intent: {intent}"]) + "\n"


def run_build(
    repo: Repo, settings: Settings, provider: Provider, events: EventSink,
    base: pygit2.Commit, intent: str, cwd: Path, body: Callable[[BuildRun], Awaitable[None]],
) -> tuple[BuildRun, ApplyResult]:
    run = BuildRun(repo, settings, provider, events, base, intent, cwd, body)
    result = asyncio.run(run.main())
    return run, result

