"""Validation by level: a leaf judges itself alone, the composing parent judges names
across nodes, blames the child a failure falls on, and that child retries with the news."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import git, make_repo

openai_server = loopback.openai_server

SRC = '''"""Tools."""

import os


def f():
    return os.sep


def g():
    return 2
'''


def plan(path: Path, edits: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"version": 1, "intent": "t", "edits": edits}))
    return path


def prompt_of(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body["messages"])


def is_route(body: dict[str, Any]) -> bool:
    return "Its children" in prompt_of(body)


def node_of(body: dict[str, Any]) -> str:
    text = prompt_of(body)
    m = re.search(r"You are the node (\S+) \(", text) if is_route(body) else re.search(r"Node: (\S+) \(", text)
    assert m, text
    return m.group(1)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer) -> loopback.LoopbackServer:
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-levels")
    return openai_server


def test_a_new_helper_and_its_caller_in_one_plan_land(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    # Checked alone, g's call of _helper is F821: the leaf leaves it to the file.
    repo = make_repo(tmp_path / "r", {"m.py": SRC})
    edits = [
        {"op": "replace", "node": "m.py::g", "text": "def g():\n    return _helper() + 1\n"},
        {"op": "insert", "parent": "m.py", "after": "m.py::g", "text": "def _helper():\n    return 1\n"},
        {"op": "replace", "node": "m.py::(imports)", "text": "import os\nimport sys\n"},
        {"op": "replace", "node": "m.py::f", "text": "def f():\n    return os.sep + sys.platform\n"},
    ]
    res = astm("apply", "x", "m.py", "--plan", str(plan(tmp_path / "p.json", edits)), "--branch", "out", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", "out:m.py").endswith("def g():\n    return _helper() + 1\n\n\ndef _helper():\n    return 1")


def test_a_cross_node_failure_in_a_plan_names_the_node(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    # Removing g while f's new text calls it: the file blames f, and a plan cannot retry.
    repo = make_repo(tmp_path / "r", {"m.py": SRC})
    edits = [
        {"op": "delete", "node": "m.py::g"},
        {"op": "replace", "node": "m.py::f", "text": "def f():\n    return os.sep + str(g())\n"},
    ]
    res = astm("apply", "x", "m.py", "--plan", str(plan(tmp_path / "p.json", edits)), cwd=repo)
    assert res.code == 1
    (line,) = [ln for ln in res.err.splitlines() if ln.startswith("astm: error")]
    assert "m.py::f: line 2: ruff F821: Undefined name `g`" in line
    assert git(repo, "branch", "--list", "astm/*") == ""


def test_the_blamed_child_retries_with_its_siblings_news(env: loopback.LoopbackServer, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    # f is rewritten to call g2; g is renamed to g2 by its own agent, but f's first answer
    # still calls g. Each leaf is fine alone; the file blames f, which retries.
    repo = make_repo(tmp_path / "r", {"m.py": SRC})
    answers: dict[str, Iterator[str]] = {
        "m.py::f": iter(["def f():\n    return os.sep + str(g())\n", "def f():\n    return os.sep + str(g2())\n"]),
        "m.py::g": iter(["def g2():\n    return 2\n"] * 3),
    }

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return json.dumps({"act": [{"id": "m.py::f", "intent": "use g2"},
                                       {"id": "m.py::g", "intent": "rename to g2", "rename": True}]})
        return next(answers[node_of(body)])

    env.responder = respond
    res = astm("apply", "give the helper the name g2", "m.py", "--branch", "out", "--json", cwd=repo)
    assert res.code == 0, res.err
    landed = git(repo, "show", "out:m.py")
    assert "return os.sep + str(g2())" in landed and "def g2():" in landed
    prompts = [prompt_of(r.body) for r in env.requests if not is_route(r.body) and node_of(r.body) == "m.py::f"]
    assert len(prompts) == 2
    assert "Composed with its siblings" in prompts[1] and "F821" in prompts[1]
    assert "renamed g -> g2" in prompts[1]
    result = json.loads(res.out)
    (f,) = [n for n in result["nodes"] if n["id"] == "m.py::f"]
    assert f["attempts"] == 2 and f["status"] == "changed"


def test_a_saved_plan_that_added_an_import_replays_to_the_same_tree(env: loopback.LoopbackServer, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {"m.py": SRC})

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return json.dumps({"act": [{"id": "m.py::g", "intent": "use sys"}]})
        return "import sys\n\n\ndef g():\n    return len(sys.argv)\n"

    env.responder = respond
    saved = tmp_path / "saved.json"
    res = astm("apply", "g counts argv", "m.py", "--branch", "first", "--save-plan", str(saved), cwd=repo)
    assert res.code == 0, res.err
    assert "import os\nimport sys\n" in git(repo, "show", "first:m.py")
    again = astm("apply", "g counts argv", "m.py", "--plan", str(saved), "--branch", "second", cwd=repo)
    assert again.code == 0, again.err
    assert git(repo, "rev-parse", "first^{tree}") == git(repo, "rev-parse", "second^{tree}")


def test_a_leaf_compiles_its_own_text_only() -> None:
    from astm.lang.python.edits import _valid_alone

    assert _valid_alone(b"    def m(self):\n        return 1\n")
    assert _valid_alone(b"def f():\n    return x\n")
    assert not _valid_alone(b"    def m(self):\n    return 1\n")
    assert not _valid_alone(b"def f(:\n")


def test_first_party_packages_under_src_are_visible_to_import_sorting(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    from astm.validate import ruff

    conf = '[tool.ruff]\nsrc = ["src"]\n[tool.ruff.lint]\nselect = ["I", "F"]\n'
    test = "import os\n\nimport pytest\n\nfrom pkg import thing\n\n\ndef test_a():\n    assert thing() == 1\n    assert os and pytest\n"
    repo = make_repo(tmp_path / "r", {
        "pyproject.toml": conf, "src/pkg/__init__.py": "def thing():\n    return 1\n",
        "src/pkg/big.py": "X = 1\n" * 1000, "tests/test_t.py": test,
    })
    imports = "import json\nimport os\n\nimport pytest\n\nfrom pkg import thing\n"
    # Without src/pkg, ruff takes pkg for a third-party package and wants it beside pytest.
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "pyproject.toml").write_text(conf)
    found = ruff.findings(bare, "tests/test_t.py", (imports + test.split("\n\n\n", 1)[1]).encode())
    assert found is not None and "I001" in [f.code for f in found]
    edits = [
        {"op": "replace", "node": "tests/test_t.py::(imports)", "text": imports},
        {"op": "replace", "node": "tests/test_t.py::test_a",
         "text": "def test_a():\n    assert thing() == 1\n    assert os and pytest and json\n"},
    ]
    res = astm("apply", "x", "tests/test_t.py", "--plan", str(plan(tmp_path / "p.json", edits)), "--branch", "out", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", "out:tests/test_t.py").startswith("import json\nimport os\n")


def test_a_class_leaves_names_to_its_file(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    # The class composes its methods without the file's new import: only the file can
    # tell that ``Any`` is defined.
    src = "import os\n\n\nclass Store:\n    def a(self):\n        return os.sep\n\n    def b(self):\n        return 2\n"
    repo = make_repo(tmp_path / "r", {"m.py": src})
    edits = [
        {"op": "replace", "node": "m.py::(imports)", "text": "import os\nfrom typing import Any\n"},
        {"op": "replace", "node": "m.py::Store.b", "text": "    def b(self, x: Any):\n        return x\n"},
        {"op": "replace", "node": "m.py::Store.a", "text": "    def a(self):\n        return os.sep * 2\n"},
    ]
    res = astm("apply", "x", "m.py", "--plan", str(plan(tmp_path / "p.json", edits)), "--branch", "out", cwd=repo)
    assert res.code == 0, res.err
    assert "from typing import Any\n" in git(repo, "show", "out:m.py")
