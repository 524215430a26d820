"""Tier-4 hints: a long failure becomes one instruction of at most 20 words; the raw output
stays in the record and never reaches a worker's prompt."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import openai_server as loopback
import pytest
from openai_server import LoopbackServer
from trackkit import project, replace, standard_tickets, write_plan

from astm.agents import hints
from astm.conductor import planner
from astm.config import Settings
from astm.core.plan import Plan
from astm.errors import ModelError
from astm.llm.base import GenerateRequest
from astm.llm.openai_provider import OpenAIProvider
from astm.llm.plan_provider import PlanProvider
from astm.workspace.repo import Repo

openai_server = loopback.openai_server

DEEP_TEST = '''def total(items, depth):
    if depth:
        return total(items, depth - 1)
    assert sum(items) == 7, "the cart total is off"
    return sum(items)


def test_cart_total():
    assert total([1, 2, 3], 28) == 7
'''


@pytest.fixture(scope="module")
def pytest_failure(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real ~300-line pytest failure (a deep traceback), from a real pytest run."""
    d = tmp_path_factory.mktemp("deep")
    (d / "test_deep.py").write_text(DEEP_TEST)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=long",
                           "test_deep.py"], cwd=d, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert 250 <= len(proc.stdout.splitlines()) <= 350, len(proc.stdout.splitlines())
    return proc.stdout


RUFF = "\n".join(f"shop/m{i}.py:{i + 1}:1: F401 [*] `os` imported but unused" for i in range(200))
TRACEBACK = '''Traceback (most recent call last):
  File "/srv/app/main.py", line 3, in <module>
    run()
  File "/srv/app/main.py", line 10, in run
    int("x")
ValueError: invalid literal for int() with base 10: 'x'
'''


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (RUFF, "Fix shop/m0.py:1: F401 [*] `os` imported but unused"),
        (TRACEBACK, "Fix main.py:10: ValueError: invalid literal for int() with base 10: 'x'"),
        ("FAILED tests/test_a.py::test_x - boom\n", "Fix: tests/test_a.py::test_x - boom"),
        ("something odd happened\nand more\n", "Fix: something odd happened"),
        ("", "Fix: the previous answer failed validation"),
    ],
)
def test_deterministic_hints(raw: str, expected: str) -> None:
    assert hints.deterministic(raw) == expected


def test_deterministic_hint_of_a_300_line_pytest_failure(pytest_failure: str) -> None:
    hint = hints.deterministic(pytest_failure)
    assert hint == "Fix test_deep.py:4: AssertionError: the cart total is off"
    assert len(hint.split()) <= hints.MAX_WORDS
    long = hints.deterministic("E   " + " ".join(["word"] * 50))
    assert len(long.split()) == hints.MAX_WORDS


def test_the_cheap_model_sees_a_clipped_output(pytest_failure: str) -> None:
    clipped = hints.clipped(pytest_failure)
    assert len(clipped.splitlines()) <= hints.CLIP_LINES + 1
    assert "E       AssertionError: the cart total is off" in clipped
    assert hints.clipped("short\n") == "short\n"


def test_a_model_hint_and_the_fallbacks(pytest_failure: str) -> None:
    answer = {"instruction": "Return 7 from total for [1, 2, 3]: sum gives 6.\nMore lines " + "x " * 40}
    hint, _ = asyncio.run(hints.compress(pytest_failure, "def total(items, depth):", PlanProvider(Plan(), answers=[answer])))
    assert (hint.text, hint.source) == ("Return 7 from total for [1, 2, 3]: sum gives 6.", "model")
    assert hint.to_json() == {"raw": pytest_failure, "hint": hint.text, "source": "model"}
    hint, _ = asyncio.run(hints.compress(pytest_failure, "", PlanProvider(Plan())))  # the model fails
    assert hint.source == "rules" and hint.text.startswith("Fix test_deep.py:4")
    hint, _ = asyncio.run(hints.compress(pytest_failure, "", PlanProvider(Plan(), answers=[{"instruction": " "}])))
    assert hint.source == "rules"
    hint, _ = asyncio.run(hints.compress("odd", "x = 1", None))
    assert hint.text == "Fix: odd near x = 1"


