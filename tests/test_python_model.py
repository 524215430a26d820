"""Python node agents with a model: the real openai client against the loopback server.

The responder plays the model: routing prompts ("Its children") get a JSON decision, the
others (generation) get the node's new text. It dispatches on the node id in the prompt,
so each test reads as "this node answers that". Covers the bad answers of issue 3: a
different name, module-level code, odd indentation, imports inside vs.
above the definition, a file that is not valid Python, a class defined twice, retries
running out, and the concurrency of sibling methods.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, git, make_repo

openai_server = loopback.openai_server

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
TOTAL = "cart.py::Cart.total"
GOOD_TOTAL = (
    "    def total(self) -> Decimal:\n"
    '        return sum(self.items, Decimal("0")).quantize(Decimal("0.01"))\n'
)
Responder = Callable[[dict[str, Any]], str]


# ---- the model's side ------------------------------------------------------------


def prompt_of(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body["messages"])


def is_route(body: dict[str, Any]) -> bool:
    return "Its children" in prompt_of(body)


def node_of(body: dict[str, Any]) -> str:
    text = prompt_of(body)
    m = (
        re.search(r"You are the node (\S+) \(", text)
        if is_route(body)
        else re.search(r"Node: (\S+) \(", text)
    )
    assert m, text
    return m.group(1)


def hint_of(body: dict[str, Any]) -> str | None:
    """The retry hint astm put in a generation prompt, if any."""
    m = re.search(r"Your previous answer was rejected: (.*)\nFix that\.", prompt_of(body))
    return m.group(1) if m else None


def route_to(*leaves: str) -> Responder:
    """Routing answers that lead down to each of ``leaves`` (node ids)."""

    def respond(body: dict[str, Any]) -> str:
        me = node_of(body)
        sep = "." if "::" in me else "::"  # a file's children are F::x, a class's F::C.x
        act = {
            me + sep + leaf[len(me + sep) :].split(".")[0]: f"change {leaf}"
            for leaf in sorted(leaves)
            if leaf.startswith(me + sep)
        }
        return json.dumps({"act": [{"id": c, "intent": i} for c, i in act.items()]})

    return respond


def model(answers: dict[str, Any], *leaves: str) -> Responder:
    """Route down to ``leaves``; generate from ``answers`` (a string, or an iterator of
    strings, one per attempt)."""
    router = route_to(*leaves)
    lock = threading.Lock()

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return router(body)
        answer = answers[node_of(body)]
        if isinstance(answer, str):
            return answer
        with lock:
            return str(next(answer))

    return respond


def generations(server: loopback.LoopbackServer, node: str) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if not is_route(r.body) and node_of(r.body) == node]


def assert_short_hint(hint: str | None, *names: str) -> None:
    assert hint is not None
    assert len(hint.split()) <= 42, hint  # about 40 words, an ellipsis at most
    assert "Traceback" not in hint and 'File "' not in hint, hint
    for name in names:
        assert name in hint, hint


# ---- fixtures ----------------------------------------------------------------------


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer
) -> loopback.LoopbackServer:
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-python")
    return openai_server


@pytest.fixture
def cart(tmp_path: Path) -> Iterator[Path]:
    yield make_repo(tmp_path / "shop", {"cart.py": CART})


def landed(repo: Path, branch: str, path: str = "cart.py") -> str:
    return git(repo, "show", f"{branch}:{path}") + "\n"  # git() strips the last newline


def run(astm: Any, repo: Path, *args: str, retries: int = 1) -> Any:
    return astm(
        "apply",
        "round the total",
        "cart.py",
        "--branch",
        "m",
        "--retries",
        str(retries),
        *args,
        cwd=repo,
    )


# ---- the scenario ----------------------------------------------------------


def test_total_changes_and_clear_is_created_in_one_commit(
    env: loopback.LoopbackServer, cart: Path, astm: Any
) -> None:
    routes = {
        "cart.py": {"act": [{"id": "cart.py::Cart", "intent": "round total; add clear"}]},
        "cart.py::Cart": {
            "act": [{"id": TOTAL, "intent": "round to cents, half up"}],
            "create": [{"key": "clear", "intent": "empty the cart", "position": "end"}],
        },
    }
    answers = {
        TOTAL: "from decimal import ROUND_HALF_UP\n\n"
        "    def total(self) -> Decimal:\n"
        '        gross = sum(self.items, Decimal("0"))\n'
        '        return gross.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)\n',
        "cart.py::Cart.clear": "def clear(self) -> None:\n    self.items.clear()\n",
    }

    def respond(body: dict[str, Any]) -> str:
        return json.dumps(routes[node_of(body)]) if is_route(body) else answers[node_of(body)]

    env.responder = respond
    before = Snapshot.take(cart)
    res = astm(
        "apply", "total rounds to cents; add Cart.clear", "cart.py", "--branch", "m", cwd=cart
    )
    assert res.code == 0, res.err
    before.assert_unchanged(cart, new_branch="m")
    assert git(cart, "rev-list", "--count", "main..m") == "1"
    assert landed(cart, "m") == (
        '"""A shopping cart."""\n\n'
        "from decimal import ROUND_HALF_UP, Decimal\n\n\n"  # as ruff's isort sorts it
        "class Cart:\n"
        "    def __init__(self) -> None:\n"
        "        self.items: list[Decimal] = []\n\n"
        "    def add(self, price: Decimal) -> None:\n"
        "        self.items.append(price)\n\n"
        "    def total(self) -> Decimal:\n"
        '        gross = sum(self.items, Decimal("0"))\n'
        '        return gross.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)\n\n'
        "    def clear(self) -> None:\n"
        "        self.items.clear()\n"
    )
    # Each method agent saw its own node, never its sibling's body.
    (total,) = generations(env, TOTAL)
    assert "self.items.append(price)" not in prompt_of(total)


# ---- bad answers, healed by a retry ---------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        pytest.param(
            "    def grand_total(self) -> Decimal:\n        return Decimal(0)\n",
            ("grand_total", "total", "keep the name"),
            id="different-name",
        ),
        pytest.param(
            GOOD_TOTAL + "\nprint(Cart().total())\n",
            ("outside the definition", "print(Cart().total())"),
            id="module-level-code",
        ),
        pytest.param(
            "    def total(self) -> Decimal:\n    return Decimal(0)\n",
            ("line 2: expected an indented block after function definition on line 1",),
            id="inconsistent-indentation",
        ),
    ],
)
def test_bad_answer_gets_a_short_hint_then_lands(
    bad: str, names: tuple[str, ...], env: loopback.LoopbackServer, cart: Path, astm: Any
) -> None:
    env.responder = model({TOTAL: iter([bad, GOOD_TOTAL])}, TOTAL)
    before = Snapshot.take(cart)
    res = run(astm, cart)
    assert res.code == 0, res.err
    before.assert_unchanged(cart, new_branch="m")
    assert landed(cart, "m") == CART.replace(CART[CART.index("    def total") :], GOOD_TOTAL)
    first, second = generations(env, TOTAL)
    assert hint_of(first) is None
    assert_short_hint(hint_of(second), *names)


def test_retries_exhausted_fail_cleanly(
    env: loopback.LoopbackServer, cart: Path, astm: Any
) -> None:
    env.responder = model(
        {TOTAL: "    def grand_total(self) -> Decimal:\n        return Decimal(0)\n"}, TOTAL
    )
    before = Snapshot.take(cart)
    res = run(astm, cart, retries=2)
    assert res.code == 1, res.err
    errors = [ln for ln in res.err.splitlines() if ln.startswith("astm: error")]
    assert len(errors) == 1 and TOTAL in errors[0] and "grand_total" in errors[0], res.err
    assert "Traceback" not in res.err
    before.assert_unchanged(cart)
    assert "refs/heads/m" not in Snapshot.take(cart).refs
    attempts = generations(env, TOTAL)
    # The answer and two retries; then the class resets the method once (the failure in
    # its context, no hint) and it gets two retries again.
    assert len(attempts) == 6
    assert [hint_of(b) is None for b in attempts] == [True, False, False, True, False, False]
    assert "grand_total" in prompt_of(attempts[3])
    for body in attempts[1:3] + attempts[4:]:
        assert_short_hint(hint_of(body), "grand_total", "keep the name")


# ---- indentation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            'def total(self) -> Decimal:\n    return sum(self.items, Decimal("0")).quantize(Decimal("0.01"))\n',
            id="column-0",
        ),
        pytest.param(
            '  def total(self) -> Decimal:\n    return sum(self.items, Decimal("0")).quantize(Decimal("0.01"))\n',
            id="2-spaces",
        ),
        pytest.param(
            '```python\n        def total(self) -> Decimal:\n            return sum(self.items, Decimal("0"))'
            '.quantize(Decimal("0.01"))\n```\n',
            id="8-spaces-fenced",
        ),
    ],
)
def test_consistent_indentation_is_reindented_and_accepted(
    answer: str, env: loopback.LoopbackServer, cart: Path, astm: Any
) -> None:
    env.responder = model({TOTAL: answer}, TOTAL)
    res = run(astm, cart, retries=0)
    assert res.code == 0, res.err
    assert landed(cart, "m") == CART.replace(CART[CART.index("    def total") :], GOOD_TOTAL)
    assert len(generations(env, TOTAL)) == 1


# ---- imports ------------------------------------------------------------------------


def test_import_above_the_definition_moves_to_the_import_block(
    env: loopback.LoopbackServer, cart: Path, astm: Any
) -> None:
    answer = "from math import floor\n\n\ndef total(self) -> Decimal:\n    return Decimal(floor(sum(self.items)))\n"
    env.responder = model({TOTAL: answer}, TOTAL)
    res = run(astm, cart, "--json", retries=0)
    assert res.code == 0, res.err
    assert landed(cart, "m") == CART.replace(
        "from decimal import Decimal\n", "from decimal import Decimal\nfrom math import floor\n"
    ).replace(
        '        return sum(self.items, Decimal("0"))\n',
        "        return Decimal(floor(sum(self.items)))\n",
    )
    nodes = {n["id"]: n for n in json.loads(res.out)["nodes"]}
    assert nodes["cart.py::(imports)"]["status"] == "changed"
    # The import block never asked the model: the request was resolved by the file.
    assert not generations(env, "cart.py::(imports)")


def test_import_inside_the_method_stays_there(
    env: loopback.LoopbackServer, cart: Path, astm: Any
) -> None:
    # A local import is valid and the node's own business: astm does not rewrite it.
    answer = (
        "    def total(self) -> Decimal:\n"
        "        from math import floor\n"
        "\n"
        "        return Decimal(floor(sum(self.items)))\n"
    )
    env.responder = model({TOTAL: answer}, TOTAL)
    res = run(astm, cart, retries=0)
    assert res.code == 0, res.err
    assert landed(cart, "m") == CART.replace(CART[CART.index("    def total") :], answer)


def test_new_import_block_in_a_file_without_one(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    src = '"""Geometry."""\n\nclass Circle:\n    def area(self, r: float) -> float:\n        return 3.14 * r * r\n'
    repo = make_repo(tmp_path / "geo", {"geo.py": src})
    answer = (
        "import math\n\n    def area(self, r: float) -> float:\n        return math.pi * r * r\n"
    )
    env.responder = model({"geo.py::Circle.area": answer}, "geo.py::Circle.area")
    res = astm("apply", "use math.pi", "geo.py", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert landed(repo, "m", "geo.py") == (
        '"""Geometry."""\n\nimport math\n\n\nclass Circle:\n'
        "    def area(self, r: float) -> float:\n        return math.pi * r * r\n"
    )


# ---- files astm must refuse or tell apart ------------------------------------------


def test_file_not_valid_python_at_base_is_refused(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "bad", {"cart.py": CART + "\n\ndef broken(:\n    pass\n"})
    env.responder = model({TOTAL: GOOD_TOTAL}, TOTAL)
    before = Snapshot.take(repo)
    res = run(astm, repo)
    assert res.code == 2, res.err
    assert res.err.count("\n") == 1 and res.err.startswith("astm: error: cart.py (line 17): "), (
        res.err
    )
    assert "not valid Python" in res.err
    before.assert_unchanged(repo)
    assert env.requests == []  # refused before any model call


CLASS_TWICE = """\
class Price:
    def value(self) -> int:
        return 1


