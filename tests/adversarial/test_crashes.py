"""Scenario 1: a run SIGKILLed at each stage leaves the user's repository as it was.

``ASTM_CRASH_AT=<state>`` makes astm kill itself with SIGKILL when the engine emits that
event: after a sandbox is opened, while a node generates, after a child commit, while a
parent composes, after the landing branch is created (before cleanup). Afterwards the
user's HEAD, index, working tree, config and refs are byte-identical (the dead run's own
refs aside), ``astm gc`` removes every leftover and the next run works.

SIGINT once and twice are covered by tests/test_interrupt.py; the cases here add what it
leaves out (a run interrupted while its sandboxes are being opened, records after it).
"""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest
from conftest import Snapshot, git, make_repo
from kit import (
    PYPROJECT,
    RENAME,
    RULER,
    astm_run,
    env_for,
    finish,
    fsck,
    leftovers,
    records,
    sandbox_dir,
    start,
    user_state_held,
    write_plan,
)

STAGES = ["sandbox", "generating", "committed", "composing", "landed"]
EXPECTED = '[project]\nname = "renamed"\nversion = "1.0"\n\n[tool.ruff]\nline-length = 88\n'


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_at_each_stage_then_gc_and_next_run(stage: str, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    (repo / "notes.txt").write_text("uncommitted work\n")  # the user's dirty file
    git(repo, "add", "notes.txt")  # ... and staged
    plan = write_plan(tmp_path / "plan.json", RENAME, RULER)
    sbx = sandbox_dir(tmp_path)
    env = env_for(sbx)
    before = Snapshot.take(repo)

    code, _, err = astm_run(
        "apply",
        "two edits",
        "--plan",
        str(plan),
        "--branch",
        "crashed",
        cwd=repo,
        env={**env, "ASTM_CRASH_AT": stage},
    )
    assert code == -signal.SIGKILL, f"not killed at {stage}: {code} {err}"
    landed = stage == "landed"
    user_state_held(before, repo, new_branches=("crashed",) if landed else ())
    if landed:  # the branch was created whole: it holds the validated result
        assert git(repo, "show", "crashed:pyproject.toml") + "\n" == EXPECTED
    else:
        assert not git(repo, "branch", "--list", "crashed")
    if stage != "generating":  # (a node may generate before any sandbox is open)
        assert leftovers(repo, sbx), "a kill at this stage should leave sandboxes for gc"
    assert [r["status"] for r in records(repo)] == ["running"]  # shown as abandoned

    code, out, err = astm_run("runs", cwd=repo, env=env)
    assert code == 0 and "abandoned" in out, out + err
    code, out, err = astm_run("gc", cwd=repo, env=env)
    assert code == 0, err
    assert stage == "generating" or "removed worktree" in out
    assert leftovers(repo, sbx) == []
    assert git(repo, "worktree", "list", "--porcelain") == before.worktrees
    user_state_held(before, repo, new_branches=("crashed",) if landed else ())
    fsck(repo)

    # The next run works, from the same state, and cleans up after itself.
    code, out, err = astm_run(
        "apply", "two edits", "--plan", str(plan), "--branch", "next", cwd=repo, env=env
    )
    assert code == 0, err
    assert git(repo, "show", "next:pyproject.toml") + "\n" == EXPECTED
    assert leftovers(repo, sbx) == []
    user_state_held(before, repo, new_branches=("next", "crashed") if landed else ("next",))


def test_a_second_run_works_beside_a_dead_runs_leftovers(tmp_path: Path) -> None:
    """Leftovers of a killed run do not block the next run, even before gc."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    plan = write_plan(tmp_path / "plan.json", RENAME)
    sbx = sandbox_dir(tmp_path)
    env = env_for(sbx)
    code, _, _ = astm_run(
        "apply", "x", "--plan", str(plan), cwd=repo, env={**env, "ASTM_CRASH_AT": "committed"}
    )
    assert code == -signal.SIGKILL
    dead = leftovers(repo, sbx)
    code, out, err = astm_run("apply", "x", "--plan", str(plan), cwd=repo, env=env)
    assert code == 0, err
    # The auto slug is free (the dead run never landed) and the dead run's sandboxes stay
    # for gc: the live run removed its own only.
    assert "landed: astm/x " in out
    assert sorted(leftovers(repo, sbx)) == sorted(dead)
    astm_run("gc", cwd=repo, env=env)
    assert leftovers(repo, sbx) == []


def test_sigint_while_sandboxes_open_leaves_nothing(tmp_path: Path) -> None:
    """Ctrl-C early (the plan run is slowed by many nodes): exit 130, nothing left, record final."""
    tables = "".join(f"[t{i}]\nv = {i}\n\n" for i in range(40))
    repo = make_repo(tmp_path / "r", {"pyproject.toml": tables})
    edits = [
        {"op": "replace", "node": f"pyproject.toml::t{i}", "text": f"[t{i}]\nv = {i + 1}\n"}
        for i in range(40)
    ]
    plan = write_plan(tmp_path / "plan.json", *edits)
    sbx = sandbox_dir(tmp_path)
    before = Snapshot.take(repo)
    proc = start("apply", "bump", "--plan", str(plan), "-j", "2", cwd=repo, env=env_for(sbx))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not list(sbx.glob("astm-*")):
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        code, _, err = finish(proc, 30)
    finally:
        proc.kill()
    if code == 0:
        pytest.skip("the run finished before the interrupt arrived")
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert leftovers(repo, sbx) == []
    before.assert_unchanged(repo)
    assert [r["status"] for r in records(repo)] == ["interrupted"]


def test_sandboxes_that_cannot_open_give_one_line(tmp_path: Path) -> None:
    """astm's own staging path is blocked (a file): every sandbox fails to open. The run
    fails as an internal error (exit 70, crash log), on one line, and leaves nothing."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    (repo / ".git" / "astm").mkdir()
    (repo / ".git" / "astm" / "staging").write_text("not a folder")
    plan = write_plan(tmp_path / "plan.json", RENAME, RULER)
    sbx = sandbox_dir(tmp_path)
    before = Snapshot.take(repo)
    code, _, err = astm_run("apply", "x", "--plan", str(plan), cwd=repo, env=env_for(sbx))
    assert code == 70, err
    assert leftovers(repo, sbx) == []
    before.assert_unchanged(repo)
    lines = [ln for ln in err.splitlines() if not ln.startswith("  ")]
    assert len(lines) == 1 and lines[0].startswith(
        "astm: unexpected error: cannot open a sandbox"
    ), err


def test_gc_removes_a_half_opened_sandbox(tmp_path: Path) -> None:
    """A kill while a sandbox is being opened: its admin directory is still in
    ``.git/astm/staging`` (never published to git), its folder and branch exist."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    sbx = sandbox_dir(tmp_path)
    run = "20260101-000000-dead00"
    name = f"astm-{run}-1"
    staging = repo / ".git" / "astm" / "staging" / name
    staging.mkdir(parents=True)
    (staging / "gitdir").write_text(f"{sbx / name / '.git'}\n")
    (sbx / name).mkdir()
    (sbx / name / ".git").write_text(f"gitdir: {repo / '.git' / 'worktrees' / name}\n")
    git(repo, "branch", f"astm/tmp/{run}/1")
    (repo / ".git" / "astm" / "runs").mkdir()
    (repo / ".git" / "astm" / "runs" / f".{run}.json.tmp").write_text("{")  # a torn record
    before = Snapshot.take(repo)
    assert len(leftovers(repo, sbx)) == 3
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sbx))
    assert code == 0, err
    assert f"removed worktree {sbx / name}" in out
    assert leftovers(repo, sbx) == []
    assert not list((repo / ".git" / "astm" / "runs").iterdir())
    user_state_held(before, repo)
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_gc_removes_a_half_removed_admin_dir(tmp_path: Path) -> None:
    """A kill while a sandbox was being removed in place (astm before the removal parked
    the admin directory in staging first): only HEAD and commondir are left of it."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    run = "20260101-000000-dead01"
    admin = repo / ".git" / "worktrees" / f"astm-{run}-3"
    admin.mkdir(parents=True)
    (admin / "HEAD").write_text(f"ref: refs/heads/astm/tmp/{run}/3\n")
    (admin / "commondir").write_text("../..\n")
    git(repo, "worktree", "add", "-q", str(tmp_path / "mine"), "-b", "mine")  # the user's own
    mine = git(repo, "worktree", "list", "--porcelain")
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sandbox_dir(tmp_path)))
    assert code == 0, err
    assert str(admin) in out
    assert not admin.exists()
    assert git(repo, "worktree", "list", "--porcelain") == mine  # the user's is kept


