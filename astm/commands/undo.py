"""``astm undo [--list] [--skip]``: reverse the last thing astm did to refs and files it owns."""

from __future__ import annotations

import time
from pathlib import Path

import click

from astm import errors


@click.command("undo")
@click.option("--list", "show", is_flag=True, help="Show the operation log (newest last); undo nothing.")
@click.option("--skip", is_flag=True, help="Forget the last operation without reversing it.")
def command(show: bool, skip: bool) -> int:
    """Reverse astm's last operation (a landed branch, a planned track, a file it wrote).
    Refuses, saying why, when what it would undo has since been changed by you."""
    from astm.workspace import oplog
    from astm.workspace.repo import Repo

    repo = Repo.open(Path.cwd())
    if show:
        entries = oplog.read(repo)
        if not entries:
            print("the operation log is empty")
        undone = {e.undoes for e in entries if e.op == "undo"}
        for e in entries:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time))
            mark = " (undone)" if e.seq in undone else ""
            print(f"{e.seq:>4}  {when}  {e.op:<7} {e.what}{mark}")
        return errors.EXIT_OK
    entry = oplog.undo_last(repo, skip=skip)
    print(("forgot: " if skip else "undone: ") + entry.what)
    return errors.EXIT_OK
