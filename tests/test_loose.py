"""Commits written as loose objects outside the interpreter lock (astm/workspace/loose.py):
the same ids as pygit2's, readable by git, and pygit2 for every case they do not cover."""

from __future__ import annotations

import functools
import os
import stat
import threading
from pathlib import Path

import pygit2
import pytest
from conftest import git, make_repo

from astm.workspace import git as agit
from astm.workspace import loose

FILES = {
    "a.py": "x = 1\n",
    "src/pkg/m.py": "def f():\n    return 1\n",
    "src/pkg/z.py": "z = 0\n",
    "src/other.py": "o = 1\n",
    "run.sh": "#!/bin/sh\necho hi\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> pygit2.Repository:
    path = make_repo(tmp_path / "r", FILES)
    (path / "run.sh").chmod(0o755)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "exec")
    return pygit2.Repository(str(path))


def by_pygit2(repo: pygit2.Repository, path: str, data: bytes, parents: list[pygit2.Oid],
              sig: pygit2.Signature, message: str) -> pygit2.Oid:
    base = repo.head.peel(pygit2.Commit).tree
    tree = agit.write_tree(repo, base, {path: data})
    return repo.create_commit(None, sig, sig, message, tree, parents)


@pytest.mark.parametrize("path", ["a.py", "src/pkg/m.py", "src/other.py", "run.sh"])
@pytest.mark.parametrize(("name", "offset", "message"), [
    ("astm", 0, "astm node a.py::f\n\nmake it return 2\n"),
    ("Zoë Ærø", -330, "no newline at the end"),
    ("A. N. Other", 765, "two\n\nparagraphs\n"),
])
def test_the_same_commit_as_pygit2(repo: pygit2.Repository, path: str, name: str, offset: int, message: str) -> None:
    fork = repo.head.target
    extra = by_pygit2(repo, "a.py", b"y = 2\n", [fork], pygit2.Signature("x", "x@y", 5, 0), "side")
    sig = pygit2.Signature(name, "someone@example.org", 1_790_000_000, offset)
    data = b"# new bytes\n" * 50 + path.encode()
    levels = loose.path_trees(repo, repo[fork].peel(pygit2.Commit).tree.id, path)
    assert levels is not None and len(levels) == path.count("/") + 1
    store = functools.partial(loose.write_object, agit.objects_of(repo))
    ours = loose.commit_file(store, levels, store(b"blob", data), [fork, extra], sig, message)
    assert ours == by_pygit2(repo, path, data, [fork, extra], sig, message)
    workdir = Path(repo.workdir)
    assert git(workdir, "show", f"{ours}:{path}").encode() == data.rstrip(b"\n")
    if path == "run.sh":  # the mode is the fork's
        assert git(workdir, "ls-tree", str(ours), path).startswith("100755 blob")
    git(workdir, "fsck", "--strict", "--no-dangling")


def test_commit_detached_writes_the_loose_objects_of_a_file(repo: pygit2.Repository) -> None:
    fork = repo.head.target
    oid = agit.commit_detached(repo, fork, {"src/pkg/m.py": b"def f():\n    return 2\n"}, "astm node m\n")
    commit = repo[oid]
    assert commit.parent_ids == [fork]
    assert commit.tree["src/pkg/m.py"].data == b"def f():\n    return 2\n"
    assert commit.tree["src/pkg/z.py"].id == repo[fork].peel(pygit2.Commit).tree["src/pkg/z.py"].id
    objects = Path(agit.objects_of(repo))
    written = objects / str(oid)[:2] / str(oid)[2:]
    assert written.is_file() and stat.S_IMODE(written.stat().st_mode) == 0o444
    assert not list(objects.glob("tmp_obj_*"))
    # The same bytes again: the same id, the object only freshened.
    os.utime(written, (0, 0))
    blob = commit.tree["src/pkg/m.py"].id
    assert loose.write_object(str(objects), b"blob", b"def f():\n    return 2\n") == str(blob)
    blob_file = objects / str(blob)[:2] / str(blob)[2:]
    os.utime(blob_file, (0, 0))
    loose.write_object(str(objects), b"blob", b"def f():\n    return 2\n")
    assert blob_file.stat().st_mtime > 0


@pytest.mark.parametrize("path", ["new.py", "src/pkg/new/m.py", "a.py/x", "link.py", "sub/x.py"])
def test_what_it_does_not_cover_goes_to_pygit2(tmp_path: Path, path: str) -> None:
    workdir = make_repo(tmp_path / "r", FILES)
    (workdir / "link.py").symlink_to("a.py")
    git(workdir, "add", "-A")
    git(workdir, "commit", "-q", "-m", "link")
    repo = pygit2.Repository(str(workdir))
    root = repo.head.peel(pygit2.Commit).tree.id
    if path == "sub/x.py":  # a submodule's entry: a commit where a folder would be
        builder = repo.TreeBuilder(repo[root])
        builder.insert("sub", repo.head.target, pygit2.enums.FileMode.COMMIT)
        root = builder.write()
    assert loose.path_trees(repo, root, path) is None


def test_a_shared_repository_goes_to_pygit2(repo: pygit2.Repository) -> None:
    root = repo.head.peel(pygit2.Commit).tree.id
    assert loose.path_trees(repo, root, "a.py") is not None
    git(Path(repo.workdir), "config", "core.sharedRepository", "group")
    again = pygit2.Repository(repo.workdir)
    assert loose.path_trees(again, root, "a.py") is None
    oid = agit.commit_detached(again, again.head.target, {"a.py": b"x = 3\n"}, "m")  # pygit2 wrote it
    assert again[oid].tree["a.py"].data == b"x = 3\n"


def test_threads_writing_at_once(repo: pygit2.Repository) -> None:
    fork = repo.head.target
    found: list[pygit2.Oid] = []

    def leaf(i: int) -> None:
        found.append(agit.commit_detached(repo, fork, {"src/pkg/m.py": b"x = %d\n" % (i % 4)}, f"node {i % 4}"))

    threads = [threading.Thread(target=leaf, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 16
    assert {repo[o].tree["src/pkg/m.py"].data for o in found} == {b"x = %d\n" % i for i in range(4)}
    assert not list(Path(agit.objects_of(repo)).glob("tmp_obj_*"))
    git(Path(repo.workdir), "fsck", "--strict", "--no-dangling")
