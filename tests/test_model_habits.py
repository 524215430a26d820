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


@pytest.fixture
def model_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model routes every level: for habits of the router itself, with intents that
    name their targets (which astm otherwise routes by itself, ``named_routes``)."""
    monkeypatch.setenv("ASTM_NAMED_ROUTES", "0")


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


def test_a_node_that_left_itself_unchanged_rewrites_no_sibling(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    """Routed to the wrong function, the 1.5B answered the whole file with that function
    as it was and four neighbours rewritten from guesses: none of them is made."""
    repo = make_repo(tmp_path / "shop", {"cart.py": CART})
    checked_add = CART.replace(
        "        self.items.append(price)\n",
        '        if price < 0:\n            raise ValueError("negative price")\n        self.items.append(price)\n',
    )
    env.responder = scripted(to_total(), {TOTAL: checked_add[checked_add.index("class Cart:") :]})
    res = apply(astm, repo, "round the total", "cart.py", "--json", retries=0)
    assert f"{TOTAL} proposed a change to Cart.add; not done: it left its own text as it was" in res.out
    assert generations(env, "cart.py::Cart.add") == []
    assert git(repo, "branch", "--list", "m") == ""  # nothing changed: nothing landed


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


def test_a_whole_pyproject_answer_proposing_a_stray_table_retries_with_the_hint(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    """The proposals of a whole-file answer are held to the file's standards: a stray
    top-level [dev] is never created; the node retries with the hint and its second
    answer lands."""
    from test_python_model import hint_of

    repo = make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT})
    ruff = PYPROJECT.replace("line-length = 100", "line-length = 120")
    whole = ruff + '\n[dev]\ndependencies = ["pytest"]\n'
    node = "pyproject.toml::tool.ruff"
    env.responder = scripted(
        {"pyproject.toml": {"act": [{"id": node, "intent": "longer lines"}]}},
        {node: [f"```toml\n{whole}```\n", '[tool.ruff]\nline-length = 120\n']},
    )
    res = apply(astm, repo, "longer lines", "pyproject.toml")
    assert res.code == 0, res.err
    assert landed(repo, "pyproject.toml") == ruff
    assert generations(env, "pyproject.toml::dev") == []
    hint = hint_of(generations(env, node)[1])
    assert hint is not None and "[dev] is not a table" in hint


def test_a_method_the_file_router_also_creates_at_top_level_is_created_once(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    """The 1.5B's habit on "Add a method Cart.count": the file router creates ``count`` at
    the top level (and may act on Cart too). The intent says ``Cart.count``: Cart creates
    it; nothing is generated at the top level."""
    repo = make_repo(tmp_path / "shop", {"cart.py": CART})
    method = "    def count(self) -> int:\n        return len(self.items)\n"
    env.responder = scripted(
        {"cart.py": {"create": [{"key": "count", "intent": "count the items", "position": "end"}]},
         "cart.py::Cart": {"create": [{"key": "count", "intent": "count the items", "position": "end"}]}},
        {"cart.py::Cart.count": method},
    )
    res = apply(astm, repo, "Add a method Cart.count that returns how many items the cart holds", "cart.py")
    assert res.code == 0, res.err
    assert landed(repo, "cart.py") == CART + "\n" + method
    assert generations(env, "cart.py::count") == []


def test_acting_on_a_method_that_does_not_exist_yet_routes_into_its_class(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    """The 1.5B's file router answers "act on Cart.count" for a method still to be made:
    Cart acts, and its own router creates the method."""
    repo = make_repo(tmp_path / "shop", {"cart.py": CART})
    method = "    def count(self) -> int:\n        return len(self.items)\n"
    env.responder = scripted(
        {"cart.py": {"act": [{"id": "cart.py::Cart.count", "intent": "count the items"}]},
         # The class router too acts on what it means to create.
         "cart.py::Cart": {"act": [{"id": "cart.py::Cart.count", "intent": "count the items"}]}},
        {"cart.py::Cart.count": method},
    )
    res = apply(astm, repo, "Add a method to the cart that returns how many items it holds", "cart.py")
    assert res.code == 0, res.err
    assert landed(repo, "cart.py") == CART + "\n" + method
    for node in ("cart.py", "cart.py::Cart"):  # no corrective turn was needed
        assert len([r for r in env.requests if is_route(r.body) and node_of(r.body) == node]) == 1


# ---- 10.8 wrong but valid: pyproject.toml against its standards ---------------------


GOOD_PROJECT = '[project]\nname = "shop"\nversion = "1.0"\ndependencies = ["requests>=2.31"]\n'


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        pytest.param(
            '[project]\nname = "shop"\nversion = "1.0"\ndependencies = []\n\n[dependencies]\nrequests = ">=2.31"\n',
            ("[dependencies] is not a top-level table", "inside [project]"),
            id="top-level-dependencies-table",
        ),
        pytest.param(
            '[project]\nname = "shop"\nversion = "1.0"\ndependencies = { requests = ">=2.31" }\n',
            ("project.dependencies", "must be array", "PEP 508"),
            id="dependencies-as-a-table",
        ),
        pytest.param(
            '[project]\nversion = "1.0"\ndependencies = ["requests>=2.31"]\n',
            ("PEP 517/518/621", "name"),
            id="project-without-name",
        ),
    ],
)
def test_pyproject_against_its_standards_refused_then_corrected(
    bad: str, names: tuple[str, ...], env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    from test_python_model import hint_of

    repo = make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT})
    node = "pyproject.toml::project"
    env.responder = scripted(
        {"pyproject.toml": {"act": [{"id": node, "intent": "add requests"}]}},
        {node: [bad, GOOD_PROJECT]},
    )
    res = apply(astm, repo, "add requests as a dependency", "pyproject.toml")
    assert res.code == 0, res.err
    assert landed(repo, "pyproject.toml") == PYPROJECT.replace("dependencies = []\n", 'dependencies = ["requests>=2.31"]\n')
    first, second = generations(env, node)
    hint = hint_of(second)
    assert hint is not None and hint_of(first) is None
    for name in names:
        assert name in hint, hint


def test_pyproject_table_that_never_conforms_fails_with_one_line(
    model_routes: None, env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT})
    env.responder = scripted(
        {"pyproject.toml": {"create": [{"key": "dependencies", "intent": "add requests", "position": "end"}]}},
        {"pyproject.toml::dependencies": '[dependencies]\nrequests = ">=2.31"\n'},
    )
    before = Snapshot.take(repo)
    res = apply(astm, repo, "add requests as a dependency", "pyproject.toml", retries=0)
    assert res.code == 1, res.err
    errors = [ln for ln in res.err.splitlines() if ln.startswith("astm: error")]
    assert len(errors) == 1 and "pyproject.toml::dependencies" in errors[0], res.err
    assert "not a top-level table" in errors[0]
    before.assert_unchanged(repo)


def test_a_new_table_the_standards_refuse_may_move_where_the_hint_says(
    model_routes: None, env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    """The 1.5B's habit: "an optional dependency group named dev" routed as a new
    top-level [dev]. The hint names both usual meanings; the retry may then write the
    table under another key than the routed one, and that lands."""
    from test_python_model import hint_of

    repo = make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT})
    node = "pyproject.toml::dev"
    group = '[project.optional-dependencies]\ndev = ["pytest", "ruff"]\n'
    env.responder = scripted(
        {"pyproject.toml": {"create": [{"key": "dev", "intent": "a dev group", "position": "end"}]}},
        {node: ['[dev]\ndependencies = ["pytest", "ruff"]\n', group]},
    )
    res = apply(astm, repo, "Add an optional dependency group named dev with pytest and ruff", "pyproject.toml")
    assert res.code == 0, res.err
    text = landed(repo, "pyproject.toml")
    assert text.startswith(PYPROJECT) and text.endswith("\n" + group)
    hint = hint_of(generations(env, node)[1])
    assert hint is not None and "[project.optional-dependencies]" in hint and "[tool.dev]" in hint


def test_a_route_creating_a_stray_pyproject_table_gets_one_corrective_turn(
    model_routes: None, env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    """Routed as a new top-level [dev], the decision is corrected before any generation:
    the router is told where such a table goes, and its second answer is taken."""
    repo = make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT})
    group = "pyproject.toml::project.optional-dependencies"
    body = '[project.optional-dependencies]\ndev = ["pytest", "ruff"]\n'
    env.responder = scripted(
        {"pyproject.toml": [
            {"create": [{"key": "dev", "intent": "a dev group", "position": "end"}]},
            {"create": [{"key": "project.optional-dependencies", "intent": "a dev group", "position": "end"}]},
        ]},
        {group: body},
    )
    res = apply(astm, repo, "Add an optional dependency group named dev with pytest and ruff", "pyproject.toml")
    assert res.code == 0, res.err
    assert landed(repo, "pyproject.toml") == PYPROJECT + "\n" + body
    routes = [r.body for r in env.requests if is_route(r.body) and node_of(r.body) == "pyproject.toml"]
    assert len(routes) == 2
    told = prompt_of(routes[1])
    assert "created [dev]" in told and "[project.optional-dependencies]" in told
    assert generations(env, "pyproject.toml::dev") == []


def test_pyproject_standards_are_checked_offline() -> None:
    from astm.validate import pyproject

    doc = {"project": {"name": "x", "version": "1", "classifiers": ["Programming Language :: Cobol :: 99"]}}
    found = pyproject.problem(doc)  # the classifier list is local: the socket guard would refuse a fetch
    assert found is not None and found[0].startswith("project.classifiers"), found
    ok = {"project": {"name": "x", "version": "1", "classifiers": ["Programming Language :: Python :: 3"]}}
    assert pyproject.problem(ok) is None
    # Problems elsewhere in the file are not the node's: a [tool] table is free-form here.
    assert pyproject.check_node(b'[project]\nversion = "1"\n[tool.x]\na = 1\n', b"[tool.x]\na = 1\n", path="pyproject.toml") is None


# ---- 10.2 near-miss ids --------------------------------------------------------------


TOOLS = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "shop"
version = "1.0"
dependencies = []

[tool.pytest.ini_options]
testpaths = ["tests"]
"""
BUILD = "pyproject.toml::build-system"
NEW_BUILD = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
TOOLS_HATCH = TOOLS.replace(TOOLS[: TOOLS.index("\n\n") + 1], NEW_BUILD)


