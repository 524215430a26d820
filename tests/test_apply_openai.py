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


# ---- real servers' habits, through the CLI ----

TABLES = PYPROJECT + "\n[tool.a]\nx = 1\n\n[tool.b]\nx = 1\n\n[tool.c]\nx = 1\n"


def bump_tables(body: dict[str, Any]) -> str:
    """Route to the three [tool.*] tables; each answers its table with x = 2."""
    if is_route(body):
        ids = [f"pyproject.toml::tool.{t}" for t in "abc"]
        return json.dumps({"act": [{"id": i, "intent": "set x to 2"} for i in ids]})
    return f"[tool.{node_of(body).rsplit('.', 1)[1]}]\nx = 2\n"


def test_model_jobs_not_jobs_bounds_the_model_calls(
    repo: Path, openai_server: loopback.LoopbackServer, astm
) -> None:  # type: ignore[no-untyped-def]
    """One CPU slot, three model slots: a node waiting for the model holds no CPU slot,
    so three generation calls are in flight at once, never more."""
    (repo / "pyproject.toml").write_text(TABLES)
    git(repo, "commit", "-qam", "tables")
    openai_server.responder = bump_tables
    openai_server.responder_delay = 0.4
    res = astm("apply", "set x to 2", "--jobs", "1", "--model-jobs", "3", "--branch", "j", cwd=repo)
    assert res.code == 0, res.err
    assert openai_server.max_in_flight == 3
    assert "[tool.c]\nx = 2" in git(repo, "show", "j:pyproject.toml")


def test_a_local_endpoint_is_sent_one_request_at_a_time(
    repo: Path, openai_server: loopback.LoopbackServer, astm
) -> None:  # type: ignore[no-untyped-def]
    (repo / "pyproject.toml").write_text(TABLES)
    git(repo, "commit", "-qam", "tables")
    openai_server.serve_one_at_a_time()
    openai_server.responder = bump_tables
    openai_server.responder_delay = 0.1
    res = astm("apply", "set x to 2", "--branch", "one", cwd=repo)
    assert res.code == 0, res.err
    assert openai_server.max_in_flight == 1  # 127.0.0.1: model_jobs defaults to 1


def test_flags_reach_every_request(
    repo: Path, openai_server: loopback.LoopbackServer, astm
) -> None:  # type: ignore[no-untyped-def]
    openai_server.responder = lambda body: (
        json.dumps({"act": [{"id": "pyproject.toml::project", "intent": "add requests"}]})
        if is_route(body)
        else '[project]\nname = "shop"\ndependencies = ["click>=8", "requests"]\n'
    )
    args = ("--max-tokens", "700", "--temperature", "0.3", "--json-mode", "json_object")
    res = astm("apply", "add requests", *args, "--branch", "f", cwd=repo)
    assert res.code == 0, res.err
    bodies = [r.body for r in openai_server.requests]
    assert [b["max_tokens"] for b in bodies] == [256 + 96 * 2, 700]  # routing: 2 children
    assert {b["temperature"] for b in bodies} == {0.3}
    assert bodies[0]["response_format"] == {"type": "json_object"}


def test_a_failed_run_reports_every_token_and_call(
    repo: Path, openai_server: loopback.LoopbackServer, astm
) -> None:  # type: ignore[no-untyped-def]
    """The router never answers valid JSON: each mode gets an answer and a corrective
    turn, then exit 3; all six requests are counted, in the summary and in --json."""
    openai_server.responder = lambda body: "I think the project table should change."
    res = astm("apply", "x", cwd=repo)
    assert res.code == 3, res.err
    assert "route answer did not match the schema" in res.err
    assert "tokens: 66 prompt + 42 completion in 6 model calls" in res.err
    res = astm("apply", "x", "--json", cwd=repo)
    assert res.code == 3
    out = json.loads(res.out)
    assert out["tokens"] == {"prompt": 66, "completion": 42} and out["model_calls"] == 6


