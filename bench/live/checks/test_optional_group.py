"""[project.optional-dependencies] dev = [pytest, ruff]; runtime dependencies unchanged."""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement


def load() -> dict:
    return tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))


def test_dev_group_has_pytest_and_ruff():
    groups = load()["project"]["optional-dependencies"]
    names = {Requirement(d).name for d in groups["dev"]}
    assert {"pytest", "ruff"} <= names


def test_runtime_dependencies_unchanged():
    data = load()
    assert [Requirement(d).name for d in data["project"]["dependencies"]] == ["click"]
    assert "optional-dependencies" not in data
