"""Values the intent states, carried by the one node acting on them (astm.agents.stated)."""

from __future__ import annotations

from astm.agents import stated
from astm.llm.base import Act, Create, Route


def test_percentages_and_versions_are_the_stated_values() -> None:
    assert stated.values("fail when it is under 80%") == ["80"]
    assert stated.values("Add requests 2.31 or newer as a runtime dependency") == ["2.31"]
    assert stated.values("returns only n - 1; cut at 20 characters") == []
    assert stated.values("see https://example.com/v1.2/x") == []


def test_a_stated_value_the_answer_lacks_is_named() -> None:
    base = b'[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    lacking = b'[tool.pytest.ini_options]\naddopts = "--cov=inventory"\n'
    diag = stated.missing("fail when it is under 80%", lacking, base)
    assert diag is not None and diag.message == 'the task says "fail when it is under 80%"; the answer does not have 80'
    assert stated.missing("fail when it is under 80%", lacking.replace(b'"\n', b' --cov-fail-under=80"\n'), base) is None
    assert stated.missing("fail under 80%", lacking, base + b"# 80 already\n") is None  # the file had it


def test_only_a_sole_acting_node_of_its_file_must_carry_them() -> None:
    one = {".": Route((Act("p.toml", "i"),)), "p.toml": Route((Act("p.toml::tool.x", "i"),))}
    two = {".": Route((Act("p.toml", "i"),)), "p.toml": Route((Act("p.toml::project", "i"),), (Create("tool.x", "i"),))}
    assert stated.sole(one, "p.toml") and not stated.sole(two, "p.toml")
    nested = {"a.py": Route((Act("a.py::C", "i", mode="route"),)), "a.py::C": Route((Act("a.py::C.m", "i"),))}
    assert stated.sole(nested, "a.py") and not stated.sole({}, "a.py")


def test_a_coverage_percentage_in_pytests_table_says_where_it_goes() -> None:
    from astm.validate import pyproject

    intent = "Configure pytest-cov: fail when it is under 80%"
    table = "pyproject.toml", "tool.pytest.ini_options", intent
    # The answer's own addopts, with the flag: the whole line to write.
    answer = b'[tool.pytest.ini_options]\naddopts = "--cov=inventory --cov-report=html"\n'
    hint = pyproject.value_hint(*table, answer, b"")
    assert hint == ' (pytest-cov: addopts = "--cov=inventory --cov-report=html --cov-fail-under=80")'
    listed = b'[tool.pytest.ini_options]\naddopts = ["--cov=x", "-q"]\n'
    assert pyproject.value_hint(*table, listed, b"") == ' (pytest-cov: addopts = "--cov=x -q --cov-fail-under=80")'
    # No addopts yet: --cov of the project's package (the fail-under alone measures nothing).
    base = b'[project]\nname = "my-shop"\n'
    assert pyproject.value_hint(*table, b"[tool.pytest.ini_options]\n", base) == (
        ' (pytest-cov: addopts = "--cov=my_shop --cov-fail-under=80")')
    assert pyproject.value_hint(*table, b"", b"") == ' (pytest-cov: addopts = "--cov --cov-fail-under=80")'
    assert pyproject.value_hint("pyproject.toml", "project", intent) == ""
    diag = stated.missing(intent, answer, b"", where=hint)
    assert diag is not None and diag.message.endswith('does not have 80 (pytest-cov: addopts = '
                                                      '"--cov=inventory --cov-report=html --cov-fail-under=80")')
