"""Python files as node trees (tree-sitter-python), with ``compile`` as the authority on validity.

Every byte of a file belongs to a node below the file, except blank lines between nodes
and a UTF-8 BOM: any change of a file is a replace, insert or delete of nodes. Node ids
below a Python file ``F`` (``F`` itself is the ``file`` node, its range the whole file):

* ``F::(docstring)`` (kind ``docstring``): the module docstring, the first statement
  when it is a string alone on its lines.
* ``F::(imports)`` (kind ``imports``, key ``None``): the import block, i.e. the run of
  consecutive ``import``/``from ... import`` statements (``from __future__`` included) that
  opens the module, after an optional module docstring. Comments and blank lines between
  the imports belong to the block; the first other statement ends it.
* ``F::name`` for a top-level ``def``/``async def`` (kind ``function``), ``class`` (kind
  ``class``) or assignment (kind ``assignment``: ``X = 1``, ``X: int = 1``, ``X: int``;
  ``a, b = ...`` and ``a = b = ...`` are named by their first name).
* ``F::(if COND)``, ``F::(try)``, ``F::(with ITEMS)`` (kind ``block``): a top-level
  ``if``/``try``/``with`` statement, its header as written with whitespace collapsed
  (``F::(if TYPE_CHECKING)``, ``F::(if __name__ == "__main__")``). The ``def``s and
  ``class``es standing in its branches, at any depth, are its children, named as in the
  module (a block is no scope in Python): ``if TYPE_CHECKING: class A`` is ``F::A`` below
  ``F::(if TYPE_CHECKING)``; ``try: def f() ... except ImportError: def f()`` gives
  ``F::f`` and ``F::f#2``. Its other lines (imports, assignments) are its own.
* ``F::(NAME)`` (kind ``statement``) for every other top-level statement, named by what it
  does, never by where it stands, so the id survives lines shifting above it (see
  ``statement_name``): ``(call setup)``, ``(set X.attr)``, ``(set X)`` for ``X += 1``,
  ``(import late)`` / ``(from pkg)`` for an import after the import block,
  ``(for i in range(3))``, ``(while COND)``, ``(match x)``, ``(expr)``, ``(assert)`` ...
  Statements sharing a line (``p = 1; q = 2``) cannot be split by whole lines: they make
  one statement node named after the first (``(set p)``).
* ``F::(comment before NAME)`` (kind ``comment``, key ``None``): a run of comment lines no
  other node holds, i.e. separated by a blank line from the node below it (section
  comments, a file header, a shebang and an encoding cookie), named after the next node;
  ``F::(comment end)`` after the last node.
* ``F::Class.method``, ``F::Class.Inner``, ``F::outer.inner``: a class's children are its
  methods and nested classes (looking through ``if``/``try``/``with`` blocks in its body,
  which stay the class's own lines, as do class attributes); a function's children are
  its nested functions and classes. Loops and ``match`` are not looked through.
* A name repeated among siblings (whatever their kinds) gets ``#2``, ``#3`` ... in source
  order: a property getter and setter are ``x`` and ``x#2``; three ``@overload``s and the
  implementation are ``f`` ... ``f#4``; children of a repeated node hang below the suffixed
  name (``F::A#2.method``); a second ``if __name__ == "__main__":`` is ``...#2``.

A node covers whole lines, from column 0 of its first line to just after the newline of its
last line (or the end of the file):

* it starts at its first decorator, or at the comment lines directly above that (no blank
  line between), not reaching into its previous sibling; a shebang line and an encoding
  cookie on the first two lines are never a node's leading comments;
* it ends on its last line of code, extended over the comment lines that follow it when they
  are indented deeper than its own first line (a commented-out tail of its body);
* blank lines between nodes belong to no child; a UTF-8 BOM belongs to the file.

``key`` is the simple name (``method``, not ``Class.method``; the whole ``(...)`` name of a
statement, block or docstring; ``None`` for the import block and comments); ``hash`` is the
``text_hash`` of the node's bytes; all offsets are UTF-8 byte offsets. CRLF line ends and
tab indentation need no special case: ``\\r\\n`` ends with ``\\n`` and indentation is compared
as a byte prefix.
"""

from __future__ import annotations

import re
import textwrap
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter
import tree_sitter_python

from astm.core.lines import Lines, tree_depth
from astm.core.node import Node, node_id, text_hash
from astm.errors import TargetError, ValidationFailed

