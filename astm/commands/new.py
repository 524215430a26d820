"""``astm new PATH INTENT``: create a file from a template, one agent per block."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from astm import config as cfg
from astm import errors, render
from astm.core.result import ApplyResult


@click.command("new")
@click.argument("path", type=click.Path())
@click.argument("intent")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), help="A plan answers instead of the model (its inserts into PATH, in block order).")
@click.option("--branch", help="Name of the branch to create.")
@click.option("--base", help="Commit to start from (default: HEAD).")
@click.option("--retries", type=int, help="Retries of a block whose answer fails validation.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the result.")
def command(
    path: str, intent: str, plan_file: str | None, branch: str | None, base: str | None,
    retries: int | None, as_json: bool,
) -> int:
    """Create PATH (absent at the base commit) from the template that matches it:
    pyproject.toml, a Python module, a test module, or a project's own under .astm/templates/."""
    from astm.core import plan as planfile
    from astm.engine.new import NewOptions, new_file
    from astm.llm import make_provider
    from astm.workspace.paths import safe_output_path
    from astm.workspace.repo import Repo

    repo = Repo.open(Path.cwd())
    safe_output_path(repo, path)  # the file lands in a commit; still never a .git or a link
    settings = cfg.load(repo.workdir, {"retries": retries})
    plan = planfile.load(plan_file) if plan_file else None
    provider = make_provider(settings, plan)
    opts = NewOptions(path=path, intent=intent, cwd=Path.cwd(), plan=plan, branch=branch, base=base)
    try:
        with render.Progress(quiet=as_json) as progress:
            result = new_file(opts, settings, provider, progress)
    except errors.AstmError as exc:  # what happened before the failure, then the error line
        partial: ApplyResult | None = getattr(exc, "result", None)
        if partial is not None:
            if as_json:
                print(json.dumps(partial.to_json(), indent=2))
            else:
                render.summary(partial, sys.stderr, review=None)
        raise
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return errors.EXIT_OK
    against = "HEAD" if base is None else result.base[:10]
    render.summary(result, sys.stdout, review=f"git diff {against} {result.branch}" if result.branch else None)
    return errors.EXIT_OK
