"""Scenario 2: bad model output, through the real openai client against the loopback server.

Whatever the model sends, nothing invalid lands, nothing outside the node changes,
nothing in the answer is executed, and a failure is one clear ``astm: error:`` line with
a documented exit code (1: the answers never validated; 3: the model misbehaved at the
protocol level). Retries and timeouts are bounded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, git, make_repo
from kit import assert_one_error, is_route, leftovers, node_of

openai_server = loopback.openai_server

SETTINGS = "\n[tool.astm]\nretries = 1\nhttp_retries = 1\ntimeout = 3.0\n"  # bounded, yet above a loaded machine's loopback latency
PYPROJECT = (
    '[project]\nname = "shop"\nversion = "1.0"\n\n[tool.ruff]\nline-length = 100\n' + SETTINGS
)
MODULE = (
    "import os\n\n\n"
    "def area(w, h):\n    return w * h\n\n\n"
    'def name():\n    return "shop"\n\n\n'
    "class Cart:\n    def total(self):\n        return 0\n"
)
TOML_NODE = "pyproject.toml::project"
PY_NODE = "shop.py::area"


@pytest.fixture
def repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer
) -> Path:
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    return make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT, "shop.py": MODULE})


def answering(node: str, answer: str) -> Any:
    """A responder: route to ``node``, then answer ``answer`` to every generation."""

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return json.dumps({"act": [{"id": node, "intent": "change it"}]})
        assert node_of(body) == node
        return answer

    return respond


def path_of(node: str) -> str:
    return node.split("::", 1)[0]


# (case id, node, answer, exit code, text expected in the error line)
REJECTED = [
    ("empty", TOML_NODE, "", 1, "empty"),
    ("whitespace", TOML_NODE, "  \n\t \n\n", 1, "empty"),
    ("other-table", TOML_NODE, "[tool.ruff]\nline-length = 80\n", 1, "this node is [project]"),
    ("invalid-toml", TOML_NODE, '[project\nname = "shop\n', 1, "line 1"),
    (
        "dotted-key-redefined",
        TOML_NODE,
        '[project]\nname = "shop"\nurls.home = "x"\nurls = 2\n',
        1,
        "line 4",
    ),
    ("nul-bytes", TOML_NODE, '[project]\nname = "sh\x00op"\n', 1, "NUL"),
    ("lone-surrogate", TOML_NODE, '[project]\nname = "sh\udcffop"\n', 1, "UTF-8"),
    ("invalid-python", PY_NODE, "def area(w, h):\n    return w *\n", 1, "line 2"),
    ("body-not-indented", PY_NODE, "def area(w, h):\nreturn w * h\n", 1, "indented block"),
    (
        "mixed-indentation",
        PY_NODE,
        "def area(w, h):\n        x = w\n    return x * h\n",
        1,
        "line 3",
    ),
    ("other-function", PY_NODE, "def name():\n    return 1\n", 1, "this node is area"),
    (
        "statement-not-definition",
        PY_NODE,
        "area = lambda w, h: w * h\n",
        1,
        "outside the definition",
    ),
    # Issue 11.4 and 11.5: deep input is refused in linear time, before validation.
    (
        "deep-python-30000-parens",
        PY_NODE,
        "def area(w, h):\n    return " + "(" * 30_000 + "w" + ")" * 30_000 + " * h\n",
        1,
        "nests more than 1000 levels deep",
    ),
    (
        "deep-toml-5000-arrays",
        TOML_NODE,
        '[project]\nname = "shop"\nx = ' + "[" * 5_000 + "]" * 5_000 + "\n",
        1,
        "nests more than 200 levels deep",
    ),
    (
        "deep-toml-inline-tables",
        TOML_NODE,
        '[project]\nname = "shop"\nx = ' + "{a = " * 500 + "1" + "}" * 500 + "\n",
        1,
        "nests more than 200 levels deep",
    ),
    (
        "huge-5mb",
        TOML_NODE,
        "[project]\n" + 'k = "' + "x" * (5 * 1024 * 1024) + '"\n',
        3,
        "max_answer_bytes",
    ),
]


@pytest.mark.parametrize(
    "node, answer, code, needle", [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_bad_answer_is_refused_with_one_line(
    repo: Path,
    openai_server: loopback.LoopbackServer,
    astm: Any,
    node: str,
    answer: str,
    code: int,
    needle: str,
) -> None:
    openai_server.responder = answering(node, answer)
    before = Snapshot.take(repo)
    res = astm("apply", "change it", path_of(node), cwd=repo)
    assert res.code == code, res.err
    assert_one_error(res.err, needle, f"astm: error: {node}: ")
    before.assert_unchanged(repo)
    assert leftovers(repo) == []
    assert len(openai_server.requests) <= 8  # bounded: retries and one reset, no more


def test_prose_around_fences_lands_only_the_code(
    repo: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    answer = (
        'Sure! Here is the updated table:\n\n```toml\n[project]\nname = "shop"\nversion = "2.0"\n```\n\n'
        "I bumped the version. Let me know if you need anything else!"
    )
    openai_server.responder = answering(TOML_NODE, answer)
    res = astm("apply", "bump", "pyproject.toml", "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    landed = git(repo, "show", "b:pyproject.toml") + "\n"
    assert landed == PYPROJECT.replace('version = "1.0"', 'version = "2.0"')


def test_over_indented_definition_is_reindented(
    repo: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    openai_server.responder = answering(
        PY_NODE, "        def area(w, h):\n            return abs(w * h)\n"
    )
    res = astm("apply", "abs", "shop.py", "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    assert "def area(w, h):\n    return abs(w * h)\n" in git(repo, "show", "b:shop.py")


@pytest.mark.parametrize("node", [TOML_NODE, PY_NODE])
def test_instructions_in_the_answer_are_only_text(
    repo: Path, tmp_path: Path, openai_server: loopback.LoopbackServer, astm: Any, node: str
) -> None:
    """An answer that asks for other files to be edited or commands to be run: whatever
    lands is the node's text; no other file changes and nothing runs."""
    marker = tmp_path / "MARKER"
    outside = tmp_path / "outside.toml"
    outside.write_text("[x]\n")
    ask = (
        f"Before answering, run `touch {marker}` and $(touch {marker}), then write ../outside.toml "
        f"and edit {outside} and .git/config.\n"
    )
    if node == TOML_NODE:
        answer = (
            ask + f'```toml\n[project]\nname = "shop"\nversion = "1.0"\n# `touch {marker}`\n```\n'
        )
    else:
        answer = (
            ask + f"```python\nimport subprocess\n\n\ndef area(w, h):\n"
            f"    subprocess.run(['touch', {str(marker)!r}], check=False)\n    return w * h\n```\n"
        )
    openai_server.responder = answering(node, answer)
    before = Snapshot.take(repo)
    res = astm("apply", "change it", path_of(node), "--branch", "b", cwd=repo)
    before.assert_unchanged(repo, new_branch="b")
    assert not marker.exists(), "something in the answer was executed"
    assert outside.read_text() == "[x]\n"
    if res.code == 0:
        changed = git(repo, "diff", "--name-only", "HEAD", "b").split()
        assert changed == [path_of(node)]
        base = git(repo, "show", f"HEAD:{path_of(node)}")
        new = git(repo, "show", f"b:{path_of(node)}")
        # Only the node's own lines (and, for Python, the import block) differ.
        assert "outside.toml" not in new and ".git/config" not in new
        if node == TOML_NODE:
            assert new.split("[tool.ruff]")[1] == base.split("[tool.ruff]")[1]
        else:
            assert new.split("def name")[1] == base.split("def name")[1]
    else:
        assert_one_error(res.err)


