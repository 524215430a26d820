"""``astm pick REV [--onto REV]``: a cherry-pick that survives line shifts.

The node plan of REV (its parent to REV, ``astm.derive``) with each edited node's base
digest, replayed through the engine onto another base: one commit on a new branch, and a
conflict reported per node (a node REV edits that also changed upstream), never per hunk.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from astm import config as cfg
from astm import errors, render


@click.command("pick")
@click.argument("rev")
@click.option("--onto", help="Commit to replay onto (default: HEAD).")
@click.option("--branch", help="Name of the branch to create (default: astm/pick-<rev>).")
@click.option("--save-plan", type=click.Path(dir_okay=False), help="Write the derived plan here too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the result.")
def command(rev: str, onto: str | None, branch: str | None, save_plan: str | None, as_json: bool) -> int:
    """Replay the change of commit REV onto --onto (default HEAD) as one commit on a new
    branch. Your checkout, index and branches are never changed."""
    from astm.core.derive import Outside, base_digests, derive
    from astm.core.plan import Delete, Plan, Replace
    from astm.engine import apply as engine
    from astm.lang import language_for, language_of
    from astm.llm.plan_provider import PlanProvider
    from astm.workspace.repo import Repo

    cwd = Path.cwd()
    repo = Repo.open(cwd)
    settings = cfg.load(repo.workdir, {})
    commit = repo.base_commit(rev)
    if len(commit.parents) != 1:
        raise errors.UsageError(f"{rev} has {len(commit.parents)} parents; astm pick takes a commit with one")
    parent = commit.parents[0]
    changes = repo.changed_files(parent, commit)
    other = [p for s, p in changes if language_of(p) and s != "M"]
    if other:
        raise errors.ApplyError(f"{rev} adds or deletes {', '.join(other[:3])}; astm pick replays edits inside existing files")
    edits = []
    for _, path in changes:
        if language_of(path) is None:
            continue
        lang = language_for(path)
        old = repo.read_at(parent, path)
        try:
            found = derive(path, old, repo.read_at(commit, path), lang.parse)
        except Outside as exc:
            raise errors.ApplyError(f"{exc.detail}; astm cannot replay it", path=path) from None
        digests = base_digests(found, lang.parse(path, old), old)
        edits += [
            e.model_copy(update={"base": digests.get(e.node)}) if isinstance(e, (Replace, Delete)) else e
            for e in found
        ]
    if not edits:
        raise errors.ApplyError(f"{rev} changes no file astm edits (Python, TOML)")
    subject = commit.message.strip().splitlines()[0] if commit.message.strip() else f"pick {rev}"
    plan = Plan(intent=subject, edits=edits)
    if save_plan:
        from astm.core import plan as planfile

        planfile.save(plan, save_plan)
    opts = engine.ApplyOptions(
        intent=subject, cwd=cwd, plan=plan, base=onto,
        branch=branch or f"astm/pick-{str(commit.id)[:10]}",
        paths=tuple(sorted({(e.parent if hasattr(e, "parent") else e.node).split("::", 1)[0] for e in edits})),
    )
    progress = render.Progress(quiet=as_json)
    with progress:
        result = engine.apply(opts, settings, PlanProvider(plan), progress)
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return errors.EXIT_OK
    render.summary(result, sys.stdout, review=f"git diff {onto or 'HEAD'} {result.branch}" if result.branch else None)
    return errors.EXIT_OK
