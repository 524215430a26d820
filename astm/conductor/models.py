"""Tracks and tickets as data: pydantic models and the transitions their status may take.

A **track** is a small DAG of **tickets**; each ticket is one engine run on named targets.
Status moves only along the documented transitions (docs/tracks.md); anything else raises
``IllegalTransition``. A track's graph invariants (unique ids, known dependencies, no
cycle) are checked here, so no invalid track can be built or loaded; the graph's rules
(which tickets are ready, cascades, orders) live in ``dag.py``.

Ticket transitions::

    locked  -> ready      every dependency is done
    ready   -> running    a worker took it
    running -> done       its result was approved (or trusted)
    running -> failed     its engine run failed (or the review rejected it too often)
    running -> ready      interrupted or rejected: it runs again
    failed  -> ready      ``astm track run`` again retries it
    failed  -> locked     ... once a dependency that must run again is done
    done    -> ready      its result commit is gone (pruned before the track landed)
    any but done -> blocked   with a reason (a dependency failed, or a manual block)
    blocked -> locked     unblocked: it waits for its dependencies again

Track transitions::

    planned -> running -> done
    running -> failed | interrupted      (and back to running on ``astm track run``)
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from astm.core.plan import Plan
from astm.errors import PlanError

TicketStatus = Literal["locked", "ready", "running", "done", "failed", "blocked"]
TrackStatus = Literal["planned", "running", "done", "failed", "interrupted"]
Archetype = Literal["contract_stubber", "implementer", "tester"]
ARCHETYPES: tuple[str, ...] = ("contract_stubber", "implementer", "tester")

TICKET_MOVES: dict[str, frozenset[str]] = {
    "locked": frozenset({"ready", "blocked"}),
    "ready": frozenset({"running", "blocked"}),
    "running": frozenset({"done", "failed", "ready", "blocked"}),
    "failed": frozenset({"ready", "locked", "blocked"}),
    "blocked": frozenset({"locked", "blocked"}),
    "done": frozenset({"ready"}),
}
TRACK_MOVES: dict[str, frozenset[str]] = {
    "planned": frozenset({"running"}),
    "running": frozenset({"done", "failed", "interrupted"}),
    "failed": frozenset({"running"}),
    "interrupted": frozenset({"running"}),
    "done": frozenset(),
}
TICKET_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,47}")
MANUAL = "manual: "  # prefix of a blocked_reason set by a person, not by a cascade


class IllegalTransition(ValueError):
    """A status change the documented transitions do not allow (a bug, or a stale file)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class WorkerContext(_Model):
    """What one worker was given for a ticket: its model, settings and messages."""

    ticket: str
    model: str
    settings: dict[str, Any] = Field(default_factory=dict)
    messages: list[dict[str, str]] = Field(default_factory=list)


class Attempt(_Model):
    """One engine run of a ticket: its run id and outcome; a failure keeps the raw
    diagnostic and the short hint it became side by side (only the hint is fed back)."""

    run: str | None = None
    outcome: Literal["done", "failed", "rejected", "edited"]
    raw: str = ""
    hint: str = ""


