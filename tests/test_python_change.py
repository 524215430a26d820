"""A composed Python file checked at the cost of its change (issue 11.15, ``change.py``).

Every case holds the fast answer to the whole file's: ``check_change`` (the statements
around the patches, compiled where they stand) against ``check_file`` (CPython on the whole
composed text), and the top-level keys read from the change against those of the whole
text. The cases are what CPython checks between statements or only at the file's top:
``__future__`` imports, a module-level ``global``, an encoding cookie, a BOM, CRLF, and what
tree-sitter and CPython read differently (an unclosed string).
"""

from __future__ import annotations

import textwrap
from collections import Counter

import pytest

from astm.core.node import Node
from astm.core.patch import Patch, compose
from astm.lang.python import LANGUAGE, change, syntax
from astm.lang.python.checks import check_change, check_file

PATH = "big.py"


def module(head: str = '"""A module."""\n\nimport os\n', n: int = 60, tail: str = "") -> bytes:
    """A module of ``n`` functions after ``head``: big enough that a window is a small
    part of it."""
    body = "".join(f"\n\ndef f{i}(x: int) -> int:\n    return x + {i} + len(os.sep)\n" for i in range(n))
    return (head + body + tail).encode()


def node(base: bytes, name: str) -> Node:
    tree = syntax.build(PATH, base)
    found = next((n for n in tree.walk() if n.key == name or n.id.endswith(f"::{name}")), None)
    assert found is not None, name
    return found


def replace(base: bytes, name: str, text: str) -> tuple[bytes, list[Patch]]:
    n = node(base, name)
    patch = Patch(PATH, n.start, n.end, textwrap.dedent(text).encode(), n.id)
    return compose(base, [patch]), [patch]


def same(base: bytes, data: bytes, patches: list[Patch]) -> change.Change:
    """The fast verdict is CPython's on the whole text, message and line; the keys too."""
    want = check_file(data, PATH)
    got = check_change(base, data, PATH, patches)
    assert (got and (got.message, got.line)) == (want and (want.message, want.line))
    found = change.change(base, data, patches)
    if want is None and found.delta is not None:
        removed, added = found.delta
        after = Counter((c.kind, c.key) for c in syntax.build(PATH, base).children if c.kind != "comment")
        after.subtract(removed)
        after.update(added)
        assert +after == Counter(LANGUAGE.top_keys(data))
    return found


def test_a_function_changed_in_the_middle_compiles_only_its_lines() -> None:
    base = module()
    data, patches = replace(base, "f30", "def f30(x: int) -> int:\n    return x * 2\n")
    found = same(base, data, patches)
    assert found.sparse is not None and found.delta is not None
    # Only the window is code, on its own lines: the lines above it are blank.
    start = data.index(b"def f30")
    assert found.sparse == b"\n" * data.count(b"\n", 0, start) + b"def f30(x: int) -> int:\n    return x * 2\n"
    assert found.delta == ([("function", "f30")], [("function", "f30")])


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("return 1\n", "'return' outside function"),
        ("nonlocal q\n", "nonlocal declaration not allowed at module level"),
        ("break\n", "'break' outside loop"),
        ("def f30(:\n    pass\n", "invalid syntax"),
        ("def f30():\n", "expected an indented block"),  # CPython names the next statement's line
        ("x = (\n", "was never closed"),
        ('s = """\n', "unterminated triple-quoted string"),  # swallows the rest for tree-sitter
        ("from __future__ import annotations\n", "from __future__ imports must occur at the beginning"),
        ("async def f30():\n    yield 1\n    return 2\n", "'return' with value in async generator"),
        ("def f30():\n    x = 1\n    global x\n", "assigned to before global declaration"),
    ],
)
def test_an_error_is_cpython_s_own(text: str, error: str) -> None:
    base = module()
    data, patches = replace(base, "f30", text)
    same(base, data, patches)
    diag = check_change(base, data, PATH, patches)
    assert diag is not None and error in diag.message


def test_a_module_level_global_is_an_error_between_statements() -> None:
    """``x = 1`` then ``global x`` at module level: each alone compiles, the file does not."""
    base = module(tail="\n\nglobal q\n")
    data, patches = replace(base, "f30", "q = 1\n")
    found = same(base, data, patches)
    assert found.sparse is None  # the whole file decides
    assert check_change(base, data, PATH, patches) is not None


def test_the_future_imports_are_checked_where_they_stand() -> None:
    head = '"""Doc."""\n\nfrom __future__ import annotations\n\nimport os\n'
    base = module(head)
    # A docstring turned into code puts the future import out of place: the window reaches
    # the file's first byte.
    data, patches = replace(base, "(docstring)", "x = 1\n")
    assert check_change(base, data, PATH, patches) is not None
    same(base, data, patches)
    # A future flag changes what compiles: under ``annotations`` an annotation holds no
    # ``yield`` (without it, this one is valid). A window far below is read under it.
    data, patches = replace(base, "f30", "def f30():\n    x: (yield) = 1\n")
    found = same(base, data, patches)
    assert found.sparse is not None and b"from __future__ import annotations" in found.sparse
    diag = check_change(base, data, PATH, patches)
    assert diag is not None and "can not be used within an annotation" in diag.message
    assert check_file(module() + b"\n\ndef g():\n    x: (yield) = 1\n", PATH) is None
    # A future import that is not the file's first statements.
    data, patches = replace(base, "f30", "from __future__ import division\n")
    assert check_change(base, data, PATH, patches) is not None
    same(base, data, patches)


