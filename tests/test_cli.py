"""The command line as a user meets it: entry points, help, exit codes, crash logs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import FIXTURES, make_repo, run_subprocess


def test_python_dash_m_and_help(tmp_path: Path) -> None:
    res = run_subprocess("--help", cwd=tmp_path)
    assert res.code == 0
    for cmd in ("apply", "config", "runs", "gc", "demo"):
        assert cmd in res.out
    res = run_subprocess("apply", "--help", cwd=tmp_path)
    assert "--plan" in res.out and "--dry-run" in res.out and "--json" in res.out


def test_bad_flag_is_a_usage_error(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    assert astm("apply", "x", "--jobs", "many", cwd=tmp_path).code == 2
    assert astm("nope", cwd=tmp_path).code == 2


def test_bad_setting_is_exit_2(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {"pyproject.toml": "[tool.astm]\nretries = -1\n"})
    res = astm("apply", "x", "--plan", str(FIXTURES / "demo" / "plan.json"), cwd=repo)
    assert res.code == 2 and "retries" in res.err


def test_unexpected_error_prints_one_line_and_writes_a_crash_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astm  # type: ignore[no-untyped-def]
) -> None:
    from astm.engine import apply as engine

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something broke")

    monkeypatch.setattr(engine, "apply", boom)
    repo = make_repo(tmp_path / "r", {"pyproject.toml": "[a]\n"})
    res = astm("apply", "x", "--plan", str(FIXTURES / "demo" / "plan.json"), cwd=repo)
    assert res.code == 70
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and "something broke" in lines[0]
    log = Path(re.search(r"details: (\S+)\)", lines[0]).group(1))  # type: ignore[union-attr]
    assert "Traceback" in log.read_text() and "RuntimeError" in log.read_text()
    log.unlink()


def test_an_error_raised_while_a_ctrl_c_unwinds_is_an_interrupt_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astm  # type: ignore[no-untyped-def]
) -> None:
    """A second Ctrl-C that stops ``asyncio.run``'s loop as it shuts down makes it raise
    RuntimeError from the KeyboardInterrupt: exit 130 and the interrupted line, no crash
    log (the full suite once left one in the temp directory this way)."""
    from astm.engine import apply as engine

    def interrupted(*args: object, **kwargs: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("Event loop stopped before Future completed.")  # as asyncio does

    import tempfile

    monkeypatch.setattr(engine, "apply", interrupted)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a crash log would go
    repo = make_repo(tmp_path / "r", {"pyproject.toml": "[a]\n"})
    res = astm("apply", "x", "--plan", str(FIXTURES / "demo" / "plan.json"), cwd=repo)
    assert res.code == 130, res.err
    assert res.err.strip().startswith("astm: interrupted") and "unexpected error" not in res.err
    assert not list(tmp_path.glob("astm-crash-*"))


def test_demo_runs_offline(tmp_path: Path) -> None:
    res = run_subprocess("demo", "--dir", str(tmp_path / "demo"), cwd=tmp_path)
    assert res.code == 0, res.err
    assert "stands in for it" in res.out and "+    \"requests>=2.31\"," in res.out
    assert "landed: astm/add-requests-as-a-dependency-and-configure" in res.out
