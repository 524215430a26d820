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

import tree_sitter
import tree_sitter_python

from astm.core.lines import tree_depth
from astm.core.node import Node, node_id, text_hash
from astm.errors import TargetError, ValidationFailed
from astm.lang.python.builder import Builder
from astm.lang.python.items import (
    COMMENT,
    DOCSTRING,
    IMPORT_TYPES,
    IMPORTS,
    assignment_name,
    def_item,
    definition_of,
    definitions,
    is_docstring,
    last_row,
    module_items,
    statement_item,
    statement_name,
)
from astm.lang.python.kept import Kept

__all__ = [
    "BOM", "COMMENT", "DOCSTRING", "IMPORTS", "MAX_DEPTH", "build", "key_of", "outline", "parse",
    "parse_tree", "python_error", "refuse_deep", "statement_name", "top_level", "tree_of",
]

# How deep a new text's syntax tree may nest. CPython's own limits are lower for brackets
# (200) and blocks (100 levels, 2 tree levels each); chains of operators (``- - - 1``,
# ``a if b else ...``) have none of their own before its parser runs out of memory.
# Real code stays far below: the standard library's deepest module nests about 60 levels.
MAX_DEPTH = 1000
BOM = b"\xef\xbb\xbf"

GRAMMAR = tree_sitter.Language(tree_sitter_python.language())
_local = threading.local()
# ``warnings.catch_warnings`` swaps process-global state; serialise our own uses of it.
_warnings_lock = threading.Lock()


def _parser() -> tree_sitter.Parser:
    # tree-sitter parsers are not thread-safe; one per thread.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = tree_sitter.Parser(GRAMMAR)
    return parser


def parse_tree(data: bytes) -> tree_sitter.Tree:
    """The raw tree-sitter tree of ``data`` (tree-sitter-python skips a BOM itself).

    A node's text is parsed by several steps of one answer's checks (depth, re-indent,
    requests, shape): the trees of the last few small texts are kept. Shared: read them,
    never ``edit`` them."""
    if len(data) > _SMALL:
        return _parser().parse(data)
    return _texts.get(data, lambda: _parser().parse(data))


_SMALL = 1 << 16  # bytes: a node's text, not a file's
_texts: Kept[bytes, tree_sitter.Tree] = Kept(32)


# The trees of the last few files asked for by ``tree_of``, by their text: a run asks for
# its base file's tree from several places (the node tree, the indent unit, placing a new
# node, a composed file's check, ``change.py``), and a 3 MB module takes a second to
# parse. A few, because each holds its text and a tree of several times its size.
_trees: Kept[bytes, tree_sitter.Tree] = Kept(4)


def tree_of(data: bytes) -> tree_sitter.Tree:
    """The tree-sitter tree of a file's whole text, parsed once while it is among the last
    few asked for. Shared: read it, never ``edit`` it."""
    return _trees.get(data, lambda: parse_tree(data))


def forget_trees() -> None:
    """Drop the kept trees (tests counting parses start from none)."""
    _trees.clear()
    _texts.clear()
    _verdicts.clear()


def python_error(data: bytes, path: str = "<text>") -> tuple[str, int | None] | None:
    """``None`` if ``data`` is valid Python, else ``(message, line)`` from ``compile``.

    One answer's checks compile its node's text up to four times (the answer read, the
    text alone, the node re-indented...): the verdicts on the last few small texts are
    kept, as their trees are (32 leaves of a wave: 130 compiles, 80 ms of the event loop).
    The verdict does not depend on ``path`` (only the error's file name would)."""
    if len(data) > _SMALL:
        return _python_error(data, path)
    return _verdicts.get(data, lambda: _python_error(data, path))


# Enough for a wave's leaves to find theirs at their parent (``compiled``): 128 leaves of
# a plan compile about 130 texts.
_verdicts: Kept[bytes, tuple[str, int | None] | None] = Kept(512)


def compiled(data: bytes) -> bool:
    """Whether ``data`` is known to compile, as a module of its own (its verdict is kept):
    a composing parent leaves out of its compile the statements its leaves compiled."""
    known, verdict = _verdicts.peek(data)
    return known and verdict is None


def _python_error(data: bytes, path: str) -> tuple[str, int | None] | None:
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

def top_level(path: str, data: bytes, tree: tree_sitter.Tree) -> tuple[Node, ...]:
    """The file's children as ``build`` makes them, without their own children or hashes:
    cheap ids and ranges for labelling a view's top-level lines."""
    builder = Builder(path, data, tree)
    return builder.comments(builder.nodes(module_items(tree.root_node), "", 0, deep=False))


def build(path: str, data: bytes, tree: tree_sitter.Tree | None = None) -> Node:
    """The node tree of ``data`` without checking validity (used on valid files);
    ``tree`` is its tree-sitter tree when the caller has parsed it already."""
    tree = tree if tree is not None else tree_of(data)
    builder = Builder(path, data, tree)
    return Node(
        id=node_id(path),
        kind="file",
        path=path,
        start=0,
        end=len(data),
        key=None,
        hash=text_hash(data),
        children=builder.comments(builder.nodes(module_items(tree.root_node), "", 0)),
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
        if first.type in IMPORT_TYPES:
            return "imports", IMPORTS
        alone = len(statements) == 1 or statements[1].start_point.row > last_row(first)
        if alone and is_docstring(first):
            return "docstring", DOCSTRING
        item = statement_item(first, 0, 0, alone=alone)
        return item.kind, item.name
    stack = list(reversed(root.children))
    while stack:
        stmt = stack.pop()
        if stmt.type in IMPORT_TYPES:
            return "imports", IMPORTS
        definition = definition_of(stmt)
        if definition is not None:
            item = def_item(stmt, definition)
            return item.kind, item.name
        name = assignment_name(stmt)
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
        for outer, definition in definitions(statements):
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
        if stmt.type in IMPORT_TYPES:
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