def test_the_cookie_bom_and_crlf_are_the_file_s() -> None:
    cookie = module("# -*- coding: utf-8 -*-\n# another comment\nimport os\n")
    data, patches = replace(cookie, "f30", "def f30(x: int) -> int:\n    return 'é'\n")
    found = same(cookie, data, patches)
    assert found.sparse is not None and found.sparse.startswith(b"# -*- coding: utf-8 -*-\n")
    bom = syntax.BOM + module()
    data, patches = replace(bom, "f30", "def f30(x: int) -> int:\n    return 2\n")
    found = same(bom, data, patches)
    assert found.sparse is not None and found.sparse.startswith(syntax.BOM)
    crlf = module().replace(b"\n", b"\r\n")
    data, patches = replace(crlf, "f30", "def f30(x: int) -> int:\r\n    return 2\r\n")
    assert same(crlf, data, patches).sparse is not None
    data, patches = replace(crlf, "f30", "def f30(x: int) -> int:\r\n  return (\r\n")
    same(crlf, data, patches)


def test_several_patches_far_apart_make_several_windows() -> None:
    base = module(n=80)
    patches: list[Patch] = []
    for name, text in (("f3", "def f3():\n    return 3\n"), ("f70", "def f70():\n    return 70\n")):
        n = node(base, name)
        patches.append(Patch(PATH, n.start, n.end, text.encode(), n.id))
    gone = node(base, "f40")  # and one deleted with its blank lines
    patches.append(Patch(PATH, gone.start - 2, gone.end, b"", gone.id))
    data = compose(base, patches)
    found = same(base, data, patches)
    assert len(found.windows) == 3
    assert found.delta is not None and ("function", "f40") in found.delta[0]
    assert ("function", "f40") not in found.delta[1]


def test_patches_that_do_not_make_the_text_are_read_from_the_bytes() -> None:
    """Spacing rules move blank lines beside a patch: the change is then the span from the
    first byte that differs to the last."""
    base = module()
    data, patches = replace(base, "f30", "def f30(x: int) -> int:\n    return 0\n")
    moved = data.replace(b"\n\n\ndef f31", b"\n\n\n\ndef f31")
    found = same(base, moved, patches)
    assert found.sparse is not None and len(found.windows) == 1


def test_statements_sharing_a_line_stay_together() -> None:
    base = module(tail="\n\np = 1; q = 2\n")
    data, patches = replace(base, "(set p)", "p = 3; q = 4\n")
    found = same(base, data, patches)
    assert found.delta is not None
    data, patches = replace(base, "(set p)", "p = 3; return\n")
    assert check_change(base, data, PATH, patches) is not None
    same(base, data, patches)


def test_a_window_in_the_opening_imports_reaches_past_them() -> None:
    """Whether a statement belongs to the import block depends on those before it: a window
    in the module's opening docstring and imports starts at the first byte and ends after
    the first statement past them that is no import."""
    base = module()
    data, patches = replace(base, "(imports)", "import os\nimport sys\n")
    found = same(base, data, patches)
    assert found.windows[0][0] == 0 and data[found.windows[0][2] : found.windows[0][3]].endswith(b"len(os.sep)\n")
    assert found.delta is not None and ("function", "f0") in found.delta[0]
    first = node(base, "f0")
    patch = Patch(PATH, first.start, first.end, b"import re\n", first.id)  # joins the block
    found = same(base, compose(base, [patch]), [patch])
    assert found.delta is not None and ("function", "f0") not in found.delta[1]
    data, patches = replace(base, "(docstring)", "x = 1\n")  # no docstring, no import block
    same(base, data, patches)


def test_a_composed_file_is_parsed_only_where_it_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The base's tree is kept from its parse; the composed text is parsed window by window."""
    base = module(n=200)
    syntax.forget_trees()
    syntax.tree_of(base)
    parsed: list[int] = []
    real = syntax.parse_tree
    monkeypatch.setattr(syntax, "parse_tree", lambda data: parsed.append(len(data)) or real(data))
    data, patches = replace(base, "f100", "def f100(x: int) -> int:\n    return -x\n")
    parsed.clear()  # ``replace`` built the base's nodes (from the kept tree)
    assert check_change(base, data, PATH, patches) is None
    assert LANGUAGE.top_keys_delta(base, data) == ([("function", "f100")], [("function", "f100")])
    assert parsed == [len(b"def f100(x: int) -> int:\n    return -x\n")]


