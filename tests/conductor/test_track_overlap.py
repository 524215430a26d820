"""What keeps a track near its critical path: a ticket's dependents start as soon as its
result commit exists (while its engine run still cleans up)."""

from __future__ import annotations

import threading
from pathlib import Path

from conftest import git
from trackkit import planned, project

from astm import config as cfg
from astm.conductor.commits import result_commit
from astm.conductor.run import Runner
from astm.core.result import Event
from astm.llm.plan_provider import PlanProvider
from astm.workspace.repo import Repo


def test_dependents_start_before_their_parents_engine_run_returns(tmp_path: Path) -> None:
    repo, track = planned(tmp_path)
    started = threading.Event()
    held: list[bool] = []

    def on_event(e: Event) -> None:
        if e.node in ("tax", "net") and e.state == "running":
            started.set()
        if e.node == "stub ." and e.state == "landed":
            # The stub's engine run is held here, after its commit and before it returns:
            # its dependents must start meanwhile (else this waits out its minute).
            held.append(started.wait(timeout=60))

    runner = Runner(repo, track, cfg.load(repo.workdir), lambda p: PlanProvider(p),  # type: ignore[arg-type]
                    on_event=on_event)
    result = runner.run()
    assert held == [True]
    assert result.branch == "astm/track-prices-with-tax"
    stub = track.ticket("stub")
    # The run's id reached the ticket's record once its run returned, and the commit.
    done = [a for a in stub.history if a.outcome == "done"]
    assert len(done) == 1 and done[0].run is not None
    for rev in ("~3", "~2", "~1", ""):
        assert "Astm-Run: " in git(repo.workdir, "log", "-1", "--format=%B", f"{result.branch}{rev}")
    assert result.notices == []


def test_result_commit_takes_only_a_commit_on_the_tickets_base(tmp_path: Path) -> None:
    repo_path = project(tmp_path)
    repo = Repo.open(repo_path)
    base = git(repo_path, "rev-parse", "HEAD")
    (repo_path / "x.txt").write_text("x\n")
    git(repo_path, "add", "x.txt")
    git(repo_path, "commit", "-q", "-m", "child")
    child = git(repo_path, "rev-parse", "HEAD")
    assert result_commit(repo, child[:10], base) == child
    assert result_commit(repo, base[:10], base) is None  # not a child of the base
    assert result_commit(repo, child[:10], child) is None
    assert result_commit(repo, "astm/branch", base) is None  # a detail that is no short id
    assert result_commit(repo, "0000000000", base) is None
