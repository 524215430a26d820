"""A run killed or interrupted mid-flight leaves the user's repository untouched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai_server as loopback
import pytest
from conftest import GIT_ENV, Snapshot, git, make_repo, run_subprocess

openai_server = loopback.openai_server

PYPROJECT = '[project]\nname = "shop"\n\n[tool.ruff]\nline-length = 100\n'
ROUTE = {"act": [{"id": "pyproject.toml::project", "intent": "x"}, {"id": "pyproject.toml::tool.ruff", "intent": "y"}]}


def start(repo: Path, server: loopback.LoopbackServer) -> subprocess.Popen[str]:
    env = {**os.environ, **GIT_ENV, "ASTM_MODEL": "m", "ASTM_BASE_URL": server.base_url,
           "OPENAI_API_KEY": "k"}
    return subprocess.Popen(
        [sys.executable, "-m", "astm", "apply", "change things"],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )


def wait_for_sandboxes(repo: Path, n: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wts = repo / ".git" / "worktrees"
        if wts.is_dir() and len([p for p in wts.iterdir() if (p / "locked").exists()]) >= n:
            return
        time.sleep(0.05)
    raise AssertionError("the run never opened its sandboxes")


@pytest.fixture
def hanging(tmp_path: Path, openai_server: loopback.LoopbackServer) -> tuple[Path, loopback.LoopbackServer]:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    openai_server.enqueue(json.dumps(ROUTE))
    openai_server.enqueue("[project]\n", delay=30, times=2)  # generation hangs
    return repo, openai_server


def test_sigkill_mid_run_then_gc_cleans_everything(hanging, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, server = hanging
    before = Snapshot.take(repo)
    proc = start(repo, server)
    try:
        wait_for_sandboxes(repo, 2)
    finally:
        proc.kill()
        proc.wait(10)
    # Killed: leftovers may exist, but nothing of the user's changed.
    assert git(repo, "rev-parse", "HEAD") == before.head
    assert (repo / ".git" / "index").read_bytes() == before.index
    assert Snapshot.take(repo).files == before.files
    assert "astm-" in git(repo, "worktree", "list")  # the dead run's sandboxes
    res = run_subprocess("gc", cwd=repo, env=GIT_ENV)
    assert res.code == 0, res.err
    assert "removed worktree" in res.out
    before.assert_unchanged(repo)
    assert "abandoned" in run_subprocess("runs", cwd=repo, env=GIT_ENV).out
    # and the next run works
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"version": 1, "edits": [
        {"op": "replace", "node": "pyproject.toml::project", "text": "[project]\nname = \"b\"\n"}]}))
    res = run_subprocess("apply", "rename", "--plan", str(plan), "--branch", "next", cwd=repo, env=GIT_ENV)
    assert res.code == 0, res.err


def test_sigint_exits_130_after_cleaning_up(hanging) -> None:  # type: ignore[no-untyped-def]
    repo, server = hanging
    before = Snapshot.take(repo)
    proc = start(repo, server)
    try:
        wait_for_sandboxes(repo, 2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    before.assert_unchanged(repo)
    records = list((repo / ".git" / "astm" / "runs").glob("*.json"))
    assert json.loads(records[0].read_text())["status"] == "interrupted"


def test_sigint_twice_does_no_damage(hanging) -> None:  # type: ignore[no-untyped-def]
    repo, server = hanging
    before = Snapshot.take(repo)
    proc = start(repo, server)
    try:
        wait_for_sandboxes(repo, 2)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode in (130, -signal.SIGINT)
    assert git(repo, "rev-parse", "HEAD") == before.head
    assert Snapshot.take(repo).files == before.files
    run_subprocess("gc", cwd=repo, env=GIT_ENV)
    before.assert_unchanged(repo)
