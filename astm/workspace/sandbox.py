"""Node sandboxes: a git worktree with a detached HEAD, materialised sparsely.

A sandbox is what ``git worktree add --no-checkout --lock --detach`` makes, of its parent's
commit: no checkout at all, so opening one costs the same in a repository of ten files or
ten thousand. Its HEAD holds its commit against ``git gc`` (git counts every worktree's
HEAD); a branch per sandbox (``refs/heads/astm/tmp/<run>/<n>``, before) cost libgit2 1-8 ms
to make and 0.5-3 ms to delete, more than the rest of the sandbox. Only the files a node's
validators need are written into it. Commits are made with pygit2 from trees, never from the sandbox's index,
so they run no hooks and never touch the user's index.

The worktree is made by astm itself, not by ``git worktree add``: git writes the admin
directory ``.git/worktrees/<name>`` file by file, and any other git process that lists
worktrees meanwhile (the user's ``git worktree list``, ``git gc``, ``git checkout``, or
another run) dies with "failed to read .../commondir". astm writes the admin directory
under ``.git/astm/staging/`` and renames it into place, so others see all of it or none.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from astm.workspace import git
from astm.workspace.git import check_repo_path
from astm.workspace.repo import Repo


def sandbox_root() -> Path:
    return Path(tempfile.gettempdir())


@dataclass
class Sandbox:
    repo: Repo
    run: str
    n: int
    fork: pygit2.Oid
    path: Path
    head: pygit2.Oid = field(init=False)
    # False once it holds more than astm wrote (a full checkout): never reused (depot.py)
    reusable: bool = field(init=False, default=True)
    _tree: pygit2.Tree | None = field(init=False, default=None, repr=False)  # the fork's
    # (commit, path) already written by ``materialise``: a sandbox a leaf gave back to
    # the next (agents.boxes) holds them already
    _have: set[tuple[pygit2.Oid, str]] = field(init=False, default_factory=set, repr=False)
    _first_party: dict[tuple[str, ...], list[str]] = field(init=False, default_factory=dict, repr=False)
    # what ``materialise`` wrote from the tree, as (blob, mode, size, mtime): what ``reset``
    # may keep for the next fork if both the blob and the file are unchanged
    _kept: dict[str, tuple[pygit2.Oid, int, int, int]] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.head = self.fork

    def write(self, relpath: str, data: bytes) -> Path:
        """Materialise one file (atomically) in the sandbox, with its mode in the fork's
        tree (an executable stays executable: validators look at the bit)."""
        target = self.path / check_repo_path(relpath)
        self._have = {h for h in self._have if h[1] != relpath}  # no longer the commit's
        self._kept.pop(relpath, None)
        target.parent.mkdir(parents=True, exist_ok=True)
        # One temp name per writer: two writes to one file must never share it.
        tmp = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.astm-tmp")
        tmp.write_bytes(data)
        if self.executable(relpath):
            tmp.chmod(0o755)
        os.replace(tmp, target)
        return target

    def executable(self, relpath: str) -> bool:
        with git.LOCK:
            # The fork's tree, peeled once: a build writes every input into every module's
            # sandbox, and peeling it each time was most of a write's cost.
            if self._tree is None:
                self._tree = self.repo.repo[self.fork].peel(pygit2.Tree)
            try:
                return self._tree[relpath].filemode == pygit2.enums.FileMode.BLOB_EXECUTABLE
            except KeyError:
                return False

    def missing(self, relpaths: list[str], commit: pygit2.Oid | None = None) -> list[str]:
        """The ``relpaths`` that ``materialise`` would still write: cheap, for a caller on
        the event loop to skip a thread hop when there is nothing to do."""
        at = commit or self.fork
        return [p for p in relpaths if (at, p) not in self._have]

    def materialise(self, relpaths: list[str], commit: pygit2.Oid | None = None) -> None:
        """Write ``relpaths`` as they are at ``commit`` (default: the fork) into the sandbox."""
        at = commit or self.fork
        relpaths = self.missing(relpaths, at)
        if not relpaths:
            return
        with git.LOCK:
            tree = self.repo.repo[at].peel(pygit2.Tree)
            blobs = {}
            for p in relpaths:
                if p in tree and tree[p].type_str == "blob" and tree[p].filemode != git.FILEMODE_LINK:
                    blobs[p] = (self.repo.repo[tree[p].id].data, tree[p].id, tree[p].filemode)
        for p, (data, oid, mode) in blobs.items():
            st = self.write(p, data).stat()
            self._kept[p] = (oid, mode, st.st_size, st.st_mtime_ns)
        self._have.update((at, p) for p in relpaths if p not in blobs)  # absent: nothing to write again
        self._have.update((at, p) for p in blobs)

    def first_party_known(self, roots: list[str], limit: int = 500) -> list[str] | None:
        """``first_party``'s answer if it is known already (None: ask ``first_party``)."""
        return self._first_party.get((*roots, str(limit)))

    def first_party(self, roots: list[str], limit: int = 500) -> list[str]:
        """What tells a linter which names are the project's own, under each source root
        at the fork: each top-level package's ``__init__.py`` and each top-level module
        (ruff's isort looks for ``<root>/<name>``). Far smaller than a checkout."""
        key = (*roots, str(limit))
        if key not in self._first_party:
            self._first_party[key] = self._find_first_party(roots, limit)
        return self._first_party[key]

    def _find_first_party(self, roots: list[str], limit: int) -> list[str]:
        out: list[str] = []
        with git.LOCK:
            top = self.repo.repo[self.fork].peel(pygit2.Tree)
            for root in roots:
                root = root.strip("/").removeprefix("./")
                if root in ("", "."):
                    tree, prefix = top, ""
                elif root in top and top[root].type_str == "tree":
                    tree, prefix = self.repo.repo[top[root].id].peel(pygit2.Tree), root + "/"
                else:
                    continue
                for entry in tree:
                    if entry.type_str == "tree":
                        sub = self.repo.repo[entry.id].peel(pygit2.Tree)
                        if "__init__.py" in sub:
                            out.append(f"{prefix}{entry.name}/__init__.py")
                    elif entry.type_str == "blob" and entry.name.endswith((".py", ".pyi")):
                        out.append(f"{prefix}{entry.name}")
                    if len(out) >= limit:
                        return out
        return out

    def commit(
        self,
        changes: Mapping[str, bytes | None],
        message: str,
        extra_parents: tuple[pygit2.Oid, ...] = (),
    ) -> pygit2.Oid:
        """Commit ``changes`` on top of the fork, with ``extra_parents`` (an overlay commit),
        and make it the sandbox's HEAD (which holds it until the sandbox goes)."""
        oid = git.commit_detached(self.repo.repo, self.fork, changes, message, extra_parents)
        self._point(oid)
        self.head = oid
        return oid

    def checkout_all(self, commit: pygit2.Oid | None = None) -> None:
        """Materialise the whole tree of ``commit`` (default: the sandbox's head) and make
        it the head (root-level tests need it)."""
        at = commit or self.head
        self.reusable = False  # a whole checkout: removed, never swept for reuse
        git.run_git(["reset", "--hard", "--quiet", str(at)], cwd=self.path)
        self.head = at

    def reset(self, repo: Repo, fork: pygit2.Oid) -> None:
        """Make a sandbox an earlier run left ready for another at ``fork`` (depot.py):
        everything in its folder goes but what ``materialise`` wrote and both the fork
        and the file still hold as written (the project's configuration, mostly)."""
        if not (self.path / ".git").is_file() or not self._admin().is_dir():
            raise OSError(f"sandbox {self.path} is gone")
        with git.LOCK:
            tree = repo.repo[fork].peel(pygit2.Tree)
            keep = set()
            for rel, (oid, mode, size, mtime) in self._kept.items():
                try:
                    entry = tree[rel]
                except KeyError:
                    continue
                if entry.id == oid and entry.filemode == mode:
                    keep.add(rel)
        for rel in list(keep):
            try:
                st = os.lstat(self.path / rel)
            except OSError:
                keep.discard(rel)
                continue
            if (st.st_size, st.st_mtime_ns) != self._kept[rel][2:]:
                keep.discard(rel)
        _clear(self.path, keep)
        self._point(fork)
        self.repo, self.fork, self.head, self._tree = repo, fork, fork, None
        self._have = {(fork, p) for p in keep}
        self._kept = {p: self._kept[p] for p in keep}
        self._first_party = {}

    def _admin(self) -> Path:
        return self.repo.common / "worktrees" / self.path.name

    def _point(self, oid: pygit2.Oid) -> None:
        """The worktree's detached HEAD at ``oid``, written whole (git reads it any time)."""
        admin = self._admin()
        tmp = admin / f"HEAD.{os.getpid()}-{threading.get_ident()}.astm-tmp"
        tmp.write_text(f"{oid}\n", encoding="utf-8")
        os.replace(tmp, admin / "HEAD")

    def close(self) -> None:
        """Remove the worktree; never raises."""
        remove_worktree(self.repo, self.path)


