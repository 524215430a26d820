"""Node sandboxes: a git worktree on an ephemeral branch, materialised sparsely.

A sandbox is ``git worktree add --no-checkout --lock`` of its parent's commit on
``refs/heads/astm/tmp/<run>/<n>``: no checkout at all, so opening one costs the same in a
repository of ten files or ten thousand. Only the files a node's validators need are
written into it. Commits are made with pygit2 from trees, never from the sandbox's index,
so they run no hooks and never touch the user's index.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pygit2

from astm.workspace import git
from astm.workspace.repo import Repo, check_repo_path

TMP_PREFIX = "astm/tmp"


def tmp_branch(run: str, n: int) -> str:
    return f"refs/heads/{TMP_PREFIX}/{run}/{n}"


def sandbox_root() -> Path:
    return Path(tempfile.gettempdir())


@dataclass
class Sandbox:
    repo: Repo
    run: str
    n: int
    fork: pygit2.Oid
    path: Path
    branch: str
    head: pygit2.Oid = field(init=False)

    def __post_init__(self) -> None:
        self.head = self.fork

    def write(self, relpath: str, data: bytes) -> Path:
        """Materialise one file (atomically) in the sandbox; returns its path."""
        target = self.path / check_repo_path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.astm-tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return target

    def materialise(self, relpaths: list[str], commit: pygit2.Oid | None = None) -> None:
        """Write ``relpaths`` as they are at ``commit`` (default: the fork) into the sandbox."""
        with git.LOCK:
            tree = self.repo.repo[commit or self.fork].peel(pygit2.Tree)
            blobs = {}
            for p in relpaths:
                if p in tree and tree[p].type_str == "blob" and tree[p].filemode != git.FILEMODE_LINK:
                    blobs[p] = self.repo.repo[tree[p].id].data
        for p, data in blobs.items():
            self.write(p, data)

    def commit(
        self,
        changes: Mapping[str, bytes | None],
        message: str,
        extra_parents: tuple[pygit2.Oid, ...] = (),
    ) -> pygit2.Oid:
        """Commit ``changes`` on top of the fork, with ``extra_parents`` (an overlay commit)."""
        with git.LOCK:
            r = self.repo.repo
            base = r[self.fork].peel(pygit2.Commit)
            tree = git.write_tree(r, base.tree, changes)
            sig = git.signature(r)
            oid = r.create_commit(None, sig, sig, message, tree, [self.fork, *extra_parents])
            r.create_reference(self.branch, oid, force=True)
        self.head = oid
        return oid

    def checkout_all(self) -> None:
        """Materialise the whole tree of the sandbox's head (root-level tests need it)."""
        git.run_git(["reset", "--hard", "--quiet", str(self.head)], cwd=self.path)

    def close(self) -> None:
        """Remove the worktree and its ephemeral branch; never raises."""
        remove_worktree(self.repo, self.path)
        delete_ref(self.repo, self.branch)


# ``git worktree add`` reads every other worktree's admin directory; one being written by
# a concurrent add makes it fail ("failed to read .../commondir"). Adds are serialised in
# this process and retried briefly against other processes.
_ADD_LOCK = threading.Lock()
_ADD_ATTEMPTS = 6


def open_sandbox(repo: Repo, run: str, n: int, fork: pygit2.Oid) -> Sandbox:
    path = sandbox_root() / f"astm-{run}-{n}"
    branch = tmp_branch(run, n)
    args = ["worktree", "add", "--quiet", "--no-checkout", "--lock", "-b",
            branch.removeprefix("refs/heads/"), str(path), str(fork)]
    for attempt in range(_ADD_ATTEMPTS):
        with _ADD_LOCK:
            proc = git.run_git(args, cwd=repo.workdir, check=False)
        if proc.returncode == 0:
            return Sandbox(repo, run, n, fork, path, branch)
        transient = "failed to read" in proc.stderr or "could not lock" in proc.stderr.lower()
        if not transient or attempt == _ADD_ATTEMPTS - 1:
            break
        # Undo a half-made add before trying again, then back off a little.
        remove_worktree(repo, path)
        delete_ref(repo, branch)
        time.sleep(0.02 * (attempt + 1) + random.random() * 0.02)
    err = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
    raise git.GitError(f"cannot open a sandbox for run {run}: {err}")


def remove_worktree(repo: Repo, path: Path) -> None:
    """Remove one worktree astm made, even if its directory is already gone."""
    # What ``git worktree remove --force --force`` does, without its subprocess: the
    # folder, then the admin directory (which holds the lock) of this worktree only.
    admin = admin_dir_of(repo, path)
    shutil.rmtree(path, ignore_errors=True)
    if admin is not None and admin.exists():
        shutil.rmtree(admin, ignore_errors=True)


def admin_dir_of(repo: Repo, path: Path) -> Path | None:
    """``.git/worktrees/<name>`` of the worktree at ``path`` (only that one)."""
    wt_root = repo.common / "worktrees"
    if not wt_root.is_dir():
        return None
    want = os.path.realpath(path)
    for admin in wt_root.iterdir():
        gitdir = admin / "gitdir"
        try:
            target = gitdir.read_text().strip()
        except OSError:
            continue
        if os.path.realpath(os.path.dirname(target)) == want:
            return admin
    return None


def delete_ref(repo: Repo, name: str) -> None:
    with git.LOCK:
        try:
            repo.repo.references.delete(name)
        except (KeyError, pygit2.GitError):
            pass
