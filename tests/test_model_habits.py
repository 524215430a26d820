"""What real small models answer, absorbed (issue 10, points 1, 2, 3, 5 and 8).

Each test scripts the habit through the real openai client against the loopback server
and the real CLI, and asserts the landed bytes exactly. The responder plays the model:
routing prompts get a JSON decision, generation prompts the node's "new text" as a small
model writes it (the whole file, the whole class, prose around a fence, a bare body ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, git, make_repo
from test_python_model import generations, is_route, node_of, prompt_of

openai_server = loopback.openai_server
Responder = Callable[[dict[str, Any]], str]

CART = '''\
"""A shopping cart."""

from decimal import Decimal


class Cart:
    def __init__(self) -> None:
        self.items: list[Decimal] = []

    def add(self, price: Decimal) -> None:
        self.items.append(price)

    def total(self) -> Decimal:
        return sum(self.items, Decimal("0"))
'''
ROUNDED = 'return sum(self.items, Decimal("0")).quantize(Decimal("0.01"))'
CART_ROUNDED = CART.replace('return sum(self.items, Decimal("0"))', ROUNDED)
TOTAL = "cart.py::Cart.total"


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer
) -> loopback.LoopbackServer:
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-habits")
    return openai_server


def scripted(routes: dict[str, Any], answers: dict[str, str | list[str]]) -> Responder:
    """Routing answers by the routing node's id (a dict, or a list: one per call); the
    generation answers by node id (a string, or a list: one per attempt)."""
    calls: dict[str, int] = {}

    def pick(table: dict[str, Any], key: str) -> Any:
        got = table[key]
        if isinstance(got, list) and not (got and isinstance(got[0], dict) and "id" in got[0]):
            n = calls[key] = calls.get(key, 0) + 1
            return got[min(n, len(got)) - 1]
        return got

    def respond(body: dict[str, Any]) -> str:
        me = node_of(body)
        if is_route(body):
            got = pick(routes, me) if me in routes else {}
            return got if isinstance(got, str) else json.dumps(got)
        return str(pick(answers, me))

    return respond


def apply(astm: Any, repo: Path, intent: str, *paths: str, retries: int = 1) -> Any:
    return astm("apply", intent, *paths, "--branch", "m", "--retries", str(retries), cwd=repo)


def landed(repo: Path, path: str) -> str:
    return git(repo, "show", f"m:{path}") + "\n"


def to_total(intent: str = "round the total to cents") -> dict[str, Any]:
    return {
        "cart.py": {"act": [{"id": "cart.py::Cart", "intent": intent}]},
        "cart.py::Cart": {"act": [{"id": TOTAL, "intent": intent}]},
    }


# ---- 10.1 whole-file answers -------------------------------------------------------


def test_whole_file_answer_lands_only_the_node(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"cart.py": CART})
    # The model returns the whole file in a fence, with prose before and after it.
    answer = f"Here is the updated file:\n\n```python\n{CART_ROUNDED}```\n\nThe total now rounds."
    env.responder = scripted(to_total(), {TOTAL: answer})
    before = Snapshot.take(repo)
    res = apply(astm, repo, "round the total to cents", "cart.py", retries=0)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="m")
    assert landed(repo, "cart.py") == CART_ROUNDED
    assert len(generations(env, TOTAL)) == 1  # absorbed at once: no retry


def test_whole_class_answer_proposes_its_other_change_to_the_parent(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"cart.py": CART})
    checked_add = CART_ROUNDED.replace(
        "        self.items.append(price)\n",
        '        if price < 0:\n            raise ValueError("negative price")\n        self.items.append(price)\n',
    )
    whole_class = checked_add[checked_add.index("class Cart:") :]
    env.responder = scripted(to_total(), {TOTAL: whole_class})
    res = apply(astm, repo, "round the total; refuse negative prices", "cart.py", "--json", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "cart.py") == checked_add
    # Cart.add took the proposal through its own agent, validated, without a model call.
    assert generations(env, "cart.py::Cart.add") == []
    nodes = {n["id"]: n["status"] for n in json.loads(res.out)["nodes"]}
    assert nodes["cart.py::Cart.add"] == "changed" and nodes[TOTAL] == "changed"


def test_unchanged_nodes_of_a_whole_file_answer_are_dropped(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"cart.py": CART})
    # Re-indented by 2 and trailing spaces: the other methods did not change.
    sloppy = CART_ROUNDED.replace("        self.items.append(price)\n", "        self.items.append(price)   \n")
    env.responder = scripted(to_total(), {TOTAL: sloppy})
    res = apply(astm, repo, "round the total", "cart.py", "--json", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "cart.py") == CART_ROUNDED
    ids = {n["id"] for n in json.loads(res.out)["nodes"]}
    assert "cart.py::Cart.add" not in ids and "cart.py::Cart.__init__" not in ids


def test_whole_file_answer_with_a_new_helper_and_import(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"cart.py": CART})
    answer = (
        CART.replace("from decimal import Decimal\n", "from decimal import ROUND_HALF_UP, Decimal\n")
        .replace('return sum(self.items, Decimal("0"))', 'return cents(sum(self.items, Decimal("0")))')
        + "\n\ndef cents(value: Decimal) -> Decimal:\n"
        '    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)\n'
    )
    env.responder = scripted(to_total(), {TOTAL: answer})
    res = apply(astm, repo, "round the total half up", "cart.py", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "cart.py") == answer
    assert generations(env, "cart.py::cents") == []


def test_bare_body_is_wrapped_in_the_node_header(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"cart.py": CART})
    env.responder = scripted(to_total(), {TOTAL: ROUNDED + "\n"})
    res = apply(astm, repo, "round the total", "cart.py", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "cart.py") == CART_ROUNDED


def test_of_several_fences_the_one_holding_the_node_is_taken(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"cart.py": CART})
    answer = (
        "Use it like this:\n```python\ncart = Cart()\ncart.total()\n```\n"
        "And the method:\n```python\n    def total(self) -> Decimal:\n        " + ROUNDED + "\n```\n"
    )
    env.responder = scripted(to_total(), {TOTAL: answer})
    res = apply(astm, repo, "round the total", "cart.py", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "cart.py") == CART_ROUNDED


def test_prose_around_unfenced_code_is_dropped(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"cart.py": CART})
    answer = (
        "Sure! Here is the method:\n\n    def total(self) -> Decimal:\n        " + ROUNDED
        + "\n\nThis rounds the total to cents.\nLet me know if you need anything else!\n"
    )
    env.responder = scripted(to_total(), {TOTAL: answer})
    res = apply(astm, repo, "round the total", "cart.py", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "cart.py") == CART_ROUNDED


PYPROJECT = """\
[project]
name = "shop"
version = "1.0"
dependencies = []

[tool.ruff]
line-length = 100
"""


def test_whole_pyproject_answer_lands_the_table_and_proposes_the_new_one(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT})
    whole = PYPROJECT.replace("dependencies = []", 'dependencies = ["requests>=2.31"]') + (
        '\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    )
    env.responder = scripted(
        {"pyproject.toml": {"act": [{"id": "pyproject.toml::project", "intent": "add requests"}]}},
        {"pyproject.toml::project": f"```toml\n{whole}```\n"},
    )
    res = apply(astm, repo, "add requests and a pytest table", "pyproject.toml", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "pyproject.toml") == whole
    assert generations(env, "pyproject.toml::tool.pytest.ini_options") == []
