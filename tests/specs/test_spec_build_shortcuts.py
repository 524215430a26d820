"""What a build skips or does once for speed leaves its results as they were: a one-name
import block is what ruff's isort would make it, a ``--write`` build reads one snapshot of
its inputs, a model client that fails to build fails the build cleanly, and the import
server exits once told no check is left."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import Snapshot, git
from specs_kit import demo_repo

from astm.config import Settings
from astm.errors import ModelError
from astm.llm.base import Provider
from astm.llm.warm import WarmProvider
from astm.specs.build import BuildOptions, build
from astm.specs.generate import already_sorted
from astm.specs.source import WorkSource
from astm.specs.warm_import import WarmImporter
from astm.validate import ruff

ONE_NAME = ["import os", "import os.path", "from pkg.m000 import f_m000_0", "from . import sibling",
            "from .money import parse_money", "from __future__ import annotations",
            "from shop.money import parse_money"]
OTHERS = ["from decimal import ROUND_HALF_UP, Decimal", "import sys\nimport os",
          "from a import b as c", "import a, b", "from a import (b)"]


@pytest.mark.parametrize("block", ONE_NAME)
def test_ruff_leaves_a_one_name_import_block_as_it_is(block: str, tmp_path: Path) -> None:
    """The premise of skipping ruff for it, checked against ruff itself."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.ruff]\nsrc = ["src"]\n')
    (tmp_path / "src/shop").mkdir(parents=True)
    (tmp_path / "src/shop/__init__.py").write_text("")
    assert already_sorted(block)
    sorted_block = ruff.sort_imports(tmp_path, "src/shop/__generated__/pricing.py", None,
                                     (block + "\n").encode())
    assert sorted_block.decode().strip("\n") == block


@pytest.mark.parametrize("block", OTHERS)
def test_other_import_blocks_are_left_to_ruff(block: str) -> None:
    assert not already_sorted(block)


def test_unsorted_names_are_sorted_by_ruff(tmp_path: Path) -> None:
    """The case the shortcut must not take: ruff changes it."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    block = "from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, Context"
    out = ruff.sort_imports(tmp_path, "m.py", None, (block + "\n").encode()).decode()
    assert not already_sorted(block) and out.strip() != block


def test_a_write_build_reads_one_snapshot_of_each_input(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    spec = tmp_path / "src/m.py"
    spec.write_bytes(b"A = 1\n")
    source = WorkSource(tmp_path)
    assert source.read("src/m.py") == b"A = 1\n"
    spec.write_bytes(b"A = 2\n")  # an edit while the build runs
    assert source.read("src/m.py") == b"A = 1\n"  # every module's sandbox sees one version
    assert WorkSource(tmp_path).read("src/m.py") == b"A = 2\n"  # the next build reads it
    assert source.read("src/absent.py") is None


def test_a_model_client_that_fails_to_build_fails_the_build_cleanly(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path)
    before = Snapshot.take(repo)

    def broken() -> Provider:
        raise ModelError("the model client could not be built")

    with pytest.raises(ModelError, match="could not be built"):
        build(BuildOptions(cwd=repo, write=True), Settings(model="m", retries=0),
              provider=WarmProvider(broken))  # type: ignore[arg-type]
    before.assert_unchanged(repo)
    assert git(repo, "worktree", "list").count("\n") == 0  # the main worktree alone
    assert git(repo, "for-each-ref", "refs/heads/astm/") == ""
    assert not list((repo / "src/shop").glob("__generated__/*.py"))


def test_a_stopped_import_server_exits_on_its_own(tmp_path: Path) -> None:
    (tmp_path / "src/pkg").mkdir(parents=True)
    (tmp_path / "src/pkg/__init__.py").write_text("")
    (tmp_path / "src/pkg/fine.py").write_text("X = 1\n")
    warm = WarmImporter(sys.executable)
    try:
        got = warm.check(str(tmp_path), {"PYTHONPATH": str(tmp_path / "src")}, "pkg.fine",
                         "src/pkg/fine.py", 30)
        assert got is not None and got.ok
        proc = warm._proc
        assert proc is not None
        warm.stop()
        assert proc.wait(timeout=30) == 0  # gone without close(): stdin ended its loop
        # A check after the stop is the caller's own subprocess (None), never a hang.
        assert warm.check(str(tmp_path), {}, "pkg.fine", "src/pkg/fine.py", 30) is None
    finally:
        warm.close()