def test_a_cut_off_answer_is_counted(
    repo: Path, openai_server: loopback.LoopbackServer, astm
) -> None:  # type: ignore[no-untyped-def]
    openai_server.enqueue({"act": [{"id": "pyproject.toml::project", "intent": "x"}]})
    openai_server.enqueue('[project]\nname = "sh', finish_reason="length", usage=(50, 1024), times=2)
    res = astm("apply", "x", "--json", cwd=repo)
    assert res.code == 3 and "cut off" in res.err
    out = json.loads(res.out)
    assert out["tokens"] == {"prompt": 111, "completion": 2055} and out["model_calls"] == 3


def test_a_503_wait_is_shown_and_the_run_lands(
    repo: Path, openai_server: loopback.LoopbackServer, astm
) -> None:  # type: ignore[no-untyped-def]
    openai_server.enqueue(status=503, error={"message": "loading"}, headers={"retry-after-ms": "300"})
    openai_server.responder = lambda body: (
        json.dumps({"act": [{"id": "pyproject.toml::project", "intent": "add requests"}]})
        if is_route(body)
        else '[project]\nname = "shop"\ndependencies = ["click>=8", "requests"]\n'
    )
    res = astm("apply", "add requests", "--branch", "w", cwd=repo)
    assert res.code == 0, res.err
    assert "model      pyproject.toml: waiting for the model (retry in 0.3s after HTTP 503)" in res.err
    assert "in 3 model calls" in res.out


def test_the_structured_mode_is_remembered_across_runs(
    repo: Path, openai_server: loopback.LoopbackServer, astm
) -> None:  # type: ignore[no-untyped-def]
    """llama-cpp-python: HTTP 500 to json_schema. The first run steps down once and
    remembers; the next run asks with json_object at once. Nothing lands in the tree."""
    openai_server.emulate("llama-cpp-python")
    openai_server.responder = lambda body: (
        json.dumps({"act": [{"id": "pyproject.toml::project", "intent": "add requests"}]})
        if is_route(body)
        else '[project]\nname = "shop"\ndependencies = ["click>=8", "requests"]\n'
    )
    res = astm("apply", "add requests", "--branch", "m1", cwd=repo)
    assert res.code == 0, res.err
    assert "json_schema answers failed here (HTTP 500); using json_object" in res.err
    memory = repo / ".git" / "astm" / "endpoints.json"
    assert [e["json_mode"] for e in json.loads(memory.read_text())["endpoints"].values()] == ["json_object"]
    first = len(openai_server.requests)
    res = astm("apply", "add requests", "--branch", "m2", cwd=repo)
    assert res.code == 0, res.err
    kinds = [(r.body.get("response_format") or {}).get("type") for r in openai_server.requests]
    assert kinds[:first] == ["json_schema", "json_object", None]
    assert kinds[first:] == ["json_object", None]
    assert git(repo, "status", "--porcelain") == ""


def test_a_url_password_echoed_by_the_server_never_shows(
    repo: Path, openai_server: loopback.LoopbackServer, monkeypatch: pytest.MonkeyPatch, astm
) -> None:  # type: ignore[no-untyped-def]
    password = "pw-SENTINEL-31337"
    url = openai_server.base_url.replace("http://", f"http://admin:{password}@")
    monkeypatch.setenv("ASTM_BASE_URL", url)
    openai_server.enqueue(
        status=502,
        error={"message": f"bad gateway for {url} (admin:{password}) \x1b[2J\x1b]0;owned\x07"},
        headers={"x-should-retry": "false"},
    )
    for args in (("apply", "x"), ("config",), ("runs",)):
        res = astm(*args, cwd=repo)
        assert password not in res.out + res.err
    res = astm("apply", "x", "--json", cwd=repo)
    assert password not in res.out + res.err
    for f in (repo / ".git" / "astm").rglob("*"):
        if f.is_file():
            assert password.encode() not in f.read_bytes(), f
    openai_server.enqueue(
        status=502, error={"message": f"again {url} \x1b]0;owned\x07"}, headers={"x-should-retry": "false"}
    )
    res = astm("apply", "x", cwd=repo)
    assert res.code == 3
    assert "\x1b" not in res.err and "\x07" not in res.err and "\\x1b]0;owned\\x07" in res.err
    assert "http://***@127.0.0.1" in res.err


