"""Issue 11.15: an edit in a big file costs one parse of it, not passes over all of it.

A 4.6 MB module with 52,000 functions took 35 s to change one function: the preparation
made the whole file's skeleton (three more parses and a compile) that a plan run never
reads, and the composing parent compiled and parsed the composed file whole again.
Counted here, not timed (``bench/bigfile.py`` prints the times): preparing a file parses
it with tree-sitter once, a plan run makes no skeleton of any file, and an edit compiles
the file whole once (the composed file only where it changed, ``change.py``).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import git, make_repo

import astm.lang.python as python_lang
from astm.config import Settings
from astm.core.plan import Plan, Replace
from astm.engine.apply import ApplyOptions, apply
from astm.engine.prepare import configures, prepare, reads_context, root_candidate_suffixes
from astm.lang import REGISTRY, by_name
from astm.lang.python import syntax
from astm.llm.plan_provider import PlanProvider
from astm.workspace.repo import Repo

N = 400
CONFIG = '[project]\nname = "big"\n\n[tool.astm.validate]\ntests = "off"\n'


def source(n: int) -> str:
    return '"""Generated."""\n' + "".join(f"\n\ndef f{i}(x: int) -> int:\n    return x + {i}\n" for i in range(n))


@pytest.fixture
def big(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "r", {"big.py": source(N), "pyproject.toml": CONFIG})


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Counts tree-sitter parses (by the bytes parsed) and skeletons made."""
    seen = SimpleNamespace(parses=[], contexts=[], compiles=[])
    parse_tree, context = syntax.parse_tree, type(python_lang.LANGUAGE).context
    python_error = syntax.python_error

    def counting_compile(data: bytes, path: str = "<text>") -> object:
        seen.compiles.append(data)
        return python_error(data, path)

    def counting_parse(data: bytes) -> object:
        seen.parses.append(data)
        return parse_tree(data)

    def counting_context(self: object, path: str, data: bytes) -> str:
        seen.contexts.append(path)
        return context(self, path, data)  # type: ignore[arg-type]

    syntax.forget_trees()  # the trees kept from an earlier test's files
    monkeypatch.setattr(syntax, "parse_tree", counting_parse)
    monkeypatch.setattr(syntax, "python_error", counting_compile)
    monkeypatch.setattr(type(python_lang.LANGUAGE), "context", counting_context)
    return seen


def edit_plan(i: int) -> Plan:
    text = f"def f{i}(x: int) -> int:\n    return x * {i}\n"
    return Plan(intent="change one function", edits=[Replace(op="replace", node=f"big.py::f{i}", text=text)])


def test_a_plan_run_makes_no_skeleton_and_lands(big: Path, counted: SimpleNamespace) -> None:
    plan = edit_plan(N // 2)
    # No PATHS: the root's pyproject.toml is a candidate too, so the repository node routes.
    opts = ApplyOptions(intent=plan.intent, cwd=big, plan=plan, branch="edited")
    result = apply(opts, Settings(), PlanProvider(plan))
    assert result.branch == "edited"
    assert counted.contexts == []
    landed = git(big, "show", "edited:big.py")
    assert f"return x * {N // 2}" in landed and f"return x + {N // 2 + 1}" in landed


def test_an_edit_compiles_and_parses_the_file_once(big: Path, counted: SimpleNamespace) -> None:
    """The base is compiled and parsed once; the composed file is re-parsed from the base's
    tree and only the changed function is compiled again, by its leaf: its parent leaves
    out what its leaf compiled (``astm/lang/python/change.py``)."""
    plan = edit_plan(N // 2)
    opts = ApplyOptions(intent=plan.intent, cwd=big, paths=("big.py",), plan=plan, branch="edited")
    result = apply(opts, Settings(), PlanProvider(plan))
    assert result.branch == "edited"
    size = len(source(N))
    assert [len(d) for d in counted.parses if len(d) > size // 2] == [size]
    assert [len(d) for d in counted.compiles if len(d.strip()) > size // 2] == [size]
    # The changed function was compiled alone, at its leaf; the composed file's compile
    # (its window's lines, the rest blank) had nothing left to hold.
    text = edit_plan(N // 2).edits[0].text.encode().strip()
    assert [d.strip() for d in counted.compiles if d.strip() == text]
    assert not [d for d in counted.compiles if d.startswith(b"\n") and d.strip()]


def test_preparing_a_file_parses_it_once(big: Path, counted: SimpleNamespace) -> None:
    plan = edit_plan(7)
    opts = ApplyOptions(intent=plan.intent, cwd=big, paths=("big.py",), plan=plan)
    data = (big / "big.py").read_bytes()
    _, files, _ = prepare(Repo.open(big), opts, context=False)
    assert counted.parses.count(data) == 1 and counted.contexts == []
    assert files["big.py"].outline == ""
    assert len(files["big.py"].tree.children) == N + 1  # the docstring and every function


def test_a_model_gets_the_skeleton(big: Path, counted: SimpleNamespace) -> None:
    """A provider that reads context (a model) still gets each file's skeleton."""
    plan = edit_plan(7)
    assert not reads_context(PlanProvider(plan))
    assert reads_context(SimpleNamespace(name="openai"))  # type: ignore[arg-type]
    opts = ApplyOptions(intent="x", cwd=big, paths=("big.py",))
    _, files, _ = prepare(Repo.open(big), opts, context=True)
    assert counted.contexts == ["big.py"]
    assert "def f7(x: int) -> int:" in files["big.py"].outline


def test_root_candidates_come_from_the_registry() -> None:
    """The files at the root every run considers are the configuring languages' (TOML)."""
    assert root_candidate_suffixes() == tuple(
        s for name, sfx, _ in REGISTRY if name == "toml" for s in sfx
    )
    assert configures(by_name("toml")) and not configures(by_name("python"))
    # A language that says so itself is taken at its word.
    assert configures(SimpleNamespace(configures=True, tested=True))  # type: ignore[arg-type]
    assert not configures(SimpleNamespace(configures=False, tested=False))  # type: ignore[arg-type]
