"""The hook's staged reader (``astm.hook.staged``: git plumbing, no pygit2) against the
pygit2 view it stands in for (``astm.workspace.index``), on real repositories: both must
see the same files, bases, renames, skips and state. Plus what a commit's hook run loads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GIT_ENV, git, make_repo

from astm.hook.staged import Staged
from astm.workspace.index import open_staged

BASE = {"a.py": "def a():\n    return 1\n", "b.toml": "[t]\nk = 1\n", "gone.py": "x = 1\n"}


def stage(repo: Path, files: dict[str, str | bytes]) -> None:
    for rel, data in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    git(repo, "add", "--", *files)


def both(repo: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None) -> tuple[object, object]:
    """What each reader sees at ``repo`` (under a hook's ``env``), as comparable tuples."""
    monkeypatch.chdir(repo)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    light, full = Staged(repo), open_staged(repo)

    def seen(changes: object) -> object:
        files = sorted((f.path, f.data, f.bases, f.old_path, int(f.mode)) for f in changes.files)  # type: ignore[attr-defined]
        return files, sorted(changes.skipped)  # type: ignore[attr-defined]

    return (seen(light.changes(lambda p: True)), light.state), (seen(full.changes(lambda p: True)), full.state)


def test_added_changed_renamed_deleted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r", {**BASE, "long.py": "def f():\n    return 1\n" * 20})
    stage(repo, {"a.py": "def a():\n    return 2\n", "new/c.py": "y = 2\n"})
    git(repo, "rm", "-q", "gone.py")
    git(repo, "mv", "long.py", "moved.py")
    stage(repo, {"moved.py": "def f():\n    return 1\n" * 19 + "def f():\n    return 9\n"})
    light, full = both(repo, monkeypatch)
    assert light == full
    files = {f[0]: f for f in light[0][0]}  # type: ignore[index]
    assert set(files) == {"a.py", "new/c.py", "moved.py"}
    assert files["moved.py"][3] == "long.py" and files["moved.py"][2][0].startswith(b"def f()")
    assert files["new/c.py"][2] == (None,) and files["a.py"][2] == (BASE["a.py"].encode(),)


def test_first_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    stage(repo, {"a.py": "x = 1\n", "sub/b.toml": "[t]\n"})
    light, full = both(repo, monkeypatch)
    assert light == full and [f[2] for f in light[0][0]] == [(), ()]  # type: ignore[index]


def test_skips_links_binaries_submodules_and_big_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r", BASE)
    (repo / "link.py").symlink_to("a.py")
    stage(repo, {"bin.py": b"\x00\x01 def", "big.toml": b"# x\n" * (5 * 1024 * 1024 // 4 + 1)})
    git(repo, "add", "link.py")
    sub = make_repo(tmp_path / "sub", {"s.py": "s = 1\n"})
    sha = git(sub, "rev-parse", "HEAD")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{sha},mod.py")
    light, full = both(repo, monkeypatch)
    assert light == full
    assert dict(light[0][1]) == {  # type: ignore[index]
        "link.py": "symbolic link", "bin.py": "binary", "big.toml": "larger than 5 MB", "mod.py": "submodule",
    }


def test_a_conflicted_merge_and_a_merged_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r", BASE)
    git(repo, "checkout", "-q", "-b", "topic")
    stage(repo, {"a.py": "def a():\n    return 'topic'\n", "t.py": "t = 1\n"})
    git(repo, "commit", "-q", "-m", "topic")
    git(repo, "checkout", "-q", "main")
    stage(repo, {"a.py": "def a():\n    return 'main'\n", "m.py": "m = 1\n"})
    git(repo, "commit", "-q", "-m", "main")
    subprocess.run(["git", "merge", "-q", "--no-ff", "--no-commit", "topic"], cwd=repo, capture_output=True,
                   env={**os.environ, **GIT_ENV}, check=False)
    light, full = both(repo, monkeypatch)
    assert light == full and light[1] == "merge"  # type: ignore[index]
    assert ("a.py", "unmerged (conflicted) path") in light[0][1]  # type: ignore[index]
    t = next(f for f in light[0][0] if f[0] == "t.py")  # type: ignore[index]
    assert t[2] == (None, b"t = 1\n")  # HEAD lacks it, the merge head has it


def test_the_index_a_hook_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``git commit PATHS`` hands the hook another index (GIT_INDEX_FILE, relative)."""
    repo = make_repo(tmp_path / "r", BASE)
    stage(repo, {"a.py": "def a():\n    return 3\n"})
    other = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "next-index.lock")}
    subprocess.run(["git", "read-tree", "HEAD"], cwd=repo, env=other, check=True)
    (repo / "z.py").write_text("z = 1\n")
    subprocess.run(["git", "add", "z.py"], cwd=repo, env=other, check=True)
    light, full = both(repo, monkeypatch, {"GIT_INDEX_FILE": ".git/next-index.lock"})
    assert light == full and [f[0] for f in light[0][0]] == ["z.py"]  # type: ignore[index]


def test_from_a_subfolder_every_path_is_the_repository_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "main")
    stage(fresh, {"top.py": "x = 1\n", "sub/a.py": "y = 1\n"})
    repo = make_repo(tmp_path / "r", {**BASE, "sub/keep.txt": "k\n", "pyproject.toml": "[tool.astm]\n"})
    stage(repo, {"top.py": "x = 1\n", "sub/a.py": "y = 1\n"})
    for where in (fresh, repo):
        light, full = both(where / "sub", monkeypatch)
        assert light == full and [f[0] for f in light[0][0]] == ["sub/a.py", "top.py"]  # type: ignore[index]
    assert Staged(repo / "sub").at_head("pyproject.toml") == b"[tool.astm]\n"


def test_states_and_head_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r", {**BASE, "pyproject.toml": "[tool.astm]\n"})
    monkeypatch.chdir(repo)
    staged = Staged(repo)
    assert staged.state is None and staged.at_head("pyproject.toml") == b"[tool.astm]\n"
    assert staged.at_head("nope.toml") is None and staged.staged_blob("b.toml") == b"[t]\nk = 1\n"
    (repo / ".git" / "rebase-merge").mkdir()
    (repo / ".git" / "rebase-merge" / "interactive").write_text("")
    assert Staged(repo).state == open_staged(repo).state == "rebase interactive"


def test_head_is_read_with_the_directories(tmp_path: Path) -> None:
    """HEAD's commit comes from the same ``git rev-parse`` as the directories: none before
    the first commit, and a work-tree file called ``HEAD`` does not make it ambiguous."""
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    assert Staged(repo).head is None
    repo = make_repo(tmp_path / "r2", {**BASE, "HEAD": "a file named like the ref\n"})
    view = Staged(repo)
    assert view.head == git(repo, "rev-parse", "HEAD") and view.workdir == repo.resolve()
    stage(repo, {"pyproject.toml": "[project]\nname = 'x'\n", "a.py": "def a():\n    return 3\n"})
    view = Staged(repo)
    assert [f.path for f in view.changes(lambda p: p.endswith(".py")).files] == ["a.py"]
    assert view.staged_blob("pyproject.toml") == b"[project]\nname = 'x'\n"  # read with the changes


def test_bare_and_outside(tmp_path: Path) -> None:
    from astm.errors import NotARepository, UsageError

    with pytest.raises(NotARepository):
        Staged(tmp_path)
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    with pytest.raises(UsageError):
        Staged(bare)


def test_a_commit_s_check_loads_no_libgit2(tmp_path: Path) -> None:
    """A clean commit's hook run reads git with git: pygit2 (and ssl) is never imported."""
    repo = make_repo(tmp_path / "r", BASE)
    stage(repo, {"a.py": "def a():\n    return 2\n", "b.toml": "[t]\nk = 2\n"})
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "astm", "hook", "run", "--no-fix"],
                          cwd=repo, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    for heavy in ("pygit2", "ssl", "openai", "astm.engine", "concurrent.futures", "click",
                  # files that parse need only each language's syntax check (astm.lang.problems_of)
                  "astm.lang.python.language", "astm.lang.toml.language", "astm.core.result"):
        assert heavy not in imported, heavy


def test_the_fast_path_leaves_help_and_bad_options_to_click(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", BASE)
    stage(repo, {"a.py": "def a(:\n"})
    res = astm("hook", "run", "--bogus", cwd=repo)
    assert res.code == 2 and "No such option '--bogus'" in res.err
    res = astm("hook", "run", "--help", cwd=repo)
    assert res.code == 0 and "--fix / --no-fix" in res.out
    res = astm("hook", "run", "--no-fix", "--", "a.py", cwd=repo)
    assert res.code == 1 and "a.py" in res.out
    assert astm("hook", "run", "b.toml", cwd=repo).code == 0  # only FILES among the staged
