"""Data-driven before/after cases: fixtures/cases/<case>/{pyproject.toml, plan.json, expected.*}.

Each case runs the whole pipeline (real git repository, sandboxes, validation,
composition, landing) with its plan standing in for the model. ``expected.toml`` is the
landed file, byte for byte; ``expected.err`` holds the exit code and a piece of the
one-line error. Adding a case is adding a folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, run_case

CASES = sorted(p for p in (FIXTURES / "cases").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    run_case(astm, case, "pyproject.toml", "expected.toml", tmp_path)
