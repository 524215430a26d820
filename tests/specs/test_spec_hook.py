"""The pre-commit hook refuses stale generated files, naming the module and the input."""

from __future__ import annotations

from pathlib import Path

from conftest import git
from specs_kit import demo_plan, demo_repo


def test_hook_blocks_a_commit_whose_generated_files_are_stale(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = demo_repo(tmp_path)
    assert astm("build", "--write", "--plan", str(demo_plan(tmp_path)), cwd=repo).code == 0
    git(repo, "add", "-A")
    assert astm("hook", "run", cwd=repo).code == 0  # fresh: passes
    git(repo, "commit", "-qm", "generated")
    money = repo / "src/shop/money.py"
    money.write_text(money.read_text().replace("(surrounding spaces allowed)", "(spaces allowed)"))
    git(repo, "add", "src/shop/money.py")
    res = astm("hook", "run", cwd=repo)
    assert res.code == 1, res.out + res.err
    assert "stale: shop.money: shop.money:parse_money: docstring changed" in res.out
    assert "stale: shop.pricing: dependency shop.money:parse_money changed (its API)" in res.out
    assert "astm build --write" in res.out
    # A comment-only edit is not stale.
    git(repo, "checkout", "--", ".")
    git(repo, "reset", "-q", "--hard")
    money.write_text(money.read_text().replace('"""Money amounts as Decimal."""', '"""Money amounts as Decimal."""\n# note'))
    git(repo, "add", "src/shop/money.py")
    assert astm("hook", "run", cwd=repo).code == 0
    # A hand edit of a generated file is refused.
    generated = repo / "src/shop/__generated__/money.py"
    generated.write_text(generated.read_text() + "\nHELPER = 1\n")
    git(repo, "add", "-A")
    res = astm("hook", "run", cwd=repo)
    assert res.code == 1 and "edited by hand; it is generated from src/shop/money.py" in res.out
