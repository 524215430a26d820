"""One ``astm apply`` run: route down, generate and validate at the leaves, compose up, land.

The engine returns an ``ApplyResult`` or raises an ``AstmError``; it never prints. Blocking
git work runs in a thread pool owned by the run, so that on any exit (error, Ctrl-C) the
run first waits for those threads and then removes every sandbox and ephemeral branch it
made. The user's HEAD, index and working tree are only ever read.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from astm.agents import routing
from astm.agents.answer import eol_of, normalise
from astm.config import Settings
from astm.errors import (
    AstmError,
    BranchExistsError,
    Interrupted,
    ModelError,
    TargetError,
    UsageError,
    ValidationFailed,
)
from astm.lang import Language, language_for
from astm.llm.base import ChildInfo, Create, GenerateRequest, Provider, Route, RouteRequest, Usage
from astm.patch import Patch, compose
from astm.plan import Delete, Edit, Insert, Plan, Replace
from astm.result import ApplyResult, Event, EventSink, NodeResult, ignore
from astm.syntax import Node, language_of, node_id
from astm.validate.diagnostic import Diagnostic
from astm.workspace import landing, runs
from astm.workspace.repo import Repo
from astm.workspace.sandbox import Sandbox, open_sandbox, remove_worktree, delete_ref, sandbox_root, tmp_branch

if TYPE_CHECKING:
    import pygit2

T = TypeVar("T")
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


@dataclass
class FileCtx:
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
    edit: Edit | None = None

    @property
    def failed(self) -> bool:
        return self.result.status == "failed"


@dataclass
class FileOutcome:
    path: str
    data: bytes | None = None
    commit: pygit2.Oid | None = None
    nodes: list[Outcome] = field(default_factory=list)


def prepare(repo: Repo, opts: ApplyOptions) -> tuple[pygit2.Commit, dict[str, FileCtx], list[str]]:
    """Resolve the base commit and parse the target files there (pure reads)."""
    repo.check_state()
    base = repo.base_commit(opts.base)
    notices: list[str] = []
    if opts.paths:
        paths = [repo.relpath(p, opts.cwd) for p in opts.paths]
    else:
        paths = repo.root_files(base, CANDIDATE_SUFFIXES)
        if opts.plan is not None:
            named = {e.parent if isinstance(e, Insert) else e.node for e in opts.plan.edits}
            paths += [n.split("::", 1)[0] for n in named if "::" in n or language_of(n)]
        paths = sorted(set(paths))
    if not paths:
        raise UsageError("nothing to work on: no TOML file at the repository root; name PATHS")
    named = set(paths) if opts.paths else _plan_files(opts.plan)
    files: dict[str, FileCtx] = {}
    for p in paths:
        try:
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
        files[p] = FileCtx(p, data, tree, lang, eol_of(data), lang.outline(data))
    if not files:
        raise UsageError("nothing to work on: no candidate file could be parsed; name PATHS")
    dirty = repo.dirty(base, list(files))
    if dirty:
        notices.append(
            f"uncommitted changes in {', '.join(dirty)} are left alone; "
            f"astm works from the base commit {str(base.id)[:10]}"
        )
    if opts.plan is not None:
        routing.check_plan(opts.plan, {p: f.tree for p, f in files.items()})
    return base, files, notices


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
        if not opts.dry_run and repo.has_branch(opts.branch):
            raise BranchExistsError(f"branch {opts.branch} already exists; choose another with --branch")
    if opts.save_plan is not None and not opts.save_plan.parent.is_dir():
        raise UsageError(f"--save-plan {opts.save_plan}: no such directory")
    base, files, notices = prepare(repo, opts)
    run = _Run(repo, opts, settings, provider, on_event, base, files)
    run.result.notices.extend(notices)
    return asyncio.run(run.main())


class _Run:
    def __init__(
        self,
        repo: Repo,
        opts: ApplyOptions,
        settings: Settings,
        provider: Provider,
        events: EventSink,
        base: pygit2.Commit,
        files: dict[str, FileCtx],
    ) -> None:
        self.repo, self.opts, self.settings, self.provider = repo, opts, settings, provider
        self.events, self.base, self.files = events, base, files
        self.run_id = runs.new_run_id()
        self.result = ApplyResult(
            run=None if opts.dry_run else self.run_id,
            base=str(base.id),
            intent=opts.intent,
            dry_run=opts.dry_run,
            provider=provider.name,
        )
        self.pool = ThreadPoolExecutor(max_workers=settings.jobs + 4, thread_name_prefix="astm")
        self.counter = itertools.count(1)
        self.planned: list[tuple[Path, str]] = []  # every sandbox ever started, for cleanup
        self.record = runs.RunRecord(run=self.run_id, intent=opts.intent, base=str(base.id))
        self.sem: asyncio.Semaphore

    # ---- plumbing -------------------------------------------------------------------

    def emit(self, node: str, state: str, attempt: int = 0, detail: str = "") -> None:
        self.events(Event(node, state, attempt, detail))

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def add_usage(self, usage: Usage) -> None:
        self.result.usage = self.result.usage + usage
        budget = self.settings.token_budget
        total = self.result.usage.prompt + self.result.usage.completion
        if budget is not None and total > budget:
            raise ModelError(f"token budget of {budget} exceeded ({total} tokens used)")

    async def sandbox(self, fork: pygit2.Oid) -> Sandbox:
        n = next(self.counter)
        self.planned.append((sandbox_root() / f"astm-{self.run_id}-{n}", tmp_branch(self.run_id, n)))
        return await self.blocking(open_sandbox, self.repo, self.run_id, n, fork)

    def cleanup(self) -> None:
        """Wait for every git thread, then remove every sandbox and ephemeral branch."""
        self.pool.shutdown(wait=True)

        def remove(item: tuple[Path, str]) -> None:
            remove_worktree(self.repo, item[0])
            delete_ref(self.repo, item[1])

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="astm-clean") as pool:
            list(pool.map(remove, self.planned))

    # ---- the run --------------------------------------------------------------------

    async def main(self) -> ApplyResult:
        self.sem = asyncio.Semaphore(self.settings.jobs)
        if self.opts.dry_run:
            try:
                await self.dry_run()
            finally:
                self.pool.shutdown(wait=True)
                await self.provider.aclose()
            return self.result
        self.record.save(self.repo)
        try:
            await self.work()
            self.record.status = "landed"
            return self.result
        except asyncio.CancelledError:
            self.record.status = "interrupted"
            self.result.error = "interrupted"
            raise Interrupted("interrupted; the run's sandboxes and branches were removed") from None
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
                self.cleanup()
            finally:
                self.record.finished = time.time()
                self.record.error = self.result.error
                self.record.nodes = [n.to_json() for n in self.result.nodes]
                self.record.branch = self.result.branch
                self.record.commit = self.result.commit
                self.record.save(self.repo)
                await self.provider.aclose()

    async def route_files(self) -> list[tuple[FileCtx, str]]:
        """The repository node's decision: which files act, with what intent."""
        files = list(self.files.values())
        if len(files) == 1:
            return [(files[0], self.opts.intent)]
        children = tuple(
            ChildInfo(
                f.path, "file", f.outline.splitlines()[0] if f.outline else "",
                frozenset(n.id for n in f.tree.walk()) - {f.path},
            )
            for f in files
        )
        req = RouteRequest(self.opts.intent, REPO_ID, "repo", "repo", children, "\n".join(c.id for c in children))
        self.emit(REPO_ID, "routing")
        async with self.sem:
            route, usage = await self.provider.route(req)
        self.add_usage(usage)
        repo_node = Node(REPO_ID, "repo", "", 0, 0, children=tuple(f.tree for f in files))
        route = routing.check_route(Route(route.act), repo_node)
        return [(self.files[a.node_id], a.intent or self.opts.intent) for a in route.act]

    async def route_file(self, f: FileCtx, intent: str) -> Route:
        children = tuple(
            ChildInfo(
                c.id, c.kind, _first_line(f.data[c.start : c.end]),
                frozenset(n.id for n in c.walk()) - {c.id},
            )
            for c in f.tree.children
        )
        req = RouteRequest(intent, f.tree.id, "file", f.lang.name, children, f.outline)
        texts = {c.id: f.data[c.start : c.end].decode("utf-8", "replace") for c in f.tree.children}
        self.emit(f.tree.id, "routing")
        route, usage = await routing.decide(
            self.provider, req, mode=self.settings.routing, texts=texts, limit=self.sem
        )
        self.add_usage(usage)
        route = routing.check_route(route, f.tree)
        self.emit(
            f.tree.id, "waiting",
            detail=f"{len(route.act)} act, {len(route.create)} new, {len(route.delete)} deleted",
        )
        return route

    async def dry_run(self) -> None:
        for f, intent in await self.route_files():
            route = await self.route_file(f, intent)
            for a in route.act:
                self.result.nodes.append(NodeResult(a.node_id, "would-change", 0, "replace", a.intent))
            for c in route.create:
                key = c.key or _plan_key(self.opts.plan, c, f)
                self.result.nodes.append(
                    NodeResult(node_id(f.path, key), "would-change", 0, "create", c.intent)
                )
            for d in route.delete:
                self.result.nodes.append(NodeResult(d, "would-change", 0, "delete", intent))

    async def work(self) -> None:
        acting = await self.route_files()
        # The root's sandbox opens while the files work, off the critical path.
        root_box = asyncio.ensure_future(self.sandbox(self.base.id))
        try:
            outcomes = await _all(self.file_agent(f, intent) for f, intent in acting)
        finally:
            await asyncio.wait([root_box])
        failed = [o for fo in outcomes for o in fo.nodes if o.failed]
        if failed:
            first = failed[0].result
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise ValidationFailed(f"{first.diagnostic}{more}", node=first.id)
        changed = [fo for fo in outcomes if fo.commit is not None]
        if not changed:
            raise ValidationFailed("nothing to change: no node's text changed for this intent")
        root = root_box.result()
        changes = {fo.path: fo.data for fo in changed}
        for path, data in changes.items():
            await self.blocking(root.write, path, data)
        overlay = await self.blocking(
            root.commit, changes, f"astm root {self.run_id}", tuple(fo.commit for fo in changed)
        )
        await self.blocking(runs.set_run_ref, self.repo, self.run_id, overlay)
        tree = self.repo.tree_of(overlay)
        branch, commit = await self.blocking(
            lambda: landing.land(
                self.repo,
                tree=tree,
                base=self.base.id,
                message=self.message(),
                branch=self.opts.branch,
                intent=self.opts.intent,
            )
        )
        self.result.branch, self.result.commit = branch, str(commit)
        self.emit(REPO_ID, "landed", detail=branch)
        if self.opts.base is None:
            if self.repo.head_oid() != self.base.id:
                self.result.notices.append(
                    f"HEAD moved during the run; {branch} is based on {str(self.base.id)[:10]}"
                )
        if self.opts.save_plan is not None:
            from astm import plan as planfile

            edits = [o.edit for fo in changed for o in fo.nodes if o.edit is not None]
            try:
                planfile.save(Plan(intent=self.opts.intent, edits=edits), self.opts.save_plan)
            except OSError as exc:
                self.result.notices.append(f"could not write the plan to {self.opts.save_plan}: {exc.strerror}")

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

    # ---- a file: route, run its children, compose ------------------------------------

    async def file_agent(self, f: FileCtx, intent: str) -> FileOutcome:
        route = await self.route_file(f, intent)
        out = FileOutcome(f.path)
        if route.empty:
            return out
        sandbox = asyncio.ensure_future(self.sandbox(self.base.id))
        try:
            jobs: list[Awaitable[Outcome]] = []
            for seq, a in enumerate(route.act):
                node = f.tree.child(a.node_id)
                assert node is not None  # check_route made sure
                jobs.append(self.leaf(f, node, a.intent or intent, rename=a.rename, seq=seq))
            for seq, c in enumerate(route.create):
                jobs.append(self.create(f, c, seq=1000 + seq))
            out.nodes = list(await _all(jobs))
            for o in out.nodes:
                self.result.nodes.append(o.result)
            for nid in route.delete:
                node = f.tree.child(nid)
                assert node is not None
                patch = f.lang.delete(f.tree, node, f.data)
                res = NodeResult(nid, "changed", 0, "delete", intent)
                out.nodes.append(Outcome(res, patch, None, Delete(op="delete", node=nid)))
                self.result.nodes.append(res)
            if any(o.failed for o in out.nodes):
                return out
            patches = [o.patch for o in out.nodes if o.patch is not None]
            if not patches:
                return out
            self.emit(f.tree.id, "composing")
            composed = compose(f.data, patches)
            diag = f.lang.check_file(composed, f.path)
            if diag is not None:
                raise ValidationFailed(
                    f"the composed file is not valid: {diag.message}", path=f.path, line=diag.line
                )
            self.verify_structure(f, composed, out.nodes)
            box = await sandbox
            await self.blocking(box.write, f.path, composed)
            parents = tuple(o.commit for o in out.nodes if o.commit is not None)
            out.commit = await self.blocking(box.commit, {f.path: composed}, f"astm file {f.path}", parents)
            out.data = composed
            self.emit(f.tree.id, "committed")
            return out
        finally:
            await asyncio.wait([sandbox])

    def verify_structure(self, f: FileCtx, composed: bytes, nodes: list[Outcome]) -> None:
        """Re-parse the composed file: every node kept, created and deleted is where it should be."""
        after = f.lang.parse(f.path, composed)
        ids = {c.id for c in after.children}
        deleted = {o.result.id for o in nodes if o.result.action == "delete"}
        renamed = {o.result.id for o in nodes if isinstance(o.edit, Replace) and o.edit.rename}
        keys = {c.key for c in after.children}
        created = {o.result.id for o in nodes if o.result.action == "create" and o.patch is not None}
        want = {c.id for c in f.tree.children} - deleted - renamed
        missing = sorted((want - ids) | {c for c in created if c not in ids and c.split("::", 1)[-1] not in keys})
        if missing:
            raise ValidationFailed(
                f"after composition the file no longer has {', '.join(missing)}", path=f.path
            )

    # ---- leaves: generate, validate, retry, commit -----------------------------------

    async def leaf(self, f: FileCtx, node: Node, intent: str, *, rename: bool, seq: int) -> Outcome:
        old = f.data[node.start : node.end]

        def place(new: bytes) -> tuple[Patch, int]:
            return Patch(f.path, node.start, node.end, new, node.id, seq), node.start

        res = NodeResult(node.id, "unchanged", 0, "replace", intent)
        outcome = await self.agent(
            f, res, intent=intent, key=node.key, kind=node.kind, text=old, rename=rename,
            place=place, ref=None,
        )
        if outcome.patch is not None and outcome.patch.text == old:
            outcome.result.status = "unchanged"
            outcome.patch = outcome.commit = outcome.edit = None
        elif outcome.patch is not None:
            outcome.edit = Replace(op="replace", node=node.id, text=_plain(outcome.patch.text), rename=rename)
        return outcome

    async def create(self, f: FileCtx, c: Create, *, seq: int) -> Outcome:
        key = c.key or _plan_key(self.opts.plan, c, f)
        after = f.tree.child(c.after) if c.after else None
        before = f.tree.child(c.before) if c.before else None

        def place(new: bytes) -> tuple[Patch, int]:
            patch, off = f.lang.insert(
                f.tree, f.data, new, after=after, before=before, position=c.position,
                owner=node_id(f.path, key), seq=seq,
            )
            return patch, patch.start + off

        res = NodeResult(node_id(f.path, key), "unchanged", 0, "create", c.intent)
        outcome = await self.agent(
            f, res, intent=c.intent, key=key, kind=None, text=b"", rename=False, place=place,
            ref=c.ref,
        )
        if outcome.patch is not None:
            outcome.edit = Insert(
                op="insert", parent=f.tree.id, after=c.after, before=c.before,
                position=c.position if not (c.after or c.before) else None,  # type: ignore[arg-type]
                text=_plain(outcome.patch.text.lstrip(b"\r\n")),
            )
            if outcome.edit.after is None and outcome.edit.before is None and outcome.edit.position is None:
                outcome.edit = outcome.edit.model_copy(update={"position": "end"})
        return outcome

    async def agent(
        self,
        f: FileCtx,
        res: NodeResult,
        *,
        intent: str,
        key: str | None,
        kind: str | None,
        text: bytes,
        rename: bool,
        place: Callable[[bytes], tuple[Patch, int]],
        ref: int | None,
    ) -> Outcome:
        """Generate until the node's new text validates (bounded), then commit it alone."""
        nid = res.id
        async with self.sem:
            sandbox = asyncio.ensure_future(self.sandbox(self.base.id))
            try:
                hint, diag = "", None
                new, patched, patch = b"", b"", None
                for attempt in range(1, self.settings.retries + 2):
                    res.attempts = attempt
                    self.emit(nid, "generating", attempt)
                    req = GenerateRequest(
                        intent=intent, node_id=nid, node_kind=kind or "table", language=f.lang.name,
                        key=key, text=text.decode("utf-8", "replace"), context=f.outline,
                        hint=hint, attempt=attempt, ref=ref,
                    )
                    answer, usage = await self.provider.generate(req)
                    self.add_usage(usage)
                    self.emit(nid, "validating", attempt)
                    new, diag = normalise(answer, eol=f.eol, max_bytes=self.settings.max_answer_bytes)
                    if diag is None:
                        diag = self.check(f, new, place, kind=kind, key=key, rename=rename or ref is not None)
                    if diag is None:
                        patch, start = place(new)
                        patched = compose(f.data, [patch])
                        break
                    hint = diag.hint()
                    if attempt <= self.settings.retries:
                        self.emit(nid, "retry", attempt, hint)
                if diag is not None or patch is None:
                    res.status, res.diagnostic = "failed", str(diag)
                    self.emit(nid, "failed", res.attempts, str(diag))
                    return Outcome(res)
                if patch.text == text:
                    self.emit(nid, "unchanged", res.attempts)
                    return Outcome(res, patch)
                box = await sandbox
                await self.blocking(box.write, f.path, patched)
                commit = await self.blocking(box.commit, {f.path: patched}, f"astm node {nid}\n\n{intent}\n")
                res.status, res.commit = "changed", str(commit)
                self.emit(nid, "committed", res.attempts)
                return Outcome(res, patch, commit)
            finally:
                await asyncio.wait([sandbox])

    def check(
        self,
        f: FileCtx,
        new: bytes,
        place: Callable[[bytes], tuple[Patch, int]],
        *,
        kind: str | None,
        key: str | None,
        rename: bool,
    ) -> Diagnostic | None:
        if kind is None:  # a new node: its kind is read from its text
            found = f.lang.key_of(new)
            kind = found[0] if found else "table"
        try:
            patch, start = place(new)
            patched = compose(f.data, [patch])
        except AstmError as exc:
            return Diagnostic(exc.message, "compose")
        return f.lang.check_node(patched, start, new, kind=kind, key=key, rename=rename, path=f.path)


async def _all(aws: Any) -> list[Any]:
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


def _first_line(data: bytes) -> str:
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()[:120]
    return ""


def _plain(data: bytes) -> str:
    return data.decode("utf-8").replace("\r\n", "\n")


def _plan_files(plan: Plan | None) -> set[str]:
    if plan is None:
        return set()
    return {(e.parent if isinstance(e, Insert) else e.node).split("::", 1)[0] for e in plan.edits}


def _plan_key(plan: Plan | None, c: Create, f: FileCtx) -> str:
    if plan is not None and c.ref is not None:
        edit = plan.edits[c.ref]
        found = f.lang.key_of(edit.text.encode("utf-8")) if isinstance(edit, Insert) else None
        if found:
            return found[1]
    return c.key or "(new)"
