"""Shared by the spec-build tests: the demo project as a repository, plans, answers."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FIXTURES, make_repo

DEMO = FIXTURES / "specs-demo"


def demo_files() -> dict[str, bytes | str]:
    return {p.relative_to(DEMO).as_posix(): p.read_bytes() for p in sorted(DEMO.rglob("*"))
            if p.is_file() and p.name != "plan.json" and "__pycache__" not in p.parts}


def demo_repo(tmp_path: Path, name: str = "shop") -> Path:
    return make_repo(tmp_path / name, demo_files())


def demo_answers() -> dict[str, str]:
    return dict(json.loads((DEMO / "plan.json").read_text())["answers"])


def write_plan(path: Path, answers: dict[str, str | list[str]]) -> Path:
    path.write_text(json.dumps({"version": 1, "answers": answers}))
    return path


def demo_plan(tmp_path: Path, overrides: dict[str, str | list[str]] | None = None,
              name: str = "plan.json") -> Path:
    answers: dict[str, str | list[str]] = dict(demo_answers())
    answers.update(overrides or {})
    return write_plan(tmp_path / name, answers)