IMPORTS = "(imports)"
DOCSTRING = "(docstring)"
COMMENT = "(comment"  # ``(comment before NAME)``, ``(comment end)``
_NAME_MAX = 60  # longer statement names are cut
# How deep a new text's syntax tree may nest. CPython's own limits are lower for brackets
# (200) and blocks (100 levels, 2 tree levels each); chains of operators (``- - - 1``,
# ``a if b else ...``) have none of their own before its parser runs out of memory.
# Real code stays far below: the standard library's deepest module nests about 60 levels.
MAX_DEPTH = 1000
BOM = b"\xef\xbb\xbf"

_LANGUAGE = tree_sitter.Language(tree_sitter_python.language())
_local = threading.local()
# ``warnings.catch_warnings`` swaps process-global state; serialise our own uses of it.
_warnings_lock = threading.Lock()

_DEFINITIONS = ("function_definition", "class_definition")
_IMPORT_TYPES = ("import_statement", "import_from_statement", "future_import_statement")
# Compound statements whose blocks a scope looks through for conditional definitions.
_LOOK_THROUGH = ("if_statement", "try_statement", "with_statement")
_CLAUSES = (
    "elif_clause",
    "else_clause",
    "except_clause",
    "except_group_clause",
    "finally_clause",
)
# Top-level compound statements: ``if``/``try``/``with`` make nodes of kind ``block`` (the
# definitions in them are their children), loops and ``match`` nodes of kind ``statement``.
_COMPOUND = (*_LOOK_THROUGH, "for_statement", "while_statement", "match_statement")
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")
_KINDS = {"function_definition": "function", "class_definition": "class"}


def _parser() -> tree_sitter.Parser:
    # tree-sitter parsers are not thread-safe; one per thread.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = tree_sitter.Parser(_LANGUAGE)
    return parser


def parse_tree(data: bytes) -> tree_sitter.Tree:
    """The raw tree-sitter tree of ``data`` (tree-sitter-python skips a BOM itself)."""
    return _parser().parse(data)


