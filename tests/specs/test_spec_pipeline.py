"""A dependent module generates while its dependency validates, and still never lands
without it.

The dependency's generated class waits, in its body (run by the import check), for a flag
file that only the dependent's model request creates: the build can pass only if the
dependent's model call went out while the dependency was still validating.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, make_repo

openai_server = loopback.openai_server
REF = re.compile(r"^You implement one spec of a Python project: (\S+)\.$", re.MULTILINE)

A = '''"""A class whose body runs at import."""

import astm


@astm.magic()
class Gate:
    """Anything; its body runs when the module is imported."""
'''
B = '''"""Builds on pkg.a."""

import astm
from pkg.a import Gate


@astm.magic(deps=[Gate])
def gate_name() -> str:
    """The name of the Gate class."""
'''


def gate(flag: Path, then: str) -> str:
    """Gate's answer: its body waits (30 s at most) for ``flag``, then runs ``then``."""
    return (f'class Gate:\n    """Anything; its body runs when the module is imported."""\n\n'
            f"    import pathlib\n    import time\n\n    for _ in range(3000):\n"
            f"        if pathlib.Path({str(flag)!r}).exists():\n            break\n"
            f"        time.sleep(0.01)\n    else:\n"
            f"        raise RuntimeError('the dependent never asked the model')\n    {then}\n")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            openai_server: loopback.LoopbackServer) -> tuple[Path, Path]:
    repo = make_repo(tmp_path / "p", {
        "pyproject.toml": '[project]\nname = "p"\n\n[tool.astm.build]\nsource_roots = ["src"]\n',
        "src/pkg/__init__.py": "", "src/pkg/a.py": A, "src/pkg/b.py": B})
    for k, v in {"ASTM_MODEL": "m", "ASTM_BASE_URL": openai_server.base_url,
                 "OPENAI_API_KEY": "k", "ASTM_MODEL_JOBS": "4"}.items():
        monkeypatch.setenv(k, v)
    return repo, tmp_path / "flag"


def respond(flag: Path, then: str):  # type: ignore[no-untyped-def]
    def answer(body: dict[str, Any]) -> str:
        ref = REF.search(str(body["messages"][-1]["content"]))
        assert ref is not None
        if ref.group(1) == "pkg.a:Gate":
            return gate(flag, then)
        flag.touch()  # the dependent's model call: the dependency may finish validating
        return "from pkg.a import Gate\n\n\ndef gate_name() -> str:\n    return Gate.__name__\n"
    return answer


def test_the_dependent_generates_while_its_dependency_validates(
        astm, project: tuple[Path, Path], openai_server: loopback.LoopbackServer) -> None:  # type: ignore[no-untyped-def]
    repo, flag = project
    openai_server.responder = respond(flag, "pass")
    res = astm("build", "--write", "--retries", "0", "--json", cwd=repo)
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["built"] == ["pkg.a", "pkg.b"] and data["model_calls"] == 2
    b = (repo / "src/pkg/__generated__/b.py").read_text()
    assert "return Gate.__name__" in b
    prompt = str(openai_server.requests[-1].body["messages"][-1]["content"])
    assert "for _ in range(3000)" in prompt  # the dependency's draft was its context


def test_a_dependency_failing_after_its_dependent_started_still_blocks_it(
        astm, project: tuple[Path, Path], openai_server: loopback.LoopbackServer) -> None:  # type: ignore[no-untyped-def]
    repo, flag = project
    openai_server.responder = respond(flag, "raise RuntimeError('boom at import')")
    before = Snapshot.take(repo)
    res = astm("build", "--write", "--retries", "0", cwd=repo)
    assert res.code == 1, res.err
    assert flag.exists()  # the dependent had asked the model
    assert "src/pkg/__generated__/a.py::Gate" in res.err and "RuntimeError: boom at import" in res.err
    assert "pkg.b: not built: its dependency pkg.a failed" in res.err
    before.assert_unchanged(repo)
    assert not (repo / "src/pkg/__generated__").exists()
