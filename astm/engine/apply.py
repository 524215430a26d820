"""One ``astm apply`` run: route down, generate and validate at the leaves, compose up, land.

The engine returns an ``ApplyResult`` or raises an ``AstmError``; it never prints. Blocking
git work runs in a thread pool owned by the run, so that on any exit (error, Ctrl-C) the
run first waits for those threads and then removes every sandbox and ephemeral branch it
made. The user's HEAD, index and working tree are only ever read.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from astm.agents import limits, router, routing
from astm.agents.context import FileCtx, Outcome, RunContext, gather, settle
from astm.config import Settings
from astm.core.lines import eol_of
from astm.core.node import Node
from astm.core.plan import Insert, Plan
from astm.core.plan import conflicts as plan_conflicts
from astm.core.result import ApplyResult, EventSink, ignore
from astm.errors import (
    RUN_INTERRUPTED,
    AstmError,
    BranchExistsError,
    Interrupted,
    PlanConflict,
    TargetError,
    UsageError,
    ValidationFailed,
)
from astm.faults import pause_at
from astm.lang import Language, find, language_for, language_of, suffixes
from astm.llm.base import ChildInfo, Provider, RouteRequest
from astm.workspace import landing, runs
from astm.workspace.repo import Repo, check_repo_path
from astm.workspace.sandbox import Sandbox, delete_ref, remove_worktree

if TYPE_CHECKING:
    import pygit2

    from astm.agents.review import Reviewer

REPO_ID = "."  # the repository node: its children are the candidate files
CANDIDATE_SUFFIXES = (".toml",)


@dataclass
class ApplyOptions:
    intent: str
    cwd: Path
    paths: tuple[str, ...] = ()
    plan: Plan | None = None
    branch: str | None = None
    base: str | None = None
    dry_run: bool = False
    save_plan: Path | None = None
    land: bool = True  # False: make the result commit but no branch (a track's ticket)
    review: Reviewer | None = None  # --step: each node's change is shown and decided first
    hinter: Provider | None = None  # tier-4 hints: the cheap model that compresses failures


def prepare(repo: Repo, opts: ApplyOptions) -> tuple[pygit2.Commit, dict[str, FileCtx], list[str]]:
    """Resolve the base commit and parse the target files there (pure reads)."""
    repo.check_state()
    base = repo.base_commit(opts.base)
    notices: list[str] = []
    if opts.paths:
        paths = [repo.relpath(p, opts.cwd) for p in opts.paths]
    elif opts.plan is None:
        paths = repo_candidates(repo, base, opts, notices)
    else:
        paths = repo.root_files(base, CANDIDATE_SUFFIXES)
        if opts.plan is not None:
            named = {e.parent if isinstance(e, Insert) else e.node for e in opts.plan.edits}
            paths += [n.split("::", 1)[0] for n in named if "::" in n or language_of(n)]
        paths = sorted(set(paths))
    if not paths:
        raise UsageError("nothing to work on: no candidate file for this intent; name PATHS")
    named = set(paths) if opts.paths else _plan_files(opts.plan)
    files: dict[str, FileCtx] = {}
    for p in paths:
        try:
            check_repo_path(p)  # a path outside the repository is that, not an unknown kind
            if language_of(p) is None:
                raise TargetError("astm does not know this kind of file", path=p)
            lang = language_for(p)
            data = repo.read_at(base, p)
            tree = lang.parse(p, data)
        except TargetError as exc:
            if p in named:
                raise
            # A candidate nobody asked for cannot block the run; say why it sat out.
            notices.append(f"skipped {exc}")
            continue
        files[p] = FileCtx(p, data, tree, lang, eol_of(data), context_of(p, data, lang))
    if not files:
        raise UsageError("nothing to work on: no candidate file could be parsed; name PATHS")
    dirty = repo.dirty(base, list(files))
    if dirty:
        notices.append(
            f"uncommitted changes in {', '.join(dirty)} are left alone; "
            f"astm works from the base commit {str(base.id)[:10]}"
        )
    if opts.plan is not None:
        trees = {p: f.tree for p, f in files.items()}
        conflicting = plan_conflicts(opts.plan, trees)
        if conflicting:  # a base-aware plan replayed onto a base where its nodes changed
            raise PlanConflict(conflicting)
        routing.check_plan(opts.plan, trees)
    return base, files, notices


def repo_candidates(repo: Repo, base: pygit2.Commit, opts: ApplyOptions, notices: list[str]) -> list[str]:
    """A repository-wide intent: the files worth routing over, from the index.

    The index (``astm index``, under .git/astm/) ranks files by the intent's words in node
    names, signatures and paths, re-parsing only blobs it has not seen. A dry run creates
    nothing, so it ranks by reading the files instead; so does a run whose index fails.
    """
    from astm.agents import candidates

    roots = repo.root_files(base, CANDIDATE_SUFFIXES)
    if not opts.dry_run:
        try:
            from astm.index import candidates as indexed

            found = indexed(repo.workdir, opts.intent, limit=candidates.MAX_CANDIDATES, rev=str(base.id))
            named = candidates.named_paths(opts.intent, repo.list_files(base.id))  # 10.3
            return roots + [p for p in named if p not in roots] + [c.path for c in found if c.path not in roots + named]
        except Exception as exc:  # noqa: BLE001 - the index is a cache: never a reason to fail a run
            notices.append(f"index unavailable ({type(exc).__name__}); ranked files by reading them")
    tracked = [p for p in repo.list_files(base.id) if p.endswith(suffixes())]
    return candidates.rank(tracked, opts.intent, lambda p: repo.read_at(base, p))


def context_of(path: str, data: bytes, lang: Language) -> str:
    """What agents see of the rest of a file (the language decides: a skeleton, an outline)."""
    return lang.context(path, data)


def apply(
    opts: ApplyOptions,
    settings: Settings,
    provider: Provider,
    on_event: EventSink = ignore,
) -> ApplyResult:
    """Run one apply to the end; raises AstmError (with ``.result`` attached when known)."""
    repo = Repo.open(opts.cwd)
    if opts.branch is not None:
        landing.check_branch_name(opts.branch)
        conflict = None if opts.dry_run else landing.branch_conflict(repo, opts.branch)
        if conflict is not None:  # before any model work; landing checks again (CAS)
            raise BranchExistsError(f"{conflict}; choose another with --branch")
    for kind, conf in settings.validate_.kinds.items():
        if conf.prompt and not (repo.workdir / conf.prompt).is_file():
            raise UsageError(
                f"[tool.astm.validate.{kind}] prompt {conf.prompt!r}: no such file", path="pyproject.toml"
            )
    if opts.save_plan is not None and not opts.save_plan.parent.is_dir():
        raise UsageError(f"--save-plan {opts.save_plan}: no such directory")
    base, files, notices = prepare(repo, opts)
    run = Run(repo, opts, settings, provider, on_event, base)
    run.result.notices.extend(notices)
    work = dry_run if opts.dry_run else produce
    return asyncio.run(run.main(lambda ctx: work(ctx, files, opts.intent)))


Produce = Callable[[RunContext], Awaitable[list[Outcome]]]


async def route_files(ctx: RunContext, files: dict[str, FileCtx], intent: str) -> list[tuple[FileCtx, str]]:
    """The repository node's decision: which files act, with what intent."""
    targets = list(files.values())
    if len(targets) == 1:
        return [(targets[0], intent)]
    children = tuple(
        ChildInfo(
            f.path, "file", _summary(f.outline),
            frozenset(n.id for n in f.tree.walk()) - {f.path},
        )
        for f in targets
    )
    # The repository's context: each candidate's skeleton (signatures only), by folder.
    context = "\n\n".join(f"# {f.path}\n{_clip(f.outline, 40)}" for f in targets)
    req = RouteRequest(intent, REPO_ID, "repo", "repo", children, context)
    ctx.emit(REPO_ID, "routing")
    route, usage = await ctx.provider.route(req)  # bounded by the provider (model_jobs)
    ctx.add_usage(usage)
    repo_node = Node(REPO_ID, "repo", "", 0, 0, children=tuple(f.tree for f in targets))
    route = routing.settle_repo(route, repo_node, intent, ctx.provider.name)  # 10.2/10.3
    limits.charge(ctx, REPO_ID, len(route.act), what="acting files")  # 11.7
    return [(files[a.node_id], a.intent or intent) for a in route.act]


