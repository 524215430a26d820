"""`astm undo` of `build --write`: real repositories, the real operation log."""

from __future__ import annotations

from pathlib import Path

from specs_kit import demo_plan, demo_repo

from astm.workspace import oplog
from astm.workspace.repo import Repo

MONEY = "src/shop/__generated__/money.py"
PRICING = "src/shop/__generated__/pricing.py"


def test_undo_reverses_build_write_file_by_file(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = demo_repo(tmp_path)
    before = {p: (repo / p).read_bytes() if (repo / p).exists() else None for p in (MONEY, PRICING)}
    res = astm("build", "--write", "--plan", str(demo_plan(tmp_path)), cwd=repo)
    assert res.code == 0, res.err
    assert all((repo / p).is_file() for p in (MONEY, PRICING))
    listed = astm("undo", "--list", cwd=repo).out
    assert f"build --write {MONEY}" in listed and f"build --write {PRICING}" in listed
    writes = [e for e in oplog.pending(Repo.open(repo)) if e.op == "write"]
    assert len(writes) == 2
    while any(e.op == "write" for e in oplog.pending(Repo.open(repo))):
        res = astm("undo", cwd=repo)
        assert res.code == 0, res.err
    after = {p: (repo / p).read_bytes() if (repo / p).exists() else None for p in (MONEY, PRICING)}
    assert after == before


def test_undo_of_build_write_refuses_a_file_edited_since(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = demo_repo(tmp_path)
    assert astm("build", "--write", "--plan", str(demo_plan(tmp_path)), cwd=repo).code == 0
    last = [e for e in oplog.pending(Repo.open(repo)) if e.op == "write"][-1]
    edited = Path(last.path or "")
    edited.write_bytes(edited.read_bytes() + b"# mine\n")
    res = astm("undo", cwd=repo)
    assert res.code == 1
    assert "has changed since astm wrote it" in res.err
    assert edited.read_bytes().endswith(b"# mine\n")  # the user's edit is kept