@pytest.mark.parametrize(
    "route",
    [
        pytest.param({"act": [{"id": "build-system", "intent": "use hatchling"}]}, id="path-left-out"),
        pytest.param(
            {"act": [{"id": "pyproject.toml::pyproject.toml::build-system", "intent": "use hatchling"}]},
            id="path-repeated",
        ),
        pytest.param({"act": [{"id": "pyproject.toml::[Build-System]", "intent": "use hatchling"}]}, id="case-brackets"),
        pytest.param(
            {"create": [{"key": "build-system", "intent": "use hatchling", "position": "start"}]},
            id="create-of-existing",
        ),
        pytest.param(
            {"create": [{"key": "pyproject.toml::build-system", "intent": "use hatchling"}]},
            id="create-key-repeats-the-id",
        ),
    ],
)
def test_near_miss_ids_resolve_to_the_node(
    route: dict[str, Any], env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"pyproject.toml": TOOLS})
    env.responder = scripted({"pyproject.toml": route}, {BUILD: NEW_BUILD})
    res = apply(astm, repo, "build with hatchling", "pyproject.toml", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "pyproject.toml") == TOOLS_HATCH
    routes = [r for r in env.requests if is_route(r.body)]
    assert len(routes) == 1  # resolved deterministically: no corrective turn


