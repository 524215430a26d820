"""``astm undo``: the operation log of landed branches, tracks and written files, reversed
one at a time, refused (saying why) when the user has since moved or deleted the thing."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git
from trackkit import project, standard_tickets, track_id, write_plan

from astm.workspace import oplog
from astm.workspace.repo import Repo

PLAN = {"version": 1, "intent": "rename", "edits": [
    {"op": "replace", "node": "pyproject.toml::project", "text": '[project]\nname = "store"\nversion = "0.1.0"\n'}]}


def apply_plan(astm, repo: Path, tmp: Path, branch: str = "astm/one") -> None:  # type: ignore[no-untyped-def]
    plan = tmp / "plan.json"
    plan.write_text(json.dumps(PLAN))
    res = astm("apply", "rename", "pyproject.toml", "--plan", str(plan), "--branch", branch, cwd=repo)
    assert res.code == 0, res.err


def test_undo_removes_the_branch_apply_landed(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    apply_plan(astm, repo, tmp_path)
    listed = astm("undo", "--list", cwd=repo)
    assert "branch  apply landed astm/one: rename" in listed.out
    res = astm("undo", cwd=repo)
    assert res.code == 0 and res.out.strip() == "undone: apply landed astm/one: rename"
    assert git(repo, "branch", "--list", "astm/one") == ""
    assert "(undone)" in astm("undo", "--list", cwd=repo).out
    res = astm("undo", cwd=repo)
    assert res.code == 1 and "nothing to undo: every operation in the log is undone already" in res.err


def test_undo_refuses_a_moved_or_deleted_or_checked_out_branch(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    apply_plan(astm, repo, tmp_path)
    landed = git(repo, "rev-parse", "astm/one")
    git(repo, "branch", "-f", "astm/one", "main")  # the user moved it
    res = astm("undo", cwd=repo)
    assert res.code == 1
    assert f"branch astm/one has moved since astm created it ({landed[:10]} ->" in res.err
    assert git(repo, "rev-parse", "astm/one") == git(repo, "rev-parse", "main")  # left alone
    git(repo, "branch", "-f", "astm/one", landed)
    git(repo, "checkout", "-q", "astm/one")
    res = astm("undo", cwd=repo)
    assert res.code == 1 and "branch astm/one is checked out; switch to another branch first" in res.err
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-D", "astm/one")  # the user deleted it
    res = astm("undo", cwd=repo)
    assert res.code == 1 and "branch astm/one no longer exists; nothing to undo (`astm undo --skip`" in res.err
    res = astm("undo", "--skip", cwd=repo)
    assert res.code == 0 and res.out.startswith("forgot: apply landed astm/one")
    assert "nothing to undo" in astm("undo", cwd=repo).err


def test_undo_a_landed_track_then_the_track(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    planned = astm("track", "--plan", str(write_plan(tmp_path / "t.json", standard_tickets())), cwd=repo)
    tid = track_id(planned.out)
    assert astm("track", "run", tid, cwd=repo).code == 0
    r = Repo.open(repo)
    assert [e.op for e in oplog.pending(r)] == ["track", "branch"]
    assert astm("undo", cwd=repo).out.startswith(f"undone: track {tid} landed astm/track-prices-with-tax")
    assert git(repo, "branch", "--list", "astm/track-*") == ""
    assert astm("undo", cwd=repo).code == 0
    assert not (r.common / "astm" / "tracks" / f"{tid}.json").exists()
    assert "no track" in astm("track", "show", tid, cwd=repo).err


def test_undo_refuses_a_track_whose_branch_is_still_there(astm, tmp_path: Path) -> None:
    repo = project(tmp_path)
    planned = astm("track", "--plan", str(write_plan(tmp_path / "t.json", standard_tickets())), cwd=repo)
    tid = track_id(planned.out)
    assert astm("track", "run", tid, cwd=repo).code == 0
    assert astm("undo", "--skip", cwd=repo).code == 0  # forget the branch, keep it
    res = astm("undo", cwd=repo)
    assert res.code == 1 and f"track {tid} has landed on astm/track-prices-with-tax; delete that branch first" in res.err
    git(repo, "branch", "-D", "astm/track-prices-with-tax")
    assert astm("undo", cwd=repo).code == 0
    assert "no track" in astm("track", "show", tid, cwd=repo).err
    # A track the user removed meanwhile: said so.
    planned = astm("track", "--plan", str(tmp_path / "t.json"), cwd=repo)
    (Repo.open(repo).common / "astm" / "tracks" / f"{track_id(planned.out)}.json").unlink()
    assert "no longer exists" in astm("undo", cwd=repo).err


def test_undo_a_file_write(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = project(tmp_path)
    r = Repo.open(repo)
    hook = r.common / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("old hook\n")
    oplog.record_write(r, hook, b"old hook\n", b"astm hook\n", "installed the pre-commit hook")
    hook.write_text("astm hook\n")
    new = repo / "NEW.md"
    oplog.record_write(r, new, None, b"made\n", "wrote NEW.md")
    new.write_text("made\n")
    assert astm("undo", cwd=repo).out.strip() == "undone: wrote NEW.md"
    assert not new.exists()
    hook.write_text("edited by hand\n")
    res = astm("undo", cwd=repo)
    assert res.code == 1 and "pre-commit has changed since astm wrote it; left as it is" in res.err
    hook.write_text("astm hook\n")
    assert astm("undo", cwd=repo).code == 0
    assert hook.read_text() == "old hook\n"


def test_a_torn_log_line_is_skipped(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = project(tmp_path)
    r = Repo.open(repo)
    assert astm("undo", "--list", cwd=repo).out.strip() == "the operation log is empty"
    assert "the operation log is empty" in astm("undo", cwd=repo).err
    oplog.record(r, "track", track="gone", what="planned track gone")
    with oplog.log_path(r.common).open("a") as f:
        f.write('{"op": "branch", "seq": 2, "ref": "refs/hea')  # a crash mid-write
    assert [e.seq for e in oplog.read(r)] == [1]
    assert oplog.record(r, "track", track="t2", what="x").seq == 2


def test_the_next_sequence_number_is_read_from_the_log_s_end(tmp_path: Path) -> None:
    # The log is read from its end for each new entry (a long log must not make every
    # write read it whole): torn and foreign lines are passed over, as ``read`` does,
    # across the boundaries of the chunks it reads backwards.
    log = tmp_path / "oplog.jsonl"
    assert oplog.last_seq(log) == 0  # no log yet
    log.write_bytes(b"")
    assert oplog.last_seq(log) == 0
    lines = [oplog.Entry(op="branch", seq=n, what="x" * (n % 7) * 5).to_json() for n in range(1, 41)]
    body = "\n".join(lines) + "\n" + '{"op": "branch", "se' + "\n" + "[1, 2]\n" + "not json\n"
    log.write_text(body)
    for chunk in (7, 31, 64, 1 << 16):
        assert oplog.last_seq(log, chunk) == 40
    log.write_text(body + '{"op": "write", "seq": 41, "path": "a"}')  # no final newline
    for chunk in (7, 31, 1 << 16):
        assert oplog.last_seq(log, chunk) == 41
    log.write_text("garbage\n" * 50)
    assert oplog.last_seq(log, 16) == 0


def test_entries_keep_counting_after_a_torn_write(tmp_path: Path) -> None:
    repo = project(tmp_path)
    r = Repo.open(repo)
    first = oplog.record(r, "branch", ref="refs/heads/a", new="0" * 40, what="a")
    with oplog.log_path(r.common).open("a") as f:
        f.write('{"op": "branch", "seq": ')  # a crash mid-write
    second = oplog.record(r, "branch", ref="refs/heads/b", new="0" * 40, what="b")
    assert (first.seq, second.seq) == (first.seq, first.seq + 1)
    assert [e.seq for e in oplog.read(r)][-2:] == [first.seq, second.seq]