def test_a_window_that_would_join_the_next_line_is_the_file_s_to_judge() -> None:
    """A line continuation at a window's end joins the unchanged line below it in the
    file; alone, the window would end on blank lines."""
    base = module()
    data, patches = replace(base, "f30", "x = 1 \\\n")  # joins a blank line: valid
    assert same(base, data, patches).sparse is None
    f30, f31 = node(base, "f30"), node(base, "f31")
    patch = Patch(PATH, f30.start, f31.start, b"x = 1 \\\n", f30.id)  # joins ``def f31``
    data = compose(base, [patch])
    assert same(base, data, [patch]).sparse is None
    assert check_change(base, data, PATH, [patch]) is not None
    data, patches = replace(base, "f30", "@decorator\n")  # would decorate f31 in the file
    assert same(base, data, patches).sparse is None


def test_an_edit_right_below_the_leading_window_is_counted_once() -> None:
    """The leading window ends after ``X = 1``; ``Y = 2`` on the next line is another
    edit's: the two windows touch and are one."""
    base = module('"""Doc."""\n\nimport os\nX = 1\nY = 2\n')
    patches: list[Patch] = []
    for name, text in (("(docstring)", b'"""Other."""\n'), ("Y", b"del Y\n")):
        n = node(base, name)
        patches.append(Patch(PATH, n.start, n.end, text, n.id))
    data = compose(base, patches)
    found = same(base, data, patches)
    assert len(found.windows) == 1 and found.delta is not None
    assert found.delta[1].count(("statement", "(delete)")) == 1


def leaf_compiled(text: str) -> bytes:
    """What a leaf does with its text before its parent composes: compile it alone."""
    data = textwrap.dedent(text).encode()
    syntax.python_error(data)
    return data


def test_statements_their_leaves_compiled_are_left_out() -> None:
    base = module()
    proven = leaf_compiled("def f30(x: int) -> int:\n    return x * 2\n")
    data, patches = replace(base, "f30", proven.decode())
    data, more = replace(data, "f31", "def f31(x: int) -> int:\n    return x * 3\n")
    found = same(base, data, [*patches, *more])
    assert found.sparse is not None
    assert b"x * 2" not in found.sparse and b"x * 3" in found.sparse  # f31's leaf never compiled
    syntax.forget_trees()  # no verdict kept: compiled again
    change.forget()
    assert b"x * 2" in change.change(base, data).sparse  # type: ignore[operator]


@pytest.mark.parametrize(
    ("proven", "broken"),
    [
        # A proven statement beside a broken one: the broken one is still CPython's.
        ("def f30(x: int) -> int:\n    return x * 2\n", "def f31(x: int) -> int:\n    return x *\n"),
        # The line above a proven statement ends in a backslash: it would join it.
        ("def f31(x: int) -> int:\n    return x\n", "def f30(x: int) -> int:\n    return x + \\\n"),
        # Two statements on one line: the line is proven only as a whole.
        ("y = 1; z = 2\n", "def f31(x: int) -> int:\n    return x +* 1\n"),
    ],
)
def test_a_proven_statement_hides_no_error(proven: str, broken: str) -> None:
    base = module()
    leaf_compiled(proven)
    first, second = ("f30", "f31") if proven.startswith(("def f30", "y")) else ("f31", "f30")
    data, patches = replace(base, first, proven)
    data, more = replace(data, second, broken)
    assert check_file(data, PATH) is not None
    same(base, data, [*patches, *more])


def test_a_future_import_or_a_cookie_keeps_a_proven_statement_compiled() -> None:
    # Under ``annotations`` a walrus in an annotation is an error; alone it compiles.
    text = "def f30(x: (y := 1)) -> int:\n    return x\n"
    leaf_compiled(text)
    for head in ("from __future__ import annotations\n\nimport os\n", "# coding: utf-8\nimport os\n"):
        base = module(head)
        data, patches = replace(base, "f30", text)
        found = same(base, data, patches)
        assert found.sparse is not None and b"y := 1" in found.sparse
    base = module("from __future__ import annotations\n\nimport os\n")
    data, patches = replace(base, "f30", text)
    diag = check_change(base, data, PATH, patches)
    assert diag is not None and "can not be used within an annotation" in diag.message


def test_a_new_future_import_keeps_every_proven_statement_compiled() -> None:
    base = module('"""A module."""\n')
    text = "def f30(x: (y := 1)) -> int:\n    return x\n"
    leaf_compiled(text)
    data, patches = replace(base, "(docstring)", "from __future__ import annotations\n")
    data, more = replace(data, "f30", text)
    diag = check_change(base, data, PATH, [*patches, *more])
    assert diag is not None and "can not be used within an annotation" in diag.message
    same(base, data, [*patches, *more])


def test_the_window_at_the_top_of_the_file_leaves_out_what_was_proven() -> None:
    base = module("import os\n")
    proven = leaf_compiled("def f0(x: int) -> int:\n    return x * 7")  # as a leaf's text: no last line break
    data, patches = replace(base, "f0", proven.decode())
    found = same(base, data, patches)
    assert found.sparse is not None and b"x * 7" not in found.sparse