def _clear(root: Path, keep: set[str]) -> None:
    """Delete everything under ``root`` but ``.git`` and the relative paths in ``keep``."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        rel_dir = os.path.relpath(dirpath, root)
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if rel not in keep and not (rel_dir == "." and name == ".git"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(dirpath, name))
        for name in dirnames:
            full = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):  # not empty: it holds a kept file
                if os.path.islink(full):
                    os.unlink(full)
                else:
                    os.rmdir(full)


STAGING = "astm/staging"  # under the common dir: admin directories being built
# astm's own mark in a sandbox's admin directory, written first: what ``astm gc`` goes by
# (never a branch's or a folder's name, which anyone can choose).
MARKER = "astm-sandbox.json"


def read_marker(admin: Path) -> dict[str, object] | None:
    """The marker of an admin directory astm made, or None (absent, torn or foreign)."""
    try:
        data = json.loads((admin / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("run"), str) or not isinstance(data.get("n"), int):
        return None
    if admin.name != f"astm-{data['run']}-{data['n']}":
        return None
    return data


def open_sandbox(repo: Repo, run: str, n: int, fork: pygit2.Oid) -> Sandbox:
    """A locked worktree at ``<tmp>/astm-<run>-<n>``, its HEAD detached at ``fork``."""
    path = sandbox_root() / f"astm-{run}-{n}"
    name = path.name
    staging = repo.common / STAGING / name
    admin = repo.common / "worktrees" / name
    made_path = False
    try:
        # The admin directory is written where git does not look and renamed into place
        # last; a crash before that leaves only what ``astm gc`` finds (staging).
        staging.mkdir(parents=True)
        marker = {"run": run, "n": n, "pid": os.getpid(), "host": socket.gethostname()}
        _write(staging / MARKER, json.dumps(marker) + "\n")
        gitdir = Path(os.path.realpath(path)) / ".git"
        _write(staging / "gitdir", f"{gitdir}\n")
        _write(staging / "commondir", "../..\n")
        _write(staging / "HEAD", f"{fork}\n")
        _write(staging / "locked", f"astm run {run} (pid {os.getpid()})\n")
        path.mkdir()
        made_path = True
        _write(path / ".git", dot_git(admin))
        admin.parent.mkdir(exist_ok=True)
        os.rename(staging, admin)
    except (OSError, pygit2.GitError, ValueError) as exc:
        # Undone in the reverse order: the staging entry, which names the folder, goes last
        # (a kill midway leaves it for ``astm gc``, never a folder nothing names).
        if made_path and not admin.exists():
            remove_folder(repo, path)
        shutil.rmtree(staging, ignore_errors=True)
        raise git.GitError(f"cannot open a sandbox for run {run}: {exc}") from None
    return Sandbox(repo, run, n, fork, path)


def _write(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)


def remove_worktree(repo: Repo, path: Path) -> None:
    """Remove one worktree astm made, even if its directory is already gone."""
    # What ``git worktree remove --force --force`` does, without its subprocess, and safe
    # against a kill at any point: the admin directory is first moved back to staging in
    # one rename (git stops seeing the worktree at once), then the folder and the admin
    # directory go. A kill midway leaves a whole staging entry, which ``astm gc`` finishes.
    admin = admin_dir_of(repo, path)
    if admin is not None:
        parked = repo.common / STAGING / admin.name
        try:
            parked.parent.mkdir(parents=True, exist_ok=True)
            os.rename(admin, parked)
            admin = parked
        except OSError:
            pass  # removed in place below
    remove_folder(repo, path)
    if admin is not None and admin.exists():
        shutil.rmtree(admin, ignore_errors=True)


def dot_git(admin: Path) -> str:
    """The ``.git`` file of the sandbox whose admin directory is ``admin``."""
    return f"gitdir: {admin}\n"


def owns_folder(repo: Repo, path: Path) -> bool:
    """Whether ``path`` is a sandbox folder astm made: its ``.git`` file names the admin
    directory of its own name; or a kill cut its making or removal short (see below).
    A folder someone else made under a sandbox's name is never ours to delete."""
    try:
        if not path.is_dir() or path.is_symlink():
            return False
        entries = [e.name for e in os.scandir(path)]
        if not entries:
            return True  # a kill between mkdir and writing .git, or before the last rmdir
        dot = path / ".git"
        if ".git" not in entries or dot.is_symlink() or not dot.is_file():
            return False
        text = dot.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    admin = repo.common / "worktrees" / path.name
    if text.startswith("gitdir: "):
        named = text[len("gitdir: ") :].strip()
        if named and os.path.realpath(named) == os.path.realpath(admin):
            return True
    # Killed between creating .git and writing it: the folder holds that one file, cut
    # short of exactly the line astm writes (open_sandbox writes .git right after mkdir).
    wanted = (dot_git(admin), dot_git(Path(os.path.realpath(admin))))
    return entries == [".git"] and any(w.startswith(text) for w in wanted)


