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
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from dataclasses import dataclass, field

import tree_sitter

from astm.core.node import node_id
from astm.core.view import ID, NOTE, STUB, Line
from astm.lang.python import syntax as pysyntax
from astm.lang.python.syntax import IMPORTS

_IMPORTS = ("import_statement", "import_from_statement", "future_import_statement")
_DEFS = ("function_definition", "class_definition")
_LOOK_THROUGH = ("if_statement", "try_statement", "with_statement")
_CLAUSES = ("elif_clause", "else_clause", "except_clause", "except_group_clause", "finally_clause")
_HOT = re.compile(rb"#\s*\[HOT\]")
_SHORT = 80  # a longer assignment (or one on several lines) shows its value as ``...``
_MAX_DEPTH = 100  # CPython refuses deeper nesting; deeper input is treated as broken
PASS = "pass"
HIDDEN = "...  # Hidden"


@dataclass
class _Scope:
    """The node whose body a block belongs to, and the names already used below it."""

    id: str
    kind: str  # "module", "class" or "function": what a block of this scope keeps
    prefix: str = ""  # qualified name of the scope ("" for the module)
    seen: dict[str, int] = field(default_factory=dict)
    imports: frozenset[int] = frozenset()  # start bytes of the import block's statements
    assigns: frozenset[int] = frozenset()  # start bytes of assignments that are nodes
    recovered: bool = False  # inside an ERROR node: no nodes, lines take the scope's id

    def name(self, simple: str) -> str:
        """The qualified name of the next child called ``simple`` (``x``, ``x#2`` ...)."""
        count = self.seen[simple] = self.seen.get(simple, 0) + 1
        name = simple if count == 1 else f"{simple}#{count}"
        return f"{self.prefix}.{name}" if self.prefix else name


