"""``astm hook run``'s body, without click: git runs it on every commit.

``astm.commands.hook`` (the click command) and the CLI's fast path for the hook
(``astm.cli.main``) both call ``run``; the fast path spares the commit click's import.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from astm import errors

if TYPE_CHECKING:
    from astm.hook.check import CheckResult
    from astm.hook.staged import Staged

# Set while ``astm hook run`` works, so a commit made below it (none should be: sandbox
# commits are pygit2 objects and run no hooks) can never run astm a second time.
ACTIVE = "ASTM_HOOK_ACTIVE"


def parse(args: list[str]) -> tuple[tuple[str, ...], bool | None] | None:
    """``[--fix | --no-fix] [--] [FILES]...`` as (files, fix); None for anything else
    (help, an unknown option): click then parses it and says what is wrong."""
    files: list[str] = []
    fix: bool | None = None
    rest = False
    for arg in args:
        if rest or not arg.startswith("-") or arg == "-":
            files.append(arg)
        elif arg == "--":
            rest = True
        elif arg in ("--fix", "--no-fix"):
            fix = arg == "--fix"
        else:
            return None
    return tuple(files), fix


def run(files: tuple[str, ...], fix: bool | None) -> int:
    """Check the staged files (or FILES among them); repair with --fix. The exit code."""
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
    import click

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
