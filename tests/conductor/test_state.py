"""State as data: every ticket and track transition, the DAG's ready set, cycles and cascades."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from astm.conductor import dag
from astm.conductor.models import (
    TICKET_MOVES,
    TRACK_MOVES,
    IllegalTransition,
    Ticket,
    Track,
    WorkerContext,
)
from astm.errors import PlanError


def tk(tid: str, *deps: str, **kw: Any) -> Ticket:
    return Ticket(id=tid, targets=kw.pop("targets", [f"{tid}.py"]), prompt=f"do {tid}",
                  depends_on=list(deps), **kw)


def track(*tickets: Ticket) -> Track:
    return Track(id="t-1", title="T", tickets=list(tickets))


# ---- tickets ----

ALL = ["locked", "ready", "running", "done", "failed", "blocked"]


@pytest.mark.parametrize("src", ALL)
@pytest.mark.parametrize("dst", ALL)
def test_every_ticket_transition_is_allowed_or_raises(src: str, dst: str) -> None:
    t = tk("a")
    t.status = src  # type: ignore[assignment]
    if dst in TICKET_MOVES[src]:
        t.move(dst, "why" if dst == "blocked" else None)  # type: ignore[arg-type]
        assert t.status == dst
        assert (t.blocked_reason == "why") == (dst == "blocked")
    else:
        with pytest.raises(IllegalTransition, match=f"ticket a: {src} -> {dst}"):
            t.move(dst, "why")  # type: ignore[arg-type]
        assert t.status == src


def test_block_needs_a_reason_and_running_counts_attempts() -> None:
    t = tk("a", status="ready")
    with pytest.raises(IllegalTransition, match="needs a reason"):
        t.move("blocked")
    t.move("running")
    t.move("ready")
    t.move("running")
    assert t.attempts == 2


def test_manual_block_survives_resume_cascaded_does_not() -> None:
    a, b, c = tk("a", status="ready"), tk("b", "a"), tk("c")
    tr = track(a, b, c)
    c.block("waiting for the API owner")
    assert c.manually_blocked and c.blocked_reason == "manual: waiting for the API owner"
    a.move("running")
    a.move("failed")
    assert dag.cascade(tr, "a") == ["b"]
    assert b.blocked_reason == "depends on a, which failed" and not b.manually_blocked
    assert sorted(dag.resume(tr)) == ["a", "b"]
    assert (a.status, b.status, c.status) == ("ready", "locked", "blocked")
    c.move("locked")
    assert c.blocked_reason is None


def test_ticket_validation_and_intent() -> None:
    with pytest.raises(ValidationError, match="ticket id 'Bad Id'"):
        tk("Bad Id")
    with pytest.raises(ValidationError):
        Ticket(id="a", targets=[], prompt="x")
    with pytest.raises(ValidationError):
        Ticket(id="a", targets=["a.py"], prompt="x", archetype="poet")  # type: ignore[arg-type]
    t = tk("a", targets=["src/x.py::Foo.bar", "src/x.py", "y.py"])
    assert t.files == ["src/x.py", "y.py"]
    t.notes.append("too broad")
    assert t.intent() == "do a\nTargets: src/x.py::Foo.bar\nNote from a previous attempt: too broad"
    assert tk("b").intent() == "do b"
    w = WorkerContext(ticket="a", model="plan", messages=[{"role": "user", "content": "x"}])
    assert w.model_dump()["messages"][0]["content"] == "x"


# ---- tracks ----


@pytest.mark.parametrize("src", list(TRACK_MOVES))
@pytest.mark.parametrize("dst", list(TRACK_MOVES))
def test_every_track_transition_is_allowed_or_raises(src: str, dst: str) -> None:
    tr = track(tk("a"))
    tr.status = src  # type: ignore[assignment]
    if dst in TRACK_MOVES[src]:
        tr.move(dst)  # type: ignore[arg-type]
        assert tr.status == dst
    else:
        with pytest.raises(IllegalTransition, match=f"track t-1: {src} -> {dst}"):
            tr.move(dst)  # type: ignore[arg-type]


def test_track_lookup() -> None:
    tr = track(tk("a"), tk("b"))
    assert tr.ticket("b").id == "b"
    with pytest.raises(KeyError):
        tr.ticket("zz")


# ---- the graph ----


def test_three_dependent_tickets_unlock_one_another_in_order() -> None:
    a, b, c = tk("a"), tk("b", "a"), tk("c", "b")
    tr = track(c, b, a)
    for expected in ("a", "b", "c"):
        assert [t.id for t in dag.ready(tr)] == [expected]
        t = tr.ticket(expected)
        t.move("running")
        assert dag.ready(tr) == []
        t.move("done")
    assert dag.ready(tr) == []
    assert all(t.status == "done" for t in tr.tickets)


def test_ready_orders_stubs_first_then_priority() -> None:
    tr = track(tk("low"), tk("high", priority=5), tk("stub", archetype="contract_stubber"))
    assert [t.id for t in dag.ready(tr)] == ["stub", "high", "low"]


@pytest.mark.parametrize(
    ("tickets", "message"),
    [
        ([tk("a"), tk("a")], "duplicate ticket id 'a'"),
        ([tk("a", "a")], "ticket a depends on itself"),
        ([tk("a", "zz")], "ticket a depends on 'zz', which is not a ticket"),
        ([tk("a", "c"), tk("b", "a"), tk("c", "b")], "dependency cycle: a -> c -> b -> a"),
    ],
)
def test_bad_graphs_are_named(tickets: list[Ticket], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        dag.check(tickets)
    with pytest.raises(PlanError, match=message):  # a track cannot even be built
        track(*tickets)
    good = track(tk("ok"))
    with pytest.raises(PlanError, match=message):  # nor given such tickets
        good.tickets = tickets


def test_find_cycle_shapes() -> None:
    assert dag.find_cycle([tk("a"), tk("b", "a"), tk("c", "a", "b")]) is None
    assert dag.find_cycle([tk("a", "ghost")]) is None  # unknown ids are check()'s business
    # A diamond visited twice, then a cycle off to the side.
    ts = [tk("a"), tk("b", "a"), tk("c", "a"), tk("d", "b", "c"), tk("x", "y"), tk("y", "x")]
    assert dag.find_cycle(ts) == ["x", "y", "x"]


def test_cascade_is_transitive_and_names_the_source() -> None:
    a, b, c, d, e = tk("a", status="running"), tk("b", "a"), tk("c", "b"), tk("d"), tk("e", "a")
    e.status = "done"
    tr = track(a, b, c, d, e)
    a.move("blocked", "manual: parked")
    assert dag.cascade(tr, "a") == ["b", "c"]
    assert c.blocked_reason == "depends on a, which is blocked"
    assert (d.status, e.status) == ("locked", "done")
    assert dag.cascade(tr, "a") == []  # blocked keep their first reason


def test_cascade_leaves_running_dependents() -> None:
    a, b = tk("a", status="failed"), tk("b", "a", status="running")
    assert dag.cascade(track(a, b), "a") == []


def test_topo_order_depth_and_stub_first() -> None:
    ts = [tk("t", "i", archetype="tester"), tk("i", targets=["m.py"]),
          tk("s", targets=["m.py::f"], archetype="contract_stubber"), tk("z", targets=["m.py"])]
    dag.stub_first(ts)
    assert ts[1].depends_on == ["s"] and ts[3].depends_on == ["s"] and ts[0].depends_on == ["i"]
    dag.stub_first(ts)  # idempotent
    assert ts[1].depends_on == ["s"]
    assert [t.id for t in dag.topo_order(ts)] == ["s", "i", "t", "z"]
    assert dag.depth(ts) == 3
    assert dag.depth([]) == 0
    with pytest.raises(PlanError, match="cycle: a -> b -> a"):
        dag.topo_order([tk("a", "b"), tk("b", "a")])


def test_resume_locks_a_failed_ticket_whose_dependency_runs_again() -> None:
    a, b = tk("a", status="ready"), tk("b", "a", status="failed")
    tr = track(a, b)
    assert dag.resume(tr) == ["b"]
    assert b.status == "locked"


def test_dependents_and_resume_of_a_killed_run() -> None:
    a, b = tk("a", status="running"), tk("b", "a")
    tr = track(a, b)
    assert dag.dependents(tr, "a") == ["b"]
    assert dag.dependents(tr, "b") == []
    assert dag.resume(tr) == ["a"]
    assert a.status == "ready"
