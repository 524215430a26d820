"""``astm track --demo``: the whole story offline, on a fresh repository."""

from __future__ import annotations

from pathlib import Path

from conftest import git


def test_track_demo_runs_end_to_end_offline(astm, tmp_path: Path) -> None:
    target = tmp_path / "demo"
    res = astm("track", "--demo", "--dir", str(target), cwd=tmp_path)
    assert res.code == 0, res.err
    branch = "astm/track-settings-from-the-environment-validated"
    assert f"landed: {branch}, one commit per ticket:" in res.out
    subjects = git(target, "log", "--format=%s", "--reverse", f"main..{branch}").splitlines()
    assert subjects == ["Stub from_env and validate", "Implement from_env", "Implement validate",
                        "Test from_env and validate"]
    # The stub's signatures were there for the implementers: their commits only fill bodies.
    assert "raise NotImplementedError" in git(target, "show", f"{branch}~3:appcfg/config.py")
    assert "raise NotImplementedError" not in git(target, "show", f"{branch}:appcfg/config.py")
    assert git(target, "status", "--porcelain") == ""
    again = astm("track", "--demo", "--dir", str(target), cwd=tmp_path)
    assert again.code == 2 and "not empty" in again.err
