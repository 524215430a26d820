"""Skeleton and curated views of Python files, walked from one tree-sitter parse.

Both views keep, in source order: imports (at module level and in the blocks a scope looks
through), module-level assignments (long values become ``...``), class attributes (the
fields of dataclasses and enums), and every class and function with its decorators and
full signature. Conditional definitions keep their ``if``/``try``/``with`` headers, so the
output stays valid Python; a branch left empty gets ``pass``. Comments are dropped, except
inside a signature.

* skeleton: every function body becomes ``pass``; docstrings go.
* curated: module, class and function docstrings stay; a function decorated with
  ``@core_logic`` (also ``@x.core_logic``, ``@core_logic(...)``) or holding a comment that
  starts ``# [HOT]`` (on its header line or in its body) keeps its full text; every other
  function body becomes its docstring, its nested classes and functions (curated the same
  way) and ``...  # Hidden``.

Each line carries the id of its node, named by the rules of ``astm.lang.python.syntax`` (the
walk meets definitions in the order its node builder does and counts repeated names the
same way; tests hold the two together). A statement tree-sitter could not parse is left
out and marked ``# astm: lines A-B: could not be parsed (left out)``; the walk goes on.
Inside a region tree-sitter could not parse (an ERROR node), the statements it still
recognised are shown, marked ``(shown in part)``, under the id of the enclosing node.

The walk is here; the lines it writes (``viewlines``) and the parts of the tree it looks
for (``treeparts``) are modules of their own.
"""

from __future__ import annotations

import dataclasses
import re

import tree_sitter

from astm.core.node import node_id
from astm.core.view import NOTE, Line
from astm.lang.python.syntax import IMPORTS
from astm.lang.python.treeparts import (
    assignment_target,
    block_indent,
    code_end,
    colon_before,
    decorator_name,
    error_nodes,
    is_docstring,
    range_broken,
)
from astm.lang.python.viewlines import Emitter, Scope

_IMPORTS = ("import_statement", "import_from_statement", "future_import_statement")
_DEFS = ("function_definition", "class_definition")
_LOOK_THROUGH = ("if_statement", "try_statement", "with_statement")
_CLAUSES = ("elif_clause", "else_clause", "except_clause", "except_group_clause", "finally_clause")
_HOT = re.compile(rb"#\s*\[HOT\]")
_SHORT = 80  # a longer assignment (or one on several lines) shows its value as ``...``
_MAX_DEPTH = 100  # CPython refuses deeper nesting; deeper input is treated as broken
PASS = "pass"
HIDDEN = "...  # Hidden"


