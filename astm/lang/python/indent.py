"""Re-indentation of Python text to where its node stands.

New text may come at any indentation: it is re-indented to where the node sits (a method
at its class's body level), its nesting re-expressed in the file's own unit (a tab, or the
file's number of spaces). Lines inside multi-line strings are never touched, so string
values do not change; docstrings move with their definition.
"""

from __future__ import annotations

import functools
from collections import Counter

import tree_sitter

from astm.core.node import Node
from astm.lang.python import syntax
from astm.lang.python.spacing import floor

DEF_TYPES = ("function_definition", "class_definition")
_BODIES = ("block", "module", "decorated_definition")  # their named children start lines
_CLAUSES = (
    "elif_clause", "else_clause", "except_clause", "except_group_clause", "finally_clause",
    "case_clause",
)


def indent_of(line: bytes) -> bytes:
    return line[: len(line) - len(line.lstrip(b" \t"))]


def _protected_rows(tree: tree_sitter.Tree) -> set[int]:
    """Rows that start inside a multi-line string (their bytes are string content).

    Docstrings are not protected: they move with their definition, as any formatter
    moves them, since their indentation is stripped when they are read (PEP 257).
    The strings are found by a tree-sitter query (in C: walking every node in Python was
    most of a leaf's re-indenting); only the multi-line ones ask for their parents.
    """
    rows: set[int] = set()
    for n in _captures(_strings(), tree):
        if n.end_point.row > n.start_point.row:
            stmt = n.parent
            body = stmt.parent if stmt is not None else None
            owner = body.parent if body is not None else None
            if not _is_docstring((n, stmt, body, owner)):
                rows.update(range(n.start_point.row + 1, n.end_point.row + 1))
    return rows


def _line_starts(tree: tree_sitter.Tree) -> set[int]:
    """Rows that begin a logical line: a statement, a clause, a decorator or a comment.

    The other rows continue a bracketed or backslashed line; they move with it, so
    alignment under an open bracket is kept.
    """
    return {n.start_point.row for n in _captures(_starts(), tree)}


@functools.cache
def _strings() -> tree_sitter.Query:
    return tree_sitter.Query(syntax.GRAMMAR, "[(string) (concatenated_string)] @s")


@functools.cache
def _starts() -> tree_sitter.Query:
    kinds = ["comment", "decorator", *_CLAUSES]
    plain = [k for k in kinds if syntax.GRAMMAR.id_for_node_kind(k, True)]  # (this grammar's)
    bodies = [f"({b} (_) @s)" for b in _BODIES]
    return tree_sitter.Query(syntax.GRAMMAR, " ".join([*(f"({k}) @s" for k in plain), *bodies]))


def _captures(query: tree_sitter.Query, tree: tree_sitter.Tree) -> list[tree_sitter.Node]:
    return [n for nodes in tree_sitter.QueryCursor(query).captures(tree.root_node).values() for n in nodes]


# A node and its parent, grandparent and great-grandparent (None above the root).
_Chain = tuple[
    tree_sitter.Node, tree_sitter.Node | None, tree_sitter.Node | None, tree_sitter.Node | None
]


def _is_docstring(chain: _Chain) -> bool:
    """A plain string that is the first statement of a module, class or function body."""
    string, stmt, body, owner = chain
    if string.type != "string" or stmt is None or stmt.type != "expression_statement":
        return False
    if body is None or stmt.named_child_count != 1:
        return False
    if body.type == "block":
        if owner is None or owner.type not in DEF_TYPES:
            return False
    elif body.type != "module":
        return False
    first = next((c for c in body.named_children if c.type != "comment"), None)
    return first is not None and first.id == stmt.id


def _dedented_tree(text: bytes) -> tree_sitter.Tree:
    import textwrap

    return syntax.parse_tree(textwrap.dedent(text.decode("utf-8", "replace")).encode("utf-8"))


