"""Scenario 7: nothing can address a file outside the repository.

A plan, the command line or a model's routing answer naming ``../x.toml``, an absolute
path, something in ``.git/`` or a path through a symbolic link to a directory is refused
before anything is written: no run record, ref, worktree or file anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, git, make_repo
from kit import PYPROJECT, assert_one_error, is_route, leftovers, write_plan

openai_server = loopback.openai_server
OUTSIDE = '[project]\nname = "outside"\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with ``linkdir`` -> ../outside (a directory outside it) and ``alias`` ->
    sub (inside), both committed as symbolic links."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "pyproject.toml").write_text(OUTSIDE)
    (tmp_path / "x.toml").write_text(OUTSIDE)
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT, "sub/pyproject.toml": PYPROJECT})
    (repo / "linkdir").symlink_to(outside)
    (repo / "alias").symlink_to("sub")
    (repo / ".git" / "x.toml").write_text(OUTSIDE)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "links")
    return repo


def outside_files(tmp_path: Path) -> dict[str, str]:
    return {
        p.name: p.read_text()
        for p in (tmp_path / "x.toml", tmp_path / "outside" / "pyproject.toml")
    }


def bad_targets(tmp_path: Path) -> list[str]:
    return [
        "../x.toml",
        str(tmp_path / "x.toml"),
        "/etc/hosts.toml",
        ".git/x.toml",
        ".git/config",
        "sub/.git/x.toml",
        "sub/../../x.toml",
        "linkdir/pyproject.toml",
        "alias/pyproject.toml",
        "..\\x.toml",
    ]


def refused_before_writing(repo: Path, before: Snapshot, res: Any, tmp_path: Path) -> None:
    assert res.code == 2, res.err
    assert_one_error(res.err)
    before.assert_unchanged(repo)
    assert not (repo / ".git" / "astm").exists(), "a run record was written"
    assert leftovers(repo) == []
    assert outside_files(tmp_path) == {"x.toml": OUTSIDE, "pyproject.toml": OUTSIDE}


@pytest.mark.parametrize("op", ["replace", "insert", "delete"])
def test_plan_cannot_address_files_outside(tmp_path: Path, repo: Path, astm: Any, op: str) -> None:
    before = Snapshot.take(repo)
    for target in bad_targets(tmp_path):
        node = f"{target}::project"
        edit = {
            "replace": {"op": "replace", "node": node, "text": '[project]\nname = "pwned"\n'},
            "insert": {
                "op": "insert",
                "parent": target,
                "position": "end",
                "text": "[pwned]\nx = 1\n",
            },
            "delete": {"op": "delete", "node": node},
        }[op]
        plan = write_plan(tmp_path / "plan.json", edit)
        res = astm("apply", "x", "--plan", str(plan), cwd=repo)
        refused_before_writing(repo, before, res, tmp_path)
        if target.startswith(("linkdir", "alias")):
            assert "symbolic link" in res.err, res.err


def test_command_line_paths_outside_are_refused(tmp_path: Path, repo: Path, astm: Any) -> None:
    plan = write_plan(
        tmp_path / "plan.json",
        # A valid [project] (PEP 621: a name and a version): the paths are under test.
        {"op": "replace", "node": "pyproject.toml::project", "text": '[project]\nname = "shop"\nversion = "2.0"\n'},
    )
    before = Snapshot.take(repo)
    for target in bad_targets(tmp_path):
        res = astm("apply", "x", target, "--plan", str(plan), cwd=repo)
        refused_before_writing(repo, before, res, tmp_path)
    # From a subdirectory, ../ that stays inside is fine; one more is not.
    res = astm("apply", "x", "../../x.toml", "--plan", str(plan), cwd=repo / "sub")
    refused_before_writing(repo, before, res, tmp_path)
    res = astm(
        "apply", "x", "../pyproject.toml", "--plan", str(plan), "--branch", "ok", cwd=repo / "sub"
    )
    assert res.code == 0, res.err


def test_routing_answers_naming_outside_files_fail_cleanly(
    tmp_path: Path,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    openai_server: loopback.LoopbackServer,
    astm: Any,
) -> None:
    monkeypatch.setenv("ASTM_MODEL", "m")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    before = Snapshot.take(repo)
    for target in bad_targets(tmp_path):

        def respond(body: dict[str, Any], target: str = target) -> str:
            assert is_route(body)
            return json.dumps(
                {
                    "act": [
                        {"id": target, "intent": "x"},
                        {"id": f"{target}::project", "intent": "x"},
                    ],
                    "create": [{"key": "pwned", "intent": "x", "after": target}],
                    "delete": [target],
                }
            )

        openai_server.responder = respond
        # Two files: the repository node routes between them (then each file routes).
        res = astm("apply", "x", "pyproject.toml", "sub/pyproject.toml", cwd=repo)
        assert res.code == 1, res.err
        assert_one_error(res.err, "not a child")
        user = Snapshot.take(repo)
        assert (user.head, user.index, user.files, user.worktrees) == (
            before.head,
            before.index,
            before.files,
            before.worktrees,
        )
        assert leftovers(repo) == []
        assert outside_files(tmp_path) == {"x.toml": OUTSIDE, "pyproject.toml": OUTSIDE}


def test_tree_writer_refuses_escaping_paths(repo: Path) -> None:
    """Defence in depth: the one function that builds trees refuses ``..``, ``.git``, ''."""
    import pygit2

    from astm.errors import UsageError
    from astm.workspace import git as wgit

    r = pygit2.Repository(str(repo))
    base = r.head.peel(pygit2.Commit).tree
    for bad in (
        "../x.toml",
        ".git/config",
        "a//b.toml",
        "./a.toml",
        "sub/.GIT/x",
        "/abs.toml",
        "a\\b",
    ):
        with pytest.raises(UsageError):
            wgit.write_tree(r, base, {bad: b"x"})
