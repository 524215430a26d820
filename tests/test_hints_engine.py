"""Tier-4 hints in the engine: a failed check's long output never reaches a worker's prompt.

A real repository whose table validator (a real subprocess) prints a 300-line failure, the
real openai client against the loopback server, which records every request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import git, make_repo

openai_server = loopback.openai_server

PYPROJECT = """\
[project]
name = "shop"
dependencies = ["click>=8"]

[tool.astm.validate.table]
commands = ["python3 check.py {file}"]
"""
CHECK = """\
import sys
text = open(sys.argv[1]).read()
if "requests>=2.31" in text:
    print("check failed: see below")
    for i in range(300):
        print(f"  frame line {i}: in deep_call_{i}")
    print("E       AssertionError: requests must be pinned to >=2.32")
    sys.exit(1)
"""
ROUTE = {"act": [{"id": "pyproject.toml::project", "intent": "add requests"}], "create": [], "delete": []}
BAD = '[project]\nname = "shop"\ndependencies = ["click>=8", "requests>=2.31"]\n'
GOOD = '[project]\nname = "shop"\ndependencies = ["click>=8", "requests>=2.32"]\n'
HINT = "Pin requests to >=2.32 in the dependencies list."


def kind_of(body: dict[str, Any]) -> str:
    text = json.dumps(body["messages"])
    if "Its children" in text:
        return "route"
    return "hint" if "Write ONE fix instruction" in text else "generate"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer) -> Path:
    monkeypatch.setenv("ASTM_MODEL", "big-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    answers = iter([BAD, GOOD])

    def respond(body: dict[str, Any]) -> str:
        kind = kind_of(body)
        if kind == "route":
            return json.dumps(ROUTE)
        if kind == "hint":
            return json.dumps({"instruction": HINT})
        return f"```toml\n{next(answers)}```"

    openai_server.responder = respond
    return make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT, "check.py": CHECK})


def asked(server: loopback.LoopbackServer, kind: str) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if kind_of(r.body) == kind]


def test_hint_model_compresses_the_failure_and_the_raw_output_stays_out(
    repo: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer, astm  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("ASTM_HINT_MODEL", "cheap-model")
    res = astm("apply", "add requests", "--json", "--branch", "h", cwd=repo)
    assert res.code == 0, res.err
    gen = asked(openai_server, "generate")
    assert len(gen) == 2
    retry = json.dumps(gen[1])
    assert HINT in retry  # the hint model's instruction is the retry's hint
    assert "frame line" not in retry and "deep_call" not in retry  # the 300 lines never
    assert len(HINT.split()) <= 20
    hint_req = asked(openai_server, "hint")
    assert [b["model"] for b in hint_req] == ["cheap-model"]
    assert "frame line 299" in json.dumps(hint_req[0])  # the cheap model sees the tail, clipped
    assert "frame line 100:" not in json.dumps(hint_req[0])
    # the run record keeps the raw output and the hint side by side
    node = json.loads(res.out)["nodes"][0]
    assert node["hints"][0]["hint"] == HINT and node["hints"][0]["source"] == "model"
    assert "frame line 150" in node["hints"][0]["raw"]
    run = json.loads(res.out)["run"]
    record = json.loads((repo / ".git" / "astm" / "runs" / f"{run}.json").read_text())
    assert "frame line 150" in json.dumps(record) and HINT in json.dumps(record)
    assert git(repo, "show", "h:pyproject.toml").startswith(GOOD.rstrip("\n"))


def test_without_a_hint_model_the_deterministic_hint_is_sent(
    repo: Path, openai_server: loopback.LoopbackServer, astm  # type: ignore[no-untyped-def]
) -> None:
    res = astm("apply", "add requests", "--json", "--branch", "h", cwd=repo)
    assert res.code == 0, res.err
    assert asked(openai_server, "hint") == []
    retry = json.dumps(asked(openai_server, "generate")[1])
    assert "check.py: check failed: see below" in retry
    assert "frame line" not in retry
    assert json.loads(res.out)["nodes"][0]["hints"][0]["source"] == "rules"
