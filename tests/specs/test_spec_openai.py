"""Builds against a real OpenAI client and a loopback server: prompts and real answers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from specs_kit import demo_answers, demo_repo

openai_server = loopback.openai_server
REF = re.compile(r"^You (?:implement one spec|write one pytest test) of a Python project: (\S+)\.$", re.MULTILINE)


def prompt_of(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer) -> loopback.LoopbackServer:
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    answers = {k: v.replace("```python\n", "").replace("```\n", "") for k, v in demo_answers().items()}

    def respond(body: dict[str, Any]) -> str:
        ref = REF.search(prompt_of(body))
        assert ref, prompt_of(body)[:200]
        # As real models answer: prose around a fenced block holding a whole module.
        return f"Here is the implementation:\n\n```python\nimport astm\n\n{answers[ref.group(1)]}\n```\nDone."

    openai_server.responder = respond
    return openai_server


def test_model_build_and_test_with_whole_module_answers(astm, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = demo_repo(tmp_path)
    res = astm("test", "--write", cwd=repo)
    assert res.code == 0, res.err
    assert "2 passed" in res.out
    prompts = {REF.search(prompt_of(r.body)).group(1): prompt_of(r.body) for r in model.requests}  # type: ignore[union-attr]
    assert set(prompts) == {"shop.money:parse_money", "shop.pricing:price_with_tax", "shop.pricing:PriceBook",
                            "test_pricing:test_price_with_tax", "test_pricing:test_price_book"}
    impl = prompts["shop.pricing:price_with_tax"]
    assert "def parse_money(text: str) -> Decimal:" in impl  # its dependency's API
    assert "InvalidOperation" in impl  # the dependency's generated code, already built
    test = prompts["test_pricing:test_price_with_tax"]
    assert "round half-up to\n    cents" in test  # the spec's docstring: the API
    assert "ROUND_HALF_UP" not in test and "InvalidOperation" not in test  # never an implementation
    generated = (repo / "src/shop/__generated__/pricing.py").read_text()
    assert "import astm" not in generated and "Here is" not in generated
    assert "model=loop-model" in generated
    # A model switch makes everything stale; the prompt version is in the fingerprint too.
    res = astm("build", "--write", "--explain", "--model", "other-model", cwd=repo)
    assert "the model changed (loop-model -> other-model)" in res.out


def test_unreachable_model_is_exit_3(astm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ASTM_MODEL", "m")
    monkeypatch.setenv("ASTM_BASE_URL", "http://127.0.0.1:9/v1")
    repo = demo_repo(tmp_path)
    with (repo / "pyproject.toml").open("a") as f:
        f.write("\n[tool.astm]\nhttp_retries = 0\n")
    res = astm("build", "--retries", "0", cwd=repo)
    assert res.code == 3, res.err
    assert "cannot reach the model" in res.err


def test_no_model_and_no_plan_is_exit_2_only_when_something_is_stale(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = demo_repo(tmp_path)
    res = astm("build", cwd=repo)
    assert res.code == 2 and "no model configured" in res.err
