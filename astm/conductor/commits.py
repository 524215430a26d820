"""A track's commits: each ticket's message, its result read from the engine's event, and
the result a ticket's ref keeps."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pygit2

from astm.workspace import git
from astm.workspace.chain import result_ref

if TYPE_CHECKING:
    from astm.conductor.models import Ticket, Track
    from astm.workspace.repo import Repo


def message_of(track: Track, t: Ticket) -> str:
    subject = " ".join((t.title or t.prompt).split())
    subject = subject[0].upper() + subject[1:] if subject else t.id
    if len(subject) > 72:
        subject = subject[:71].rstrip() + "…"
    body = " ".join(t.prompt.split())
    runs = [a.run for a in t.history if a.run and a.outcome == "done"]
    trailers = [f"Astm-Track: {track.id}", f"Astm-Ticket: {t.id} ({t.archetype})"]
    if runs:
        trailers.append(f"Astm-Run: {runs[-1]}")
    return f"{subject}\n\n{body}\n\n" + "\n".join(trailers) + "\n"


def result_commit(repo: Repo, short: str, base: str) -> str | None:
    """The full id of a ticket's result from the engine's ``landed`` event (its short id):
    a commit whose only parent is the ticket's base; None otherwise (the run's return
    then says)."""
    if not re.fullmatch(r"[0-9a-f]{7,40}", short):
        return None
    with git.LOCK:
        try:
            obj = repo.repo.revparse_single(short)
        except (KeyError, ValueError, pygit2.GitError):
            return None
        if not isinstance(obj, pygit2.Commit) or [str(p) for p in obj.parent_ids] != [base]:
            return None
        return str(obj.id)


def kept_result(repo: Repo, track: str, ticket: str) -> str | None:
    """The commit kept at a ticket's result ref, if any."""
    with git.LOCK:
        ref = repo.repo.references.get(result_ref(track, ticket))
        if ref is None:
            return None
        try:
            obj = ref.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError):
            return None
        return str(obj.id)