def reindent(text: bytes, target: bytes, *, tabs: bool, width: int = 4) -> bytes:
    """Shift ``text`` (LF line ends) so its first code line sits at ``target``.

    Its nesting is re-expressed in the file's unit (a tab, or ``width`` spaces): an answer
    indented by 2 spaces lands indented by 4 in a 4-space file. Lines inside multi-line
    strings (not docstrings) keep their bytes; continuation lines move with their line.
    """
    if target == b"" and not tabs and _in_place(text, width):
        return text
    lines = text.split(b"\n")
    tree = _dedented_tree(text)
    protected = _protected_rows(tree)
    starts = _line_starts(tree)
    first = next((i for i, ln in enumerate(lines) if ln.strip() and i not in protected), None)
    if first is None:
        return text
    current = indent_of(lines[first])
    code = [i for i, ln in enumerate(lines) if ln.strip() and i not in protected]
    rels = [
        indent_of(lines[i])[len(current) :]
        for i in code
        if i in starts and lines[i].startswith(current) and not lines[i].lstrip().startswith(b"#")
    ]
    spaced = [len(r) for r in rels if r and not r.strip(b" ")]
    step = min(spaced) if spaced else width
    unit = b"\t" if tabs else b" " * width

    def moved(rel: bytes) -> bytes:
        if not rel.strip(b"\t"):  # tabs: one level each
            return unit * len(rel)
        if not rel.strip(b" "):
            return unit * (len(rel) // step) + b" " * (len(rel) % step)
        return rel  # mixed tabs and spaces: left as it is

    out: list[bytes] = []
    last_old, last_new = b"", b""  # the indentation of the logical line being continued
    for i, ln in enumerate(lines):
        if i in protected or not ln.strip() or not ln.startswith(current):
            out.append(ln)
            continue
        rel = indent_of(ln)[len(current) :]
        if i in starts or not rel.startswith(last_old):
            new = moved(rel)
            last_old, last_new = rel, new
        else:
            extra = rel[len(last_old) :]
            new = last_new + (moved(extra) if tabs else extra)
        out.append(target + new + ln.lstrip(b" \t"))
    return b"\n".join(out)


def _in_place(text: bytes, width: int) -> bool:
    """Whether ``reindent`` would give a top-level text back as it is, told without its
    full walk (70 us of a leaf's 0.6 ms in a plan). The walk's step is the smallest
    indentation of a line that starts a statement; with a step of ``width`` in a file of
    ``width`` spaces, every line keeps its bytes. In valid Python (its verdict is kept for
    the leaf's own check of these bytes) with no tab, no ``;`` and no comment after code,
    the lines that start statements are each block's first statement's line (a body on
    its header's line: that line), the top level's (column 0), and lines at the
    indentation of a block around them: the smallest is a block's."""
    if b"\t" in text or b";" in text or text.lstrip(b"\n")[:1] in (b"", b" ", b"#"):
        return False
    lines = text.split(b"\n")
    if any(ln[: ln.find(b"#")].strip() for ln in lines if b"#" in ln):
        return False  # a comment after code: the walk counts its line as a start
    tree = syntax.parse_tree(text)  # a top-level text: dedenting would change nothing
    if tree.root_node.has_error:
        return False
    step = None
    for block in _captures(_blocks(), tree):
        first = next((c for c in block.named_children if c.type != "comment"), None)
        if first is not None:
            rel = len(indent_of(lines[first.start_point.row]))
            if rel and (step is None or rel < step):
                step = rel
    # Compiled last: a text the walk will move is compiled after it, as it then stands.
    return (step is None or step == width) and syntax.python_error(text) is None


@functools.cache
def _blocks() -> tree_sitter.Query:
    return tree_sitter.Query(syntax.GRAMMAR, "(block) @b")


def statements(text: bytes) -> tuple[tree_sitter.Tree, list[tree_sitter.Node]]:
    import textwrap

    dedented = textwrap.dedent(text.decode("utf-8", "replace")).encode("utf-8")
    tree = syntax.parse_tree(dedented)
    return tree, [n for n in tree.root_node.children if n.type != "comment"]


def indent_at(node: Node, base: bytes) -> bytes:
    """The indentation of ``node``'s first code line."""
    for line in base[node.start : node.end].split(b"\n"):
        if line.strip() and not line.lstrip().startswith(b"#"):
            return indent_of(line)
    return b""


def body_indent(parent: Node, base: bytes) -> bytes:
    """Where children of ``parent`` sit: a child's indent, or one level in."""
    if parent.kind == "file":
        return b""
    if parent.children:
        return indent_at(parent.children[0], base)
    own = indent_at(parent, base)
    lines = base[parent.start : parent.end].split(b"\n")
    header = next(
        (i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith((b"#", b"@"))), 0
    )
    for ln in lines[header + 1 :]:
        if ln.strip():
            return indent_of(ln)
    return own + indent_unit(base)


@functools.lru_cache(maxsize=16)
def indent_unit(base: bytes) -> bytes:
    """The file's indentation step: a tab or some spaces, the one most blocks use.

    Read from the code (a block's first statement against its header), never from the
    lines of a multi-line string, whose content may be indented any way.
    """
    steps: Counter[bytes] = Counter()
    stack = [syntax.tree_of(base).root_node]
    while stack and sum(steps.values()) < 50:
        n = stack.pop()
        if n.type == "block" and n.parent is not None:
            first = next((c for c in n.named_children if c.type != "comment"), None)
            if first is not None and first.start_point.row > n.parent.start_point.row:
                outer, inner = _lead(base, n.parent.start_byte), _lead(base, first.start_byte)
                if outer is not None and inner is not None and inner.startswith(outer):
                    step = inner[len(outer) :]
                    if step and not step.strip(b"\t"):
                        steps[b"\t"] += 1
                    elif step and not step.strip(b" "):
                        steps[step] += 1
        stack.extend(n.children)
    if not steps:
        return b"    "
    return max(steps, key=lambda u: (steps[u], -len(u)))


def _lead(base: bytes, pos: int) -> bytes | None:
    """The whitespace before ``pos`` on its line; None if code comes before it."""
    line = base[max(base.rfind(b"\n", 0, pos) + 1, floor(base)) : pos]
    return None if line.strip(b" \t") else line

