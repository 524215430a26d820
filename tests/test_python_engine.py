"""Python through the engine: validation levels, per-kind commands, healing, repo-wide intents."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, git, make_repo

openai_server = loopback.openai_server

CART = '''"""A shopping cart."""

from dataclasses import dataclass, field


@dataclass
class Cart:
    prices: list[float] = field(default_factory=list)
    discount: float = 0.0

    def add(self, price: float) -> None:
        self.prices.append(price)

    def total(self) -> float:
        return sum(self.prices)
'''
TEST_CART = '''import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from cart import Cart


def test_total():
    c = Cart([1.0, 2.0])
    assert c.total() == 3.0
'''
NEW_TOTAL = "def total(self) -> float:\n    return round(sum(self.prices) * (1 - self.discount), 2)\n"
BROKEN_TOTAL = "def total(self) -> float:\n    return 0.0\n"


def plan(path: Path, edits: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"version": 1, "intent": "t", "edits": edits}))
    return path


def total_edit(text: str) -> dict[str, Any]:
    return {"op": "replace", "node": "src/cart.py::Cart.total", "text": text}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "shop", {"src/cart.py": CART, "tests/test_cart.py": TEST_CART})


def test_root_tests_pass_and_the_change_lands(shop: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    res = astm("apply", "discount", "src/cart.py", "--plan", str(plan(tmp_path / "p.json", [total_edit(NEW_TOTAL)])),
               "--branch", "ok", cwd=shop)
    assert res.code == 0, res.err
    assert "round(sum(self.prices)" in git(shop, "show", "ok:src/cart.py")


def test_failing_root_tests_block_landing(shop: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    before = Snapshot.take(shop)
    res = astm("apply", "break it", "src/cart.py", "--plan", str(plan(tmp_path / "p.json", [total_edit(BROKEN_TOTAL)])),
               "--branch", "bad", cwd=shop)
    assert res.code == 1
    assert "at the root: tests failed: FAILED tests/test_cart.py::test_total" in res.err
    before.assert_unchanged(shop)


def test_failing_root_tests_give_the_model_one_more_round(
    shop: Path, model_env: loopback.LoopbackServer, astm: Any
) -> None:
    """A model's first total breaks the project's test: every acting node answers again,
    told the failing test and its assertion, and the second answer lands."""
    answers = iter(["    " + BROKEN_TOTAL.replace("\n    ", "\n        "), "    " + NEW_TOTAL.replace("\n    ", "\n        ")])
    model_env.responder = lambda body: next(answers)
    res = astm("apply", "Make Cart.total apply the discount", "--branch", "b", cwd=shop)
    assert res.code == 0, res.err
    assert "round(sum(self.prices)" in git(shop, "show", "b:src/cart.py")
    prompts = [json.dumps(r.body) for r in model_env.requests]
    assert len(prompts) == 2
    assert "the project's tests fail" in prompts[1] and "test_total" in prompts[1] and "assert 0.0 == 3.0" in prompts[1]
    assert "the project's tests failed on the first try" in res.out


def test_root_tests_failing_twice_fail_the_run_with_one_line(
    shop: Path, model_env: loopback.LoopbackServer, astm: Any
) -> None:
    before = Snapshot.take(shop)
    model_env.responder = lambda body: "    " + BROKEN_TOTAL.replace("\n    ", "\n        ")
    res = astm("apply", "Make Cart.total apply the discount", "--branch", "b", cwd=shop)
    assert res.code == 1
    errors = [ln for ln in res.err.splitlines() if ln.startswith("astm: error")]
    assert len(errors) == 1 and "at the root: tests failed: FAILED tests/test_cart.py::test_total" in errors[0]
    assert len(model_env.requests) == 2
    before.assert_unchanged(shop)


def test_tests_off_skips_root_tests(shop: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    (shop / "pyproject.toml").write_text('[tool.astm.validate]\ntests = "off"\n')
    git(shop, "add", "pyproject.toml")
    git(shop, "commit", "-qm", "off")
    res = astm("apply", "break it", "src/cart.py", "--plan", str(plan(tmp_path / "p.json", [total_edit(BROKEN_TOTAL)])),
               cwd=shop)
    assert res.code == 0, res.err


def test_per_kind_validator_command_runs_in_the_sandbox(shop: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    (shop / "tools").mkdir()
    (shop / "tools" / "no_print.py").write_text(
        "import sys\n"
        "path, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
        "lines = open(path).read().splitlines()[start - 1:end]\n"
        "bad = [i for i, ln in enumerate(lines, start) if 'print(' in ln]\n"
        "if bad:\n"
        "    print(f'line {bad[0]}: no print() in library code')\n"
        "    sys.exit(1)\n"
    )
    (shop / "pyproject.toml").write_text(
        '[tool.astm.validate]\ntests = "off"\n'
        '[tool.astm.validate.function_definition]\n'
        'commands = ["python tools/no_print.py {file} {start_line} {end_line}"]\n'
    )
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "checks")
    noisy = "def total(self) -> float:\n    print('total')\n    return sum(self.prices)\n"
    before = Snapshot.take(shop)
    res = astm("apply", "log totals", "src/cart.py", "--plan", str(plan(tmp_path / "p.json", [total_edit(noisy)])),
               "--retries", "0", cwd=shop)
    assert res.code == 1
    assert "no_print.py: line 15: no print() in library code" in res.err
    before.assert_unchanged(shop)
    ok = astm("apply", "discount", "src/cart.py", "--plan", str(plan(tmp_path / "q.json", [total_edit(NEW_TOTAL)])), cwd=shop)
    assert ok.code == 0, ok.err


def test_new_ruff_problems_inside_the_node_fail_but_old_ones_do_not(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    # An unused import elsewhere in the file (F401) is pre-existing: it never blocks.
    src = "import os\n\n\ndef f():\n    return 1\n\n\ndef g():\n    return 2\n"
    repo = make_repo(tmp_path / "r", {"m.py": src})
    good = plan(tmp_path / "good.json", [{"op": "replace", "node": "m.py::f", "text": "def f():\n    return 10\n"}])
    assert astm("apply", "x", "m.py", "--plan", str(good), cwd=repo).code == 0
    bad = plan(tmp_path / "bad.json", [{"op": "replace", "node": "m.py::g", "text": "def g():\n    return undefined_name\n"}])
    res = astm("apply", "x", "m.py", "--plan", str(bad), "--retries", "0", cwd=repo)
    assert res.code == 1 and "ruff F821" in res.err and "m.py::g: line 2" in res.err


def route_or(body: dict[str, Any], routes: dict[str, dict[str, Any]], generate: Any) -> str:
    text = json.dumps(body["messages"])
    m = re.search(r"You are the node (\S+?) \(", text)
    if "Its children" in text and m:
        return json.dumps(routes.get(m.group(1), {}))
    return generate(body)


@pytest.fixture
def model_env(monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer) -> loopback.LoopbackServer:
    monkeypatch.setenv("ASTM_MODEL", "m")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    return openai_server


def test_a_failed_node_is_reset_once_with_context(shop: Path, model_env: loopback.LoopbackServer, astm) -> None:  # type: ignore[no-untyped-def]
    routes = {
        "src/cart.py": {"act": [{"id": "src/cart.py::Cart", "intent": "discount"}]},
        "src/cart.py::Cart": {"act": [{"id": "src/cart.py::Cart.total", "intent": "apply the discount"}]},
    }

    def generate(body: dict[str, Any]) -> str:
        if "A first try at this node failed" in json.dumps(body):
            return NEW_TOTAL
        return "def totl(self):\n    return 1\n"  # the wrong name, every time

    model_env.responder = lambda body: route_or(body, routes, generate)
    res = astm("apply", "apply the discount", "src/cart.py", "--json", "--retries", "1", cwd=shop)
    assert res.code == 0, res.err
    node = next(n for n in json.loads(res.out)["nodes"] if n["id"] == "src/cart.py::Cart.total")
    assert node["status"] == "changed" and node["attempts"] == 3


def test_repo_wide_intent_routes_over_files(tmp_path: Path, model_env: loopback.LoopbackServer, astm) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "src/cart.py": CART,
        "src/users.py": "def login(name: str) -> bool:\n    return bool(name)\n",
        "src/unrelated.py": "X = 1\n",
    })
    routes = {
        ".": {"act": [{"id": "src/cart.py", "intent": "discount in Cart.total"}]},
        "src/cart.py": {"act": [{"id": "src/cart.py::Cart", "intent": "discount"}]},
        "src/cart.py::Cart": {"act": [{"id": "src/cart.py::Cart.total", "intent": "apply the discount"}]},
    }
    model_env.responder = lambda body: route_or(body, routes, lambda b: NEW_TOTAL)
    before = Snapshot.take(repo)
    res = astm("apply", "the cart total must apply the discount", "--branch", "wide", cwd=repo)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="wide")
    assert git(repo, "diff", "--name-only", "HEAD", "wide") == "src/cart.py"
    repo_route = next(r.body for r in model_env.requests if "You are the node . (" in json.dumps(r.body))
    prompt = json.dumps(repo_route)
    assert "src/cart.py" in prompt and "def total" in prompt  # skeletons, not bodies
    assert "sum(self.prices)" not in prompt
    assert "src/unrelated.py" not in prompt  # ranked out: no word of the intent in it


@pytest.mark.skipif(
    __import__("shutil").which("basedpyright") is None and __import__("shutil").which("pyright") is None,
    reason="needs basedpyright or pyright (pip install basedpyright)",
)
def test_pyright_runs_at_file_level_when_configured(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    src = "def f(x: int) -> int:\n    return x\n\n\ndef g() -> str:\n    return 'a'\n"
    repo = make_repo(tmp_path / "r", {"m.py": src, "pyproject.toml": '[tool.pyright]\ntypeCheckingMode = "basic"\n'})
    bad = plan(tmp_path / "bad.json", [{"op": "replace", "node": "m.py::g", "text": "def g() -> str:\n    return f(1) + 'a'\n"}])
    res = astm("apply", "x", "m.py", "--plan", str(bad), cwd=repo)
    assert res.code == 1 and "pyright" in res.err and "m.py" in res.err
    good = plan(tmp_path / "good.json", [{"op": "replace", "node": "m.py::g", "text": "def g() -> str:\n    return str(f(1))\n"}])
    assert astm("apply", "x", "m.py", "--plan", str(good), cwd=repo).code == 0


def test_requests_for_a_helper_sibling_and_a_caller_change(shop: Path, model_env: loopback.LoopbackServer, astm) -> None:  # type: ignore[no-untyped-def]
    (shop / "pyproject.toml").write_text('[tool.astm.validate]\ntests = "off"\n')
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "cfg")
    routes = {
        "src/cart.py": {"act": [{"id": "src/cart.py::Cart", "intent": "round totals"}]},
        "src/cart.py::Cart": {"act": [{"id": "src/cart.py::Cart.total", "intent": "round to cents"}]},
    }
    answers = {
        "src/cart.py::Cart.total": (
            "def total(self) -> float:\n    return self._cents(sum(self.prices))\n\n"
            "# astm-request: sibling _cents: round a float to cents\n"
            "# astm-request: change add: refuse negative prices with ValueError\n"
        ),
        "src/cart.py::Cart._cents": "def _cents(self, x: float) -> float:\n    return round(x, 2)\n",
        "src/cart.py::Cart.add": (
            "def add(self, price: float) -> None:\n    if price < 0:\n"
            "        raise ValueError(price)\n    self.prices.append(price)\n"
        ),
    }

    def generate(body: dict[str, Any]) -> str:
        m = re.search(r"Node: (\S+) \(", json.dumps(body["messages"]))
        return answers[m.group(1)]  # type: ignore[union-attr]

    model_env.responder = lambda body: route_or(body, routes, generate)
    res = astm("apply", "round totals to cents", "src/cart.py", "--branch", "asks", "--json", cwd=shop)
    assert res.code == 0, res.err
    text = git(shop, "show", "asks:src/cart.py")
    assert "astm-request" not in text
    assert "    def total(self) -> float:\n        return self._cents(sum(self.prices))\n\n    def _cents(self" in text
    assert "raise ValueError(price)" in text
    ids = {n["id"]: n["status"] for n in json.loads(res.out)["nodes"]}
    assert ids["src/cart.py::Cart._cents"] == "changed" and ids["src/cart.py::Cart.add"] == "changed"
