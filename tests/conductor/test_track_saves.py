"""A running track's file is written on a thread of its own (conductor/saver.py): the
latest state wins, a write error reaches the scheduler, and a run killed before its last
saves reached the disk loses no done ticket: its track resumes (it was left ``running``
by a process that is gone) and adopts the kept result. A live run's track is left alone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trackkit
from conftest import GIT_ENV, git
from trackkit import project, standard_tickets, track_id, write_plan

from astm import config as cfg
from astm.conductor import store
from astm.conductor.models import Attempt, RunningIn, Track
from astm.conductor.run import Runner, TrackFailed
from astm.conductor.saver import Saver
from astm.core.result import Event
from astm.llm.plan_provider import PlanProvider
from astm.workspace import chain
from astm.workspace.repo import Repo


def planned(tmp_path: Path) -> tuple[Repo, Track]:
    repo, track = trackkit.planned(tmp_path)
    store.save(repo, track)
    return repo, track


def runner(repo: Repo, track: Track, ran: list[str] | None = None) -> Runner:
    def on_event(e: Event) -> None:
        if ran is not None and " " not in e.node and e.state == "running":
            ran.append(e.node)

    return Runner(repo, track, cfg.load(repo.workdir), lambda p: PlanProvider(p),  # type: ignore[arg-type]
                  on_event=on_event)


def test_the_latest_state_is_written_and_a_write_error_reaches_the_caller(tmp_path: Path) -> None:
    repo, track = planned(tmp_path)
    saver = Saver(repo, track.id)
    for i in range(50):
        track.description = f"state {i}"
        saver.put(track)
    saver.flush()
    assert store.load(repo, track.id).description == "state 49"
    assert 1 <= saver.writes <= saver.puts == 50
    # The tracks directory becomes a file: the write fails, and the caller hears of it.
    d = store.tracks_dir(repo)
    moved = d.with_name("tracks-away")
    d.rename(moved)
    d.write_text("not a directory")
    track.description = "lost?"
    saver.put(track)
    with pytest.raises(OSError):
        saver.flush()
    d.unlink()
    moved.rename(d)
    saver.put(track)  # the next state is written whole
    saver.close()
    assert store.load(repo, track.id).description == "lost?"
    with pytest.raises(RuntimeError, match="closed"):
        saver.put(track)


def test_a_run_records_every_ticket_and_lands(tmp_path: Path) -> None:
    repo, track = planned(tmp_path)
    r = runner(repo, track)
    result = r.run()
    assert r.saver is not None and r.saver.writes <= r.saver.puts
    on_file = store.load(repo, track.id)
    assert on_file.status == "done" and on_file.branch == result.branch
    assert all(t.status == "done" and t.commit for t in on_file.tickets)
    assert [t.commit for t in on_file.tickets] == [t.commit for t in track.tickets]


def killed_after_stub(tmp_path: Path) -> tuple[Repo, str, str]:
    """A track whose stub was done and kept, but whose file still says it runs (as when
    the process was killed before the saver wrote the stub's end); the stub's commit."""
    repo, track = planned(tmp_path)
    for tid in ("tax", "net"):
        track.ticket(tid).block("later")
    with pytest.raises(TrackFailed):
        runner(repo, track).run()
    on_file = store.load(repo, track.id)
    stub = on_file.ticket("stub")
    commit = stub.commit
    assert stub.status == "done" and commit is not None
    assert git(repo.workdir, "rev-parse", chain.result_ref(track.id, "stub")) == commit
    stub.status, stub.commit, stub.history = "running", None, []  # the save that never was
    for tid in ("tax", "net"):
        on_file.ticket(tid).move("locked")
    on_file.status, on_file.running_in = "running", RunningIn(pid=dead_pid(), host=socket.gethostname())
    store.save(repo, on_file)
    return repo, on_file.id, commit


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_runs_kept_result_is_adopted_not_run_again(astm, tmp_path: Path) -> None:
    repo, tid, commit = killed_after_stub(tmp_path)
    listed = astm("track", "list", cwd=repo.workdir)
    assert listed.code == 0 and f"{tid}" in listed.out and "abandoned" in listed.out
    ran: list[str] = []
    track = store.load(repo, tid)
    result = runner(repo, track, ran).run()
    assert "stub" not in ran and sorted(ran) == ["gross", "net", "tax"]
    assert track.ticket("stub").commit == commit
    assert track.ticket("stub").history[-1].outcome == "done"
    assert git(repo.workdir, "rev-list", "--count", f"{track.base}..{result.branch}") == "4"


@pytest.mark.parametrize("why", ["rejected", "other base"])
def test_a_kept_result_a_review_rejected_or_on_another_base_runs_again(tmp_path: Path, why: str) -> None:
    repo, tid, commit = killed_after_stub(tmp_path)
    track = store.load(repo, tid)
    stub = track.ticket("stub")
    if why == "rejected":
        stub.history.append(Attempt(outcome="rejected", raw="no", hint="no"))
    else:
        stub.base = commit  # the ref's commit is not a child of this base
    store.save(repo, track)
    ran: list[str] = []
    runner(repo, store.load(repo, tid), ran).run()
    assert ran[0] == "stub"


def test_a_track_a_live_process_runs_is_left_alone(astm, tmp_path: Path) -> None:
    repo, tid, _ = killed_after_stub(tmp_path)
    track = store.load(repo, tid)
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        track.running_in = RunningIn(pid=live.pid, host=socket.gethostname())
        store.save(repo, track)
        res = astm("track", "run", tid, cwd=repo.workdir)
        assert res.code == 2, res.err
        assert f"track {tid} is being run by process {live.pid}" in res.err
        assert len(res.err.strip().splitlines()) == 1
        assert store.load(repo, tid).ticket("stub").status == "running"  # untouched
    finally:
        assert live.stdin is not None
        live.stdin.close()
        live.wait(timeout=30)


def test_a_run_killed_after_a_ticket_resumes_without_running_it_again(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    res = astm("track", "--plan", str(write_plan(tmp_path / "t.json", standard_tickets())), cwd=repo)
    assert res.code == 0, res.err
    tid = track_id(res.out)
    sandboxes = tmp_path / "sandboxes"  # the killed run's: gone with the test's folder
    sandboxes.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "astm", "track", "run", tid], cwd=repo,
        env={**os.environ, **GIT_ENV, "ASTM_PAUSE_AT": "ticket-done", "TMPDIR": str(sandboxes)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )
    seen = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the stub is done: its result is kept
            seen.append(line)
            if line.startswith("astm: paused at ticket-done "):
                break
        else:
            pytest.fail("".join(seen))
        proc.kill()  # no Ctrl-C handler runs, no save is flushed
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    again = astm("track", "run", tid, cwd=repo)
    assert again.code == 0, again.err
    assert "running   stub" not in again.err and "running   tax" in again.err
    track = store.load(Repo.open(repo), tid)
    assert track.status == "done" and track.running_in is None
    assert git(repo, "rev-list", "--count", f"{track.base}..{track.branch}") == "4"
