"""Running a track: every ready ticket is one engine run; the track lands as one branch.

The scheduler lives in the calling thread: it starts each ready ticket's ``engine.apply``
in a worker (conductor/workers.py: a forked process of its own where at least two tickets
can run at once, else a thread), and settles results one at a time as they finish:
reviews (the clutch) and state changes all happen here; each save renders the state here
and hands it to the track's writer thread (conductor/saver.py), so no file write stands
between a ticket's end and its dependents' start. A ticket starts from the result of the
tickets it depends on (their merge when there are several), so a contract stub's new
signatures are in the files its dependents' agents parse, index and skeletonise.

A ticket's result is a commit kept under ``refs/astm/tracks/<track>/<ticket>``, never a
branch. When every ticket is done, the results are chained in dependency order onto the
track's base, one commit per ticket, and land on ``astm/track-<slug>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path

from astm.agents import hints
from astm.conductor import dag, resume, store, workers
from astm.conductor.clutch import Approve, Clutch, Edit, Reject, Review
from astm.conductor.commits import message_of
from astm.conductor.config import TrackSettings
from astm.conductor.models import Attempt, Ticket, Track, WorkerContext
from astm.conductor.saver import Saver
from astm.conductor.ticket_run import Job, Outcome, ProviderFor, TicketRun
from astm.config import Settings
from astm.core import plan as planfile
from astm.core.result import Event, EventSink, ignore
from astm.errors import AstmError, Interrupted, UsageError, ValidationFailed
from astm.faults import pause_at
from astm.llm.base import Provider
from astm.workspace import chain, oplog
from astm.workspace.depot import Depot
from astm.workspace.landing import slugify
from astm.workspace.repo import Repo


class TrackFailed(ValidationFailed):
    """Some tickets failed or are blocked; the done ones are kept for the next run."""


@dataclass
class TrackResult:
    track: Track
    branch: str | None = None
    commit: str | None = None
    ran: list[str] = field(default_factory=list)  # tickets run this time
    notices: list[str] = field(default_factory=list)


class Runner:
    def __init__(
        self,
        repo: Repo,
        track: Track,
        settings: Settings,
        provider_for: ProviderFor,
        *,
        track_settings: TrackSettings | None = None,
        step: bool = False,
        clutch: Clutch | None = None,
        hint_provider: Callable[[], Provider | None] = lambda: None,
        on_event: EventSink = ignore,
        max_rejections: int = 3,
        depot: Depot | None = None,
    ) -> None:
        """``depot``: where the tickets' runs keep their sandboxes for the next (its
        owner removes them); None: a depot of the run's own, emptied when it ends."""
        self.repo, self.track, self.settings = repo, track, settings
        self.provider_for = provider_for
        self.trust = track_settings or TrackSettings()
        self.step, self.clutch = step, clutch
        self.hint_provider = hint_provider
        self.events = on_event
        self.max_rejections = max_rejections
        self.tmp: Path | None = None  # the reviews' saved plans: made by ``finish``, removed there
        self.result = TrackResult(track)
        self.landed: dict[str, Future[str]] = {}  # running ticket -> its result, once made
        self.saver: Saver | None = None  # the track file's writer while the run runs
        self.depot = depot

    # ---- plumbing ----

    def emit(self, ticket: str, state: str, detail: str = "", attempt: int = 0) -> None:
        self.events(Event(ticket, state, attempt, detail))

    def save(self) -> None:
        """Save the track as it is now: written on the saver's thread (a run's first and
        last saves, and the one before a review, are waited for)."""
        if self.saver is None:
            store.save(self.repo, self.track)
        else:
            self.saver.put(self.track)

    def pauses(self, t: Ticket) -> bool:
        return self.trust.pauses(t.archetype, step=self.step)

    # ---- the run ----

    def run(self) -> TrackResult:
        tr = self.track
        if tr.status == "done":
            raise UsageError(f"track {tr.id} has already landed on {tr.branch}")
        resume.reclaim(tr)  # a killed run's track resumes; a live run's is left alone
        if tr.base is None or not chain.exists(self.repo, tr.base):
            raise UsageError(f"track {tr.id}: its base commit {tr.base or '?'} is gone")
        pending = [t for t in tr.tickets if t.status != "done"]
        if any(self.pauses(t) for t in pending):
            if self.clutch is None:
                raise UsageError("--step (or a trust level of 'step') needs a terminal or answers on stdin")
            self.clutch.check()
        if not self.settings.model and any(t.plan is None for t in pending):
            first = next(t for t in pending if t.plan is None)
            raise UsageError(f"ticket {first.id} has no plan and no model is configured: set ASTM_MODEL")
        for t in tr.tickets:  # a result ref lost (gc, a user) means: run it again
            if t.status == "done" and not chain.exists(self.repo, t.commit):
                t.move("ready")
        self.repo.check_state()
        resume.adopt(self.repo, tr, self.pauses)
        dag.resume(tr)
        tr.move("running")
        tr.running_in = resume.this_process()
        self.saver = Saver(self.repo, tr.id)
        try:
            self.saver.put(tr)
            self.saver.flush()  # the run is on record before any ticket starts
            self.finish()
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to report
                self.saver.close()
            raise
        self.saver.close()
        return self.result

    def finish(self) -> None:
        """Run the tickets, then land them (or fail naming what is left)."""
        tr = self.track
        # Made here, not in __init__: a run refused before its tickets start (a landed
        # track, a base gone, no model) left one behind in the temp directory each time.
        self.tmp = Path(tempfile.mkdtemp(prefix="astm-track-"))
        own = self.depot is None
        if own:
            self.depot = Depot()  # a ticket takes the sandboxes the tickets before it left
        run = TicketRun(self.repo, self.settings, self.provider_for, self.events, self.tmp, self.depot)
        pending = [t for t in tr.tickets if t.status != "done"]
        pool: workers.TicketPool | None = None
        try:
            # Forked now, while no ticket's thread exists (conductor/workers.py).
            pool = workers.open_pool(run, self.settings.jobs, dag.width(pending), processes=self.trust.processes,
                                     paths=[f for t in pending for f in t.files],
                                     model=any(t.plan is None for t in pending))
            self.schedule(pool)
            left = [t for t in tr.tickets if t.status != "done"]
            if left:
                tr.move("failed")
                self.save()
                raise TrackFailed(resume.why(tr, left))
            self.land()
        finally:
            if pool is not None:
                pool.join()  # the workers' sandboxes are gone when the run returns
            shutil.rmtree(self.tmp, ignore_errors=True)
            if own:
                assert self.depot is not None
                self.depot.close()
                self.depot = None

    def schedule(self, pool: workers.TicketPool) -> None:
        tr = self.track
        futures: dict[Future[Outcome], str] = {}
        try:
            while True:
                for t in dag.ready(tr):
                    started = self.start(pool, t)
                    if started is not None:
                        futures[started] = t.id
                if not futures:
                    return
                landed = {self.landed[tid]: tid for tid in futures.values() if tid in self.landed}
                done, _ = wait([*futures, *landed], return_when=FIRST_COMPLETED)
                for f in sorted(done, key=lambda f: f not in landed):  # early results first
                    if f in landed:
                        self.keep_early(landed[f], f.result())
                        continue
                    self.landed.pop(futures.pop(f), None)
                    again = self.settle(f.result())
                    if again is not None:
                        started = self.start(pool, tr.ticket(again), rerun=True)
                        assert started is not None
                        futures[started] = again
        except BaseException as exc:  # Ctrl-C, a quit at a review, a crash: keep what is done
            for f in futures:
                f.cancel()
            if isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)):
                pool.interrupt()  # a worker process stops its run as on a Ctrl-C of its own
            pool.shutdown()
            for f, tid in futures.items():
                t = tr.ticket(tid)
                if (f.done() and not f.cancelled() and f.exception() is None and not self.pauses(t)
                        and t.status == "running"):
                    o = f.result()
                    if o.error is None and o.commit is not None:
                        self.keep(o, reviewed=False)  # finished while stopping: not lost
            for t in tr.tickets:  # the ticket under review, and any cut short
                if t.status == "running":
                    t.move("ready")
                    chain.drop_result(self.repo, tr.id, t.id)
            tr.move("interrupted")
            self.save()
            if isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)):
                raise Interrupted(
                    f"interrupted; track {tr.id} keeps its done tickets: `astm track run {tr.id}` resumes"
                ) from None
            raise
        finally:
            pool.shutdown()

    def start(self, pool: workers.TicketPool, t: Ticket, *, rerun: bool = False) -> Future[Outcome] | None:
        """Move ``t`` to running and submit its engine run on its dependencies' result
        (None: its dependencies' results conflict, and it failed saying so)."""
        if rerun:  # after a review: same base, a new attempt
            t.move("ready")
        else:
            deps = [(d, self.track.ticket(d).commit or "") for d in t.depends_on]
            try:
                t.base = chain.merged_base(self.repo, self.track.base or "", deps, ticket=t.id)
            except chain.MergeConflict as exc:
                t.move("running")
                self.fail(t, None, str(exc), str(exc))
                return None
        t.move("running")
        intent = t.intent()
        t.worker = WorkerContext(
            ticket=t.id,
            model="plan" if t.plan is not None else (self.settings.model or ""),
            settings={"jobs": self.settings.jobs, "retries": self.settings.retries,
                      "routing": self.settings.routing, "paths": t.files, "base": t.base},
            messages=[{"role": "user", "content": intent}],
        )
        self.save()
        self.emit(t.id, "running", t.title or t.prompt[:60], t.attempts)
        self.result.ran.append(t.id)
        landed: Future[str] | None = None
        if not self.pauses(t):  # a reviewed result waits for its review, not for this
            landed = self.landed[t.id] = Future()
        job = Job(t.id, t.base or "", intent, t.plan, list(t.files), t.attempts, early=landed is not None)
        return pool.submit(job, landed)

    def keep_early(self, tid: str, commit: str) -> None:
        """``tid``'s result commit exists (the engine said so as it made it): the ticket is
        done, and its dependents start now, while its engine run still cleans up (its
        sandboxes, its record). The run's id is filled in when the run returns."""
        self.landed.pop(tid, None)
        t = self.track.ticket(tid)
        if t.status == "running":
            self.keep(Outcome(tid, t.base or "", commit=commit), reviewed=False)

    def settle(self, o: Outcome) -> str | None:
        """Record one finished run; the ticket id when it must run again (a review)."""
        t = self.track.ticket(o.ticket)
        if t.status == "done" and t.commit is not None:  # kept early (keep_early)
            last = next((a for a in reversed(t.history) if a.outcome == "done"), None)
            if last is not None and last.run is None:
                last.run = o.run
                self.save()
            if o.error is not None or o.commit != t.commit:
                why = o.error or f"it then reported {o.commit}"
                self.result.notices.append(f"ticket {t.id}: its result {t.commit[:10]} is kept; "
                                           f"its engine run then failed: {why}")
            return None
        if o.error is not None or o.commit is None:
            raw = str(o.error) if o.error else "the engine gave no commit"
            self.fail(t, o.run, raw, self.hint(raw))
            return None
        chain.keep_result(self.repo, self.track.id, t.id, o.commit)  # nothing is lost from here
        if not self.pauses(t):
            self.keep(o, reviewed=False)
            return None
        return self.review(t, o)

    def fail(self, t: Ticket, run: str | None, raw: str, hint: str) -> None:
        """``t`` failed: raw and hint side by side in its record; dependents blocked."""
        t.history.append(Attempt(run=run, outcome="failed", raw=raw, hint=hint))
        t.notes.append(f"it failed: {hint}")  # a retry gets the hint, never the raw output
        t.move("failed")
        blocked = dag.cascade(self.track, t.id)
        self.save()
        self.emit(t.id, "failed", raw + (f" (blocks {', '.join(blocked)})" if blocked else ""))

    def review(self, t: Ticket, o: Outcome) -> str | None:
        assert self.clutch is not None and o.commit is not None
        r = Review(t.id, chain.tree_diff(self.repo, o.base, o.commit), o.payload, "json",
                   f"{t.archetype}: {t.title or t.prompt[:60]}")
        if self.saver is not None:
            self.saver.flush()  # on disk before a person takes their time
        self.emit(t.id, "review")
        decision = self.clutch.review(r, _plan_problem)
        if isinstance(decision, Approve):
            self.keep(o, reviewed=True)
            return None
        if isinstance(decision, Edit):
            t.plan = planfile.parse(decision.payload, f"edit of {t.id}")
            t.history.append(Attempt(run=o.run, outcome="edited"))
        elif isinstance(decision, Reject):
            t.history.append(Attempt(run=o.run, outcome="rejected", raw=decision.reason, hint=decision.reason))
            t.notes.append(f"a reviewer rejected it: {decision.reason}")
            rejected = sum(1 for a in t.history if a.outcome == "rejected")
            if rejected >= self.max_rejections:
                t.move("failed")
                dag.cascade(self.track, t.id)
                self.save()
                self.emit(t.id, "failed", f"rejected {rejected} times: {decision.reason}")
                return None
        else:  # Quit: this ticket's result goes; the track keeps what was approved before
            chain.drop_result(self.repo, self.track.id, t.id)
            raise Interrupted(
                f"quit at the review of ticket {t.id}: nothing landed; "
                f"`astm track run {self.track.id}` resumes"
            )
        self.save()
        return t.id

    def keep(self, o: Outcome, *, reviewed: bool) -> None:
        t = self.track.ticket(o.ticket)
        assert o.commit is not None
        chain.keep_result(self.repo, self.track.id, t.id, o.commit)
        t.commit = o.commit
        t.history.append(Attempt(run=o.run, outcome="done"))
        if t.status == "running":
            t.move("done")
        self.save()
        self.emit(t.id, "done", ("approved " if reviewed else "") + o.commit[:10])
        pause_at("ticket-done")  # the crash tests kill the process here

    def hint(self, raw: str) -> str:
        """The short hint of a failure (a cheap model's, or the first diagnostic)."""
        provider = self.hint_provider()
        hint, _ = asyncio.run(hints.compress(raw, "", provider))
        if provider is not None:
            asyncio.run(provider.aclose())
        return hint.text

    # ---- landing ----

    def land(self) -> None:
        tr = self.track
        steps = [
            chain.Step(t.id, t.base or "", t.commit or "", message_of(tr, t))
            for t in dag.topo_order(tr.tickets)
        ]
        head = chain.chain(self.repo, tr.base or "", steps)
        branch = chain.create_branch(self.repo, f"track-{slugify(tr.title)}", head)
        oplog.record_branch(self.repo, f"refs/heads/{branch}", head, f"track {tr.id} landed {branch}")
        tr.branch, tr.commit = branch, head
        tr.move("done")
        self.save()
        if self.saver is not None:
            self.saver.flush()  # recorded as landed before its result refs go
        chain.drop_results(self.repo, tr.id)  # the branch holds every result now
        self.result.branch, self.result.commit = branch, head
        self.emit(tr.id, "landed", branch)


def _plan_problem(text: str) -> str | None:
    try:
        planfile.parse(text, "the edited plan")
    except AstmError as exc:
        return str(exc)
    return None
