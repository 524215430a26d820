"""Issue 11.11: ``--branch`` follows git's rules and shadows nothing of git's.

``--branch HEAD``, ``-x``, ``FETCH_HEAD`` and ``refs/heads/main`` (which made
``refs/heads/refs/heads/main``) were accepted. Now a name must pass
``git check-ref-format --branch``, may not start with ``-`` or ``refs/``, nor be a HEAD-like
name git keeps for itself; refused up front (exit 2, one line), before anything exists.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import Snapshot, git, make_repo
from kit import PYPROJECT, RENAME, assert_one_error, write_plan

REFUSED = [
    "HEAD", "head", "FETCH_HEAD", "ORIG_HEAD", "MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD",
    "BISECT_HEAD", "REBASE_HEAD", "AUTO_MERGE", "@",
    "-x", "--force", "-",
    "refs/heads/main", "refs/tags/v1", "refs",
    "", "a..b", "a b", "x.lock", "a@{1}", "x/", "/x", "a//b", ".hidden", "x/.y", "a~1", "a^", "a:b",
    "a?b", "a*b", "a[b", "a\\b", "a\x1b[2Jb", "a\x07", "tab\there",
    "astm", "astm/tmp", "astm/tmp/x",
]
ACCEPTED = ["feature/x", "x/HEAD", "Headroom", "v1.2", "fix-123", "ünïcode"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})


def git_accepts(repo: Path, name: str) -> bool:
    proc = subprocess.run(["git", "check-ref-format", "--branch", name], cwd=repo, capture_output=True, check=False)
    return proc.returncode == 0


@pytest.mark.parametrize("name", REFUSED, ids=ascii)
def test_bad_branch_names_are_refused_up_front(tmp_path: Path, repo: Path, astm: Any, name: str) -> None:
    plan = write_plan(tmp_path / "plan.json", RENAME)
    before = Snapshot.take(repo)
    res = astm("apply", "x", "--plan", str(plan), "--branch", name, cwd=repo)
    assert res.code == 2, res.err
    line = assert_one_error(res.err, "--branch")
    assert "\x1b" not in res.err and "\x07" not in res.err
    assert line.isprintable()
    before.assert_unchanged(repo)
    assert not (repo / ".git" / "astm").exists(), "a run started"
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/") == "refs/heads/main"


def test_refused_names_include_all_git_refuses(repo: Path) -> None:
    """Everything ``git check-ref-format --branch`` rejects is in the refused list's class."""
    from astm.errors import UsageError
    from astm.workspace.landing import check_branch_name

    for name in REFUSED:
        if git_accepts(repo, name) and not name.startswith("-"):
            continue  # git takes it; astm refuses it for its own reasons (checked above)
        with pytest.raises(UsageError):
            check_branch_name(name)


@pytest.mark.parametrize("name", ACCEPTED)
def test_good_branch_names_land(tmp_path: Path, repo: Path, astm: Any, name: str) -> None:
    assert git_accepts(repo, name)
    plan = write_plan(tmp_path / "plan.json", RENAME)
    res = astm("apply", "x", "--plan", str(plan), "--branch", name, cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "rev-parse", "--verify", f"refs/heads/{name}")
    assert "refs/heads/refs/" not in git(repo, "for-each-ref")


def test_new_checks_branch_names_too(tmp_path: Path, repo: Path, astm: Any) -> None:
    plan = write_plan(tmp_path / "plan.json", {"op": "insert", "parent": "src/m.py", "position": "end", "text": "X = 1\n"})
    res = astm("new", "src/m.py", "a module", "--plan", str(plan), "--branch", "HEAD", cwd=repo)
    assert res.code == 2, res.err
    assert_one_error(res.err, "--branch")