def test_quoted_key_resolves_to_the_dotted_table(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"pyproject.toml": TOOLS})
    node = "pyproject.toml::tool.pytest.ini_options"
    new = '[tool.pytest.ini_options]\ntestpaths = ["tests"]\naddopts = "-q"\n'
    env.responder = scripted(
        {"pyproject.toml": {"act": [{"id": 'pyproject.toml::tool."pytest.ini_options"', "intent": "quiet"}]}},
        {node: new},
    )
    res = apply(astm, repo, "make pytest quiet", "pyproject.toml", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "pyproject.toml") == TOOLS.replace('testpaths = ["tests"]\n', 'testpaths = ["tests"]\naddopts = "-q"\n')


UTILS = '''\
import re


def _norm(text: str) -> str:
    return re.sub(r"\\s+", " ", text).strip()
'''


def test_imports_without_parentheses_and_a_method_without_its_class(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"textkit/utils.py": UTILS, "cart.py": CART})
    env.responder = scripted(
        {"textkit/utils.py": {"act": [{"id": "textkit/utils.py::imports", "intent": "future annotations"}]}},
        {"textkit/utils.py::(imports)": "from __future__ import annotations\n\nimport re\n"},
    )
    res = apply(astm, repo, "postpone annotations in utils", "textkit/utils.py", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "textkit/utils.py") == "from __future__ import annotations\n\n" + UTILS

    env.requests.clear()
    env.responder = scripted(
        {"cart.py": {"act": [{"id": "cart.py::total", "intent": "round to cents"}]},
         "cart.py::Cart": {"act": [{"id": TOTAL, "intent": "round to cents"}]}},
        {TOTAL: f"def total(self) -> Decimal:\n    {ROUNDED}\n"},
    )
    res = astm("apply", "round the total", "cart.py", "--branch", "m2", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", "m2:cart.py") + "\n" == CART_ROUNDED
    cls = next(r.body for r in env.requests if is_route(r.body) and node_of(r.body) == "cart.py::Cart")
    assert "Cart.total" in prompt_of(cls)  # the class was told which method was meant


def test_unknown_id_gets_one_corrective_turn_listing_the_ids(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"pyproject.toml": TOOLS})
    env.responder = scripted(
        {"pyproject.toml": [
            {"act": [{"id": "pyproject.toml::backend", "intent": "use hatchling"}]},
            {"act": [{"id": BUILD, "intent": "use hatchling"}]},
        ]},
        {BUILD: NEW_BUILD},
    )
    res = apply(astm, repo, "build with hatchling", "pyproject.toml", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "pyproject.toml") == TOOLS_HATCH
    first, second = [r.body for r in env.requests if is_route(r.body)]
    assert "do not exist" not in prompt_of(first)
    correction = prompt_of(second)
    assert "'pyproject.toml::backend'" in correction and "Use only these ids" in correction
    for nid in (BUILD, "pyproject.toml::project", "pyproject.toml::tool.pytest.ini_options"):
        assert f"- {nid}\n" in correction + "\n"


