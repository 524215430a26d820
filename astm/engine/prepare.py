"""Before a run: the base commit, the target files read and parsed there, the plan checked.

Pure reads of the repository. Each target file is parsed once (its language's ``parse``:
the validity check, one syntax tree, one node tree) and everything else agents see of it
is derived from that only when the run needs it: a file's context (its skeleton, the
text a model reads about the rest of the file) is made only for a provider that reads
it. A plan names its nodes and its provider reads no context, so a plan run makes no
skeleton of the file at all: an edit in a 4.6 MB module costs one parse of it here.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from astm.agents import routing
from astm.agents.context import FileCtx
from astm.core.lines import eol_of
from astm.core.plan import Insert, Plan
from astm.core.plan import conflicts as plan_conflicts
from astm.errors import PlanConflict, TargetError, UsageError
from astm.lang import REGISTRY, Language, by_name, language_for, language_of, suffixes
from astm.workspace.repo import Repo, check_repo_path

if TYPE_CHECKING:
    import pygit2

    from astm.engine.options import ApplyOptions
    from astm.llm.base import Provider


def prepare(
    repo: Repo, opts: ApplyOptions, *, context: bool = True
) -> tuple[pygit2.Commit, dict[str, FileCtx], list[str]]:
    """Resolve the base commit and parse the target files there (pure reads).

    ``context``: make each file's context for agents (see ``reads_context``); without it
    a file's ``outline`` is empty and its parse is all the work done on it here."""
    repo.check_state()
    base = repo.base_commit(opts.base)
    notices: list[str] = []
    if opts.paths:
        paths = [repo.relpath(p, opts.cwd) for p in opts.paths]
    elif opts.plan is None:
        paths = repo_candidates(repo, base, opts, notices)
    else:
        paths = repo.root_files(base, root_candidate_suffixes())
        named = {e.parent if isinstance(e, Insert) else e.node for e in opts.plan.edits}
        paths += [n.split("::", 1)[0] for n in named if "::" in n or language_of(n)]
        paths = sorted(set(paths))
    if not paths:
        raise UsageError("nothing to work on: no candidate file for this intent; name PATHS")
    named = set(paths) if opts.paths else plan_files(opts.plan)
    files: dict[str, FileCtx] = {}
    for p in paths:
        try:
            f = read_file(repo, base, p, context=context)
        except TargetError as exc:
            if p in named:
                raise
            # A candidate nobody asked for cannot block the run; say why it sat out.
            notices.append(f"skipped {exc}")
            continue
        files[p] = f
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


def read_file(repo: Repo, base: pygit2.Commit, path: str, *, context: bool) -> FileCtx:
    """One target file at the base: parsed once; its context made only if asked for."""
    check_repo_path(path)  # a path outside the repository is that, not an unknown kind
    if language_of(path) is None:
        raise TargetError("astm does not know this kind of file", path=path)
    lang = language_for(path)
    data = repo.read_at(base, path)
    tree = lang.parse(path, data)
    outline = context_of(path, data, lang) if context else ""
    return FileCtx(path, data, tree, lang, eol_of(data), outline)


def reads_context(provider: Provider) -> bool:
    """Whether ``provider`` reads the files' context: a model does; a plan answers each node
    it names by id and reads none (``RunContext.plan_mode`` goes by the same name)."""
    return provider.name != "plan"


def context_of(path: str, data: bytes, lang: Language) -> str:
    """What agents see of the rest of a file (the language decides: a skeleton, an outline)."""
    return lang.context(path, data)


def repo_candidates(repo: Repo, base: pygit2.Commit, opts: ApplyOptions, notices: list[str]) -> list[str]:
    """A repository-wide intent: the files worth routing over, from the index.

    The index (``astm index``, under .git/astm/) ranks files by the intent's words in node
    names, signatures and paths, re-parsing only blobs it has not seen. A dry run creates
    nothing, so it ranks by reading the files instead; so does a run whose index fails.
    """
    from astm.agents import candidates

    roots = repo.root_files(base, root_candidate_suffixes())
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


@functools.cache
def root_candidate_suffixes() -> tuple[str, ...]:
    """Suffixes of the files at the repository's root that every run considers: those of
    the languages that configure a project (``pyproject.toml``), read from the registry."""
    return tuple(s for name, sfx, _ in REGISTRY if configures(by_name(name)) for s in sfx)


def configures(lang: Language) -> bool:
    """Whether files of ``lang`` configure the project, so the root's are always candidates.

    The language says so with a ``configures`` attribute; a language without one (until
    astm/lang gives every language that attribute) configures the project when a change
    to it runs no tests: TOML, not Python."""
    return bool(getattr(lang, "configures", not lang.tested))


def plan_files(plan: Plan | None) -> set[str]:
    """The files a plan's edits name."""
    if plan is None:
        return set()
    return {(e.parent if isinstance(e, Insert) else e.node).split("::", 1)[0] for e in plan.edits}
