"""Plans derived from commits (astm.core.derive), base-aware replay and ``astm pick``.

Real git repositories, the real CLI in-process, plans replayed through the engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Snapshot, git, make_repo

from astm.core.derive import Outside, derive
from astm.core.plan import Delete, Insert, Replace
from astm.lang import language_for

SETTINGS = '\n[tool.astm.validate]\ntests = "off"\n'
PYPROJECT = '[project]\nname = "shop"\nversion = "0.1.0"\n' + SETTINGS

CART = '''"""Carts."""

import os


def helper(x):
    return x + 1


class Cart:
    def total(self):
        return 1

    def count(self):
        return 2


def tail():
    return os.sep
'''


def parse(path: str, data: bytes):  # type: ignore[no-untyped-def]
    return language_for(path).parse(path, data)


def edits(old: str, new: str, path: str = "cart.py") -> list:  # type: ignore[type-arg]
    return derive(path, old.encode(), new.encode(), parse)


def test_derive_a_method_change_is_one_replace_below_the_class() -> None:
    got = edits(CART, CART.replace("return 1", "return 10"))
    assert got == [Replace(op="replace", node="cart.py::Cart.total",
                           text="    def total(self):\n        return 10\n")]


def test_derive_insert_after_the_kept_sibling_and_delete() -> None:
    new = CART.replace("def tail():", "def added():\n    return 3\n\n\ndef tail():")
    new = new.replace("def helper(x):\n    return x + 1\n\n\n", "")
    got = edits(CART, new)
    assert Delete(op="delete", node="cart.py::helper") in got
    assert any(isinstance(e, Insert) and e.after == "cart.py::Cart" and "def added" in e.text for e in got)


def test_derive_a_rename_in_place_is_a_replace_with_rename() -> None:
    got = edits(CART, CART.replace("def helper(x)", "def helper2(x)"))
    assert got == [Replace(op="replace", node="cart.py::helper",
                           text="def helper2(x):\n    return x + 1\n", rename=True)]


def test_derive_swapped_definitions_replace_their_parent_or_say_outside() -> None:
    swapped = CART.replace(
        "    def total(self):\n        return 1\n\n    def count(self):\n        return 2\n",
        "    def count(self):\n        return 2\n\n    def total(self):\n        return 1\n",
    )
    got = edits(CART, swapped)
    assert [type(e) for e in got] == [Replace] and got[0].node == "cart.py::Cart"  # type: ignore[union-attr]
    top = CART.replace("def helper(x):\n    return x + 1\n\n\n", "") + "\n\ndef helper(x):\n    return x + 1\n"
    with pytest.raises(Outside):  # kept top-level nodes moved: only the file could say it
        edits(CART, top.replace("def tail", "def tail2"))


def test_derive_toml_tables() -> None:
    old = '[project]\nname = "a"\n\n[tool.x]\nk = 1\n'
    new = '[project]\nname = "b"\n\n[tool.x]\nk = 1\n\n[tool.y]\nv = 2\n'
    got = edits(old, new, "pyproject.toml")
    assert got[0] == Replace(op="replace", node="pyproject.toml::project", text='[project]\nname = "b"\n')
    assert isinstance(got[1], Insert) and got[1].after == "pyproject.toml::tool.x"


def _repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"pyproject.toml": PYPROJECT, "cart.py": CART})


def _commit(repo: Path, path: str, text: str, message: str) -> str:
    (repo / path).write_text(text)
    git(repo, "commit", "-q", "-am", message)
    return git(repo, "rev-parse", "HEAD")


def test_pick_survives_line_shifts_and_lands_one_commit(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = _repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "feature")
    picked = _commit(repo, "cart.py", CART.replace("return 1", "return 10"), "total is ten")
    git(repo, "checkout", "-q", "main")
    # Upstream moves every line of the class down (a new function above it).
    shifted = CART.replace("class Cart:", "def upstream():\n    return 0\n\n\nclass Cart:")
    _commit(repo, "cart.py", shifted, "upstream")
    before = Snapshot.take(repo)
    res = astm("pick", picked, "--branch", "picked", cwd=repo)
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="picked")
    assert git(repo, "show", "picked:cart.py") == shifted.replace("return 1", "return 10").rstrip("\n")
    assert git(repo, "rev-parse", "picked^") == git(repo, "rev-parse", "main")


def test_pick_onto_a_base_where_the_node_changed_is_a_conflict(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = _repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "feature")
    picked = _commit(repo, "cart.py", CART.replace("return 1", "return 10").replace("return 2", "return 20"), "both")
    git(repo, "checkout", "-q", "main")
    _commit(repo, "cart.py", CART.replace("return 1", "return 11"), "upstream edits total")
    before = Snapshot.take(repo)
    res = astm("pick", picked, "--branch", "picked", cwd=repo)
    assert res.code == 1
    lines = [ln for ln in res.err.splitlines() if ln.startswith("astm:")]
    assert len(lines) == 1 and "conflict: cart.py::Cart.total changed since the plan was made" in lines[0]
    assert "Cart.count" not in lines[0]  # only the node that changed upstream is named
    before.assert_unchanged(repo)  # nothing landed half-way


def test_saved_plan_records_base_digests_and_replays_identically(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = _repo(tmp_path)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"edits": [
        {"op": "replace", "node": "cart.py::Cart.total", "text": "def total(self):\n    return 5\n"},
        {"op": "delete", "node": "cart.py::helper"},
    ]}))
    saved = tmp_path / "saved.json"
    res = astm("apply", "five", "cart.py", "--plan", str(plan), "--branch", "one", "--save-plan", str(saved), cwd=repo)
    assert res.code == 0, res.err
    data = json.loads(saved.read_text())
    digests = {e.get("node"): e.get("base") for e in data["edits"]}
    assert all(digests[n] for n in ("cart.py::Cart.total", "cart.py::helper"))
    res = astm("apply", "five again", "cart.py", "--plan", str(saved), "--branch", "two", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "rev-parse", "one^{tree}") == git(repo, "rev-parse", "two^{tree}")
    # Onto a base where the deleted node changed: a conflict, exit 1, nothing lands.
    _commit(repo, "cart.py", CART.replace("x + 1", "x + 2"), "helper changed")
    before = Snapshot.take(repo)
    res = astm("apply", "five again", "cart.py", "--plan", str(saved), "--branch", "three", cwd=repo)
    assert res.code == 1 and "conflict: cart.py::helper changed" in res.err
    before.assert_unchanged(repo)


def test_pick_refuses_what_it_cannot_replay(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = _repo(tmp_path)
    (repo / "new.py").write_text("X = 1\n")
    git(repo, "add", "new.py")
    git(repo, "commit", "-q", "-m", "add a file")
    res = astm("pick", "HEAD", cwd=repo)
    assert res.code == 1 and "adds or deletes new.py" in res.err
    res = astm("pick", "nope", cwd=repo)
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
