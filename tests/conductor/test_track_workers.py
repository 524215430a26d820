"""A track's tickets in forked worker processes (conductor/workers.py): where they run,
a worker that dies, a Ctrl-C passed on to busy workers, a scheduler killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import GIT_ENV, Snapshot, git, run_subprocess
from trackkit import planned, project, standard_tickets, stderr_of, track_id, write_plan

from astm import config as cfg
from astm.conductor import dag, store, workers
from astm.conductor.config import TrackSettings
from astm.conductor.models import Ticket, Track
from astm.conductor.run import Runner, TrackFailed
from astm.core.plan import Plan
from astm.llm.base import GenerateRequest, Usage
from astm.llm.plan_provider import PlanProvider
from astm.workspace import runs
from astm.workspace.repo import Repo

pytestmark = pytest.mark.skipif(not workers.forks(), reason="tickets fork only where the platform forks safely")

TEST_PID = os.getpid()


class Marking(PlanProvider):
    """A plan provider that leaves a file named by the process it was made in."""

    def __init__(self, plan: Plan, where: Path) -> None:
        super().__init__(plan)
        (where / f"{os.getpid()}-{uuid.uuid4().hex}").touch()


class Dying(PlanProvider):
    """A plan provider whose worker process ends as it is asked (a crash outside Python)."""

    async def generate(self, req: GenerateRequest) -> tuple[str, Usage]:
        if os.getpid() != TEST_PID:
            os._exit(9)
        raise AssertionError("asked in the test's own process")


def _runner(tmp_path: Path, provider_for, processes: bool = True) -> tuple[Runner, Track, Repo]:  # type: ignore[no-untyped-def]
    repo, track = planned(tmp_path)
    runner = Runner(repo, track, cfg.load(repo.workdir), provider_for,
                    track_settings=TrackSettings(processes=processes))
    return runner, track, repo


@pytest.mark.parametrize("processes", [True, False])
def test_tickets_run_in_processes_of_their_own_unless_turned_off(tmp_path: Path, processes: bool) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    runner, track, repo = _runner(tmp_path, lambda p: Marking(p, marks), processes)
    result = runner.run()
    assert result.branch == "astm/track-prices-with-tax"
    assert git(repo.workdir, "rev-list", "--count", f"{track.base}..{result.branch}") == "4"
    pids = {int(m.name.split("-")[0]) for m in marks.iterdir()}
    if processes:  # tax and net run at once, each in a worker; none in the scheduler
        assert len(pids) == 2 and TEST_PID not in pids
        for pid in pids:  # the workers have ended (and were waited for)
            with pytest.raises(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
    else:
        assert pids == {TEST_PID}
    assert git(repo.workdir, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_a_worker_that_dies_fails_its_ticket_by_name_and_the_rest_goes_on(tmp_path: Path) -> None:
    def provider_for(plan: Plan) -> PlanProvider:
        net = any("amount - tax" in getattr(e, "text", "") for e in plan.edits)
        return Dying(plan) if net else PlanProvider(plan)

    runner, track, repo = _runner(tmp_path, provider_for)
    with pytest.raises(TrackFailed) as caught:
        runner.run()
    assert "net" in str(caught.value)
    saved = store.load(repo, track.id)
    assert [saved.ticket(t).status for t in ("stub", "tax", "net", "gross")] == ["done", "done", "failed", "blocked"]
    why = saved.ticket("net").history[-1].raw
    assert why == "ticket net: its worker process ended (exit code 9)"
    # Its sandboxes were never removed (the process died): gc removes them, as any killed run's.
    report = runs.gc(repo, max_age_days=0)
    assert report is not None
    assert git(repo.workdir, "worktree", "list", "--porcelain").count("worktree ") == 1


def _start(tmp_path: Path, pause: str) -> tuple[subprocess.Popen[bytes], bytearray, Path, str, Path]:
    """``astm track run`` of the standard track, paused in a worker at ``pause``."""
    repo = project(tmp_path)
    planned = run_subprocess("track", "--plan", str(write_plan(tmp_path / "t.json", standard_tickets())), cwd=repo)
    tid = track_id(planned.out)
    sandboxes = tmp_path / "sandboxes"
    sandboxes.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "astm", "track", "run", tid], cwd=repo, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, **GIT_ENV, "ASTM_PAUSE_AT": pause, "TMPDIR": str(sandboxes)},
    )
    err, _ = stderr_of(proc)
    deadline = time.monotonic() + 60
    while b"astm: paused at" not in err and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert b"astm: paused at" in err, err.decode()
    return proc, err, repo, tid, sandboxes


def _paused_pid(err: bytearray) -> int:
    line = next(ln for ln in err.decode().splitlines() if ln.startswith("astm: paused at"))
    return int(line.rsplit("pid ", 1)[1].rstrip(")"))


def _gone(pid: int, seconds: float = 60) -> bool:
    """``pid`` has exited (a zombie nobody reaps counts: it runs nothing)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_ctrl_c_reaches_the_busy_workers_through_the_scheduler(tmp_path: Path) -> None:
    proc, err, repo, tid, sandboxes = _start(tmp_path, "validating")
    worker = _paused_pid(err)
    assert worker != proc.pid  # the pause is in a worker, not in the scheduler
    before = Snapshot.take(repo)
    proc.send_signal(signal.SIGINT)  # the scheduler alone: a worker is a process group of its own
    proc.wait(timeout=60)
    text = err.decode()
    assert proc.returncode == 130, text
    assert [ln for ln in text.splitlines() if ln.startswith("astm: error")] == [
        f"astm: error: interrupted; track {tid} keeps its done tickets: `astm track run {tid}` resumes"
    ]
    assert "Traceback" not in text
    assert _gone(worker)
    track = store.load(Repo.open(repo), tid)
    assert track.status == "interrupted" and track.ticket("stub").status == "ready"
    after = Snapshot.take(repo)
    assert (after.head, after.index, after.files, after.worktrees) == (before.head, before.index, before.files,
                                                                        before.worktrees)
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert [p.name for p in sandboxes.iterdir() if p.name.startswith("astm-") and "track" not in p.name] == []
    again = run_subprocess("track", "run", tid, cwd=repo)
    assert again.code == 0, again.err


