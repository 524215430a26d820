"""Shared helpers of the adversarial suite: repositories, plans, runs and leftover checks.

Not a conftest (``tests/conftest.py`` is imported as ``conftest`` by every test module);
test modules import what they need from here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import GIT_ENV, Snapshot, git

PYPROJECT = '[project]\nname = "shop"\nversion = "1.0"\n\n[tool.ruff]\nline-length = 100\n'
RENAME = {
    "op": "replace",
    "node": "pyproject.toml::project",
    "text": '[project]\nname = "renamed"\nversion = "1.0"\n',
}
RULER = {
    "op": "replace",
    "node": "pyproject.toml::tool.ruff",
    "text": "[tool.ruff]\nline-length = 88\n",
}
SENTINEL = "sk-adversarial-SENTINEL-7f3a9c"
RUN_REF = re.compile(r"^refs/(astm/runs/|heads/astm/tmp/)")


def write_plan(path: Path, *edits: dict[str, Any], intent: str = "") -> Path:
    path.write_text(json.dumps({"version": 1, "intent": intent, "edits": list(edits)}))
    return path


def sandbox_dir(tmp_path: Path) -> Path:
    """A per-test temp dir for astm's sandboxes (TMPDIR of the runs), so leftovers can be counted."""
    d = tmp_path / "sbx"
    d.mkdir(exist_ok=True)
    return d


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment of an ``astm`` subprocess: pinned git identity, sandboxes under ``tmp``."""
    env = {**os.environ, **GIT_ENV, "TMPDIR": str(tmp)}
    env.update(extra)
    return env


def model_env(base_url: str, key: str = "k") -> dict[str, str]:
    return {"ASTM_MODEL": "loop-model", "ASTM_BASE_URL": base_url, "OPENAI_API_KEY": key}


def start(
    *args: str, cwd: Path, env: dict[str, str], stdout: Any = subprocess.PIPE
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "astm", *args],
        cwd=cwd,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    """Wait (bounded) for ``proc``; kill it if it overruns and fail the test."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"astm did not finish within {timeout}s: {err[-2000:]}")
    return proc.returncode, out or "", err or ""


def astm_run(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 60
) -> tuple[int, str, str]:
    return finish(start(*args, cwd=cwd, env=env), timeout)


def error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("astm: error:")]


def assert_one_error(err: str, *needles: str) -> str:
    """Exactly one ``astm: error:`` line, no traceback, short lines; returns the line."""
    lines = error_lines(err)
    if os.environ.get("ADV_SHOW"):
        print("\nERRLINE", lines)
    assert len(lines) == 1, f"expected one error line, got {lines!r} in:\n{err[-3000:]}"
    assert "Traceback" not in err
    assert "unexpected error" not in err
    assert all(len(ln) <= 400 for ln in err.splitlines()), "an over-long line on stderr"
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    return lines[0]


def user_state_held(before: Snapshot, repo: Path, *, new_branches: tuple[str, ...] = ()) -> None:
    """HEAD, index, working tree, config and refs as before; the only refs added are
    astm's own (run refs, ephemeral branches) and ``new_branches``. Worktrees are not
    compared (a killed run leaves its sandboxes to ``astm gc``)."""
    after = Snapshot.take(repo)
    assert after.head == before.head, "HEAD moved"
    assert after.head_ref == before.head_ref, ".git/HEAD changed"
    assert after.index == before.index, "the index changed"
    assert after.files == before.files, "the working tree changed"
    assert after.config == before.config, "the git config changed"
    for name, oid in before.refs.items():
        if not RUN_REF.match(name):  # a live run's own refs move and go
            assert after.refs.get(name) == oid, f"ref {name} changed"
    extra = {f"refs/heads/{b}" for b in new_branches}
    for name in after.refs:
        if name not in before.refs:
            assert RUN_REF.match(name) or name in extra, f"unexpected ref {name}"


def leftovers(repo: Path, sandboxes: Path | None = None) -> list[str]:
    """Everything a run may leave behind: linked worktrees, ephemeral branches, admin
    dirs, sandbox folders (in ``sandboxes``)."""
    out = []
    listing = git(repo, "worktree", "list", "--porcelain")
    paths = [ln.split(" ", 1)[1] for ln in listing.splitlines() if ln.startswith("worktree ")]
    out += [f"worktree {p}" for p in paths[1:] if "astm-" in p]
    out += [
        f"branch {r}"
        for r in git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/astm/tmp/").split()
    ]
    common = Path(git(repo, "rev-parse", "--git-common-dir"))
    admin = (common if common.is_absolute() else repo / common) / "worktrees"
    if admin.is_dir():
        out += [
            f"admin {p.name} {sorted(f.name for f in p.iterdir())}"
            for p in admin.iterdir()
            if p.name.startswith("astm-")
        ]
    staging = admin.parent / "astm" / "staging"
    if staging.is_dir():
        out += [f"staging {p.name}" for p in staging.iterdir()]
    if sandboxes is not None and sandboxes.is_dir():
        out += [
            f"dir {p.name}"
            for p in sandboxes.iterdir()
            if p.name.startswith("astm-") and not p.name.startswith("astm-crash-")
        ]
    return out


def fsck(repo: Path) -> None:
    proc = subprocess.run(
        ["git", "fsck", "--no-progress", "--no-dangling"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stderr.lower(), proc.stderr


def records(repo: Path) -> list[dict[str, Any]]:
    d = repo / ".git" / "astm" / "runs"
    return [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))] if d.is_dir() else []


def wait_until(cond: Any, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def is_route(body: dict[str, Any]) -> bool:
    return "Its children" in json.dumps(body.get("messages", []))


def node_of(body: dict[str, Any]) -> str:
    """The node a request is about (a generation's node, or the routing node)."""
    text = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    m = re.search(r"Node: (\S+)", text) or re.search(r"You are the node (\S+)", text)
    return m.group(1) if m else ""
