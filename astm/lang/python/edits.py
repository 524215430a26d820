"""Python operations, as the ``Language`` protocol asks for them; each lives in its own
module:

* ``indent``: new text re-indented to where its node stands, in the file's own unit;
* ``spacing``: the blank lines an insert adds and a delete takes (the file's example,
  PEP 8 where it has none);
* ``placement``: where new text goes (after the module's last definition, in a ``pass``
  body) and what a delete removes (a ``pass`` stays in a block left empty);
* ``imports``: import lines above an answer's definition (an upward request), where a new
  import block goes, the names a module is imported by;
* ``checks``: ``compile()`` and tree-sitter on new text: validity, then shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from astm.core.node import Node
from astm.core.patch import Patch
from astm.lang.python import checks, imports, indent, lintview, placement, syntax
from astm.lang.python.checks import valid_alone as _valid_alone
from astm.lang.python.imports import split_requests
from astm.lang.python.indent import reindent
from astm.validate.diagnostic import Diagnostic

__all__ = ["PYTHON", "_Python", "_valid_alone", "reindent", "split_requests"]


class _Python:
    name = "python"
    # Kinds that route to their children; the rest generate whole. A block is a top-level
    # ``if``/``try``/``with`` holding definitions.
    routers = ("file", "class", "block")
    external = True  # ruff runs in the sandbox

    def requests(self, text: bytes) -> tuple[bytes, list[bytes]]:
        return split_requests(text)

    def import_lines(self, text: bytes) -> list[bytes]:
        return imports.import_lines(text)

    def module_names(self, path: str) -> list[str]:
        return imports.module_names(path)

    def importable(self, file: Node) -> list[str]:
        """The names another module can import from ``file``: its top-level definitions."""
        return [c.key for c in file.children if c.key and c.kind in ("class", "function", "assignment")]

    def imports_for(
        self, text: bytes, path: str, importable: dict[str, str], cycle: Callable[[str], bool] = lambda p: False
    ) -> list[bytes]:
        return imports.imports_for(text, path, importable, cycle)

    def module_imports(self, path: str, data: bytes) -> frozenset[str]:
        return imports.module_imports(path, data)

    def parse(self, path: str, data: bytes) -> Node:
        return syntax.parse(path, data)

    def outline(self, data: bytes) -> str:
        return syntax.outline(data)

    def key_of(self, text: bytes) -> tuple[str, str] | None:
        return syntax.key_of(text)

    # ---- placing text --------------------------------------------------------------

    def indent_at(self, node: Node, base: bytes) -> bytes:
        return indent.indent_at(node, base)

    def body_indent(self, parent: Node, base: bytes) -> bytes:
        return indent.body_indent(parent, base)

    def prepare(self, text: bytes, *, node: Node | None, parent: Node, base: bytes) -> bytes:
        """Re-indent new text (LF line ends) to where it will stand, in the file's unit.

        Text nested deeper than ``syntax.MAX_DEPTH`` is refused first (ValidationFailed):
        the steps after it may take time and stack in proportion to the depth.
        """
        syntax.refuse_deep(text)
        target = indent.indent_at(node, base) if node is not None else indent.body_indent(parent, base)
        unit = indent.indent_unit(base)
        return reindent(text, target, tabs=unit == b"\t", width=len(unit))

    def insert(
        self, parent: Node, base: bytes, text: bytes, *, after: Node | None, before: Node | None,
        position: str | None, owner: str, seq: int, first: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> tuple[Patch, int]:
        return placement.insert(
            parent, base, text, after=after, before=before, position=position, owner=owner,
            seq=seq, first=first, deleted=deleted,
        )

    def import_point(self, file: Node, base: bytes) -> int:
        return imports.import_point(file, base)

    def delete(
        self, parent: Node, node: Node, base: bytes, *, refilled: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> Patch:
        return placement.delete(parent, node, base, refilled=refilled, deleted=deleted)

    # ---- checks ----------------------------------------------------------------------

    def lint_view(self, tree: Node, base: bytes, patches: Sequence[Patch]) -> bytes | None:
        return lintview.lint_view(tree, base, patches)

    def check_file(self, data: bytes, path: str) -> Diagnostic | None:
        return checks.check_file(data, path)

    def check_change(
        self, base: bytes, data: bytes, path: str, patches: Sequence[Patch] = ()
    ) -> Diagnostic | None:
        return checks.check_change(base, data, path, patches)

    def check_shape(self, new_text: bytes, *, kind: str, key: str | None, rename: bool) -> Diagnostic | None:
        return checks.check_shape(new_text, kind=kind, key=key, rename=rename)

    def check_node(
        self, patched: bytes, new_start: int, new_text: bytes, *, kind: str, key: str | None,
        rename: bool, path: str,
    ) -> Diagnostic | None:
        return checks.check_node(
            patched, new_start, new_text, kind=kind, key=key, rename=rename, path=path
        )


PYTHON = _Python()
