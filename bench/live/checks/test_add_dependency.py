"""requests>=2.31 is a runtime dependency; the existing ones and the table layout stay."""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version


def load() -> dict:
    return tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))


def test_requests_is_a_runtime_dependency():
    deps = {Requirement(d).name: Requirement(d) for d in load()["project"]["dependencies"]}
    assert "requests" in deps
    spec = deps["requests"].specifier
    assert Version("2.31") in spec or Version("2.31.0") in spec
    assert Version("2.30.0") not in spec


def test_click_kept_and_nothing_misplaced():
    data = load()
    names = [Requirement(d).name for d in data["project"]["dependencies"]]
    assert "click" in names
    assert "dependencies" not in data  # not a top-level table
    assert data["project"]["name"] == "textkit"
