"""One ``astm apply`` run: route down, generate and validate at the leaves, compose up, land.

The engine returns an ``ApplyResult`` or raises an ``AstmError``; it never prints. This
module is the run's entry point and the repository node's decision (which files act);
``prepare`` reads and parses the target files, ``run`` owns the lifecycle (record,
landing, cleanup), the agents (``astm.agents``) do the rest.
"""

from __future__ import annotations

import asyncio

from astm.agents import limits, named, router, routing
from astm.agents.context import FileCtx, Outcome, RunContext, gather
from astm.config import Settings
from astm.core.node import Node
from astm.core.result import ApplyResult, EventSink, ignore
from astm.engine.options import ApplyOptions
from astm.engine.prepare import prepare, reads_context
from astm.engine.run import REPO_ID, Produce, Run
from astm.errors import BranchExistsError, UsageError
from astm.llm.base import ChildInfo, Provider, Route, RouteRequest
from astm.workspace import landing
from astm.workspace.repo import Repo

__all__ = ["REPO_ID", "ApplyOptions", "Produce", "Run", "apply", "dry_run", "prepare", "produce", "route_files"]


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
    base, files, notices = prepare(repo, opts, context=reads_context(provider))
    run = Run(repo, opts, settings, provider, on_event, base)
    run.result.notices.extend(notices)
    work = dry_run if opts.dry_run else produce
    return asyncio.run(run.main(lambda ctx: work(ctx, files, opts.intent)))


async def route_files(ctx: RunContext, files: dict[str, FileCtx], intent: str) -> list[tuple[FileCtx, str]]:
    """The repository node's decision: which files act, with what intent."""
    targets = list(files.values())
    repo_node = Node(REPO_ID, "repo", "", 0, 0, children=tuple(f.tree for f in targets))
    data = {f.path: f.data for f in targets}
    named_ok = ctx.provider.name != "plan" and ctx.settings.named_routes
    if ctx.provider.name != "plan":  # a plan says every edit it wants, imports too
        ctx.importable.update(importable(targets))
        ctx.sources.update(data)
    if named_ok and (decided := named.decide(intent, repo_node, data)):
        # The intent names its targets: the route down to them is its own (10.3).
        ctx.decided.update(decided)
        ctx.defined.update(named.defined(repo_node, decided))
        ctx.importable.clear()  # the names it creates count, and may make a name ambiguous
        ctx.importable.update(importable(targets, decided))
        acting = decided[named.REPO].act
        ctx.emit(REPO_ID, "waiting", detail=f"{len(acting)} file(s) named in the intent")
        ctx.result.notices.append(f"routed by the names in the intent, not by the model: {named.summary(decided)}")
        limits.charge(ctx, REPO_ID, len(acting), what="acting files")
        return [(files[a.node_id], a.intent or intent) for a in acting]
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


def importable(files: list[FileCtx], decided: dict[str, Route] | None = None) -> dict[str, str]:
    """Each name exactly one candidate file defines at its top level (or a decided route
    creates there) -> that file: a use of it in another file gets its import."""
    where: dict[str, set[str]] = {}
    for f in files:
        names = list(f.lang.importable(f.tree))
        if not f.lang.config and decided and f.path in decided:
            names += [c.key for c in decided[f.path].create]
        for name in names:
            where.setdefault(name, set()).add(f.path)
    return {name: next(iter(paths)) for name, paths in where.items() if len(paths) == 1}


def _summary(outline: str) -> str:
    """One line for a file: its top-level names."""
    names = [ln.strip() for ln in outline.splitlines() if ln and not ln.startswith((" ", "\t"))]
    text = "; ".join(names)
    return text[:200] + ("…" if len(text) > 200 else "")


def _clip(text: str, lines: int) -> str:
    rows = text.splitlines()
    return "\n".join(rows[:lines] + ([f"… ({len(rows) - lines} more lines)"] if len(rows) > lines else []))