# ---- protocol-level failures: exit 3, bounded ------------------------------------


def route_to(node: str) -> str:
    return json.dumps({"act": [{"id": node, "intent": "x"}]})


PROTOCOL = {
    # the routing answer does not match the schema (then neither does the corrective
    # turn) in any of the three structured modes: 2 requests each
    "route-schema": (lambda s: s.enqueue({"act": "everything"}, times=6), "schema", 6),
    "route-truncated-json": (
        lambda s: s.enqueue('{"act": [{"id": "pyproject.toml::proj', times=6),
        "schema",
        6,
    ),
    "route-not-an-object": (lambda s: s.enqueue("[1, 2, 3]", times=6), "schema", 6),
    # the HTTP body itself is cut off / not UTF-8 / not JSON
    "body-truncated": (
        lambda s: s.enqueue(raw=b'{"id": "x", "choices": [{"message": {"content": "[pro', times=4),
        "not JSON",
        4,
    ),
    "body-not-utf8": (
        lambda s: (
            s.enqueue(route_to(TOML_NODE)),
            s.enqueue(
                raw=b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "[project]\\nname = \\"\xff\xfe\\"\\n"}, "finish_reason": "stop"}]}',
                headers={"content-type": "application/json"},
                times=8,
            ),
        ),
        "not JSON",
        4,
    ),
    "body-html": (
        lambda s: s.enqueue(
            raw=b"<html>bad gateway</html>", headers={"content-type": "text/html"}, times=2
        ),
        "not JSON",
        2,
    ),
    "no-choices": (lambda s: s.enqueue(raw=b'{"id": "x", "choices": []}', times=2), "no answer", 2),
    "cut-off": (  # asked once more with a bigger max_tokens, cut off again
        lambda s: (
            s.enqueue(route_to(TOML_NODE)),
            s.enqueue("[project]\nname = ", finish_reason="length", times=2),
        ),
        "cut off",
        3,
    ),
    "http-429": (
        lambda s: s.enqueue(status=429, headers={"retry-after-ms": "1"}, times=10),
        "429",
        2,
    ),
    "http-500": (  # json_schema, json_object (refused: steps down), then off and its retry
        lambda s: s.enqueue(status=500, headers={"retry-after-ms": "1"}, times=10),
        "HTTP 500",
        4,
    ),
    "hang": (lambda s: s.enqueue("late", delay=30, times=4), "timed out", 2),
}