def test_unknown_id_twice_fails_with_one_line(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"pyproject.toml": TOOLS})
    env.responder = scripted(
        {"pyproject.toml": {"act": [{"id": "pyproject.toml::backend", "intent": "use hatchling"}]}}, {}
    )
    before = Snapshot.take(repo)
    res = apply(astm, repo, "build with hatchling", "pyproject.toml", retries=0)
    assert res.code == 1, res.err
    errors = [ln for ln in res.err.splitlines() if ln.startswith("astm: error")]
    assert len(errors) == 1 and "'pyproject.toml::backend'" in errors[0] and "closest" in errors[0], res.err
    assert len([r for r in env.requests if is_route(r.body)]) == 2
    before.assert_unchanged(repo)


# ---- 10.3 what the intent names ------------------------------------------------------


INVENTORY = '''\
class Inventory:
    def __init__(self) -> None:
        self.movements: list[int] = []

    def recent_movements(self, n: int) -> list[int]:
        return self.movements[-n - 1 :]
'''


def test_a_method_the_intent_names_acts_when_the_routers_skip_it(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"stock.py": INVENTORY})
    node = "stock.py::Inventory.recent_movements"
    fixed = "def recent_movements(self, n: int) -> list[int]:\n    return self.movements[-n:]\n"
    env.responder = scripted({"stock.py": {}, "stock.py::Inventory": {}}, {node: fixed})
    res = apply(astm, repo, "fix the off-by-one in Inventory.recent_movements", "stock.py", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "stock.py") == INVENTORY.replace("[-n - 1 :]", "[-n:]")


