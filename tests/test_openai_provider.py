"""OpenAIProvider with the real openai client against a loopback server (no client mocks)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import openai_server as loopback
import pytest
from openai_server import LoopbackServer

from astm.config import Settings
from astm.errors import ModelError
from astm.llm.base import (
    Act,
    ChildInfo,
    ClaimRequest,
    Create,
    GenerateRequest,
    Route,
    RouteRequest,
    Usage,
)
from astm.llm.openai_provider import OpenAIProvider

pytestmark = pytest.mark.timeout(10)
# The fixture under the name tests ask for; an assignment, not an import, because a
# parameter named like an imported name is F811 for ruff.
openai_server = loopback.openai_server

KEY = "sk-test-SENTINEL"
FAST = {"retry-after-ms": "1"}  # openai's backoff honours it: retries in 1 ms
T = TypeVar("T")

ROUTE = RouteRequest(
    intent="run pytest quietly and add ruff settings",
    node_id="pyproject.toml",
    node_kind="file",
    language="toml",
    children=(
        ChildInfo("pyproject.toml::project", "table", "name, version"),
        ChildInfo("pyproject.toml::tool.pytest.ini_options", "table", "addopts, testpaths"),
    ),
    context="[project]\n[tool.pytest.ini_options]",
)
GENERATE = GenerateRequest(
    intent="add -q to addopts",
    node_id="pyproject.toml::tool.pytest.ini_options",
    node_kind="table",
    language="toml",
    key="tool.pytest.ini_options",
    text='[tool.pytest.ini_options]\naddopts = "-ra"\n',
    context="[project]\n[tool.pytest.ini_options]",
)
ROUTE_ANSWER = {
    "act": [{"id": "pyproject.toml::tool.pytest.ini_options", "intent": "add -q to addopts"}],
    "create": [{"key": "tool.ruff", "intent": "line-length 100", "position": "end"}],
    "delete": [],
}


def settings(server: LoopbackServer, **over: Any) -> Settings:
    values: dict[str, Any] = {
        "model": "loop-model",
        "base_url": server.base_url,
        "timeout": 2.0,
        "http_retries": 0,
    }
    return Settings(**{**values, **over})


def run(
    s: Settings,
    body: Callable[[OpenAIProvider], Awaitable[T]],
    *,
    api_key: str | None = KEY,
    environ: dict[str, str] | None = None,
) -> T:
    async def go() -> T:
        provider = OpenAIProvider(s, api_key=api_key, environ=environ or {})
        try:
            return await body(provider)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def model_error(s: Settings, body: Callable[[OpenAIProvider], Awaitable[object]]) -> ModelError:
    with pytest.raises(ModelError) as info:
        run(s, body)
    return info.value


# ---- answers ----


def test_route_answer_becomes_a_route(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(ROUTE_ANSWER)
    route, usage = run(settings(openai_server), lambda p: p.route(ROUTE))
    assert route.act == (Act("pyproject.toml::tool.pytest.ini_options", "add -q to addopts"),)
    assert route.create == (Create("tool.ruff", "line-length 100", position="end"),)
    assert route.delete == ()
    assert usage == Usage(11, 7, calls=1)
    (req,) = openai_server.requests
    assert req.body["temperature"] == 0.0
    assert req.body["max_tokens"] == 256 + 96 * 2  # routing: bounded by the children
    fmt = req.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is False
    assert "act" in fmt["json_schema"]["schema"]["properties"]
    prompt = req.body["messages"][-1]["content"]
    assert ROUTE.intent in prompt
    assert "pyproject.toml::project | table | name, version" in prompt
    assert "{" + "children}" not in prompt


def test_router_model_is_used_for_structured_calls(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(ROUTE_ANSWER)
    openai_server.enqueue("x = 1")
    s = settings(openai_server, router_model="small-router")
    run(s, lambda p: p.route(ROUTE))
    run(s, lambda p: p.generate(GENERATE))
    assert [r.body["model"] for r in openai_server.requests] == ["small-router", "loop-model"]


def test_claim_answer(openai_server: LoopbackServer) -> None:
    openai_server.enqueue({"mine": True, "intent": "add -q"})
    req = ClaimRequest(
        intent="quiet pytest",
        child=ChildInfo("pyproject.toml::tool.pytest.ini_options", "table", "addopts"),
        language="toml",
        text='[tool.pytest.ini_options]\naddopts = "-ra"\n',
        context="[tool.pytest.ini_options]",
    )
    answer, usage = run(settings(openai_server), lambda p: p.claim(req))
    assert (answer.mine, answer.intent) == (True, "add -q")
    assert usage == Usage(11, 7, calls=1)
    assert openai_server.requests[0].body["max_tokens"] == 256
    assert 'addopts = "-ra"' in openai_server.requests[0].body["messages"][-1]["content"]


def test_generate_returns_the_raw_text(openai_server: LoopbackServer) -> None:
    text = '[tool.pytest.ini_options]\naddopts = "-ra -q"\nx = {a = 1}\n'
    openai_server.enqueue(text, usage=(30, 12))
    out, usage = run(settings(openai_server), lambda p: p.generate(GENERATE))
    assert out == text
    assert usage == Usage(30, 12, calls=1)
    (req,) = openai_server.requests
    assert "response_format" not in req.body
    assert req.body["max_tokens"] == 1024  # a small node: the floor
    assert req.body["temperature"] == 0.0
    prompt = req.body["messages"][-1]["content"]
    assert GENERATE.text.strip() in prompt and "no code fences" in prompt


def test_generate_prompt_carries_the_hint_and_braces_survive(
    openai_server: LoopbackServer,
) -> None:
    openai_server.enqueue("ok")
    req = GenerateRequest(
        intent="fix it {intent}",
        node_id="a.toml::t",
        node_kind="table",
        language="toml",
        key="t",
        text="[t]\nx = {hint = 1}\n",
        context="[t]",
        hint="line 2: expected '='",
        attempt=2,
    )
    run(settings(openai_server), lambda p: p.generate(req))
    prompt = openai_server.requests[0].body["messages"][-1]["content"]
    assert "fix it {intent}" in prompt and "x = {hint = 1}" in prompt
    assert "line 2: expected '='" in prompt


def test_generate_rejects_none_oversized_and_cut_off_answers(
    openai_server: LoopbackServer,
) -> None:
    openai_server.enqueue(None)
    openai_server.enqueue("x" * 101)
    openai_server.enqueue("[t]\na = 1\n", finish_reason="length", times=2)
    s = settings(openai_server, max_answer_bytes=100)
    assert "no text" in str(model_error(s, lambda p: p.generate(GENERATE)))
    err = model_error(s, lambda p: p.generate(GENERATE))
    assert "101 bytes" in str(err) and err.node == GENERATE.node_id
    # cut off at the node's bound: asked once more with a bigger one, then given up
    assert "cut off at 4096 tokens" in str(model_error(s, lambda p: p.generate(GENERATE)))
    assert [r.body["max_tokens"] for r in openai_server.requests[-2:]] == [1024, 4096]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"<html>oops</html>", "not JSON"),
        (b"{}", "no answer"),
        (b'{"choices": [{"index": 0}]}', "no text"),
    ],
)
def test_garbage_bodies_are_model_errors(
    openai_server: LoopbackServer, raw: bytes, expected: str
) -> None:
    openai_server.enqueue(raw=raw, headers={"content-type": "application/json"})
    err = model_error(settings(openai_server), lambda p: p.generate(GENERATE))
    assert expected in str(err) and err.node == GENERATE.node_id


def test_usage_missing_counts_zero(openai_server: LoopbackServer) -> None:
    openai_server.enqueue("x", usage=None)
    _, usage = run(settings(openai_server), lambda p: p.generate(GENERATE))
    assert usage == Usage(0, 0, calls=1)


# ---- structured modes: the ladder ----


def formats(server: LoopbackServer) -> list[str | None]:
    """The response_format type of each request the server received (None: none)."""
    return [(r.body.get("response_format") or {}).get("type") for r in server.requests]


def test_schema_refused_steps_down_to_json_object_for_good(
    openai_server: LoopbackServer,
) -> None:
    openai_server.reject_json_schema = True
    openai_server.enqueue(ROUTE_ANSWER, usage=(5, 3))
    openai_server.enqueue(f"```json\n{json.dumps(ROUTE_ANSWER)}\n```", usage=(5, 3))

    async def twice(p: OpenAIProvider) -> list[Usage]:
        return [(await p.route(ROUTE))[1], (await p.route(ROUTE))[1]]

    # The refused request is counted as a call; it spent no tokens.
    assert run(settings(openai_server), twice) == [Usage(5, 3, 2), Usage(5, 3, 1)]
    assert formats(openai_server) == ["json_schema", "json_object", "json_object"]
    system = openai_server.requests[1].body["messages"][0]
    assert system["role"] == "system" and "one JSON object only" in system["content"]
    assert '"act"' in system["content"]


def test_http_500_on_json_schema_steps_down(openai_server: LoopbackServer) -> None:
    """llama-cpp-python's server: HTTP 500 to json_schema, json_object with a schema fine."""
    openai_server.emulate("llama-cpp-python")
    openai_server.enqueue(ROUTE_ANSWER)
    seen: list[tuple[str, str]] = []

    async def body(p: OpenAIProvider) -> tuple[Route, Usage]:
        p.notify = lambda node, detail: seen.append((node, detail))
        return await p.route(ROUTE)

    route, _ = run(settings(openai_server, http_retries=2), body)
    assert len(route.act) == 1
    assert formats(openai_server) == ["json_schema", "json_object"]  # 500 not retried here
    assert seen == [(ROUTE.node_id, "json_schema answers failed here (HTTP 500); using json_object")]


