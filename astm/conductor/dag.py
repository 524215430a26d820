"""The ticket graph: checks, ready tickets, cycles, cascades and orders (pure functions).

Edges point from a ticket to the tickets it ``depends_on``. Every function here reads or
moves ``Ticket`` objects only through ``Ticket.move``, so the transitions stay the
documented ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from astm.conductor.models import Ticket, Track, check, find_cycle
from astm.errors import PlanError

__all__ = [
    "cascade", "check", "dependents", "depth", "find_cycle", "ready", "resume", "stub_first",
    "topo_order", "unlock",
]


def dependents(track: Track, tid: str) -> list[str]:
    """Every ticket that depends on ``tid``, directly or transitively, in track order."""
    found: set[str] = set()
    frontier = {tid}
    while frontier:
        frontier = {t.id for t in track.tickets if set(t.depends_on) & frontier} - found
        found |= frontier
    return [t.id for t in track.tickets if t.id in found]


def unlock(track: Track) -> list[str]:
    """Move every locked ticket whose dependencies are all done to ready; their ids."""
    done = {t.id for t in track.tickets if t.status == "done"}
    moved = []
    for t in track.tickets:
        if t.status == "locked" and set(t.depends_on) <= done:
            t.move("ready")
            moved.append(t.id)
    return moved


def ready(track: Track) -> list[Ticket]:
    """The tickets that may start now: contract stubs first, then by priority (high first)."""
    unlock(track)
    out = [t for t in track.tickets if t.status == "ready"]
    order = {t.id: i for i, t in enumerate(track.tickets)}
    return sorted(out, key=lambda t: (t.archetype != "contract_stubber", -t.priority, order[t.id]))


def cascade(track: Track, tid: str) -> list[str]:
    """Block every transitive dependent of ``tid`` (failed or blocked) naming it; their ids."""
    source = track.ticket(tid)
    why = "failed" if source.status == "failed" else "is blocked"
    moved = []
    for did in dependents(track, tid):
        t = track.ticket(did)
        if t.status in ("done", "blocked", "running"):
            continue  # done stays done; a block keeps its first reason; running finishes
        t.move("blocked", f"depends on {tid}, which {why}")
        moved.append(did)
    return moved


def resume(track: Track) -> list[str]:
    """Before a new run: failed tickets become ready again, cascaded blocks lock again
    (a manual block stays), and running ones (a killed run) are ready. Their ids."""
    moved = []
    done = {t.id for t in track.tickets if t.status == "done"}
    for t in track.tickets:
        if t.status == "failed" and not set(t.depends_on) <= done:
            t.move("locked")  # a dependency runs again first (its result was pruned)
            moved.append(t.id)
        elif t.status in ("failed", "running"):
            t.move("ready")
            moved.append(t.id)
        elif t.status == "blocked" and not t.manually_blocked:
            t.move("locked")
            moved.append(t.id)
    unlock(track)
    return moved


def topo_order(tickets: Sequence[Ticket]) -> list[Ticket]:
    """Dependencies first; among the ready, contract stubs, then priority, then file order."""
    order = {t.id: i for i, t in enumerate(tickets)}
    left = {t.id: set(t.depends_on) for t in tickets}
    by_id = {t.id: t for t in tickets}
    out: list[Ticket] = []
    while left:
        free = [by_id[i] for i, deps in left.items() if not deps]
        if not free:
            raise PlanError("dependency cycle: " + " -> ".join(find_cycle(tickets) or []))
        free.sort(key=lambda t: (t.archetype != "contract_stubber", -t.priority, order[t.id]))
        pick = free[0]
        out.append(pick)
        del left[pick.id]
        for deps in left.values():
            deps.discard(pick.id)
    return out


def depth(tickets: Sequence[Ticket]) -> int:
    """The number of tickets on the longest dependency chain (the critical path's length)."""
    level: dict[str, int] = {}
    for t in topo_order(tickets):
        level[t.id] = 1 + max((level[d] for d in t.depends_on), default=0)
    return max(level.values(), default=0)


def width(tickets: Sequence[Ticket]) -> int:
    """How many of ``tickets`` can run at once, about: the largest level of their DAG (a
    ticket's level: one past the deepest of its dependencies among ``tickets``)."""
    ids = {t.id for t in tickets}
    level: dict[str, int] = {}
    for t in topo_order([t.model_copy(update={"depends_on": [d for d in t.depends_on if d in ids]})
                         for t in tickets]):
        level[t.id] = 1 + max((level[d] for d in t.depends_on), default=-1)
    return max(Counter(level.values()).values(), default=0)


def stub_first(tickets: Iterable[Ticket]) -> None:
    """Make every ticket that shares a file with a contract stub depend on that stub, so
    its worker sees the new signatures (called once, when a track is planned)."""
    items = list(tickets)
    stubs = [t for t in items if t.archetype == "contract_stubber"]
    for t in items:
        if t.archetype == "contract_stubber":
            continue
        for s in stubs:
            if set(s.files) & set(t.files) and s.id not in t.depends_on:
                t.depends_on.append(s.id)
