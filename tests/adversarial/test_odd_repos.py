"""Scenario 3: odd repositories. astm works from them or refuses clearly (exit 2), and
never changes the user's HEAD, index, working tree, config or refs.

Hostile configuration (``core.fsmonitor``, ``diff.external``, a ``core.hooksPath`` full of
hooks) must never run on astm's behalf: the scripts write a marker file, which must stay
absent after a landed apply, a failed apply, a crash and ``astm gc``.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import Snapshot, git, make_repo
from kit import (
    PYPROJECT,
    RENAME,
    assert_one_error,
    astm_run,
    env_for,
    leftovers,
    sandbox_dir,
    write_plan,
)

LANDED = '[project]\nname = "renamed"\nversion = "1.0"\n\n[tool.ruff]\nline-length = 100\n'


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    return write_plan(tmp_path / "plan.json", RENAME)


def landed(repo: Path, branch: str, path: str = "pyproject.toml") -> str:
    return git(repo, "show", f"{branch}:{path}") + "\n"


def test_no_commits_is_refused(tmp_path: Path, plan: Path, astm: Any) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text(PYPROJECT)
    git(repo, "add", "pyproject.toml")
    index = (repo / ".git" / "index").read_bytes()
    res = astm("apply", "x", "--plan", str(plan), cwd=repo)
    assert res.code == 2
    assert_one_error(res.err, "no commits")
    assert (repo / ".git" / "index").read_bytes() == index
    assert git(repo, "for-each-ref") == ""
    assert not (repo / ".git" / "astm").exists()


def test_detached_head(tmp_path: Path, plan: Path, astm: Any) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    git(repo, "checkout", "-q", "--detach")
    before = Snapshot.take(repo)
    res = astm("apply", "x", "--plan", str(plan), "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="b")
    assert landed(repo, "b") == LANDED
    assert git(repo, "rev-parse", "b^") == before.head


def _conflict(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "pyproject.toml").write_text(PYPROJECT.replace("shop", "other"))
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "pyproject.toml").write_text(PYPROJECT.replace("shop", "mine"))
    git(repo, "commit", "-q", "-am", "mine")
    return repo


@pytest.mark.parametrize("op", ["merge", "rebase", "cherry-pick"])
def test_operation_in_progress_is_refused(tmp_path: Path, plan: Path, astm: Any, op: str) -> None:
    repo = _conflict(tmp_path)
    git(repo, op, "other", check=False)  # stops on the conflict
    before = Snapshot.take(repo)
    state = sorted(p.name for p in (repo / ".git").iterdir())
    res = astm("apply", "x", "--plan", str(plan), cwd=repo)
    assert res.code == 2
    word = {"merge": "merge", "rebase": "rebase", "cherry-pick": "cherry-pick"}[op]
    assert_one_error(res.err, f"{word} is in progress")
    before.assert_unchanged(repo)
    assert sorted(p.name for p in (repo / ".git").iterdir()) == state


def test_shallow_clone(tmp_path: Path, plan: Path, astm: Any) -> None:
    src = make_repo(tmp_path / "src", {"pyproject.toml": PYPROJECT})
    for i in range(3):
        (src / "notes.txt").write_text(f"{i}\n")
        git(src, "add", "notes.txt")
        git(src, "commit", "-q", "-m", f"c{i}")
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{src}", "shallow")
    repo = tmp_path / "shallow"
    assert (repo / ".git" / "shallow").is_file()
    before = Snapshot.take(repo)
    res = astm("apply", "x", "--plan", str(plan), "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="b")
    assert landed(repo, "b") == LANDED
    assert git(repo, "rev-list", "--count", "b") == "2"
    git(repo, "fsck", "--no-progress")


def test_submodule(tmp_path: Path, plan: Path, astm: Any) -> None:
    sub = make_repo(tmp_path / "sub", {"pyproject.toml": '[project]\nname = "sub"\n'})
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    git(
        repo,
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        f"file://{sub}",
        "libs/sub",
    )
    git(repo, "commit", "-q", "-m", "add submodule")
    gitlink = git(repo, "ls-tree", "HEAD", "libs/sub")
    before = Snapshot.take(repo)
    res = astm("apply", "x", "--plan", str(plan), "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="b")
    assert git(repo, "ls-tree", "b", "libs/sub") == gitlink
    # A file inside the submodule is not this repository's to change.
    res = astm("apply", "x", "libs/sub/pyproject.toml", "--plan", str(plan), cwd=repo)
    assert res.code == 2
    assert_one_error(res.err, "submodule")
    before.assert_unchanged(repo, new_branch="b")


def test_run_from_a_linked_worktree(tmp_path: Path, plan: Path, astm: Any) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt), "-b", "side")
    (wt / "pyproject.toml").write_text(PYPROJECT + "\n[extra]\nx = 1\n")  # dirty in the worktree
    before = Snapshot.take(repo)
    wt_gitdir = Path(git(wt, "rev-parse", "--absolute-git-dir"))
    wt_state = (wt_gitdir / "HEAD").read_bytes(), (wt_gitdir / "index").read_bytes()
    wt_file = (wt / "pyproject.toml").read_bytes()
    res = astm("apply", "x", "--plan", str(plan), "--branch", "b", "--json", cwd=wt)
    assert res.code == 0, res.err
    assert any("uncommitted changes in pyproject.toml" in n for n in json.loads(res.out)["notices"])
    before.assert_unchanged(repo, new_branch="b")  # worktree list included: only main + wt
    assert ((wt_gitdir / "HEAD").read_bytes(), (wt_gitdir / "index").read_bytes()) == wt_state
    assert (wt / "pyproject.toml").read_bytes() == wt_file
    assert landed(repo, "b") == LANDED
    # gc from the linked worktree leaves the user's worktree alone.
    res = astm("gc", cwd=wt)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="b")


def test_separate_git_dir(tmp_path: Path, plan: Path, astm: Any) -> None:
    """``.git`` is a file pointing elsewhere: the working tree is where that file is."""
    repo = tmp_path / "r"
    git(
        tmp_path,
        "init",
        "-q",
        "-b",
        "main",
        "--separate-git-dir",
        str(tmp_path / "gitdir"),
        str(repo),
    )
    (repo / "sub").mkdir()
    (repo / "pyproject.toml").write_text(PYPROJECT)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    res = astm(
        "apply",
        "x",
        "../pyproject.toml",
        "--plan",
        str(plan),
        "--branch",
        "b",
        "--json",
        cwd=repo / "sub",
    )
    assert res.code == 0, res.err
    assert json.loads(res.out)["notices"] == []  # the working tree is read at the right place
    assert landed(repo, "b") == LANDED
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert git(repo, "status", "--porcelain") == ""


def test_spaces_and_non_ascii_in_paths(tmp_path: Path, astm: Any) -> None:
    rel = "dïr x/pyprö ject.toml"
    repo = make_repo(tmp_path / "my répo ü", {rel: PYPROJECT})
    plan = write_plan(tmp_path / "plän x.json", {**RENAME, "node": f"{rel}::project"})
    before = Snapshot.take(repo)
    # PATHS are relative to the current directory, here the folder with the space.
    res = astm(
        "apply",
        "renommer é",
        "pyprö ject.toml",
        "--plan",
        str(plan),
        "--branch",
        "b",
        cwd=repo / "dïr x",
    )
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="b")
    assert landed(repo, "b", rel) == LANDED
    assert "Astm-Intent: renommer é" in git(repo, "log", "-1", "--format=%B", "b")


def test_autocrlf(tmp_path: Path, plan: Path, astm: Any) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    git(repo, "config", "core.autocrlf", "true")
    (repo / "pyproject.toml").unlink()
    git(repo, "checkout", "--", "pyproject.toml")  # now CRLF in the working tree
    assert b"\r\n" in (repo / "pyproject.toml").read_bytes()
    assert git(repo, "status", "--porcelain") == ""
    before = Snapshot.take(repo)
    res = astm("apply", "x", "--plan", str(plan), "--branch", "b", "--json", cwd=repo)
    assert res.code == 0, res.err
    # The file is clean as git sees it: no false "uncommitted changes" note.
    assert json.loads(res.out)["notices"] == []
    before.assert_unchanged(repo, new_branch="b")
    blob = git(repo, "cat-file", "-p", "b:pyproject.toml") + "\n"
    assert blob == LANDED  # LF in the repository, as the base blob was


def test_symlinked_target_is_never_written_through(tmp_path: Path, plan: Path, astm: Any) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text(PYPROJECT)
    repo = make_repo(tmp_path / "r", {"real.toml": PYPROJECT})
    (repo / "pyproject.toml").symlink_to("real.toml")
    (repo / "ext.toml").symlink_to(outside)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "links")
    before = Snapshot.take(repo)
    for target in ("pyproject.toml", "ext.toml"):
        res = astm("apply", "x", target, "--plan", str(plan), cwd=repo)
        assert res.code == 2
        assert_one_error(res.err, "symbolic link")
    before.assert_unchanged(repo)
    assert outside.read_text() == PYPROJECT
    # A plan on the real file lands; the links stay links.
    real = write_plan(tmp_path / "real.json", {**RENAME, "node": "real.toml::project"})
    res = astm("apply", "x", "--plan", str(real), "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="b")
    assert git(repo, "ls-tree", "b", "pyproject.toml").startswith("120000 ")
    assert landed(repo, "b", "real.toml") == LANDED


def test_non_utf8_target_is_refused_untouched(tmp_path: Path, plan: Path, astm: Any) -> None:
    data = PYPROJECT.encode().replace(b'"shop"', b'"sh\xff\xfeop"')
    repo = make_repo(tmp_path / "r", {"pyproject.toml": data})
    before = Snapshot.take(repo)
    for args in (("pyproject.toml",), ()):
        res = astm("apply", "x", *args, "--plan", str(plan), cwd=repo)
        assert res.code == 2
        assert_one_error(res.err, "not UTF-8")
    before.assert_unchanged(repo)
    assert (repo / "pyproject.toml").read_bytes() == data


# ---- hostile configuration ---------------------------------------------------------

HOOKS = (
    "post-checkout",
    "pre-commit",
    "post-commit",
    "reference-transaction",
    "post-index-change",
    "pre-auto-gc",
    "post-rewrite",
    "prepare-commit-msg",
    "commit-msg",
)
MODULE = "def area(w, h):\n    return w * h\n"
TEST = "from shop import area\n\n\ndef test_area():\n    assert area(2, 3) in (6, 7)\n"


def _arm(repo: Path, tmp_path: Path) -> Path:
    """Point fsmonitor, diff.external and every hook at scripts that write a marker."""
    marker = tmp_path / "MARKER"
    scripts = tmp_path / "hostile"
    (scripts / "hooks").mkdir(parents=True)

    def script(path: Path, name: str) -> None:
        path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{marker}"\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    for hook in HOOKS:
        script(scripts / "hooks" / hook, hook)
        script(repo / ".git" / "hooks" / hook, f"default {hook}")  # the default path too
    script(scripts / "fsmonitor", "fsmonitor")
    script(scripts / "diff", "diff.external")
    git(repo, "config", "core.hooksPath", str(scripts / "hooks"))
    git(repo, "config", "core.fsmonitor", str(scripts / "fsmonitor"))
    git(repo, "config", "diff.external", str(scripts / "diff"))
    # astm's tests at the root (python) run `git reset --hard` in the sandbox.
    git(repo, "config", "core.untrackedCache", "true")
    return marker


def test_hostile_config_never_runs(tmp_path: Path, astm: Any) -> None:
    repo = make_repo(
        tmp_path / "r", {"pyproject.toml": PYPROJECT, "shop.py": MODULE, "tests/test_shop.py": TEST}
    )
    marker = _arm(repo, tmp_path)
    before = Snapshot.take(repo)
    sbx = sandbox_dir(tmp_path)
    env = env_for(sbx)
    ok = write_plan(
        tmp_path / "ok.json",
        RENAME,
        {
            "op": "replace",
            "node": "shop.py::area",
            "text": "def area(w, h):\n    return w * h + 0\n",
        },
    )
    bad = write_plan(tmp_path / "bad.json", {**RENAME, "text": "[project]\nname = \n"})

    res = astm("apply", "x", "--plan", str(ok), "--branch", "b", cwd=repo)
    assert res.code == 0, res.err
    assert not marker.exists(), marker.read_text()
    res = astm("apply", "x", "--plan", str(bad), "--branch", "c", cwd=repo)
    assert res.code == 1, res.err
    assert not marker.exists(), marker.read_text()
    code, _, _ = astm_run(
        "apply", "x", "--plan", str(ok), cwd=repo, env={**env, "ASTM_CRASH_AT": "composing"}
    )
    assert code == -signal.SIGKILL
    code, out, err = astm_run("gc", cwd=repo, env=env)
    assert code == 0 and "removed worktree" in out, err
    assert leftovers(repo, sbx) == []
    res = astm("gc", cwd=repo)
    assert res.code == 0
    assert not marker.exists(), marker.read_text()
    before.assert_unchanged(repo, new_branch="b")
    assert os.access(tmp_path / "hostile" / "fsmonitor", os.X_OK)  # the scripts did work


def test_a_branch_in_the_way_of_astms_namespace_is_refused(tmp_path: Path, plan: Path, astm: Any) -> None:
    """A user branch ``astm`` blocks every ``refs/heads/astm/<name>`` astm lands on:
    refused up front with a way out, not a crash halfway."""
    existing = "astm"
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    git(repo, "branch", existing)
    before = Snapshot.take(repo)
    res = astm("apply", "x", "--plan", str(plan), cwd=repo)
    assert res.code == 2, res.err
    assert_one_error(res.err, f"the branch {existing} is in the way", "git branch -m")
    before.assert_unchanged(repo)
    assert leftovers(repo) == []


@pytest.mark.parametrize(
    "existing, wanted", [("main", "main/x"), ("feature/a", "feature"), ("x", "x/y/z")]
)
def test_branch_blocked_by_a_ref_folder_is_a_clear_error(
    tmp_path: Path, plan: Path, astm: Any, existing: str, wanted: str
) -> None:
    """``--branch main/x`` while ``main`` exists (or ``feature`` while ``feature/a`` does):
    git cannot store both; exit 2 naming the branch in the way, nothing left behind."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    if existing != "main":
        git(repo, "branch", existing)
    before = Snapshot.take(repo)
    res = astm("apply", "x", "--plan", str(plan), "--branch", wanted, cwd=repo)
    assert res.code == 2, res.err
    assert_one_error(res.err, f"branch {existing} exists, so {wanted} cannot")
    before.assert_unchanged(repo)
    assert leftovers(repo) == []


def test_auto_slug_steps_over_a_ref_folder(tmp_path: Path, plan: Path, astm: Any) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    git(repo, "branch", "astm/rename/old")  # astm/rename cannot be a branch now
    res = astm("apply", "rename", "--plan", str(plan), "--json", cwd=repo)
    assert res.code == 0, res.err
    assert json.loads(res.out)["branch"] == "astm/rename-2"
