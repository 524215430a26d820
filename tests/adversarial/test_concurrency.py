"""Scenario 4: concurrency. Runs at once on one repository land on distinct branches with
no ref, object or config damage and no orphan worktree; git's own housekeeping during a
run does not break it; two runs racing for one ``--branch``: exactly one wins.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import GIT_ENV, Snapshot, git, make_repo
from kit import (
    PYPROJECT,
    RENAME,
    RULER,
    assert_one_error,
    astm_run,
    env_for,
    finish,
    fsck,
    is_route,
    leftovers,
    model_env,
    node_of,
    records,
    sandbox_dir,
    start,
    wait_until,
    write_plan,
)

openai_server = loopback.openai_server
LANDED = '[project]\nname = "renamed"\nversion = "1.0"\n\n[tool.ruff]\nline-length = 88\n'


def test_eight_runs_at_once(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    plan = write_plan(tmp_path / "plan.json", RENAME, RULER)
    sbx = sandbox_dir(tmp_path)
    env = env_for(sbx)
    before = Snapshot.take(repo)
    procs = []
    for i in range(8):
        # Half take the automatic slug of one shared intent, half name their branch.
        extra = ("--branch", f"named-{i}") if i % 2 else ()
        procs.append(
            start(
                "apply", "bump everything", "--plan", str(plan), "--json", *extra, cwd=repo, env=env
            )
        )
    results = [finish(p, 90) for p in procs]
    for code, _, err in results:
        assert code == 0, err
    branches = [json.loads(out)["branch"] for _, out, _ in results]
    assert len(set(branches)) == 8, branches
    assert sorted(b for b in branches if b.startswith("astm/")) == [
        "astm/bump-everything",
        "astm/bump-everything-2",
        "astm/bump-everything-3",
        "astm/bump-everything-4",
    ]
    for b in branches:
        assert git(repo, "show", f"{b}:pyproject.toml") + "\n" == LANDED
        assert git(repo, "rev-parse", f"{b}^") == before.head
    assert leftovers(repo, sbx) == []
    after = Snapshot.take(repo)
    assert after.config == before.config
    assert after.worktrees == before.worktrees
    assert sorted(r["status"] for r in records(repo)) == ["landed"] * 8
    fsck(repo)
    for b in branches:
        before.refs[f"refs/heads/{b}"] = after.refs[f"refs/heads/{b}"]
    extra = {k for k in after.refs if k not in before.refs}
    assert all(k.startswith("refs/astm/runs/") for k in extra), extra


class Gate:
    """Holds every generation request until opened; counts the ones waiting."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.opened = threading.Event()
        self.waiting = 0
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> str:
        if is_route(body):
            return json.dumps({"act": [{"id": "pyproject.toml::project", "intent": "rename"}]})
        with self.lock:
            self.waiting += 1
        self.opened.wait(30)
        return self.answer


def git_env(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **GIT_ENV},
    )


@pytest.fixture
def gated(openai_server: loopback.LoopbackServer) -> Gate:
    gate = Gate('[project]\nname = "renamed"\nversion = "1.0"\n')
    openai_server.responder = gate
    yield gate
    gate.opened.set()


def test_git_gc_and_worktree_prune_during_a_run(
    tmp_path: Path, openai_server: loopback.LoopbackServer, gated: Gate
) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    sbx = sandbox_dir(tmp_path)
    env = env_for(sbx, **model_env(openai_server.base_url))
    before = Snapshot.take(repo)
    proc = start("apply", "rename", "--branch", "b", cwd=repo, env=env)
    try:
        wait_until(lambda: gated.waiting >= 1, what="the run to ask for the node's text")
        wait_until(
            lambda: len(leftovers(repo)) >= 4, what="the sandboxes"
        )  # 2 worktrees + branches
        opened = leftovers(repo, sbx)
        for args in (
            ("gc", "--quiet"),
            ("gc", "--quiet", "--prune=now"),
            ("worktree", "prune"),
            ("worktree", "prune", "--expire=now"),
            ("pack-refs", "--all"),
        ):
            done = git_env(*args, cwd=repo)
            assert done.returncode == 0, done.stderr
        # astm gc leaves a run that is still alive alone.
        code, out, err = astm_run("gc", cwd=repo, env=env)
        assert code == 0 and "removed" not in out, out + err
        assert leftovers(repo, sbx) == opened, "housekeeping removed a live run's sandbox"
        gated.opened.set()
        code, _, err = finish(proc, 60)
    finally:
        proc.kill()
    assert code == 0, err
    assert git(repo, "show", "b:pyproject.toml") + "\n" == LANDED.replace("88", "100")
    assert leftovers(repo, sbx) == []
    before.assert_unchanged(repo, new_branch="b")
    fsck(repo)


