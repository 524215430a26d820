"""A sandbox killed at any write of its life leaves only what ``astm gc`` removes whole.

The crash tests kill a run at an engine stage; the git threads that open and remove
sandboxes meanwhile are then wherever they are, so which half-made state a kill leaves
depends on the machine's load (issue 11: ``test_sigkill_at_each_stage_then_gc_and_next_run``
failed about one run in five under load). Here every write of a sandbox's life is a kill
point, before it and, for a file's creation, after it (the file made, nothing written):
after each kill ``gc`` must remove everything, list nothing as not astm's, and leave the
user's repository as it was. ``killpoint.py`` lives the life, in one forked child a point.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Snapshot, git, make_repo
from kit import PYPROJECT, env_for, fsck, leftovers, sandbox_dir, user_state_held

from astm.workspace import runs
from astm.workspace.repo import Repo

KILLPOINT = Path(__file__).with_name("killpoint.py")
MAX_WRITES = 1000  # a sandbox's life has about 40

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc/self/fd")


def test_gc_cleans_a_sandbox_killed_at_any_write(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    (repo / "notes.txt").write_text("uncommitted work\n")
    git(repo, "add", "notes.txt")
    sbx = sandbox_dir(tmp_path)
    before = Snapshot.take(repo)
    proc = subprocess.Popen(
        [sys.executable, str(KILLPOINT), str(repo)],
        cwd=repo, env=env_for(sbx), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    deadline = time.monotonic() + 300

    def ask(k: int, mode: str) -> str:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"{k} {mode}\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()

    def check(k: int, mode: str) -> None:
        report = runs.gc(Repo.open(repo), max_age_days=0)
        assert report.left == [], f"killed {mode} write {k}: gc left {report.left}"
        left = leftovers(repo, sbx)
        assert left == [], f"killed {mode} write {k}: {left}"
        assert not list((repo / ".git" / "astm" / "runs").glob(".*.tmp")), f"{mode} write {k}"
        assert time.monotonic() < deadline, "the kill points take too long"

    points = 0
    try:
        for k in range(1, MAX_WRITES):
            said = ask(k, "before")
            if said.startswith("done "):
                break
            assert said in ("killed c", "killed -"), f"write {k}: {said}"
            check(k, "before")
            points += 1
            if said == "killed c":  # a file's creation: also killed once it exists, empty
                assert ask(k, "after") == "killed c"
                check(k, "after")
                points += 1
        else:
            pytest.fail(f"a sandbox's life did not end within {MAX_WRITES} writes")
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    writes = int(said.split()[1])
    assert writes >= 20 and points > writes, (writes, points)  # every write, creations twice
    assert leftovers(repo, sbx) == []
    user_state_held(before, repo)
    assert git(repo, "worktree", "list", "--porcelain") == before.worktrees
    fsck(repo)
