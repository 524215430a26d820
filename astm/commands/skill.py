"""``astm skill export [--dest DIR]``: a guide for coding assistants, with examples."""

from __future__ import annotations

from pathlib import Path

import click

from astm import errors


@click.group("skill")
def command() -> None:
    """Guides for coding assistants working in a project that uses astm."""


@command.command("export")
@click.option("--dest", type=click.Path(file_okay=False), help="Folder to write into (default: .astm/skill).")
def export(dest: str | None) -> int:
    """Write the spec-writing guide (how to write good specs, how to review generated
    output, never edit __generated__) and examples into DEST."""
    from astm.specs.skill_export import DEFAULT_DEST
    from astm.specs.skill_export import export as do_export

    target = Path(dest or DEFAULT_DEST)
    for p in do_export(target):
        click.echo(f"wrote {p}")
    return errors.EXIT_OK
