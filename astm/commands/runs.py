"""``astm runs``: the runs of this repository and their status."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click


@click.command("runs")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def command(as_json: bool) -> int:
    """List runs (newest last): id, status, branch, intent."""
    from astm.errors import printable
    from astm.workspace import runs
    from astm.workspace.repo import Repo

    repo = Repo.open(Path.cwd())
    records = runs.load_runs(repo)
    if as_json:
        click.echo(json.dumps([r.__dict__ | {"status": r.shown_status} for r in records], indent=2))
        return 0
    if not records:
        click.echo("no runs")
    for r in records:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started))
        # A record's text came from outside (an intent, a branch): one line each, escaped.
        branch, intent = printable(r.branch or "-"), printable(r.intent)[:60]
        click.echo(f"{printable(r.run)}  {when}  {r.shown_status:<11} {branch:<30} {intent}")
    return 0
