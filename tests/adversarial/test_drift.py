"""Scenario 5: the user keeps working while a run waits on the model.

The loopback server's responder makes the user's move (commit, edit, stage, switch
branch, delete) while the run's node is generating. The run still lands on its base
commit, the user's work is exactly as they left it, and a run whose HEAD moved says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, git, make_repo
from kit import PYPROJECT, is_route, leftovers, user_state_held

openai_server = loopback.openai_server
ANSWER = '[project]\nname = "renamed"\nversion = "1.0"\n'
LANDED = '[project]\nname = "renamed"\nversion = "1.0"\n\n[tool.ruff]\nline-length = 100\n'
USER_TEXT = PYPROJECT.replace("line-length = 100", "line-length = 120")


def commit(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(USER_TEXT)
    git(repo, "commit", "-q", "-am", "the user's commit")


def edit(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(USER_TEXT)


def stage(repo: Path) -> None:
    edit(repo)
    git(repo, "add", "pyproject.toml")
    (repo / "pyproject.toml").write_text(USER_TEXT + "\n[more]\nx = 1\n")  # and edit again


def switch(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo)


def delete(repo: Path) -> None:
    (repo / "pyproject.toml").unlink()


MOVES: dict[str, tuple[Callable[[Path], None], bool]] = {
    # move, whether HEAD moves
    "commit": (commit, True),
    "edit": (edit, False),
    "stage": (stage, False),
    "switch-branch": (switch, True),
    "delete": (delete, False),
}


@pytest.mark.parametrize("move", list(MOVES))
def test_user_works_during_the_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    openai_server: loopback.LoopbackServer,
    astm: Any,
    move: str,
) -> None:
    act, head_moves = MOVES[move]
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    base = git(repo, "rev-parse", "HEAD")
    monkeypatch.setenv("ASTM_MODEL", "m")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    seen: dict[str, Snapshot] = {}

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return json.dumps({"act": [{"id": "pyproject.toml::project", "intent": "rename"}]})
        if "user" not in seen:  # the user's move, while the node is being generated
            act(repo)
            seen["user"] = Snapshot.take(repo)
        return ANSWER

    openai_server.responder = respond
    res = astm("apply", "rename", "pyproject.toml", "--branch", "b", "--json", cwd=repo)
    assert res.code == 0, res.err
    out = json.loads(res.out)
    # Landed on the base commit, from the base's text.
    assert git(repo, "rev-parse", "b^") == base
    assert git(repo, "show", "b:pyproject.toml") + "\n" == LANDED
    # The user's work is as they left it.
    user_state_held(seen["user"], repo, new_branches=("b",))
    assert leftovers(repo) == []
    moved = [n for n in out["notices"] if "HEAD moved" in n]
    if head_moves:
        assert moved and base[:10] in moved[0], out["notices"]
    else:
        assert not moved, out["notices"]


def test_head_moved_review_names_the_base(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    openai_server: loopback.LoopbackServer,
    astm: Any,
) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    base = git(repo, "rev-parse", "HEAD")
    monkeypatch.setenv("ASTM_MODEL", "m")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    done: list[bool] = []

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return json.dumps({"act": [{"id": "pyproject.toml::project", "intent": "rename"}]})
        if not done:
            commit(repo)
            done.append(True)
        return ANSWER

    openai_server.responder = respond
    res = astm("apply", "rename", "pyproject.toml", "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    assert "note: HEAD moved during the run" in res.out
    assert f"review: git diff {base[:10]} b" in res.out
