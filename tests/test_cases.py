"""Data-driven before/after cases: fixtures/cases/<case>/{pyproject.toml, plan.json, expected.*}.

Each case runs the whole pipeline (real git repository, sandboxes, validation,
composition, landing) with its plan standing in for the model. ``expected.toml`` is the
landed file, byte for byte; ``expected.err`` holds the exit code and a piece of the
one-line error. Adding a case is adding a folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, Snapshot, git, make_repo

CASES = sorted(p for p in (FIXTURES / "cases").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "repo", {"pyproject.toml": (case / "pyproject.toml").read_bytes()})
    plan = tmp_path / "plan.json"
    shutil.copy(case / "plan.json", plan)
    before = Snapshot.take(repo)
    res = astm("apply", "test intent", "--plan", str(plan), "--branch", "astm/case", "--retries", "1", cwd=repo)
    if (case / "expected.err").exists():
        code, fragment = (case / "expected.err").read_text().split("\n", 1)
        assert res.code == int(code), res.err
        assert fragment.strip() in res.err
        error_lines = [ln for ln in res.err.splitlines() if ln.startswith("astm: error")]
        assert len(error_lines) == 1, res.err
        before.assert_unchanged(repo)
        assert "refs/heads/astm/case" not in Snapshot.take(repo).refs
        return
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="astm/case")
    landed = git(repo, "show", "astm/case:pyproject.toml").encode()
    raw = git_bytes(repo, "astm/case:pyproject.toml")
    assert raw == (case / "expected.toml").read_bytes(), landed.decode(errors="replace")
    parents = git(repo, "rev-list", "--parents", "-n1", "astm/case").split()
    assert parents[1:] == [before.head], "the landed commit's only parent is the base"


def git_bytes(repo: Path, spec: str) -> bytes:
    import subprocess

    return subprocess.run(["git", "show", spec], cwd=repo, capture_output=True, check=True).stdout
