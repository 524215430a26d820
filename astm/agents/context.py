"""What every agent of one run shares, handed to each agent explicitly.

A ``RunContext`` holds the run's repository, settings, model, base commit and result, its
event sink, the thread pool for blocking work, the token budget, the sandbox factory, the
bound on concurrent node agents and the validation pipeline. Routers and leaves receive it
as an argument (``astm.agents.router``, ``astm.agents.leaf``); nothing inherits it. The
engine (``astm.engine.apply``) builds it, runs the agents, and owns the run's lifecycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from astm.agents.limits import RunBudget
from astm.agents.threads import RunThreads
from astm.core.result import ApplyResult, Event, EventSink, NodeResult
from astm.errors import ModelError
from astm.faults import pause_at
from astm.validate.pipeline import Pipeline

if TYPE_CHECKING:
    import pygit2

    from astm.agents.requests import Ask
    from astm.agents.review import Reviewer
    from astm.config import Settings
    from astm.core.node import Node
    from astm.core.patch import Patch
    from astm.core.plan import Edit as PlanEdit
    from astm.lang import Language
    from astm.llm.base import Provider, Route, Usage
    from astm.workspace.depot import Depot
    from astm.workspace.repo import Repo
    from astm.workspace.sandbox import Sandbox

T = TypeVar("T")
# What a wave of model requests takes to leave this process (32 of them: 3 ms each). A
# sandbox opened ahead of its use waits that long, or for its event (RunContext.sandbox).
SEND_SECONDS = 0.05
# ASTM_CRASH_AT=<event state> kills the process with SIGKILL when that event is emitted:
# sandbox, generating, committed, composing, landed (crash-safety tests and crashsoak).
CRASH_AT = os.environ.get("ASTM_CRASH_AT", "")


@dataclass
class FileCtx:
    """One target file at the base commit, as every agent of the file sees it."""

    path: str
    data: bytes
    tree: Node
    lang: Language
    eol: bytes
    outline: str


@dataclass
class Outcome:
    """What one node agent produced."""

    result: NodeResult
    patch: Patch | None = None
    commit: pygit2.Oid | None = None
    edits: list[PlanEdit] = field(default_factory=list)  # for --save-plan
    imports: list[bytes] = field(default_factory=list)  # upward requests: imports
    asks: list[Ask] = field(default_factory=list)  # upward requests: a sibling, a caller
    failed_below: list[NodeResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.result.status == "failed"


@dataclass(frozen=True)
class RunContext:
    repo: Repo
    settings: Settings
    provider: Provider
    base: pygit2.Commit
    result: ApplyResult
    run_id: str
    events: EventSink
    pool: RunThreads
    sem: asyncio.Semaphore  # node agents in flight (model calls and their validation)
    checks: Pipeline
    # every sandbox folder ever started, for cleanup (one still being made included)
    planned: list[Path] = field(default_factory=list)
    # the sandboxes the run holds: what cleanup hands back to ``depot`` when all went well
    taken: list[Sandbox] = field(default_factory=list)
    # sandboxes whose worktree ``release`` is removing
    released: dict[Path, Future[None]] = field(default_factory=dict)
    # where the run takes its sandboxes from and hands them back to (workspace/depot.py)
    depot: Depot | None = None
    # the sandboxes each file's leaves take turns in, by path (agents.boxes.LeafBoxes.of)
    boxes: dict[str, Any] = field(default_factory=dict)
    # a router's composed text checked beside its leaves', by router id (agents.speculate)
    speculations: dict[str, Any] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    budget: RunBudget = field(default_factory=RunBudget)  # nodes set acting (issue 11.7)
    # --step: each node's validated change is shown and decided (astm.agents.review)
    review: Reviewer | None = None
    review_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # the hint model (hint_model, else router_model): compresses a failed check's output
    hinter: Provider | None = None
    # routes the intent decides by naming its targets, by node id (astm.agents.named)
    decided: dict[str, Route] = field(default_factory=dict)
    # the names the candidate files define and a decided route creates: a proposal for a
    # new definition of one of them elsewhere is a duplicate (astm.agents.follow)
    defined: set[str] = field(default_factory=set)
    # name -> the one candidate file that defines it at top level, or that a decided route
    # creates it in: a use of it elsewhere gets its import (agents.compose, issue 10)
    importable: dict[str, str] = field(default_factory=dict)
    sources: dict[str, bytes] = field(default_factory=dict)  # the candidate files' base text, by path
    # what every node's next answer must also fix: the project's failing tests (engine.run)
    run_hint: list[str] = field(default_factory=list)

    @classmethod
    def create(
        cls, repo: Repo, settings: Settings, provider: Provider, base: pygit2.Commit,
        result: ApplyResult, run_id: str, events: EventSink, review: Reviewer | None = None,
        hinter: Provider | None = None, depot: Depot | None = None,
    ) -> RunContext:
        """Call inside the run's event loop (the semaphore and the caches belong to it)."""
        pool = RunThreads()  # the process's threads; the run waits for its own work only

        def blocking(fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
            return asyncio.get_running_loop().run_in_executor(pool, fn, *args)

        def emit(node: str, state: str, attempt: int = 0, detail: str = "") -> None:
            emit_event(events, node, state, attempt, detail)

        checks = Pipeline(settings.validate_, blocking, emit)
        return cls(repo, settings, provider, base, result, run_id, events, pool, asyncio.Semaphore(settings.jobs), checks,
            review=review, hinter=hinter, depot=depot)

    def emit(self, node: str, state: str, attempt: int = 0, detail: str = "") -> None:
        emit_event(self.events, node, state, attempt, detail)

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def add_usage(self, usage: Usage) -> None:
        self.result.usage = self.result.usage + usage
        budget = self.settings.token_budget
        total = self.result.usage.prompt + self.result.usage.completion
        if budget is not None and total > budget:
            raise ModelError(f"token budget of {budget} exceeded ({total} tokens used)")

    async def sandbox(self, fork: pygit2.Oid, *, after: asyncio.Event | None = None) -> Sandbox:
        """A new sandbox at ``fork``. ``after``: opened ahead of its use, once that event
        is set or ``SEND_SECONDS`` passed: its file system work runs in threads, and
        beside a model request being built and sent it held the request back."""
        from astm.workspace.sandbox import open_sandbox, sandbox_root

        if after is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(after.wait(), SEND_SECONDS)
        n = next(self.counter)
        kept = self.depot.take(self.repo) if self.depot is not None else None
        if kept is not None:  # an earlier run's, made ready for this one's fork
            self.taken.append(kept)
            try:
                await self.blocking(kept.reset, self.repo, fork)
                self.emit(f"sandbox {n}", "sandbox")
                return kept
            except OSError:
                kept.reusable = False  # cleanup removes it; a new one instead
        self.planned.append(sandbox_root() / f"astm-{self.run_id}-{n}")
        box = await self.blocking(open_sandbox, self.repo, self.run_id, n, fork)
        self.taken.append(box)
        self.emit(f"sandbox {n}", "sandbox")
        return box

    def release(self, sandbox: Sandbox) -> None:
        """Remove a sandbox's worktree now that its commit exists (its commit is held by
        the commit above it, as a leaf's is)."""
        from astm.workspace.sandbox import remove_worktree

        sandbox.reusable = False
        self.released[sandbox.path] = self.pool.submit(remove_worktree, sandbox.repo, sandbox.path)

    def prompt_for(self, kind: str | None) -> str | None:
        """The project's prompt file for this node kind (checked before the run starts)."""
        rel = self.settings.validate_.kind(kind or "").prompt
        return str(self.repo.workdir / rel) if rel else None

    @property
    def plan_mode(self) -> bool:
        """A plan answers: it is explicit, so requests and resets have nothing to add."""
        return self.provider.name == "plan"


def emit_event(events: EventSink, node: str, state: str, attempt: int = 0, detail: str = "") -> None:
    events(Event(node, state, attempt, detail))
    pause_at(state)  # ASTM_PAUSE_AT: the interrupt tests' Ctrl-C lands here
    if CRASH_AT and CRASH_AT == state:
        # Fault injection for the crash tests (docs/cli.md): die here, as a kill would.
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.asynccontextmanager
async def released(sem: asyncio.Semaphore) -> AsyncIterator[None]:
    """Give a held CPU slot back for the block: model calls are bounded by the provider
    (``model_jobs``), and a model wait must not hold a slot validation needs."""
    sem.release()
    try:
        yield
    finally:
        await sem.acquire()


async def settle(task: asyncio.Future[Any]) -> None:
    """Wait for a side task (a sandbox opening) without raising: when another error is
    already on its way, this one is retrieved and dropped, never printed by asyncio."""
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()


async def gather(aws: Any) -> list[Any]:
    """Run awaitables concurrently; the first error cancels the rest and is raised as is."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    if not tasks:
        return []
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks)
        raise


def plain(data: bytes) -> str:
    """A node's text as a plan stores it."""
    return data.decode("utf-8").replace("\r\n", "\n")