def test_a_table_the_intent_names_acts_when_the_router_skips_it(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"pyproject.toml": TOOLS})
    node = "pyproject.toml::tool.pytest.ini_options"
    new = '[tool.pytest.ini_options]\ntestpaths = ["tests"]\naddopts = "-q"\n'
    env.responder = scripted({"pyproject.toml": {}}, {node: new})
    res = apply(astm, repo, "set addopts = -q in [tool.pytest.ini_options]", "pyproject.toml", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "pyproject.toml") == TOOLS.replace('testpaths = ["tests"]\n', 'testpaths = ["tests"]\naddopts = "-q"\n')


APP = 'def main() -> None:\n    print("shop")\n'


def test_a_pyproject_only_intent_never_goes_to_python(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"pyproject.toml": TOOLS, "src/app.py": APP})
    node = "pyproject.toml::project"
    new = '[project]\nname = "shop"\nversion = "1.0"\ndependencies = ["requests>=2.31"]\n'
    env.responder = scripted(
        # The repository router picks the Python file; the file router finds nothing.
        {".": {"act": [{"id": "src/app.py", "intent": "add requests"}]}, "pyproject.toml": {}},
        {node: new},
    )
    res = astm("apply", "add requests to the dependencies", "--branch", "m", "--retries", "0", cwd=repo)
    assert res.code == 0, res.err
    assert landed(repo, "pyproject.toml") == TOOLS.replace("dependencies = []\n", 'dependencies = ["requests>=2.31"]\n')
    assert landed(repo, "src/app.py") == APP
    assert not any(node_of(r.body).startswith("src/app.py") for r in env.requests if not is_route(r.body))


CORE = 'def slugify(text: str) -> str:\n    return "-".join(text.lower().split())\n'
CLI = 'from core import slugify\n\n\ndef main(text: str) -> None:\n    print(slugify(text))\n'


