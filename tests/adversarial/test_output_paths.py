"""Issue 11.2: a path astm writes on the user's word is never inside a git directory and
never through a symbolic link.

``--save-plan .git/config`` once overwrote the git config with JSON and exited 0. Every
writer (``--save-plan``, ``astm new``'s target, crash logs) goes through
``astm.workspace.paths.safe_output_path``: one line, exit 2, nothing written, nothing run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from conftest import Snapshot, git, make_repo
from kit import (
    PYPROJECT,
    RENAME,
    RULER,
    assert_one_error,
    astm_run,
    env_for,
    sandbox_dir,
    write_plan,
)


def digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` (a git directory), by content."""
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT, "docs/readme.toml": "a = 1\n"})
    (tmp_path / "outside").mkdir()
    (repo / "linkdir").symlink_to(tmp_path / "outside")  # a directory link inside the repo
    (repo / "gitlink").symlink_to(repo / ".git")  # a link to the git directory
    (repo / "plan-link.json").symlink_to(tmp_path / "outside" / "victim.json")
    (tmp_path / "outside" / "victim.json").write_text("keep me\n")
    (tmp_path / "to-git").symlink_to(repo / ".git")  # a link outside, into .git
    git(repo, "worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
    return repo


def refused_targets(tmp_path: Path, repo: Path) -> list[str]:
    return [
        ".git/config",
        ".git/hooks/x",
        ".git/HEAD",
        ".GIT/x.json",
        "docs/../.git/config",
        str(repo / ".git" / "worktrees" / "wt" / "x.json"),  # a worktree's gitdir
        "gitlink/config",  # through a link to .git
        "linkdir/plan.json",  # through a directory link inside the repository
        "plan-link.json",  # the final component is a link
        str(tmp_path / "to-git" / "config"),  # a link outside the repository, into .git
    ]


def test_save_plan_refused_inside_git_dirs_and_through_links(tmp_path: Path, repo: Path, astm: Any) -> None:
    plan = write_plan(tmp_path / "plan.json", RENAME)
    for target in refused_targets(tmp_path, repo):
        gitdir = digest(repo / ".git")
        before = Snapshot.take(repo)
        res = astm("apply", "x", "--plan", str(plan), "--save-plan", target, "--branch", "b", cwd=repo)
        assert res.code == 2, (target, res.err)
        line = assert_one_error(res.err, target)
        assert "git directory" in line or "symbolic link" in line, line
        before.assert_unchanged(repo)
        assert digest(repo / ".git") == gitdir, f"{target}: the git directory changed"
        assert (tmp_path / "outside" / "victim.json").read_text() == "keep me\n"
        assert list((tmp_path / "outside").iterdir()) == [tmp_path / "outside" / "victim.json"]


def test_save_plan_from_a_linked_worktree_and_a_separate_git_dir(tmp_path: Path, astm: Any) -> None:
    """Git directories without a ``.git`` component in their path: found by what they are."""
    gd = tmp_path / "gd"
    work = tmp_path / "w"
    work.mkdir()
    git(work, "init", "-q", "--separate-git-dir", str(gd))
    (work / "pyproject.toml").write_text(PYPROJECT)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "init")
    git(work, "worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
    plan = write_plan(tmp_path / "plan.json", RULER)
    before = digest(gd)
    config = (gd / "config").read_bytes()
    for cwd, target in (
        (work, str(gd / "config")),
        (work, str(gd / "worktrees" / "wt" / "plan.json")),
        (tmp_path / "wt", str(gd / "worktrees" / "wt" / "HEAD")),
        (tmp_path / "wt", str(gd / "refs" / "heads" / "x")),
    ):
        res = astm("apply", "x", "--plan", str(plan), "--save-plan", target, "--branch", "b", cwd=cwd)
        assert res.code == 2, (target, res.err)
        assert_one_error(res.err, "astm does not write inside a git directory")
    assert digest(gd) == before and (gd / "config").read_bytes() == config


def test_save_plan_to_an_ordinary_path_still_works(tmp_path: Path, repo: Path) -> None:
    plan = write_plan(tmp_path / "plan.json", RENAME)
    code, _, err = astm_run(
        "apply", "x", "--plan", str(plan), "--save-plan", "docs/saved.json", "--branch", "b",
        cwd=repo, env=env_for(sandbox_dir(tmp_path)),
    )
    assert code == 0, err
    assert '"replace"' in (repo / "docs" / "saved.json").read_text()


@pytest.mark.parametrize("target", [".git/x.py", "gitlink/x.py", "linkdir/x.py"])
def test_new_refuses_git_dirs_and_links(repo: Path, target: str, astm: Any) -> None:
    before = Snapshot.take(repo)
    gitdir = digest(repo / ".git")
    res = astm("new", target, "a module", cwd=repo)
    assert res.code == 2, res.err
    assert_one_error(res.err, target)
    before.assert_unchanged(repo)
    assert digest(repo / ".git") == gitdir


def test_crash_log_never_lands_in_a_git_dir(tmp_path: Path) -> None:
    """$TMPDIR inside .git: a crash (exit 70) says its log was not written there."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    (repo / ".git" / "astm").mkdir()
    (repo / ".git" / "astm" / "staging").write_text("not a folder")  # sandboxes cannot open
    tmp = repo / ".git" / "tmpdir"
    tmp.mkdir()
    plan = write_plan(tmp_path / "plan.json", RENAME)
    code, _, err = astm_run("apply", "x", "--plan", str(plan), cwd=repo, env=env_for(tmp))
    assert code == 70, err
    assert "not written" in err and "git directory" in err
    assert not [p for p in tmp.iterdir() if p.name.startswith("astm-crash")]
