"""``astm track``: plan from a track plan file, run the ticket DAG on real repositories, land
one commit per ticket in dependency order, fail and resume, and never touch the user's state."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Snapshot, git
from trackkit import (
    GROSS,
    NET,
    TAX,
    insert,
    planned,
    project,
    replace,
    standard_tickets,
    ticket,
    track_id,
    track_refs,
    write_plan,
)

from astm.conductor import store
from astm.workspace.repo import Repo


def plan_and_run(astm, repo: Path, tmp: Path, tickets: list[dict]) -> tuple[str, object]:  # type: ignore[no-untyped-def]
    planned = astm("track", "--plan", str(write_plan(tmp / "track.json", tickets)), cwd=repo)
    assert planned.code == 0, planned.err
    tid = track_id(planned.out)
    return tid, astm("track", "run", tid, cwd=repo)


def test_a_track_lands_one_commit_per_ticket_in_dependency_order(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    before = Snapshot.take(repo)
    tid, res = plan_and_run(astm, repo, tmp_path, standard_tickets())
    assert res.code == 0, res.err
    branch = "astm/track-prices-with-tax"
    assert f"landed: {branch} (4 commits, track {tid})" in res.out
    subjects = git(repo, "log", "--format=%s", "--reverse", f"main..{branch}").splitlines()
    # net and tax are independent (both after the stub): ties keep the file's order.
    assert subjects == ["Ticket stub", "Ticket tax", "Ticket net", "Ticket gross"]
    assert git(repo, "rev-list", "--count", f"main..{branch}") == "4"
    assert git(repo, "rev-parse", f"{branch}~4") == before.head  # a linear chain on the base
    final = git(repo, "show", f"{branch}:shop/prices.py")
    for text in (TAX, NET, GROSS):
        assert text.strip() in final
    # Each commit holds the cumulative result: the stub commit has the stub only.
    assert "raise NotImplementedError" in git(repo, "show", f"{branch}~3:shop/prices.py")
    trailers = git(repo, "log", "-1", "--format=%B", f"{branch}~3")
    assert f"Astm-Track: {tid}" in trailers and "Astm-Ticket: stub (contract_stubber)" in trailers
    # The user's checkout is untouched; only the track branch (and run refs) were added.
    before.assert_unchanged(repo, new_branch=branch)
    assert track_refs(repo) == []  # results are dropped once the branch holds them
    shown = astm("track", "show", tid, cwd=repo)
    assert "[done]" in shown.out and f"landed: {branch}" in shown.out
    listed = astm("track", "list", cwd=repo)
    assert tid in listed.out and "4/4 done" in listed.out
    again = astm("track", "run", tid, cwd=repo)
    assert again.code == 2 and f"has already landed on {branch}" in again.err


def test_a_refused_track_run_leaves_no_temporary_folder(astm, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A run refused before its tickets start made the reviews' temporary folder anyway,
    and never removed it (one more in the temp directory on every refusal)."""
    import tempfile

    repo = project(tmp_path)
    tid, res = plan_and_run(astm, repo, tmp_path, standard_tickets())
    assert res.code == 0, res.err
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    for _ in range(3):
        again = astm("track", "run", tid, cwd=repo)
        assert again.code == 2 and "has already landed" in again.err
    assert list(temp.iterdir()) == []


def test_independent_tickets_start_together(tmp_path: Path) -> None:
    from astm import config as cfg
    from astm.conductor.run import Runner
    from astm.llm.plan_provider import PlanProvider

    repo, track = planned(tmp_path)
    events: list[tuple[str, str]] = []
    runner = Runner(repo, track, cfg.load(repo.workdir), lambda p: PlanProvider(p),  # type: ignore[arg-type]
                    on_event=lambda e: events.append((e.node, e.state)) if " " not in e.node else None)
    result = runner.run()
    assert result.branch == "astm/track-prices-with-tax"
    ticket_events = [e for e in events if e[1] in ("running", "done")]
    # tax and net both start before either finishes: they run at once.
    i_tax, i_net = ticket_events.index(("tax", "running")), ticket_events.index(("net", "running"))
    first_done = min(ticket_events.index(("tax", "done")), ticket_events.index(("net", "done")))
    assert max(i_tax, i_net) < first_done
    gross = track.ticket("gross")
    assert gross.base not in (track.ticket("tax").commit, track.ticket("net").commit)  # a merge
    assert gross.worker is not None and gross.worker.messages[0]["content"].startswith("do gross")