def test_the_file_defining_a_name_the_intent_names_acts(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    """The 1.5B's repository router sends "change slugify" to the file that calls it; the
    file that defines ``slugify`` acts too, and the caller's router finding nothing there
    is no failure."""
    repo = make_repo(tmp_path / "kit", {"core.py": CORE, "cli.py": CLI})
    new = ('def slugify(text: str, max_length: int | None = None) -> str:\n'
           '    slug = "-".join(text.lower().split())\n'
           '    return slug if max_length is None else slug[:max_length].rstrip("-")\n')
    env.responder = scripted(
        {".": {"act": [{"id": "cli.py", "intent": "add max_length"}]}, "cli.py": {},
         "core.py": {"act": [{"id": "core.py::slugify", "intent": "add max_length"}]}},
        {"core.py::slugify": new},
    )
    res = astm("apply", "Add a keyword parameter max_length to slugify", "--branch", "m", "--retries", "0", cwd=repo)
    assert res.code == 0, res.err
    assert landed(repo, "core.py") == new
    assert landed(repo, "cli.py") == CLI


# ---- 10.5 changes that must follow a change -----------------------------------------


TEXTKIT = '''\
import re


def _norm(text: str) -> str:
    return re.sub(r"\\s+", " ", text).strip()


def title(text: str) -> str:
    return _norm(text).title()


def words(text: str) -> list[str]:
    return _norm(text).split(" ")


def size(text: str) -> int:
    return len(text)


class Doc:
    def __init__(self, text: str) -> None:
        self.text = _norm(text)
'''


def test_a_rename_pulls_in_the_callers_it_broke(
    model_routes: None, env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "kit", {"textkit.py": TEXTKIT})
    after = TEXTKIT.replace("_norm(", "_normalise(")
    answers = {
        "textkit.py::_norm": 'def _normalise(text: str) -> str:\n    return re.sub(r"\\s+", " ", text).strip()\n',
        "textkit.py::title": "def title(text: str) -> str:\n    return _normalise(text).title()\n",
        "textkit.py::words": 'def words(text: str) -> list[str]:\n    return _normalise(text).split(" ")\n',
        "textkit.py::Doc.__init__": "def __init__(self, text: str) -> None:\n    self.text = _normalise(text)\n",
    }
    env.responder = scripted(
        {"textkit.py": {"act": [{"id": "textkit.py::_norm", "intent": "rename to _normalise", "rename": True}]}},
        answers,
    )
    res = apply(astm, repo, "rename _norm to _normalise", "textkit.py", "--json", retries=0)
    assert res.code == 0, res.err
    assert landed(repo, "textkit.py") == after
    assert generations(env, "textkit.py::size") == []  # not broken: not pulled in
    (title,) = generations(env, "textkit.py::title")
    prompt = prompt_of(title)
    assert "`_norm` was renamed to `_normalise`" in prompt and "F821" in prompt, prompt
    # The method, not its whole class, was brought in.
    assert generations(env, "textkit.py::Doc") == []
    nodes = {n["id"]: n["status"] for n in json.loads(res.out)["nodes"]}
    assert nodes["textkit.py::Doc.__init__"] == "changed" and "textkit.py::size" not in nodes


def test_a_caller_that_does_not_follow_fails_the_run_cleanly(
    model_routes: None, env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "kit", {"textkit.py": TEXTKIT})
    answers = {
        "textkit.py::_norm": 'def _normalise(text: str) -> str:\n    return re.sub(r"\\s+", " ", text).strip()\n',
    }
    for nid, old in (("title", "def title(text: str) -> str:\n    return _norm(text).title()\n"),
                     ("words", 'def words(text: str) -> list[str]:\n    return _norm(text).split(" ")\n'),
                     ("Doc.__init__", "def __init__(self, text: str) -> None:\n    self.text = _norm(text)\n")):
        answers[f"textkit.py::{nid}"] = old  # the model leaves them as they were
    env.responder = scripted(
        {"textkit.py": {"act": [{"id": "textkit.py::_norm", "intent": "rename to _normalise", "rename": True}]}},
        answers,
    )
    before = Snapshot.take(repo)
    res = apply(astm, repo, "rename _norm to _normalise", "textkit.py", retries=0)
    assert res.code == 1, res.err
    errors = [ln for ln in res.err.splitlines() if ln.startswith("astm: error")]
    assert len(errors) == 1 and "F821" in errors[0], res.err
    before.assert_unchanged(repo)
    # One round only: each caller was asked once.
    assert len(generations(env, "textkit.py::title")) == 1


# ---- 10.8 request lines never land ---------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "# astm-request: change add: refuse negative prices",
        "#astm-request: change add: refuse negative prices",
        "# astm request: change add: refuse negative prices",
        "# ASTM_REQUEST change add: refuse negative prices",
    ],
)
@pytest.mark.parametrize("where", ["top", "middle", "end"])
def test_request_lines_never_land_in_any_form_or_place(
    line: str, where: str, env: loopback.LoopbackServer, tmp_path: Path, astm: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"cart.py": CART})
    body = ["    def total(self) -> Decimal:", "        " + ROUNDED]
    at = {"top": 0, "middle": 1, "end": 2}[where]
    body.insert(at, ("        " if where == "middle" else "    ") + line)
    checked = "def add(self, price: Decimal) -> None:\n    if price < 0:\n        raise ValueError(price)\n    self.items.append(price)\n"
    env.responder = scripted(to_total(), {TOTAL: "\n".join(body) + "\n", "cart.py::Cart.add": checked})
    res = apply(astm, repo, "round the total", "cart.py", retries=0)
    assert res.code == 0, res.err
    text = landed(repo, "cart.py")
    assert "astm" not in text.lower()
    # Taken out wherever it stood and whatever its spelling, and acted on: add changed.
    assert text == CART_ROUNDED.replace("        self.items.append(price)\n", "        if price < 0:\n            raise ValueError(price)\n        self.items.append(price)\n")
