"""Issue 11.9: nothing from outside reaches the terminal raw.

An answer holding ``ESC ] 0 ; ... BEL ESC [ 2 J`` retitled and cleared the user's terminal.
Model text, server error messages, file names, node ids, run records and git output are
now shown with their control characters escaped (``\\x1b``): ``errors.printable`` for one
line, ``render.SafeStream`` on stdout and stderr for everything the CLI prints.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import git, make_repo
from kit import PYPROJECT, RENAME, assert_one_error, is_route, model_env, write_plan

openai_server = loopback.openai_server

ATTACK = "\x1b]0;pwned\x07\x1b[2J\x1b[H\x9b31m\u202eevil\r"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(*texts: str) -> None:
    for text in texts:
        found = RAW.findall(text)
        assert not found, f"raw control characters {found!r} in {text[-600:]!r}"


@pytest.fixture
def with_model(monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer) -> loopback.LoopbackServer:
    for k, v in model_env(openai_server.base_url).items():
        monkeypatch.setenv(k, v)
    return openai_server


def test_printable_escapes_every_control_character() -> None:
    from astm.errors import printable
    from astm.render import printable_lines

    assert printable(ATTACK) == "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[H\\x9b31m\\u202eevil\\r"
    assert printable("a\nb\tc") == "a\\nb\\tc"
    assert printable("plain é 中 [bold]") == "plain é 中 [bold]"
    assert printable_lines("x\x1b[2J\n\ty\r\n") == "x\\x1b[2J\n\ty\n"
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    out = printable(every)
    assert not RAW.search(out) and "\n" not in out and "\t" not in out


def test_model_answer_with_escapes_is_shown_escaped(tmp_path: Path, astm: Any, with_model: loopback.LoopbackServer) -> None:
    """The answer fails validation (a raw ESC is not valid TOML): the retry hints, the
    FAILED line and the error quote it, escaped."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    route = json.dumps({"act": [{"id": "pyproject.toml::project", "intent": "rename"}]})
    with_model.responder = lambda body: (
        route if is_route(body) else f'[project]\nname = "{ATTACK}"\nversion = "1.0"\n'
    )
    res = astm("apply", "rename", "pyproject.toml", "--retries", "1", cwd=repo)
    assert res.code == 1, res.err
    clean(res.out, res.err)
    assert_one_error(res.err)


def test_model_answer_that_lands_is_shown_escaped(tmp_path: Path, astm: Any, with_model: loopback.LoopbackServer) -> None:
    """A routing intent full of escapes reaches the retry hint and plain progress lines."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    route = {"act": [{"id": "pyproject.toml::project", "intent": ATTACK}, {"id": "pyproject.toml::tool.ruff", "intent": ATTACK}]}
    with_model.enqueue(json.dumps(route))
    with_model.responder = lambda body: (
        "[tool.ruff]\nline-length = 88\n" if "tool.ruff" in json.dumps(body) else f"[project]\nname = \"x\"\n# {ATTACK}\n"
    )
    res = astm("apply", "x", "pyproject.toml", cwd=repo)
    clean(res.out, res.err)


def test_server_error_message_is_shown_escaped(tmp_path: Path, astm: Any, with_model: loopback.LoopbackServer) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    with_model.enqueue(status=400, error={"message": f"bad request {ATTACK}", "type": "invalid_request_error"}, times=5)
    res = astm("apply", "x", "pyproject.toml", cwd=repo)
    assert res.code == 3, res.err
    clean(res.out, res.err)
    line = assert_one_error(res.err)
    assert "\\x1b]0;pwned" in line


def test_file_names_with_escapes_are_shown_escaped(tmp_path: Path, astm: Any) -> None:
    """A file the run skips (it does not parse) is named in a note; one named on the
    command line in the error; ``astm view`` prints its name as a header."""
    name = f"bad{ATTACK.replace(chr(13), '')}.toml"
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT, name: "a = = 1\n"})
    plan = write_plan(tmp_path / "plan.json", RENAME)
    res = astm("apply", "x", "--plan", str(plan), cwd=repo)
    assert res.code == 0, res.err
    clean(res.out, res.err)
    assert "note: skipped bad\\x1b]0;pwned" in res.out
    res = astm("apply", "x", name, "--plan", str(plan), cwd=repo)
    assert res.code == 2
    clean(res.out, res.err)
    res = astm("view", "skeleton", ".", cwd=repo)
    clean(res.out, res.err)


def test_run_records_and_gc_output_are_shown_escaped(tmp_path: Path, astm: Any) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    plan = write_plan(tmp_path / "plan.json", RENAME)
    res = astm("apply", f"intent {ATTACK}", "--plan", str(plan), cwd=repo)
    assert res.code == 0, res.err
    clean(res.out, res.err)
    git(repo, "branch", f"astm/tmp/x{ATTACK[:4].replace(chr(0x1b), '')}")  # git refuses ESC
    res = astm("runs", cwd=repo)
    clean(res.out, res.err)
    assert "intent \\x1b]0;pwned" in res.out
    res = astm("gc", cwd=repo)
    clean(res.out, res.err)


def test_usage_errors_echo_arguments_escaped(tmp_path: Path, astm: Any) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    for args in ([f"--{ATTACK}"], ["apply", "x", f"--{ATTACK}"], ["apply", "x", f"no{ATTACK}.toml"], [ATTACK]):
        res = astm(*args, cwd=repo)
        assert res.code == 2, (args, res.err)
        clean(res.out, res.err)
