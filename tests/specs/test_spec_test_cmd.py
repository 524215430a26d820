"""``astm test``: build, generate the tests, run them by path; exit 4 when they fail."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Snapshot, git
from specs_kit import demo_answers, demo_plan, demo_repo

TESTS = "tests/__generated__/test_pricing.py"


def test_test_builds_generates_and_runs_on_the_landed_branch(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = demo_repo(tmp_path)
    before = Snapshot.take(repo)
    res = astm("test", "--plan", str(demo_plan(tmp_path)), cwd=repo)
    assert res.code == 0, res.err
    assert "2 passed" in res.out
    branch = res.out.split("landed: ", 1)[1].split()[0]
    before.assert_unchanged(repo, new_branch=branch)
    files = git(repo, "diff", "--name-only", "HEAD", branch).split()
    assert files == ["src/shop/__generated__/money.py", "src/shop/__generated__/pricing.py", TESTS]


def test_failing_tests_exit_4(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = demo_repo(tmp_path)
    wrong = demo_answers()["test_pricing:test_price_with_tax"].replace('Decimal("12.00")', 'Decimal("13.00")')
    res = astm("test", "--write", "--plan", str(demo_plan(tmp_path, {"test_pricing:test_price_with_tax": wrong})),
               cwd=repo)
    assert res.code == 4, res.err
    assert "astm: error: tests failed: 1 failed, 1 passed" in res.err
    assert (repo / TESTS).is_file()  # --write: the generated files are in the working tree


def test_no_build_generates_tests_only_and_the_tester_sees_apis_only(astm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = demo_repo(tmp_path)
    res = astm("build", "--write", "--plan", str(demo_plan(tmp_path)), cwd=repo)
    assert res.code == 0, res.err
    saved = tmp_path / "tests.json"
    res = astm("test", "--write", "--no-build", "--json", "--save-plan", str(saved),
               "--plan", str(demo_plan(tmp_path)), cwd=repo)
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["built"] == ["test_pricing"] and data["tests"]["exit"] == 0
    assert set(json.loads(saved.read_text())["answers"]) == {
        "test_pricing:test_price_with_tax", "test_pricing:test_price_book"}
