"""Sandboxes kept between the runs of one process (workspace/depot.py): a later run takes
an earlier one's, made ready for its own fork (``Sandbox.reset``); whoever made the depot
removes what it holds; ``astm gc`` leaves a live process's kept sandboxes alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pygit2
from conftest import Snapshot, git, make_repo, run_subprocess

from astm.config import load
from astm.core.plan import Plan, Replace
from astm.engine.apply import ApplyOptions, apply
from astm.errors import AstmError
from astm.llm.plan_provider import PlanProvider
from astm.workspace import runs
from astm.workspace.depot import Depot
from astm.workspace.repo import Repo
from astm.workspace.sandbox import open_sandbox

PYPROJECT = '[project]\nname = "d"\nversion = "0"\n\n[tool.astm.validate]\ntests = "off"\n'


def function(name: str, body: str) -> str:
    return f"def {name}(x: int) -> int:\n    return {body}\n"


def two_functions(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "r", {
        "pyproject.toml": PYPROJECT,
        "a.py": function("f", "x") + "\n\n" + function("g", "x") + "\n",
        "b.py": function("h", "x") + "\n",
    })


def run(repo: Path, depot: Depot | None, edits: dict[str, str], branch: str, base: str | None = None):  # type: ignore[no-untyped-def]
    plan = Plan(intent=branch, edits=[Replace(op="replace", node=n, text=t) for n, t in edits.items()])
    events: list[tuple[str, str]] = []
    opts = ApplyOptions(intent=plan.intent, cwd=repo, plan=plan, branch=branch, base=base, depot=depot)
    result = apply(opts, load(repo, {}), PlanProvider(plan), on_event=lambda e: events.append((e.node, e.state)))
    return result, [n for n, s in events if s == "sandbox"]


def worktrees(repo: Path) -> list[str]:
    listing = git(repo, "worktree", "list", "--porcelain")
    return [ln.split(" ", 1)[1] for ln in listing.splitlines() if ln.startswith("worktree ")][1:]


def test_a_later_run_takes_the_sandboxes_an_earlier_run_kept(tmp_path: Path) -> None:
    repo = two_functions(tmp_path)
    before = Snapshot.take(repo)
    depot = Depot()
    try:
        first, opened = run(repo, depot, {"a.py::f": function("f", "x + 1"), "a.py::g": function("g", "x + 2")}, "astm/one")
        assert opened and depot.idle() == len(worktrees(repo)) >= 2  # kept, not removed
        kept = set(worktrees(repo))
        # The second run starts from the first's result (its fork differs) and edits another file.
        second, _ = run(repo, depot, {"b.py::h": function("h", "x + 3")}, "astm/two", base="astm/one")
        assert set(worktrees(repo)) == kept  # nothing new opened: the kept ones were taken
        assert git(repo, "show", "astm/two:a.py") == git(repo, "show", "astm/one:a.py")
        assert "return x + 3" in git(repo, "show", "astm/two:b.py")
        assert first.commit and second.commit
    finally:
        depot.close()
    assert worktrees(repo) == []
    assert not any(Path(p).exists() for p in kept)
    assert git(repo, "rev-parse", "HEAD") == before.head  # two new branches: the rest by hand
    assert Snapshot.take(repo).files == before.files


def test_a_run_with_no_depot_removes_its_sandboxes_as_before(tmp_path: Path) -> None:
    repo = two_functions(tmp_path)
    before = Snapshot.take(repo)
    result, opened = run(repo, None, {"a.py::f": function("f", "x + 1")}, "astm/one")
    assert opened and result.commit
    assert worktrees(repo) == []
    before.assert_unchanged(repo, new_branch="astm/one")


def test_a_failed_run_removes_its_sandboxes_rather_than_keeping_them(tmp_path: Path) -> None:
    repo = two_functions(tmp_path)
    depot = Depot()
    try:
        try:  # a plan whose node does not parse: the run fails
            run(repo, depot, {"a.py::f": "def f(x:\n"}, "astm/bad")
        except AstmError:
            pass
        assert depot.idle() == 0
        assert worktrees(repo) == []
    finally:
        depot.close()


def test_reset_keeps_only_what_the_new_fork_holds_unchanged(tmp_path: Path) -> None:
    repo_dir = two_functions(tmp_path)
    repo = Repo.open(repo_dir)
    first = repo.repo.head.target
    git(repo_dir, "checkout", "-q", "-b", "next")
    (repo_dir / "b.py").write_text(function("h", "x * 2"))
    git(repo_dir, "commit", "-qam", "b changed")
    second = repo.repo.head.target
    git(repo_dir, "checkout", "-q", "main")
    box = open_sandbox(repo, runs.new_run_id(), 1, first)
    try:
        box.materialise(["pyproject.toml", "a.py", "b.py"])
        box.write("a.py", b"patched by a leaf\n")  # not the tree's: never kept
        (box.path / "pkg" / "__pycache__").mkdir(parents=True)  # what a validator leaves
        (box.path / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"\0")
        pyproject = (box.path / "pyproject.toml").stat()
        box.reset(repo, second)
        assert sorted(p.name for p in box.path.iterdir()) == [".git", "pyproject.toml"]
        assert (box.path / "pyproject.toml").stat().st_ino == pyproject.st_ino  # kept, not rewritten
        assert box.fork == box.head == second
        assert (repo.common / "worktrees" / box.path.name / "HEAD").read_text() == f"{second}\n"
        assert box.missing(["pyproject.toml", "b.py"]) == ["b.py"]
        box.materialise(["b.py"])
        assert (box.path / "b.py").read_text() == function("h", "x * 2")
        # A kept file changed in place (size or time) is not trusted: it goes too.
        (box.path / "pyproject.toml").write_text(PYPROJECT + "# edited\n")
        box.reset(repo, first)
        assert sorted(p.name for p in box.path.iterdir()) == [".git"]
        assert box.missing(["pyproject.toml"]) == ["pyproject.toml"]
    finally:
        box.close()
    assert not box.path.exists()


def test_a_sandbox_whose_folder_went_is_replaced_not_reused(tmp_path: Path) -> None:
    repo = two_functions(tmp_path)
    depot = Depot()
    try:
        run(repo, depot, {"a.py::f": function("f", "x + 1")}, "astm/one")
        gone = worktrees(repo)
        for p in gone:  # a temp cleaner removed them while idle
            subprocess.run(["rm", "-rf", p], check=True)
        result, _ = run(repo, depot, {"a.py::g": function("g", "x + 2")}, "astm/two")
        assert result.commit
        assert not set(worktrees(repo)) & set(gone)
    finally:
        depot.close()
    git(repo, "worktree", "prune")
    assert worktrees(repo) == []


def test_gc_leaves_a_kept_sandbox_of_a_live_process_and_removes_a_dead_ones(tmp_path: Path) -> None:
    """A kept sandbox outlives its run (its record says it landed): gc must look at the
    process that keeps it, named in its marker."""
    repo_dir = two_functions(tmp_path)
    depot = Depot()
    try:
        run(repo_dir, depot, {"a.py::f": function("f", "x + 1")}, "astm/one")
        kept = worktrees(repo_dir)
        assert kept
        res = run_subprocess("gc", cwd=repo_dir)
        assert res.code == 0, res.err
        assert worktrees(repo_dir) == kept  # this process is alive: left alone
        repo = Repo.open(repo_dir)
        for p in kept:  # as if this process had been killed
            marker = repo.common / "worktrees" / Path(p).name / "astm-sandbox.json"
            data = json.loads(marker.read_text())
            marker.write_text(json.dumps({**data, "pid": 2**22 + 7}))
        res = run_subprocess("gc", cwd=repo_dir)
        assert res.code == 0, res.err
        assert worktrees(repo_dir) == []
        assert not any(Path(p).exists() for p in kept)
    finally:
        depot.close()  # its sandboxes are gone already: nothing to do, no error


def test_a_sandboxs_head_is_detached_and_holds_its_commit(tmp_path: Path) -> None:
    repo_dir = two_functions(tmp_path)
    repo = Repo.open(repo_dir)
    box = open_sandbox(repo, runs.new_run_id(), 1, repo.repo.head.target)
    try:
        oid = box.commit({"a.py": b"x = 1\n"}, "a node")
        listing = git(repo_dir, "worktree", "list", "--porcelain")
        assert f"HEAD {oid}\ndetached" in listing
        assert not git(repo_dir, "for-each-ref", "refs/heads/astm/")  # no branch per sandbox
        git(repo_dir, "gc", "-q", "--prune=now")
        assert isinstance(repo.repo.get(oid), pygit2.Commit)  # the worktree's HEAD kept it
    finally:
        box.close()


def test_the_astm_command_removes_its_kept_sandboxes_once_its_result_is_out(tmp_path: Path) -> None:
    """``astm apply`` run as a command keeps its sandboxes in the process's depot until
    the exit (astm.__main__): nothing is left once the process is gone."""
    repo = two_functions(tmp_path)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"version": 1, "intent": "x", "edits": [
        {"op": "replace", "node": "a.py::f", "text": function("f", "x + 1")}]}))
    env = {"ASTM_SERVER": "0", "PYTHONPATH": os.pathsep.join(sys.path)}
    res = run_subprocess("apply", "x", "--plan", str(plan), "--branch", "astm/cmd", cwd=repo, env=env)
    assert res.code == 0, res.err
    assert worktrees(repo) == []
    assert not list((repo / ".git" / "worktrees").glob("astm-*"))