class _Walker:
    def __init__(self, path: str, data: bytes, tree: tree_sitter.Tree, curated: bool) -> None:
        self.path = path
        self.data = data
        self.root = tree.root_node
        self.curated = curated
        self.notes: list[str] = []
        # The module's children as the node builder makes them (start, end, id, kind): a
        # top-level line takes the id of the node it stands in. Not for a broken file,
        # whose nodes the builder does not promise.
        self.tops: list[tuple[int, int, str, str]] = []
        if not self.root.has_error:
            top = pysyntax.top_level(path, data, tree)
            self.tops = [(c.start, c.end, c.id, c.kind) for c in top]
        self.shown: set[str] = set()  # top-level ids met
        self.stubbed: set[str] = set()  # top-level ids given a stub line

    # -- output -----------------------------------------------------------------------

    def top(self, pos: int) -> tuple[str, str] | None:
        """``(id, kind)`` of the module's child holding byte ``pos``."""
        i = bisect.bisect_right(self.tops, (pos, len(self.data) + 1)) - 1
        if i >= 0 and self.tops[i][0] <= pos < self.tops[i][1]:
            return self.tops[i][2], self.tops[i][3]
        return None

    def emit(self, indent: bytes, start: int, end: int, nid: str, out: list[Line]) -> None:
        text = (indent + self.data[start:end]).decode("utf-8")
        if "\n" in text:
            out.extend(Line(t.rstrip("\r"), nid) for t in text.split("\n"))
        else:
            out.append(Line(text, nid))

    def verbatim(self, indent: bytes, start: int, end: int, nid: str, out: list[Line]) -> None:
        """Lines ``start:end`` as written, moved to ``indent`` if they stand elsewhere (a
        definition recovered from a region tree-sitter could not parse)."""
        line_start = self.data.rfind(b"\n", 0, start) + 1
        orig = self.data[line_start:start]
        if orig == indent or orig.strip():
            self.emit(indent, start, end, nid, out)
            return
        text = self.data[start:end].decode("utf-8").split("\n")
        shift = orig.decode("utf-8")
        new = indent.decode("utf-8")
        out.append(Line(new + text[0].rstrip("\r"), nid))
        for t in text[1:]:
            t = t.rstrip("\r")
            out.append(Line(new + t[len(shift):] if t.startswith(shift) else t, nid))

    def stub(self, indent: bytes, nid: str, out: list[Line], text: str) -> None:
        out.append(Line(indent.decode("utf-8") + text, nid, STUB))

    def broken(
        self,
        node: tree_sitter.Node,
        indent: bytes,
        nid: str,
        out: list[Line],
        how: str = "left out",
    ) -> None:
        """Mark a region tree-sitter could not parse; the walk goes on after it."""
        first, last = node.start_point.row + 1, _end_row(node) + 1
        where = f"line {first}" if first == last else f"lines {first}-{last}"
        self.notes.append(f"{where}: could not be parsed ({how})")
        text = f"{indent.decode('utf-8')}# astm: {where}: could not be parsed ({how})"
        out.append(Line(text, nid, NOTE))

    def recover(
        self, error: tree_sitter.Node, indent: bytes, scope: _Scope, out: list[Line], depth: int
    ) -> bool:
        """A statement tree-sitter could not parse (an ERROR node, or one with an error in a
        header): mark it and show the statements it still recognised inside (named after
        the enclosing node: the node builder sees none of them)."""
        buf: list[Line] = []
        inner = _Scope(scope.id, scope.kind, scope.prefix, recovered=True)
        kept = self.block(error.children, indent, inner, buf, depth + 1)
        self.broken(error, indent, scope.id, out, "shown in part" if kept else "left out")
        out.extend(buf)
        return kept

    # -- walking ----------------------------------------------------------------------

    def module(self) -> list[Line]:
        stmts = [c for c in self.root.children if c.is_named and c.type != "comment"]
        alone = [self.alone(stmts, i) for i in range(len(stmts))]
        i = 1 if stmts and _is_docstring(stmts[0]) else 0
        first_import = i
        while i < len(stmts) and stmts[i].type in _IMPORTS and alone[i]:
            i += 1
        imports = frozenset(s.start_byte for s in stmts[first_import:i])
        assigns = frozenset(
            s.start_byte
            for j, s in enumerate(stmts[i:], i)
            if alone[j] and _assignment_target(s) is not None
        )
        scope = _Scope(self.path, "module", imports=imports, assigns=assigns)
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
        scope: _Scope,
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
            if docstring_allowed and _is_docstring(stmt):
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
        self, stmt: tree_sitter.Node, indent: bytes, module: _Scope, out: list[Line],
        docstring_allowed: bool,
    ) -> _Scope:
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

    def id_line(self, nid: str, pos: int, out: list[Line]) -> None:
        """A top-level node the view keeps nothing of: a line that only ``--ids`` shows
        (role ``id``), its first line as written, so every id of the file appears."""
        self.stubbed.add(nid)
        end = self.data.find(b"\n", pos)
        first = self.data[pos : end if end >= 0 else len(self.data)].decode("utf-8").rstrip()
        out.append(Line(first if len(first) <= 80 else first[:79] + "…", nid, ID))

    def assignment(
        self, stmt: tree_sitter.Node, indent: bytes, scope: _Scope, out: list[Line]
    ) -> bool:
        """A module-level assignment node, or a class attribute; long values become ``...``."""
        target = _assignment_target(stmt)
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
        self, outer: tree_sitter.Node, indent: bytes, scope: _Scope, out: list[Line], depth: int
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
        colon = _colon_before(body) if body is not None else None
        if body is None or colon is None or _range_broken(outer, body.start_byte):
            return self.recover(outer, indent, scope, out, depth)
        nid = scope.id if scope.recovered else node_id(self.path, qual)
        is_class = d.type == "class_definition"
        if self.curated and not is_class and self.marked(outer, d):
            self.verbatim(indent, outer.start_byte, _code_end(self.data, d), nid, out)
            return True
        if outer is not d:
            for deco in outer.children:
                if deco.type == "decorator":
                    self.emit(indent, deco.start_byte, deco.end_byte, nid, out)
        self.emit(indent, d.start_byte, colon.end_byte, nid, out)
        inner_indent = _block_indent(self.data, body, indent)
        if is_class or self.curated:
            inner = _Scope(nid, "class" if is_class else "function", qual,
                           recovered=scope.recovered)
            shown = self.block(body.children, inner_indent, inner, out, depth + 1, opens_scope=True)
            if is_class:
                if not shown:
                    self.stub(inner_indent, nid, out, HIDDEN if self.curated else PASS)
                return True
        if body.has_error:
            for n in _error_nodes(body):
                self.broken(n, inner_indent, nid, out)
        self.stub(inner_indent, nid, out, HIDDEN if self.curated else PASS)
        return True

    def compound(
        self, stmt: tree_sitter.Node, indent: bytes, scope: _Scope, out: list[Line], depth: int
    ) -> bool:
        """An if/try/with statement: kept with its headers when one of its blocks keeps
        something; an empty branch gets ``pass``."""
        buf: list[Line] = []
        kept = False
        for part in [stmt, *(c for c in stmt.children if c.type in _CLAUSES)]:
            block = next((c for c in part.children if c.type == "block"), None)
            colon = _colon_before(block) if block is not None else None
            if block is None or colon is None or _range_broken(part, colon.end_byte):
                return self.recover(stmt, indent, scope, out, depth) if stmt.has_error else False
            self.emit(indent, part.start_byte, colon.end_byte, scope.id, buf)
            inner_indent = _block_indent(self.data, block, indent)
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
            if deco.type == "decorator" and _decorator_name(deco) == "core_logic":
                return True
        pos = self.data.find(b"[HOT]", d.start_byte, d.end_byte)
        while pos != -1:
            found = self.root.descendant_for_byte_range(pos, pos + 1)
            if found is not None and found.type == "comment" and _HOT.match(found.text or b""):
                return True
            pos = self.data.find(b"[HOT]", pos + 1, d.end_byte)
        return False


