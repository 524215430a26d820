"""Real commits replayed as node plans: fixtures/cases-replay/<case>/ (see its README.md).

Each case commits ``before.py`` at its real path in a fresh repository, applies
``plan.json`` with the real ``astm apply --plan`` and checks the landed file is the
author's ``after.py``, byte for byte. These commits changed nodes that depend on each
other (an import and its user, a helper and its caller), so a leaf checked alone refuses
them; the composing file accepts them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, Snapshot, make_repo

CASES = sorted(p for p in (FIXTURES / "cases-replay").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_replay(case: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    meta = json.loads((case / "case.json").read_text())
    path = meta["path"]
    # The project's own tests are not part of the fixture (bench/replay.py turns them off too).
    config = '[tool.astm.validate]\ntests = "off"\n'
    repo = make_repo(tmp_path / "repo", {path: (case / "before.py").read_bytes(), "pyproject.toml": config})
    before = Snapshot.take(repo)
    res = astm("apply", meta["subject"], path, "--plan", str(case / "plan.json"), "--branch", "replay",
               "--retries", "0", cwd=repo)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="replay")
    landed = subprocess.run(["git", "show", f"replay:{path}"], cwd=repo, capture_output=True, check=True).stdout
    assert landed == (case / "after.py").read_bytes()
