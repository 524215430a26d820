"""``astm build``: find the specs, decide what is stale, generate it, land or write it.

By default the build reads the specs at HEAD and lands the generated files as one commit
on a new branch ``astm/build-...`` whose only parent is HEAD (the user's checkout, index
and branches are untouched), like ``astm apply``. ``--write`` reads the working tree and
writes the generated files into it instead: atomically, only under the generated
folders, never over a generated file edited by hand. A build with nothing stale makes no
model call, opens no sandbox and writes nothing.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from astm.config import Settings
from astm.core.result import EventSink, ignore
from astm.errors import ApplyError, PlanError, UsageError
from astm.llm.base import Provider
from astm.specs import config as build_config
from astm.specs import prompting
from astm.specs.deps import build_graph, check_cycles
from astm.specs.discover import Discovery, Problem, discover
from astm.specs.plan import SpecPlanProvider
from astm.specs.result import BuildOptions, BuildResult, Prepared
from astm.specs.source import CommitSource, Source, WorkSource
from astm.specs.stale import assess, fingerprint
from astm.workspace.repo import Repo

if TYPE_CHECKING:

    from astm.specs.discover import SpecModule


class SpecProblems(UsageError):
    """Specs that cannot be built (each named); the first is the message."""

    def __init__(self, problems: list[Problem]) -> None:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")
        self.problems = problems

    def __str__(self) -> str:
        return self.message


def prepare(opts: BuildOptions, settings: Settings) -> Prepared:
    """Everything up to staleness; pure reads, no model, no sandbox."""
    repo = Repo.open(opts.cwd)
    repo.check_state()
    base = repo.base_commit()
    source: Source = WorkSource(repo.workdir) if opts.write else CommitSource(repo, base.id)
    conf = build_config.parse(source.read("pyproject.toml"), source.is_dir)
    found = discover(source, conf)
    if found.problems:
        raise SpecProblems(found.problems)
    graph = build_graph(found, source)
    check_cycles(graph)
    model = "plan" if opts.plan is not None else (conf.model or settings.model)
    prompts = {r: prompting.load(r, conf, source) for r in ("impl", "test")}
    scope = [m for m in found.modules if m.role in opts.roles]
    forced: dict[str, set[str]] = {}
    if opts.targets:
        scope, forced = _targets(opts.targets, scope, found)
    states = []
    for m in sorted(scope, key=lambda m: m.module):
        fp = fingerprint(prompts[m.role].version, model)
        st = assess(m, graph, source, fp, force=opts.force)
        for ref in sorted(forced.get(m.module, ())):
            if ref not in st.regenerate:
                st.reasons.append(f"--target {ref}")
                st.regenerate.add(ref)
        states.append(st)
    return Prepared(repo, base, source, conf, found, graph, prompts, states)


def _targets(targets: tuple[str, ...], scope: list[SpecModule], found: Discovery
             ) -> tuple[list[SpecModule], dict[str, set[str]]]:
    by_name = {m.module: m for m in scope}
    keep: dict[str, SpecModule] = {}
    forced: dict[str, set[str]] = {}
    for t in targets:
        module, _, qual = t.partition(":")
        m = by_name.get(module)
        if m is None:
            close = difflib.get_close_matches(module, list(by_name), n=3)
            hint = f"; closest: {', '.join(close)}" if close else ""
            raise UsageError(f"--target {t}: no spec module {module}{hint}")
        if qual and m.spec(qual) is None:
            names = ", ".join(s.name for s in m.specs)
            raise UsageError(f"--target {t}: {module} has no spec {qual} (its specs: {names})")
        keep[module] = m
        if qual:
            forced.setdefault(module, set()).add(f"{module}:{qual}")
    return list(keep.values()), forced


def build(
    opts: BuildOptions, settings: Settings, provider: Provider | None = None,
    on_event: EventSink = ignore,
) -> BuildResult:
    """Assess, generate what is stale, land it (or write it). Raises AstmError; a failed
    build's partial result is attached as ``.result``."""
    prep = prepare(opts, settings)
    result = BuildResult(base=str(prep.base.id), modules=prep.states, conf=prep.conf)
    stale = [s for s in prep.states if s.stale]
    for st in prep.states:
        if st.edited and not st.stale:
            result.notices.append(f"{st.module.generated_path} was edited by hand; it is left "
                                  "alone until its specs change")
    if not opts.write:
        dirty = prep.repo.dirty(prep.base, sorted({s.module.path for s in prep.states}))
        if dirty:
            result.notices.append(f"uncommitted changes in {', '.join(dirty)} are left alone; the "
                                  f"build reads HEAD {result.base[:10]} (or use --write)")
    if opts.check_only or not stale:
        return result
    edited = [s for s in stale if s.edited and not opts.force]
    if edited:
        paths = ", ".join(s.module.generated_path for s in edited)
        raise ApplyError(f"{paths}: edited by hand since astm generated it, so it is not "
                         "overwritten; move the change into its spec (or delete the file), or "
                         "pass --force to regenerate it")
    refs = [r for s in stale for r in sorted(s.regenerate)]
    if provider is None:
        provider = _provider(opts, settings, prep.conf, refs)
    from astm.specs.run import execute

    return execute(prep, stale, refs, opts, settings, provider, on_event, result)


def _provider(opts: BuildOptions, settings: Settings, conf: build_config.BuildConfig,
              refs: list[str]) -> Provider:
    if opts.plan is not None:
        missing = [r for r in refs if r not in opts.plan.answers]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise PlanError(f"the build plan has no answer for {missing[0]}{more}")
        return SpecPlanProvider(opts.plan, refs, latency=opts.latency)
    from astm.llm import make_provider
    from astm.llm.warm import WarmProvider

    if conf.model:
        settings = settings.model_copy(update={"model": conf.model})
    if not settings.model:
        return make_provider(settings, None)  # raises the usage error, before any work
    # The model client (``import openai``, about a second under load) is built on a thread
    # while the build opens its sandboxes and renders the first prompts.
    return WarmProvider(lambda: make_provider(settings, None))  # type: ignore[return-value]