class _Walker(Emitter):
    def __init__(self, path: str, data: bytes, tree: tree_sitter.Tree, curated: bool) -> None:
        super().__init__(path, data, tree)
        self.curated = curated

    def recover(
        self, error: tree_sitter.Node, indent: bytes, scope: Scope, out: list[Line], depth: int
    ) -> bool:
        """A statement tree-sitter could not parse (an ERROR node, or one with an error in a
        header): mark it and show the statements it still recognised inside (named after
        the enclosing node: the node builder sees none of them)."""
        buf: list[Line] = []
        inner = Scope(scope.id, scope.kind, scope.prefix, recovered=True)
        kept = self.block(error.children, indent, inner, buf, depth + 1)
        self.broken(error, indent, scope.id, out, "shown in part" if kept else "left out")
        out.extend(buf)
        return kept

    # -- walking ----------------------------------------------------------------------

    def module(self) -> list[Line]:
        stmts = [c for c in self.root.children if c.is_named and c.type != "comment"]
        alone = [self.alone(stmts, i) for i in range(len(stmts))]
        i = 1 if stmts and is_docstring(stmts[0]) else 0
        first_import = i
        while i < len(stmts) and stmts[i].type in _IMPORTS and alone[i]:
            i += 1
        imports = frozenset(s.start_byte for s in stmts[first_import:i])
        assigns = frozenset(
            s.start_byte
            for j, s in enumerate(stmts[i:], i)
            if alone[j] and assignment_target(s) is not None
        )
        scope = Scope(self.path, "module", imports=imports, assigns=assigns)
        out: list[Line] = []
        self.block(self.root.children, b"", scope, out, 0, opens_scope=True)
        return out

    def alone(self, stmts: list[tree_sitter.Node], i: int) -> bool:
        """Whether statement ``i`` shares no line with its neighbours."""
        stmt = stmts[i]
        line_start = self.data.rfind(b"\n", 0, stmt.start_byte) + 1
        line_end = self.data.find(b"\n", stmt.end_byte)
        if i > 0 and stmts[i - 1].end_byte > line_start:
            return False
        return i + 1 == len(stmts) or line_end == -1 or stmts[i + 1].start_byte > line_end

    def block(
        self,
        stmts: list[tree_sitter.Node],
        indent: bytes,
        scope: Scope,
        out: list[Line],
        depth: int,
        *,
        opens_scope: bool = False,
    ) -> bool:
        """Emit what the view keeps of ``stmts``; whether it kept a statement.

        ``opens_scope``: the statements are a module or a class or function body, so the
        curated view keeps a docstring among them.
        """
        if depth > _MAX_DEPTH:
            first = next((s for s in stmts if s.is_named), None)
            if first is not None:
                self.broken(first, indent, scope.id, out)
            return False
        kept = False
        docstring_allowed = self.curated and opens_scope
        top_level = scope.kind == "module" and depth == 0 and not scope.recovered
        outer = scope
        for stmt in stmts:
            kind = stmt.type
            scope = outer
            if top_level and stmt.is_named:
                scope = self.top_scope(stmt, indent, outer, out, docstring_allowed)
            if kind == "comment" or not stmt.is_named:
                continue
            if docstring_allowed and is_docstring(stmt):
                self.emit(indent, stmt.start_byte, stmt.end_byte, scope.id, out)
                kept = True
                continue
            docstring_allowed = False
            before = len(out)
            if kind == "ERROR":
                kept = self.recover(stmt, indent, scope, out, depth) or kept
            elif kind == "block" and scope.recovered:  # the body of a broken definition
                kept = self.block(stmt.children, indent, scope, out, depth + 1) or kept
            elif stmt.is_missing:
                self.broken(stmt, indent, scope.id, out)
            elif kind == "decorated_definition" or kind in _DEFS:
                kept = self.definition(stmt, indent, scope, out, depth) or kept
            elif kind in _LOOK_THROUGH:
                kept = self.compound(stmt, indent, scope, out, depth) or kept
            elif scope.kind == "function":
                continue  # a hidden body shows only its docstring and nested definitions
            elif kind in _IMPORTS and not stmt.has_error:
                nid = scope.id
                if stmt.start_byte in scope.imports:
                    nid = node_id(self.path, IMPORTS)
                self.emit(indent, stmt.start_byte, stmt.end_byte, nid, out)
                kept = True
            elif kind == "expression_statement" and not stmt.has_error:
                kept = self.assignment(stmt, indent, scope, out) or kept
            elif stmt.has_error:
                self.broken(stmt, indent, scope.id, out)
            if top_level and len(out) == before and scope.id not in self.stubbed:
                self.id_line(scope.id, stmt.start_byte, out)
        return kept

    def top_scope(
        self, stmt: tree_sitter.Node, indent: bytes, module: Scope, out: list[Line],
        docstring_allowed: bool,
    ) -> Scope:
        """The scope a top-level statement's lines are labelled in: the module's, with the
        id of the node the statement stands in. A node the view would show nothing of (a
        docstring in the skeleton, a comment; a statement after it is walked) gets one
        line of role ``id``."""
        top = self.top(stmt.start_byte)
        if top is None:
            return module
        nid, kind = top
        if nid not in self.shown:
            self.shown.add(nid)
            if kind == "comment" or (kind == "docstring" and not docstring_allowed):
                self.id_line(nid, stmt.start_byte, out)
        return dataclasses.replace(module, id=nid)

    def assignment(
        self, stmt: tree_sitter.Node, indent: bytes, scope: Scope, out: list[Line]
    ) -> bool:
        """A module-level assignment node, or a class attribute; long values become ``...``."""
        target = assignment_target(stmt)
        if target is None:
            return False
        expr, name = target
        if scope.kind == "module":
            if stmt.start_byte not in scope.assigns:
                return False
            nid = node_id(self.path, scope.name(name))
        elif expr.child_by_field_name("left").type == "identifier":  # type: ignore[union-attr]
            nid = scope.id
        else:
            return False
        if stmt.start_point.row == stmt.end_point.row and stmt.end_byte - stmt.start_byte <= _SHORT:
            self.emit(indent, stmt.start_byte, stmt.end_byte, nid, out)
            return True
        left = expr.child_by_field_name("left")
        assert left is not None
        end = (expr.child_by_field_name("type") or left).end_byte
        if self.data.find(b"\n", left.start_byte, end) != -1:
            return False
        tail = b" = ..." if expr.child_by_field_name("right") is not None else b""
        out.append(Line((indent + self.data[left.start_byte : end] + tail).decode("utf-8"), nid))
        return True

    def definition(
        self, outer: tree_sitter.Node, indent: bytes, scope: Scope, out: list[Line], depth: int
    ) -> bool:
        d = outer
        if outer.type == "decorated_definition":
            d = outer.child_by_field_name("definition")
        if d is None or d.type not in _DEFS:
            return self.recover(outer, indent, scope, out, depth)
        name_node = d.child_by_field_name("name")
        qual = scope.prefix
        if not scope.recovered:
            qual = scope.name((name_node.text or b"").decode("utf-8") if name_node else "?")
        body = d.child_by_field_name("body")
        colon = colon_before(body) if body is not None else None
        if body is None or colon is None or range_broken(outer, body.start_byte):
            return self.recover(outer, indent, scope, out, depth)
        nid = scope.id if scope.recovered else node_id(self.path, qual)
        is_class = d.type == "class_definition"
        if self.curated and not is_class and self.marked(outer, d):
            self.verbatim(indent, outer.start_byte, code_end(self.data, d), nid, out)
            return True
        if outer is not d:
            for deco in outer.children:
                if deco.type == "decorator":
                    self.emit(indent, deco.start_byte, deco.end_byte, nid, out)
        self.emit(indent, d.start_byte, colon.end_byte, nid, out)
        inner_indent = block_indent(self.data, body, indent)
        if is_class or self.curated:
            inner = Scope(nid, "class" if is_class else "function", qual,
                           recovered=scope.recovered)
            shown = self.block(body.children, inner_indent, inner, out, depth + 1, opens_scope=True)
            if is_class:
                if not shown:
                    self.stub(inner_indent, nid, out, HIDDEN if self.curated else PASS)
                return True
        if body.has_error:
            for n in error_nodes(body):
                self.broken(n, inner_indent, nid, out)
        self.stub(inner_indent, nid, out, HIDDEN if self.curated else PASS)
        return True

    def compound(
        self, stmt: tree_sitter.Node, indent: bytes, scope: Scope, out: list[Line], depth: int
    ) -> bool:
        """An if/try/with statement: kept with its headers when one of its blocks keeps
        something; an empty branch gets ``pass``."""
        buf: list[Line] = []
        kept = False
        for part in [stmt, *(c for c in stmt.children if c.type in _CLAUSES)]:
            block = next((c for c in part.children if c.type == "block"), None)
            colon = colon_before(block) if block is not None else None
            if block is None or colon is None or range_broken(part, colon.end_byte):
                return self.recover(stmt, indent, scope, out, depth) if stmt.has_error else False
            self.emit(indent, part.start_byte, colon.end_byte, scope.id, buf)
            inner_indent = block_indent(self.data, block, indent)
            if self.block(block.children, inner_indent, scope, buf, depth + 1):
                kept = True
            else:
                self.stub(inner_indent, scope.id, buf, PASS)
        if kept:
            out.extend(buf)
        return kept

    def marked(self, outer: tree_sitter.Node, d: tree_sitter.Node) -> bool:
        """``@core_logic`` on the function, or a ``# [HOT]`` comment in it."""
        for deco in outer.children if outer is not d else ():
            if deco.type == "decorator" and decorator_name(deco) == "core_logic":
                return True
        pos = self.data.find(b"[HOT]", d.start_byte, d.end_byte)
        while pos != -1:
            found = self.root.descendant_for_byte_range(pos, pos + 1)
            if found is not None and found.type == "comment" and _HOT.match(found.text or b""):
                return True
            pos = self.data.find(b"[HOT]", pos + 1, d.end_byte)
        return False




def lines(
    path: str, data: bytes, tree: tree_sitter.Tree, *, curated: bool
) -> tuple[list[Line], list[str]]:
    """The lines and notes of one view of ``data`` (valid UTF-8) parsed as ``tree``."""
    walker = _Walker(path, data, tree, curated)
    try:
        out = walker.module()
    except RecursionError:
        note = "nesting too deep to show"
        return [Line(f"# astm: {note}", path, NOTE)], [note]
    return out, walker.notes
