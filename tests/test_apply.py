"""`astm apply` end to end: real repositories, real git, the plan standing in for the model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import FIXTURES, Snapshot, git, make_repo

DEMO = FIXTURES / "demo"
INTENT = "Add requests as a dependency and configure pytest-cov with an 80% coverage threshold"


@pytest.fixture
def demo_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "demo", {"pyproject.toml": (DEMO / "pyproject.toml").read_bytes()})


def write_plan(path: Path, edits: list[dict], intent: str = "test") -> Path:
    path.write_text(json.dumps({"version": 1, "intent": intent, "edits": edits}))
    return path


def test_demo_scenario_lands_one_commit_and_touches_nothing(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    before = Snapshot.take(demo_repo)
    res = astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), cwd=demo_repo)
    assert res.code == 0, res.err
    branch = "astm/add-requests-as-a-dependency-and-configure"
    before.assert_unchanged(demo_repo, new_branch=branch)
    assert f"landed: {branch}" in res.out
    assert res.out.rstrip().endswith(f"review: git diff HEAD {branch}")
    # Exactly one commit on top of HEAD.
    assert git(demo_repo, "rev-list", "--count", f"HEAD..{branch}") == "1"
    assert git(demo_repo, "rev-parse", f"{branch}^") == before.head
    new = git(demo_repo, "show", f"{branch}:pyproject.toml")
    import tomllib

    data = tomllib.loads(new)
    assert "requests>=2.31" in data["project"]["dependencies"]
    assert "--cov-fail-under=80" in data["tool"]["pytest"]["ini_options"]["addopts"]
    # Every byte outside the edited nodes is unchanged: the diff only adds lines.
    diff = git(demo_repo, "diff", "HEAD", branch)
    changed = [ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert all(ln.startswith("+") for ln in changed), diff
    message = git(demo_repo, "log", "-1", "--format=%B", branch)
    assert message.startswith("Add requests as a dependency")
    assert "- pyproject.toml::project (replace)" in message
    assert "- pyproject.toml::tool.pytest.ini_options (create)" in message
    trailers = git(demo_repo, "log", "-1", "--format=%(trailers:only,unfold)", branch)
    assert "Astm-Run: " in trailers and f"Astm-Intent: {INTENT}" in trailers


def test_provenance_graph_is_reachable_from_run_ref(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    res = astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), "--json", cwd=demo_repo)
    out = json.loads(res.out)
    root = git(demo_repo, "rev-parse", f"refs/astm/runs/{out['run']}")
    parents = git(demo_repo, "rev-list", "--parents", "-n1", root).split()[1:]
    assert parents[0] == out["base"] and len(parents) == 2  # base + the file's overlay commit
    file_parents = git(demo_repo, "rev-list", "--parents", "-n1", parents[1]).split()[1:]
    assert file_parents[0] == out["base"] and len(file_parents) == 4  # + three node commits
    # The root overlay and the landed commit hold the same tree.
    assert git(demo_repo, "rev-parse", f"{root}^{{tree}}") == git(demo_repo, "rev-parse", f"{out['commit']}^{{tree}}")


def test_json_output_shape(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    res = astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), "--json", cwd=demo_repo)
    assert res.code == 0
    out = json.loads(res.out)
    assert {"run", "branch", "commit", "base", "nodes", "tokens"} <= set(out)
    assert out["tokens"] == {"prompt": 0, "completion": 0}
    by_id = {n["id"]: n for n in out["nodes"]}
    assert by_id["pyproject.toml::project"]["status"] == "changed"
    assert by_id["pyproject.toml::project"]["attempts"] == 1
    assert by_id["pyproject.toml::tool.pytest.ini_options"]["action"] == "create"


def test_dry_run_creates_nothing(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    before = Snapshot.take(demo_repo)
    res = astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), "--dry-run", cwd=demo_repo)
    assert res.code == 0, res.err
    assert "would act" in res.out and "pyproject.toml::project" in res.out
    assert "pyproject.toml::tool.ruff" not in res.out  # children that do not act stay out
    before.assert_unchanged(demo_repo)
    assert before.refs == Snapshot.take(demo_repo).refs
    assert not (demo_repo / ".git" / "astm").exists()


def test_branch_names_are_unique_and_explicit_branch_is_cas(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    plan = str(DEMO / "plan.json")
    assert astm("apply", INTENT, "--plan", plan, cwd=demo_repo).code == 0
    res = astm("apply", INTENT, "--plan", plan, "--json", cwd=demo_repo)
    assert json.loads(res.out)["branch"] == "astm/add-requests-as-a-dependency-and-configure-2"
    assert astm("apply", INTENT, "--plan", plan, "--branch", "feature/x", cwd=demo_repo).code == 0
    before = Snapshot.take(demo_repo)
    res = astm("apply", INTENT, "--plan", plan, "--branch", "feature/x", cwd=demo_repo)
    assert res.code == 2 and "branch feature/x already exists" in res.err
    before.assert_unchanged(demo_repo)


def test_base_option_and_detached_head(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    first = git(demo_repo, "rev-parse", "HEAD")
    (demo_repo / "README.md").write_text("hello\n")
    git(demo_repo, "add", "README.md")
    git(demo_repo, "commit", "-qm", "readme")
    res = astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), "--base", first, "--json", cwd=demo_repo)
    out = json.loads(res.out)
    assert out["base"] == first
    assert git(demo_repo, "rev-parse", f"{out['branch']}^") == first
    git(demo_repo, "checkout", "-q", "--detach", "HEAD")
    before = Snapshot.take(demo_repo)
    res = astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), "--branch", "det", cwd=demo_repo)
    assert res.code == 0, res.err
    before.assert_unchanged(demo_repo, new_branch="det")
    assert astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), "--base", "nope", cwd=demo_repo).code == 2


def test_dirty_working_tree_works_from_base_and_says_so(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    target = demo_repo / "pyproject.toml"
    target.write_text(target.read_text() + "\n[tool.local]\nmine = true\n")
    (demo_repo / "staged.txt").write_text("x")
    git(demo_repo, "add", "staged.txt")
    before = Snapshot.take(demo_repo)
    res = astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), "--branch", "b", cwd=demo_repo)
    assert res.code == 0, res.err
    assert "uncommitted changes in pyproject.toml are left alone" in res.out
    before.assert_unchanged(demo_repo, new_branch="b")
    assert "tool.local" not in git(demo_repo, "show", "b:pyproject.toml")


def test_not_a_repository_and_no_commits(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    plain = tmp_path / "plain"
    plain.mkdir()
    res = astm("apply", "x", "--plan", str(DEMO / "plan.json"), cwd=plain)
    assert res.code == 2 and "not a git repository" in res.err
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    res = astm("apply", "x", "--plan", str(DEMO / "plan.json"), cwd=empty)
    assert res.code == 2 and "no commits" in res.err


def test_merge_in_progress_is_refused(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    head = git(demo_repo, "rev-parse", "HEAD")
    (demo_repo / ".git" / "MERGE_HEAD").write_text(head + "\n")
    res = astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), cwd=demo_repo)
    assert res.code == 2 and "merge is in progress" in res.err


def test_validation_failure_retries_then_fails_cleanly(demo_repo: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    plan = write_plan(tmp_path / "p.json", [
        {"op": "replace", "node": "pyproject.toml::project", "text": "[project]\nname = \n"},
        {"op": "replace", "node": "pyproject.toml::tool.ruff", "text": "[tool.ruff]\nline-length = 88\n"},
    ])
    before = Snapshot.take(demo_repo)
    res = astm("apply", "x", "--plan", str(plan), "--json", "--retries", "2", cwd=demo_repo)
    assert res.code == 1
    err_lines = [ln for ln in res.err.splitlines() if ln.startswith("astm: error")]
    assert len(err_lines) == 1 and "pyproject.toml::project: line 2: " in err_lines[0]
    out = json.loads(res.out)
    assert out["branch"] is None and out["commit"] is None
    by_id = {n["id"]: n for n in out["nodes"]}
    assert by_id["pyproject.toml::project"] == {
        "id": "pyproject.toml::project", "status": "failed", "attempts": 3, "action": "replace",
        "diagnostic": by_id["pyproject.toml::project"]["diagnostic"],
    }
    assert by_id["pyproject.toml::tool.ruff"]["status"] == "not-landed"  # validated, never landed
    before.assert_unchanged(demo_repo)
    runs = list((demo_repo / ".git" / "astm" / "runs").glob("*.json"))
    assert json.loads(runs[0].read_text())["status"] == "failed"


def test_unchanged_text_means_nothing_to_land(demo_repo: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    text = (demo_repo / "pyproject.toml").read_text()
    ruff = text[text.index("# Lint settings"):text.index("[tool.ruff.lint]")].rstrip("\n") + "\n"
    plan = write_plan(tmp_path / "p.json", [{"op": "replace", "node": "pyproject.toml::tool.ruff", "text": ruff}])
    before = Snapshot.take(demo_repo)
    res = astm("apply", "x", "--plan", str(plan), "--json", cwd=demo_repo)
    assert res.code == 1 and "nothing to change" in res.err
    assert json.loads(res.out)["nodes"][0]["status"] == "unchanged"
    before.assert_unchanged(demo_repo)


def test_save_plan_replays_to_the_same_tree(demo_repo: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "saved.json"
    res = astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), "--save-plan", str(saved), "--json", cwd=demo_repo)
    first = json.loads(res.out)
    replay = astm("apply", INTENT, "--plan", str(saved), "--json", cwd=demo_repo)
    second = json.loads(replay.out)
    assert replay.code == 0, replay.err
    tree = lambda c: git(demo_repo, "rev-parse", f"{c}^{{tree}}")
    assert tree(first["commit"]) == tree(second["commit"])
    assert json.loads(saved.read_text())["version"] == 1


def test_broadcast_routing_gives_the_same_result(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    a = json.loads(astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), "--json", cwd=demo_repo).out)
    b = json.loads(astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), "--json", "--routing", "broadcast", cwd=demo_repo).out)
    tree = lambda c: git(demo_repo, "rev-parse", f"{c}^{{tree}}")
    assert tree(a["commit"]) == tree(b["commit"])


def test_paths_limit_and_unknown_path(demo_repo: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    res = astm("apply", INTENT, "missing.toml", "--plan", str(DEMO / "plan.json"), cwd=demo_repo)
    assert res.code == 2 and "missing.toml" in res.err
    res = astm("apply", INTENT, "../outside.toml", "--plan", str(DEMO / "plan.json"), cwd=demo_repo)
    assert res.code == 2 and "outside the repository" in res.err


def test_several_toml_files_land_in_one_commit(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {
        "pyproject.toml": "[project]\nname = \"a\"\n",
        "ruff.toml": "line-length = 80\n",
        "sub/other.toml": "[x]\ny = 1\n",
    })
    plan = write_plan(tmp_path / "p.json", [
        {"op": "replace", "node": "pyproject.toml::project", "text": "[project]\nname = \"b\"\n"},
        {"op": "replace", "node": "ruff.toml::(preamble)", "text": "line-length = 100\n"},
        {"op": "replace", "node": "sub/other.toml::x", "text": "[x]\ny = 2\n"},
    ])
    before = Snapshot.take(repo)
    res = astm("apply", "bump", "--plan", str(plan), "--branch", "multi", cwd=repo)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="multi")
    assert git(repo, "rev-list", "--count", "HEAD..multi") == "1"
    assert git(repo, "diff", "--name-only", "HEAD", "multi").split() == ["pyproject.toml", "ruff.toml", "sub/other.toml"]


def test_symlinked_target_is_refused(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {"real.toml": "[a]\n"})
    os.symlink("real.toml", repo / "link.toml")
    git(repo, "add", "link.toml")
    git(repo, "commit", "-qm", "link")
    plan = write_plan(tmp_path / "p.json", [{"op": "replace", "node": "link.toml::a", "text": "[a]\nx=1\n"}])
    res = astm("apply", "x", "link.toml", "--plan", str(plan), cwd=repo)
    assert res.code == 2 and "symbolic link" in res.err


def test_runs_and_gc(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    assert astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), cwd=demo_repo).code == 0
    res = astm("runs", cwd=demo_repo)
    assert "landed" in res.out
    assert "nothing to clean" in astm("gc", cwd=demo_repo).out  # young run refs are kept
    res = astm("gc", "--max-age", "0", cwd=demo_repo)
    assert "removed run ref refs/astm/runs/" in res.out
    assert not git(demo_repo, "for-each-ref", "refs/astm/")
    assert git(demo_repo, "rev-parse", "--verify", "astm/add-requests-as-a-dependency-and-configure")


def test_gc_removes_leftovers_of_a_dead_run_only(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    from astm.workspace import runs
    from astm.workspace.repo import Repo
    from astm.workspace.sandbox import open_sandbox

    repo = Repo.open(demo_repo)
    head = repo.repo.head.target
    dead_run, live_run, orphan_run = "20260101-000000-dead00", "20260101-000000-11fe00", "20260101-000000-0af000"
    dead = runs.RunRecord(run=dead_run, intent="x", base=str(head), pid=2**22 + 12345)
    dead.save(repo)
    live = runs.RunRecord(run=live_run, intent="x", base=str(head))  # this process: alive
    live.save(repo)
    box_dead = open_sandbox(repo, dead_run, 1, head)
    box_live = open_sandbox(repo, live_run, 1, head)
    orphan = open_sandbox(repo, orphan_run, 1, head)  # a crash before its record was written
    for box in (box_dead, orphan):  # their process is gone (a kept sandbox's live one is not: depot.py)
        marker = repo.common / "worktrees" / box.path.name / "astm-sandbox.json"
        marker.write_text(marker.read_text().replace(f'"pid": {os.getpid()}', '"pid": 4206624'))
    try:
        res = astm("gc", cwd=demo_repo)
        assert res.code == 0
        assert not box_dead.path.exists() and not orphan.path.exists()
        assert box_live.path.exists()
        assert (repo.common / "worktrees" / box_live.path.name / "HEAD").read_text() == f"{head}\n"  # detached
    finally:
        box_live.close()
    assert git(demo_repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_dotted_sibling_keys_are_not_ancestors(demo_repo: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    # [project.optional-dependencies] is a sibling of [project], not its child.
    plan = write_plan(tmp_path / "p.json", [{
        "op": "replace", "node": "pyproject.toml::project.optional-dependencies",
        "text": "[project.optional-dependencies]\ntest = []\n",
    }])
    res = astm("apply", "x", "--plan", str(plan), "--json", "--dry-run", cwd=demo_repo)
    ids = [n["id"] for n in json.loads(res.out)["nodes"]]
    assert ids == ["pyproject.toml::project.optional-dependencies"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"op": "replace", "node": "pyproject.toml", "text": "x = 1\n"}, "edit its nodes instead"),
        ({"op": "insert", "parent": "pyproject.toml::project", "position": "end", "text": "[x]\n"}, "takes no children"),
    ],
)
def test_plans_that_could_not_act_are_refused_up_front(demo_repo: Path, tmp_path: Path, edit: dict, message: str, astm) -> None:  # type: ignore[no-untyped-def]
    res = astm("apply", "x", "--plan", str(write_plan(tmp_path / "p.json", [edit])), cwd=demo_repo)
    assert res.code == 2 and message in res.err


def test_an_invalid_sibling_file_does_not_block_the_run(demo_repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    (demo_repo / "broken.toml").write_bytes(b"[a\n")
    git(demo_repo, "add", "broken.toml")
    git(demo_repo, "commit", "-qm", "broken")
    res = astm("apply", INTENT, "--plan", str(DEMO / "plan.json"), "--json", cwd=demo_repo)
    assert res.code == 0, res.err
    assert any("skipped broken.toml" in n for n in json.loads(res.out)["notices"])
    res = astm("apply", INTENT, "broken.toml", "--plan", str(DEMO / "plan.json"), cwd=demo_repo)
    assert res.code == 2 and "broken.toml" in res.err
