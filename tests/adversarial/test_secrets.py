"""Scenario 6: secrets. A sentinel API key in the environment and in a ``.env`` file never
appears in a commit (or any git object), a trailer, a run record, the output, a crash log
or a request body; only in the Authorization header. ``astm config`` masks it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import GIT_ENV, make_repo
from kit import SENTINEL, assert_one_error, is_route, node_of

openai_server = loopback.openai_server

DOTENV_SECRET = "dotenv-SENTINEL-b41c0e-secret"
PYPROJECT = (
    '[project]\nname = "shop"\nversion = "1.0"\n\n[tool.astm]\nhttp_retries = 0\nretries = 0\n'
)
MODULE = "def area(w, h):\n    return w * h\n"
SECRETS = (SENTINEL, DOTENV_SECRET)


def leaks(text: str | bytes) -> list[str]:
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    return [s for s in SECRETS if s.encode() in data]


@pytest.fixture
def setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer
) -> tuple[Path, Path]:
    """A repository with an untracked, ignored ``.env``; the key in the environment; crash
    logs and sandboxes under a temp dir of the test's own."""
    repo = make_repo(
        tmp_path / "r",
        {"pyproject.toml": PYPROJECT, "shop.py": MODULE, ".gitignore": ".env\n"},
    )
    (repo / ".env").write_text(f"OPENAI_API_KEY={DOTENV_SECRET}\nDB_PASSWORD={DOTENV_SECRET}\n")
    logs = tmp_path / "tmp"
    logs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(logs))
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    return repo, logs


def every_object(repo: Path) -> bytes:
    """The content of every object in the repository (commits, trees, blobs, tags)."""
    proc = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch", "--unordered"],
        cwd=repo,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
        timeout=60,
        check=True,
    )
    return proc.stdout


def files_under(*roots: Path) -> list[Path]:
    return [p for r in roots if r.exists() for p in r.rglob("*") if p.is_file()]


def respond_ok(body: dict[str, Any]) -> str:
    if is_route(body):
        acts = {
            ".": ["pyproject.toml", "shop.py"],
            "pyproject.toml": ["pyproject.toml::project"],
            "shop.py": ["shop.py::area"],
        }[node_of(body)]
        return json.dumps({"act": [{"id": a, "intent": "bump"} for a in acts]})
    if node_of(body) == "shop.py::area":
        return "def area(w, h):\n    return abs(w * h)\n"
    return '[project]\nname = "shop"\nversion = "2.0"\n'


def test_key_never_leaks(
    setup: tuple[Path, Path], openai_server: loopback.LoopbackServer, astm: Any
) -> None:
    repo, logs = setup
    outputs: list[str] = []

    def run(*args: str) -> Any:
        res = astm(*args, cwd=repo)
        outputs.extend([res.out, res.err])
        return res

    # A run that lands (TOML and Python), with --json and --save-plan.
    openai_server.responder = respond_ok
    res = run(
        "apply",
        "bump the version and use abs",
        "pyproject.toml",
        "shop.py",
        "--branch",
        "ok",
        "--save-plan",
        str(logs / "plan.json"),
    )
    assert res.code == 0, res.err
    res = run("apply", "bump", "pyproject.toml", "--json", "--branch", "ok2")
    assert res.code == 0, res.err
    # A run that fails validation.
    openai_server.responder = lambda body: (
        json.dumps({"act": [{"id": "pyproject.toml::project", "intent": "x"}]})
        if is_route(body)
        else "[oops"
    )
    assert run("apply", "break it", "pyproject.toml").code == 1
    # Servers that echo the key back in their errors.
    openai_server.responder = None
    openai_server.enqueue(status=401, error={"message": f"Incorrect API key provided: {SENTINEL}"})
    res = run("apply", "x", "pyproject.toml")
    assert res.code == 3 and "refused the API key" in res.err
    openai_server.enqueue(
        status=500,
        error={"message": f"upstream rejected key {SENTINEL}"},
        headers={"x-should-retry": "false"},
    )
    res = run("apply", "x", "pyproject.toml")
    assert res.code == 3
    assert_one_error(res.err, "HTTP 500")
    # Configuration and records as printed.
    for args in (("config",), ("config", "--json"), ("runs",), ("runs", "--json")):
        res = run(*args)
        assert res.code == 0, res.err
    assert "set, " in outputs[-8]  # `astm config`: masked, its length shown

    # Requests: the key is only ever in the Authorization header.
    assert openai_server.requests
    for r in openai_server.requests:
        assert r.headers["authorization"] == f"Bearer {SENTINEL}"
        assert leaks(r.raw) == [], "a secret in a request body"
        assert leaks(json.dumps({k: v for k, v in r.headers.items() if k != "authorization"})) == []
    assert leaks("\n".join(outputs)) == []
    assert leaks(every_object(repo)) == [], "a secret in a git object"
    for f in files_under(repo / ".git"):
        assert leaks(f.read_bytes()) == [], f"a secret in {f}"
    for f in files_under(logs):
        assert leaks(f.read_bytes()) == [], f"a secret in {f}"


