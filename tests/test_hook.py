"""`astm hook`: check mode, repair mode, install/uninstall, and real `git commit`s through it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import GIT_ENV, Snapshot, git, make_repo

openai_server = loopback.openai_server

PYPROJECT = """\
[project]
name = "shop"
version = "1.0"

[tool.ruff]
line-length = 100
"""
SHOP = """\
import os


def total(items):
    return sum(i.price for i in items)


def count(items):
    return len(items)
"""
BROKEN_TOML = PYPROJECT.replace("line-length = 100", "line-length = = 100")
BROKEN_PY = SHOP.replace("return sum(i.price for i in items)", "return sum(i.price for i in items")
FIXED_TABLE = "[tool.ruff]\nline-length = 100\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT, "shop.py": SHOP})


def stage(repo: Path, files: dict[str, str | bytes]) -> None:
    for rel, data in files.items():
        f = repo / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data.encode() if isinstance(data, str) else data)
    git(repo, "add", "--", *files)


def commit(
    repo: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A real ``git commit`` (hooks run), as a user types it. git sends a hook's stdout to
    stderr, so everything astm prints is in ``stderr``."""
    return subprocess.run(
        ["git", "commit", "-q", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV, **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


# ---- check mode ------------------------------------------------------------------------


def test_check_reports_node_line_message_and_caret_and_touches_nothing(repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    stage(repo, {"pyproject.toml": BROKEN_TOML, "shop.py": BROKEN_PY})
    before = Snapshot.take(repo)
    res = astm("hook", "run", cwd=repo)
    assert res.code == 1, res.out + res.err
    before.assert_unchanged(repo)
    assert "pyproject.toml::tool.ruff (line 6): Invalid value [tomllib]" in res.out
    assert "  6 | line-length = = 100\n    |               ^\n" in res.out
    assert "shop.py::total (line 5): '(' was never closed [compile]" in res.out
    assert "  5 |     return sum(i.price for i in items\n    |               ^\n" in res.out
    assert "2 problems in 2 changed nodes; the commit is blocked" in res.out


def test_only_changed_nodes_count(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    # HEAD already has problems: an unused variable (ruff F841) and a broken table.
    old_py = "def a():\n    x = 1\n    return 2\n\n\ndef b():\n    return 3\n"
    old_toml = "[a]\nx = = 1\n\n[b]\ny = 1\n"
    repo = make_repo(tmp_path / "r", {"m.py": old_py, "c.toml": old_toml})
    stage(
        repo,
        {
            "m.py": old_py.replace("return 3", "return 4"),
            "c.toml": old_toml.replace("y = 1", "y = 2"),
        },
    )
    res = astm("hook", "run", cwd=repo)
    assert res.code == 0, res.out + res.err
    # Touching the node that holds the problem makes it count.
    stage(repo, {"m.py": old_py.replace("return 2", "return 5")})
    res = astm("hook", "run", cwd=repo)
    assert res.code == 1
    assert "m.py::a (line 2): F841" in res.out and "[ruff]" in res.out


def test_ruff_problem_in_a_changed_method_names_the_method(repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    stage(
        repo, {"svc.py": "class Svc:\n    def run(self):\n        unused = 1\n        return 2\n"}
    )
    res = astm("hook", "run", cwd=repo)
    assert res.code == 1
    assert "svc.py::Svc.run (line 3): F841 Local variable `unused`" in res.out


def test_only_staged_content_counts(repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    # Staged broken, fixed in the working tree: the commit would record the broken text.
    stage(repo, {"pyproject.toml": BROKEN_TOML})
    (repo / "pyproject.toml").write_text(PYPROJECT)
    assert astm("hook", "run", cwd=repo).code == 1
    # Staged fine (as `git add -p` would leave it), broken only in the working tree.
    stage(repo, {"pyproject.toml": PYPROJECT.replace("1.0", "1.1")})
    (repo / "pyproject.toml").write_text(BROKEN_TOML)
    assert astm("hook", "run", cwd=repo).code == 0


def test_files_argument_limits_the_check(repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    stage(repo, {"pyproject.toml": BROKEN_TOML, "shop.py": BROKEN_PY})
    res = astm("hook", "run", "shop.py", cwd=repo)
    assert res.code == 1 and "shop.py::total" in res.out and "pyproject.toml" not in res.out


@pytest.mark.parametrize(
    "case",
    ["nothing-staged", "deletion", "rename", "binary", "unknown-kind", "symlink"],
)
def test_bad_input_that_passes(repo: Path, astm, case: str) -> None:  # type: ignore[no-untyped-def]
    if case == "deletion":
        git(repo, "rm", "-q", "shop.py")
    elif case == "rename":
        git(repo, "mv", "shop.py", "store.py")
    elif case == "binary":
        stage(repo, {"blob.py": b"\x00\x01def (((\n", "data.toml": b"\x00[[[\n"})
    elif case == "unknown-kind":
        stage(repo, {"notes.txt": "def (((\n", "x.json": "{{{"})
    elif case == "symlink":
        (repo / "link.toml").symlink_to("pyproject.toml")
        git(repo, "add", "link.toml")
    before = Snapshot.take(repo)
    res = astm("hook", "run", cwd=repo)
    assert res.code == 0, res.out + res.err
    assert res.out == ""
    before.assert_unchanged(repo)


def test_rename_keeps_node_history(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    old = "def a():\n    x = 1\n    return 2\n\n\ndef b():\n    return 3\n" + "\n# padding\n" * 5
    repo = make_repo(tmp_path / "r", {"m.py": old})
    git(repo, "mv", "m.py", "n.py")
    stage(repo, {"n.py": old.replace("return 3", "return 4")})
    res = astm("hook", "run", cwd=repo)
    assert res.code == 0, res.out  # a()'s old problem did not move into the commit


def test_not_utf8_fails_at_the_file(repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    stage(repo, {"pyproject.toml": PYPROJECT.encode() + b"# caf\xe9\n"})
    res = astm("hook", "run", cwd=repo)
    assert res.code == 1
    assert "pyproject.toml: not UTF-8 (byte" in res.out and "[utf-8]" in res.out


def test_outside_a_repository_is_a_clear_error(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    res = astm("hook", "run", cwd=tmp_path)
    assert res.code == 2
    assert res.err.startswith("astm: error: not a git repository")


def test_merge_in_progress_counts_only_the_committers_nodes(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    base = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"
    repo = make_repo(tmp_path / "r", {"m.py": base, "other.py": "x = 1\n"})
    git(repo, "checkout", "-q", "-b", "topic")
    stage(
        repo, {"other.py": "def h():\n    unused = 1\n    return 0\n"}
    )  # F841, from the other side
    git(repo, "commit", "-q", "-m", "topic")
    git(repo, "checkout", "-q", "main")
    stage(repo, {"m.py": base.replace("return 1", "return 10")})
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "topic")
    res = astm("hook", "run", cwd=repo)
    assert res.code == 0, res.out  # h() came from topic unchanged
    stage(repo, {"other.py": "def h():\n    unused = 2\n    return 0\n"})  # the committer's edit
    res = astm("hook", "run", "--fix", cwd=repo)
    assert res.code == 1 and "other.py::h (line 2): F841" in res.out
    assert "cannot repair: a merge is in progress" in res.err


def test_extension_check_blocks_with_its_hint(
    repo: Path, astm, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from astm.hook import checks
    from astm.hook.finding import Finding

    def stale(view: Any, files: list[Any]) -> list[Finding]:
        return [
            Finding(
                f.path,
                f.path,
                None,
                None,
                "generated from an older spec",
                "spec-freshness",
                hint=f"astm spec refresh {f.path}",
            )
            for f in files
            if f.path == "shop.py"
        ]

    monkeypatch.setitem(checks.REGISTRY, "spec-freshness", stale)
    stage(repo, {"shop.py": SHOP + "\n\ndef more():\n    return 1\n"})
    res = astm("hook", "run", cwd=repo)
    assert res.code == 1
    assert (
        "shop.py: generated from an older spec [spec-freshness]\n  hint: astm spec refresh shop.py"
        in res.out
    )


def test_config_can_switch_ruff_off(repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    stage(
        repo,
        {
            "pyproject.toml": PYPROJECT + "\n[tool.astm.hook]\nvalidators = []\n",
            "svc.py": "def run():\n    unused = 1\n",
        },
    )
    assert astm("hook", "run", cwd=repo).code == 0
    (repo / "pyproject.toml").write_text(PYPROJECT + "\n[tool.astm.hook]\nfixx = true\n")
    res = astm("hook", "run", cwd=repo)
    assert res.code == 2 and "[tool.astm.hook] has no setting 'fixx'" in res.err


def test_hook_path_imports_no_model_client_and_no_rich(repo: Path) -> None:
    stage(repo, {"pyproject.toml": BROKEN_TOML})
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "astm", "hook", "run"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    for heavy in ("openai", "rich", "httpx", "astm.engine"):
        assert heavy not in imported, heavy


# ---- install / uninstall ---------------------------------------------------------------


def test_install_keeps_the_old_hook_runs_it_first_and_uninstall_restores_it(
    repo: Path, astm
) -> None:  # type: ignore[no-untyped-def]
    hooks = repo / ".git" / "hooks"
    old = b'#!/bin/sh\necho legacy-ran >> "$(git rev-parse --git-dir)/legacy.log"\n'
    (hooks / "pre-commit").write_bytes(old)
    (hooks / "pre-commit").chmod(0o750)
    res = astm("hook", "install", cwd=repo)
    assert res.code == 0, res.err
    assert (hooks / "pre-commit.astm-chained").read_bytes() == old
    script = (hooks / "pre-commit").read_bytes()
    assert b"# astm-hook-template: 2" in script and repr(sys.executable)[1:-1].encode() in script
    assert (hooks / "pre-commit").stat().st_mode & stat.S_IXUSR
    # Idempotent: installing again refreshes astm's shim, the legacy hook stays as it was.
    res = astm("hook", "install", cwd=repo)
    assert res.code == 0 and "refreshed" in res.out
    assert (hooks / "pre-commit.astm-chained").read_bytes() == old
    assert sorted(
        p.name
        for p in hooks.iterdir()
        if p.name.startswith("pre-commit") and not p.name.endswith(".sample")
    ) == ["pre-commit", "pre-commit.astm-chained"]
    # The legacy hook runs first, once per commit, and astm after it.
    stage(repo, {"pyproject.toml": PYPROJECT.replace("1.0", "1.1")})
    assert commit(repo, "-m", "ok").returncode == 0
    assert (repo / ".git" / "legacy.log").read_text() == "legacy-ran\n"
    res = astm("hook", "uninstall", cwd=repo)
    assert res.code == 0 and "restored" in res.out
    assert (hooks / "pre-commit").read_bytes() == old
    assert stat.S_IMODE((hooks / "pre-commit").stat().st_mode) == 0o750
    assert not (hooks / "pre-commit.astm-chained").exists()
    assert astm("hook", "uninstall", cwd=repo).code == 2  # not astm's: left alone


def test_uninstall_without_a_previous_hook_removes_it(repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    assert astm("hook", "install", cwd=repo).code == 0
    assert astm("hook", "uninstall", cwd=repo).code == 0
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert "nothing to do" in astm("hook", "uninstall", cwd=repo).out


def test_core_hooks_path_refuses_with_the_command_or_installs_there(repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    git(repo, "config", "core.hooksPath", ".githooks")
    res = astm("hook", "install", cwd=repo)
    assert res.code == 2
    assert "core.hooksPath is set ('.githooks')" in res.err
    assert "`astm hook install --hooks-path`" in res.err
    assert "`git config --unset core.hooksPath`" in res.err
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    res = astm("hook", "install", "--hooks-path", cwd=repo)
    assert res.code == 0, res.err
    assert (repo / ".githooks" / "pre-commit").is_file()
    stage(repo, {"pyproject.toml": BROKEN_TOML})
    proc = commit(repo, "-m", "broken")
    assert proc.returncode != 0 and "pyproject.toml::tool.ruff (line 6)" in proc.stderr


# ---- real commits ----------------------------------------------------------------------


@pytest.fixture
def hooked(tmp_path: Path, astm) -> Path:  # type: ignore[no-untyped-def]
    repo = make_repo(
        tmp_path / "my shop", {"pyproject.toml": PYPROJECT, "shop.py": SHOP}
    )  # a space
    assert astm("hook", "install", cwd=repo).code == 0
    return repo


def test_commit_is_blocked_then_passes(hooked: Path) -> None:
    stage(hooked, {"pyproject.toml": BROKEN_TOML, "shop.py": BROKEN_PY})
    head = git(hooked, "rev-parse", "HEAD")
    proc = commit(hooked, "-m", "broken")
    assert proc.returncode == 1
    assert "shop.py::total (line 5): '(' was never closed" in proc.stderr
    assert git(hooked, "rev-parse", "HEAD") == head
    stage(
        hooked, {"pyproject.toml": PYPROJECT.replace("1.0", "1.1"), "shop.py": SHOP + "\nX = 1\n"}
    )
    proc = commit(hooked, "-m", "fine")
    assert proc.returncode == 0, proc.stderr
    assert git(hooked, "rev-parse", "HEAD^") == head


def test_commit_all_and_commit_paths_check_what_git_commits(hooked: Path) -> None:
    # `commit -a`: the index git builds (.git/index.lock) holds the broken working tree.
    (hooked / "pyproject.toml").write_text(BROKEN_TOML)
    proc = commit(hooked, "-a", "-m", "all")
    assert proc.returncode == 1 and "pyproject.toml::tool.ruff" in proc.stderr
    # `commit PATHS`: a temporary index of just those paths (next-index-*.lock).
    (hooked / "shop.py").write_text(SHOP.replace("len(items)", "len(items) + 0"))
    proc = commit(hooked, "-m", "only shop", "shop.py")
    assert proc.returncode == 0, proc.stderr
    assert git(hooked, "show", "--name-only", "--format=", "HEAD") == "shop.py"


def test_commit_after_add_patch_counts_only_the_staged_hunk(hooked: Path) -> None:
    lines = [f"k{i} = {i}" for i in range(12)]
    toml = "[a]\n" + "\n".join(lines) + "\n"
    stage(hooked, {"c.toml": toml})
    assert commit(hooked, "-m", "c").returncode == 0
    # Two hunks: a fine edit at the top, a broken one at the bottom; stage only the first.
    (hooked / "c.toml").write_text(
        toml.replace("k0 = 0", "k0 = 100").replace("k11 = 11", "k11 = = 11")
    )
    proc = subprocess.run(
        ["git", "add", "-p", "c.toml"],
        cwd=hooked,
        input="y\nn\n",
        text=True,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "k11 = = 11" not in git(hooked, "show", ":c.toml")
    proc = commit(hooked, "-m", "top hunk only")
    assert proc.returncode == 0, proc.stderr
    # The other way round: the broken hunk staged, the fine one not.
    git(hooked, "reset", "-q", "HEAD~1")
    proc = subprocess.run(
        ["git", "add", "-p", "c.toml"],
        cwd=hooked,
        input="n\ny\n",
        text=True,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    proc = commit(hooked, "-m", "bottom hunk only")
    assert proc.returncode == 1 and "c.toml::a (line 13): Invalid value" in proc.stderr


def test_commit_from_a_linked_worktree(hooked: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    wt = tmp_path / "linked tree"
    git(hooked, "worktree", "add", "-q", str(wt), "-b", "side")
    # Installing from the linked worktree finds the same, shared hook.
    res = astm("hook", "install", cwd=wt)
    assert res.code == 0 and f"refreshed {hooked / '.git' / 'hooks' / 'pre-commit'}" in res.out
    stage(wt, {"pyproject.toml": BROKEN_TOML})
    proc = commit(wt, "-m", "broken")
    assert proc.returncode == 1 and "pyproject.toml::tool.ruff (line 6)" in proc.stderr
    stage(wt, {"pyproject.toml": PYPROJECT.replace("shop", "shop2")})
    proc = commit(wt, "-m", "fine")
    assert proc.returncode == 0, proc.stderr
    assert "side" in git(wt, "log", "-1", "--format=%D")


# ---- repair mode -----------------------------------------------------------------------


@pytest.fixture
def model(
    monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer
) -> loopback.LoopbackServer:
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    openai_server.responder = lambda body: FIXED_TABLE
    return openai_server


def test_fix_writes_the_working_tree_only_and_prints_the_diff(repo: Path, astm, model) -> None:  # type: ignore[no-untyped-def]
    stage(repo, {"pyproject.toml": BROKEN_TOML})
    index = (repo / ".git" / "index").read_bytes()
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/heads")
    res = astm("hook", "run", "--fix", cwd=repo)
    assert res.code == 1, res.err
    assert (repo / "pyproject.toml").read_text() == PYPROJECT
    assert (repo / ".git" / "index").read_bytes() == index  # never the index
    assert git(repo, "show", ":pyproject.toml") + "\n" == BROKEN_TOML
    assert "-line-length = = 100\n+line-length = 100" in res.out
    assert "files were modified by this hook: pyproject.toml" in res.err
    # The landed branch was read and deleted; sandboxes are gone; the run ref stays for gc.
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/heads") == refs
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/astm/runs").startswith(
        "refs/astm/runs/"
    )
    # The model was asked for that node, with the diagnostic and the staged text.
    gen = [r.body for r in model.requests]
    assert len(gen) == 1
    prompt = str(gen[0]["messages"])
    assert "make this node pass: line 2: Invalid value (tomllib)" in prompt
    assert "line-length = = 100" in prompt
    # Staging the repair lets the commit through.
    git(repo, "add", "pyproject.toml")
    assert astm("hook", "run", cwd=repo).code == 0


def test_fix_never_overwrites_unstaged_changes(repo: Path, astm, model) -> None:  # type: ignore[no-untyped-def]
    stage(repo, {"pyproject.toml": BROKEN_TOML})
    mine = BROKEN_TOML + "\n# my unstaged note\n"
    (repo / "pyproject.toml").write_text(mine)
    res = astm("hook", "run", "--fix", cwd=repo)
    assert res.code == 1
    assert (repo / "pyproject.toml").read_text() == mine
    assert "has unstaged changes, so it was left alone; the repair is saved as " in res.err
    patch = Path(res.err.split("saved as ")[1].split(" (apply")[0])
    assert patch.is_file() and patch.is_relative_to(repo / ".git")
    check = subprocess.run(
        ["git", "apply", "--check", "--cached", str(patch)],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_fix_without_a_model_says_so_and_blocks(repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    stage(repo, {"pyproject.toml": BROKEN_TOML})
    res = astm("hook", "run", "--fix", cwd=repo)
    assert res.code == 1
    assert "pyproject.toml::tool.ruff (line 6)" in res.out
    assert "cannot repair: no model configured" in res.err
    assert (repo / "pyproject.toml").read_text() == BROKEN_TOML


def test_fix_from_config_in_a_real_commit_runs_astm_exactly_once(hooked: Path, model) -> None:  # type: ignore[no-untyped-def]
    hooks = hooked / ".git" / "hooks"
    # A counter in front of astm: it runs once per hook invocation.
    (hooks / "pre-commit.astm-chained").write_text(
        '#!/bin/sh\necho run >> "$(git rev-parse --git-dir)/runs.log"\n'
    )
    (hooks / "pre-commit.astm-chained").chmod(0o755)
    config = PYPROJECT + "\n[tool.astm.hook]\nfix = true\n"
    stage(hooked, {"pyproject.toml": config})
    assert commit(hooked, "-m", "repair on").returncode == 0
    # Broken, the file's own settings cannot be read: HEAD's (fix = true) apply.
    stage(hooked, {"pyproject.toml": config.replace("line-length = 100", "line-length = = 100")})
    proc = commit(hooked, "-m", "broken")
    assert proc.returncode == 1, proc.stderr
    log = hooked / ".git" / "runs.log"
    assert log.read_text() == "run\nrun\n", proc.stderr  # sandbox commits ran no hook
    assert (hooked / "pyproject.toml").read_text() == config, proc.stderr
    assert "files were modified by this hook" in proc.stderr
    git(hooked, "add", "pyproject.toml")
    proc = commit(hooked, "-m", "repaired", "--allow-empty")
    assert proc.returncode == 0, proc.stderr
    assert log.read_text() == "run\n" * 3


def test_fix_repairs_a_broken_python_function_and_keeps_what_it_swallowed(
    repo: Path, astm, model
) -> None:  # type: ignore[no-untyped-def]
    # The unclosed bracket makes tree-sitter run total() on over count(); the repair must
    # rebuild total() alone.
    stage(repo, {"shop.py": BROKEN_PY})
    model.responder = lambda body: "def total(items):\n    return sum(i.price for i in items)\n"
    res = astm("hook", "run", "--fix", cwd=repo)
    assert res.code == 1, res.err
    assert "files were modified by this hook: shop.py" in res.err, res.err
    assert (repo / "shop.py").read_text() == SHOP
    prompt = str(model.requests[0].body["messages"])
    assert "make this node pass: line 2: '(' was never closed (compile)" in prompt
    staged_text = prompt.split("The staged text")[1].split("Rewrite that text")[0]
    assert "def total" in staged_text and "def count" not in staged_text
    # Broken twice over: no stand-in parses, so nothing is written.
    both = BROKEN_PY.replace("return len(items)", "return len(items")
    stage(repo, {"shop.py": both})
    res = astm("hook", "run", "--fix", cwd=repo)
    assert res.code == 1 and "could not repair shop.py" in res.err
    assert (repo / "shop.py").read_text() == both