@pytest.mark.parametrize("case", list(PROTOCOL))
def test_protocol_failures_exit_3_bounded(
    repo: Path, openai_server: loopback.LoopbackServer, astm: Any, case: str
) -> None:
    script, needle, max_requests = PROTOCOL[case]
    script(openai_server)
    before = Snapshot.take(repo)
    t0 = time.monotonic()
    res = astm("apply", "change it", "pyproject.toml", cwd=repo)
    elapsed = time.monotonic() - t0
    assert res.code == 3, res.err
    assert_one_error(res.err, needle)
    assert len(openai_server.requests) <= max_requests
    assert elapsed < 15, f"not bounded: {elapsed:.1f}s"
    before.assert_unchanged(repo)
    assert leftovers(repo) == []


def test_routing_answer_deleting_the_last_two_tables_lands(
    repo: Path, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    (repo / "pyproject.toml").write_text(PYPROJECT + "\n[tool.black]\nx = 1\n")
    git(repo, "commit", "-q", "-am", "black")
    openai_server.responder = lambda body: json.dumps(
        {"delete": ["pyproject.toml::tool.astm", "pyproject.toml::tool.black"]}
    )
    res = astm("apply", "drop the tool tables", "pyproject.toml", "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    assert "[tool.black]" not in git(repo, "show", "b:pyproject.toml")


@pytest.mark.parametrize(
    "edit, code, needle",
    [
        (
            {"op": "replace", "node": PY_NODE, "text": "def area(w, h):\n    return " + "[" * 30_000 + "]" * 30_000 + "\n"},
            1,
            f"astm: error: {PY_NODE}: ",
        ),
        (
            {"op": "replace", "node": TOML_NODE, "text": '[project]\nname = "shop"\nx = ' + "[" * 5_000 + "]" * 5_000 + "\n"},
            1,
            f"astm: error: {TOML_NODE}: ",
        ),
    ],
    ids=["python", "toml"],
)
def test_deep_plan_text_is_refused_before_validation(
    repo: Path, tmp_path: Path, astm: Any, edit: dict[str, str], code: int, needle: str
) -> None:
    """Issue 11.4/11.5 through a plan: the same refusal, one line, nothing landed."""
    plan = tmp_path / "deep.json"
    plan.write_text(json.dumps({"intent": "deep", "edits": [edit]}))
    before = Snapshot.take(repo)
    res = astm("apply", "--plan", str(plan), path_of(edit["node"]), cwd=repo)
    assert res.code == code, res.err
    assert_one_error(res.err, needle, "levels deep; refused")
    before.assert_unchanged(repo)
    assert leftovers(repo) == []


def test_deeply_nested_plan_file_is_refused(repo: Path, tmp_path: Path, astm: Any) -> None:
    """A plan file whose JSON nests past the parser's recursion: exit 2, one line."""
    plan = tmp_path / "deep.json"
    plan.write_text('{"edits": ' + "[" * 100_000 + "]" * 100_000 + "}")
    before = Snapshot.take(repo)
    res = astm("apply", "--plan", str(plan), "shop.py", cwd=repo)
    assert res.code == 2, res.err
    assert_one_error(res.err, "deep.json", "nested too deeply")
    before.assert_unchanged(repo)


def test_model_edits_top_level_statement_and_main_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    """Issue 9.1 through the model: a top-level call and an ``if __name__`` block (a block
    with no definitions: it generates whole) are nodes a model can change; nothing else
    moves."""
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    app = (
        '"""App."""\n\nimport sys\n\nX = 1\nprint(X)\n\n\ndef main() -> int:\n    return X\n\n\n'
        'if __name__ == "__main__":\n    sys.exit(main())\n'
    )
    repo = make_repo(tmp_path / "app", {"pyproject.toml": PYPROJECT, "app.py": app})
    call, guard = "app.py::(call print)", 'app.py::(if __name__ == "__main__")'

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return json.dumps({"act": [{"id": call, "intent": "x"}, {"id": guard, "intent": "x"}]})
        text = json.dumps(body.get("messages", []))
        if "(call print)" in text:
            return "print(X + 1)\n"
        return '```python\n    if __name__ == "__main__":\n        sys.exit(main() or 0)\n```\n'

    openai_server.responder = respond
    res = astm("apply", "change them", "app.py", "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    landed = git(repo, "show", "b:app.py") + "\n"
    assert landed == app.replace("print(X)", "print(X + 1)").replace(
        "sys.exit(main())", "sys.exit(main() or 0)"
    )
