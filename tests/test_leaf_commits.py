"""A leaf's commit holds its file as its parent composes that leaf's patch: made from a
splice of the bytes it read (workspace/packs.py, a delta), or, for a patch that spaces
itself against its neighbours, from the composed bytes."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest
from conftest import git, make_repo

from astm.config import Settings
from astm.core.plan import Plan
from astm.engine.apply import ApplyOptions, apply
from astm.llm.plan_provider import PlanProvider

SOURCE = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"


@pytest.mark.parametrize("edit", [
    {"op": "replace", "node": "m.py::f", "text": "def f():\n    return 10\n"},
    {"op": "insert", "parent": "m.py", "after": "m.py::f", "text": "def h():\n    return 3\n"},
    {"op": "insert", "parent": "m.py", "after": "m.py::f", "text": "def h():\n    return 3\n",
     "blank_above": 1, "blank_below": 3},
])
def test_a_leaf_commit_holds_its_file_as_its_parent_composes_it(tmp_path: Path, edit: dict[str, object]) -> None:
    repo = make_repo(tmp_path / "r", {"m.py": SOURCE})
    plan = Plan.model_validate({"version": 1, "intent": "one edit", "edits": [edit]})
    opts = ApplyOptions(intent=plan.intent, cwd=repo, paths=("m.py",), plan=plan, branch="b")
    result = apply(opts, Settings(), PlanProvider(plan))
    assert result.branch == "b"
    r = pygit2.Repository(str(repo))
    (leaf,) = [n for n in result.nodes if n.id != "m.py" and n.commit]
    landed = r.revparse_single("b").peel(pygit2.Commit).tree["m.py"].data
    assert r[leaf.commit].tree["m.py"].data == landed  # one leaf: its file is the result
    assert r[leaf.commit].parent_ids == [r.head.target]
    git(repo, "fsck", "--strict", "--no-dangling")