def test_no_structured_output_at_all_reads_json_out_of_prose(
    openai_server: LoopbackServer,
) -> None:
    openai_server.emulate("plain")
    openai_server.responder = lambda body: loopback.prose(ROUTE_ANSWER)
    route, usage = run(settings(openai_server), lambda p: p.route(ROUTE))
    assert route.act[0].node_id == "pyproject.toml::tool.pytest.ini_options"
    assert formats(openai_server) == ["json_schema", "json_object", None]
    assert usage.calls == 3 and usage.prompt == 11  # only the answered one spent tokens


def test_a_server_that_ignores_response_format(openai_server: LoopbackServer) -> None:
    """It takes json_schema but the model answers prose around JSON: no step down."""
    openai_server.responder = lambda body: loopback.prose({"mine": True, "intent": "add -q"})
    req = ClaimRequest("q", ChildInfo("a.toml::t", "table", "t"), "toml", "[t]\n", "[t]")
    answer, _ = run(settings(openai_server), lambda p: p.claim(req))
    assert answer.mine and formats(openai_server) == ["json_schema"]


def test_schema_mismatch_after_a_correction_steps_down(openai_server: LoopbackServer) -> None:
    openai_server.enqueue({"act": [{"id": "x"}]})  # intent missing
    openai_server.enqueue({"act": "everything"})
    openai_server.enqueue(ROUTE_ANSWER)
    route, usage = run(settings(openai_server), lambda p: p.route(ROUTE))
    assert len(route.act) == 1 and usage.calls == 3
    assert formats(openai_server) == ["json_schema", "json_schema", "json_object"]
    retry = openai_server.requests[1].body["messages"]
    assert retry[-2]["role"] == "assistant"
    assert "not valid" in retry[-1]["content"] and "act.0.intent" in retry[-1]["content"]
    # The step down is a fresh question in the new mode, not the corrective thread.
    assert [m["role"] for m in openai_server.requests[2].body["messages"]] == ["system", "user"]


