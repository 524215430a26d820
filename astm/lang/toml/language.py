"""The Toml language as astm asks it (``astm.lang.Language``): ``LANGUAGE``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from astm.core.node import Node
from astm.lang.base import Base
from astm.lang.toml import answers, checks, syntax
from astm.lang.toml import problems as hook_problems
from astm.lang.toml import summary as entries
from astm.lang.toml.edits import _Toml

if TYPE_CHECKING:
    from astm.core.view import View
    from astm.lang.problems import Problem
    from astm.lang.summary import Entry
    from astm.validate.diagnostic import Diagnostic

_TABLE_HEADER = re.compile(rb"\[")  # ``[table]`` and ``[[array]]`` (the repair's cut)


class Toml(_Toml, Base):
    suffixes = (".toml",)
    typecheck = False
    nested = False  # keys have dots but no nesting
    block_gap = 1  # line breaks joining a new file's blocks (``astm new``)
    tested = False  # a change runs the project's tests at the root
    config = True  # pyproject.toml and the tools' own files: every repository-wide intent sees them
    loose_keys = True  # ``[tool.ruff]``, ``tool.ruff``, ``"tool".ruff`` name one table

    def summary(self, data: bytes) -> tuple[str, str | None, tuple[Entry, ...]]:
        return entries.summary(data)

    def grammar_tag(self) -> str:
        return entries.grammar_tag()

    # ---- a model's answer (answers.py) ---------------------------------------------

    def shape(self, kind: str) -> str:
        return answers.shape(kind)

    def defines(self, block: str, key: str) -> bool:
        return answers.defines(block, key)

    def starts_code(self, line: bytes) -> bool:
        return answers.CODE_START.match(line) is not None

    def parses(self, text: bytes) -> bool:
        return answers.parses(text)

    def inert(self, line: bytes) -> bool:
        return line.startswith(b"#")

    def check_block(
        self, text: bytes, *, kind: str, key: str, tables: list[str]
    ) -> Diagnostic | None:
        return checks.check_block(text, tables=tables)

    def bare_key(self, key: str) -> str:
        return key.strip("[]").strip()  # a table named by its header

    def section(self, text: bytes, key: str) -> bytes | None:
        return syntax.section(text, key)

    def stub(self, key: str, *, member: bool = False, intent: str = "") -> bytes:
        return f"[{key}]\n".encode() if key and not key.startswith("(") else b""

    def build(self, path: str, data: bytes) -> Node:
        return syntax.build(path, data)

    # ---- the hook (problems.py) ----------------------------------------------------

    def problems(self, data: bytes, path: str) -> list[Problem]:
        return hook_problems.problems(data, path)

    def sibling_header(self, lines: list[bytes]) -> tuple[int, re.Pattern[bytes]] | None:
        """The node's first table header; any later line opening with ``[`` is a sibling."""
        header = next((i for i, ln in enumerate(lines) if ln.startswith(b"[")), None)
        return None if header is None else (header, _TABLE_HEADER)

    def context(self, path: str, data: bytes) -> str:
        """Table headers and keys: values are other nodes' business."""
        return self.outline(data)

    def view(self, path: str, data: bytes, kind: str) -> View:
        from astm.core.view import View
        from astm.lang.toml import view as lines_of

        lines, notes = lines_of.lines(path, data)
        return View(path, kind, tuple(lines), tuple(notes))


LANGUAGE = Toml()
