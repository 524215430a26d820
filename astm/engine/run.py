"""One run's lifecycle around its agents: the run record, the root's overlay commit,
root-level tests, landing, and on any exit the removal of every sandbox it made (or, when
it ends well and has a depot, their return to it: workspace/depot.py).

Blocking git work runs on the process's threads (``agents.threads``), so that on any exit
(error, Ctrl-C) the run first waits for its own work there and then removes every sandbox
it made. The user's HEAD, index and working tree are only ever read.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from astm.agents import threads
from astm.agents.context import Outcome, RunContext
from astm.config import Settings
from astm.core.plan import Plan
from astm.core.result import ApplyResult, EventSink
from astm.errors import RUN_INTERRUPTED, AstmError, Interrupted, ValidationFailed
from astm.faults import pause_at
from astm.lang import find
from astm.llm.base import Provider
from astm.workspace import depot, git, landing, runs
from astm.workspace.repo import Repo
from astm.workspace.sandbox import remove_worktree

if TYPE_CHECKING:
    import pygit2

    from astm.engine.options import ApplyOptions

REPO_ID = "."  # the repository node: its children are the candidate files
MAX_FAILURE = 800  # characters of a test failure handed to the model as a hint


class TestsFailed(ValidationFailed):
    """The project's tests failed on the composed change (exit 1, like any validation)."""

    def __init__(self, message: str, *, first: str, failure: str) -> None:
        super().__init__(message)
        self.first, self.failure = first, failure


def _failure(raw: str) -> str:
    """The part of pytest's output a model can act on: the failing test and its ``E`` lines."""
    lines = raw.splitlines()
    keep = [ln for ln in lines if ln.startswith(("E ", "FAILED ", "ERROR ")) or ln.lstrip().startswith(">")]
    text = "\n".join(keep or lines[-10:])
    return text[:MAX_FAILURE]
Produce = Callable[[RunContext], Awaitable[list[Outcome]]]


