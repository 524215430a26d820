"""pytest runs with --cov of inventory and a fail-under of 80 (in addopts or [tool.coverage])."""

import shlex
import tomllib
from pathlib import Path


def load() -> dict:
    return tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))


def addopts() -> list[str]:
    opts = load()["tool"]["pytest"]["ini_options"].get("addopts", [])
    return shlex.split(opts) if isinstance(opts, str) else list(opts)


def test_coverage_of_the_package_on_every_run():
    opts = addopts()
    joined = " ".join(opts)
    assert "--cov=inventory" in joined or "--cov inventory" in joined or "--cov=src/inventory" in joined


def test_fails_under_80():
    opts = " ".join(addopts())
    report = load().get("tool", {}).get("coverage", {}).get("report", {})
    assert "--cov-fail-under=80" in opts or "--cov-fail-under 80" in opts or report.get("fail_under") in (80, 80.0)


def test_pytest_table_kept():
    assert load()["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]
