"""``astm index``: build or refresh the repository index; optionally route an intent."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click


@click.command("index")
@click.option("--rebuild", is_flag=True, help="Start from an empty index.")
@click.option(
    "--jobs", "-j", type=click.IntRange(1, 64), help="Worker processes for a large build."
)
@click.option("--query", "-q", metavar="INTENT", help="Also list the files INTENT routes to.")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Files listed for --query.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(rebuild: bool, jobs: int | None, query: str | None, limit: int, as_json: bool) -> int:
    """Index the committed Python and TOML files at HEAD under .git/astm/index/; a refresh
    parses only the blobs the index has not seen."""
    from astm.index import candidates, refresh

    cwd = Path.cwd()
    report = refresh(cwd, rebuild=rebuild, jobs=jobs)
    found = candidates(cwd, query, limit) if query else []
    if as_json:
        out = asdict(report) | {"candidates": [c._asdict() for c in found] if query else None}
        click.echo(json.dumps(out, indent=2))
        return 0
    where = report.commit[:10] if report.commit else "(no commits)"
    click.echo(
        f"indexed {report.files} files at {where}: parsed {report.parsed}, "
        f"reused {report.reused} ({report.seconds:.2f} s)"
    )
    if report.rebuilt:
        click.echo(f"rebuilt from empty: {report.rebuilt}")
    if report.pruned:
        click.echo(f"pruned {report.pruned} summaries of blobs no longer at HEAD")
    for path in report.broken:
        click.echo(f"broken  {path} (tree-sitter found errors; nodes are partial)")
    for path, why in report.skipped:
        click.echo(f"skipped {path}: {why}")
    if query:
        if not found:
            click.echo(f"no files match {query!r}")
        for c in found:
            names = " ".join(n.split("::", 1)[1] for n in c.nodes)
            click.echo(f"{c.score:8.2f}  {c.path}  {names}")
    return 0
