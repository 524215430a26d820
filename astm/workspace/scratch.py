"""Small repositories made from scratch (the demo) and diffs for display."""

from __future__ import annotations

from pathlib import Path

import pygit2

from astm.workspace import git


def init_repo(path: Path, files: dict[str, bytes], message: str = "Initial commit") -> str:
    """A new repository at ``path`` holding ``files`` in one commit on ``main``."""
    repo = pygit2.init_repository(str(path), initial_head="main")
    for rel, data in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    index = repo.index
    index.add_all()
    index.write()
    tree = index.write_tree()
    sig = pygit2.Signature("astm demo", "demo@astm.invalid")
    oid = repo.create_commit("HEAD", sig, sig, message, tree, [])
    return str(oid)


def diff_text(workdir: Path, a: str, b: str) -> str:
    """``git diff a b`` as text, computed by libgit2 (no external diff tool runs)."""
    repo = git.discover(workdir)
    old = repo.revparse_single(a).peel(pygit2.Tree)
    new = repo.revparse_single(b).peel(pygit2.Tree)
    return repo.diff(old, new, context_lines=3).patch or ""
