"""What a request carries (issue 12, routing bytes): each thing said once, the worker's
outline around its node, the compact schema.

The unit tests feed ``astm.llm.outline`` the real outlines astm builds (the Python
language's outline and a router's folded text from ``agents/router.py``); the end-to-end
test runs the CLI against the loopback server and reads the prompts the real openai
client sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import git, make_repo
from pydantic import BaseModel, ConfigDict
from test_python_model import is_route, node_of, prompt_of

from astm.agents.router import folded
from astm.lang.python import syntax as pysyntax
from astm.lang.toml import syntax as tomlsyntax
from astm.llm.base import ChildInfo, ClaimAnswer, RouteAnswer
from astm.llm.messages import structured_request
from astm.llm.outline import around, members, route_parts
from astm.llm.structured import compact_schema

openai_server = loopback.openai_server

SHOP = '''\
"""A shop."""

import os
from decimal import Decimal

RATE = Decimal("0.2")


class Cart:
    """A cart of prices.

    It keeps them in order.
    """

    currency = "EUR"

    def __init__(self) -> None:
        self.items: list[Decimal] = []

    @property
    def count(self) -> int:
        return len(self.items)

    def add(self, price: Decimal) -> None:
        self.items.append(price)

    def total(self) -> Decimal:
        return sum(self.items, Decimal("0"))


class Shelf(Cart):
    def stock(self) -> int:
        return 1


def tax(amount: Decimal) -> Decimal:
    return amount * RATE


try:
    import ssl
except ImportError:
    ssl = None
else:
    class Secure(Cart):
        def seal(self) -> None:
            pass
'''


def child_infos(path: str, data: bytes) -> tuple[ChildInfo, ...]:
    """The children a router is told of, as agents/router.py builds them."""
    tree = pysyntax.parse(path, data)
    return tuple(
        ChildInfo(c.id, c.kind, first_line(data[c.start : c.end]), frozenset(n.id for n in c.walk()) - {c.id})
        for c in tree.children
    )


def first_line(data: bytes) -> str:
    for line in data.decode().splitlines():
        if line.strip() and not line.lstrip().startswith(("#", "@")):
            return line.strip()
    return ""


def test_a_class_route_says_each_signature_once_and_keeps_its_own_lines() -> None:
    data = SHOP.encode()
    tree = pysyntax.parse("shop.py", data)
    cart = tree.child("shop.py::Cart")
    assert cart is not None
    children = tuple(
        ChildInfo(c.id, c.kind, first_line(data[c.start : c.end]), frozenset()) for c in cart.children
    )
    context = f"Node text, children folded to their signatures:\n{folded(cart, data)}"
    parts = route_parts(context, children)
    # The class's own lines stay: header, docstring, attribute; the agent's label goes.
    assert parts.context.splitlines() == [
        "class Cart:",
        '    """A cart of prices.',
        "",
        "    It keeps them in order.",
        '    """',
        "",
        '    currency = "EUR"',
    ]
    # Each signature once, in the child's line; the decorator travels with its child.
    assert parts.children.splitlines() == [
        "- shop.py::Cart.__init__ | function | def __init__(self) -> None:",
        "- shop.py::Cart.count | function | @property def count(self) -> int:",
        "- shop.py::Cart.add | function | def add(self, price: Decimal) -> None:",
        "- shop.py::Cart.total | function | def total(self) -> Decimal:",
    ]


def test_a_file_route_lists_members_instead_of_repeating_the_outline() -> None:
    data = SHOP.encode()
    children = child_infos("shop.py", data)
    parts = route_parts(pysyntax.outline(data), children)
    lines = parts.children.splitlines()
    assert "- shop.py::Cart | class | class Cart: | has __init__, add, count, total" in lines
    assert "- shop.py::Shelf | class | class Shelf(Cart): | has stock" in lines
    # A block's definitions are its members; its ``except``/``else`` clauses are its own.
    assert "- shop.py::(try) | block | try: | has Secure" in lines
    # What no child line shows stays: the second import.
    assert parts.context.splitlines() == ["from decimal import Decimal"]
    for signature in ("def total(self) -> Decimal:", "def stock(self) -> int:", "class Secure(Cart):"):
        assert signature not in parts.context and signature not in parts.children


def test_a_toml_route_merges_each_table_s_keys_into_its_line() -> None:
    data = b'[project]\nname = "x"\nversion = "1"\n\n# tools\n[tool.ruff]\nline-length = 100\n'
    tree = tomlsyntax.parse("pyproject.toml", data)
    children = tuple(
        ChildInfo(c.id, c.kind, first_line(data[c.start : c.end]), frozenset()) for c in tree.children
    )
    parts = route_parts(tomlsyntax.outline(data), children)
    assert parts.context == ""
    assert parts.children.splitlines() == [
        "- pyproject.toml::project | table | [project] # keys: name, version",
        "- pyproject.toml::tool.ruff | table | [tool.ruff] # keys: line-length",
    ]


def test_a_correction_appended_to_the_context_is_kept_whole() -> None:
    children = (ChildInfo("p.toml::a", "table", "[a]"),)
    told = "\n\nYour previous answer named ids that do not exist: 'p.toml::b'. Use only these ids:\n- p.toml::a"
    parts = route_parts("[a]  # keys: x" + told, children)
    assert parts.context == told.strip("\n")


