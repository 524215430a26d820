"""One ticket's engine run, in a worker of the scheduler (conductor/workers.py: a forked
process, or a thread).

It touches no track state: it is given a ``Job`` and gives back an ``Outcome``, which the
scheduler settles on its own thread (both cross a pipe to a worker process). Its events
are forwarded named by the ticket; the engine's ``landed`` event hands the result commit
over at once (``landed``), so the ticket's dependents start while its run still cleans up.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from astm.conductor.commits import result_commit
from astm.config import Settings
from astm.core.plan import Plan
from astm.core.result import ApplyResult, Event, EventSink
from astm.engine import apply as engine
from astm.errors import AstmError
from astm.llm.base import Provider
from astm.workspace.depot import Depot
from astm.workspace.repo import Repo

ProviderFor = Callable[[Plan | None], Provider]  # a fresh provider per engine run


@dataclass(frozen=True)
class Job:
    """One engine run of a ticket: what the scheduler sends a worker."""

    ticket: str
    base: str
    intent: str
    plan: Plan | None
    paths: list[str]
    attempt: int
    early: bool  # the result commit is handed over as soon as it exists (no review waits)


@dataclass(frozen=True)
class Outcome:
    """What one engine run of a ticket gave (computed in a worker)."""

    ticket: str
    base: str
    commit: str | None = None
    run: str | None = None
    error: AstmError | None = None
    payload: str = ""  # the plan of what it did (the clutch's edit payload)


@dataclass(frozen=True)
class TicketRun:
    """What every ticket's engine run of one track run shares."""

    repo: Repo
    settings: Settings
    provider_for: ProviderFor
    events: EventSink
    tmp: Path  # the reviews' saved plans
    depot: Depot | None  # the sandboxes the tickets hand on (workspace/depot.py)

    def __call__(self, job: Job, landed: Future[str] | None = None) -> Outcome:
        """``landed`` gets the result commit as soon as the engine has made it; without it
        the result waits for a review, whose edit payload is the plan of what the run did
        (saved only then)."""
        tid, base = job.ticket, job.base
        saved = self.tmp / f"{tid}-{job.attempt}.plan.json"
        opts = engine.ApplyOptions(
            intent=job.intent, cwd=self.repo.workdir, paths=tuple(job.paths), plan=job.plan, base=base,
            land=False, save_plan=saved if landed is None else None, depot=self.depot,
        )

        def forward(e: Event) -> None:
            if landed is not None and e.node == engine.REPO_ID and e.state == "landed" and not landed.done():
                commit = result_commit(self.repo, e.detail, base)
                if commit is not None:
                    landed.set_result(commit)
            self.events(Event(f"{tid} {e.node}", e.state, e.attempt, e.detail))

        try:
            res: ApplyResult = engine.apply(opts, self.settings, self.provider_for(job.plan), forward)
        except AstmError as exc:
            partial: ApplyResult | None = getattr(exc, "result", None)
            return Outcome(tid, base, run=partial.run if partial else None, error=exc)
        payload = saved.read_text(encoding="utf-8") if saved.is_file() else ""
        return Outcome(tid, base, commit=res.commit, run=res.run, payload=payload)
