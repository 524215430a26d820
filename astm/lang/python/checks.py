"""Python checks of new text: ``compile()`` of the whole file is the authority on validity;
tree-sitter must also parse the new text (the node tree is rebuilt from it) and decides
its shape: one definition of the node's kind and name. A syntax error inside the new text
is reported before its shape, with lines counted from the node.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import tree_sitter

from astm.core.lines import error_count
from astm.core.patch import Patch
from astm.lang.python import syntax
from astm.lang.python.imports import IMPORT_TYPES
from astm.lang.python.indent import DEF_TYPES, statements
from astm.validate.diagnostic import Diagnostic

_KIND_OF = {"function_definition": "function", "class_definition": "class"}
_STATEMENT_KINDS = ("docstring", "statement", "block", "comment")


def definition(stmt: tree_sitter.Node) -> tree_sitter.Node | None:
    if stmt.type == "decorated_definition":
        stmt = stmt.child_by_field_name("definition") or stmt
    return stmt if stmt.type in DEF_TYPES else None


def def_name(defn: tree_sitter.Node) -> str:
    name = defn.child_by_field_name("name")
    return (name.text or b"").decode("utf-8", "replace") if name else ""


def check_file(data: bytes, path: str) -> Diagnostic | None:
    err = syntax.python_error(data, path)
    if err is None:
        return None
    lines = data.split(b"\n")
    snippet = lines[err[1] - 1].decode("utf-8", "replace") if err[1] and err[1] <= len(lines) else ""
    return Diagnostic(err[0], "compile", err[1], relative=False, snippet=snippet)


def check_change(base: bytes, data: bytes, path: str, patches: Sequence[Patch] = ()) -> Diagnostic | None:
    """``check_file`` of ``data``, a composed text made from ``base`` (valid Python) by
    ``patches``: CPython compiles the top-level statements around the changes, where they
    stand (``change.py``), not the whole file again. A text that fails is compiled whole:
    CPython's message and line are the file's own (an ``expected an indented block`` is
    reported at the statement after the change)."""
    from astm.lang.python import change

    sparse = change.change(base, data, patches).sparse
    if sparse is not None and syntax.python_error(sparse, path) is None:
        return None
    return check_file(data, path)


def check_shape(new_text: bytes, *, kind: str, key: str | None, rename: bool) -> Diagnostic | None:
    _, stmts = statements(new_text)
    if kind in _STATEMENT_KINDS:
        return _statement_shape(new_text, stmts, kind=kind, key=key, rename=rename)
    if kind == "imports":
        bad = next((s for s in stmts if s.type not in IMPORT_TYPES), None)
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
    defs = [d for d in (definition(s) for s in stmts) if d is not None]
    if len(defs) > 1:
        names = ", ".join(def_name(d) for d in defs)
        return Diagnostic(
            f"the answer defines {len(defs)} things ({names}); give only the definition of {key}",
            "shape",
        )
    if not defs or len(stmts) > 1:
        other = next((s for s in stmts if definition(s) is None), stmts[0])
        return Diagnostic(
            f"the answer has code outside the definition of {key}",
            "shape",
            other.start_point.row + 1,
            snippet=(other.text or b"").decode("utf-8", "replace").split("\n")[0],
        )
    got_kind = _KIND_OF[defs[0].type]
    if kind in ("function", "class") and got_kind != kind:
        return Diagnostic(f"this node is a {kind}; the answer defines a {got_kind}", "shape")
    name = def_name(defs[0])
    if key is not None and name != key and not rename:
        return Diagnostic(
            f"the answer defines {name} but this node is {key}; keep the name", "shape",
            defs[0].start_point.row + 1,
        )
    return None


def check_node(
    patched: bytes, new_start: int, new_text: bytes, *, kind: str, key: str | None,
    rename: bool, path: str,
) -> Diagnostic | None:
    if valid_alone(new_text):
        # The node's own text compiles and parses: judge its shape without compiling
        # or parsing the rest of the file (a leaf's cost must not grow with the file;
        # the composing parent compiles the whole file once).
        return check_shape(new_text, kind=kind, key=key, rename=rename)
    first = patched.count(b"\n", 0, new_start) + 1
    last = first + new_text.count(b"\n")
    whole = check_file(patched, path)
    # A syntax error in the new text speaks first: a shape read from a tree that
    # tree-sitter had to repair (a body left unindented) would name the wrong problem.
    if whole is not None and whole.line is not None and first <= whole.line <= last:
        # compile's own "on line N" is a file line too: make it the node's.
        def relative(m: re.Match[str]) -> str:
            row = int(m.group(1))
            return f"on line {row - first + 1}" if first <= row <= last else m.group(0)

        message = re.sub(r"\bon line (\d+)", relative, whole.message)
        return Diagnostic(message, "compile", whole.line - first + 1, True, whole.snippet)
    shape = check_shape(new_text, kind=kind, key=key, rename=rename)
    if shape:
        return shape
    if whole is not None:
        return whole
    tree = syntax.parse_tree(patched)
    if error_count(tree, new_start, new_start + len(new_text)):
        return Diagnostic("tree-sitter cannot parse the new text", "tree-sitter")
    return None


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
    defs = [s for s in stmts if definition(s) is not None]
    if defs:
        return Diagnostic(
            f"the answer defines {def_name(definition(defs[0]))} outside a block; "  # type: ignore[arg-type]
            "a definition is a node of its own",
            "shape", defs[0].start_point.row + 1,
        )
    first_row = stmts[0].end_point.row
    if any(s.start_point.row > first_row for s in stmts[1:]):
        return Diagnostic(f"expected one statement ({key}), found {len(stmts)}", "shape")
    # An import outside the import block is a statement named ``(import x)``.
    name = syntax.statement_name(stmts[0]) if stmts[0].type in IMPORT_TYPES else got and got[1]
    if name and key is not None and name != key and not rename:
        return Diagnostic(f"the answer is {name} but this node is {key}; keep it", "shape")
    return None


def valid_alone(text: bytes) -> bool:
    """Whether a node's text (indented where it stands) compiles and tree-sitter parses it
    on its own; an indented text is read as the body of an ``if`` header."""
    stripped = text.lstrip(b"\r\n")
    wrapped = b"if 1:\n" + text if stripped[:1] in (b" ", b"\t") else text
    if syntax.python_error(wrapped) is not None:
        return False  # the whole file decides, and names the line
    return not syntax.parse_tree(wrapped).root_node.has_error

