"""The user's staged state as git means it, read-only, plus the few git calls ``astm hook`` needs.

Inside a hook git exports ``GIT_INDEX_FILE`` (``.git/index.lock`` under ``commit -a``,
``.git/next-index-*.lock`` under ``commit PATHS``, sometimes relative to the hook's working
directory) and, in a linked worktree, ``GIT_DIR``. ``open_staged`` honours both, because the
index they name is the one the commit is made from. They are honoured for *reading* only:
every git subprocess astm starts runs with them stripped (``git.clean_env``), so sandboxes
never touch the user's index.

Nothing here writes the index, the working tree or any ref of the user's; ``repair_base``
writes objects only (a tree and an unreferenced commit that ``git gc`` prunes), and
``delete_branch`` removes a branch astm itself landed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from astm.errors import NotARepository, UsageError
from astm.workspace import git
from astm.workspace.repo import Repo, check_repo_path

FILEMODE_COMMIT = 0o160000  # a submodule (gitlink)
BINARY_SNIFF = 8000  # git's own heuristic: a NUL in the first 8000 bytes means binary
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class StagedFile:
    """One file the commit adds or changes, as staged.

    ``bases`` holds the file in each parent the commit will have (HEAD, and each
    MERGE_HEAD during a merge); ``None`` where the parent lacks it. A renamed file's HEAD
    version is read from ``old_path``. An empty ``bases`` means the first commit.
    """

    path: str
    data: bytes
    bases: tuple[bytes | None, ...]
    old_path: str | None = None
    mode: int = git.FILEMODE_BLOB


@dataclass
class Changes:
    files: list[StagedFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


@dataclass
class StagedView:
    """The repository, the index git means, HEAD and any merge heads (all read-only)."""

    repo: Repo
    index: pygit2.Index
    index_path: Path
    head: pygit2.Commit | None
    merge_heads: tuple[pygit2.Commit, ...]

    @property
    def workdir(self) -> Path:
        return self.repo.workdir

    @property
    def common(self) -> Path:
        return self.repo.common

    @property
    def state(self) -> str | None:
        """``'merge'`` (or another operation) in progress, else None."""
        state = self.repo.repo.state()
        if state == pygit2.enums.RepositoryState.NONE:
            return None
        return pygit2.enums.RepositoryState(state).name.lower().replace("_", " ")

    def changes(self, wanted: Callable[[str], bool]) -> Changes:
        """The staged files whose path ``wanted`` accepts that the commit adds or changes.

        Deletions are not changes to check; conflicted, binary, oversized, symlinked and
        submodule entries are reported in ``skipped``.
        """
        out = Changes()
        conflicted = self._conflicted()
        for path in sorted(conflicted):
            if wanted(path):
                out.skipped.append((path, "unmerged (conflicted) path"))
        r = self.repo.repo
        for path, old_path, oid, mode in self._added_or_modified():
            if path in conflicted or not wanted(path):
                continue
            if mode == git.FILEMODE_LINK:
                out.skipped.append((path, "symbolic link"))
                continue
            if mode == FILEMODE_COMMIT:
                out.skipped.append((path, "submodule"))
                continue
            blob = r[oid]
            if blob.size > MAX_BYTES:  # type: ignore[attr-defined]
                out.skipped.append((path, f"larger than {MAX_BYTES // (1024 * 1024)} MB"))
                continue
            data: bytes = blob.data  # type: ignore[attr-defined]
            if b"\0" in data[:BINARY_SNIFF]:
                out.skipped.append((path, "binary"))
                continue
            bases: list[bytes | None] = []
            if self.head is not None:
                bases.append(_blob_at(r, self.head.tree, old_path or path))
            for mh in self.merge_heads:
                bases.append(_blob_at(r, mh.tree, path))
            out.files.append(StagedFile(path, data, tuple(bases), old_path, mode))
        return out

    def _conflicted(self) -> set[str]:
        conflicts = self.index.conflicts
        if conflicts is None:
            return set()
        names = set()
        for ancestor, ours, theirs in conflicts:
            for entry in (ancestor, ours, theirs):
                if entry is not None:
                    names.add(entry.path)
        return names

    def _added_or_modified(self) -> list[tuple[str, str | None, pygit2.Oid, int]]:
        """``(path, old path if renamed, staged blob id, mode)`` of each added/changed entry."""
        if self.head is None:
            return [(e.path, None, e.id, e.mode) for e in self.index]
        diff = self.head.tree.diff_to_index(self.index)
        diff.find_similar()  # renames: a moved file keeps its history of nodes
        out: list[tuple[str, str | None, pygit2.Oid, int]] = []
        status = pygit2.enums.DeltaStatus
        changed = (status.ADDED, status.COPIED, status.MODIFIED, status.TYPECHANGE)
        for delta in diff.deltas:
            if delta.status in changed:
                out.append((delta.new_file.path, None, delta.new_file.id, delta.new_file.mode))
            elif delta.status == status.RENAMED:
                nf, of = delta.new_file, delta.old_file
                out.append((nf.path, of.path, nf.id, nf.mode))
        return out

    # ---- repair mode: the only writes (objects and astm's own refs) --------------------

    def repair_base(self, replace: Mapping[str, bytes]) -> str:
        """An unreferenced commit of the staged tree with ``replace`` applied; its sha.

        Its parent is HEAD (none before the first commit). No ref moves and the index
        file is not written: the tree is built from the index in memory.
        """
        with git.LOCK:
            r = self.repo.repo
            try:
                staged_tree = r[self.index.write_tree(r)].peel(pygit2.Tree)
            except pygit2.GitError as exc:  # e.g. unmerged entries
                raise git.GitError(f"cannot make a tree of the staged content: {exc}") from None
            tree = git.write_tree(r, staged_tree, dict(replace))
            sig = git.signature(r)
            parents = [self.head.id] if self.head is not None else []
            oid = r.create_commit(None, sig, sig, "astm hook: staged content\n", tree, parents)
        return str(oid)

    def at_head(self, path: str) -> bytes | None:
        """``path`` as HEAD has it (None: no HEAD, no such file, or not a regular file)."""
        if self.head is None:
            return None
        return _blob_at(self.repo.repo, self.head.tree, path)

    def read_at(self, rev: str, path: str) -> bytes:
        with git.LOCK:
            commit = self.repo.repo.revparse_single(rev).peel(pygit2.Commit)
        return self.repo.read_at(commit, path)

    def delete_branch(self, name: str) -> None:
        """Delete a branch astm landed (refs/heads/<name>); missing is fine."""
        with git.LOCK:
            try:
                self.repo.repo.references.delete(f"refs/heads/{name}")
            except (KeyError, pygit2.GitError):
                pass

    def relpath(self, path: str, cwd: Path) -> str:
        return self.repo.relpath(path, cwd)


def _blob_at(r: pygit2.Repository, tree: pygit2.Tree, path: str) -> bytes | None:
    try:
        entry = tree[path]
    except KeyError:
        return None
    if entry.type_str != "blob" or entry.filemode == git.FILEMODE_LINK:
        return None
    return r[entry.id].data  # type: ignore[attr-defined, no-any-return]


def open_staged(cwd: Path, environ: Mapping[str, str] | None = None) -> StagedView:
    """The repository and index that git means at ``cwd`` (honouring a hook's environment)."""
    env = os.environ if environ is None else environ
    gitdir_env = env.get("GIT_DIR")
    if gitdir_env:
        gitdir = Path(cwd, gitdir_env)
        try:
            r = pygit2.Repository(str(gitdir))
        except pygit2.GitError:
            raise NotARepository(f"GIT_DIR={gitdir_env} is not a git repository") from None
        work_env = env.get("GIT_WORK_TREE")
        if work_env:
            workdir = Path(cwd, work_env).resolve()
        elif r.workdir:
            workdir = Path(r.workdir).resolve()
        else:
            workdir = cwd.resolve()  # git's rule: GIT_DIR without a work tree -> cwd
        repo = Repo(r, workdir, git.common_dir(r))
    else:
        repo = Repo.open(cwd)
        r = repo.repo
    if r.is_bare:
        raise UsageError("astm hook needs a repository with a working tree, not a bare one")
    index_env = env.get("GIT_INDEX_FILE")
    # A relative GIT_INDEX_FILE is relative to the hook's cwd, the top of the work tree.
    index_path = Path(cwd, index_env) if index_env else Path(r.path) / "index"
    index = pygit2.Index(str(index_path)) if index_path.exists() else pygit2.Index()
    head = None if r.head_is_unborn else r.head.peel(pygit2.Commit)
    merge_heads = []
    if head is not None and r.state() == pygit2.enums.RepositoryState.MERGE:
        for oid in r.listall_mergeheads():
            merge_heads.append(r[oid].peel(pygit2.Commit))
    return StagedView(repo, index, index_path, head, tuple(merge_heads))


def unified_diff(path: str, old: bytes, new: bytes) -> str:
    """``git diff``-style text of one file (``git apply`` takes it), computed by libgit2."""
    check_repo_path(path)
    patch = pygit2.Patch.create_from(old, new, path, path, context_lines=3)
    return patch.text or ""


# ---- where git runs hooks from ---------------------------------------------------------


@dataclass(frozen=True)
class HooksDir:
    path: Path  # where git looks for hooks
    configured: str | None  # core.hooksPath as set, or None
    scope: str | None  # the config scope that set it: local, global, system, worktree


def hooks_dir(cwd: Path) -> HooksDir:
    """Where git runs this repository's hooks from: ``core.hooksPath`` if set, else the
    common git directory's ``hooks`` (shared by every linked worktree)."""
    repo = Repo.open(cwd)
    # Not git.run_git: its safety config sets core.hooksPath, the very value asked for here.
    path = _git(["rev-parse", "--path-format=absolute", "--git-path", "hooks"], repo.workdir)
    scoped = _git(["config", "--show-scope", "--get", "core.hooksPath"], repo.workdir, check=False)
    configured = scope = None
    if scoped:
        scope, _, configured = scoped.partition("\t")
    return HooksDir(Path(path), configured, scope)


def _git(args: list[str], cwd: Path, *, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        # Read-only queries of the user's own config: the safety overrides would hide it.
        env=git.clean_env(safe=False),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check and proc.returncode != 0:
        err = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise git.GitError(f"git {args[0]} failed: {err}")
    return proc.stdout.strip() if proc.returncode == 0 else ""
