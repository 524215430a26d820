"""The clutch (``astm track run --step``): approve, edit in $EDITOR, reject with a reason,
quit; scripted on stdin; trust levels; a broken editor, a closed stdin and Ctrl-C."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import GIT_ENV, Snapshot, git
from trackkit import (
    NET,
    TAX,
    insert,
    project,
    replace,
    stderr_of,
    ticket,
    track_id,
    track_refs,
    write_plan,
)

from astm.conductor import store
from astm.conductor.clutch import Approve, Clutch, Edit, Quit, Reject, Review
from astm.errors import UsageError
from astm.workspace.repo import Repo

F = "shop/prices.py"
BRANCH = "astm/track-prices-with-tax"


def chain_tickets() -> list[dict]:
    return [
        ticket("stub", [F], insert(F, "def tax(amount: float) -> float:\n    raise NotImplementedError\n"),
               archetype="contract_stubber"),
        ticket("tax", [f"{F}::tax"], replace(f"{F}::tax", TAX), "stub"),
        ticket("net", [f"{F}::net"], replace(f"{F}::net", NET), "tax"),
    ]


@pytest.fixture
def planned(astm, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(extra: str = "") -> tuple[Path, str]:
        repo = project(tmp_path, extra)
        res = astm("track", "--plan", str(write_plan(tmp_path / "t.json", chain_tickets())), cwd=repo)
        assert res.code == 0, res.err
        return repo, track_id(res.out)

    return make


def answer(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text("import sys\nfrom pathlib import Path\np = Path(sys.argv[1])\n" + body)
    return f"{sys.executable} {script}"


def test_approve_every_ticket(astm, planned, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, tid = planned()
    answer(monkeypatch, "a\napprove\ny\n")
    res = astm("track", "run", tid, "--step", cwd=repo)
    assert res.code == 0, res.err
    assert res.err.count("── review") == 3
    assert "── review tax: implementer: Ticket tax" in res.err
    assert "+    return amount * 0.2" in res.err  # the diff is shown before the pause
    assert git(repo, "rev-list", "--count", f"main..{BRANCH}") == "3"


def test_reject_feeds_the_reason_back_and_the_ticket_reruns(astm, planned, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, tid = planned()
    answer(monkeypatch, "a\nr keep it to one multiplication\nbogus\na\na\n")
    res = astm("track", "run", tid, "--step", cwd=repo)
    assert res.code == 0, res.err
    assert "unknown answer 'bogus'" in res.err
    tax = store.load(Repo.open(repo), tid).ticket("tax")
    assert [a.outcome for a in tax.history] == ["rejected", "done"] and tax.attempts == 2
    assert tax.history[0].raw == "keep it to one multiplication"
    assert "a reviewer rejected it: keep it to one multiplication" in tax.worker.messages[0]["content"]  # type: ignore[union-attr]


def test_rejected_too_often_fails_the_ticket(astm, planned, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, tid = planned()
    answer(monkeypatch, "a\nr no\nreject no\nr no\n")
    res = astm("track", "run", tid, "--step", cwd=repo)
    assert res.code == 1 and "ticket tax failed: no" in res.err and "blocked: net" in res.err


def test_edit_in_editor_reruns_with_the_edited_plan(astm, planned, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    repo, tid = planned()
    monkeypatch.setenv("EDITOR", editor(tmp_path, "p.write_text(p.read_text().replace('0.2', '0.25'))\n"))
    answer(monkeypatch, "a\ne\na\na\n")
    res = astm("track", "run", tid, "--step", cwd=repo)
    assert res.code == 0, res.err
    assert "amount * 0.25" in git(repo, "show", f"{BRANCH}:{F}")
    tax = store.load(Repo.open(repo), tid).ticket("tax")
    assert [a.outcome for a in tax.history] == ["edited", "done"]
    assert tax.plan is not None and "0.25" in tax.plan.edits[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("sys.exit(3)\n", "the editor exited with status 3; the edit is dropped"),
        ("p.write_text('{not json')\n", "the edit is not valid: the edited plan (line 1): not JSON"),
        ("p.write_text('{\"edits\": [{\"op\": \"zap\"}]}')\n", "the edit is not valid: the edited plan: invalid plan at edits.0"),
    ],
)
def test_a_broken_edit_keeps_the_change_for_review(astm, planned, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path, body: str, message: str) -> None:
    repo, tid = planned()
    monkeypatch.setenv("EDITOR", editor(tmp_path, body))
    answer(monkeypatch, "a\ne\na\na\n")
    res = astm("track", "run", tid, "--step", cwd=repo)
    assert res.code == 0, res.err
    assert message in res.err
    if "kept in " in res.err:  # the user's invalid edit is not thrown away
        kept = Path(res.err.split("kept in ")[1].split(";")[0])
        assert kept.read_text().startswith("{")
        kept.unlink()
    assert git(repo, "show", f"{BRANCH}:{F}").endswith("amount * 0.2")


def test_no_editor_set(astm, planned, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, tid = planned()
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    answer(monkeypatch, "e\na\na\na\n")
    res = astm("track", "run", tid, "--step", cwd=repo)
    assert res.code == 0 and "no $EDITOR (or $VISUAL) is set" in res.err


def test_quit_lands_nothing_and_leaves_nothing(astm, planned, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, tid = planned()
    before = Snapshot.take(repo)
    answer(monkeypatch, "a\nq\n")
    res = astm("track", "run", tid, "--step", cwd=repo)
    assert res.code == 130
    errs = [ln for ln in res.err.splitlines() if ln.startswith("astm: error")]
    assert errs == [f"astm: error: quit at the review of ticket tax: nothing landed; `astm track run {tid}` resumes"]
    assert BRANCH not in git(repo, "branch", "--list")
    assert track_refs(repo) == [f"refs/astm/tracks/{tid}/stub"]  # the approved stub is kept
    track = store.load(Repo.open(repo), tid)
    assert track.status == "interrupted" and [t.status for t in track.tickets] == ["done", "ready", "locked"]
    after = Snapshot.take(repo)
    assert (after.head, after.index, after.files, after.worktrees) == (before.head, before.index, before.files,
                                                                        before.worktrees)
    assert not [r for r in after.refs if r.startswith("refs/heads/") and r not in before.refs]
    # Resuming reviews only what is left.
    answer(monkeypatch, "a\na\n")
    res = astm("track", "run", tid, "--step", cwd=repo)
    assert res.code == 0 and res.err.count("── review") == 2


def test_stdin_ending_before_an_answer(astm, planned, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, tid = planned()
    answer(monkeypatch, "")
    res = astm("track", "run", tid, "--step", cwd=repo)
    assert res.code == 2 and "astm: error: --step: stdin ended before an answer; nothing landed" in res.err
    assert store.load(Repo.open(repo), tid).ticket("stub").status == "ready"


def test_no_stdin_at_all_is_refused_before_any_work(astm, planned, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, tid = planned()
    monkeypatch.setattr(sys, "stdin", None)
    res = astm("track", "run", tid, "--step", cwd=repo)
    assert res.code == 2 and "--step needs a terminal or answers on stdin" in res.err
    assert store.load(Repo.open(repo), tid).status == "planned"


def test_trust_levels_pause_only_where_configured(astm, planned, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, tid = planned('\n[tool.astm.track]\ntrust = { contract_stubber = "auto", implementer = "step" }\n')
    answer(monkeypatch, "a\na\n")
    res = astm("track", "run", tid, cwd=repo)
    assert res.code == 0, res.err
    assert res.err.count("── review") == 2 and "── review stub" not in res.err


def test_bad_trust_level_is_named(astm, planned) -> None:
    repo, tid = planned('\n[tool.astm.track]\ntrust = { poet = "step" }\n')
    res = astm("track", "run", tid, cwd=repo)
    assert res.code == 2 and "pyproject.toml: [tool.astm.track] trust: unknown archetype 'poet'" in res.err


def test_clutch_alone_in_a_terminal_asks_for_a_reason() -> None:
    out = io.StringIO()
    c = Clutch(io.StringIO("r\nbecause\n"), out, tty=True, environ={})
    assert c.review(Review("n", "diff", "{}"), lambda _: None) == Reject("because")
    assert "reason: " in out.getvalue()
    c = Clutch(io.StringIO("r\na\n"), io.StringIO(), tty=False, environ={})
    assert c.review(Review("n", "", "{}"), lambda _: None) == Approve()
    c = Clutch(io.StringIO("quit\n"), io.StringIO(), tty=False, environ={})
    assert c.review(Review("n", "", "{}"), lambda _: None) == Quit()
    c = Clutch(io.StringIO("e\n"), io.StringIO(), environ={"EDITOR": "/nonexistent/editor"})
    with pytest.raises(UsageError, match="stdin ended"):
        c.review(Review("n", "", "{}"), lambda _: None)
    c = Clutch(io.StringIO("e\n"), io.StringIO(), environ={"VISUAL": "true"})
    assert c.review(Review("n", "", "text"), lambda _: None) == Edit("text")
    closed = io.StringIO()
    closed.close()
    with pytest.raises(UsageError, match="has neither"):
        Clutch(closed, io.StringIO()).check()


def test_ctrl_c_during_a_step_pause(tmp_path: Path) -> None:
    from conftest import run_subprocess

    repo = project(tmp_path)
    planned = run_subprocess("track", "--plan", str(write_plan(tmp_path / "t.json", chain_tickets())), cwd=repo)
    tid = track_id(planned.out)
    before = Snapshot.take(repo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "astm", "track", "run", tid, "--step"], cwd=repo,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, **GIT_ENV},
    )
    err, reader = stderr_of(proc)
    deadline = time.monotonic() + 60
    while b"approve [a]" not in err and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert b"approve [a]" in err, err.decode()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    text = err.decode()
    assert proc.returncode == 130, text
    assert [ln for ln in text.splitlines() if ln.startswith("astm:")] == [
        f"astm: error: interrupted; track {tid} keeps its done tickets: `astm track run {tid}` resumes"
    ]
    assert "Traceback" not in text
    track = store.load(Repo.open(repo), tid)
    assert track.status == "interrupted" and track.ticket("stub").status == "ready"
    after = Snapshot.take(repo)
    assert (after.head, after.index, after.files, after.worktrees) == (before.head, before.index, before.files,
                                                                        before.worktrees)