def test_two_bad_answers_in_every_mode_raise_naming_the_node(
    openai_server: LoopbackServer,
) -> None:
    openai_server.enqueue({"act": "everything"}, usage=(3, 2), times=6)
    err = model_error(settings(openai_server), lambda p: p.route(ROUTE))
    assert err.node == ROUTE.node_id
    assert "did not match the schema" in str(err) and "act" in str(err)
    assert "\n" not in str(err)
    assert formats(openai_server) == ["json_schema"] * 2 + ["json_object"] * 2 + [None] * 2


def test_usage_is_counted_when_a_structured_call_gives_up(
    openai_server: LoopbackServer,
) -> None:
    openai_server.enqueue("no json here", usage=(10, 4), times=2)
    s = settings(openai_server, json_mode="json_object")

    async def body(p: OpenAIProvider) -> Usage:
        with pytest.raises(ModelError):
            await p.route(ROUTE)
        return p.usage

    assert run(s, body) == Usage(20, 8, calls=2)


def test_usage_is_counted_for_cut_off_and_failed_requests(
    openai_server: LoopbackServer,
) -> None:
    openai_server.enqueue("[t]\n", finish_reason="length", usage=(30, 1024))
    openai_server.enqueue("[t]\n", finish_reason="length", usage=(30, 4096))
    openai_server.enqueue(status=503, error={"message": "busy"}, headers={"x-should-retry": "false"})

    async def body(p: OpenAIProvider) -> Usage:
        with pytest.raises(ModelError, match="cut off"):
            await p.generate(GENERATE)
        with pytest.raises(ModelError, match="503"):
            await p.generate(GENERATE)
        return p.usage

    assert run(settings(openai_server), body) == Usage(60, 5120, calls=3)


