"""The generating part of a build, as one engine run: modules in dependency order
(critical path first, ``jobs`` model calls at once), a failed module failing its
dependents by name, then one landing commit (or, with ``--write``, the files)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from astm.config import Settings
from astm.core.result import EventSink
from astm.errors import AstmError, ModelError, ValidationFailed
from astm.llm.base import Provider
from astm.llm.warm import WarmProvider
from astm.specs import plan as build_plan
from astm.specs.engine_bridge import BuildRun, commit_detached, landing, run_build, runs, settle
from astm.specs.generate import Built, ModuleBuilder, Shared
from astm.specs.header import split
from astm.specs.stale import ModuleState
from astm.specs.warm_import import WarmImporter

if TYPE_CHECKING:
    from astm.specs.result import BuildOptions, BuildResult, Prepared


def _typecheck(settings: Settings, prep: Prepared) -> bool:
    """Whether generated modules are type-checked: ``[tool.astm.validate] pyright``."""
    from astm.validate import pyright

    mode = settings.validate_.pyright
    if mode != "auto":
        return mode == "on"
    has_json = prep.source.read("pyrightconfig.json") is not None
    return pyright.configured(prep.source.read("pyproject.toml"), has_json)


class _DependencyFailed(Exception):
    def __init__(self, module: str) -> None:
        super().__init__(module)
        self.module = module


def execute(prep: Prepared, stale: list[ModuleState], refs: list[str], opts: BuildOptions,
            settings: Settings, provider: Provider, on_event: EventSink,
            result: BuildResult) -> BuildResult:
    from astm.specs.write import write_files
    from astm.validate.tests import python_of

    conf = prep.conf
    if conf.jobs:
        settings = settings.model_copy(update={"jobs": conf.jobs})
    roots = tuple(dict.fromkeys(conf.source_roots + conf.test_roots))
    shared = Shared(
        graph=prep.graph, conf=conf, source=prep.source, prompts=prep.prompts,
        by_module=prep.discovery.by_module, refs=refs,
        files=[p for p in prep.source.files(roots) if p.endswith(".py")],
        write_mode=opts.write, python=python_of(prep.repo.workdir),
        typecheck=_typecheck(settings, prep),
    )
    importer = shared.importer = WarmImporter(shared.python)
    # Existing generated code of every module is context for its dependents.
    for m in prep.discovery.modules:
        data = prep.source.read(m.generated_path)
        if data is not None:
            shared.known[m.module] = split(data)[1]
    failures: dict[str, str] = {}
    built: dict[str, Built] = {}
    names = [s.name for s in stale]
    intent = f"build {names[0]}" + (f" and {len(names) - 1} more" if len(names) > 1 else "")

    async def body(run: BuildRun) -> None:
        importer.start()  # inside the run: its Ctrl-C and clean-up cover it
        depth = prep.graph.depth()
        if isinstance(provider, WarmProvider):  # still importing openai, on its thread
            client = asyncio.ensure_future(run.blocking(provider.resolve))
            # Its error reaches every spec that awaits it; retrieved here too, for a build
            # that ends before any spec does (Ctrl-C), so that asyncio prints nothing.
            client.add_done_callback(lambda f: f.cancelled() or f.exception())
            shared.client = client
        tasks: dict[str, asyncio.Task[Built]] = {}
        drafts: dict[str, asyncio.Future[None]] = {}

        async def failed_dep(deps: list[str], until: asyncio.Future[Any] | None = None) -> None:
            """Wait until every task of ``deps`` ended (or ``until`` did); a dependency that
            failed raises ``_DependencyFailed`` naming it."""
            pending = {tasks[d] for d in deps if not tasks[d].done()}
            while True:
                for d in deps:
                    t = tasks[d]
                    if t.done() and (t.cancelled() or t.exception() is not None):
                        raise _DependencyFailed(d)
                if until is not None and until.done() or not pending:
                    return
                _, pending = await asyncio.wait(
                    pending | ({until} if until is not None else set()),
                    return_when=asyncio.FIRST_COMPLETED)
                pending -= {until}

        async def drafted(dep: str) -> None:
            """The dependency's first composed draft is known (its generated code is the
            context its dependents' prompts show), or it failed before one."""
            await failed_dep([dep], drafts[dep])

        async def one(st: ModuleState) -> Built:
            deps = sorted(d for d in prep.graph.edges.get(st.name, ()) if d in tasks)

            def on_draft(body: bytes) -> None:
                shared.known[st.name] = body
                if not drafts[st.name].done():
                    drafts[st.name].set_result(None)

            builder = ModuleBuilder(run, shared, st, drafted=on_draft,
                                    ready=lambda: failed_dep(deps))
            work: asyncio.Future[Built] | None = None
            try:
                # Generation starts once the dependencies' code is drafted, not validated:
                # their validation runs under this module's model calls. A dependency
                # that fails later still fails this module (the guard below cancels its
                # work at once), and this module validates only against their final code.
                for dep in deps:
                    await drafted(dep)
                work = asyncio.ensure_future(builder.build())
                await failed_dep(deps, work)
                out = await work
            except BaseException:
                if work is not None:
                    if not work.done():
                        work.cancel()
                    await settle(work)  # its own error, if any, gives way to this one
                raise
            finally:
                if builder.box is not None:  # opened as its generation started (build)
                    await settle(builder.box)
            shared.texts[st.name] = shared.known[st.name] = split(out.data)[1]
            return out

        loop = asyncio.get_running_loop()
        for st in stale:
            drafts[st.name] = loop.create_future()
        for st in sorted(stale, key=lambda s: (-depth.get(s.name, 0), s.name)):
            tasks[st.name] = asyncio.ensure_future(one(st))
        try:
            await asyncio.wait(tasks.values())
        except BaseException:
            # Ctrl-C (the run is cancelled): stop every module now, before the engine
            # removes the sandboxes they work in.
            for t in tasks.values():
                t.cancel()
            await asyncio.wait(tasks.values())
            raise
        # Every import check is done: the warm interpreter exits while the build ends.
        importer.stop()
        for name, task in tasks.items():
            if task.cancelled():
                raise asyncio.CancelledError
            exc = task.exception()
            if isinstance(exc, _DependencyFailed):
                failures[name] = f"not built: its dependency {exc.module} failed"
            elif isinstance(exc, AstmError):
                failures[name] = str(exc)
            elif exc is not None:
                raise exc
            else:
                built[name] = task.result()
        model = next((t.exception() for t in tasks.values() if not t.cancelled()
                      and isinstance(t.exception(), ModelError)), None)
        if model is not None:
            raise model  # the model's trouble, not the specs': exit 3
        if failures:
            first = next(n for n in sorted(failures, key=lambda n: -depth.get(n, 0))
                         if not failures[n].startswith("not built"))
            others = [n for n in failures if n != first]
            more = f" (also failed: {', '.join(sorted(others))})" if others else ""
            raise ValidationFailed(f"{failures[first]}{more}")
        files = {b.state.module.generated_path: b.data for b in built.values()}
        result.files = files
        result.built = sorted(built)
        if opts.write:
            return
        # The root's overlay commit, made from the bytes on no branch (nothing validates
        # at the root): the run's ref holds it at once, and it holds the modules' commits.
        commits = tuple(b.commit for b in built.values() if b.commit is not None)
        overlay = await run.blocking(commit_detached, run.repo, run.base.id, files,
                                     f"astm build root {run.run_id}", commits)
        await run.blocking(runs.set_run_ref, run.repo, run.run_id, overlay)
        tree = run.repo.tree_of(overlay)
        lines = ["Modules generated:", *(f"- {b.state.module.generated_path} ({b.state.name})"
                                         for b in sorted(built.values(), key=lambda b: b.state.name))]
        branch, commit = await run.blocking(lambda: landing.land(
            run.repo, tree=tree, base=run.base.id, message=run.message_for(lines), branch=None,
            intent=intent))
        result.branch, result.commit = branch, str(commit)
        run.emit(".", "landed", detail=branch)

    try:
        _, applied = run_build(prep.repo, settings, provider, on_event, prep.base,
                                 intent, opts.cwd, body)
    except AstmError as exc:
        result.error = str(exc)
        result.calls = shared.calls
        for name, why in failures.items():
            result.notices.append(f"{name}: {why}")
        setattr(exc, "result", result)  # noqa: B010 - the CLI reads it back with getattr
        raise
    finally:
        importer.close()
    result.run, result.usage, result.calls = applied.run, applied.usage, shared.calls
    if opts.write:
        states = {s.module.generated_path: s for s in stale}
        result.written = write_files(prep.repo, states, result.files, conf.generated)
    if opts.save_plan is not None:
        plan = build_plan.BuildPlan(answers=dict(sorted(shared.answers.items())))
        try:
            build_plan.save(plan, opts.save_plan)
        except OSError as exc:
            result.notices.append(f"could not write the plan to {opts.save_plan}: {exc.strerror}")
    return result
