"""The only place astm talks to git: pygit2 for objects and refs, the CLI for worktrees.

Every git subprocess runs with the hook-exported variables (``GIT_DIR``, ``GIT_INDEX_FILE``
...) stripped and with hooks, fsmonitor and external diff tools switched off, so a
hostile or merely unusual configuration never runs code on astm's behalf.
"""

from __future__ import annotations

import functools
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

import pygit2

from astm.errors import AstmError, NotARepository, UsageError
from astm.workspace import loose, packs

# The environment of astm's subprocesses lives in a module without pygit2: validators and
# the pre-commit hook use it without loading libgit2.
from astm.workspace.gitenv import GIT_ENV_STRIP, SAFE_CONFIG, clean_env  # noqa: F401

FILEMODE_LINK = pygit2.enums.FileMode.LINK
FILEMODE_TREE = pygit2.enums.FileMode.TREE
FILEMODE_BLOB = pygit2.enums.FileMode.BLOB

# pygit2 objects are not safe to share across threads while writing; one lock per process.
LOCK = threading.RLock()


class GitError(AstmError):
    """A git command astm ran failed (unexpected: exit 70 with a crash log)."""


def run_git(args: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["git"]
    for c in SAFE_CONFIG:
        cmd += ["-c", c]
    cmd += args
    proc = subprocess.run(
        cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, stdin=subprocess.DEVNULL,
        check=False,  # the caller decides: check=True raises GitError below
    )
    if check and proc.returncode != 0:
        err = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise GitError(f"git {args[0]} failed: {err}")
    return proc


def discover(start: Path) -> pygit2.Repository:
    """The repository containing ``start``; NotARepository if there is none."""
    try:
        found = pygit2.discover_repository(str(start))
    except pygit2.GitError:
        found = None
    if not found:
        raise NotARepository(f"not a git repository: {start}")
    try:
        # Opened from ``start``, not from the git dir found: only the ``.git`` file of a
        # separate git dir (``git init --separate-git-dir``) says where the working tree
        # is; opened from the git dir, libgit2 guesses its parent.
        return pygit2.Repository(str(start))
    except pygit2.GitError:
        return pygit2.Repository(found)


def common_dir(repo: pygit2.Repository) -> Path:
    """The shared ``.git`` directory (differs from ``repo.path`` in a linked worktree)."""
    gitdir = Path(repo.path)
    marker = gitdir / "commondir"
    if marker.is_file():
        return (gitdir / marker.read_text().strip()).resolve()
    return gitdir.resolve()


def signature(repo: pygit2.Repository) -> pygit2.Signature:
    try:
        return repo.default_signature
    except (KeyError, pygit2.GitError):
        return pygit2.Signature("astm", "astm@localhost")


def check_repo_path(rel: str) -> str:
    """A repository-relative POSIX path that stays inside the work tree and out of any
    ``.git``: no absolute path, no empty, ``.`` or ``..`` part, no backslash or NUL."""
    parts = rel.split("/")
    if (
        not rel
        or rel.startswith("/")
        or "\\" in rel
        or "\0" in rel
        or any(p in ("", ".", "..") or p.lower() == ".git" for p in parts)
    ):
        raise UsageError(f"{rel}: not a path inside the repository")
    return rel


def write_tree(
    repo: pygit2.Repository, base: pygit2.Tree | None, changes: Mapping[str, bytes | None]
) -> pygit2.Oid:
    """A new tree: ``base`` with each path set to its bytes (None removes it).

    File modes of existing entries are kept (an executable stays executable).
    """
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    for path in changes:
        check_repo_path(path)  # a tree entry named "..", ".git" or "" would corrupt history
    groups: dict[str, dict[str, bytes | None]] = {}
    for path, data in changes.items():
        head, _, rest = path.partition("/")
        if rest:
            groups.setdefault(head, {})[rest] = data
            continue
        existing = base[head] if base is not None and head in base else None
        if data is None:
            if existing is not None:
                builder.remove(head)
            continue
        mode = existing.filemode if existing is not None and existing.type_str == "blob" else FILEMODE_BLOB
        builder.insert(head, repo.create_blob(data), mode)
    for head, sub in groups.items():
        entry = base[head] if base is not None and head in base else None
        subtree = repo[entry.id] if entry is not None and entry.type_str == "tree" else None
        oid = write_tree(repo, subtree, sub)  # type: ignore[arg-type]
        if len(repo[oid]) == 0:  # type: ignore[arg-type]
            if entry is not None:
                builder.remove(head)
            continue
        builder.insert(head, oid, FILEMODE_TREE)
    return builder.write()


def commit_detached(
    repo: pygit2.Repository, fork: pygit2.Oid, changes: Mapping[str, bytes | None], message: str,
    extra_parents: tuple[pygit2.Oid, ...] = (),
) -> pygit2.Oid:
    """A commit of ``changes`` on ``fork`` (with ``extra_parents``: an overlay commit) made
    from trees, with no worktree and no ref. Leaf commits (``commit_pending``) may wait
    in memory for it: with ``extra_parents`` it writes them first (astm/workspace/packs.py).

    A node's commit needs neither: the commit above it holds it as a parent, up to the
    run's ref. Until that ref exists git's grace period for fresh objects (two weeks by
    default; ``gc.pruneExpire``) keeps it. A branch per node cost a loose ref and its
    reflog made and deleted: file system work that, for small nodes, was most of a commit."""
    if extra_parents:
        pending_of(repo).flush()  # its parents may be among the objects waiting
    with LOCK:
        base = repo[fork].peel(pygit2.Commit).tree
        sig = signature(repo)
        parents = [fork, *present(repo, extra_parents)]
        path, data = next(iter(changes.items())) if len(changes) == 1 else ("", None)
        levels = loose.path_trees(repo, base.id, check_repo_path(path)) if data is not None else None
        if levels is None or data is None:
            tree = write_tree(repo, base, changes)
            return repo.create_commit(None, sig, sig, message, tree, parents)
    # One existing file's new bytes (every leaf's and overlay's commit): written outside
    # the lock, and outside the interpreter's (astm/workspace/loose.py).
    store = functools.partial(loose.write_object, objects_of(repo))
    return loose.commit_file(store, levels, store(b"blob", data), parents, sig, message)


def commit_pending(
    repo: pygit2.Repository, fork: pygit2.Oid, path: str, edit: tuple[bytes, int, int, bytes], message: str
) -> pygit2.Oid | None:
    """A leaf's commit of ``path`` on ``fork``, its file ``edit`` = (the bytes the leaf
    read, start, end, new text): its objects are hashed here and held for the commit
    above it (``pending_of``), the blob as a delta against the bytes read. No file is
    written, so it is cheap enough for the event loop's thread. None where
    ``loose.path_trees`` is (the caller commits with ``commit_detached`` in a thread)."""
    with LOCK:
        levels = loose.path_trees(repo, repo[fork].peel(pygit2.Commit).tree.id, check_repo_path(path))
        if levels is None:
            return None
        sig = signature(repo)
    pending = pending_of(repo)
    return loose.commit_file(pending.add, levels, pending.add_edit(*edit), [fork], sig, message)


def pending_of(repo: pygit2.Repository) -> packs.Pending:
    """The objects of ``repo``'s folder waiting for a pack (one holder per folder)."""
    objects = objects_of(repo)
    with LOCK:
        if objects not in _PENDING:
            _PENDING[objects] = packs.Pending(objects)
        return _PENDING[objects]


_PENDING: dict[str, packs.Pending] = {}


def objects_of(repo: pygit2.Repository) -> str:
    """The object folder of ``repo`` (the shared one, for a linked worktree)."""
    key = repo.path
    if key not in _OBJECTS:
        _OBJECTS[key] = str(common_dir(repo) / "objects")
    return _OBJECTS[key]


_OBJECTS: dict[str, str] = {}


def present(repo: pygit2.Repository, commits: tuple[pygit2.Oid, ...]) -> list[pygit2.Oid]:
    """The ``commits`` still in the object database. A node's commit is on no ref until
    the run's ref holds it, so a ``git gc --prune=now`` run meanwhile may delete it: the
    overlay above it then goes without that parent (the provenance lacks the node's
    commit; the change, made from the bytes, is the same) rather than failing the run."""
    return [c for c in commits if c in repo]