# ---- docs/configuration.md: every server section's config, run as documented ----

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
SECTION = re.compile(
    r"^### (?P<name>[^\n]+)\n\n<!-- loopback: (?P<flavour>[\w.-]+) -->\n```toml\n(?P<toml>.*?)```\n"
    r".*?^Defaults here: `model_jobs = (?P<jobs>\d+)`, `timeout = (?P<timeout>\d+)`; "
    r"structured answers use `(?P<mode>\w+)`\.",
    re.DOTALL | re.MULTILINE,
)


def documented_servers() -> list[dict[str, str]]:
    return [m.groupdict() for m in SECTION.finditer(DOC.read_text())]


def test_the_doc_has_a_tested_section_per_server_kind() -> None:
    assert [s["name"] for s in documented_servers()] == ["OpenAI", "Ollama", "llama.cpp", "vLLM"]


@pytest.mark.parametrize("doc", documented_servers(), ids=lambda d: d["name"])
def test_documented_server_config(
    doc: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    openai_server: loopback.LoopbackServer,
    astm,  # type: ignore[no-untyped-def]
) -> None:
    from astm import config

    # As written: the defaults the section states.
    written = make_repo(tmp_path / "written", {"pyproject.toml": doc["toml"]})
    settings = config.load(written, environ={})
    assert settings.model_slots == int(doc["jobs"])
    assert settings.request_timeout == float(doc["timeout"])
    # Run: the same config, its endpoint swapped for a loopback server of that flavour.
    toml = re.sub(r'(?m)^base_url = ".*"\n', "", doc["toml"])
    toml += f'base_url = "{openai_server.base_url}"\n'
    repo = make_repo(tmp_path / "run", {"pyproject.toml": PYPROJECT + "\n" + toml})
    for var in ("ASTM_MODEL", "ASTM_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    openai_server.emulate(doc["flavour"])
    openai_server.responder = lambda body: (
        json.dumps({"act": [{"id": "pyproject.toml::project", "intent": "add requests"}]})
        if is_route(body)
        else '[project]\nname = "shop"\ndependencies = ["click>=8", "requests"]\n'
    )
    res = astm("apply", "add requests", "--branch", "doc", cwd=repo)
    assert res.code == 0, res.err
    assert '"requests"' in git(repo, "show", "doc:pyproject.toml")
    memory = json.loads((repo / ".git" / "astm" / "endpoints.json").read_text())["endpoints"]
    assert [e["json_mode"] for e in memory.values()] == [doc["mode"]]
    model = config.load(written, environ={}).model
    assert {r.body["model"] for r in openai_server.requests} == {model}


def test_a_failed_demo_prints_the_token_line(
    tmp_path: Path, openai_server: loopback.LoopbackServer, monkeypatch: pytest.MonkeyPatch, astm
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url.replace("http://", "http://u:pw-SENTINEL-9@"))
    openai_server.responder = lambda body: "Sorry, I cannot answer in JSON."
    res = astm("demo", "--dir", str(tmp_path / "demo"), cwd=tmp_path)
    # The demo's intent names its tables (routed without the model); both nodes get
    # prose three times, are reset once, and fail: 12 calls, each counted.
    assert res.code == 1, res.err
    assert "pyproject.toml::project: line 1: Expected '=' after a key" in res.err
    assert "tokens: 132 prompt + 84 completion in 12 model calls" in res.err
    assert "model: loop-model at http://***@127.0.0.1" in res.out
    assert "pw-SENTINEL-9" not in res.out + res.err
