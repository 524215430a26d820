"""What a track's run says about the state it found and the state it leaves: the tickets
a killed run finished without recording, and the one line naming what is left to do."""

from __future__ import annotations

from collections.abc import Callable

from astm.conductor.commits import kept_result, result_commit
from astm.conductor.models import Attempt, Ticket, Track
from astm.workspace.repo import Repo


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
