"""Where astm may write a file the user named: never inside a git directory, never
through a symbolic link.

Every path astm writes on a user's word (``--save-plan``, ``astm new``'s target, exports,
crash logs, and any later ``--dest`` or ``--write``) goes through ``safe_output_path`` first.
``--save-plan .git/config`` once overwrote the git configuration with JSON: the class of
bug is a writer that trusts the path, so the check lives here, once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from astm.errors import UsageError

if TYPE_CHECKING:
    from astm.workspace.repo import Repo


def _is_git_dir(d: Path) -> bool:
    """A git directory by its shape (a repository's ``.git``, a bare repository, a
    worktree's admin directory, a separate git dir), whatever its name."""
    try:
        return (d / "HEAD").is_file() and (
            ((d / "objects").is_dir() and (d / "refs").is_dir()) or (d / "commondir").is_file()
        )
    except OSError:
        return False


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def safe_output_path(repo: Repo | None, path: str | os.PathLike[str]) -> Path:
    """``path`` (relative to the current directory) made absolute, if astm may write it.

    Refused (``UsageError``, exit 2, one line naming the path): a ``.git`` component (any
    case); a place inside the repository's git directory, the common directory, a
    worktree's admin directory or any other git directory (also when reached through a
    link from outside); a final component that is a symbolic link; a symbolic link on the
    way inside the repository's working tree.
    """
    given = os.fspath(path)
    target = Path(os.path.abspath(given))

    def refuse(why: str) -> UsageError:
        return UsageError(f"astm does not write {why}", path=given)

    if any(part.lower() == ".git" for part in target.parts):
        raise refuse("inside a git directory")
    if target.is_symlink():
        raise refuse("through a symbolic link (the file itself is one)")
    roots: list[Path] = []
    if repo is not None:
        roots = [repo.workdir, Path(os.path.realpath(repo.workdir))]
    for root in roots:
        if not _within(target, root):
            continue
        here = root
        for part in target.relative_to(root).parts[:-1]:
            here = here / part
            if here.is_symlink():
                raise refuse(f"through a symbolic link ({here.relative_to(root)} is one)")
    real = Path(os.path.realpath(target.parent)) / target.name
    if any(part.lower() == ".git" for part in real.parts):
        raise refuse("inside a git directory")
    if repo is not None:
        git_dirs = {Path(os.path.realpath(repo.common)), Path(os.path.realpath(repo.repo.path))}
        if any(_within(real, g) for g in git_dirs):
            raise refuse("inside a git directory")
    if any(_is_git_dir(d) for d in real.parents):
        raise refuse("inside a git directory")
    return target