def half_opened(repo: Path, sbx: Path, run: str, dot_git: str, *extra: str) -> Path:
    """The state a kill leaves between creating a sandbox folder's ``.git`` and writing it:
    the whole staging entry (marker and all), the branch, the folder holding ``.git`` with
    ``dot_git`` (and ``extra`` files a user might have put there)."""
    name = f"astm-{run}-1"
    staging = repo / ".git" / "astm" / "staging" / name
    staging.mkdir(parents=True)
    marker = {"run": run, "n": 1, "pid": 2**22 + 1, "host": socket.gethostname(), "branch": f"refs/heads/astm/tmp/{run}/1"}
    (staging / "astm-sandbox.json").write_text(json.dumps(marker) + "\n")
    (staging / "gitdir").write_text(f"{sbx / name / '.git'}\n")
    (staging / "commondir").write_text("../..\n")
    (staging / "HEAD").write_text(f"ref: refs/heads/astm/tmp/{run}/1\n")
    (staging / "locked").write_text(f"astm run {run}\n")
    git(repo, "branch", f"astm/tmp/{run}/1")
    (sbx / name).mkdir()
    (sbx / name / ".git").write_text(dot_git)
    for f in extra:
        (sbx / name / f).write_text("mine\n")
    return sbx / name


@pytest.mark.parametrize("cut", [0, 9, -1])
def test_gc_removes_a_sandbox_killed_while_writing_its_dot_git(cut: int, tmp_path: Path) -> None:
    """The state behind the flaky stage kills (issue 11): a git thread was opening a sandbox
    when the run died, between creating the folder's ``.git`` and writing its line. gc
    removes it whole: the empty or cut-short ``.git`` is nothing but astm's own line."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    sbx = sandbox_dir(tmp_path)
    run = "20260101-000000-dead02"
    line = f"gitdir: {repo / '.git' / 'worktrees' / f'astm-{run}-1'}\n"
    folder = half_opened(repo, sbx, run, line[:cut])
    before = Snapshot.take(repo)
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sbx))
    assert code == 0, err
    assert f"removed worktree {folder}" in out and "left" not in out, out
    assert leftovers(repo, sbx) == []
    user_state_held(before, repo)


@pytest.mark.parametrize(
    ("dot_git", "extra"),
    [("", ("notes.txt",)), ("gitdir: /somewhere/else\n", ()), ("gitdir: /somewh", ())],
)
def test_gc_keeps_a_folder_that_is_not_a_half_opened_sandbox(
    dot_git: str, extra: tuple[str, ...], tmp_path: Path
) -> None:
    """Only the exact half-made state is astm's: a file beside an empty ``.git``, or a
    ``.git`` that is not (a start of) astm's line, and the folder is kept."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    sbx = sandbox_dir(tmp_path)
    folder = half_opened(repo, sbx, "20260101-000000-dead03", dot_git, *extra)
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sbx))
    assert code == 0, err
    assert f"left {folder}: not made by astm" in out, out
    assert (folder / ".git").read_text() == dot_git
    assert all((folder / f).read_text() == "mine\n" for f in extra)
