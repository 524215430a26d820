"""Issue 11.1: ``astm gc`` removes only what astm provably made.

A name proves nothing: a user may make a worktree on ``astm/tmp/mine/1``, a branch
``astm/tmp/x``, or a folder called like a sandbox. gc removes a worktree only when its
admin directory holds astm's marker (or a run record and the exact sandbox name and
branch), a folder only when its ``.git`` names that admin directory, a branch only when it
is ``astm/tmp/<run id>/<n>`` of a run astm recorded. Everything else is listed, kept.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, make_repo
from kit import PYPROJECT, RENAME, astm_run, env_for, leftovers, sandbox_dir, write_plan

DEAD_RUN = "20260101-000000-abcdef"


def user_worktree(repo: Path, where: Path, branch: str) -> Path:
    git(repo, "worktree", "add", "-q", "-b", branch, str(where))
    (where / "uncommitted.txt").write_text("my work\n")
    (where / "pyproject.toml").write_text("# edited, not committed\n")
    return where


def test_user_worktree_on_an_astm_tmp_branch_is_kept(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    wt = user_worktree(repo, tmp_path / "mine", "astm/tmp/mine/1")
    listing = git(repo, "worktree", "list", "--porcelain")
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sandbox_dir(tmp_path)))
    assert code == 0, err
    assert "removed" not in out
    assert f"left worktree {wt}" in out
    assert (wt / "uncommitted.txt").read_text() == "my work\n"
    assert git(repo, "worktree", "list", "--porcelain") == listing
    assert git(repo, "rev-parse", "--verify", "refs/heads/astm/tmp/mine/1")


def test_user_worktree_named_like_a_sandbox_of_a_recorded_dead_run_is_kept(tmp_path: Path) -> None:
    """Even a well-formed run id with a (dead) record: without astm's marker in the admin
    directory and a folder whose .git points back, nothing goes."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    sbx = sandbox_dir(tmp_path)
    # A real run leaves a record (and its run id); then the user mimics a sandbox.
    plan = write_plan(tmp_path / "plan.json", RENAME)
    code, _, err = astm_run("apply", "x", "--plan", str(plan), "--branch", "b", cwd=repo, env=env_for(sbx))
    assert code == 0, err
    run = json.loads(next((repo / ".git" / "astm" / "runs").glob("*.json")).read_text())["run"]
    wt = user_worktree(repo, tmp_path / "other" / f"astm-{run}-7", "feature")
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sbx))
    assert code == 0, err
    assert f"left worktree {wt}" in out and "removed worktree" not in out
    assert (wt / "uncommitted.txt").exists()
    assert f"astm-{run}-7" in git(repo, "worktree", "list")


def test_user_branches_under_astm_tmp_are_kept(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    names = ["astm/tmp/x", "astm/tmp/mine/1", f"astm/tmp/{DEAD_RUN}/1", f"astm/tmp/{DEAD_RUN}/x/2"]
    for name in names:
        git(repo, "branch", name)
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sandbox_dir(tmp_path)))
    assert code == 0, err
    for name in names:
        assert git(repo, "rev-parse", "--verify", f"refs/heads/{name}")
        assert f"left branch refs/heads/{name}" in out


def test_a_stray_folder_named_like_a_sandbox_is_kept(tmp_path: Path) -> None:
    """An admin directory of astm's (marker and all) whose folder was replaced by a user's
    folder of the same name: the admin directory goes, the folder stays."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    sbx = sandbox_dir(tmp_path)
    name = f"astm-{DEAD_RUN}-1"
    staging = repo / ".git" / "astm" / "staging" / name
    staging.mkdir(parents=True)
    (staging / "gitdir").write_text(f"{sbx / name / '.git'}\n")
    folder = sbx / name
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n")
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sbx))
    assert code == 0, err
    assert (folder / "notes.txt").read_text() == "mine\n"
    assert f"left {folder}" in out
    assert not staging.exists()


def test_a_crashed_run_is_still_cleaned(tmp_path: Path) -> None:
    """The other side: what astm made (marker, record) is still removed."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    sbx = sandbox_dir(tmp_path)
    plan = write_plan(tmp_path / "plan.json", RENAME)
    code, _, _ = astm_run("apply", "x", "--plan", str(plan), cwd=repo, env=env_for(sbx, ASTM_CRASH_AT="committed"))
    assert code == -9
    assert leftovers(repo, sbx)
    admins = list((repo / ".git" / "worktrees").iterdir())
    assert admins and all((a / "astm-sandbox.json").is_file() for a in admins)
    user = user_worktree(repo, tmp_path / "mine", "astm/tmp/mine/1")
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sbx))
    assert code == 0, err
    assert "removed worktree" in out
    assert leftovers(repo, sbx) == ["branch refs/heads/astm/tmp/mine/1"]  # the user's, kept
    assert (user / "uncommitted.txt").exists()


def test_a_live_runs_marker_protects_it_without_a_record(tmp_path: Path) -> None:
    """No record (say it could not be written), but the marker names a live process."""
    import os
    import socket

    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    sbx = sandbox_dir(tmp_path)
    name = f"astm-{DEAD_RUN}-1"
    git(repo, "worktree", "add", "-q", "--no-checkout", "-b", f"astm/tmp/{DEAD_RUN}/1", str(sbx / name))
    admin = repo / ".git" / "worktrees" / name
    marker = {"run": DEAD_RUN, "n": 1, "pid": os.getpid(), "host": socket.gethostname()}
    (admin / "astm-sandbox.json").write_text(json.dumps(marker))
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sbx))
    assert code == 0, err
    assert (sbx / name).is_dir() and admin.is_dir()
    marker["pid"] = 2**22 + 12345  # no such process
    (admin / "astm-sandbox.json").write_text(json.dumps(marker))
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sbx))
    assert code == 0, err
    assert f"removed worktree {sbx / name}" in out
    assert f"removed branch refs/heads/astm/tmp/{DEAD_RUN}/1" in out
    assert leftovers(repo, sbx) == []


def test_temporary_object_files_a_killed_write_left_are_removed(tmp_path: Path) -> None:
    """A kill between writing an object (or a pack) and renaming it into place leaves a
    temporary file named by astm (workspace/loose.py, packs.py): gc removes it once it is
    an hour old. A fresh one (a write under way) and anything not named by astm stay."""
    import os

    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    objects = repo / ".git" / "objects"
    (objects / "ab").mkdir(exist_ok=True)
    (objects / "pack").mkdir(exist_ok=True)
    old = [objects / "ab" / "tmp_obj_astm_123_456_7", objects / "pack" / "tmp_pack_astm_123_456_8.pack"]
    kept = [
        objects / "ab" / "tmp_obj_astm_123_456_9",  # being written now
        objects / "ab" / "tmp_obj_Xy12ab",  # git's own
        objects / "pack" / "tmp_pack_astm_1_2_3.idx.keep",  # not a file of ours: a folder
    ]
    for f in old + kept[:2]:
        f.write_bytes(b"partial")
    kept[2].mkdir()
    for f in old + kept[1:2]:
        os.utime(f, (0, 0))
    code, out, err = astm_run("gc", cwd=repo, env=env_for(sandbox_dir(tmp_path)))
    assert code == 0, err
    assert [ln for ln in out.splitlines() if ln.startswith("removed temporary file")] == [
        f"removed temporary file {f}" for f in sorted(map(str, old))
    ]
    assert not any(f.exists() for f in old) and all(f.exists() for f in kept)
    git(repo, "fsck", "--no-dangling")
