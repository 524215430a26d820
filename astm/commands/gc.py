"""``astm gc``: remove what dead or finished runs left behind, and nothing else."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("gc")
@click.option("--max-age", "max_age", type=float, help="Days to keep run refs (default: gc_max_age_days).")
def command(max_age: float | None) -> int:
    """Remove leftover sandboxes (worktrees), the astm/tmp/ branches of an older astm, and run refs
    older than the configured age: only what astm provably made. Landed branches, runs
    still going, and worktrees or branches astm did not make are never touched (those
    that look like astm's are listed as `left`)."""
    from astm import config as cfg
    from astm.errors import printable
    from astm.workspace import runs
    from astm.workspace.repo import Repo

    repo = Repo.open(Path.cwd())
    days = max_age if max_age is not None else cfg.load(repo.workdir).gc_max_age_days
    report = runs.gc(repo, max_age_days=days)
    if report.empty:
        click.echo("nothing to clean")
    for label, items in (
        ("worktree", report.worktrees),
        ("branch", report.branches),
        ("run ref", report.run_refs),
        ("run record", report.records),
        ("temporary file", report.temporaries),
    ):
        for item in items:
            click.echo(f"removed {label} {printable(item)}")
    for item in report.left:  # looks like astm's, cannot be proven to be: never removed
        click.echo(f"left {printable(item)}")
    return 0