async def produce(ctx: RunContext, files: dict[str, FileCtx], intent: str) -> list[Outcome]:
    """Every acting file's outcome: a whole-file patch and its overlay commit."""
    acting = await route_files(ctx, files, intent)
    return list(await gather(router.run(ctx, f, f.tree, todo, parent=None) for f, todo in acting))


async def dry_run(ctx: RunContext, files: dict[str, FileCtx], intent: str) -> list[Outcome]:
    """Route down without generating: the result lists which nodes would act."""
    for f, todo in await route_files(ctx, files, intent):
        await router.plan_node(ctx, f, f.tree, todo)
    return []


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

    def cleanup(self, ctx: RunContext) -> None:
        """Wait for every git thread, then remove every sandbox and ephemeral branch."""
        ctx.pool.shutdown(wait=True)

        def remove(item: tuple[Path, str]) -> None:
            remove_worktree(self.repo, item[0])
            delete_ref(self.repo, item[1])

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="astm-clean") as pool:
            list(pool.map(remove, ctx.planned))

    async def main(self, work: Produce) -> ApplyResult:
        ctx = RunContext.create(
            self.repo, self.settings, self.provider, self.base, self.result, self.run_id, self.events,
            review=self.opts.review, hinter=self.opts.hinter,
        )
        if self.opts.dry_run:
            try:
                await work(ctx)
            finally:
                ctx.pool.shutdown(wait=True)
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
                self.cleanup(ctx)
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
        # The root's sandbox opens while the files work, off the critical path.
        root_box = asyncio.ensure_future(ctx.sandbox(self.base.id))
        try:
            outcomes = await produce(ctx)
        finally:
            await settle(root_box)
        await self.land_outcomes(ctx, outcomes, root_box.result())

    async def land_outcomes(self, ctx: RunContext, outcomes: list[Outcome], root: Sandbox) -> None:
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
        for path, data in changes.items():
            await ctx.blocking(root.write, path, data)
        overlay = await ctx.blocking(
            root.commit, changes, f"astm root {self.run_id}", tuple(o.commit for o in changed)
        )
        await self.root_tests(ctx, root, overlay, [p for p in changes if (lang := find(p)) is not None and lang.tested])
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

    async def root_tests(self, ctx: RunContext, root: Sandbox, overlay: pygit2.Oid, changed: list[str]) -> None:
        """Root level: the project's tests on the composed commit (see validate/tests.py)."""
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
        await ctx.blocking(root.checkout_all)
        diag, note = await ctx.blocking(
            lambda: tests.run(root.path, command, timeout=conf.test_timeout, env=clean_env(),
                              unavailable=conf.tests_unavailable)
        )
        if note:
            self.result.warnings.append(note)
        if diag is not None:
            raise ValidationFailed(f"at the root: {diag}")

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


def _summary(outline: str) -> str:
    """One line for a file: its top-level names."""
    names = [ln.strip() for ln in outline.splitlines() if ln and not ln.startswith((" ", "\t"))]
    text = "; ".join(names)
    return text[:200] + ("…" if len(text) > 200 else "")


def _clip(text: str, lines: int) -> str:
    rows = text.splitlines()
    return "\n".join(rows[:lines] + ([f"… ({len(rows) - lines} more lines)"] if len(rows) > lines else []))


def _plan_files(plan: Plan | None) -> set[str]:
    if plan is None:
        return set()
    return {(e.parent if isinstance(e, Insert) else e.node).split("::", 1)[0] for e in plan.edits}