def test_a_failed_ticket_blocks_its_dependents_and_a_rerun_resumes(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    tickets = standard_tickets()
    bad = "def tax(amount: float) -> float:\n    return amount *\n"  # does not compile
    tickets[1]["plan"] = replace("shop/prices.py::tax", bad)
    tid, res = plan_and_run(astm, repo, tmp_path, tickets)
    assert res.code == 1
    errs = [ln for ln in res.err.splitlines() if ln.startswith("astm: error")]
    assert len(errs) == 1 and "ticket tax failed" in errs[0] and "blocked: gross" in errs[0]
    assert f"astm track run {tid}" in errs[0]
    assert "failed    tax" in res.err and "(blocks gross)" in res.err
    r = Repo.open(repo)
    track = store.load(r, tid)
    assert [t.status for t in track.tickets] == ["done", "failed", "done", "blocked"]
    assert track.ticket("gross").blocked_reason == "depends on tax, which failed"
    failure = track.ticket("tax").history[-1]
    assert failure.outcome == "failed" and failure.raw and len(failure.hint.split()) <= 20
    assert "refs/heads/astm/track-prices-with-tax" not in Snapshot.take(repo).refs
    assert sorted(track_refs(repo)) == [f"refs/astm/tracks/{tid}/net", f"refs/astm/tracks/{tid}/stub"]
    done_runs = {t.id: t.history[-1].run for t in track.tickets if t.status == "done"}
    # The user fixes the ticket's answer and runs again: only tax and gross run.
    from astm.core import plan as planfile

    track.ticket("tax").plan = planfile.parse(json.dumps(replace("shop/prices.py::tax", TAX)))
    store.save(r, track)
    again = astm("track", "run", tid, cwd=repo)
    assert again.code == 0, again.err
    after = store.load(r, tid)
    assert {t.id: t.history[-1].run for t in after.tickets if t.id in done_runs} == done_runs
    assert "running   stub" not in again.err and "running   net" not in again.err
    assert "running   tax" in again.err and "running   gross" in again.err
    # The retry's intent carried the short hint, never the raw diagnostic.
    tax = after.ticket("tax")
    assert tax.attempts == 2
    assert "Note from a previous attempt: it failed:" in tax.worker.messages[0]["content"]  # type: ignore[union-attr]


def test_conflicting_dependencies_fail_the_ticket_by_name(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    f = "shop/prices.py"
    tickets = [
        ticket("a", [f"{f}::net"], replace(f"{f}::net", "def net(amount: float) -> float:\n    return amount - 1\n")),
        ticket("b", [f"{f}::net"], replace(f"{f}::net", "def net(amount: float) -> float:\n    return amount - 2\n")),
        ticket("c", [f"{f}::gross"], replace(f"{f}::gross", GROSS.replace("tax(amount)", "1")), "a", "b"),
    ]
    _tid, res = plan_and_run(astm, repo, tmp_path, tickets)
    assert res.code == 1
    assert "ticket c failed: ticket c: its dependencies a and b conflict in shop/prices.py" in res.err


def test_bad_track_plans_get_one_line_and_store_nothing(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    f = "shop/prices.py"
    cases = {
        "dup": ([ticket("a", [f], None), ticket("a", [f], None)], "duplicate ticket id 'a'"),
        "cycle": ([ticket("a", [f], None, "b"), ticket("b", [f], None, "a")], "dependency cycle: a -> b -> a"),
        "missing": ([ticket("a", ["shop/nope.py"], None)], "ticket a: target shop/nope.py does not exist"),
        "badid": ([ticket("A B", [f], None)], "ticket A B: id: Value error, ticket id 'A B'"),
    }
    for name, (tickets, message) in cases.items():
        res = astm("track", "--plan", str(write_plan(tmp_path / f"{name}.json", tickets)), cwd=repo)
        assert res.code == 2, (name, res.err)
        lines = res.err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and f"{name}.json" in lines[0], (name, res.err)
    notjson = tmp_path / "notjson.json"
    notjson.write_text("{tickets: [")
    res = astm("track", "--plan", str(notjson), cwd=repo)
    assert res.code == 2 and "notjson.json (line 1): not JSON" in res.err
    assert store.ids_of(Repo.open(repo)) == []


def test_usage_errors(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    assert "give an INTENT" in astm("track", cwd=repo).err
    assert "takes one track ID" in astm("track", "show", cwd=repo).err
    assert "quote the INTENT" in astm("track", "add", "tax", cwd=repo).err
    assert "no track 'zz'" in astm("track", "run", "zz", cwd=repo).err
    assert "no tracks yet" in astm("track", "list", cwd=repo).out
    # A ticket with no plan needs a model.
    planned = astm("track", "--plan", str(write_plan(tmp_path / "t.json", [ticket("a", ["shop/prices.py"], None)])),
                   cwd=repo)
    res = astm("track", "run", track_id(planned.out), cwd=repo)
    assert res.code == 2 and "ticket a has no plan and no model is configured" in res.err
    # A model answer with no model configured.
    res = astm("track", "add tax", cwd=repo)
    assert res.code == 2 and "no model configured" in res.err


def test_insert_only_track_with_json(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    f = "shop/prices.py"
    planned = astm("track", "--json", "--plan",
                   str(write_plan(tmp_path / "t.json", [ticket("one", [f], insert(f, "def one() -> int:\n    return 1\n"))],
                                  title="One")), cwd=repo)
    data = json.loads(planned.out)
    assert data["tickets"][0]["status"] == "locked" and data["base"] == git(repo, "rev-parse", "HEAD")
    res = astm("track", "run", data["id"], "--json", cwd=repo)
    assert res.code == 0, res.err
    assert json.loads(res.out)["branch"] == "astm/track-one"


def test_a_done_ticket_whose_result_was_pruned_runs_again(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    tickets = standard_tickets()
    tickets[3]["plan"] = replace("shop/prices.py::gross", "def gross(amount: float) -> float:\n    return (\n")
    tid, res = plan_and_run(astm, repo, tmp_path, tickets)
    assert res.code == 1
    r = Repo.open(repo)
    track = store.load(r, tid)
    track.ticket("net").commit = "0" * 40  # as if git gc had pruned it
    from astm.core import plan as planfile

    track.ticket("gross").plan = planfile.parse(json.dumps(replace("shop/prices.py::gross", GROSS)))
    store.save(r, track)
    again = astm("track", "run", tid, cwd=repo)
    assert again.code == 0, again.err
    assert "running   net" in again.err and "running   stub" not in again.err
