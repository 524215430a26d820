"""Issue 11.12: Ctrl-C always exits 130 with the documented line, at any point.

Before, a Ctrl-C after landing ended the process by the signal, and one during start-up
printed a traceback and exited 1. ``ASTM_PAUSE_AT=<point>`` (astm/faults.py) stops astm at
a point until a real SIGINT arrives, which is then handled as a Ctrl-C there would be.
Each point: exit 130, no traceback, one ``astm: interrupted`` line that says whether
(and where) the run landed, nothing of the user's changed, and nothing left for gc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Snapshot, git, make_repo
from kit import PYPROJECT, RENAME, RULER, env_for, leftovers, records, sandbox_dir, write_plan

BEFORE_LANDING = ["import", "startup", "routing", "sandbox", "generating", "committed", "composing"]
AFTER_LANDING = ["landed", "cleanup", "summary"]
CONSOLE_SCRIPT = Path(sys.executable).with_name("astm")


def interrupt_at(point: str, repo: Path, tmp_path: Path, *, script: bool = False, group: bool = False) -> tuple[int, str, str]:
    plan = write_plan(tmp_path / "plan.json", RENAME, RULER)
    argv = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "astm"]
    proc = subprocess.Popen(
        [*argv, "apply", "x", "--plan", str(plan), "--branch", "b"],
        cwd=repo, env=env_for(sandbox_dir(tmp_path), ASTM_PAUSE_AT=point),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        start_new_session=group,
    )
    seen = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait until astm stands at the point
            seen.append(line)
            if line.startswith(f"astm: paused at {point} "):
                break
        else:
            pytest.fail(f"astm never paused at {point}: {''.join(seen)}")
        if group:  # as a terminal does: the whole foreground process group
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, out, "".join(seen) + err


def check_interrupted(code: int, err: str) -> str:
    assert code == 130, f"exit {code}: {err}"
    assert "Traceback" not in err and "unexpected error" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("astm: interrupted")]
    assert len(lines) == 1, err
    assert not [ln for ln in err.splitlines() if ln.startswith("astm: error")], err
    return lines[0]


@pytest.mark.parametrize("point", BEFORE_LANDING)
def test_ctrl_c_before_landing(tmp_path: Path, point: str) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    before = Snapshot.take(repo)
    code, _, err = interrupt_at(point, repo, tmp_path)
    line = check_interrupted(code, err)
    assert "nothing was changed" in line or "nothing landed" in line
    before.assert_unchanged(repo)
    assert leftovers(repo, sandbox_dir(tmp_path)) == []
    statuses = [r["status"] for r in records(repo)]
    assert statuses in ([], ["interrupted"]), statuses
    if point not in ("import", "startup"):
        assert statuses == ["interrupted"]
        assert all(n["status"] != "changed" for n in records(repo)[0]["nodes"])


@pytest.mark.parametrize("point", AFTER_LANDING)
def test_ctrl_c_after_landing_says_where(tmp_path: Path, point: str) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    before = Snapshot.take(repo)
    code, _, err = interrupt_at(point, repo, tmp_path)
    line = check_interrupted(code, err)
    assert "after landing: b holds the validated result" in line and "git diff HEAD b" in line
    before.assert_unchanged(repo, new_branch="b")
    assert 'name = "renamed"' in git(repo, "show", "b:pyproject.toml")
    assert [r["status"] for r in records(repo)] == ["landed"]
    if point != "landed":  # from "landed" on, cleanup may be cut short: gc finishes it
        assert leftovers(repo, sandbox_dir(tmp_path)) == []


@pytest.mark.parametrize("point", ["import", "generating", "summary"])
def test_ctrl_c_through_the_console_script(tmp_path: Path, point: str) -> None:
    if not CONSOLE_SCRIPT.exists():
        pytest.skip("astm is not installed as a console script here")
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    code, _, err = interrupt_at(point, repo, tmp_path, script=True)
    check_interrupted(code, err)


@pytest.mark.parametrize("point", ["startup", "generating", "landed"])
def test_ctrl_c_to_the_process_group(tmp_path: Path, point: str) -> None:
    """A terminal sends SIGINT to every process of the job (git, tests): still 130."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    before = Snapshot.take(repo)
    code, _, err = interrupt_at(point, repo, tmp_path, group=True)
    check_interrupted(code, err)
    if point == "landed":
        before.assert_unchanged(repo, new_branch="b")
    else:
        before.assert_unchanged(repo)
    astm_gc = subprocess.run(
        [sys.executable, "-m", "astm", "gc"], cwd=repo, env=env_for(sandbox_dir(tmp_path)),
        capture_output=True, text=True, check=False,
    )
    assert astm_gc.returncode == 0, astm_gc.stderr
    assert leftovers(repo, sandbox_dir(tmp_path)) == []