def test_members_are_the_nodes_right_inside() -> None:
    child = ChildInfo("f.py::A", "class", "class A:", frozenset({"f.py::A.m", "f.py::A.m.inner", "f.py::A.B"}))
    assert members(child) == ["B", "m"]
    assert members(ChildInfo("f.py", "file", "x; y", frozenset({"f.py::x"}))) == []


def test_a_worker_sees_its_class_not_the_file() -> None:
    outline = pysyntax.outline(SHOP.encode())
    got = around(outline, "shop.py::Cart.total").splitlines()
    assert got[0] == "class Cart:" and "    def total(self) -> Decimal:" in got
    assert not any(line.startswith(("class Shelf", "def tax", "import os")) for line in got)
    # A top-level node sees the file's top-level lines, not the members.
    top = around(outline, "shop.py::tax")
    assert "class Cart:" in top and "def tax(amount: Decimal) -> Decimal:" in top
    assert "def total" not in top
    # What it cannot place is kept whole.
    assert around(outline, "shop.py::Nowhere.x") == outline
    assert around("", "shop.py::Cart.total") == ""


def test_a_big_class_is_cut_around_the_method() -> None:
    methods = "".join(f"    def m{i}(self) -> int:\n        return {i}\n\n" for i in range(60))
    outline = pysyntax.outline(f"class Big:\n{methods}".encode())
    got = around(outline, "f.py::Big.m30").splitlines()
    assert got[0] == "class Big:" and "    def m30(self) -> int:" in got
    assert "    def m22(self) -> int:" in got and "    def m38(self) -> int:" in got
    assert "    def m21(self) -> int:" not in got and "    def m39(self) -> int:" not in got
    assert got[1] == "    ... (22 more lines)" and got[-1] == "    ... (21 more lines)"  # m0-m21, m39-m59


class _Nested(BaseModel):
    model_config = ConfigDict(extra="ignore")
    when: str | None = None


class _Answer(BaseModel):
    """Something."""

    items: list[_Nested]
    description: str = ""


def test_the_compact_schema_keeps_what_a_grammar_needs() -> None:
    full = RouteAnswer.model_json_schema()
    compact = compact_schema(full, descriptions=False)
    text = json.dumps(compact)
    assert "$ref" not in text and "title" not in text and "default" not in text
    assert len(text) < len(json.dumps(full)) / 3
    assert compact["properties"]["act"]["items"]["required"] == ["id", "intent"]
    assert compact["properties"]["create"]["items"]["properties"]["position"] == {
        "enum": ["start", "end"], "type": "string"
    }
    # Optional fields lose their null; a property named like a keyword stays.
    schema = compact_schema(_Answer.model_json_schema())
    assert schema["properties"]["items"]["items"]["properties"]["when"] == {"type": "string"}
    assert schema["properties"]["description"] == {"type": "string"}
    assert schema["description"] == "Something."


def test_structured_requests_by_mode() -> None:
    strict = structured_request("json_schema", RouteAnswer, "route")
    assert strict.system is None and strict.response_format is not None
    assert "description" not in json.dumps(strict.response_format)  # the prompt says it
    loose = structured_request("json_object", ClaimAnswer, "claim")
    assert loose.response_format == {"type": "json_object"} and loose.system is not None
    assert '"mine"' in loose.system
    off = structured_request("off", _Answer, "hint")
    assert off.response_format is None and off.system is not None and "Something." in off.system


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer) -> loopback.LoopbackServer:
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-parts")
    return openai_server


def test_the_prompts_astm_sends_say_each_thing_once(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"shop.py": SHOP})
    new_total = "    def total(self) -> Decimal:\n        return sum(self.items, Decimal(\"0\")) + 0\n"

    def respond(body: dict[str, Any]) -> str:
        node = node_of(body)
        if is_route(body):
            target = "shop.py::Cart" if node == "shop.py" else "shop.py::Cart.total"
            return json.dumps({"act": [{"id": target, "intent": "add zero"}]})
        return new_total

    env.responder = respond
    res = astm("apply", "the cart total adds zero", "--branch", "z", cwd=repo)
    assert res.code == 0, res.err
    assert "+ 0" in git(repo, "show", "z:shop.py")
    file_route, class_route, gen = (r.body for r in env.requests)
    file_prompt, class_prompt, gen_prompt = (prompt_of(b) for b in (file_route, class_route, gen))
    assert file_prompt.count("class Cart:") == 1 and file_prompt.count("def tax(") == 1
    assert "- shop.py::Cart | class | class Cart: | has __init__, add, count, total" in file_prompt
    assert class_prompt.count("def total(self) -> Decimal:") == 1
    assert "- shop.py::Cart.total | function | def total(self) -> Decimal:" in class_prompt
    # The worker's outline is its class: no other class, no module function.
    assert "class Cart:" in gen_prompt and "def tax(" not in gen_prompt and "class Shelf" not in gen_prompt
    schema = file_route["response_format"]["json_schema"]["schema"]
    assert len(json.dumps(schema)) < 700 and "act" in schema["properties"]
