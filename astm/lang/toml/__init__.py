"""TOML: one home. ``syntax`` (tree-sitter -> nodes), ``edits`` (prepare, insert, delete),
``view`` (headers and keys), ``checks`` (tomllib and shape checks). ``LANGUAGE`` is what the
registry in ``astm.lang`` hands out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from astm.core.node import Node
from astm.lang.toml import syntax
from astm.lang.toml.edits import _Toml

if TYPE_CHECKING:
    from astm.core.view import View


class Toml(_Toml):
    suffixes = (".toml",)
    typecheck = False
    nested = False  # keys have dots but no nesting
    block_gap = 1  # line breaks joining a new file's blocks (``astm new``)
    tested = False  # a change runs the project's tests at the root

    def build(self, path: str, data: bytes) -> Node:
        return syntax.build(path, data)

    def context(self, path: str, data: bytes) -> str:
        """Table headers and keys: values are other nodes' business."""
        return self.outline(data)

    def view(self, path: str, data: bytes, kind: str) -> View:
        from astm.core.view import View
        from astm.lang.toml import view as lines_of

        lines, notes = lines_of.lines(path, data)
        return View(path, kind, tuple(lines), tuple(notes))


LANGUAGE = Toml()