def test_a_scheduler_killed_outright_stops_its_workers_and_they_clean_up(tmp_path: Path) -> None:
    proc, err, repo, tid, sandboxes = _start(tmp_path, "validating")
    worker = _paused_pid(err)
    proc.kill()  # no handler runs in the scheduler; the kernel tells the worker (PR_SET_PDEATHSIG)
    proc.wait(timeout=60)
    assert _gone(worker), err.decode()
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert [p.name for p in sandboxes.iterdir() if p.name.startswith("astm-") and "track" not in p.name] == []
    again = run_subprocess("track", "run", tid, cwd=repo)  # the killed run's track resumes
    assert again.code == 0, again.err


def test_width_is_the_largest_level_of_what_is_left() -> None:
    def t(tid: str, *deps: str) -> Ticket:
        return Ticket(id=tid, targets=["a.py"], prompt=tid, depends_on=list(deps))

    tickets = [t("stub"), t("tax", "stub"), t("net", "stub"), t("gross", "tax", "net")]
    assert dag.width(tickets) == 2
    assert dag.width(tickets[1:]) == 2  # stub done: tax and net are the first level now
    assert dag.width([tickets[3]]) == 1
    assert dag.width([t(f"t{i}") for i in range(5)]) == 5
    assert dag.width([]) == 0


def test_processes_is_read_from_the_track_table(tmp_path: Path) -> None:
    from astm.conductor.config import load
    from astm.errors import UsageError

    (tmp_path / "pyproject.toml").write_text("[tool.astm.track]\nprocesses = false\n")
    assert load(tmp_path).processes is False
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert load(tmp_path).processes is True
    (tmp_path / "pyproject.toml").write_text('[tool.astm.track]\nprocesses = "sometimes"\n')
    with pytest.raises(UsageError, match=r"\[tool.astm.track\] processes"):
        load(tmp_path)


def test_a_failing_event_sink_does_not_stall_the_track(tmp_path: Path) -> None:
    def broken(e) -> None:  # type: ignore[no-untyped-def]
        if " " in e.node:  # a worker's events, read on the scheduler's reader threads
            raise OSError("the terminal is gone")

    runner, track, repo = _runner(tmp_path, lambda p: PlanProvider(p))
    runner.events = broken
    result = runner.run()
    assert result.branch == "astm/track-prices-with-tax"
    assert git(repo.workdir, "rev-list", "--count", f"{track.base}..{result.branch}") == "4"


def test_no_process_to_be_had_runs_the_tickets_as_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    real_fork, forked = os.fork, []

    def fork() -> int:  # the second fork finds no process to be had
        if forked:
            raise OSError(11, "Resource temporarily unavailable")
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setattr(os, "fork", fork)
    marks = tmp_path / "marks"
    marks.mkdir()
    runner, _, _ = _runner(tmp_path, lambda p: Marking(p, marks))
    result = runner.run()
    assert result.branch == "astm/track-prices-with-tax"
    assert {int(m.name.split("-")[0]) for m in marks.iterdir()} == {TEST_PID}
    with pytest.raises(ChildProcessError):  # the one worker forked was ended and waited for
        os.waitpid(forked[0], os.WNOHANG)
    assert [p.name for p in temp.iterdir() if p.name.startswith("astm-track-")] == []