def test_token_budget_counts_failed_calls(openai_server: LoopbackServer) -> None:
    openai_server.enqueue("nope", usage=(40, 20), times=6)
    err = model_error(settings(openai_server, token_budget=100), lambda p: p.route(ROUTE))
    assert "token budget of 100 exceeded (120 tokens used)" in str(err)
    assert len(openai_server.requests) == 2


@pytest.mark.parametrize("mode", ["json_schema", "json_object", "off"])
def test_a_forced_mode_never_steps_down(openai_server: LoopbackServer, mode: str) -> None:
    openai_server.emulate("plain")  # refuses both response formats
    openai_server.enqueue("not json", times=2)
    s = settings(openai_server, json_mode=mode)
    err = model_error(s, lambda p: p.route(ROUTE))
    if mode == "off":
        assert "did not match the schema" in str(err)
        assert formats(openai_server) == [None, None]
    else:
        assert "HTTP 400" in str(err) and formats(openai_server) == [mode]


def test_old_json_schema_setting_still_works(openai_server: LoopbackServer) -> None:
    assert Settings.model_validate({"json_schema": "on"}).json_mode == "json_schema"
    assert Settings.model_validate({"json_schema": "off"}).json_mode == "off"
    assert Settings.model_validate({"json_schema": "auto"}).json_mode == "auto"
    openai_server.enqueue(ROUTE_ANSWER)
    run(settings(openai_server, json_schema="off"), lambda p: p.route(ROUTE))
    (req,) = openai_server.requests
    assert "response_format" not in req.body
    assert req.body["messages"][0]["role"] == "system"


