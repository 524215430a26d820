"""``astm view skeleton|curated PATH...``: files as node agents see them."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("view")
def command() -> None:
    """Show files reduced to what an agent needs: signatures (skeleton) or docstrings and
    marked bodies (curated). The output is valid source; notes go to stderr."""


@command.command("skeleton")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--ids", is_flag=True, help="Prefix each line with the id of its node.")
def skeleton(paths: tuple[str, ...], ids: bool) -> int:
    """Imports, signatures (bodies `pass`); TOML headers and keys (long values shortened)."""
    return _show("skeleton", paths, ids)


@command.command("curated")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--ids", is_flag=True, help="Prefix each line with the id of its node.")
def curated(paths: tuple[str, ...], ids: bool) -> int:
    """Docstrings and @core_logic / `# [HOT]` bodies in full; other bodies `...  # Hidden`."""
    return _show("curated", paths, ids)


def _show(kind: str, paths: tuple[str, ...], ids: bool) -> int:
    from astm import views

    cwd = Path.cwd()
    files = _expand(paths, cwd)
    root = _root(cwd)
    make = views.skeleton if kind == "skeleton" else views.curated
    for n, f in enumerate(files):
        name = _name(f, root, cwd)
        try:
            data = f.read_bytes()
        except OSError as exc:
            click.echo(f"astm: note: {name}: cannot read ({exc.strerror}); skipped", err=True)
            continue
        view = make(name, data)
        for note in view.notes:
            click.echo(f"astm: note: {name}: {note}", err=True)
        if view.skipped:
            continue
        if len(files) > 1:
            click.echo(("" if n == 0 else "\n") + f"# == {name} ==")
        click.echo(view.with_ids() if ids else view.text, nl=False)
    return 0


def _expand(paths: tuple[str, ...], cwd: Path) -> list[Path]:
    """The files named, directories replaced by the files of astm's languages."""
    from astm.errors import TargetError
    from astm.lang import suffixes

    known = suffixes()

    out: list[Path] = []
    for p in paths:
        path = cwd / p
        if path.is_dir():
            out += sorted(
                f for f in path.rglob("*")
                if f.suffix in known and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(path).parts)
            )
        elif path.is_file():
            out.append(path)
        else:
            raise TargetError("no such file", path=p)
    return out


def _root(cwd: Path) -> Path | None:
    """The working tree ids are relative to; None outside a repository."""
    from astm.errors import UsageError
    from astm.workspace.repo import Repo

    try:
        return Repo.open(cwd).workdir
    except UsageError:
        return None


def _name(f: Path, root: Path | None, cwd: Path) -> str:
    """A file's name in node ids: repository-relative POSIX path (else as reached from cwd)."""
    full = f.resolve()
    for base in (root, cwd.resolve()):
        if base is not None and full.is_relative_to(base):
            return full.relative_to(base).as_posix()
    return f.as_posix()