def _is_docstring(stmt: tree_sitter.Node) -> bool:
    return (
        stmt.type == "expression_statement"
        and stmt.named_child_count == 1
        and stmt.named_children[0].type in ("string", "concatenated_string")
    )


def _assignment_target(stmt: tree_sitter.Node) -> tuple[tree_sitter.Node, str] | None:
    """``(assignment, name)`` of a statement that assigns to a name (``x``, ``x, y``)."""
    if stmt.type != "expression_statement" or stmt.named_child_count != 1:
        return None
    expr = stmt.named_children[0]
    if expr.type != "assignment":
        return None
    target = expr.child_by_field_name("left")
    while target is not None:
        if target.type == "identifier":
            return expr, (target.text or b"").decode("utf-8")
        if target.type in ("pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern"):
            target = next((c for c in target.named_children if c.type != "comment"), None)
        else:
            return None
    return None


def _decorator_name(deco: tree_sitter.Node) -> str:
    expr = next((c for c in deco.children if c.is_named and c.type != "comment"), None)
    if expr is not None and expr.type == "call":
        expr = expr.child_by_field_name("function")
    text = (expr.text or b"").decode("utf-8", "replace") if expr is not None else ""
    return text.rsplit(".", 1)[-1].strip()


def _colon_before(block: tree_sitter.Node) -> tree_sitter.Node | None:
    """The ``:`` token that ends a block's header (comments may sit between them)."""
    prev = block.prev_sibling
    while prev is not None and prev.type == "comment":
        prev = prev.prev_sibling
    return prev if prev is not None and prev.type == ":" else None


def _range_broken(node: tree_sitter.Node, end: int) -> bool:
    """An ERROR or MISSING node in ``node`` that starts before ``end`` (its header)."""
    if not node.has_error:
        return False
    return any(n.start_byte < end for n in _error_nodes(node))


def _error_nodes(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The outermost ERROR and MISSING nodes below ``node``, in source order."""
    found: list[tree_sitter.Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.is_error or n.is_missing:
            found.append(n)
        elif n.has_error:
            stack.extend(n.children)
    return sorted(found, key=lambda n: n.start_byte)


def _block_indent(data: bytes, block: tree_sitter.Node, outer: bytes) -> bytes:
    """Indentation of a block's statements; a block on its header's line gets 4 spaces."""
    first = block.child(0) if block.child_count else None
    while first is not None and first.type == "comment":
        first = first.next_sibling
    if first is not None:
        line_start = data.rfind(b"\n", 0, first.start_byte) + 1
        prefix = data[line_start : first.start_byte]
        if len(prefix) > len(outer) and prefix.startswith(outer) and not prefix.strip(b" \t\f"):
            return prefix
    return outer + b"    "


def _code_end(data: bytes, node: tree_sitter.Node) -> int:
    """End of the last line of code of ``node`` (trailing comment lines excluded)."""
    while node.child_count:
        last = node.child(node.child_count - 1)
        while last is not None and last.type == "comment":
            last = last.prev_sibling
        if last is None:
            break
        node = last
    end = node.end_byte
    if end > node.start_byte and data[end - 1 : end] == b"\n":
        end -= 1
    line_end = data.find(b"\n", end)
    return len(data) if line_end == -1 else line_end


def _end_row(node: tree_sitter.Node) -> int:
    row, col = node.end_point
    return row - 1 if col == 0 and row > node.start_point.row else row


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
