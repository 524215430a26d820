"""``astm config``: the effective settings, secrets masked."""

from __future__ import annotations

import json
from pathlib import Path

import click

from astm import config as cfg


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(as_json: bool) -> int:
    """Print the effective settings ([tool.astm] in pyproject.toml, then the environment); the API key is masked."""
    from astm.errors import NotARepository
    from astm.workspace.repo import Repo

    try:
        root: Path | None = Repo.open(Path.cwd()).workdir
    except NotARepository:
        root = None
    settings = cfg.load(root)
    shown = cfg.describe(settings)
    if as_json:
        click.echo(json.dumps(shown, indent=2))
    else:
        width = max(len(k) for k in shown)
        for k, v in shown.items():
            click.echo(f"{k:<{width}}  {v or '-'}")
    return 0
