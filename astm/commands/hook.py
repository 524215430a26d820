"""``astm hook install | uninstall | run [--fix]``: gate commits node by node (docs/hooks.md)."""

from __future__ import annotations

from pathlib import Path

import click

from astm import errors


@click.group("hook")
def command() -> None:
    """Gate commits node by node: a git pre-commit hook that checks (and on request
    repairs) the staged Python and TOML nodes a commit changes."""


@command.command("install")
@click.option(
    "--hooks-path",
    "use_hooks_path",
    is_flag=True,
    help="Install into core.hooksPath when it is set (else astm refuses).",
)
def install(use_hooks_path: bool) -> int:
    """Install the pre-commit hook (an existing hook is kept and run first)."""
    from astm.hook import install as inst

    done = inst.install(Path.cwd(), use_hooks_path=use_hooks_path)
    verb = "refreshed" if done.refreshed else "installed"
    click.echo(f"astm: {verb} {done.path}")
    if done.legacy is not None:
        click.echo(f"astm: the previous hook runs first: {done.legacy}")
    return errors.EXIT_OK


@command.command("uninstall")
def uninstall() -> int:
    """Remove astm's pre-commit hook and put back the one it replaced."""
    from astm.hook import install as inst

    done = inst.uninstall(Path.cwd())
    if done.path is None:
        click.echo("astm: no astm hook installed; nothing to do")
    elif done.restored is not None:
        click.echo(f"astm: removed astm's hook; restored the previous {done.restored}")
    else:
        click.echo(f"astm: removed {done.path}")
    return errors.EXIT_OK


@command.command("run")
@click.argument("files", nargs=-1, type=click.Path())
@click.option(
    "--fix/--no-fix",
    default=None,
    help="Repair failing nodes with the model (default: [tool.astm.hook] fix).",
)
def run(files: tuple[str, ...], fix: bool | None) -> int:
    """Check the staged content of the staged Python and TOML files (or of FILES among
    them): only problems inside nodes this commit changed count. Exit 1 if any does.
    Never writes the index; --fix writes repairs to the working tree only."""
    from astm.hook import main  # the body; the CLI's fast path calls it without click

    return main.run(files, fix)
