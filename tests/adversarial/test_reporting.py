"""Issues 11.13 and 11.14: a run reports what happened, loudly.

11.13: a failed run listed its validated nodes as ``changed``, in the terminal and in
``--json``. Now they read ``not landed`` (``not-landed`` in JSON, ``landed: false``), the
failed ones ``FAILED``, and the summary says nothing landed; the run record agrees.

11.14: with no pytest where the tests would run, a run landed with only a note. Tests that
exist and cannot be run are a failed check (exit 1, nothing lands); with
``[tool.astm.validate] tests_unavailable = "warn"`` the run lands with a ``WARNING:`` line
and ``warnings`` in JSON, never a quiet note.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Snapshot, git, make_repo
from kit import PYPROJECT, RENAME, assert_one_error, records, write_plan

BROKEN = {"op": "insert", "parent": "pyproject.toml", "position": "end", "text": "[tool.x]\na = = 1\n"}


def test_failed_run_reports_not_landed(tmp_path: Path, astm: Any) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    plan = write_plan(tmp_path / "plan.json", RENAME, BROKEN)
    before = Snapshot.take(repo)
    res = astm("apply", "x", "--plan", str(plan), "--retries", "0", cwd=repo)
    assert res.code == 1, res.err
    assert_one_error(res.err, "pyproject.toml::tool.x")
    lines = res.err.splitlines()
    assert "  not landed pyproject.toml::project" in lines
    assert any(ln.startswith("  FAILED     pyproject.toml::tool.x") for ln in lines)
    assert not any(ln.startswith("  changed") for ln in lines), res.err
    assert any(ln.startswith("nothing landed:") for ln in lines)
    before.assert_unchanged(repo)
    [rec] = records(repo)
    assert {n["id"]: n["status"] for n in rec["nodes"]} == {
        "pyproject.toml::project": "not-landed",
        "pyproject.toml::tool.x": "failed",
    }


def test_failed_run_json_says_not_landed(tmp_path: Path, astm: Any) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    plan = write_plan(tmp_path / "plan.json", RENAME, BROKEN)
    res = astm("apply", "x", "--plan", str(plan), "--retries", "0", "--json", cwd=repo)
    assert res.code == 1
    out = json.loads(res.out)
    assert out["landed"] is False and out["branch"] is None and out["error"]
    statuses = {n["id"]: n["status"] for n in out["nodes"]}
    assert statuses == {"pyproject.toml::project": "not-landed", "pyproject.toml::tool.x": "failed"}


def test_landed_run_still_says_changed(tmp_path: Path, astm: Any) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    plan = write_plan(tmp_path / "plan.json", RENAME)
    res = astm("apply", "x", "--plan", str(plan), "--json", cwd=repo)
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert out["landed"] is True and [n["status"] for n in out["nodes"]] == ["changed"]
    assert out["warnings"] == []


# ---- 11.14: tests that cannot run ------------------------------------------------------

SHOP = "def total(items):\n    return sum(items)\n"
TEST = "from shop import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n"
NEW_TOTAL = {"op": "replace", "node": "shop.py::total", "text": "def total(items):\n    return sum(items) + 0\n"}


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment without pytest (nor pip): where the tests cannot run."""
    venv = tmp_path_factory.mktemp("no-pytest") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv


def shop(tmp_path: Path, extra: str = "") -> Path:
    return make_repo(
        tmp_path / "r",
        {"pyproject.toml": PYPROJECT + extra, "shop.py": SHOP, "tests/test_shop.py": TEST},
    )


def test_missing_pytest_fails_the_run(
    tmp_path: Path, astm: Any, bare_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", str(bare_venv))
    repo = shop(tmp_path)
    plan = write_plan(tmp_path / "plan.json", NEW_TOTAL)
    before = Snapshot.take(repo)
    res = astm("apply", "x", "shop.py", "--plan", str(plan), "--branch", "b", cwd=repo)
    assert res.code == 1, res.err
    line = assert_one_error(res.err, "tests could not run", "pytest is not installed", "tests_unavailable")
    assert str(bare_venv) in line
    assert "not landed" in res.err and "nothing landed" in res.err
    before.assert_unchanged(repo)
    res = astm("apply", "x", "shop.py", "--plan", str(plan), "--branch", "b", "--json", cwd=repo)
    out = json.loads(res.out)
    assert out["landed"] is False and "tests could not run" in out["error"]


def test_missing_pytest_as_a_warning_lands_loudly(
    tmp_path: Path, astm: Any, bare_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", str(bare_venv))
    repo = shop(tmp_path, '\n[tool.astm.validate]\ntests_unavailable = "warn"\n')
    plan = write_plan(tmp_path / "plan.json", NEW_TOTAL)
    res = astm("apply", "x", "shop.py", "--plan", str(plan), "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    last = res.out.splitlines()[-1]
    assert last.startswith("WARNING: tests not run: pytest is not installed"), res.out
    assert git(repo, "rev-parse", "--verify", "refs/heads/b")
    res = astm("apply", "x", "shop.py", "--plan", str(plan), "--branch", "c", "--json", cwd=repo)
    out = json.loads(res.out)
    assert out["warnings"] and "pytest is not installed" in out["warnings"][0]
    assert not any("tests not run" in n for n in out["notices"])


def test_missing_test_command_fails_the_run(tmp_path: Path, astm: Any) -> None:
    repo = shop(tmp_path, '\n[tool.astm.validate]\ntests = "no-such-test-runner -q"\n')
    plan = write_plan(tmp_path / "plan.json", NEW_TOTAL)
    res = astm("apply", "x", "shop.py", "--plan", str(plan), "--branch", "b", cwd=repo)
    assert res.code == 1, res.err
    assert_one_error(res.err, "tests could not run: no-such-test-runner not found")


def test_no_tests_is_not_a_failure(tmp_path: Path, astm: Any, bare_venv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A project without tests has nothing to run: that is not 'tests unavailable'."""
    monkeypatch.setenv("VIRTUAL_ENV", str(bare_venv))
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT, "shop.py": SHOP})
    plan = write_plan(tmp_path / "plan.json", NEW_TOTAL)
    res = astm("apply", "x", "shop.py", "--plan", str(plan), "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    assert "WARNING" not in res.out
