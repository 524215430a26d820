"""``astm apply INTENT [PATHS]...``: one validated commit on a new branch."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from astm import config as cfg
from astm import errors, render
from astm.agents.review import Decision, Review, Reviewer
from astm.core.result import ApplyResult


@click.command("apply")
@click.argument("intent")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), help="A plan file answers instead of the model.")
@click.option("--branch", help="Name of the branch to create (default: astm/<slug of the intent>).")
@click.option("--base", help="Commit to start from (default: HEAD).")
@click.option("--jobs", "-j", type=int, help="Nodes validated at once (CPU-bound work).")
@click.option("--routing", type=click.Choice(["structured", "broadcast"]), help="How parents pick acting children.")
@click.option("--retries", type=int, help="Retries of a node whose answer fails validation.")
@click.option("--model", help="Model name (overrides ASTM_MODEL and [tool.astm]).")
@click.option("--base-url", help="OpenAI-compatible endpoint (overrides ASTM_BASE_URL).")
@click.option("--model-jobs", type=int, help="Model requests in flight at once (default: 1 local, 8 remote).")
@click.option("--timeout", type=float, help="Seconds one model request may take (default: 600 local, 60 remote).")
@click.option(
    "--json-mode",
    type=click.Choice(["auto", "json_schema", "json_object", "off"]),
    help="Structured answers: auto steps down json_schema > json_object > off; the others force one.",
)
@click.option("--max-tokens", type=int, help="Cap on the tokens of one model answer.")
@click.option("--temperature", type=float, help="Sampling temperature (default 0).")
@click.option("--dry-run", is_flag=True, help="Route only: print which nodes would act; create nothing.")
@click.option("--save-plan", type=click.Path(dir_okay=False), help="Write the plan of what this run did.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the result.")
@click.option(
    "--step", is_flag=True,
    help="Pause before each node's change is composed: approve, edit, reject with a reason, or quit.",
)
def command(
    intent: str,
    paths: tuple[str, ...],
    plan_file: str | None,
    branch: str | None,
    base: str | None,
    jobs: int | None,
    routing: str | None,
    retries: int | None,
    model: str | None,
    base_url: str | None,
    model_jobs: int | None,
    timeout: float | None,
    json_mode: str | None,
    max_tokens: int | None,
    temperature: float | None,
    dry_run: bool,
    save_plan: str | None,
    as_json: bool,
    step: bool,
) -> int:
    """Turn INTENT into one commit on a new branch, touching only PATHS (default: the
    files the repository's index ranks for the intent, the root TOML files among them).
    Your checkout, index and branches are never changed."""
    if plan_file is None:  # the model client's import (~0.6 s, more under load) starts now
        from astm.llm.warm import preload_client

        preload_client()
    from astm.core import plan as planfile
    from astm.engine import apply as engine
    from astm.llm import make_provider, spent
    from astm.llm.base import Provider
    from astm.llm.warm import WarmProvider
    from astm.workspace.paths import safe_output_path
    from astm.workspace.repo import Repo

    cwd = Path.cwd()
    repo = Repo.open(cwd)
    if save_plan:  # refused before any work: never into .git, never through a link
        save_plan = str(safe_output_path(repo, save_plan))
    flags = {
        "jobs": jobs, "routing": routing, "retries": retries, "model": model, "base_url": base_url,
        "model_jobs": model_jobs, "timeout": timeout, "json_mode": json_mode,
        "max_tokens": max_tokens, "temperature": temperature,
    }
    settings = cfg.load(repo.workdir, flags)
    plan = planfile.load(plan_file) if plan_file else None
    progress = render.Progress(quiet=as_json)
    reviewer: Reviewer | None = None
    if step and not dry_run:
        from astm.conductor.clutch import Clutch

        clutch = Clutch.standard()
        clutch.check()  # refused before any work when no answer can come

        def pause(r: Review) -> Decision:
            with progress.paused():  # the live display must not draw over the prompt
                return clutch.review(r, lambda _text: None)  # the engine re-validates an edit

        reviewer = pause

    def build() -> Provider:
        return make_provider(
            settings, plan, state=repo.common / "astm", notify=render.model_notice(progress)
        )

    # The model client (``import openai``) is built while the engine opens and parses.
    provider: Provider = build() if plan is not None or not settings.model else WarmProvider(build)  # type: ignore[assignment]
    hinter = None  # tier-4 hints: hint_model, else router_model; none: the deterministic hint
    cheap = settings.hint_model or settings.router_model
    if plan is None and cheap:
        hinter = make_provider(settings.model_copy(update={"router_model": cheap}), None, state=repo.common / "astm")
    opts = engine.ApplyOptions(
        intent=intent,
        cwd=cwd,
        paths=paths,
        plan=plan,
        branch=branch,
        base=base,
        dry_run=dry_run,
        save_plan=Path(save_plan) if save_plan else None,
        review=reviewer,
        hinter=hinter,
    )
    try:
        with progress:
            result = engine.apply(opts, settings, provider, progress)
    except errors.AstmError as exc:
        partial: ApplyResult | None = getattr(exc, "result", None)
        if partial is not None:
            partial.usage = spent(provider) or partial.usage  # failed requests included
            if as_json:
                print(json.dumps(partial.to_json(), indent=2))
            else:
                render.summary(partial, sys.stderr, review=None)
        raise
    result.usage = spent(provider) or result.usage
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return errors.EXIT_OK
    review = None
    if result.branch:
        head = "HEAD" if base is None and not any("HEAD moved" in n for n in result.notices) else result.base[:10]
        review = f"git diff {head} {result.branch}"
    render.summary(result, sys.stdout, review=review)
    return errors.EXIT_OK
