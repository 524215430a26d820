"""`astm apply --step`: each node's change is reviewed before it is composed, answers on stdin.

The real openai client against the loopback server (which records every request), a real
repository, the real clutch reading scripted answers from stdin (no terminal)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, git, make_repo

openai_server = loopback.openai_server

PYPROJECT = '[project]\nname = "shop"\ndependencies = ["click>=8"]\n'
ROUTE = {"act": [{"id": "pyproject.toml::project", "intent": "add requests"}], "create": [], "delete": []}
FIRST = '[project]\nname = "shop"\ndependencies = ["click>=8", "requests>=2.31"]\n'
SECOND = '[project]\nname = "shop"\ndependencies = ["click>=8", "requests>=2.32"]\n'


def is_route(body: dict[str, Any]) -> bool:
    return "Its children" in json.dumps(body["messages"])


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer) -> Path:
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    answers = iter([FIRST, SECOND, SECOND])

    def respond(body: dict[str, Any]) -> str:
        return json.dumps(ROUTE) if is_route(body) else f"```toml\n{next(answers)}```"

    openai_server.responder = respond
    return make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT})


def answers(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def replacing_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> None:
    """``$EDITOR``: a script that replaces ``old`` with ``new`` in the file it is given."""
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        f"p.write_text(p.read_text().replace({old!r}, {new!r}))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)


def generations(server: loopback.LoopbackServer) -> list[str]:
    return [json.dumps(r.body) for r in server.requests if not is_route(r.body)]


def test_approve_lands_and_shows_the_diff(repo: Path, monkeypatch: pytest.MonkeyPatch, astm) -> None:  # type: ignore[no-untyped-def]
    answers(monkeypatch, "a\n")
    before = Snapshot.take(repo)
    res = astm("apply", "add requests", "--step", "--branch", "s", cwd=repo)
    assert res.code == 0, res.err
    assert "review pyproject.toml::project" in res.err
    assert '+dependencies = ["click>=8", "requests>=2.31"]' in res.err
    before.assert_unchanged(repo, new_branch="s")
    assert git(repo, "show", "s:pyproject.toml") + "\n" == FIRST


def test_reject_feeds_the_reason_back_as_the_hint(
    repo: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer, astm  # type: ignore[no-untyped-def]
) -> None:
    answers(monkeypatch, "r pin requests to 2.32 please\na\n")
    res = astm("apply", "add requests", "--step", "--branch", "s", cwd=repo)
    assert res.code == 0, res.err
    asked = generations(openai_server)
    assert len(asked) == 2  # the rejection counted as a retry
    assert "pin requests to 2.32 please" not in asked[0]
    assert "pin requests to 2.32 please" in asked[1]
    assert git(repo, "show", "s:pyproject.toml") + "\n" == SECOND


def test_edit_lands_the_edited_text(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astm) -> None:  # type: ignore[no-untyped-def]
    replacing_editor(tmp_path, monkeypatch, "requests>=2.31", "httpx>=0.27")
    answers(monkeypatch, "e\n")
    res = astm("apply", "add requests", "--step", "--branch", "s", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", "s:pyproject.toml") + "\n" == FIRST.replace("requests>=2.31", "httpx>=0.27")


def test_an_invalid_edit_is_refused_and_reviewed_again(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astm) -> None:  # type: ignore[no-untyped-def]
    editor = tmp_path / "editor.py"
    editor.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('[project\\nname = ')\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    answers(monkeypatch, "e\na\n")
    res = astm("apply", "add requests", "--step", "--branch", "s", cwd=repo)
    assert res.code == 0, res.err
    assert "the edit is not valid" in res.err
    assert git(repo, "show", "s:pyproject.toml") + "\n" == FIRST  # the model's change, approved


def test_quit_lands_nothing_and_leaves_nothing(repo: Path, monkeypatch: pytest.MonkeyPatch, astm) -> None:  # type: ignore[no-untyped-def]
    answers(monkeypatch, "q\n")
    before = Snapshot.take(repo)
    res = astm("apply", "add requests", "--step", "--branch", "s", cwd=repo)
    assert res.code == 130
    assert "quit at the review of pyproject.toml::project; nothing landed" in res.err
    before.assert_unchanged(repo)
    assert git(repo, "for-each-ref", "refs/heads/") == git(repo, "for-each-ref", "refs/heads/main")
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    gc = astm("gc", cwd=repo)
    assert gc.code == 0, gc.err
    assert "removed" not in gc.out


def test_step_refuses_without_stdin(repo: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer, astm) -> None:  # type: ignore[no-untyped-def]
    closed = io.StringIO("")
    closed.close()
    monkeypatch.setattr(sys, "stdin", closed)
    res = astm("apply", "add requests", "--step", cwd=repo)
    assert res.code == 2
    assert "--step needs a terminal or answers on stdin" in res.err
    assert openai_server.requests == []  # refused before any work


def test_an_edit_of_a_plans_node_is_linted_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astm) -> None:  # type: ignore[no-untyped-def]
    # A plan's leaves leave ruff to their file (a plan cannot answer differently), but a
    # reviewer's edit can be made again: it is linted at the leaf, and refused there.
    repo = make_repo(tmp_path / "r", {"m.py": "def f(x):\n    return x\n\n\ndef g(x):\n    return x\n"})
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"version": 1, "intent": "f", "edits": [
        {"op": "replace", "node": "m.py::f", "text": "def f(x):\n    return x + 1\n"}]}))
    replacing_editor(tmp_path, monkeypatch, "return x + 1", 'return x is "a"')
    answers(monkeypatch, "e\na\n")
    res = astm("apply", "f", "m.py", "--plan", str(plan), "--step", "--branch", "s", cwd=repo)
    assert res.code == 0, res.err
    assert "the edit is not valid" in res.err and "F632" in res.err
    assert "return x + 1" in git(repo, "show", "s:m.py")  # the plan's change, approved