def test_crash_log_masks_secrets(
    setup: tuple[Path, Path],
    openai_server: loopback.LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    astm: Any,
) -> None:
    """An unexpected error whose message carries the key: the one line on stderr and the
    crash log have it masked."""
    repo, logs = setup
    from astm.llm.openai_provider import OpenAIProvider

    async def boom(self: OpenAIProvider, req: Any) -> Any:
        raise RuntimeError(
            f"client exploded with key {self._key} and\nheaders {{'authorization': 'Bearer {SENTINEL}'}}"
        )

    monkeypatch.setattr(OpenAIProvider, "route", boom)
    monkeypatch.setenv("MY_SERVICE_TOKEN", DOTENV_SECRET)
    res = astm("apply", "x", "pyproject.toml", cwd=repo)
    assert res.code == 70
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("astm: unexpected error: RuntimeError"), res.err
    assert leaks(res.err) == [] and "***" in res.err
    log = Path(re.search(r"details: (\S+)\)", lines[0]).group(1))  # type: ignore[union-attr]
    assert log.parent == logs
    text = log.read_text()
    assert "Traceback" in text and "RuntimeError" in text
    assert leaks(text) == []
    for f in files_under(repo / ".git"):
        assert leaks(f.read_bytes()) == [], f"a secret in {f}"


def test_key_under_another_variable_and_url_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astm: Any
) -> None:
    repo = make_repo(
        tmp_path / "r", {"pyproject.toml": '[tool.astm]\napi_key_env = "LLM_ACCESS"\nmodel = "m"\n'}
    )
    monkeypatch.setenv("LLM_ACCESS", SENTINEL)
    monkeypatch.setenv("ASTM_BASE_URL", f"http://user:{DOTENV_SECRET}@127.0.0.1:9/v1")
    for args in (("config",), ("config", "--json")):
        res = astm(*args, cwd=repo)
        assert res.code == 0, res.err
        assert leaks(res.out + res.err) == [], res.out
        assert "set, " in res.out and "127.0.0.1:9" in res.out
    # An unreachable server is named without its password.
    (repo / "pyproject.toml").write_text(
        '[tool.astm]\napi_key_env = "LLM_ACCESS"\nmodel = "m"\nhttp_retries = 0\ntimeout = 2\n\n[a]\nx = 1\n'
    )
    res = astm("apply", "x", "pyproject.toml", cwd=repo)
    assert res.code in (2, 3), res.err
    assert leaks(res.out + res.err) == [], res.err


def test_url_password_is_masked_in_crash_logs_and_records(
    setup: tuple[Path, Path],
    openai_server: loopback.LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    astm: Any,
) -> None:
    """A password in base_url (not in any secret-looking variable) is a known credential:
    an unexpected error carrying the URL has it masked on stderr and in the crash log,
    and a server error echoing it is masked in the output and the run record."""
    repo, logs = setup
    url = openai_server.base_url.replace("http://", f"http://me:{DOTENV_SECRET}@")
    monkeypatch.setenv("ASTM_BASE_URL", url)
    from astm.llm.openai_provider import OpenAIProvider

    async def boom(self: OpenAIProvider, req: Any) -> Any:
        raise RuntimeError(f"cannot talk to {url} as me:{DOTENV_SECRET}")

    with monkeypatch.context() as m:
        m.setattr(OpenAIProvider, "route", boom)
        res = astm("apply", "x", "pyproject.toml", cwd=repo)
    assert res.code == 70
    assert leaks(res.err) == [] and "***" in res.err
    log = Path(re.search(r"details: (\S+)\)", res.err).group(1))  # type: ignore[union-attr]
    assert leaks(log.read_text()) == []
    openai_server.enqueue(
        status=500,
        error={"message": f"proxy refused {url}, password {DOTENV_SECRET}"},
        headers={"x-should-retry": "false"},
    )
    res = astm("apply", "x", "pyproject.toml", "--json", "--json-mode", "off", cwd=repo)
    assert res.code == 3 and "HTTP 500" in res.err
    assert leaks(res.out + res.err) == []
    for f in files_under(repo / ".git", logs):
        assert leaks(f.read_bytes()) == [], f"a secret in {f}"
