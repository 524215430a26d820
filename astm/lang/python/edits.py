"""Python operations: indentation, spacing, shape checks, import requests.

* New text may come at any indentation: it is re-indented to where the node sits (a
  method at its class's body level), its nesting re-expressed in the file's own unit (a
  tab, or the file's number of spaces). Lines inside multi-line strings are never
  touched, so string values do not change; docstrings move with their definition.
* Spacing follows the neighbours: an inserted node gets the gap its siblings use (the
  neighbours' own gap when all three are alike, else the file's most common gap between
  siblings of the same two kinds, PEP 8 only where the file has no example); a delete
  keeps the wider of the node's two gaps and leaves no leading or trailing blank lines.
  The end of a module is after its last definition, before trailing code such as a
  ``__main__`` guard. A body that is only ``pass`` gives its place to the first new
  child; a block left without statements by a delete keeps a ``pass``.
* ``compile()`` of the whole file is the authority on validity; tree-sitter must also
  parse the new text (the node tree is rebuilt from it) and decides its shape: one
  definition of the node's kind and name. A syntax error inside the new text is
  reported before its shape, with lines counted from the node.
* Imports an answer puts above its definition are not the node's: they become an
  upward request that the file resolves into an edit of its ``(imports)`` node; a new
  import block goes below the module docstring and header comments (one blank line).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter

import tree_sitter

from astm.core.lines import eol_of, error_count
from astm.core.node import Node
from astm.core.patch import Patch
from astm.errors import CompositionError
from astm.lang.python import syntax
from astm.validate.diagnostic import Diagnostic

_DEF_TYPES = ("function_definition", "class_definition")
_IMPORT_TYPES = ("import_statement", "import_from_statement", "future_import_statement")
_KIND_OF = {"function_definition": "function", "class_definition": "class"}
_BODIES = ("block", "module", "decorated_definition")  # their named children start lines
_CLAUSES = (
    "elif_clause", "else_clause", "except_clause", "except_group_clause", "finally_clause",
    "case_clause",
)


def _indent_of(line: bytes) -> bytes:
    return line[: len(line) - len(line.lstrip(b" \t"))]


def _protected_rows(tree: tree_sitter.Tree) -> set[int]:
    """Rows that start inside a multi-line string (their bytes are string content).

    Docstrings are not protected: they move with their definition, as any formatter
    moves them, since their indentation is stripped when they are read (PEP 257).
    """
    rows: set[int] = set()
    # Each node travels with its three nearest ancestors: ``Node.parent`` walks down from
    # the root, so asking it per node would be quadratic in the nesting depth.
    stack: list[_Chain] = [(tree.root_node, None, None, None)]
    while stack:
        chain = stack.pop()
        n = chain[0]
        if n.type in ("string", "concatenated_string") and n.end_point.row > n.start_point.row:
            if not _is_docstring(chain):
                rows.update(range(n.start_point.row + 1, n.end_point.row + 1))
            continue
        stack.extend((c, n, chain[1], chain[2]) for c in n.children)
    return rows


def _line_starts(tree: tree_sitter.Tree) -> set[int]:
    """Rows that begin a logical line: a statement, a clause, a decorator or a comment.

    The other rows continue a bracketed or backslashed line; they move with it, so
    alignment under an open bracket is kept.
    """
    rows: set[int] = set()
    stack: list[tuple[tree_sitter.Node, str]] = [(tree.root_node, "")]
    while stack:
        n, parent = stack.pop()
        if (
            n.type == "comment"
            or n.type == "decorator"
            or n.type in _CLAUSES
            or (n.is_named and parent in _BODIES)
        ):
            rows.add(n.start_point.row)
        stack.extend((c, n.type) for c in n.children)
    return rows


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
        if owner is None or owner.type not in _DEF_TYPES:
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
    lines = text.split(b"\n")
    tree = _dedented_tree(text)
    protected = _protected_rows(tree)
    starts = _line_starts(tree)
    first = next((i for i, ln in enumerate(lines) if ln.strip() and i not in protected), None)
    if first is None:
        return text
    current = _indent_of(lines[first])
    code = [i for i, ln in enumerate(lines) if ln.strip() and i not in protected]
    rels = [
        _indent_of(lines[i])[len(current) :]
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
        rel = _indent_of(ln)[len(current) :]
        if i in starts or not rel.startswith(last_old):
            new = moved(rel)
            last_old, last_new = rel, new
        else:
            extra = rel[len(last_old) :]
            new = last_new + (moved(extra) if tabs else extra)
        out.append(target + new + ln.lstrip(b" \t"))
    return b"\n".join(out)


def _statements(text: bytes) -> tuple[tree_sitter.Tree, list[tree_sitter.Node]]:
    import textwrap

    dedented = textwrap.dedent(text.decode("utf-8", "replace")).encode("utf-8")
    tree = syntax.parse_tree(dedented)
    return tree, [n for n in tree.root_node.children if n.type != "comment"]


def _definition(stmt: tree_sitter.Node) -> tree_sitter.Node | None:
    if stmt.type == "decorated_definition":
        stmt = stmt.child_by_field_name("definition") or stmt
    return stmt if stmt.type in _DEF_TYPES else None


def _name(defn: tree_sitter.Node) -> str:
    name = defn.child_by_field_name("name")
    return (name.text or b"").decode("utf-8", "replace") if name else ""


def split_requests(text: bytes) -> tuple[bytes, list[bytes]]:
    """Leading import lines of an answer (above its definition) and the rest."""
    _, stmts = _statements(text)
    imports: list[bytes] = []
    for stmt in stmts:
        if stmt.type not in _IMPORT_TYPES:
            break
        imports.append((stmt.text or b"").strip())
    if not imports or len(imports) == len(stmts):
        return text, []
    lines = text.split(b"\n")
    # Drop every line up to the end of the last import (and blank lines after it).
    last = stmts[len(imports) - 1].end_point.row
    rest = lines[last + 1 :]
    while rest and not rest[0].strip():
        del rest[0]
    return b"\n".join(rest), imports


class _Python:
    name = "python"
    # Kinds that route to their children; the rest generate whole. A block is a top-level
    # ``if``/``try``/``with`` holding definitions.
    routers = ("file", "class", "block")
    external = True  # ruff runs in the sandbox

    def requests(self, text: bytes) -> tuple[bytes, list[bytes]]:
        return split_requests(text)

    def parse(self, path: str, data: bytes) -> Node:
        return syntax.parse(path, data)

    def outline(self, data: bytes) -> str:
        return syntax.outline(data)

    def key_of(self, text: bytes) -> tuple[str, str] | None:
        return syntax.key_of(text)

    # ---- placing text --------------------------------------------------------------

    def indent_at(self, node: Node, base: bytes) -> bytes:
        """The indentation of ``node``'s first code line."""
        for line in base[node.start : node.end].split(b"\n"):
            if line.strip() and not line.lstrip().startswith(b"#"):
                return _indent_of(line)
        return b""

    def body_indent(self, parent: Node, base: bytes) -> bytes:
        """Where children of ``parent`` sit: a child's indent, or one level in."""
        if parent.kind == "file":
            return b""
        if parent.children:
            return self.indent_at(parent.children[0], base)
        own = self.indent_at(parent, base)
        lines = base[parent.start : parent.end].split(b"\n")
        header = next(
            (i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith((b"#", b"@"))), 0
        )
        for ln in lines[header + 1 :]:
            if ln.strip():
                return _indent_of(ln)
        return own + _indent_unit(base)

    def prepare(self, text: bytes, *, node: Node | None, parent: Node, base: bytes) -> bytes:
        """Re-indent new text (LF line ends) to where it will stand, in the file's unit.

        Text nested deeper than ``syntax.MAX_DEPTH`` is refused first (ValidationFailed):
        the steps after it may take time and stack in proportion to the depth.
        """
        syntax.refuse_deep(text)
        target = self.indent_at(node, base) if node is not None else self.body_indent(parent, base)
        unit = _indent_unit(base)
        return reindent(text, target, tabs=unit == b"\t", width=len(unit))

    def _gap(self, parent: Node) -> int:
        return 2 if parent.kind == "file" else 1

    def insert(
        self, parent: Node, base: bytes, text: bytes, *, after: Node | None, before: Node | None,
        position: str | None, owner: str, seq: int, first: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> tuple[Patch, int]:
        """The patch inserting ``text`` as a new child, spaced like its neighbours."""
        eol = eol_of(base)
        n = self._gap(parent)
        head = _head(parent)
        defs = list(parent.children[len(head) :])
        kind = self.key_of(text)
        if kind is not None and kind[0] == "imports" and parent.kind == "file":
            point = self.import_point(parent, base)
            nxt = base[point:].lstrip(b"\r\n")
            code = re.sub(rb"\A(?:[ \t]*#[^\n]*\n)*", b"", nxt)  # past the comments above it
            blanks = 2 if re.match(rb"(@|def |async def |class )", code) else 1
            # Exactly one blank line below a docstring or header comments, none at the top.
            start = point - _blank_above(base, point) if nxt.strip() else point
            head = base[_floor(base) : start]
            prefix = b""
            if head.strip():
                prefix = b"" if head.endswith(b"\n") else eol
                if start < point or not _blank_above(base, point):
                    prefix += eol
            new = prefix + text + (eol * blanks if nxt.strip() else b"")
            return Patch(parent.path, start, point, new, owner, seq), len(prefix)
        if before is not None and before.kind in ("imports", "docstring"):
            raise CompositionError(f"a definition cannot go before the {before.kind} node", node=owner)
        # The first new child takes the place of a placeholder body (``pass``); the others
        # go after it, so the patches stay disjoint.
        hole = _placeholder(parent, base, eol) if first else None
        if hole is not None:  # the body was only ``pass``: the first new child takes its place
            start, end, prefix = hole
            return Patch(parent.path, start, end, prefix + text, owner, seq), len(prefix)
        if position == "start":
            if defs:
                before = defs[0]
            else:
                after = head[-1] if head else None
                position = None if after else "end"
        new_kind = kind[0] if kind is not None else "function"
        kept = [c for c in parent.children if c.id not in deleted]
        if before is not None:
            i = kept.index(before) if before in kept else 0
            prev = kept[i - 1] if i > 0 else None
            above = self._spacing(parent, base, kept, prev, new_kind, before) if prev else 0
            if prev is None and parent.kind == "file" and base[_floor(base) : before.start].strip():
                above = n
            prefix = eol * max(0, above - _blank_lines(base, before.start))
            below = self._spacing(parent, base, kept, None, new_kind, before)
            new = prefix + text + eol * below
            return Patch(parent.path, before.start, before.start, new, owner, seq), len(prefix)
        if after is None and parent.kind == "file" and parent.children:
            # The end of a module is after its last definition, before trailing code
            # such as ``if __name__ == "__main__": main()``, which may call the new one.
            kids = parent.children
            last = max((i for i, c in enumerate(kids) if c.kind in _DEFINING), default=None)
            if last is not None and any(c.kind in ("statement", "block") for c in kids[last + 1 :]):
                after = kids[last]
        if after is None:
            point = parent.end if parent.kind != "file" else len(base)
            prev = kept[-1] if kept else None
            nxt = None
        else:
            point = after.end
            prev = after
            i = kept.index(after) if after in kept else len(kept)
            nxt = kept[i + 1] if i + 1 < len(kept) else None
        head = base[:point]
        prefix = b""
        if head and not head.endswith(b"\n"):
            prefix += eol
        probe = head + prefix
        if prev is not None:
            want = self._spacing(parent, base, kept, prev, new_kind, nxt)
        elif parent.kind == "file" or _has_code(
            base, _body_start(parent, base), point,
            [(c.start, c.end) for c in parent.children if c.id in deleted],
        ):
            want = n  # only the file's or the class's own lines above it: PEP 8
        else:
            want = 0  # right below the class header
        have = 0
        while have < want and probe.endswith(eol * (have + 2)):
            have += 1
        if probe.strip():
            prefix += eol * (want - have)
        suffix = b""
        if nxt is not None:
            gap = _blank_lines(base, nxt.start) if not base[point : nxt.start].strip() else 0
            suffix = eol * max(0, self._spacing(parent, base, kept, None, new_kind, nxt) - gap)
        return Patch(parent.path, point, point, prefix + text + suffix, owner, seq), len(prefix)

    def _spacing(
        self, parent: Node, base: bytes, kept: list[Node], a: Node | None, new_kind: str,
        b: Node | None,
    ) -> int:
        """Blank lines between a new node of ``new_kind`` and its neighbour: after ``a``
        (when given) or before ``b`` (``a`` None). The file's own example decides: the
        gap between the two neighbours when all three are alike (``X = 1`` / ``Z = 3`` /
        ``Y = 2`` stay together), else the most common gap between siblings of the same
        two kinds; PEP 8 (two lines at module level, one in a class) only where the file
        has no such pair and a definition is involved; otherwise none between statements
        of one kind and one line between different ones."""
        left, right = (a.kind, new_kind) if a is not None else (new_kind, b.kind if b else new_kind)
        alike = a is not None and b is not None and _group(a.kind) == _group(new_kind) == _group(b.kind)
        if alike and a is not None and b is not None and not base[a.end : b.start].strip():
            return _blank_lines(base, b.start)
        examples: Counter[int] = Counter()
        for p, q in itertools.pairwise(kept):
            same = (_group(p.kind), _group(q.kind)) == (_group(left), _group(right))
            if same and not base[p.end : q.start].strip():
                examples[_blank_lines(base, q.start)] += 1
        if examples:
            return max(examples, key=lambda g: (examples[g], g))
        if "def" in (_group(left), _group(right)):
            return self._gap(parent)
        return 0 if left == right else 1

    def import_point(self, file: Node, base: bytes) -> int:
        """Where a new import block goes: after the module docstring and header comments."""
        tree = syntax.parse_tree(base)
        for stmt in tree.root_node.children:
            if stmt.type == "comment":
                continue
            if stmt.type == "expression_statement" and stmt.children and stmt.children[0].type == "string" and stmt.start_byte == _first_code(tree):
                continue
            point = max(base.rfind(b"\n", 0, stmt.start_byte) + 1, _floor(base))
            # The comment lines directly above a definition are its own: go above them.
            owner = next((c for c in file.children if c.start <= point < c.end), None)
            return owner.start if owner is not None else point
        return len(base)

    def delete(
        self, parent: Node, node: Node, base: bytes, *, refilled: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> Patch:
        """Remove ``node`` and the blank lines on one side of it, so its neighbours keep
        the spacing they had with it: the wider of its two gaps stays. At the end of its
        parent (nothing kept after it) the blank lines above it go, at the start of the
        file those below it: no blank lines are left doubled, leading or trailing.
        ``deleted`` names the siblings deleted in the same step (their patches merge).

        A block the node was the only statement of (a class with one method, an ``if``
        holding one ``def``) keeps a ``pass`` in its place, so the class stays valid.
        """
        if _only_statement(base, node.start, node.end) and not refilled:
            stub = self.indent_at(node, base) + b"pass" + eol_of(base)
            return Patch(parent.path, node.start, node.end, stub, parent.id)
        lo, hi = (_floor(base), len(base)) if parent.is_file else (parent.start, parent.end)
        above = _blank_above(base, node.start)
        below = _blank_below(base, node.end, hi)
        gone = [(c.start, c.end) for c in parent.children if c.id in deleted or c.id == node.id]
        kept_before = _has_code(base, lo, node.start - above, gone)
        kept_after = _has_code(base, node.end + below, hi, gone)
        if not kept_after or (kept_before and _lines(base, node.end, below) >= _lines(base, node.start - above, above)):
            end = node.end if kept_after else node.end + below
            return Patch(parent.path, node.start - above, end, b"", parent.id)
        return Patch(parent.path, node.start, node.end + below, b"", parent.id)

    # ---- checks ----------------------------------------------------------------------

    def check_file(self, data: bytes, path: str) -> Diagnostic | None:
        err = syntax.python_error(data, path)
        if err is None:
            return None
        lines = data.split(b"\n")
        snippet = lines[err[1] - 1].decode("utf-8", "replace") if err[1] and err[1] <= len(lines) else ""
        return Diagnostic(err[0], "compile", err[1], relative=False, snippet=snippet)

    def check_shape(self, new_text: bytes, *, kind: str, key: str | None, rename: bool) -> Diagnostic | None:
        _, stmts = _statements(new_text)
        if kind in _STATEMENT_KINDS:
            return _statement_shape(new_text, stmts, kind=kind, key=key, rename=rename)
        if kind == "imports":
            bad = next((s for s in stmts if s.type not in _IMPORT_TYPES), None)
            if bad is not None:
                return Diagnostic("the import block may hold only import statements", "shape", bad.start_point.row + 1)
            return None
        if kind == "assignment":
            if len(stmts) != 1 or stmts[0].type != "expression_statement":
                return Diagnostic(f"expected one assignment to {key}", "shape")
            got = syntax.key_of(new_text)
            if got is None or (got[1] != key and not rename):
                return Diagnostic(f"the assignment must stay named {key}", "shape")
            return None
        if not stmts:
            return Diagnostic("the answer has no definition", "shape")
        defs = [d for d in (_definition(s) for s in stmts) if d is not None]
        if len(defs) > 1:
            names = ", ".join(_name(d) for d in defs)
            return Diagnostic(
                f"the answer defines {len(defs)} things ({names}); give only the definition of {key}",
                "shape",
            )
        if not defs or len(stmts) > 1:
            other = next((s for s in stmts if _definition(s) is None), stmts[0])
            return Diagnostic(
                f"the answer has code outside the definition of {key}",
                "shape",
                other.start_point.row + 1,
                snippet=(other.text or b"").decode("utf-8", "replace").split("\n")[0],
            )
        got_kind = _KIND_OF[defs[0].type]
        if kind in ("function", "class") and got_kind != kind:
            return Diagnostic(f"this node is a {kind}; the answer defines a {got_kind}", "shape")
        name = _name(defs[0])
        if key is not None and name != key and not rename:
            return Diagnostic(
                f"the answer defines {name} but this node is {key}; keep the name", "shape",
                defs[0].start_point.row + 1,
            )
        return None

    def check_node(
        self, patched: bytes, new_start: int, new_text: bytes, *, kind: str, key: str | None,
        rename: bool, path: str,
    ) -> Diagnostic | None:
        if _valid_alone(new_text):
            # The node's own text compiles and parses: judge its shape without compiling
            # or parsing the rest of the file (a leaf's cost must not grow with the file;
            # the composing parent compiles the whole file once).
            return self.check_shape(new_text, kind=kind, key=key, rename=rename)
        first = patched.count(b"\n", 0, new_start) + 1
        last = first + new_text.count(b"\n")
        whole = self.check_file(patched, path)
        # A syntax error in the new text speaks first: a shape read from a tree that
        # tree-sitter had to repair (a body left unindented) would name the wrong problem.
        if whole is not None and whole.line is not None and first <= whole.line <= last:
            # compile's own "on line N" is a file line too: make it the node's.
            def relative(m: re.Match[str]) -> str:
                row = int(m.group(1))
                return f"on line {row - first + 1}" if first <= row <= last else m.group(0)

            message = re.sub(r"\bon line (\d+)", relative, whole.message)
            return Diagnostic(message, "compile", whole.line - first + 1, True, whole.snippet)
        shape = self.check_shape(new_text, kind=kind, key=key, rename=rename)
        if shape:
            return shape
        if whole is not None:
            return whole
        tree = syntax.parse_tree(patched)
        if error_count(tree, new_start, new_start + len(new_text)):
            return Diagnostic("tree-sitter cannot parse the new text", "tree-sitter")
        return None


_STATEMENT_KINDS = ("docstring", "statement", "block", "comment")
_BLOCK_TYPES = ("if_statement", "try_statement", "with_statement")
_DEFINING = ("function", "class", "assignment", "imports", "docstring")


def _head(parent: Node) -> tuple[Node, ...]:
    """The children that open a module: a header comment, the docstring, the imports
    (and the comments above those two). ``position: start`` goes after them."""
    kids = parent.children
    i = 0
    while i < len(kids):
        c = kids[i]
        nxt = kids[i + 1].kind if i + 1 < len(kids) else None
        if c.kind in ("docstring", "imports") or (
            c.kind == "comment" and (i == 0 or nxt in ("docstring", "imports"))
        ):
            i += 1
        else:
            break
    return kids[:i]


def _statement_shape(
    new_text: bytes, stmts: list[tree_sitter.Node], *, kind: str, key: str | None, rename: bool
) -> Diagnostic | None:
    """A docstring stays one string, a comment only comments; a statement or block holds
    no definition of its own (definitions are nodes) and keeps its name unless renamed."""
    if kind == "comment":
        if stmts:
            return Diagnostic(
                "a comment node holds only comment lines", "shape", stmts[0].start_point.row + 1
            )
        return None
    if not stmts:
        return Diagnostic(f"the answer has no statement; give the whole new text of {key}", "shape")
    got = syntax.key_of(new_text)
    if kind == "docstring":
        if got is None or got[0] != "docstring" or len(stmts) != 1:
            return Diagnostic("the module docstring must stay one string literal", "shape")
        return None
    defs = [s for s in stmts if _definition(s) is not None]
    if defs:
        return Diagnostic(
            f"the answer defines {_name(_definition(defs[0]))} outside a block; "  # type: ignore[arg-type]
            "a definition is a node of its own",
            "shape", defs[0].start_point.row + 1,
        )
    first_row = stmts[0].end_point.row
    if any(s.start_point.row > first_row for s in stmts[1:]):
        return Diagnostic(f"expected one statement ({key}), found {len(stmts)}", "shape")
    # An import outside the import block is a statement named ``(import x)``.
    name = syntax.statement_name(stmts[0]) if stmts[0].type in _IMPORT_TYPES else got and got[1]
    if name and key is not None and name != key and not rename:
        return Diagnostic(f"the answer is {name} but this node is {key}; keep it", "shape")
    return None


def _valid_alone(text: bytes) -> bool:
    """Whether a node's text (indented where it stands) compiles and tree-sitter parses it
    on its own; an indented text is read as the body of an ``if`` header."""
    stripped = text.lstrip(b"\r\n")
    wrapped = b"if 1:\n" + text if stripped[:1] in (b" ", b"\t") else text
    if syntax.python_error(wrapped) is not None:
        return False  # the whole file decides, and names the line
    return not syntax.parse_tree(wrapped).root_node.has_error


def _floor(base: bytes) -> int:
    """Where the file's text starts: after a UTF-8 BOM, which belongs to the file."""
    return len(syntax.BOM) if base.startswith(syntax.BOM) else 0


def _blank_above(base: bytes, pos: int) -> int:
    """How many bytes of blank lines end at ``pos`` (a line start)."""
    start = pos
    while start > _floor(base):
        prev = base.rfind(b"\n", 0, start - 1) + 1
        if base[prev:start].strip() or base[start - 1 : start] != b"\n":
            break
        start = prev
    return pos - start


def _group(kind: str) -> str:
    """Functions and classes space alike; every other kind spaces by itself."""
    return "def" if kind in ("function", "class") else kind


def _body_start(parent: Node, base: bytes) -> int:
    """Where the body of ``parent`` (a class, a function, a top-level block) starts: the
    end of its header."""
    stack = [syntax.parse_tree(base).root_node]
    while stack:
        n = stack.pop(0)
        if n.end_byte <= parent.start or n.start_byte >= parent.end:
            continue
        if n.start_byte >= parent.start and n.type in (*_DEF_TYPES, *_BLOCK_TYPES):
            body = n.child_by_field_name("body") or next(
                (c for c in n.children if c.type == "block"), None
            )
            return body.start_byte if body is not None else n.end_byte
        stack.extend(n.children)
    return parent.start


def _blank_below(base: bytes, pos: int, limit: int) -> int:
    """How many bytes of blank lines start at ``pos`` (a line start), up to ``limit``."""
    end = pos
    while end < limit:
        nxt = base.find(b"\n", end)
        nxt = limit if nxt < 0 or nxt >= limit else nxt + 1
        if base[end:nxt].strip():
            break
        end = nxt
    return end - pos


def _lines(base: bytes, start: int, size: int) -> int:
    return base.count(b"\n", start, start + size)


def _has_code(base: bytes, start: int, end: int, gone: list[tuple[int, int]]) -> bool:
    """Whether ``[start, end)`` holds anything but whitespace outside the ``gone`` ranges."""
    pos = start
    for a, b in sorted(gone):
        if b <= pos or a >= end:
            continue
        if base[pos:a].strip():
            return True
        pos = max(pos, b)
    return bool(base[pos:end].strip())


def _blank_lines(base: bytes, pos: int) -> int:
    """How many blank lines end at ``pos`` (a line start)."""
    return base[pos - _blank_above(base, pos) : pos].count(b"\n")


@functools.lru_cache(maxsize=16)
def _indent_unit(base: bytes) -> bytes:
    """The file's indentation step: a tab or some spaces, the one most blocks use.

    Read from the code (a block's first statement against its header), never from the
    lines of a multi-line string, whose content may be indented any way.
    """
    steps: Counter[bytes] = Counter()
    stack = [syntax.parse_tree(base).root_node]
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
    line = base[max(base.rfind(b"\n", 0, pos) + 1, _floor(base)) : pos]
    return None if line.strip(b" \t") else line


def _placeholder(parent: Node, base: bytes, eol: bytes) -> tuple[int, int, bytes] | None:
    """Where a class or function body that is only ``pass`` or ``...`` stands: its line
    range, or (``class E(Exception): pass``) the rest of the header line after the colon,
    with the line break the new text then needs before it."""
    if parent.kind == "file" or parent.children:
        return None
    stack = [syntax.parse_tree(base).root_node]
    while stack:
        n = stack.pop()
        if n.end_byte <= parent.start or n.start_byte >= parent.end:
            continue
        if n.type in _DEF_TYPES and n.start_byte >= parent.start:
            body = n.child_by_field_name("body")
            stmts = [c for c in body.named_children if c.type != "comment"] if body else []
            if len(stmts) != 1 or not _is_placeholder(stmts[0]):
                return None
            start = base.rfind(b"\n", 0, stmts[0].start_byte) + 1
            end = base.find(b"\n", stmts[0].end_byte)
            end = end + 1 if end >= 0 else len(base)
            if not base[start : stmts[0].start_byte].strip():
                return start, end, b""
            colon = body.prev_sibling if body is not None else None
            if colon is None or colon.type != ":" or base[end - 1 : end] != b"\n":
                return None
            return colon.end_byte, end, eol
        stack.extend(reversed(n.children))
    return None


def _is_placeholder(stmt: tree_sitter.Node) -> bool:
    if stmt.type == "pass_statement":
        return True
    kinds = [c.type for c in stmt.named_children]
    return stmt.type == "expression_statement" and kinds == ["ellipsis"]


def _only_statement(base: bytes, start: int, end: int) -> bool:
    """Whether ``[start, end)`` holds every statement of the block around it."""
    tree = syntax.parse_tree(base)
    stack = [tree.root_node]
    while stack:
        n = stack.pop()
        if n.end_byte <= start or n.start_byte >= end:
            continue
        if n.type == "block" and n.parent is not None and n.parent.start_byte < start:
            stmts = [c for c in n.named_children if c.type != "comment"]
            if stmts and all(start <= c.start_byte < end for c in stmts):
                return True
        stack.extend(n.children)
    return False


def _first_code(tree: tree_sitter.Tree) -> int:
    for stmt in tree.root_node.children:
        if stmt.type != "comment":
            return stmt.start_byte
    return -1


PYTHON = _Python()