class Run:
    """One run's lifecycle around its agents: the run record, the root's overlay commit,
    root-level tests, landing, and on any exit the removal of every sandbox and branch."""

    def __init__(
        self,
        repo: Repo,
        opts: ApplyOptions,
        settings: Settings,
        provider: Provider,
        events: EventSink,
        base: pygit2.Commit,
    ) -> None:
        self.repo, self.opts, self.settings, self.provider = repo, opts, settings, provider
        self.events, self.base = events, base
        self.run_id = runs.new_run_id()
        self.result = ApplyResult(
            run=None if opts.dry_run else self.run_id,
            base=str(base.id),
            intent=opts.intent,
            dry_run=opts.dry_run,
            provider=provider.name,
        )
        self.record = runs.RunRecord(run=self.run_id, intent=opts.intent, base=str(base.id))

    def cleanup(self, ctx: RunContext, *, ok: bool) -> None:
        """Wait for every git thread, then remove every sandbox, or (``ok``: the run ended
        without error, and it was given a depot) hand the reusable ones to the depot."""
        ctx.pool.shutdown(wait=True)  # a sandbox still being made is made before it goes

        def gone(path: Path) -> bool:  # its worktree removed already (RunContext.release)
            done = ctx.released.get(path)
            return done is not None and done.done() and done.exception() is None

        keep = [b for b in ctx.taken if b.reusable and not gone(b.path)] if ok and ctx.depot is not None else []
        kept = {b.path for b in keep}
        if ctx.depot is not None and keep:
            kept -= {b.path for b in ctx.depot.keep(keep)}
        paths = dict.fromkeys([*ctx.planned, *(b.path for b in ctx.taken)])
        left = [p for p in paths if p not in kept and not gone(p)]
        if left:
            list(threads.shared().map(lambda p: remove_worktree(self.repo, p), left))

    async def main(self, work: Produce) -> ApplyResult:
        ctx = RunContext.create(
            self.repo, self.settings, self.provider, self.base, self.result, self.run_id, self.events,
            review=self.opts.review, hinter=self.opts.hinter,
            # Run by the ``astm`` command, the sandboxes go after its result is out.
            depot=self.opts.depot if self.opts.depot is not None else depot.at_exit(),
        )
        if self.opts.dry_run:
            ok = False
            try:
                await work(ctx)
                ok = True
            finally:
                self.cleanup(ctx, ok=ok)
                await self.provider.aclose()
                if self.opts.hinter is not None:
                    await self.opts.hinter.aclose()
            return self.result
        self.record.save(self.repo)
        try:
            await self.work(ctx, work)
            self.record.status = "landed"
            return self.result
        except asyncio.CancelledError:
            self.record.status = "interrupted"
            self.result.error = "interrupted"
            exc = Interrupted(RUN_INTERRUPTED)
            exc.result = self.result  # type: ignore[attr-defined]
            raise exc from None
        except AstmError as exc:
            self.record.status = "failed"
            self.result.error = str(exc)
            exc.result = self.result  # type: ignore[attr-defined]
            raise
        except BaseException:
            self.record.status = "failed"
            raise
        finally:
            try:
                self.cleanup(ctx, ok=self.record.status == "landed")
            finally:
                if self.result.branch is not None and self.record.status == "interrupted":
                    self.record.status, self.result.error = "landed", None  # landed before Ctrl-C
                self.record.finished = time.time()
                self.record.error = self.result.error
                self.record.nodes = self.result.nodes_json()
                self.record.branch = self.result.branch
                self.record.commit = self.result.commit
                self.record.save(self.repo)
                await self.provider.aclose()
                if self.opts.hinter is not None:
                    await self.opts.hinter.aclose()
                pause_at("cleanup")
                await asyncio.sleep(0)  # a Ctrl-C during cleanup is delivered, never lost

    async def work(self, ctx: RunContext, produce: Produce) -> None:
        outcomes = await produce(ctx)
        try:
            await self.land_outcomes(ctx, outcomes)
        except TestsFailed as exc:
            # The project's tests are the strongest check there is: a model gets one more
            # round with their failure as every acting node's hint. A plan would answer
            # the same; retries = 0 means no second answer.
            if ctx.provider.name == "plan" or self.settings.retries == 0:
                raise
            ctx.run_hint.append(f"with it, the project's tests fail: {exc.failure}")
            self.result.notices.append(f"the project's tests failed on the first try; the acting nodes tried again ({exc.first})")
            ctx.result.nodes.clear()
            await self.land_outcomes(ctx, await produce(ctx))

    async def land_outcomes(self, ctx: RunContext, outcomes: list[Outcome]) -> None:
        """Root overlay commit, root-level tests, run ref, and the landing commit."""
        failed = [r for o in outcomes for r in o.failed_below]
        if failed:
            first = failed[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise ValidationFailed(f"{first.diagnostic}{more}", node=first.id)
        changed = [o for o in outcomes if o.commit is not None and o.patch is not None]
        if not changed:
            raise ValidationFailed("nothing to change: no node's text changed for this intent")
        changes = {o.patch.path: o.patch.text for o in changed if o.patch is not None}
        # Made from the bytes, on no branch: the run's ref holds it at once. The root's
        # sandbox is opened only for the project's tests (most runs have none to run).
        overlay = await ctx.blocking(
            git.commit_detached, self.repo.repo, self.base.id, changes, f"astm root {self.run_id}",
            tuple(o.commit for o in changed),
        )
        await self.root_tests(ctx, overlay, [p for p in changes if (lang := find(p)) is not None and lang.tested])
        await ctx.blocking(runs.set_run_ref, self.repo, self.run_id, overlay)
        tree = self.repo.tree_of(overlay)
        if not self.opts.land:  # the caller keeps the commit (refs/astm/tracks/...)
            commit = await ctx.blocking(landing.make_commit, self.repo, tree, self.base.id, self.message())
            self.result.commit = str(commit)
            ctx.emit(REPO_ID, "landed", detail=str(commit)[:10])
            return await self.after_landing(changed)

        def land() -> str:
            # Recorded in the thread: a Ctrl-C while awaiting it must still know it landed.
            branch, commit = landing.land(
                self.repo, tree=tree, base=self.base.id, message=self.message(),
                branch=self.opts.branch, intent=self.opts.intent,
            )
            self.result.branch, self.result.commit = branch, str(commit)
            return branch

        branch = await ctx.blocking(land)
        ctx.emit(REPO_ID, "landed", detail=branch)
        if self.opts.base is None and self.repo.head_oid() != self.base.id:
            self.result.notices.append(
                f"HEAD moved during the run; {branch} is based on {str(self.base.id)[:10]}"
            )
        await self.after_landing(changed)

    async def after_landing(self, changed: list[Outcome]) -> None:
        if self.opts.save_plan is not None:
            from astm.core import plan as planfile

            edits = [e for o in changed for e in o.edits]
            try:
                planfile.save(Plan(intent=self.opts.intent, edits=edits), self.opts.save_plan)
            except OSError as exc:
                self.result.notices.append(f"could not write the plan to {self.opts.save_plan}: {exc.strerror}")

    async def root_tests(self, ctx: RunContext, overlay: pygit2.Oid, changed: list[str]) -> None:
        """Root level: the project's tests on the composed commit (see validate/tests.py),
        in a sandbox of their own checked out at it."""
        from astm.validate import tests
        from astm.workspace.git import clean_env

        conf = self.settings.validate_
        if not changed or conf.tests == "off":
            return
        if conf.tests == "auto":
            files = await ctx.blocking(self.repo.list_files, overlay)
            targets = await ctx.blocking(
                tests.select, files, changed, lambda p: self.repo.read_blob(overlay, p)
            )
            if targets == []:
                return  # the project has no tests
            python = tests.python_of(self.repo.workdir)
            command = [python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *(targets or [])]
        else:
            command = shlex.split(conf.tests)
        ctx.emit(REPO_ID, "testing", detail=" ".join(command[1:])[:60])
        root = await ctx.sandbox(self.base.id)
        await ctx.blocking(root.checkout_all, overlay)
        diag, note = await ctx.blocking(
            lambda: tests.run(root.path, command, timeout=conf.test_timeout, env=clean_env(),
                              unavailable=conf.tests_unavailable)
        )
        if note:
            self.result.warnings.append(note)
        if diag is not None:
            raise TestsFailed(f"at the root: {diag}", first=str(diag), failure=_failure(diag.raw or str(diag)))

    def message(self) -> str:
        subject = " ".join(self.opts.intent.split()) or "astm change"
        subject = subject[0].upper() + subject[1:]
        if len(subject) > 72:
            subject = subject[:71].rstrip() + "…"
        lines = [subject, "", "Nodes changed:"]
        for n in self.result.nodes:
            if n.status == "changed":
                lines.append(f"- {n.id} ({n.action})")
        intent = " ".join(self.opts.intent.split())
        lines += ["", f"Astm-Run: {self.run_id}", f"Astm-Intent: {intent}"]
        return "\n".join(lines) + "\n"
