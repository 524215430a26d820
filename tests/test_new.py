"""`astm new PATH INTENT`: a file from a template of blocks, one agent per block."""

from __future__ import annotations

import json
import re
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import Snapshot, git, make_repo

openai_server = loopback.openai_server


def write_plan(path: Path, target: str, texts: list[str]) -> Path:
    edits = [{"op": "insert", "parent": target, "position": "end", "text": t} for t in texts]
    path.write_text(json.dumps({"version": 1, "intent": "new", "edits": edits}))
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "r", {"README.md": "# r\n"})


def test_python_module_from_plan(repo: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    plan = write_plan(tmp_path / "p.json", "src/money.py", [
        "from decimal import Decimal\n",
        "from decimal import ROUND_HALF_UP\n\n\ndef cents(x: Decimal) -> Decimal:\n    return x.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)\n",
        '__all__ = ["cents"]\n',
    ])
    before = Snapshot.take(repo)
    res = astm("new", "src/money.py", "money helpers", "--plan", str(plan), "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="m")
    text = git(repo, "show", "m:src/money.py") + "\n"
    assert text == (
        "from decimal import Decimal\nfrom decimal import ROUND_HALF_UP\n\n\n"
        "def cents(x: Decimal) -> Decimal:\n    return x.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)\n\n\n"
        '__all__ = ["cents"]\n'
    )
    assert git(repo, "rev-list", "--count", "HEAD..m") == "1"


def test_existing_file_and_unknown_kind_are_refused(repo: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    plan = write_plan(tmp_path / "p.json", "README.md", ["x"])
    assert astm("new", "README.md", "x", "--plan", str(plan), cwd=repo).code == 2
    res = astm("new", "src/a.py", "x", "--plan", str(plan), cwd=repo)
    assert res.code == 2 and "no insert into src/a.py" in res.err
    res = astm("new", "notes.txt", "x", "--plan", str(plan), cwd=repo)
    assert res.code == 2 and "cannot create this kind of file" in res.err
    (repo / "src").mkdir(exist_ok=True)
    (repo / "src" / "there.py").write_text("X = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "there")
    res = astm("new", "src/there.py", "x", "--plan", str(plan), cwd=repo)
    assert res.code == 2 and "already exists" in res.err


def test_project_template_wins_and_blocks_are_checked(repo: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    (repo / ".astm" / "templates").mkdir(parents=True)
    (repo / ".astm" / "templates" / "ci.toml").write_text(
        'match = ["ci/*.toml"]\nlanguage = "toml"\n'
        '[[block]]\nkey = "jobs"\ntables = ["jobs"]\nintent = "the jobs"\n'
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "template")
    good = write_plan(tmp_path / "g.json", "ci/pipeline.toml", ["[jobs.test]\nrun = \"pytest\"\n"])
    res = astm("new", "ci/pipeline.toml", "a test job", "--plan", str(good), "--json", cwd=repo)
    assert res.code == 0, res.err
    assert "ci.toml" in " ".join(json.loads(res.out)["notices"])
    bad = write_plan(tmp_path / "b.json", "ci/other.toml", ["[deploy]\nx = 1\n"])
    res = astm("new", "ci/other.toml", "x", "--plan", str(bad), "--retries", "0", cwd=repo)
    assert res.code == 1 and "[deploy] does not belong in this block" in res.err


def test_pyproject_blocks_are_generated_concurrently(repo: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer, astm) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ASTM_MODEL", "m")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("ASTM_MODEL_JOBS", "8")  # a loopback URL is local: 1 by default
    answers = {
        "build-system": '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n',
        "project": '[project]\nname = "shop"\nversion = "0.1.0"\n\n[project.optional-dependencies]\ntest = ["pytest"]\n',
        "scripts": '[project.scripts]\nshop = "shop.cli:main"\n',
        "test config": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
        "tools": "[tool.ruff]\nline-length = 100\n",
    }
    lock = threading.Lock()
    active, peak = [0], [0]

    def respond(body: dict[str, Any]) -> str:
        key = re.search(r"Node: \S+::(.+?) \(block\)", json.dumps(body["messages"])).group(1)  # type: ignore[union-attr]
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3)
        with lock:
            active[0] -= 1
        return answers[key]

    openai_server.responder = respond
    res = astm("new", "pyproject.toml", "a shop service", "--branch", "p", cwd=repo)
    assert res.code == 0, res.err
    data = tomllib.loads(git(repo, "show", "p:pyproject.toml"))
    assert set(data) == {"build-system", "project", "tool"}
    assert data["project"]["scripts"] == {"shop": "shop.cli:main"}
    assert peak[0] >= 4, f"blocks did not generate concurrently (peak {peak[0]})"