def test_the_raw_trace_never_reaches_the_worker_prompt(openai_server: LoopbackServer, pytest_failure: str) -> None:
    """The cheap model compresses the failure; the worker's retry carries only the hint."""
    settings = Settings(model="worker", router_model="cheap", base_url=openai_server.base_url, http_retries=0)
    openai_server.enqueue({"instruction": "Make total return 7 for [1, 2, 3]; the sum is 6."})
    openai_server.enqueue("def total(items, depth):\n    return 7\n")
    openai_server.enqueue("def total(items, depth):\n    return 7\n")

    async def scenario() -> tuple[hints.Hint, int, int]:
        provider = OpenAIProvider(settings, api_key="k")
        hint, _ = await hints.compress(pytest_failure, "def total(items, depth):", provider)
        req = GenerateRequest("make the cart total right", "cart.py::total", "function", "python", "total",
                              "def total(items, depth):\n    return sum(items)\n", "", hint=hint.text, attempt=2)
        await provider.generate(req)
        await provider.generate(GenerateRequest(**{**req.__dict__, "hint": pytest_failure}))  # the old way
        await provider.aclose()
        return hint, len(openai_server.requests[1].raw), len(openai_server.requests[2].raw)

    hint, hinted_bytes, raw_bytes = asyncio.run(scenario())
    cheap, worker, _ = openai_server.requests
    assert cheap.body["model"] == "cheap" and worker.body["model"] == "worker"
    assert "E       AssertionError: the cart total is off" in cheap.body["messages"][-1]["content"]
    prompt = json.dumps(worker.body)
    assert hint.text in worker.body["messages"][0]["content"]
    for line in ("E       assert 6 == 7", "_ _ _ _ _", "depth = 27", "short test summary info"):
        assert line not in prompt
    assert hinted_bytes * 5 < raw_bytes


def test_a_failed_ticket_records_raw_and_hint_side_by_side(tmp_path: Path) -> None:
    from astm import config as cfg
    from astm.conductor.run import Runner, TrackFailed

    repo_path = project(tmp_path)
    repo = Repo.open(repo_path)
    tickets = standard_tickets()[:2]
    tickets[1]["plan"] = replace("shop/prices.py::tax", "def tax(amount: float) -> float:\n    return amount *\n")
    plan = planner.load_plan(write_plan(tmp_path / "t.json", tickets))
    track = planner.build(plan, intent="", base=str(repo.base_commit().id), files={"shop/prices.py"})
    for t, given in zip(track.tickets, plan.tickets, strict=True):
        t.plan = given.plan
    cheap = PlanProvider(Plan(), answers=[{"instruction": "Complete the multiplication: amount * 0.2"}])
    runner = Runner(repo, track, cfg.load(repo_path), lambda p: PlanProvider(p),  # type: ignore[arg-type]
                    hint_provider=lambda: cheap)
    with pytest.raises(TrackFailed):
        runner.run()
    tax = track.ticket("tax")
    last = tax.history[-1]
    assert last.hint == "Complete the multiplication: amount * 0.2" and last.raw != last.hint
    assert "shop/prices.py::tax" in last.raw
    assert tax.notes == ["it failed: Complete the multiplication: amount * 0.2"]
    assert "Note from a previous attempt: it failed: Complete the multiplication" in tax.intent()
    assert last.raw not in tax.intent()
    assert "Output (clipped)" in cheap.prompts[0]


def test_model_errors_are_not_fatal_to_a_hint() -> None:
    class Broken(PlanProvider):
        async def structured(self, prompt, schema):  # type: ignore[no-untyped-def, override]
            raise ModelError("down")

    hint, _ = asyncio.run(hints.compress("E   boom", "", Broken(Plan())))
    assert hint.text == "Fix: boom"