TWO = 'def f(x):\n    """F."""\n    return x\n\n\ndef g(x):\n    """G."""\n    return x\n'


def test_git_gc_prune_now_while_a_node_is_at_the_model(
    tmp_path: Path, openai_server: loopback.LoopbackServer
) -> None:
    """A leaf's commit waits in memory for the commit above it (workspace/packs.py), then
    is on no ref until the run's ref holds it: ``git gc --prune=now`` while another node
    is at the model deletes nothing the run needs, and the run lands the whole change.
    (Pruned after its pack is written, the overlay goes without that parent:
    tests/test_packs.py.)"""
    repo = make_repo(tmp_path / "r", {"two.py": TWO})
    sbx = sandbox_dir(tmp_path)
    env = env_for(sbx, **model_env(openai_server.base_url))
    before = Snapshot.take(repo)
    asked, opened = threading.Event(), threading.Event()

    def respond(body: dict[str, Any]) -> str:
        if is_route(body):
            return json.dumps({"act": [{"id": "two.py::f", "intent": "add one"},
                                       {"id": "two.py::g", "intent": "add one"}]})
        if node_of(body) == "two.py::g":
            asked.set()
            opened.wait(30)
            return 'def g(x):\n    """G."""\n    return x + 1\n'
        return 'def f(x):\n    """F."""\n    return x + 1\n'

    openai_server.responder = respond
    proc = start("apply", "add one", "two.py", "--branch", "b", cwd=repo, env=env)
    try:
        assert asked.wait(30)
        time.sleep(0.3)  # f's answer is in and committed meanwhile
        done = git_env("gc", "--quiet", "--prune=now", cwd=repo)
        assert done.returncode == 0, done.stderr
        opened.set()
        code, _, err = finish(proc, 60)
    finally:
        opened.set()
        proc.kill()
    assert code == 0, err
    assert git(repo, "show", "b:two.py").count("return x + 1") == 2
    assert leftovers(repo, sbx) == []
    before.assert_unchanged(repo, new_branch="b")
    fsck(repo)


def test_two_runs_racing_for_one_branch(
    tmp_path: Path, openai_server: loopback.LoopbackServer, gated: Gate
) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    sbx = sandbox_dir(tmp_path)
    env = env_for(sbx, **model_env(openai_server.base_url))
    before = Snapshot.take(repo)
    procs = [start("apply", "rename", "--branch", "same", cwd=repo, env=env) for _ in range(3)]
    try:
        # All are past the up-front "branch exists?" check before any may land.
        wait_until(lambda: gated.waiting >= 3, what="the runs to generate")
        gated.opened.set()
        results = [finish(p, 60) for p in procs]
    finally:
        for p in procs:
            p.kill()
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2, 2], results
    for code, _, err in results:
        if code == 2:
            assert_one_error(err, "branch same already exists", "another run")
    assert git(repo, "show", "same:pyproject.toml") + "\n" == LANDED.replace("88", "100")
    assert leftovers(repo, sbx) == []
    before.assert_unchanged(repo, new_branch="same")
    assert sorted(r["status"] for r in records(repo)) == ["failed", "failed", "landed"]
    fsck(repo)


def _land_at(path: str, tree: str, base: str, branch: str | None, start: float, out: Any) -> None:
    from astm.errors import BranchExistsError
    from astm.workspace import landing
    from astm.workspace.repo import Repo

    repo = Repo.open(Path(path))
    while time.time() < start:  # all processes go at once
        pass
    try:
        name, _ = landing.land(
            repo,
            tree=repo.repo[tree].id,
            base=repo.repo[base].id,
            message="m\n",
            branch=branch,
            intent="race",
        )
        out.put(name)
    except BranchExistsError:
        out.put(None)


@pytest.mark.parametrize("branch", ["same", None])
def test_landing_is_compare_and_swap_across_processes(tmp_path: Path, branch: str | None) -> None:
    """Processes landing at the same instant: one name, one winner (libgit2's
    create_reference(force=False) checks before locking and lets two win now and then)."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    base = git(repo, "rev-parse", "HEAD")
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    ctx = multiprocessing.get_context("fork")
    for _ in range(6):
        for ref in git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/").split():
            if ref != "refs/heads/main":
                git(repo, "update-ref", "-d", ref)
        out = ctx.Queue()
        start_at = time.time() + 0.1
        procs = [
            ctx.Process(target=_land_at, args=(str(repo), tree, base, branch, start_at, out))
            for _ in range(4)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        names = [out.get(timeout=10) for _ in procs]
        if branch is None:  # four distinct automatic names
            assert sorted(names) == ["astm/race", "astm/race-2", "astm/race-3", "astm/race-4"]
        else:
            assert sorted(names, key=str) == [None, None, None, "same"], names
