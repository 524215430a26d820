"""`astm apply` with a model: the real openai client against a loopback server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, git, make_repo

openai_server = loopback.openai_server

PYPROJECT = """\
[project]
name = "shop"
dependencies = ["click>=8"]

# linting
[tool.ruff]
line-length = 100
"""
SENTINEL = "sk-test-SENTINEL-4242"


def node_of(body: dict[str, Any]) -> str:
    text = "\n".join(str(m.get("content", "")) for m in body["messages"])
    m = re.search(r"Node: (\S+)", text) or re.search(r"You are the node (\S+)", text)
    return m.group(1) if m else ""


def is_route(body: dict[str, Any]) -> bool:
    text = json.dumps(body["messages"])
    return "Its children" in text


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer) -> Path:
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    return make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT})


ROUTE = {
    "act": [{"id": "pyproject.toml::project", "intent": "add requests to dependencies"}],
    "create": [{"key": "tool.pytest.ini_options", "intent": "coverage 80%", "after": "pyproject.toml::project"}],
    "delete": [],
}


def test_model_run_lands_and_records_usage(repo: Path, openai_server: loopback.LoopbackServer, astm) -> None:  # type: ignore[no-untyped-def]
    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return json.dumps(ROUTE)
        node = node_of(body)
        if node.endswith("::project"):
            return '```toml\n[project]\nname = "shop"\ndependencies = ["click>=8", "requests>=2.31"]\n```'
        return '[tool.pytest.ini_options]\naddopts = "--cov --cov-fail-under=80"\n'

    openai_server.responder = respond
    before = Snapshot.take(repo)
    res = astm("apply", "add requests and coverage", "--json", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="m")
    out = json.loads(res.out)
    # one routing call and two generation calls, 11 + 7 tokens each (the server's usage)
    assert out["tokens"] == {"prompt": 33, "completion": 21}
    text = git(repo, "show", "m:pyproject.toml") + "\n"  # git() strips the last newline
    assert text == (
        '[project]\nname = "shop"\ndependencies = ["click>=8", "requests>=2.31"]\n\n'
        '[tool.pytest.ini_options]\naddopts = "--cov --cov-fail-under=80"\n\n'
        "# linting\n[tool.ruff]\nline-length = 100\n"
    )
    # The model saw each node's own text, never the whole file.
    for r in openai_server.requests:
        assert r.headers["authorization"] == f"Bearer {SENTINEL}"
        assert SENTINEL.encode() not in r.raw
        if not is_route(r.body) and node_of(r.body).endswith("::project"):
            assert "line-length = 100" not in json.dumps(r.body)
    # nor in anything astm wrote
    for f in (repo / ".git" / "astm").rglob("*"):
        if f.is_file():
            assert SENTINEL.encode() not in f.read_bytes()
    assert SENTINEL not in git(repo, "log", "-1", "--format=%B", "m")


def test_bad_answer_is_retried_with_a_short_hint(repo: Path, openai_server: loopback.LoopbackServer, astm) -> None:  # type: ignore[no-untyped-def]
    answers = iter([
        "Sure! I added requests for you.",  # prose: invalid TOML
        "[tool.ruff]\nline-length = 80\n",  # another table
        '[project]\nname = "shop"\ndependencies = ["click>=8", "requests"]\n',
    ])

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return json.dumps({"act": [{"id": "pyproject.toml::project", "intent": "add requests"}]})
        return next(answers)

    openai_server.responder = respond
    res = astm("apply", "add requests", "--json", "--branch", "r", cwd=repo)
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert out["nodes"][0]["attempts"] == 3
    gen = [r.body for r in openai_server.requests if not is_route(r.body)]
    hint2 = json.dumps(gen[1]["messages"])
    hint3 = json.dumps(gen[2]["messages"])
    assert "Traceback" not in hint2 + hint3
    assert "this node is [project]" in hint3


def test_invalid_answers_exhaust_retries_and_nothing_lands(repo: Path, openai_server: loopback.LoopbackServer, astm) -> None:  # type: ignore[no-untyped-def]
    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return json.dumps({"act": [{"id": "pyproject.toml::project", "intent": "x"}]})
        return '[project]\nname = "shop"\nname = "twice"\n'

    openai_server.responder = respond
    before = Snapshot.take(repo)
    res = astm("apply", "x", "--retries", "1", cwd=repo)
    assert res.code == 1
    assert "pyproject.toml::project: line 3:" in res.err
    before.assert_unchanged(repo)


def test_router_naming_an_unknown_child_fails_clearly(repo: Path, openai_server: loopback.LoopbackServer, astm) -> None:  # type: ignore[no-untyped-def]
    openai_server.responder = lambda body: json.dumps({"act": [{"id": "pyproject.toml::projekt", "intent": "x"}]})
    before = Snapshot.take(repo)
    res = astm("apply", "x", cwd=repo)
    assert res.code == 1 and "closest: pyproject.toml::project" in res.err
    before.assert_unchanged(repo)


def test_rate_limit_exits_3(repo: Path, openai_server: loopback.LoopbackServer, monkeypatch: pytest.MonkeyPatch, astm) -> None:  # type: ignore[no-untyped-def]
    (repo / "pyproject.toml").write_text(PYPROJECT + "\n[tool.astm]\nhttp_retries = 1\n")
    openai_server.enqueue(status=429, headers={"retry-after-ms": "1"}, times=5)
    before = Snapshot.take(repo)
    res = astm("apply", "x", cwd=repo)
    assert res.code == 3 and "429" in res.err
    before.assert_unchanged(repo)


def test_timeout_exits_3_and_cleans_up(repo: Path, openai_server: loopback.LoopbackServer, astm) -> None:  # type: ignore[no-untyped-def]
    (repo / "pyproject.toml").write_text(PYPROJECT + "\n[tool.astm]\ntimeout = 0.5\nhttp_retries = 0\n")

    def respond(body: dict[str, Any]) -> str:
        return json.dumps(ROUTE)

    openai_server.enqueue(json.dumps(ROUTE))
    openai_server.enqueue("late", delay=10, times=4)
    before = Snapshot.take(repo)
    res = astm("apply", "x", cwd=repo)
    assert res.code == 3 and "timed out" in res.err
    before.assert_unchanged(repo)


def test_no_model_configured_is_a_usage_error(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    res = astm("apply", "x", cwd=repo)
    assert res.code == 2 and "no model configured" in res.err


def test_config_masks_the_key(repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    res = astm("config", cwd=repo)
    assert res.code == 0
    assert SENTINEL not in res.out and "loop-model" in res.out
    assert "set, 21 chars" in res.out
