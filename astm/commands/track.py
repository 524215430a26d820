"""``astm track``: plan a track of tickets, list and show tracks, run one (``--step``).

    astm track INTENT [--plan FILE]     plan (the model, or a track plan file) and store
    astm track list                     every track of this repository
    astm track show ID [--json]         one track, its tickets and their states
    astm track run ID [--step]          run the ready tickets; land one commit per ticket
    astm track --demo [--dir DIR]       the whole story offline on a fresh repository
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import click

from astm import errors

VERBS = ("list", "show", "run")
MARK = {"locked": "·", "ready": "○", "running": "▶", "done": "✓", "failed": "✗", "blocked": "■"}


@click.command("track")
@click.argument("words", nargs=-1)
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), help="A track plan file: tickets (and answers) with no model.")
@click.option("--step", is_flag=True, help="run: review every ticket before it lands.")
@click.option("--jobs", "-j", type=int, help="Tickets (and nodes) worked on at once.")
@click.option("--model", help="Model name (overrides ASTM_MODEL and [tool.astm]).")
@click.option("--base-url", help="OpenAI-compatible endpoint (overrides ASTM_BASE_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the track as JSON.")
@click.option("--demo", is_flag=True, help="Plan and run fixtures/track-demo on a fresh repository, offline.")
@click.option("--dir", "target", type=click.Path(file_okay=False), help="--demo: where to build the repository.")
def command(
    words: tuple[str, ...],
    plan_file: str | None,
    step: bool,
    jobs: int | None,
    model: str | None,
    base_url: str | None,
    as_json: bool,
    demo: bool,
    target: str | None,
) -> int:
    """Turn INTENT into a track of tickets (a small DAG, each ticket one engine run), or
    list, show or run tracks. `astm track run ID` lands one branch with a commit per ticket."""
    flags = {"jobs": jobs, "model": model, "base_url": base_url}
    if demo:
        return run_demo(Path(target) if target else None)
    if not words:
        if plan_file:
            return plan_track("", plan_file, flags, as_json)
        raise errors.UsageError("astm track: give an INTENT, or list, show ID, run ID (see --help)")
    verb, rest = words[0], words[1:]
    if verb == "list" and not rest:
        return list_tracks()
    if verb in ("show", "run"):
        if len(rest) != 1:
            raise errors.UsageError(f"astm track {verb} takes one track ID")
        if verb == "show":
            return show_track(rest[0], as_json)
        return run_track(rest[0], flags, step=step, as_json=as_json)
    if len(words) > 1:
        raise errors.UsageError("astm track: quote the INTENT as one argument")
    return plan_track(verb, plan_file, flags, as_json)


def _open(flags: dict[str, object]):  # type: ignore[no-untyped-def]
    from astm import config as cfg
    from astm.workspace.repo import Repo

    repo = Repo.open(Path.cwd())
    return repo, cfg.load(repo.workdir, flags)


def plan_track(intent: str, plan_file: str | None, flags: dict[str, object], as_json: bool) -> int:
    from astm.conductor import planner, store
    from astm.llm import make_provider
    from astm.workspace import oplog

    repo, settings = _open(flags)
    repo.check_state()
    base = str(repo.base_commit().id)
    files = set(repo.list_files(repo.base_commit().id))
    if plan_file:
        path = Path(plan_file)
        plan = planner.load_plan(path)
        try:
            track = planner.build(plan, intent=intent or plan.intent, base=base, files=files)
        except errors.AstmError as exc:
            raise planner.with_error(exc, str(path)) from None
        for t, given in zip(track.tickets, plan.tickets, strict=True):
            t.plan = given.plan
    else:
        track, _ = planner.from_model(intent, make_provider(settings, None), base=base, files=files)
    store.save(repo, track)
    oplog.record(repo, "track", track=track.id, what=f"planned track {track.id}: {track.title[:60]}")
    if as_json:
        print(store.dump(track))
    else:
        render(track, sys.stdout)
        print(f"run it: astm track run {track.id}   (--step to review each ticket)")
    return errors.EXIT_OK


def list_tracks() -> int:
    from astm.conductor import store
    from astm.conductor.resume import shown_status

    repo, _ = _open({})
    tracks = store.load_all(repo)
    if not tracks:
        print("no tracks yet: astm track INTENT")
    for t in tracks:
        done = sum(1 for k in t.tickets if k.status == "done")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(t.created))
        where = f"  {t.branch}" if t.branch else ""
        print(f"{t.id:<30} {shown_status(t):<11} {done}/{len(t.tickets)} done  {when}  {t.title}{where}")
    return errors.EXIT_OK


def show_track(given: str, as_json: bool) -> int:
    from astm.conductor import store

    repo, _ = _open({})
    track = store.load(repo, given)
    if as_json:
        print(store.dump(track))
    else:
        render(track, sys.stdout)
    return errors.EXIT_OK


def render(track, out: TextIO) -> None:  # type: ignore[no-untyped-def]
    from astm.conductor import dag

    print(f"track {track.id}: {track.title} [{track.status}]", file=out)
    if track.description:
        print(f"  {track.description}", file=out)
    for t in dag.topo_order(track.tickets):
        deps = f" after {', '.join(t.depends_on)}" if t.depends_on else ""
        planned = " (planned answers)" if t.plan is not None else ""
        print(f"  {MARK[t.status]} {t.id:<18} {t.status:<8} {t.archetype:<16}{deps}{planned}", file=out)
        print(f"      {', '.join(t.targets)}: {' '.join(t.prompt.split())[:100]}", file=out)
        if t.blocked_reason:
            print(f"      blocked: {t.blocked_reason}", file=out)
        last = next((a for a in reversed(t.history) if a.outcome == "failed"), None)
        if t.status == "failed" and last is not None:
            print(f"      failed: {last.raw[:200]}", file=out)
            print(f"      hint: {last.hint}", file=out)
    if track.branch:
        print(f"landed: {track.branch} ({(track.commit or '')[:10]})", file=out)


def run_track(given: str, flags: dict[str, object], *, step: bool, as_json: bool) -> int:
    from astm.conductor import store

    result = _run(given, flags, step=step)
    track = result.track
    if as_json:
        print(store.dump(track))
        return errors.EXIT_OK
    n = len(track.tickets)
    print(f"landed: {result.branch} ({n} commit{'s' if n != 1 else ''}, track {track.id})")
    print(f"review: git log -p --reverse {(track.base or '')[:10]}..{result.branch}")
    return errors.EXIT_OK


def _run(given: str, flags: dict[str, object], *, step: bool):  # type: ignore[no-untyped-def]
    from astm.conductor import store
    from astm.conductor.clutch import Clutch
    from astm.conductor.config import load as load_track_settings
    from astm.conductor.run import Runner
    from astm.workspace import depot

    repo, settings = _open(flags)
    track = store.load(repo, given)
    track_settings = load_track_settings(repo.workdir)
    runner = Runner(
        repo, track, settings, _provider_for(settings),
        track_settings=track_settings, step=step, clutch=Clutch.standard(),
        hint_provider=_hint_provider(settings, track_settings.hint_model),
        on_event=_printer(sys.stderr), depot=depot.at_exit(),
    )
    return runner.run()


def _provider_for(settings):  # type: ignore[no-untyped-def]
    from astm.llm import make_provider

    return lambda plan: make_provider(settings, plan)


def _hint_provider(settings, hint_model: str | None):  # type: ignore[no-untyped-def]
    from astm.llm import make_provider

    if not settings.model:
        return lambda: None
    cheap = settings.model_copy(update={"router_model": hint_model or settings.router_model})
    return lambda: make_provider(cheap, None)


def _printer(err: TextIO):  # type: ignore[no-untyped-def]
    def show(e) -> None:  # type: ignore[no-untyped-def]
        if " " in e.node:  # a node event inside a ticket's engine run: too fine for here
            return
        detail = f"  {e.detail}" if e.detail else ""
        err.write(f"  {e.state:<9} {e.node}{detail}\n")
        err.flush()

    return show


def demo_dir() -> Path:
    here = Path(__file__).resolve().parents[2] / "fixtures" / "track-demo"
    if not (here / "track.json").is_file():
        raise errors.UsageError(f"the track demo fixture is missing ({here}); run from a source checkout")
    return here


def run_demo(target: Path | None) -> int:
    """fixtures/track-demo: its files in one commit, its track plan planned and run."""
    from astm.workspace import scratch

    src = demo_dir()
    root = target or Path(tempfile.mkdtemp(prefix="astm-track-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise errors.UsageError(f"{root}: not empty; give an empty or new --dir")
    files = {p.relative_to(src / "repo").as_posix(): p.read_bytes()
             for p in sorted((src / "repo").rglob("*")) if p.is_file()}
    scratch.init_repo(root, files)
    print(f"demo repository: {root}")
    cwd = Path.cwd()
    os.chdir(root)  # the commands below work on the repository of the current directory
    try:
        plan_track("", str(src / "track.json"), {}, False)
        from astm.conductor import store
        from astm.workspace import chain
        from astm.workspace.repo import Repo

        repo = Repo.open(root)
        result = _run(store.ids_of(repo)[0], {}, step=False)
    finally:
        os.chdir(cwd)
    print(f"landed: {result.branch}, one commit per ticket:")
    print(chain.log_text(repo, result.track.base or "", result.commit or ""))
    print(f"review: cd {root} && git log -p --reverse main..{result.branch}")
    return errors.EXIT_OK
