"""How a model's answer reads in Python: which lines are code, which block defines a
node, a function's body answered without its ``def`` line, and what the prompt asks for."""

from __future__ import annotations

import keyword
import re
import textwrap

# definitions, imports, and a name followed by what only code puts there: ``x = (``,
# ``setup(``, ``items[``, ``x: int``
CODE_START = re.compile(rb"^(async[ \t]+def[ \t]|def[ \t]|class[ \t]|import[ \t]|from[ \t]+\S+[ \t]+import[ \t]"
                        rb"|[A-Za-z_][\w.]*[ \t]*(\(|\[|[-+*/|&]?=|:))")


def starts_code(line: bytes) -> bool:
    if CODE_START.match(line):
        return True
    # ``try:``, ``if x:`` open a block: code, not a sentence
    words = line.split(maxsplit=1)
    return bool(words) and keyword.iskeyword(words[0].rstrip(b":").decode("utf-8", "replace"))


def defines(block: str, key: str) -> bool:
    name = re.escape(key.split(".")[-1])
    return re.search(rf"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+{name}\b|^[ \t]*{name}[ \t]*[:=]",
                     block, re.MULTILINE) is not None


def dedent(text: bytes) -> bytes:
    return textwrap.dedent(text.decode("utf-8", "replace")).encode("utf-8")


def parses(text: bytes) -> bool:
    from astm.lang.python import syntax as ps

    return ps.python_error(dedent(text)) is None


def inert(s: bytes) -> bool:
    """A comment, or a line of a docstring, outside every node."""
    return s.startswith((b"#", b'"""', b"'''", b'"', b"'")) or s.endswith((b'"""', b"'''"))


def rewrap(text: bytes, old: bytes) -> bytes | None:
    """A function's body answered without its ``def`` line, under the node's own header.

    Only when that is unambiguous: the answer defines nothing, does not parse as a module
    (a ``return`` at the top level) or holds a ``return``, and parses as the body of a
    function; the old header (decorators, comments, signature) and docstring are kept."""
    from astm.lang.python import syntax as ps

    src = dedent(text)
    if re.search(rb"^(?:async[ \t]+def|def|class|@)", src, re.MULTILINE):
        return None
    if ps.python_error(src) is None and not re.search(rb"^\s*return\b", src, re.MULTILINE):
        return None
    spaces = [len(ln) - len(ln.lstrip(b" ")) for ln in src.split(b"\n") if ln.strip()]
    unit = min((s for s in spaces if s), default=4)
    indent = b" " * unit
    head_rows, doc = _header(dedent(old))
    if head_rows is None:
        return None
    first = next((ln for ln in src.split(b"\n") if ln.strip()), b"").lstrip()
    if doc and not first.startswith((b'"', b"'")):
        head_rows = head_rows + [indent + d.lstrip() if d.strip() else d for d in doc]
    body = [indent + ln if ln.strip() else ln for ln in src.rstrip(b"\n").split(b"\n")]
    new = b"\n".join([*head_rows, *body]) + b"\n"
    return new if ps.python_error(new) is None else None


def _header(old: bytes) -> tuple[list[bytes] | None, list[bytes]]:
    """The lines of a function up to its body, and its docstring's lines ([] if none)."""
    from astm.lang.python import syntax as ps

    root = ps.parse_tree(old).root_node
    stmt = next((c for c in root.children if c.type in ("function_definition", "decorated_definition")), None)
    if stmt is None:
        return None, []
    fn = stmt.child_by_field_name("definition") if stmt.type == "decorated_definition" else stmt
    body = fn.child_by_field_name("body") if fn is not None else None
    if body is None or body.start_point.row <= fn.start_point.row:  # type: ignore[union-attr]
        return None, []  # ``def f(): return 1``: no header lines to keep apart
    lines = old.split(b"\n")
    head = lines[: body.start_point.row]
    doc: list[bytes] = []
    first = next((c for c in body.named_children if c.type != "comment"), None)
    if first is not None and first.type == "expression_statement" and first.named_child_count == 1 \
            and first.named_children[0].type == "string":
        doc = lines[first.start_point.row : first.end_point.row + 1]
    return head, doc


def shape(kind: str) -> str:
    """What "the complete text of this node" means for a Python node of ``kind``."""
    if kind == "comment":
        return "the comment lines only, each starting with #"
    if kind == "imports":
        return "the import statements only"
    if kind == "docstring":
        return "the module docstring only: one string literal"
    if kind == "statement":
        return "the whole top-level statement, as one statement; define nothing in it"
    if kind == "block":
        return (
            "the whole if/try/with statement with all its branches and the definitions "
            "in them, indented as the current text is"
        )
    return (
        "the whole definition with its decorators and the comments above it, "
        "indented as the current text is. If the new code needs a module-level import, "
        "put those import lines first, above the definition: they are moved to the "
        "file's import block. Never define anything else"
    )


# A ``def`` line whose parameter list the return annotation cut short: the 1.5B wrote
# ``def truncate(text: str, width: int, suffix: str = "..." -> str:`` (and, told so,
# ``... = "..." -> str):``) through every retry.
_SHORT_DEF = re.compile(
    rb"^(?P<head>[ \t]*(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(.*?)[ \t]*->[ \t]*(?P<ret>[^():\n]+?)[ \t]*(?P<close>\)?)[ \t]*:[ \t]*$",
    re.MULTILINE,
)


def mend(text: bytes) -> bytes | None:
    """The ``def`` lines whose ``)`` stands after their return annotation, or is missing
    before it, mended; None when there is none. Such a line never parses, so the mend
    only turns an error into code; the rest of a whole-file answer may still be broken
    (the node's own definition is then cut out of it: ``asked.section``)."""
    def fix(m: re.Match[bytes]) -> bytes:
        head = m.group("head")
        if head.count(b"(") - head.count(b")") != 1:
            return m.group(0)  # balanced already, or more than one paren astray: not this mistake
        return head + b") -> " + m.group("ret") + b":"

    new = _SHORT_DEF.sub(fix, text)
    return new if new != text else None
