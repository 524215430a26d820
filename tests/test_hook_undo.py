"""`astm undo` of `astm hook install`: real repositories, the real operation log."""

from __future__ import annotations

from pathlib import Path

from conftest import make_repo

MINE = b"#!/bin/sh\necho mine\n"


def test_undo_of_hook_install_restores_the_previous_hook(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_bytes(MINE)
    hook.chmod(0o755)
    assert astm("hook", "install", cwd=repo).code == 0
    assert hook.read_bytes() != MINE
    res = astm("undo", cwd=repo)
    assert res.code == 0, res.err
    assert "hook install" in res.out
    assert hook.read_bytes() == MINE and hook.stat().st_mode & 0o111
    assert not (hook.parent / "pre-commit.astm-chained").exists()
    assert astm("hook", "install", cwd=repo).code == 0  # and it installs again cleanly


def test_undo_of_a_first_hook_install_removes_it(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert astm("hook", "install", cwd=repo).code == 0
    assert hook.is_file()
    assert astm("undo", cwd=repo).code == 0
    assert not hook.exists()


def test_undo_of_hook_install_refuses_a_hook_changed_since(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert astm("hook", "install", cwd=repo).code == 0
    hook.write_bytes(hook.read_bytes() + b"echo edited\n")
    res = astm("undo", cwd=repo)
    assert res.code == 1
    assert "has changed since astm installed it" in res.err
    assert hook.read_bytes().endswith(b"echo edited\n")
