"""The lint gate follows the project; pre-existing findings are matched by text, not rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import git, make_repo

from astm.validate import ruff


def plan(path: Path, edits: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"version": 1, "intent": "t", "edits": edits}))
    return path


def replace(node: str, text: str) -> dict[str, Any]:
    return {"op": "replace", "node": node, "text": text}


STYLE = (
    "def f(x: Optional[str]) -> Decimal:\n"
    "    a, b = 1, 2  # noqa: E501\n"
    "    return Decimal(\"1\") + a\n"
)
BASE = "from decimal import Decimal\nfrom typing import Optional\n\n\ndef f(x: Optional[str]) -> Decimal:\n    return Decimal(1)\n"


def test_unconfigured_project_is_gated_on_correctness_only(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    # No ruff configuration: FA100, FURB157, RUF059, RUF100 (ruff's wider sets) never gate.
    repo = make_repo(tmp_path / "r", {"m.py": BASE})
    res = astm("apply", "x", "m.py", "--plan", str(plan(tmp_path / "p.json", [replace("m.py::f", STYLE)])),
               "--branch", "out", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", "out:m.py") == (BASE.split("def f")[0] + STYLE).strip()
    # ... but code that is wrong still is: an undefined name.
    bad = replace("m.py::f", "def f(x: Optional[str]) -> Decimal:\n    return Decimal(y)\n")
    res = astm("apply", "x", "m.py", "--plan", str(plan(tmp_path / "q.json", [bad])), "--retries", "0", cwd=repo)
    assert res.code == 1 and "F821" in res.err and "`y`" in res.err


def test_a_configured_project_decides(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    conf = '[tool.ruff]\nline-length = 40\n[tool.ruff.lint]\nselect = ["E501"]\n'
    repo = make_repo(tmp_path / "r", {"m.py": BASE, "pyproject.toml": conf})
    long = "def f(x: Optional[str]) -> Decimal:\n    return Decimal(1) + Decimal(2) + Decimal(3)\n"
    res = astm("apply", "x", "m.py", "--plan", str(plan(tmp_path / "p.json", [replace("m.py::f", long)])),
               "--retries", "0", cwd=repo)
    assert res.code == 1 and "ruff E501" in res.err
    # F821 is not among the project's rules: the project decided, so it lands.
    undefined = "def f(x: Optional[str]) -> Decimal:\n    return y\n"
    res = astm("apply", "x", "m.py", "--plan", str(plan(tmp_path / "q.json", [replace("m.py::f", undefined)])), cwd=repo)
    assert res.code == 0, res.err


def test_a_pre_existing_finding_whose_line_shifts_is_not_new(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    # ``g`` is defined twice (F811, "redefinition of unused `g` from line 5"); a new function
    # above both shifts the finding's row and the line its message names.
    src = "import os\n\n\ndef g():\n    return 1\n\n\ndef g():\n    return os.sep\n"
    repo = make_repo(tmp_path / "r", {"m.py": src})
    edits = [{"op": "insert", "parent": "m.py", "position": "start", "text": "def h():\n    return 0\n"}]
    res = astm("apply", "x", "m.py", "--plan", str(plan(tmp_path / "p.json", edits)), "--retries", "0",
               "--branch", "out", cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", "out:m.py").startswith("import os\n\n\ndef h():")


def test_gate_arguments(tmp_path: Path) -> None:
    assert ruff.gate(tmp_path)[:2] == ["--isolated", "--select"]
    assert all(len(c) == 4 and c[0] == "F" for c in ruff.CORRECTNESS)  # codes, never prefixes
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert ruff.gate(tmp_path)[0] == "--isolated"
    (tmp_path / "pyproject.toml").write_text("[tool.ruff.lint]\nselect = ['E']\n")
    assert ruff.gate(tmp_path) == []
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / ".ruff.toml").write_text("line-length = 100\n")
    assert ruff.gate(tmp_path) == []


def test_findings_match_by_code_message_and_text_not_row() -> None:
    before = [ruff.Finding("F811", "Redefinition of unused `g` from line 4", 8, 5, "def g():")]
    shifted = [ruff.Finding("F811", "Redefinition of unused `g` from line 8", 12, 5, "def g():")]
    assert ruff.new_inside(before, shifted, range(1, 20), range(1, 30)) == []
    other = [ruff.Finding("F811", "Redefinition of unused `h` from line 8", 12, 5, "def h():")]
    assert ruff.new_inside(before, other, range(1, 20), range(1, 30)) == other
    twice = shifted + [ruff.Finding("F811", "Redefinition of unused `g` from line 12", 16, 5, "def g():")]
    assert ruff.new_inside(before, twice, range(1, 20), range(1, 30)) == twice[1:]  # counted


def test_a_leaf_leaves_cross_node_codes_to_its_parent(tmp_path: Path) -> None:
    base = b"def f():\n    return 1\n"
    new = b"def f():\n    return helper()\n"
    found = ruff.findings(tmp_path, "m.py", new)
    assert found is not None and [f.code for f in found] == ["F821"]
    assert ruff.check(tmp_path, "m.py", base, new, (0, len(base)), (0, len(new)), level="node") is None
    diag = ruff.check(tmp_path, "m.py", base, new, (0, len(base)), (0, len(new)), level="parent")
    assert diag is not None and diag.line == 2 and not diag.relative and diag.snippet == "return helper()"