def python_error(data: bytes, path: str = "<text>") -> tuple[str, int | None] | None:
    """``None`` if ``data`` is valid Python, else ``(message, line)`` from ``compile``."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A coding cookie could make other encodings valid Python; astm edits UTF-8 only.
        line = data[: exc.start].count(b"\n") + 1
        return f"not UTF-8 (byte {exc.start})", line
    try:
        with _warnings_lock, warnings.catch_warnings():
            # SyntaxWarnings (invalid escapes, ``is`` with a literal) are not errors, and
            # under ``-W error`` compile would turn them into SyntaxErrors.
            warnings.simplefilter("ignore")
            compile(data, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        # NUL bytes: a SyntaxError without a line (3.11.4+) or a ValueError (older).
        line = exc.lineno if isinstance(exc, SyntaxError) else None
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        nul = data.find(b"\0")
        if line is None and nul >= 0:
            line = data[:nul].count(b"\n") + 1
        return message or "invalid syntax", line
    except (RecursionError, MemoryError):
        # CPython's parser gives MemoryError on deep operator chains (``not not ... x``).
        return "too deeply nested", None
    return None


def refuse_deep(text: bytes) -> None:
    """Raise ValidationFailed if ``text`` nests deeper than ``MAX_DEPTH`` syntax levels.

    One linear walk of tree-sitter's tree (which parses deep input without recursion),
    done before any other work on an answer, so nothing after it meets unbounded depth.
    """
    depth = tree_depth(parse_tree(text), MAX_DEPTH)
    if depth > MAX_DEPTH:
        raise ValidationFailed(f"the text nests more than {MAX_DEPTH} levels deep; refused")


def parse(path: str, data: bytes) -> Node:
    """The node tree of a Python file; raises TargetError if it is not valid Python."""
    err = python_error(data, path)
    if err:
        message, line = err
        if not message.startswith("not UTF-8"):
            message = f"not valid Python: {message}"
        raise TargetError(message, path=path, line=line)
    return build(path, data)


@dataclass(frozen=True)
class _Item:
    """A future child node: its kind, simple name, line span and definition (if any)."""

    kind: str
    name: str
    first: int  # row of its first decorator or statement line
    last: int  # row of its last line of code
    definition: tree_sitter.Node | None


def _last_row(node: tree_sitter.Node) -> int:
    """Row of the last token of ``node`` that is not a comment."""
    # tree-sitter puts comments that follow a block's last statement inside the block.
    while True:
        # From the last child backwards: asking for every child is costly on long blocks.
        i = node.child_count - 1
        child = node.child(i) if i >= 0 else None
        while child is not None and child.type == "comment":
            i -= 1
            child = node.child(i) if i >= 0 else None
        if child is None:
            break
        node = child
    row, col = node.end_point
    return row - 1 if col == 0 and node.end_byte > node.start_byte else row


def _first_name(target: tree_sitter.Node | None) -> str | None:
    """The name of an assignment target: ``x``, ``x, y`` -> ``x``; attributes -> None."""
    while target is not None:
        if target.type == "identifier":
            return (target.text or b"").decode("utf-8")
        if target.type in ("pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern"):
            target = next((c for c in target.named_children if c.type != "comment"), None)
        else:
            return None
    return None


def _assignment_name(stmt: tree_sitter.Node) -> str | None:
    if stmt.type != "expression_statement" or stmt.named_child_count != 1:
        return None
    expr = stmt.named_children[0]
    if expr.type != "assignment":
        return None
    return _first_name(expr.child_by_field_name("left"))


def _definition_of(stmt: tree_sitter.Node) -> tree_sitter.Node | None:
    if stmt.type == "decorated_definition":
        stmt = stmt.child_by_field_name("definition") or stmt
    return stmt if stmt.type in _DEFINITIONS else None


def _definitions(
    statements: list[tree_sitter.Node],
) -> Iterator[tuple[tree_sitter.Node, tree_sitter.Node]]:
    """``(outer, definition)`` of each def/class in ``statements``, looking through
    if/try/with blocks; ``outer`` is the decorated definition when there is one."""
    for stmt in statements:
        definition = _definition_of(stmt)
        if definition is not None:
            yield stmt, definition
        elif stmt.type in _LOOK_THROUGH:
            for part in stmt.children:
                if part.type == "block":
                    yield from _definitions(part.children)
                elif part.type in _CLAUSES:
                    for block in part.children:
                        if block.type == "block":
                            yield from _definitions(block.children)


def _def_item(outer: tree_sitter.Node, definition: tree_sitter.Node) -> _Item:
    name_node = definition.child_by_field_name("name")
    name = (name_node.text or b"").decode("utf-8") if name_node else "?"
    return _Item(_KINDS[definition.type], name, outer.start_point.row, _last_row(outer), definition)


def _spans(statements: list[tree_sitter.Node]) -> list[tuple[int, int]]:
    return [(s.start_point.row, _last_row(s)) for s in statements]


def _alone(spans: list[tuple[int, int]], i: int) -> bool:
    """Whether statement ``i`` shares no line with its neighbours."""
    first, last = spans[i]
    return (i == 0 or spans[i - 1][1] < first) and (i + 1 == len(spans) or spans[i + 1][0] > last)


def _module_items(root: tree_sitter.Node) -> list[_Item]:
    """The children of a module, in source order: every top-level statement is in one."""
    statements = [c for c in root.children if c.is_named and c.type != "comment"]
    spans = _spans(statements)
    items: list[_Item] = []
    i = 0
    if statements and _is_docstring(statements[0]) and _alone(spans, 0):
        items.append(_Item("docstring", DOCSTRING, spans[0][0], spans[0][1], None))
        i = 1
    first_import = i
    while i < len(statements) and statements[i].type in _IMPORT_TYPES and _alone(spans, i):
        i += 1
    if i > first_import:
        items.append(_Item("imports", IMPORTS, spans[first_import][0], spans[i - 1][1], None))
    while i < len(statements):
        # Statements sharing a line (``p = 1; q = 2``) cannot be split by whole lines:
        # they make one node, named after the first.
        j = i
        while j + 1 < len(statements) and spans[j + 1][0] <= spans[j][1]:
            j += 1
        items.append(_statement_item(statements[i], spans[i][0], spans[j][1], alone=i == j))
        i = j + 1
    return items


def _statement_item(stmt: tree_sitter.Node, first: int, last: int, *, alone: bool) -> _Item:
    """The node a top-level statement (or a line of several) makes."""
    if alone:
        name = _assignment_name(stmt)
        if name is not None:
            return _Item("assignment", name, first, last, None)
        definition = _definition_of(stmt)
        if definition is not None:
            return _def_item(stmt, definition)
        if stmt.type in _LOOK_THROUGH:  # a block: the definitions in it are its children
            return _Item("block", statement_name(stmt), first, last, stmt)
    return _Item("statement", statement_name(stmt), first, last, None)


def statement_name(stmt: tree_sitter.Node) -> str:
    """The name of a top-level statement that is no definition, import block or assignment.

    Named by what it does, never by where it stands, so the id survives lines shifting
    above it: ``(call setup)`` for an expression calling ``setup`` (``(call app.run)``),
    ``(set X.attr)`` for an assignment to an attribute, a subscript or augmented
    (``X += 1``), ``(import os)`` / ``(from pkg)`` for an import outside the import block,
    ``(if COND)``, ``(while COND)``, ``(for TARGET in ITER)``, ``(with ITEMS)``,
    ``(match SUBJECT)``, ``(try)`` for a compound statement (its header as written,
    whitespace collapsed), ``(expr)`` for another expression, and ``(assert)``,
    ``(delete)``, ``(raise)`` ... (the statement's own keyword) for the rest. Names longer
    than ``_NAME_MAX`` characters are cut and end with ``…``.
    """
    kind = stmt.type
    if kind == "decorated_definition":  # only when it shares a line with others
        definition = _definition_of(stmt)
        return _def_item(stmt, definition).name if definition is not None else "(def)"
    if kind in _COMPOUND:
        word = kind.removesuffix("_statement")
        colon = next((c for c in stmt.children if c.type == ":"), None)
        keyword = stmt.children[0] if stmt.children else stmt
        end = colon.start_byte if colon is not None else keyword.end_byte
        header = _collapse(stmt, keyword.end_byte, end)
        return _short(f"({word} {header})" if header else f"({word})")
    if kind == "expression_statement" and stmt.named_child_count >= 1:
        expr = stmt.named_children[0]
        if expr.type == "call":
            callee = expr.child_by_field_name("function")
            if callee is not None and callee.type in ("identifier", "attribute"):
                return _short(f"(call {_collapse(callee, callee.start_byte, callee.end_byte)})")
            return "(call)"
        if expr.type in ("assignment", "augmented_assignment"):
            left = expr.child_by_field_name("left")
            if left is not None:
                return _short(f"(set {_collapse(left, left.start_byte, left.end_byte)})")
        return "(expr)"
    if kind in _IMPORT_TYPES:
        module = stmt.child_by_field_name("module_name") or stmt.child_by_field_name("name")
        word = "import" if kind == "import_statement" else "from"
        if module is None:
            return f"({word})"
        return _short(f"({word} {_collapse(module, module.start_byte, module.end_byte)})")
    return f"({kind.removesuffix('_statement')})"


def _collapse(node: tree_sitter.Node, start: int, end: int) -> str:
    """The source of ``node`` between ``start`` and ``end``, whitespace collapsed."""
    text = (node.text or b"")[start - node.start_byte : end - node.start_byte]
    return " ".join(text.decode("utf-8", "replace").split())


def _short(name: str) -> str:
    return name if len(name) <= _NAME_MAX else name[: _NAME_MAX - 2] + "…)"


def _is_docstring(stmt: tree_sitter.Node) -> bool:
    return (
        stmt.type == "expression_statement"
        and stmt.named_child_count == 1
        and stmt.named_children[0].type in ("string", "concatenated_string")
    )


def _body_items(definition: tree_sitter.Node) -> list[_Item]:
    """The children of a def or class (its methods, nested definitions), or of a
    top-level block (the definitions standing in it, at any depth)."""
    if definition.type in _COMPOUND:
        return [_def_item(o, d) for o, d in _definitions([definition])]
    body = definition.child_by_field_name("body")
    if body is None:
        return []
    return [_def_item(o, d) for o, d in _definitions(body.children)]


class _Builder:
    def __init__(self, path: str, data: bytes, tree: tree_sitter.Tree) -> None:
        self.path = path
        self.data = data
        self.root = tree.root_node
        self.lines = Lines.of(data)

    def is_comment_row(self, row: int) -> bool:
        """A line holding only a comment (not a ``#`` inside a multi-line string)."""
        line = self.lines.text(row)
        body = line.lstrip(b" \t\f")
        if not body.startswith(b"#"):
            return False
        pos = self.lines.start(row) + len(line) - len(body)
        found = self.root.descendant_for_byte_range(pos, pos + 1)
        return found is not None and found.type == "comment"

    def is_file_header(self, row: int) -> bool:
        """A shebang or encoding cookie: these speak for the file, not the node below."""
        line = self.lines.text(row)
        return (row == 0 and line.startswith(b"#!")) or (row <= 1 and bool(_CODING.match(line)))

    def span(self, item: _Item, floor: int) -> tuple[int, int]:
        """First and last row of ``item``'s node; its leading comments stay above ``floor``."""
        first = item.first
        while (
            first - 1 >= floor
            and self.is_comment_row(first - 1)
            and not self.is_file_header(first - 1)
        ):
            first -= 1
        last = item.last
        indent = self.lines.indent(item.first)
        row = last + 1
        while row < len(self.lines):
            if self.lines.blank(row):
                row += 1
                continue
            deeper = self.lines.indent(row)
            if not (self.is_comment_row(row) and deeper.startswith(indent) and deeper != indent):
                break
            last = row
            row += 1
        return first, last

    def nodes(
        self, items: list[_Item], prefix: str, floor: int, seen: dict[str, int] | None = None,
        *, deep: bool = True,
    ) -> tuple[Node, ...]:
        """One node per item, in order. ``seen`` counts the names used in the scope so far:
        a block shares its scope's (a block is no scope: ``if X: def f`` is ``F::f``).
        ``deep=False``: no children and no hashes (ids and ranges of this level only)."""
        seen = {} if seen is None else seen
        out: list[Node] = []
        for item in items:
            count = seen[item.name] = seen.get(item.name, 0) + 1
            name = item.name if count == 1 else f"{item.name}#{count}"
            qual = f"{prefix}.{name}" if prefix else name
            first, last = self.span(item, floor)
            floor = last + 1
            children: tuple[Node, ...] = ()
            if item.kind == "block" and item.definition is not None:
                inner = _body_items(item.definition)
                if deep:
                    children = self.nodes(inner, prefix, item.first + 1, seen)
                else:  # the names still count: a later sibling may repeat one
                    for sub in inner:
                        seen[sub.name] = seen.get(sub.name, 0) + 1
            elif deep and item.definition is not None:
                children = self.nodes(_body_items(item.definition), qual, item.first + 1)
            start, end = self.lines.start(first), self.lines.end(last)
            out.append(
                Node(
                    id=node_id(self.path, qual),
                    kind=item.kind,
                    path=self.path,
                    start=start,
                    end=end,
                    key=None if item.kind == "imports" else item.name,
                    hash=text_hash(self.data[start:end]) if deep else "",
                    children=children,
                )
            )
        return tuple(out)

    def comments(self, children: tuple[Node, ...]) -> tuple[Node, ...]:
        """``children`` with the lines between them that no node holds made nodes too.

        Those are comment lines separated by a blank line from the node below (or with no
        node below), a shebang and an encoding cookie: each run of them between two nodes
        is one node of kind ``comment``, ``(comment before NAME)`` after the node it
        stands above or ``(comment end)`` at the end of the file. Blank lines around it
        stay the file's.
        """
        out: list[Node] = []
        pos = self.lines.start(0) if self.data else 0
        for child in (*children, None):
            stop = child.start if child is not None else len(self.data)
            gap = self.data[pos:stop]
            if gap.strip():
                first = self.lines.row(pos + len(gap) - len(gap.lstrip()))
                last = self.lines.row(pos + len(gap.rstrip()) - 1)
                start, end = self.lines.start(first), self.lines.end(last)
                after = child.id.split("::", 1)[1] if child is not None else ""
                qual = f"{COMMENT} before {after})" if child is not None else f"{COMMENT} end)"
                out.append(
                    Node(
                        id=node_id(self.path, qual), kind="comment", path=self.path,
                        start=start, end=end, key=None, hash=text_hash(self.data[start:end]),
                    )
                )
            if child is not None:
                out.append(child)
                pos = child.end
        return tuple(out)


def top_level(path: str, data: bytes, tree: tree_sitter.Tree) -> tuple[Node, ...]:
    """The file's children as ``build`` makes them, without their own children or hashes:
    cheap ids and ranges for labelling a view's top-level lines."""
    builder = _Builder(path, data, tree)
    return builder.comments(builder.nodes(_module_items(tree.root_node), "", 0, deep=False))


def build(path: str, data: bytes, tree: tree_sitter.Tree | None = None) -> Node:
    """The node tree of ``data`` without checking validity (used on valid files);
    ``tree`` is its tree-sitter tree when the caller has parsed it already."""
    tree = tree if tree is not None else parse_tree(data)
    builder = _Builder(path, data, tree)
    return Node(
        id=node_id(path),
        kind="file",
        path=path,
        start=0,
        end=len(data),
        key=None,
        hash=text_hash(data),
        children=builder.comments(builder.nodes(_module_items(tree.root_node), "", 0)),
    )


def key_of(text: bytes) -> tuple[str, str] | None:
    """``(kind, name)`` of the node ``text`` makes, read from its first statement, e.g. a
    new method's text ``@property\n    def x(self): ...`` -> ``('function', 'x')``,
    ``setup()`` -> ``('statement', '(call setup)')``.

    The text may be indented (a method taken out of its class); ``None`` if it holds no
    statement (only comments). A text tree-sitter cannot place is searched for the first
    definition, assignment or import inside it.
    """
    source = textwrap.dedent(text.decode("utf-8", "replace").removeprefix("\ufeff"))
    root = parse_tree(source.encode("utf-8")).root_node
    statements = [c for c in root.children if c.is_named and c.type != "comment"]
    if statements and statements[0].type != "ERROR":
        first = statements[0]
        if first.type in _IMPORT_TYPES:
            return "imports", IMPORTS
        alone = len(statements) == 1 or statements[1].start_point.row > _last_row(first)
        if alone and _is_docstring(first):
            return "docstring", DOCSTRING
        item = _statement_item(first, 0, 0, alone=alone)
        return item.kind, item.name
    stack = list(reversed(root.children))
    while stack:
        stmt = stack.pop()
        if stmt.type in _IMPORT_TYPES:
            return "imports", IMPORTS
        definition = _definition_of(stmt)
        if definition is not None:
            item = _def_item(stmt, definition)
            return item.kind, item.name
        name = _assignment_name(stmt)
        if name is not None:
            return "assignment", name
        if stmt.type == "ERROR":  # a fragment tree-sitter could not place: look inside
            stack.extend(reversed(stmt.children))
    return None


def outline(data: bytes) -> str:
    """A compact skeleton for prompts: module-level imports and every class/def signature
    (decorators included), one line each, indented as in the file."""
    tree = parse_tree(data)
    out: list[str] = []

    def one_line(node: tree_sitter.Node, end: int) -> str:
        # Drop comments inside the span before folding lines, or a folded comment would
        # swallow the rest of the signature.
        pieces, pos = [], node.start_byte
        for comment in _comments(node, end):
            pieces.append(data[pos : comment.start_byte])
            pos = comment.end_byte
        pieces.append(data[pos:end])
        text = " ".join(b"".join(pieces).decode("utf-8", "replace").split())
        text = re.sub(r"([(\[{]) ", r"\1", text)
        return re.sub(r",? ([)\]}])", r"\1", text)

    def indent(node: tree_sitter.Node) -> str:
        line_start = data.rfind(b"\n", 0, node.start_byte) + 1
        return data[line_start : node.start_byte].decode("utf-8", "replace").lstrip("\ufeff")

    def signatures(statements: list[tree_sitter.Node]) -> None:
        for outer, definition in _definitions(statements):
            if outer is not definition:
                for deco in outer.children:
                    if deco.type == "decorator":
                        out.append(indent(deco) + one_line(deco, deco.end_byte))
            body = definition.child_by_field_name("body")
            colon = body.prev_sibling if body is not None else None
            end = colon.end_byte if colon is not None else definition.end_byte
            out.append(indent(definition) + one_line(definition, end))
            if body is not None:
                signatures(body.children)

    for stmt in tree.root_node.children:
        if stmt.type in _IMPORT_TYPES:
            out.append(one_line(stmt, stmt.end_byte))
        else:
            signatures([stmt])
    return "\n".join(out)


def _comments(node: tree_sitter.Node, end: int) -> list[tree_sitter.Node]:
    """Comment nodes inside ``node`` that start before ``end``, in order."""
    found: list[tree_sitter.Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.start_byte >= end:
            continue
        if n.type == "comment":
            found.append(n)
        else:
            stack.extend(n.children)
    return sorted(found, key=lambda c: c.start_byte)