def remove_folder(repo: Repo, path: Path) -> bool:
    """Delete a sandbox folder if astm provably made it; True if it is gone.

    ``.git`` goes last: until then a kill midway leaves a folder that still proves it is
    astm's (``owns_folder``), so ``astm gc`` can finish the removal."""
    if not os.path.lexists(path):
        return True
    if not owns_folder(repo, path):
        return False
    try:
        entries = list(os.scandir(path))
    except OSError:
        entries = []
    for entry in entries:
        if entry.name == ".git":
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass
    with contextlib.suppress(OSError):
        os.unlink(path / ".git")
    shutil.rmtree(path, ignore_errors=True)  # empty now, unless something failed above
    return not os.path.lexists(path)


def admin_dir_of(repo: Repo, path: Path) -> Path | None:
    """``.git/worktrees/<name>`` of the worktree at ``path`` (only that one)."""
    wt_root = repo.common / "worktrees"
    if not wt_root.is_dir():
        return None
    want = os.path.realpath(path)
    # astm names a sandbox's admin directory after its folder (open_sandbox): look there
    # first; scanning every worktree for each removal made a run's cleanup quadratic.
    named = wt_root / path.name
    for admin in itertools.chain([named], (a for a in wt_root.iterdir() if a.name != path.name)):
        gitdir = admin / "gitdir"
        try:
            target = gitdir.read_text().strip()
        except OSError:
            continue
        if os.path.realpath(os.path.dirname(target)) == want:
            return admin
    return None
