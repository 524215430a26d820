"""Read-only views of the user's repository: base commit, files at base, their state.

Nothing here writes: the user's HEAD, index and working tree are only ever read.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pygit2

from astm.errors import RepositoryStateError, TargetError, UsageError
from astm.workspace import git
from astm.workspace.git import check_repo_path

FILEMODE_COMMIT = pygit2.enums.FileMode.COMMIT  # a submodule (gitlink)

_STATES = {
    "MERGE": "a merge",
    "REVERT": "a revert",
    "REVERT_SEQUENCE": "a revert",
    "CHERRYPICK": "a cherry-pick",
    "CHERRYPICK_SEQUENCE": "a cherry-pick",
    "BISECT": "a bisect",
    "REBASE": "a rebase",
    "REBASE_INTERACTIVE": "a rebase",
    "REBASE_MERGE": "a rebase",
    "APPLY_MAILBOX": "git am",
    "APPLY_MAILBOX_OR_REBASE": "a rebase",
}


@dataclass
class Repo:
    """An opened repository and the commit a run starts from."""

    repo: pygit2.Repository
    workdir: Path  # the checkout astm was started in (root of the working tree)
    common: Path  # the shared .git directory: run records, refs

    @classmethod
    def open(cls, start: Path) -> Repo:
        repo = git.discover(start)
        if repo.is_bare or repo.workdir is None:
            raise UsageError("astm needs a repository with a working tree, not a bare one")
        return cls(repo, Path(repo.workdir).resolve(), git.common_dir(repo))

    def check_state(self) -> None:
        """Refuse while a merge, rebase or similar is in progress (its index is the user's),
        or while a branch ``astm`` blocks astm's own (a ref cannot be both a file and a
        folder, so no ``astm/<name>`` could land)."""
        with git.LOCK:
            blocking = "refs/heads/astm" in self.repo.references
        if blocking:
            raise RepositoryStateError(
                "the branch astm is in the way of astm's own branches "
                "(astm/<name>); rename it, e.g. git branch -m astm astm-work"
            )
        state = self.repo.state()
        if state != pygit2.enums.RepositoryState.NONE:
            name = pygit2.enums.RepositoryState(state).name
            what = _STATES.get(name, name.lower())
            raise RepositoryStateError(
                f"{what} is in progress; finish or abort it, then run astm again"
            )

    def base_commit(self, rev: str | None = None) -> pygit2.Commit:
        """``rev`` (default HEAD) as a commit; clear errors for an empty repository."""
        if rev is None:
            if self.repo.head_is_unborn:
                raise RepositoryStateError("the repository has no commits yet; commit first")
            return self.repo.head.peel(pygit2.Commit)
        try:
            obj = self.repo.revparse_single(rev)
            return obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise RepositoryStateError(f"--base {rev!r} is not a commit in this repository") from None

    def tree_of(self, commit: pygit2.Oid) -> pygit2.Oid:
        with git.LOCK:
            return self.repo[commit].peel(pygit2.Commit).tree_id

    def head_oid(self) -> pygit2.Oid | None:
        with git.LOCK:
            return None if self.repo.head_is_unborn else self.repo.head.target

    def list_files(self, commit: pygit2.Oid) -> list[str]:
        """Every blob path in ``commit``'s tree (POSIX, repository-relative)."""
        with git.LOCK:
            tree = self.repo[commit].peel(pygit2.Tree)
            out: list[str] = []
            stack: list[tuple[str, pygit2.Tree]] = [("", tree)]
            while stack:
                prefix, t = stack.pop()
                for e in t:
                    if e.type_str == "tree":
                        stack.append((f"{prefix}{e.name}/", self.repo[e.id]))  # type: ignore[arg-type]
                    elif e.type_str == "blob":
                        out.append(f"{prefix}{e.name}")
            return sorted(out)

    def changed_files(self, old: pygit2.Commit, new: pygit2.Commit) -> list[tuple[str, str]]:
        """``(status, path)`` of each file that differs between two commits: ``M``odified,
        ``A``dded, ``D``eleted (renames are a delete and an add)."""
        with git.LOCK:
            diff = self.repo.diff(old.tree, new.tree)
            out: list[tuple[str, str]] = []
            for patch in diff:
                delta = patch.delta
                status = {1: "A", 2: "D"}.get(int(delta.status), "M")
                out.append((status, delta.new_file.path if status != "D" else delta.old_file.path))
            return out

    def read_blob(self, commit: pygit2.Oid, path: str) -> bytes:
        with git.LOCK:
            c = self.repo[commit].peel(pygit2.Commit)
            return self.read_at(c, path)

    def relpath(self, path: str | Path, cwd: Path) -> str:
        """A user-given path as a repository-relative POSIX path; refuses escapes."""
        p = Path(path)
        full = p if p.is_absolute() else cwd / p
        full = Path(posixpath.normpath(str(full)))
        try:
            rel = full.relative_to(self.workdir)
        except ValueError:
            raise UsageError(f"{path}: outside the repository {self.workdir}") from None
        return check_repo_path(PurePosixPath(*rel.parts).as_posix())

    def read_at(self, commit: pygit2.Commit, path: str) -> bytes:
        """The bytes of ``path`` at ``commit``; TargetError if absent, a link or not a file."""
        check_repo_path(path)
        try:
            entry = commit.tree[path]
        except KeyError:
            raise TargetError(self._why_missing(commit, path), path=path) from None
        if entry.filemode == git.FILEMODE_LINK:
            raise TargetError("is a symbolic link; astm never writes through links", path=path)
        if entry.type_str != "blob":
            raise TargetError("is not a file", path=path)
        return self.repo[entry.id].data  # type: ignore[attr-defined, no-any-return]

    def _why_missing(self, commit: pygit2.Commit, path: str) -> str:
        """Why ``path`` is not a file at ``commit``: a submodule or a link on the way, or absent."""
        tree: pygit2.Tree = commit.tree
        parts = path.split("/")
        for i, part in enumerate(parts[:-1]):
            if part not in tree:
                break
            entry = tree[part]
            where = "/".join(parts[: i + 1])
            if entry.filemode == FILEMODE_COMMIT:
                return f"is inside the submodule {where}; run astm in the submodule"
            if entry.filemode == git.FILEMODE_LINK:
                return f"goes through the symbolic link {where}; astm never writes through links"
            sub = self.repo[entry.id]
            if not isinstance(sub, pygit2.Tree):
                break
            tree = sub
        return f"no such file at the base commit {str(commit.id)[:10]}"

    def root_files(self, commit: pygit2.Commit, suffixes: tuple[str, ...]) -> list[str]:
        """Tracked regular files at the top of the tree whose names end with ``suffixes``."""
        return sorted(
            e.name
            for e in commit.tree
            if e.type_str == "blob"
            and e.filemode != git.FILEMODE_LINK
            and e.name is not None
            and e.name.endswith(suffixes)
        )

    def dirty(self, commit: pygit2.Commit, paths: list[str]) -> list[str]:
        """Which of ``paths`` differ in the working tree from ``commit`` (read-only check).

        The working file is hashed as git would store it (``core.autocrlf``, ``eol`` and
        ``text`` attributes applied by libgit2, which runs no external filter), so a CRLF
        checkout of an LF blob is clean.
        """
        out = []
        for p in paths:
            f = self.workdir / p
            try:
                base = self.read_at(commit, p)
            except TargetError:
                base = None
            try:
                data = f.read_bytes() if f.is_file() and not f.is_symlink() else None
            except OSError:
                data = None
            if data == base:
                continue
            if data is not None and base is not None:
                try:
                    with git.LOCK:
                        same = self.repo.hashfile(str(f), as_path=p) == pygit2.hash(base)
                except (pygit2.GitError, OSError, ValueError):
                    same = False
                if same:
                    continue
            out.append(p)
        return out
