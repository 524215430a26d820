"""Data-driven Python cases: fixtures/cases-python/<case>/{<file>.py, plan.json, expected.*}.

Each case runs the whole pipeline on one Python file (real git repository, sandboxes,
ruff, composition, landing) with its plan standing in for the model. The case's one input
file is committed under its own name; ``expected.py`` is that file as it must land, byte
for byte; ``expected.err`` holds the exit code and a piece of the one-line error. Adding a
case is adding a folder. A case that shows a known bug outside the Python layer carries
``expected.xfail`` (the reason): it runs as a strict xfail until that bug is fixed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, run_case

CASES = sorted(p for p in (FIXTURES / "cases-python").iterdir() if p.is_dir())
OWN = ("plan.json", "expected.py", "expected.err", "expected.xfail")


def param(case: Path) -> object:
    reason = case / "expected.xfail"
    marks = (
        [pytest.mark.xfail(strict=True, reason=reason.read_text().strip())]
        if reason.exists()
        else []
    )
    return pytest.param(case, id=case.name, marks=marks)


def input_file(case: Path) -> Path:
    files = [p for p in case.iterdir() if p.is_file() and p.name not in OWN]
    assert len(files) == 1, f"{case.name}: want exactly one input file, have {files}"
    return files[0]


@pytest.mark.parametrize("case", [param(c) for c in CASES])
def test_case(case: Path, tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    source = input_file(case)
    run_case(astm, case, source.name, "expected.py", tmp_path, source.name)