def test_what_works_is_remembered_across_runs(
    openai_server: LoopbackServer, tmp_path: Path
) -> None:
    memory = tmp_path / "astm" / "endpoints.json"
    openai_server.emulate("llama-cpp-python")
    openai_server.responder = lambda body: json.dumps(ROUTE_ANSWER)

    async def once(p: OpenAIProvider) -> str:
        await p.route(ROUTE)
        return p.json_mode

    def one_run(s: Settings) -> str:
        async def go() -> str:
            provider = OpenAIProvider(s, api_key=None, environ={}, memory=memory)
            try:
                return await once(provider)
            finally:
                await provider.aclose()

        return asyncio.run(go())

    assert one_run(settings(openai_server)) == "json_object"
    assert formats(openai_server) == ["json_schema", "json_object"]
    stored = json.loads(memory.read_text())["endpoints"]
    assert [v["json_mode"] for v in stored.values()] == ["json_object"]
    assert all(openai_server.base_url in k and "loop-model" in k for k in stored)
    # The next run starts where the last one ended: no refused request.
    assert one_run(settings(openai_server)) == "json_object"
    assert formats(openai_server)[2:] == ["json_object"]
    # Another model at the same server is another endpoint.
    assert one_run(settings(openai_server, model="other")) == "json_object"
    assert formats(openai_server)[3:] == ["json_schema", "json_object"]
    # A forced mode neither reads nor writes the memory.
    before = memory.read_bytes()
    openai_server.emulate("openai")
    assert one_run(settings(openai_server, json_mode="json_schema")) == "json_schema"
    assert memory.read_bytes() == before


def test_a_broken_memory_file_is_ignored(openai_server: LoopbackServer, tmp_path: Path) -> None:
    memory = tmp_path / "endpoints.json"
    memory.write_text("{not json")
    openai_server.enqueue(ROUTE_ANSWER)

    async def body() -> None:
        p = OpenAIProvider(settings(openai_server), api_key=None, environ={}, memory=memory)
        try:
            await p.route(ROUTE)
        finally:
            await p.aclose()

    asyncio.run(body())
    assert json.loads(memory.read_text())["endpoints"]


# ---- transport errors ----


