"""``astm skill export`` and ``astm build --demo``."""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

import pytest
from conftest import make_repo


def test_skill_export_writes_the_guide_and_examples(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {"README.md": "x\n"})
    res = astm("skill", "export", "--dest", "docs/assistant", cwd=repo)
    assert res.code == 0, res.err
    guide = (repo / "docs/assistant/GUIDE.md").read_text()
    assert "Never edit a file under a `__generated__/` folder" in guide
    for example in ("pricing.py", "test_pricing.py"):
        ast.parse((repo / "docs/assistant/examples" / example).read_text())
    assert astm("skill", "export", cwd=repo).code == 0
    assert (repo / ".astm/skill/GUIDE.md").is_file()


def test_skill_export_refuses_the_git_directory(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {"README.md": "x\n"})
    for dest in (".git/skill", str(repo / ".git")):
        res = astm("skill", "export", "--dest", dest, cwd=repo)
        assert res.code == 2 and "inside a git directory" in res.err
    assert not (repo / ".git/skill").exists()


def test_build_demo_runs_offline(astm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the demo repository lands here
    res = astm("build", "--demo", cwd=tmp_path)
    assert res.code == 0, res.err
    assert "the bundled fixtures/specs-demo/plan.json stands in for it" in res.out
    assert "tests on astm/build-shop-money-and-2-more: 2 passed" in res.out
