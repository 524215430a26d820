"""Leaf commits held in memory and written as one pack (astm/workspace/packs.py): the pack
and index are git's own, byte for byte, and nothing that needs them is made before them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2
import pytest
from conftest import git, make_repo

from astm.workspace import git as agit
from astm.workspace import packs

FILES = {"a.py": "x = 1\n", "src/pkg/m.py": "def f():\n    return 1\n", "src/z.py": "z = 0\n"}


@pytest.fixture
def repo(tmp_path: Path) -> pygit2.Repository:
    return pygit2.Repository(str(make_repo(tmp_path / "r", FILES)))


def packs_of(repo: pygit2.Repository) -> list[Path]:
    return sorted(Path(agit.objects_of(repo), "pack").glob("pack-*.pack"))


def test_the_index_is_the_one_git_makes(repo: pygit2.Repository, tmp_path: Path) -> None:
    pending = packs.Pending(agit.objects_of(repo))
    ids = [pending.add(b"blob", b"%d\n" % i * (i * 37)) for i in range(300)]  # sizes 0 to 33 kB
    ids.append(pending.add(b"blob", b"".join(b"%d" % i for i in range(40000))))  # a size of 5 bytes' header
    ids.append(pending.add(b"tree", bytes(repo.head.peel(pygit2.Commit).tree.read_raw())))
    assert pending.add(b"blob", b"1\n" * 37) == ids[1]  # held once
    pending.flush()
    (pack,) = packs_of(repo)
    theirs = tmp_path / "theirs.idx"
    subprocess.run(["git", "index-pack", "-o", str(theirs), str(pack)], check=True, capture_output=True)
    assert pack.with_suffix(".idx").read_bytes() == theirs.read_bytes()
    subprocess.run(["git", "verify-pack", str(pack)], check=True, capture_output=True)
    for hexid in ids:
        assert hexid in repo  # libgit2 finds the new pack by itself
    assert str(repo.create_blob(b"%d\n" % 5 * (5 * 37))) == ids[5]
    pending.flush()  # nothing held: no second pack
    assert len(packs_of(repo)) == 1
    assert not list(pack.parent.glob("tmp_*"))


def test_sizes_take_as_many_header_bytes_as_git_reads() -> None:
    assert packs._header(3, 15) == bytes([0x3F])
    assert packs._header(3, 16) == bytes([0xB0, 0x01])
    assert packs._header(1, 0x12345) == bytes([0x95, 0xB4, 0x24])


def test_a_leaf_commit_waits_for_the_commit_above_it(repo: pygit2.Repository) -> None:
    fork = repo.head.target
    old = b"def f():\n    return 1\n"
    leaf = agit.commit_pending(repo, fork, "src/pkg/m.py", (old, 0, len(old), b"def f():\n    return 2\n"), "node f")
    assert leaf is not None
    assert leaf not in repo and packs_of(repo) == []  # held, not written
    overlay = agit.commit_detached(repo, fork, {"src/pkg/m.py": b"def f():\n    return 2\n"}, "compose", (leaf,))
    assert repo[overlay].parent_ids == [fork, leaf]  # written first, so the parent is kept
    assert len(packs_of(repo)) == 1
    git(Path(repo.workdir), "update-ref", "refs/heads/check", str(overlay))
    git(Path(repo.workdir), "fsck", "--strict", "--no-dangling")


def test_a_pruned_leaf_commit_is_left_out_of_the_overlay(repo: pygit2.Repository) -> None:
    fork = repo.head.target
    leaf = agit.commit_pending(repo, fork, "a.py", (b"x = 1\n", 4, 5, b"2"), "node")
    assert leaf is not None
    agit.pending_of(repo).flush()
    workdir = Path(repo.workdir)
    git(workdir, "gc", "--quiet", "--prune=now")  # the pack's objects are on no ref: gone
    assert git(workdir, "cat-file", "-t", str(leaf), check=False) == ""
    again = pygit2.Repository(str(workdir))
    overlay = agit.commit_detached(again, fork, {"a.py": b"x = 2\n"}, "compose", (leaf,))
    assert again[overlay].parent_ids == [fork]
    assert again[overlay].tree["a.py"].data == b"x = 2\n"


def test_a_new_file_is_not_taken(repo: pygit2.Repository) -> None:
    assert agit.commit_pending(repo, repo.head.target, "new.py", (b"", 0, 0, b"x = 1\n"), "node") is None


def test_a_leaf_s_blob_is_a_delta_git_reads(repo: pygit2.Repository, tmp_path: Path) -> None:
    base = b"".join(b"line %d of a file of more than 64 KiB\n" % i for i in range(4000))
    edits = [
        (0, 0, b"# inserted at the top\n"),
        (100, 120, b"x" * 300),  # a text longer than one insert instruction
        (70000, 70100, b""),  # a deletion past 64 KiB
        (len(base) - 10, len(base), b"the end\n"),
        (50, 60, base[50:60]),  # no change: the base itself
    ]
    pending = packs.Pending(agit.objects_of(repo))
    ids = [pending.add_edit(base, a, b, text) for a, b, text in edits]
    other = b"another base\n" * 10
    ids.append(pending.add_edit(other, 0, 7, b"a second"))
    pending.flush()
    (pack,) = packs_of(repo)
    theirs = tmp_path / "theirs.idx"
    subprocess.run(["git", "index-pack", "-o", str(theirs), str(pack)], check=True, capture_output=True)
    assert pack.with_suffix(".idx").read_bytes() == theirs.read_bytes()
    verified = subprocess.run(["git", "verify-pack", "-v", str(pack)], check=True, capture_output=True, text=True)
    assert verified.stdout.count(" blob ") == 7  # two bases whole, five deltas
    assert "chain length = 1: 5 objects" in verified.stdout
    workdir = Path(repo.workdir)
    for hexid, (a, b, text) in zip(ids, [*edits, (0, 7, b"a second")], strict=True):
        source = other if hexid == ids[-1] else base
        want = source[:a] + text + source[b:]
        assert repo[hexid].data == want
        shown = subprocess.run(["git", "cat-file", "blob", hexid], cwd=workdir, check=True, capture_output=True)
        assert shown.stdout == want
    assert ids[4] == str(repo.create_blob(base))
