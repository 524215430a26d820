"""Committed files by blob id: what a commit tracks, and the bytes of a blob (read-only).

The index keys parsed summaries by blob id, so knowing what changed since it last looked
costs one walk of the commit's tree, never a read of the working tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pygit2

from astm.errors import RepositoryStateError
from astm.workspace import git

_FILES = (git.FILEMODE_BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE)


@dataclass(frozen=True)
class Listing:
    """The regular files of one commit: ``(path, blob id)`` pairs sorted by path."""

    commit: str | None  # None: the repository has no commits yet
    files: tuple[tuple[str, str], ...]


class Blobs:
    """A read-only view of a repository's committed objects."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self.common = git.common_dir(repo)
        self.workdir = Path(repo.workdir).resolve() if repo.workdir else None

    @classmethod
    def open(cls, start: Path) -> Blobs:
        """The repository containing ``start``; NotARepository if there is none."""
        return cls(git.discover(start))

    def head(self) -> str | None:
        """The commit id of HEAD, or None while the repository has no commits."""
        if self.repo.head_is_unborn:
            return None
        return str(self.repo.head.target)

    def listing(self, rev: str | None = None, suffixes: tuple[str, ...] = ()) -> Listing:
        """Tracked regular files (no links, no submodules) at ``rev`` (default HEAD) whose
        names end with one of ``suffixes`` (all files when empty)."""
        if rev is None:
            if self.repo.head_is_unborn:
                return Listing(None, ())
            commit = self.repo.head.peel(pygit2.Commit)
        else:
            try:
                commit = self.repo.revparse_single(rev).peel(pygit2.Commit)
            except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
                raise RepositoryStateError(f"{rev!r} is not a commit in this repository") from None
        out: list[tuple[str, str]] = []
        _walk(self.repo, commit.tree, "", suffixes, out)
        out.sort()
        return Listing(str(commit.id), tuple(out))

    def read(self, oid: str) -> bytes:
        """The bytes of blob ``oid``; KeyError if the repository has no such blob."""
        obj = self.repo[oid]
        if not isinstance(obj, pygit2.Blob):
            raise KeyError(oid)
        return obj.data


def _walk(
    repo: pygit2.Repository,
    tree: pygit2.Tree,
    prefix: str,
    suffixes: tuple[str, ...],
    out: list[tuple[str, str]],
) -> None:
    for entry in tree:
        name = entry.name or ""
        mode = entry.filemode
        if mode == git.FILEMODE_TREE:
            _walk(repo, repo[entry.id], f"{prefix}{name}/", suffixes, out)  # type: ignore[arg-type]
        elif mode in _FILES and (not suffixes or name.endswith(suffixes)):
            out.append((prefix + name, str(entry.id)))
