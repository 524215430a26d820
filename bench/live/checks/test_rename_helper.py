"""_norm is now _normalize everywhere; behaviour unchanged."""

import re
from pathlib import Path

from textkit import core


def test_normalize_exists_and_works():
    assert core._normalize("  Crème   BRÛLÉE ") == "creme brulee"


def test_no_reference_to_the_old_name():
    for path in Path("src").rglob("*.py"):
        assert not re.search(r"\b_norm\b", path.read_text(encoding="utf-8")), path
