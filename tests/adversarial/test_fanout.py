"""Issue 11.7: fan-out is bounded per node and per run, decided before any request is sent.

Through the real CLI and the real openai client against the loopback server, which counts
the requests: a routing answer that sets too many nodes acting is one clear failure
(exit 1, one line naming the node and the limit) with no generation request sent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, make_repo
from kit import assert_one_error, is_route, leftovers, node_of

openai_server = loopback.openai_server

PYPROJECT = '[project]\nname = "shop"\nversion = "1.0"\n\n[tool.astm]\nretries = 1\nhttp_retries = 1\ntimeout = 5.0\n'
MODULE = (
    "def area(w, h):\n    return w * h\n\n\n"
    "class Cart:\n    def total(self):\n        return 0\n"
)


def make(tmp_path: Path, settings: str = "") -> Path:
    return make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT + settings, "shop.py": MODULE})


@pytest.fixture(autouse=True)
def model(monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer) -> None:
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "k")


def generations(server: loopback.LoopbackServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if not is_route(r.body)]


def creating(n: int, *, inner: dict[str, Any] | None = None) -> Any:
    """A responder: the file router creates ``n`` functions (``inner``: what the class
    router answers); each generation answers a valid function for its key."""

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            if node_of(body) == "shop.py::Cart":
                return json.dumps(inner or {})
            return json.dumps({
                "create": [{"key": f"made_{i}", "intent": f"add made_{i}"} for i in range(n)],
                **({"act": [{"id": "shop.py::Cart", "intent": "grow the cart"}]} if inner else {}),
            })
        m = re.search(r"(made_\d+|extra_\d+)", node_of(body))
        name = m.group(1) if m else "x"
        return f"def {name}():\n    return 1\n"

    return respond


def test_two_hundred_creates_fail_before_any_generation(
    tmp_path: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    repo = make(tmp_path)
    openai_server.responder = creating(200)
    before = Snapshot.take(repo)
    res = astm("apply", "add many helpers", "shop.py", cwd=repo)
    assert res.code == 1, res.err
    line = assert_one_error(res.err, "shop.py", "max_children_per_node = 32", "200")
    assert "nothing was generated" in line
    assert generations(openai_server) == []  # decided before any request was sent
    assert len(openai_server.requests) == 1  # the one routing answer, no storm
    before.assert_unchanged(repo)
    assert leftovers(repo) == []


def test_the_per_node_bound_is_configurable(
    tmp_path: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    repo = make(tmp_path, "max_children_per_node = 2\n")
    openai_server.responder = creating(3)
    res = astm("apply", "add three helpers", "shop.py", cwd=repo)
    assert res.code == 1, res.err
    assert_one_error(res.err, "shop.py", "max_children_per_node = 2")
    assert generations(openai_server) == []


def test_under_the_bounds_it_lands(
    tmp_path: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    repo = make(tmp_path, "max_children_per_node = 3\nmax_nodes_per_run = 3\n")
    openai_server.responder = creating(3)
    res = astm("apply", "add three helpers", "shop.py", "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    assert len(generations(openai_server)) == 3
    from conftest import git

    landed = git(repo, "show", "b:shop.py")
    assert all(f"def made_{i}():" in landed for i in range(3))


def test_the_run_bound_counts_every_router(
    tmp_path: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    # The file router sets 3 nodes acting (Cart and 2 new ones): within both bounds. The
    # class router then asks for 2 more: 5 > max_nodes_per_run = 4, refused naming Cart.
    repo = make(tmp_path, "max_nodes_per_run = 4\n")
    inner = {"create": [{"key": f"extra_{i}", "intent": "add it"} for i in range(2)]}
    openai_server.responder = creating(2, inner=inner)
    before = Snapshot.take(repo)
    res = astm("apply", "grow", "shop.py", cwd=repo)
    assert res.code == 1, res.err
    assert_one_error(res.err, "shop.py::Cart", "max_nodes_per_run = 4")
    # Cart's own children were never generated (its siblings may have started).
    assert not [b for b in generations(openai_server) if "extra_" in node_of(b)]
    before.assert_unchanged(repo)
    assert leftovers(repo) == []


@pytest.mark.parametrize("setting", ["max_children_per_node = 0", "max_nodes_per_run = -1"])
def test_a_bound_below_one_is_a_configuration_error(
    tmp_path: Path, openai_server: loopback.LoopbackServer, astm: Any, setting: str
) -> None:
    repo = make(tmp_path, setting + "\n")
    res = astm("apply", "x", "shop.py", cwd=repo)
    assert res.code == 2, res.err
    assert_one_error(res.err, setting.split(" ")[0])
    assert openai_server.requests == []
