"""``astm hook install | uninstall | run [--fix]``: gate commits node by node (docs/hooks.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from astm import errors

if TYPE_CHECKING:
    from astm.hook.check import CheckResult
    from astm.hook.staged import Staged

# Set while ``astm hook run`` works, so a commit made below it (none should be: sandbox
# commits are pygit2 objects and run no hooks) can never run astm a second time.
ACTIVE = "ASTM_HOOK_ACTIVE"


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
    if os.environ.get(ACTIVE):
        return errors.EXIT_OK
    os.environ[ACTIVE] = "1"
    try:
        return _run(files, fix)
    finally:
        os.environ.pop(ACTIVE, None)


def _run(files: tuple[str, ...], fix: bool | None) -> int:
    from astm.hook import report, settings
    from astm.hook.check import check_staged
    from astm.hook.staged import Staged

    cwd = Path.cwd()
    view = Staged(cwd)
    conf = settings.load(view.workdir, fallback=lambda: view.at_head("pyproject.toml"))
    only = {view.relpath(f, cwd) for f in files} if files else None
    result = check_staged(view, conf, only)
    out = sys.stdout
    color = out.isatty()
    report.notes(result, sys.stderr)
    report.check(result, out, color=color)
    if result.ok:
        return errors.EXIT_OK
    if fix if fix is not None else conf.fix:
        _repair(view, result, color)
    return errors.EXIT_APPLY


def _repair(view: Staged, result: CheckResult, color: bool) -> None:
    from astm import render
    from astm.hook.repair import repair

    click.echo("astm: repairing the failing nodes with the model ...", err=True)
    done = repair(view.view, result)  # pygit2 from here on: objects are written
    if done.error:
        click.echo(f"astm: cannot repair: {done.error}", err=True)
        return
    written = []
    for f in done.files:
        if f.status == "failed":
            click.echo(f"astm: could not repair {f.path}: {f.error}", err=True)
            continue
        render.diff(f.diff, sys.stdout)
        if f.status == "written":
            written.append(f.path)
        else:
            click.echo(
                f"astm: {f.path} has unstaged changes, so it was left alone; the repair is "
                f"saved as {f.patch_file} (apply it with `git apply`)",
                err=True,
            )
    if written:
        click.echo(
            f"astm: files were modified by this hook: {', '.join(written)}. Review them "
            "(`git diff`), stage them (`git add`) and commit again.",
            err=True,
        )