class Price:  # noqa: F811
    def value(self) -> int:
        return 2
"""


def test_class_defined_twice_edits_the_second(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "price", {"price.py": CLASS_TWICE})
    leaf = "price.py::Price#2.value"
    env.responder = model({leaf: "    def value(self) -> int:\n        return 20\n"}, leaf)
    res = astm("apply", "the second Price is worth 20", "price.py", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert landed(repo, "m", "price.py") == CLASS_TWICE.replace("return 2\n", "return 20\n")
    file_route = next(
        r.body for r in env.requests if is_route(r.body) and node_of(r.body) == "price.py"
    )
    assert "- price.py::Price | class" in prompt_of(file_route)
    assert "- price.py::Price#2 | class" in prompt_of(file_route)
    gen = generations(env, leaf)
    assert (
        len(gen) == 1
        and "return 2\n" in prompt_of(gen[0])
        and "return 1\n" not in prompt_of(gen[0])
    )


# ---- concurrency -------------------------------------------------------------------


FIVE = "class Shape:\n" + "\n".join(
    f"    def m{i}(self) -> int:\n        return {i}\n" for i in range(5)
)


def test_five_methods_generate_concurrently(
    env: loopback.LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astm: Any
) -> None:
    monkeypatch.setenv("ASTM_MODEL_JOBS", "8")  # a loopback URL is local: 1 by default
    repo = make_repo(tmp_path / "shape", {"shape.py": FIVE})
    leaves = [f"shape.py::Shape.m{i}" for i in range(5)]
    router = route_to(*leaves)
    spans: dict[str, tuple[float, float]] = {}
    lock = threading.Lock()

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return router(body)
        node = node_of(body)
        start = time.monotonic()
        time.sleep(0.3)
        with lock:
            spans[node] = (start, time.monotonic())
        i = node[-1]
        return f"    def m{i}(self) -> int:\n        return {int(i) * 10}\n"

    env.responder = respond
    res = astm("apply", "times ten", "shape.py", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert landed(repo, "m", "shape.py") == "class Shape:\n" + "\n".join(
        f"    def m{i}(self) -> int:\n        return {i * 10}\n" for i in range(5)
    )
    assert sorted(spans) == leaves
    # All five were in flight at once: the last one arrived before the first one ended.
    assert max(s for s, _ in spans.values()) < min(e for _, e in spans.values()), spans
