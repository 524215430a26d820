"""The Python language as astm asks it (``astm.lang.Language``): ``LANGUAGE``."""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING

from astm import pyast
from astm.core.node import Node
from astm.lang.base import Base
from astm.lang.python import answers, syntax
from astm.lang.python import problems as hook_problems
from astm.lang.python import summary as entries
from astm.lang.python.edits import _Python
from astm.lang.python.items import module_items

if TYPE_CHECKING:
    from astm.core.view import View
    from astm.lang.problems import Problem
    from astm.lang.summary import Entry
    from astm.validate.diagnostic import Diagnostic

# The repair's cut (``sibling_header``): a node's own ``def``/``class`` line, and what starts
# a sibling at its indentation (a decorator, another definition).
_DEFINITION = re.compile(rb"[ \t]*(?:async[ \t]+)?(?:def|class)\b")
_INDENT = re.compile(rb"[ \t]*")
_SIBLING = rb"(?:@|async[ \t]+def\b|def\b|class\b)"


class Python(_Python, Base):
    suffixes = (".py", ".pyi")
    typecheck = True  # pyright/basedpyright on a composed file, when the project configures it
    nested = True
    block_gap = 2  # line breaks joining a new file's blocks (``astm new``)
    tested = True  # a change runs the project's tests at the root
    config = False
    loose_keys = False

    def check_member(self, new_text: bytes, siblings: dict[str, bytes]) -> Diagnostic | None:
        from astm.lang.python import members

        return members.misused(new_text, members.methods(siblings))

    def stub(self, key: str, *, member: bool = False, intent: str = "") -> bytes:
        from astm.lang.python import asked

        return asked.stub(key, member=member, intent=intent)

    def section(self, text: bytes, key: str) -> bytes | None:
        from astm.lang.python import asked

        return asked.section(text, key)

    def check_asked(self, new_text: bytes, intent: str) -> Diagnostic | None:
        from astm.lang.python import asked

        return asked.missing(new_text, intent)

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
        return answers.starts_code(line)

    def parses(self, text: bytes) -> bool:
        return answers.parses(text)

    def mend(self, text: bytes) -> bytes | None:
        return answers.mend(text)

    def dedent(self, text: bytes) -> bytes:
        return answers.dedent(text)

    def inert(self, line: bytes) -> bool:
        return answers.inert(line)

    def check_block(
        self, text: bytes, *, kind: str, key: str, tables: list[str]
    ) -> Diagnostic | None:
        """Valid alone; an ``imports`` or ``assignment`` block only that (``code``: any)."""
        diag = self.check_file(text, "<block>")
        if diag is not None:
            return diag
        if kind in ("imports", "assignment"):
            return self.check_shape(text, kind=kind, key=key, rename=False)
        return None

    def wrap_body(self, text: bytes, old: bytes, kind: str) -> bytes | None:
        """Only a function is answered as a bare body (a class's body is its members)."""
        return answers.rewrap(text, old) if kind == "function" else None

    def build(self, path: str, data: bytes) -> Node:
        return syntax.build(path, data)

    # ---- the hook (problems.py) ----------------------------------------------------

    def problems(self, data: bytes, path: str) -> list[Problem]:
        return hook_problems.problems(data, path)

    def sibling_header(self, lines: list[bytes]) -> tuple[int, re.Pattern[bytes]] | None:
        """The node's first ``def``/``class`` line; a sibling starts at that line's indent."""
        header = next((i for i, ln in enumerate(lines) if _DEFINITION.match(ln)), None)
        if header is None:
            return None
        indent = _INDENT.match(lines[header])
        return header, re.compile(re.escape(indent.group(0) if indent else b"") + _SIBLING)

    def top_keys(self, data: bytes) -> list[tuple[str, str | None]]:
        """``(kind, key)`` of a file's top-level nodes, as ``build`` would give them, without
        building the nodes (a composed file's structure check: a big file has many)."""
        items = module_items(syntax.tree_of(data).root_node)
        return [(i.kind, None if i.kind == "imports" else i.name) for i in items]

    def top_keys_delta(
        self, base: bytes, data: bytes
    ) -> tuple[list[tuple[str, str | None]], list[tuple[str, str | None]]] | None:
        """The ``top_keys`` a composed text ``data`` lost and gained against ``base``, read
        around the changes only; None when they must be read from the whole text."""
        from astm.lang.python import change

        return change.change(base, data).delta

    def context(self, path: str, data: bytes) -> str:
        """What agents see of the rest of a file: its skeleton (signatures, bodies ``pass``)."""
        from astm.core.view import unreadable

        view = unreadable(path, "skeleton", data) or self.view(path, data, "skeleton")
        return view.text if view.text.strip() else self.outline(data)

    def view(self, path: str, data: bytes, kind: str) -> View:
        from astm.core.view import NOTE, Line, View
        from astm.lang.python import view as lines_of

        tree = syntax.parse_tree(data)
        lines, notes = lines_of.lines(path, data, tree, curated=kind == "curated")
        view = View(path, kind, tuple(lines), tuple(notes))
        if not _parses(view.text):
            # tree-sitter accepts some input CPython refuses (Python 2 code, a header its
            # error recovery kept): the view must stay valid source, so it says so instead.
            note = "no valid view: the file is not valid Python"
            return View(path, kind, (Line(f"# astm: {note}", path, NOTE),), (*notes, note))
        return view


def _parses(text: str) -> bool:
    """Whether ``text`` is Python that parses (names need not resolve: a view hides code)."""
    # ``catch_warnings`` swaps process-global state: share the syntax layer's lock.
    try:
        with syntax._warnings_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pyast.parse_only(text)  # threads share it safely (astm/pyast.py)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


LANGUAGE = Python()
