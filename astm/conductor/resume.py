"""What a track's run says about the state it found and the state it leaves: whether a
track on file as running was killed, the tickets a killed run finished without recording,
and the one line naming what is left to do."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from astm.conductor.commits import kept_result, result_commit
from astm.conductor.models import Attempt, RunningIn, Ticket, Track
from astm.errors import UsageError
from astm.workspace.repo import Repo


def this_process() -> RunningIn:
    return RunningIn(pid=os.getpid(), host=socket.gethostname())


def alive(p: RunningIn) -> bool:
    """Whether the process lives (another host's: cannot tell, so it does)."""
    if p.host != socket.gethostname():
        return True
    try:
        os.kill(p.pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def shown_status(track: Track) -> str:
    """The status, with a killed run's ``running`` shown as ``abandoned``."""
    p = track.running_in
    if track.status == "running" and (p is None or not alive(p)):
        return "abandoned"
    return track.status


def reclaim(track: Track) -> None:
    """Before a run: a track on file as ``running`` is being run by a live process
    (UsageError naming it), or was left so by one that was killed: interrupted, then."""
    if track.status != "running":
        return
    p = track.running_in
    if p is not None and (p.pid, p.host) != (os.getpid(), socket.gethostname()) and alive(p):
        raise UsageError(f"track {track.id} is being run by process {p.pid} on {p.host}: "
                         "wait for it to end (or stop it with Ctrl-C)")
    track.move("interrupted")


def adopt(repo: Repo, track: Track, pauses: Callable[[Ticket], bool]) -> list[str]:
    """The tickets a killed run finished but had not recorded (its last saves were not
    written, conductor/saver.py): ``running`` on file, a kept result made on the base
    the file records, no review due (``pauses``) and nothing a review said since. They
    move to done with that result; their ids."""
    adopted = []
    for t in track.tickets:
        if t.status != "running" or t.base is None or pauses(t):
            continue
        if t.history and t.history[-1].outcome in ("rejected", "edited"):
            continue
        commit = kept_result(repo, track.id, t.id)
        if commit is None or result_commit(repo, commit, t.base) is None:
            continue
        t.commit = commit
        t.history.append(Attempt(run=None, outcome="done"))
        t.move("done")
        adopted.append(t.id)
    return adopted


def why(track: Track, left: list[Ticket]) -> str:
    """One line: the failed tickets (their last diagnostic), the blocked, the not run."""
    failed = [t for t in left if t.status == "failed"]
    parts = []
    for t in failed[:3]:
        last = next((a.raw for a in reversed(t.history) if a.outcome in ("failed", "rejected")), "")
        parts.append(f"ticket {t.id} failed: {last}")
    blocked = [t.id for t in left if t.status == "blocked"]
    if blocked:
        parts.append(f"blocked: {', '.join(blocked)}")
    others = [t.id for t in left if t.status not in ("failed", "blocked")]
    if others:
        parts.append(f"not run: {', '.join(others)}")
    return "; ".join(parts) + f"; fix and `astm track run {track.id}` resumes"
