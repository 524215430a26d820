"""A finished module's sandbox serves the module after it (astm/specs/spares.py): a chain
of three modules, each answered 1.5 s after it asks, is built in one sandbox, and lands
the same as ever, with nothing left behind."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import openai_server as loopback
from conftest import Snapshot, git, make_repo

from astm.config import Settings
from astm.core.result import Event
from astm.specs.build import BuildOptions, build

openai_server = loopback.openai_server
REF = re.compile(r"^You implement one spec of a Python project: (\S+)\.$", re.MULTILINE)


def module(name: str, dep: str | None) -> str:
    head = f"import astm\nfrom pkg.{dep} import {dep}_value\n" if dep else "import astm\n"
    deps = f"deps=[{dep}_value]" if dep else ""
    return (f'"""Module {name}."""\n\n{head}\n\n@astm.magic({deps})\n'
            f'def {name}_value() -> int:\n    """{"One more than " + dep + "_value()" if dep else "Return 1"}."""\n')


ANSWERS = {
    "pkg.a:a_value": "def a_value() -> int:\n    return 1\n",
    "pkg.b:b_value": "from pkg.a import a_value\n\n\ndef b_value() -> int:\n    return a_value() + 1\n",
    "pkg.c:c_value": "from pkg.b import b_value\n\n\ndef c_value() -> int:\n    return b_value() + 1\n",
}


def test_a_chain_of_modules_is_built_in_the_sandbox_of_the_first(
        tmp_path: Path, openai_server: loopback.LoopbackServer) -> None:
    repo = make_repo(tmp_path / "p", {
        "pyproject.toml": '[project]\nname = "p"\n\n[tool.astm.build]\nsource_roots = ["src"]\n',
        "src/pkg/__init__.py": "", "src/pkg/a.py": module("a", None), "src/pkg/b.py": module("b", "a"),
        "src/pkg/c.py": module("c", "b")})
    before = Snapshot.take(repo)

    def answer(body: dict[str, Any]) -> str:
        ref = REF.search(str(body["messages"][-1]["content"]))
        assert ref is not None
        if ref.group(1) != "pkg.a:a_value":
            time.sleep(1.5)  # the model's time: the module before validates meanwhile
        return ANSWERS[ref.group(1)]

    openai_server.responder = answer
    events: list[Event] = []
    settings = Settings(model="m", base_url=openai_server.base_url, model_jobs=4, retries=0)
    result = build(BuildOptions(cwd=repo, write=False), settings, on_event=events.append)
    assert result.built == ["pkg.a", "pkg.b", "pkg.c"], result.error
    opened = [e for e in events if e.state == "sandbox"]
    assert len(opened) == 1, [e.node for e in opened]  # b took a's, c took it from b
    assert result.branch is not None
    shown = git(repo, "show", f"{result.branch}:src/pkg/__generated__/c.py")
    assert "return b_value() + 1" in shown
    assert "astm-" not in git(repo, "worktree", "list")  # only the user's
    before.assert_unchanged(repo, new_branch=result.branch)