class Ticket(_Model):
    id: str
    title: str = ""
    targets: list[str] = Field(min_length=1, description="files or node ids (path::qualified.name)")
    prompt: str = Field(min_length=1)
    archetype: Archetype = "implementer"
    status: TicketStatus = "locked"
    depends_on: list[str] = Field(default_factory=list)
    blocked_reason: str | None = None
    priority: int = 0
    attempts: int = 0
    plan: Plan | None = Field(default=None, description="answers standing in for the model")
    base: str | None = None  # the commit its last run started from
    commit: str | None = None  # its result: a commit whose tree is base + this ticket
    history: list[Attempt] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="review reasons and hints fed back")
    worker: WorkerContext | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not TICKET_ID.fullmatch(v):
            raise ValueError(f"ticket id {v!r}: use lower-case letters, digits, - and _ (max 48)")
        return v

    @property
    def files(self) -> list[str]:
        """The files its targets name (a node id's file part), in order, once each."""
        return list(dict.fromkeys(t.split("::", 1)[0] for t in self.targets))

    def move(self, to: TicketStatus, reason: str | None = None) -> None:
        """Change status along a documented transition; IllegalTransition otherwise."""
        if to not in TICKET_MOVES[self.status]:
            raise IllegalTransition(f"ticket {self.id}: {self.status} -> {to} is not allowed")
        if to == "blocked":
            if not reason:
                raise IllegalTransition(f"ticket {self.id}: a block needs a reason")
            self.blocked_reason = reason
        else:
            self.blocked_reason = None
        if to == "running":
            self.attempts += 1
        self.status = to

    def block(self, reason: str) -> None:
        """A manual block (kept across resumes until ``unblock``)."""
        self.move("blocked", MANUAL + reason)

    @property
    def manually_blocked(self) -> bool:
        return self.status == "blocked" and (self.blocked_reason or "").startswith(MANUAL)

    def intent(self) -> str:
        """The engine intent: the prompt, the node targets, and what reviews fed back."""
        text = self.prompt.strip()
        nodes = [t for t in self.targets if "::" in t]
        if nodes:
            text += "\nTargets: " + ", ".join(nodes)
        for note in self.notes:
            text += f"\nNote from a previous attempt: {note}"
        return text


class RunningIn(_Model):
    """The process running a track, recorded while the track's status is ``running``: a
    track left ``running`` by a process that is gone was killed, and may resume."""

    pid: int
    host: str


class Track(_Model):
    version: Literal[1] = 1
    id: str
    title: str
    description: str = ""
    intent: str = ""
    status: TrackStatus = "planned"
    tickets: list[Ticket] = Field(min_length=1)
    base: str | None = None  # the commit the track starts from (HEAD when planned)
    branch: str | None = None  # where it landed
    commit: str | None = None
    created: float = Field(default_factory=time.time)
    updated: float = Field(default_factory=time.time)
    running_in: RunningIn | None = None

    # On the tickets, not the model: a model validator would run again at every
    # assignment (``validate_assignment``), and a run stamps ``updated`` at every save.
    @field_validator("tickets")
    @classmethod
    def _graph(cls, tickets: list[Ticket]) -> list[Ticket]:
        check(tickets)
        return tickets

    def ticket(self, tid: str) -> Ticket:
        for t in self.tickets:
            if t.id == tid:
                return t
        raise KeyError(tid)

    def move(self, to: TrackStatus) -> None:
        if to not in TRACK_MOVES[self.status]:
            raise IllegalTransition(f"track {self.id}: {self.status} -> {to} is not allowed")
        self.status = to
        if to != "running":
            self.running_in = None
        self.updated = time.time()


# ---- graph invariants of a track (dag.py holds the rest of the graph rules) ----


def check(tickets: Sequence[Ticket]) -> None:
    """Duplicate ids, unknown or self dependencies and cycles: PlanError naming them."""
    seen: set[str] = set()
    for t in tickets:
        if t.id in seen:
            raise PlanError(f"duplicate ticket id {t.id!r}")
        seen.add(t.id)
    for t in tickets:
        for d in t.depends_on:
            if d == t.id:
                raise PlanError(f"ticket {t.id} depends on itself")
            if d not in seen:
                raise PlanError(f"ticket {t.id} depends on {d!r}, which is not a ticket of the track")
    cycle = find_cycle(tickets)
    if cycle:
        raise PlanError("dependency cycle: " + " -> ".join(cycle))


def find_cycle(tickets: Sequence[Ticket]) -> list[str] | None:
    """One cycle as ids ``[a, b, ..., a]``, or None (iterative DFS, unknown ids ignored)."""
    deps = {t.id: list(t.depends_on) for t in tickets}
    state: dict[str, int] = {}  # 1: on the stack, 2: finished
    for root in deps:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        state[root] = 1
        while stack:
            node, i = stack[-1]
            nexts = [d for d in deps[node] if d in deps]
            if i == len(nexts):
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            stack[-1] = (node, i + 1)
            nxt = nexts[i]
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, 0))
                path.append(nxt)
    return None
