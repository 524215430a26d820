"""Routes the intent decides by naming its targets (issue 10.3, ``astm.agents.named``).

Unit cases run ``decide`` on real tree-sitter trees of a small project; the end-to-end
cases run the real CLI through the real openai client against the loopback server and
check which prompts the model saw: a named target costs no routing call at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import git, make_repo
from test_model_habits import env, scripted  # noqa: F401  (the env fixture)
from test_python_model import is_route, node_of

from astm.agents import named
from astm.core.node import Node
from astm.lang import find

openai_server = loopback.openai_server

CORE = '''\
"""Text helpers."""

import re

WORD = re.compile(r"\\w+")


def _norm(text):
    return " ".join(text.lower().split())


def slugify(text, sep="-"):
    return sep.join(WORD.findall(_norm(text)))
'''
STATS = '''\
"""Counting words."""

from textkit.core import WORD, _norm


class TextStats:
    def __init__(self, text):
        self.text = text

    def words(self):
        return WORD.findall(_norm(self.text))

    def top_words(self, n):
        return self.words()[: n - 1]
'''
CLI = '''\
"""The command line."""

from textkit.core import slugify


def slug(text):
    print(slugify(text))
'''
ERRORS = '''\
class ShopError(Exception):
    """Anything that goes wrong in the shop."""
'''
PROJECT = {
    "pyproject.toml": '[project]\nname = "textkit"\n',
    "src/textkit/core.py": CORE,
    "src/textkit/stats.py": STATS,
    "src/textkit/cli.py": CLI,
    "src/textkit/errors.py": ERRORS,
}


def tree() -> tuple[Node, dict[str, bytes]]:
    data = {p: t.encode() for p, t in PROJECT.items()}
    kids = []
    for p, d in data.items():
        lang = find(p)
        assert lang is not None
        kids.append(lang.parse(p, d))
    return Node(".", "repo", "", 0, 0, children=tuple(kids)), data


def routes(intent: str) -> dict[str, tuple[list[str], list[str]]] | None:
    repo, data = tree()
    got = named.decide(intent, repo, data)
    if got is None:
        return None
    return {
        nid: ([a.node_id + ("!" if a.rename else "") for a in r.act], [c.key for c in r.create])
        for nid, r in got.items()
    }


S = "src/textkit/stats.py"
C = "src/textkit/core.py"


@pytest.mark.parametrize(
    ("intent", "want"),
    [
        (  # a method named with its class: only it acts, its class routes to it
            "Fix the off-by-one in TextStats.top_words: asked for n words it returns n - 1",
            {".": ([S], []), S: ([f"{S}::TextStats"], []), f"{S}::TextStats": ([f"{S}::TextStats.top_words"], [])},
        ),
        (  # a new member of an existing class: the class creates it
            "Add a method TextStats.longest that returns the longest of the words",
            {".": ([S], []), S: ([f"{S}::TextStats"], []), f"{S}::TextStats": ([], ["longest"])},
        ),
        (  # a plain word naming a function after a verb of change; new snake names are its parameters
            "Add a keyword parameter max_length to slugify",
            {".": ([C], []), C: ([f"{C}::slugify"], [])},
        ),
        (  # a new definition in the one named file; a named base class only mentioned
            "Add an OutOfStockError exception (a subclass of ShopError) to textkit/errors.py",
            {".": (["src/textkit/errors.py"], []), "src/textkit/errors.py": ([], ["OutOfStockError"])},
        ),
        (  # a rename: the definition renames, every user in every file follows
            "Rename the private helper _norm to _normalize and update all its callers",
            {
                ".": ([C, S], []),
                C: ([f"{C}::_norm!", f"{C}::slugify"], []),
                S: ([f"{S}::(imports)", f"{S}::TextStats"], []),
                f"{S}::TextStats": ([f"{S}::TextStats.words"], []),
            },
        ),
        (  # full ids written out, as a track's ticket lists its targets
            "Implement it\nTargets: src/textkit/core.py::slugify, src/textkit/stats.py::TextStats.words",
            {".": ([C, S], []), C: ([f"{C}::slugify"], []), S: ([f"{S}::TextStats"], []),
             f"{S}::TextStats": ([f"{S}::TextStats.words"], [])},
        ),
        (  # a full id of a node still to be made, inside an existing class
            "Implement the stub\nTargets: src/textkit/stats.py::TextStats.count",
            {".": ([S], []), S: ([f"{S}::TextStats"], []), f"{S}::TextStats": ([], ["count"])},
        ),
        (  # "every function" of a named file: each one acts, no router asked
            "Add type hints to every function of textkit/core.py",
            {".": ([C], []), C: ([f"{C}::_norm", f"{C}::slugify"], [])},
        ),
        (  # a named file with no named target in it: the file's own router decides inside
            "Make textkit/core.py handle accents",
            {".": ([C], [])},
        ),
    ],
)
def test_an_intent_that_names_its_targets_decides_the_route(intent: str, want: dict[str, Any]) -> None:
    assert routes(intent) == want


@pytest.mark.parametrize(
    "intent",
    [
        "Configure ruff and mypy to be strict",  # two tools: which table is the model's call
        "add requests and coverage",  # neither a dependency nor a tool's settings, said plainly
        "cut the slug to 20 characters",  # "slug" is a plain word here, not cli.py::slug
        "Add a command initials to the CLI that prints the NAME's initials",  # NAME: unresolved
        "Make WORD_RE match digits",  # an unknown code name
        "Give TextStats a cache and fix TextStats.words",  # one named node holds another
        "the total must round",  # a plain word that names nothing here
    ],
)
def test_an_intent_that_does_not_name_its_targets_is_routed_by_the_model(intent: str) -> None:
    assert routes(intent) is None


P = "pyproject.toml"


@pytest.mark.parametrize(
    ("intent", "act", "create"),
    [
        ("Add requests 2.31 or newer as a runtime dependency", [f"{P}::project"], []),
        ("Add an optional dependency group named dev with pytest and ruff", [], ["project.optional-dependencies"]),
        ("Configure pytest-cov: fail the test run under 80% coverage", [], ["tool.pytest.ini_options"]),
        # Two parts, two tables: the dependency in [project], pytest-cov's options in pytest's.
        ("Add requests as a dependency and configure pytest-cov with 80% coverage",
         [f"{P}::project"], ["tool.pytest.ini_options"]),
        # A URL is no name; the standards put it in [project.urls].
        ("Add the homepage URL https://example.com/a.b to the metadata in pyproject.toml", [], ["project.urls"]),
    ],
)
def test_a_configuration_intent_goes_to_the_table_the_standards_say(
    intent: str, act: list[str], create: list[str]
) -> None:
    assert routes(intent) == {".": ([P], []), P: (act, create)}


def test_references_do_not_act() -> None:
    got = routes("Add a method TextStats.count that calls slugify and raises ShopError")
    assert got is not None
    acting = {a for acts, _ in got.values() for a in acts}
    assert not any("slugify" in a or "ShopError" in a for a in acting)


# ---- end to end: no routing call when the intent names its targets ------------------


def test_a_named_method_is_fixed_without_any_routing_call(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    fixed = "    def top_words(self, n):\n        return self.words()[:n]\n"
    env.responder = scripted({}, {f"{S}::TextStats.top_words": fixed})
    res = astm("apply", "Fix the off-by-one in TextStats.top_words", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", f"m:{S}") == STATS.replace("[: n - 1]", "[:n]").rstrip("\n")
    assert [node_of(r.body) for r in env.requests] == [f"{S}::TextStats.top_words"]
    assert not [r for r in env.requests if is_route(r.body)]
    assert f"routed by the names in the intent, not by the model: {S}::TextStats.top_words" in res.out
    # The intent named what acts: the worker is not invited to ask for more.
    assert "astm-request" not in json.dumps(env.requests[0].body)


def test_a_rename_reaches_its_users_in_other_files(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    # Only the renamed definition asks the model: its users follow the new name as the
    # intent writes it, without a model call.
    answers = {f"{C}::_norm": "def _normalize(text):\n    return \" \".join(text.lower().split())\n"}
    env.responder = scripted({}, answers)
    res = astm("apply", "Rename the private helper _norm to _normalize and update all its callers",
               "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    for path in (C, S):
        text = git(repo, "show", f"m:{path}")
        assert "_normalize" in text and not __import__("re").search(r"\b_norm\b", text), path
    assert [node_of(r.body) for r in env.requests] == [f"{C}::_norm"]


def test_an_unnamed_target_still_asks_the_model_to_route(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "r", {"src/textkit/stats.py": STATS})
    fixed = "    def top_words(self, n):\n        return self.words()[:n]\n"
    env.responder = scripted(
        {S: {"act": [{"id": f"{S}::TextStats", "intent": "fix the top words"}]},
         f"{S}::TextStats": {"act": [{"id": f"{S}::TextStats.top_words", "intent": "fix"}]}},
        {f"{S}::TextStats.top_words": fixed},
    )
    res = astm("apply", "the most frequent words come one short", S, "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert [node_of(r.body) for r in env.requests if is_route(r.body)] == [S, f"{S}::TextStats"]
    assert "astm-request: sibling NAME" in json.dumps(env.requests[-1].body)


def test_a_dependency_lands_in_project_without_any_routing_call(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    table = '[project]\nname = "textkit"\ndependencies = ["requests>=2.31"]\n'
    env.responder = scripted({}, {f"{P}::project": table})
    res = astm("apply", "Add requests 2.31 or newer as a runtime dependency", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", f"m:{P}") + "\n" == table
    assert [node_of(r.body) for r in env.requests] == [f"{P}::project"]


def test_a_named_route_does_not_take_a_whole_class_answers_rewrites_of_siblings(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """The 1.5B answered "create TextStats.longest" with the whole class, its other
    methods rewritten (``words`` without ``_norm``): only the named method lands."""
    repo = make_repo(tmp_path / "r", PROJECT)
    method = "    def longest(self):\n        return max(self.words(), key=len, default='')\n"
    whole = STATS[STATS.index("class TextStats:"):].replace(
        "return WORD.findall(_norm(self.text))", "return self.text.split()"
    ) + "\n" + method
    env.responder = scripted({}, {f"{S}::TextStats.longest": whole})
    res = astm("apply", "Add a method TextStats.longest that returns the longest word",
               "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", f"m:{S}") + "\n" == STATS + "\n" + method
    assert "proposed a change to TextStats.words; not done: the intent names the nodes that change" in res.out


def test_named_routes_off_leaves_every_level_to_the_model(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setenv("ASTM_NAMED_ROUTES", "0")
    repo = make_repo(tmp_path / "r", {"src/textkit/stats.py": STATS})
    fixed = "    def top_words(self, n):\n        return self.words()[:n]\n"
    env.responder = scripted(
        {S: {"act": [{"id": f"{S}::TextStats", "intent": "fix"}]},
         f"{S}::TextStats": {"act": [{"id": f"{S}::TextStats.top_words", "intent": "fix"}]}},
        {f"{S}::TextStats.top_words": fixed},
    )
    res = astm("apply", "Fix the off-by-one in TextStats.top_words", S, "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert [node_of(r.body) for r in env.requests if is_route(r.body)] == [S, f"{S}::TextStats"]
    assert "routed by the names" not in res.out


def test_an_added_dependency_may_not_drop_the_others(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """The 1.5B answered "add requests" with click replaced by requests, and asked to
    change [tool.ruff] too: the drop is refused with a hint naming click, the request is
    not done (the intent named [project]), and the second answer lands."""
    project = '[project]\nname = "textkit"\ndependencies = ["click>=8.1"]\n\n[tool.ruff]\nline-length = 100\n'
    repo = make_repo(tmp_path / "r", {**PROJECT, P: project})
    dropped = '[project]\nname = "textkit"\ndependencies = ["requests>=2.31"]\n'
    kept = ('# astm-request: change tool.ruff: raise the line length to 120\n'
            '[project]\nname = "textkit"\ndependencies = ["click>=8.1", "requests>=2.31"]\n')
    env.responder = scripted({}, {f"{P}::project": [dropped, kept]})
    res = astm("apply", "Add requests 2.31 or newer as a runtime dependency", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", f"m:{P}") + "\n" == project.replace('["click>=8.1"]', '["click>=8.1", "requests>=2.31"]')
    second = json.dumps(env.requests[1].body)
    assert 'drops the dependencies \\\\"click>=8.1\\\\"' in second or "click>=8.1" in second.split("rejected", 1)[-1]
    assert [node_of(r.body) for r in env.requests] == [f"{P}::project", f"{P}::project"]
    assert "tool.ruff; not done: the intent names the nodes that change" in res.out


def test_removing_a_dependency_on_purpose_is_not_refused() -> None:
    from astm.validate import pyproject

    base = b'[project]\nname = "x"\ndependencies = ["click>=8.1", "six"]\n'
    patched = b'[project]\nname = "x"\ndependencies = ["click>=8.1"]\n'
    assert pyproject.lost_dependencies(base, patched, intent="Remove six", path="pyproject.toml") is None
    diag = pyproject.lost_dependencies(base, patched, intent="Add requests", path="pyproject.toml")
    assert diag is not None and '"six"' in diag.message
    assert pyproject.lost_dependencies(base, patched, intent="Add requests", path="sub/other.toml") is None


def test_a_new_table_asked_for_beside_the_named_one_is_not_made(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """pytest's table asked for a new [pytest-cov] sibling (the 1.5B did, and then could
    not write it): the standards placed the change, so no new table is made; a note says so."""
    project = '[project]\nname = "inventory"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    repo = make_repo(tmp_path / "r", {P: project})
    table = ('# astm-request: sibling pytest-cov: fail under 80\n'
             '[tool.pytest.ini_options]\ntestpaths = ["tests"]\naddopts = "--cov=inventory --cov-fail-under=80"\n')
    env.responder = scripted({}, {f"{P}::tool.pytest.ini_options": table, f"{P}::pytest-cov": "fail_under = 80 80"})
    res = astm("apply", "Configure pytest-cov: fail the test run under 80% coverage", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert 'addopts = "--cov=inventory --cov-fail-under=80"' in git(repo, "show", f"m:{P}")
    assert "pytest-cov" not in git(repo, "show", f"m:{P}").replace("--cov", "")
    assert "asked to sibling pytest-cov; not done: the intent names the nodes that change" in res.out
    assert len(env.requests) == 1


def test_a_requested_helper_that_fails_is_left_out_not_the_run(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    fixed = ("    def top_words(self, n):\n        return self.words()[:n]\n"
             "# astm-request: sibling _rank: rank the words\n")
    env.responder = scripted({}, {f"{S}::TextStats.top_words": fixed, f"{S}::TextStats._rank": "def _rank(self) return 1"})
    res = astm("apply", "Fix the off-by-one in TextStats.top_words", "--branch", "m", "--retries", "0", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", f"m:{S}") == STATS.replace("[: n - 1]", "[:n]").rstrip("\n")
    assert f"{S}::TextStats._rank: asked for by another node, left out:" in res.out


def test_a_named_route_drops_code_outside_the_definition(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    fixed = "    def top_words(self, n):\n        return self.words()[:n]\n"
    noisy = "class TextStats:\n" + fixed + "\n\nprint(TextStats('a b').top_words(1))\n"
    env.responder = scripted({}, {f"{S}::TextStats.top_words": noisy})
    res = astm("apply", "Fix the off-by-one in TextStats.top_words", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", f"m:{S}") == STATS.replace("[: n - 1]", "[:n]").rstrip("\n")
    assert len(env.requests) == 1


def test_a_new_table_starts_from_its_header_in_the_prompt(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """Shown an empty node, the 1.5B echoed the file's outline six times; shown the new
    table's header, it has the line to continue from."""
    project = '[project]\nname = "textkit"\ndependencies = ["click>=8.1"]\n'
    repo = make_repo(tmp_path / "r", {P: project})
    group = '[project.optional-dependencies]\ndev = ["pytest", "ruff"]\n'
    env.responder = scripted({}, {f"{P}::project.optional-dependencies": group})
    res = astm("apply", "Add an optional dependency group named dev with pytest and ruff", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", f"m:{P}") + "\n" == project + "\n" + group
    prompt = env.requests[0].body["messages"][-1]["content"]
    assert "--- begin ---\n[project.optional-dependencies]\n--- end ---" in prompt
    assert "The node is new" in prompt


def test_a_method_used_as_data_gets_a_retry_with_the_call_to_write(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    wrong = "    def average(self):\n        return sum(len(w) for w in self.words) / len(self.words)\n"
    right = wrong.replace("self.words)", "self.words())")
    env.responder = scripted({}, {f"{S}::TextStats.average": [wrong, right]})
    res = astm("apply", "Add a method TextStats.average that returns the mean word length", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", f"m:{S}").endswith(right.rstrip("\n"))
    assert "self.words is a method: call it, self.words()" in json.dumps(env.requests[1].body)


def test_a_new_method_starts_from_its_def_line_and_an_unchanged_stub_is_refused(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    stub = "    def longest(self, limit):\n        ...\n"
    method = "    def longest(self, limit):\n        return max(self.words()[:limit], key=len, default='')\n"
    env.responder = scripted({}, {f"{S}::TextStats.longest": [stub, method]})
    res = astm("apply", "Add a method TextStats.longest(limit) that returns the longest word", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", f"m:{S}").endswith(method.rstrip("\n"))
    first, second = (r.body["messages"][-1]["content"] for r in env.requests)
    assert "--- begin ---\n" + stub + "--- end ---" in first
    # Beside it, the class's own code, not its outline.
    assert "return self.words()[: n - 1]" in first
    assert "the answer is the new node's stub, unchanged" in second


def test_a_pytest_option_pytest_does_not_know_is_refused_with_where_it_goes(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """The 1.5B configured pytest-cov as `cov = true` and `min_coverage = 80.0` in pytest's
    table: pytest (asked for its options, plugins included) knows neither."""
    project = '[project]\nname = "inventory"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    repo = make_repo(tmp_path / "r", {P: project})
    invented = '[tool.pytest.ini_options]\ntestpaths = ["tests"]\ncov = true\nmin_coverage = 80.0\n'
    right = '[tool.pytest.ini_options]\ntestpaths = ["tests"]\naddopts = "--cov=inventory --cov-fail-under=80"\n'
    env.responder = scripted({}, {f"{P}::tool.pytest.ini_options": [invented, right]})
    res = astm("apply", "Configure pytest-cov: fail the test run under 80% coverage", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", f"m:{P}") + "\n" == project.replace('["tests"]\n', '["tests"]\n' + right.split("\n")[2] + "\n")
    assert "pytest has no option cov, min_coverage in [tool.pytest.ini_options]" in json.dumps(env.requests[1].body)


def test_a_whole_file_answers_copies_of_defined_classes_are_not_made(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """Inventory.remove's whole-file answer wrote its own InventoryError and OutOfStockError
    beside the method: the first exists in errors.py, the second is errors.py's to create."""
    repo = make_repo(tmp_path / "r", PROJECT)
    err = "class OutOfStockError(ShopError, ValueError):\n    pass\n"
    method = ("    def top_words(self, n):\n        if n < 0:\n            raise OutOfStockError(n)\n"
              "        return self.words()[:n]\n")
    whole = ("from textkit.errors import OutOfStockError\n\n\n" + STATS[STATS.index("class TextStats:"):]
             .replace("    def top_words(self, n):\n        return self.words()[: n - 1]\n", method)
             + "\n\nclass ShopError(Exception):\n    pass\n\n\n" + err)
    env.responder = scripted({}, {"src/textkit/errors.py::OutOfStockError": err, f"{S}::TextStats.top_words": whole})
    res = astm("apply", "Add an OutOfStockError exception (a subclass of ShopError and ValueError) to "
               "textkit/errors.py and raise it from TextStats.top_words when n is negative", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    stats = git(repo, "show", f"m:{S}")
    assert "class ShopError" not in stats and "class OutOfStockError" not in stats
    assert "from textkit.errors import OutOfStockError" in stats
    assert "ShopError is defined elsewhere already" in res.out
    assert git(repo, "show", "m:src/textkit/errors.py").endswith(err.rstrip("\n"))


def test_a_new_members_worker_that_writes_its_class_back_is_told_so(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    echo = STATS[STATS.index("class TextStats:"):]
    method = "    def count(self):\n        return len(self.words())\n"
    env.responder = scripted({}, {f"{S}::TextStats.count": [echo, method]})
    res = astm("apply", "Add a method TextStats.count that returns how many words there are", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    first, second = (r.body["messages"][-1]["content"] for r in env.requests)
    assert "the answer repeats TextStats without count: write only the new count" in second
    assert "return self.words()[: n - 1]" in first and "return self.words()[: n - 1]" not in second  # a change of view