def test_rate_limit_after_retries(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(status=429, error={"message": "slow down"}, headers=FAST, times=3)
    err = model_error(settings(openai_server, http_retries=2), lambda p: p.generate(GENERATE))
    assert "429" in str(err) and "2 retries" in str(err)
    assert err.node == GENERATE.node_id
    assert len(openai_server.requests) == 3


def test_rate_limit_then_success(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(status=429, headers=FAST)
    openai_server.enqueue("x = 1")
    text, _ = run(settings(openai_server, http_retries=1), lambda p: p.generate(GENERATE))
    assert text == "x = 1"


def test_server_error(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(status=500, error={"message": "boom"}, headers=FAST, times=2)
    err = model_error(settings(openai_server, http_retries=1), lambda p: p.generate(GENERATE))
    assert "model server error HTTP 500: boom" in str(err)
    assert len(openai_server.requests) == 2


def test_model_not_found(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(status=404, error={"message": "model 'loop-model' not found"})
    err = model_error(settings(openai_server), lambda p: p.generate(GENERATE))
    assert str(err).endswith(f"model loop-model not found at {openai_server.base_url}")


def test_hang_times_out(openai_server: LoopbackServer) -> None:
    openai_server.enqueue("late", delay=30)
    start = time.monotonic()
    s = settings(openai_server, timeout=0.5, http_retries=0)
    err = model_error(s, lambda p: p.generate(GENERATE))
    assert time.monotonic() - start < 3
    assert "timed out after 0.5s" in str(err) and err.node == GENERATE.node_id


def test_unreachable_server() -> None:
    server = LoopbackServer()
    s = settings(server)
    server.close()  # the port is now closed: connection refused
    err = model_error(s, lambda p: p.generate(GENERATE))
    assert f"cannot reach the model at {s.base_url}" in str(err)


def test_wrong_key_never_shows_the_key(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(
        status=401, error={"message": f"Incorrect API key provided: {KEY}", "code": "bad_key"}
    )
    err = model_error(settings(openai_server, api_key_env="MY_KEY"), lambda p: p.route(ROUTE))
    assert "refused the API key (from $MY_KEY)" in str(err)
    assert KEY not in str(err) and "SENTINEL" not in repr(err.args)
    assert err.__cause__ is None and err.__suppress_context__


def test_key_travels_in_the_header_only(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(ROUTE_ANSWER)
    openai_server.enqueue("x = 1")
    s = settings(openai_server)
    run(s, lambda p: p.route(ROUTE))
    run(s, lambda p: p.generate(GENERATE))
    for req in openai_server.requests:
        assert req.headers["authorization"] == f"Bearer {KEY}"
        assert b"SENTINEL" not in req.raw


def test_no_key_sends_a_placeholder(openai_server: LoopbackServer) -> None:
    openai_server.enqueue("x = 1")
    run(settings(openai_server), lambda p: p.generate(GENERATE), api_key=None)
    assert openai_server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_key_from_the_configured_variable(openai_server: LoopbackServer) -> None:
    openai_server.enqueue("x = 1")
    s = settings(openai_server, api_key_env="MY_KEY")
    run(s, lambda p: p.generate(GENERATE), api_key=None, environ={"MY_KEY": "sk-from-env"})
    assert openai_server.requests[0].headers["authorization"] == "Bearer sk-from-env"


def test_no_key_and_401_says_which_variable_to_set(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(status=401, error={"message": "key required"})
    s = settings(openai_server, api_key_env="MY_KEY")
    with pytest.raises(ModelError, match=r"wants an API key: set \$MY_KEY"):
        run(s, lambda p: p.generate(GENERATE), api_key=None)


# ---- bounds: tokens, temperature ----


def test_max_tokens_and_temperature_are_configurable(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(ROUTE_ANSWER)
    openai_server.enqueue("x = 1")
    big = dataclasses.replace(GENERATE, text="x" * 3000)
    s = settings(openai_server, temperature=0.2)
    run(s, lambda p: p.route(ROUTE))
    run(s, lambda p: p.generate(big))
    # generation: room for the node's text to double (3 bytes a token) plus a margin
    assert [r.body["max_tokens"] for r in openai_server.requests] == [448, 2 * 3000 // 3 + 512]
    assert {r.body["temperature"] for r in openai_server.requests} == {0.2}
    openai_server.enqueue(ROUTE_ANSWER)
    openai_server.enqueue("x = 1")
    s = settings(openai_server, max_tokens=300)  # the cap wins over every bound
    run(s, lambda p: p.route(ROUTE))
    run(s, lambda p: p.generate(big))
    assert [r.body["max_tokens"] for r in openai_server.requests[2:]] == [300, 300]


# ---- concurrency: model_jobs ----


def test_model_jobs_bounds_requests_in_flight_for_every_caller(
    openai_server: LoopbackServer,
) -> None:
    openai_server.enqueue(ROUTE_ANSWER, delay=0.3, times=6)  # generate takes any text

    async def many(p: OpenAIProvider) -> None:
        await asyncio.gather(
            *(p.route(ROUTE) for _ in range(3)), *(p.generate(GENERATE) for _ in range(3))
        )

    run(settings(openai_server, model_jobs=2), many)
    assert len(openai_server.requests) == 6
    assert openai_server.max_in_flight == 2


def test_a_local_endpoint_gets_one_request_at_a_time_by_default(
    openai_server: LoopbackServer,
) -> None:
    openai_server.enqueue("x = 1", delay=0.2, times=3)

    async def many(p: OpenAIProvider) -> None:
        await asyncio.gather(*(p.generate(GENERATE) for _ in range(3)))

    s = settings(openai_server, timeout=None)
    assert (s.model_slots, s.request_timeout) == (1, 600.0)  # 127.0.0.1: local
    run(s, many)
    assert openai_server.max_in_flight == 1


def test_waiting_for_a_slot_does_not_count_against_the_timeout(
    openai_server: LoopbackServer,
) -> None:
    """Four calls of 0.4 s through one slot take 1.6 s; each one's own 1 s deadline
    starts when it is sent, so none times out."""
    openai_server.enqueue("x = 1", delay=0.4, times=4)

    async def many(p: OpenAIProvider) -> list[tuple[str, Usage]]:
        return list(await asyncio.gather(*(p.generate(GENERATE) for _ in range(4))))

    answers = run(settings(openai_server, model_jobs=1, timeout=1.0), many)
    assert [text for text, _ in answers] == ["x = 1"] * 4
    assert openai_server.max_in_flight == 1


# ---- deadlines: a request's whole time is bounded ----


def test_a_trickling_server_is_cut_at_the_deadline(openai_server: LoopbackServer) -> None:
    """A byte every 0.3 s keeps every read alive: only a whole-request deadline ends it
    (without one, this test would outlive its 10 s limit)."""
    openai_server.enqueue("x" * 200, trickle=0.3)
    err = model_error(settings(openai_server, timeout=1.0, http_retries=2), lambda p: p.generate(GENERATE))
    assert "timed out after 1s" in str(err) and err.node == GENERATE.node_id
    assert len(openai_server.requests) == 1  # the deadline is spent: no retry


def test_retry_after_past_the_deadline_is_not_waited(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(status=503, error={"message": "loading model"}, headers={"retry-after": "40"})
    seen: list[str] = []

    async def body(p: OpenAIProvider) -> object:
        p.notify = lambda node, detail: seen.append(detail)
        return await p.generate(GENERATE)

    err = model_error(settings(openai_server, timeout=2.0, http_retries=2), body)
    assert "HTTP 503: loading model" in str(err)
    assert "not retried: a retry in 10s would pass the 2s deadline" in str(err)  # capped at 10 s
    assert len(openai_server.requests) == 1 and seen == []


def test_a_retry_wait_is_shown_and_capped(
    openai_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from astm.llm import transport

    monkeypatch.setattr(transport, "MAX_RETRY_WAIT", 0.2)  # stands in for 10 s
    openai_server.enqueue(status=503, error={"message": "busy"}, headers={"retry-after": "40"})
    openai_server.enqueue("x = 1")
    seen: list[tuple[str, str]] = []

    async def body(p: OpenAIProvider) -> tuple[str, Usage]:
        p.notify = lambda node, detail: seen.append((node, detail))
        return await p.generate(GENERATE)

    text, usage = run(settings(openai_server, timeout=5.0, http_retries=2), body)
    assert text == "x = 1" and usage.calls == 2
    assert seen == [(GENERATE.node_id, "waiting for the model (retry in 0.2s after HTTP 503)")]


def test_retry_after_as_a_date_and_back_off() -> None:
    import email.utils

    from astm.llm.transport import retry_wait

    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_wait({"retry-after": soon}, 0) <= 31
    assert retry_wait({"retry-after-ms": "250"}, 0) == 0.25
    assert retry_wait({"retry-after": "3"}, 0) == 3.0
    assert 0.375 <= retry_wait({}, 0) <= 0.5 and 6 <= retry_wait({}, 10) <= 8


# ---- what reaches the terminal ----


def test_a_url_password_echoed_by_the_server_is_masked(openai_server: LoopbackServer) -> None:
    password = "sk-url-SENTINEL-77"
    url = openai_server.base_url.replace("http://", f"http://user:{password}@")
    echo = (
        f"upstream {url} refused user:{password} with Bearer {KEY} and Bearer tok-9999 "
        "\x1b]0;pwned\x07\x1b[2J"
    )
    openai_server.enqueue(status=500, error={"message": echo}, headers={"x-should-retry": "false"})
    s = Settings(model="m", base_url=url, timeout=2.0, http_retries=0)
    err = model_error(s, lambda p: p.generate(GENERATE))
    text = str(err)
    assert "HTTP 500: upstream http://***@127.0.0.1" in text
    assert password not in text and KEY not in text and "tok-9999" not in text
    assert "\x1b" not in text and "\x07" not in text and "\\x1b]0;pwned\\x07" in text
    assert password not in repr(err.args)


def test_control_characters_in_a_schema_problem_are_escaped(
    openai_server: LoopbackServer,
) -> None:
    openai_server.enqueue({"act": [{"id": 1, "intent": "x"}], "\x1b[2J": 1}, times=2)
    openai_server.enqueue({"mine": "\x1b]0;t\x07"}, times=2)
    s = settings(openai_server, json_mode="off")
    req = ClaimRequest("q", ChildInfo("a.toml::t", "table", "t"), "toml", "[t]\n", "[t]")
    err = model_error(s, lambda p: p.claim(req))
    assert "\x1b" not in str(err) and "\x07" not in str(err)


def test_a_model_refusing_max_tokens_and_temperature_is_asked_without_them(
    openai_server: LoopbackServer,
) -> None:
    """OpenAI's reasoning models: max_completion_tokens instead of max_tokens, no
    temperature but their own. Adapted once, for the rest of the run."""
    openai_server.enqueue(
        status=400,
        error={
            "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "param": "max_tokens",
        },
    )
    openai_server.enqueue(
        status=400,
        error={
            "message": "Unsupported value: 'temperature' does not support 0.0 with this model.",
            "param": "temperature",
        },
    )
    openai_server.enqueue("x = 1", times=2)

    async def twice(p: OpenAIProvider) -> None:
        await p.generate(GENERATE)
        await p.generate(GENERATE)

    run(settings(openai_server, http_retries=0), twice)
    bodies = [r.body for r in openai_server.requests]
    assert ["max_tokens" in b for b in bodies] == [True, False, False, False]
    assert [b.get("max_completion_tokens") for b in bodies] == [None, 1024, 1024, 1024]
    assert ["temperature" in b for b in bodies] == [True, True, False, False]


def test_an_unrelated_400_is_not_adapted_to(openai_server: LoopbackServer) -> None:
    openai_server.enqueue(status=400, error={"message": "context too long", "param": "messages"})
    err = model_error(settings(openai_server), lambda p: p.generate(GENERATE))
    assert "HTTP 400: context too long" in str(err) and len(openai_server.requests) == 1


# ---- JSON out of loose answers (pure) ----


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"mine": true}', {"mine": True}),
        ('```json\n{"mine": true}\n```', {"mine": True}),
        ('Here you go:\n```\n{"mine": false, "intent": ""}\n```\nDone.', {"mine": False, "intent": ""}),
        ('I think {"mine": true, "intent": "use } and { here"} is right.', {"mine": True, "intent": "use } and { here"}),
        ("{'mine': True, 'intent': 'it\\'s x',}", {"mine": True, "intent": "it's x"}),
        ('{"act": [{"id": "a", "intent": "b",},], "delete": [],}', {"act": [{"id": "a", "intent": "b"}], "delete": []}),
        ("{'mine': true, 'intent': null}", {"mine": True, "intent": None}),
        ('not json {broken and then {"mine": true}', {"mine": True}),
        ('{"note": "true false null stay strings", \'k\': 1}', {"note": "true false null stay strings", "k": 1}),
    ],
)
def test_extract_object_reads_loose_answers(text: str, expected: dict[str, Any]) -> None:
    from astm.llm.structured import extract_object

    assert extract_object(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no json at all",
        '["a", "b"]',
        "{__import__('os').system('true')}",
        "{'a': (1).__class__}",
        "{" * 5000 + "}" * 5000,
        '{"a": 1',
    ],
)
def test_extract_object_refuses_what_is_not_a_safe_object(text: str) -> None:
    from astm.llm.structured import extract_object

    assert extract_object(text) is None


def test_clients_share_one_verifying_tls_context(openai_server: LoopbackServer) -> None:
    # Making a TLS context loads the CA bundle (50-90 ms); a track makes a client per
    # ticket. One per process, and it still verifies certificates and host names.
    import ssl

    from astm.llm.http import tls_context

    first, second = (OpenAIProvider(settings(openai_server), api_key="k") for _ in range(2))
    ctx = tls_context()
    assert ctx is tls_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert first._client._client is not second._client._client  # one HTTP client each
    openai_server.enqueue(ROUTE_ANSWER)
    route, _ = run(settings(openai_server), lambda p: p.route(ROUTE))
    assert route.act
