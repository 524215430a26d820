"""Issue 11.8: a rewrite keeps its members; contradictory decisions and plans are refused.

Through the real CLI: routing decisions from the real openai client against the loopback
server, plans from plan files. A class rewrite that drops a method the decision did not
delete fails validation naming the method (and retries); a decision that acts on and
deletes one node, acts on one twice with two intents, or creates one key twice is refused
naming the node (after one corrective turn); a plan whose edits contradict each other is
refused up front (exit 2) naming the nodes, before anything is generated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, git, make_repo
from kit import assert_one_error, is_route, leftovers, node_of, write_plan

openai_server = loopback.openai_server

PYPROJECT = '[project]\nname = "shop"\nversion = "1.0"\n\n[tool.astm]\nretries = 1\nhttp_retries = 1\ntimeout = 5.0\n'
CART = (
    "class Cart:\n"
    "    def total(self):\n        return 0\n\n"
    "    def count(self):\n        return 1\n\n"
    "    def clear(self):\n        return None\n"
)
MODULE = "def area(w, h):\n    return w * h\n\n\n" + CART
FULL = (
    "class Cart(dict):\n"
    "    def total(self):\n        return 0\n\n"
    "    def count(self):\n        return 1\n\n"
    "    def clear(self):\n        return None\n"
)
SHORT = "class Cart(dict):\n    def total(self):\n        return 0\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer) -> Path:
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    return make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT, "shop.py": MODULE})


def generations(server: loopback.LoopbackServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if not is_route(r.body)]


def rewriting(cart_route: dict[str, Any], answers: list[str]) -> Any:
    """The file router sends Cart; Cart's router answers ``cart_route``; generations of
    Cart answer ``answers`` in turn (the last one repeats)."""
    left = list(answers)

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            if node_of(body) == "shop.py::Cart":
                return json.dumps(cart_route)
            return json.dumps({"act": [{"id": "shop.py::Cart", "intent": "derive Cart from dict"}]})
        assert node_of(body) == "shop.py::Cart"
        return left.pop(0) if len(left) > 1 else left[0]

    return respond


# ---- a rewrite keeps its members ----------------------------------------------------


def test_a_rewrite_dropping_methods_retries_with_their_names(
    repo: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    openai_server.responder = rewriting({"rewrite": True}, [SHORT, FULL])
    res = astm("apply", "derive Cart from dict", "shop.py", "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    gens = generations(openai_server)
    assert len(gens) == 2
    retry = json.dumps(gens[1]["messages"])
    assert "count" in retry and "clear" in retry and "drops" in retry  # the hint names them
    landed = git(repo, "show", "b:shop.py")
    assert "class Cart(dict):" in landed
    assert "def count(self):" in landed and "def clear(self):" in landed


def test_a_rewrite_that_keeps_dropping_methods_never_lands(
    repo: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    openai_server.responder = rewriting({"rewrite": True}, [SHORT])
    before = Snapshot.take(repo)
    res = astm("apply", "derive Cart from dict", "shop.py", cwd=repo)
    assert res.code == 1, res.err
    assert_one_error(res.err, "shop.py::Cart", "count")
    before.assert_unchanged(repo)
    assert leftovers(repo) == []
    assert len(generations(openai_server)) <= 4  # retries and one reset, bounded


def test_a_rewrite_may_drop_what_its_decision_deletes(
    repo: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    keep_two = "class Cart(dict):\n    def total(self):\n        return 0\n\n    def count(self):\n        return 1\n"
    route = {"rewrite": True, "delete": ["shop.py::Cart.clear"]}
    openai_server.responder = rewriting(route, [keep_two])
    res = astm("apply", "derive Cart from dict, drop clear", "shop.py", "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    landed = git(repo, "show", "b:shop.py")
    assert "def clear" not in landed and "def count(self):" in landed
    assert len(generations(openai_server)) == 1


# ---- contradictory routing decisions --------------------------------------------------

CONTRADICTIONS = {
    "acted-on-and-deleted": (
        {"act": [{"id": "shop.py::area", "intent": "fix it"}], "delete": ["shop.py::area"]},
        "both acted on and deleted",
        "shop.py::area",
    ),
    "acted-on-twice-two-intents": (
        {"act": [{"id": "shop.py::area", "intent": "return the sum"},
                 {"id": "shop.py::area", "intent": "return the difference"}]},
        "twice with two intents",
        "shop.py::area",
    ),
    "created-twice": (
        {"create": [{"key": "volume", "intent": "a volume"}, {"key": "volume", "intent": "a cube"}]},
        "created twice",
        "volume",
    ),
}


@pytest.mark.parametrize("case", list(CONTRADICTIONS))
def test_a_contradictory_decision_is_refused_naming_the_node(
    repo: Path, openai_server: loopback.LoopbackServer, astm: Any, case: str
) -> None:
    route, needle, node = CONTRADICTIONS[case]
    openai_server.responder = lambda body: json.dumps(route) if is_route(body) else "def area(w, h):\n    return 0\n"
    before = Snapshot.take(repo)
    res = astm("apply", "change the size formula", "shop.py", cwd=repo)
    assert res.code == 1, res.err
    assert_one_error(res.err, "contradictory", needle, node)
    assert generations(openai_server) == []
    # one corrective turn, then refused
    assert len(openai_server.requests) == 2
    assert "contradicted itself" in json.dumps(openai_server.requests[1].body)
    before.assert_unchanged(repo)
    assert leftovers(repo) == []


def test_a_corrected_decision_lands(repo: Path, openai_server: loopback.LoopbackServer, astm: Any) -> None:
    bad = {"act": [{"id": "shop.py::area", "intent": "fix it"}], "delete": ["shop.py::area"]}
    good = {"act": [{"id": "shop.py::area", "intent": "return the sum"}]}
    openai_server.enqueue(bad)
    openai_server.enqueue(good)
    openai_server.responder = lambda body: "def area(w, h):\n    return w + h\n"
    res = astm("apply", "the size is the sum", "shop.py", "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    assert "return w + h" in git(repo, "show", "b:shop.py")


def test_one_node_acted_on_twice_with_one_intent_acts_once(
    repo: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    twice = {"act": [{"id": "shop.py::area", "intent": "return the sum"}] * 2}
    openai_server.responder = lambda body: json.dumps(twice) if is_route(body) else "def area(w, h):\n    return w + h\n"
    res = astm("apply", "the size is the sum", "shop.py", "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    assert len(generations(openai_server)) == 1


# ---- contradictory plans ----------------------------------------------------------------

PLANS = {
    "replace-and-edit-inside": (
        [{"op": "replace", "node": "shop.py::Cart", "text": FULL},
         {"op": "replace", "node": "shop.py::Cart.total", "text": "def total(self):\n    return 2\n"}],
        ["shop.py::Cart.total", "shop.py::Cart", "replaces"],
    ),
    "delete-and-edit-inside": (
        [{"op": "delete", "node": "shop.py::Cart"},
         {"op": "delete", "node": "shop.py::Cart.count"}],
        ["shop.py::Cart.count", "shop.py::Cart", "deletes"],
    ),
    "insert-into-replaced": (
        [{"op": "replace", "node": "shop.py::Cart", "text": FULL},
         {"op": "insert", "parent": "shop.py::Cart", "position": "end", "text": "def empty(self):\n    return 1\n"}],
        ["shop.py::Cart", "inserts into"],
    ),
    "replace-and-delete": (
        [{"op": "replace", "node": "shop.py::area", "text": "def area(w, h):\n    return 0\n"},
         {"op": "delete", "node": "shop.py::area"}],
        ["shop.py::area", "both replaces and deletes"],
    ),
    "two-replaces": (
        [{"op": "replace", "node": "shop.py::area", "text": "def area(w, h):\n    return 0\n"},
         {"op": "replace", "node": "shop.py::area", "text": "def area(w, h):\n    return 1\n"}],
        ["shop.py::area", "replaces", "2 times"],
    ),
    "delete-and-anchor": (
        [{"op": "delete", "node": "shop.py::area"},
         {"op": "insert", "parent": "shop.py", "after": "shop.py::area", "text": "def volume(w, h, d):\n    return w * h * d\n"}],
        ["shop.py::area", "anchors an insert", "deletes"],
    ),
}


@pytest.mark.parametrize("case", list(PLANS))
def test_a_contradictory_plan_is_refused_up_front(
    repo: Path, tmp_path: Path, openai_server: loopback.LoopbackServer, astm: Any, case: str
) -> None:
    edits, needles = PLANS[case]
    plan = write_plan(tmp_path / "plan.json", *edits, intent="x")
    before = Snapshot.take(repo)
    res = astm("apply", "x", "--plan", str(plan), cwd=repo)
    assert res.code == 2, res.err
    assert_one_error(res.err, *needles)
    before.assert_unchanged(repo)
    assert leftovers(repo) == []
    assert openai_server.requests == []


def test_a_plan_editing_disjoint_nodes_lands(
    repo: Path, tmp_path: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    plan = write_plan(
        tmp_path / "plan.json",
        {"op": "replace", "node": "shop.py::Cart.total", "text": "def total(self):\n    return 2\n"},
        {"op": "delete", "node": "shop.py::Cart.clear"},
        {"op": "insert", "parent": "shop.py", "after": "shop.py::area", "text": "def volume(w, h, d):\n    return w * h * d\n"},
        intent="x",
    )
    res = astm("apply", "x", "--plan", str(plan), "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    landed = git(repo, "show", "b:shop.py")
    assert "return 2" in landed and "def clear" not in landed and "def volume" in landed
