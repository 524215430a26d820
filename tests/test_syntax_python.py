"""Python files as node trees: ids, exact byte ranges, validity, and a sweep of the stdlib."""

from __future__ import annotations

import sysconfig
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from astm.core.lines import error_count
from astm.core.node import Node, text_hash
from astm.errors import TargetError
from astm.lang import parse_file
from astm.lang.python.syntax import (
    IMPORTS,
    build,
    key_of,
    outline,
    parse,
    parse_tree,
    python_error,
    top_level,
)

PATH = "pkg/mod.py"


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode("utf-8")


def texts(data: bytes, path: str = PATH) -> dict[str, bytes]:
    """``{id: bytes of its range}`` of every node below the file, in tree order."""
    tree = parse(path, data)
    check_tree(tree, data)
    return {
        n.id.removeprefix(f"{path}::"): data[n.start : n.end] for n in tree.walk() if n.id != path
    }


def check_tree(tree: Node, data: bytes) -> None:
    """The invariants every tree keeps: whole lines, nested, ordered, unique, hashed."""
    assert (tree.start, tree.end) == (0, len(data))
    for node in tree.walk():
        assert node.hash == text_hash(data[node.start : node.end])
        ids = [c.id for c in node.children]
        assert len(ids) == len(set(ids)), ids
        pos = node.start
        for child in node.children:
            assert pos <= child.start < child.end <= node.end, (node.id, child.id)
            # A block is no scope: the definitions in it are named as in the module.
            scope = node.path if node.kind == "block" else node.id
            assert child.id.startswith(scope + ("::" if node.kind in ("file", "block") else "."))
            assert child.start in (0, 3) or data[child.start - 1 : child.start] == b"\n"
            assert child.end == len(data) or data[child.end - 1 : child.end] == b"\n"
            # key_of is read without context: an import outside the block reads as imports.
            late_import = child.kind == "statement" and (child.key or "").startswith(("(import", "(from"))
            if child.kind not in ("imports", "comment") and not late_import:
                assert key_of(data[child.start : child.end]) == (child.kind, child.key)
            pos = child.end


def test_imports_block_after_docstring_and_future() -> None:
    data = src('''
        #!/usr/bin/env python
        """Module doc."""
        from __future__ import annotations

        import os
        # a comment between imports
        from typing import (
            Any,
        )
        X = 1
        import late
    ''')
    tree = parse(PATH, data)
    imports = tree.children[2]
    assert (imports.id, imports.kind, imports.key) == (f"{PATH}::{IMPORTS}", "imports", None)
    assert texts(data) == {
        "(comment before (docstring))": b"#!/usr/bin/env python\n",
        "(docstring)": b'"""Module doc."""\n',
        "(imports)": b"from __future__ import annotations\n\nimport os\n"
        b"# a comment between imports\nfrom typing import (\n    Any,\n)\n",
        "X": b"X = 1\n",
        "(import late)": b"import late\n",
    }


def test_comment_directly_above_imports_belongs_to_them_but_shebang_does_not() -> None:
    data = src("""
        #!/usr/bin/env python
        # -*- coding: utf-8 -*-
        # stdlib
        import os
    """)
    assert texts(data) == {
        "(comment before (imports))": b"#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n",
        "(imports)": b"# stdlib\nimport os\n",
    }


def test_no_imports_block_when_the_module_opens_with_code() -> None:
    data = src("""
        X = 1
        import os
    """)
    assert texts(data) == {"X": b"X = 1\n", "(import os)": b"import os\n"}


def test_class_with_methods() -> None:
    data = src('''
        class Cart:
            """A cart."""

            def __init__(self) -> None:
                self.items = []

            def total(self) -> int:
                return sum(self.items)
    ''')
    tree = parse(PATH, data)
    cart = tree.child(f"{PATH}::Cart")
    assert cart is not None and (cart.kind, cart.key) == ("class", "Cart")
    assert [(c.kind, c.key) for c in cart.children] == [
        ("function", "__init__"),
        ("function", "total"),
    ]
    assert texts(data) == {
        "Cart": data,
        "Cart.__init__": b"    def __init__(self) -> None:\n        self.items = []\n",
        "Cart.total": b"    def total(self) -> int:\n        return sum(self.items)\n",
    }


def test_decorated_method_takes_the_comment_directly_above() -> None:
    data = src("""
        class A:
            x = 1

            # Cached because it is slow.
            # (second line)
            @functools.cache
            @other
            def slow(self):  # trailing comment
                return 2
                # return 3
            # not deeper than the def: stays with the class

            # separated by a blank line: not the method's
            def fast(self):
                return 1
    """)
    assert texts(data) == {
        "A": data,
        "A.slow": b"    # Cached because it is slow.\n    # (second line)\n    @functools.cache\n"
        b"    @other\n    def slow(self):  # trailing comment\n        return 2\n"
        b"        # return 3\n",
        "A.fast": b"    # separated by a blank line: not the method's\n    def fast(self):\n"
        b"        return 1\n",
    }


def test_property_getter_and_setter() -> None:
    data = src("""
        class P:
            @property
            def x(self) -> int:
                return self._x

            @x.setter
            def x(self, value: int) -> None:
                self._x = value
    """)
    tree = parse(PATH, data)
    pclass = tree.children[0]
    assert [c.id for c in pclass.children] == [f"{PATH}::P.x", f"{PATH}::P.x#2"]
    assert [c.key for c in pclass.children] == ["x", "x"]
    assert texts(data)["P.x#2"] == (
        b"    @x.setter\n    def x(self, value: int) -> None:\n        self._x = value\n"
    )


def test_overloads_are_numbered_in_order() -> None:
    data = src("""
        from typing import overload

        @overload
        def f(x: int) -> int: ...
        @overload
        def f(x: str) -> str: ...
        def f(x):
            return x
    """)
    assert texts(data) == {
        "(imports)": b"from typing import overload\n",
        "f": b"@overload\ndef f(x: int) -> int: ...\n",
        "f#2": b"@overload\ndef f(x: str) -> str: ...\n",
        "f#3": b"def f(x):\n    return x\n",
    }


def test_async_def_is_a_function() -> None:
    data = src("""
        async def fetch(url):
            async with session() as s:
                return await s.get(url)
    """)
    tree = parse(PATH, data)
    assert [(c.id, c.kind, c.key) for c in tree.children] == [
        (f"{PATH}::fetch", "function", "fetch")
    ]
    assert texts(data) == {"fetch": data}


def test_nested_function_and_nested_class() -> None:
    data = src("""
        def outer():
            x = 1

            def inner():
                class Local:
                    def m(self):
                        return x
                return Local

            return inner

        class Outer:
            class Meta:
                ordering = ["id"]

            def method(self):
                def helper():
                    pass
                return helper
    """)
    assert texts(data) == {
        "outer": data[: data.index(b"\n\nclass Outer") + 1],
        "outer.inner": b"    def inner():\n        class Local:\n            def m(self):\n"
        b"                return x\n        return Local\n",
        "outer.inner.Local": b"        class Local:\n            def m(self):\n                return x\n",
        "outer.inner.Local.m": b"            def m(self):\n                return x\n",
        "Outer": data[data.index(b"class Outer") :],
        "Outer.Meta": b'    class Meta:\n        ordering = ["id"]\n',
        "Outer.method": b"    def method(self):\n        def helper():\n            pass\n"
        b"        return helper\n",
        "Outer.method.helper": b"        def helper():\n            pass\n",
    }


def test_class_defined_twice() -> None:
    data = src("""
        class Name:
            def a(self): ...

        class Name:
            def a(self): ...
    """)
    ids = [n.id for n in parse(PATH, data).walk()]
    assert ids == [PATH, f"{PATH}::Name", f"{PATH}::Name.a", f"{PATH}::Name#2", f"{PATH}::Name#2.a"]


def test_conditional_definitions_are_named_in_the_enclosing_scope() -> None:
    """A top-level if/try/with is a node (kind ``block`` when definitions stand in it, its
    children); the definitions keep the names they have in the module, as Python scopes
    them. Inside a class the blocks are the class's own lines."""
    data = src("""
        import sys
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from os import PathLike

            class Proto:
                pass
        try:
            from fast import speedup
        except ImportError:
            # pure-Python fallback
            def speedup(x):
                return x

        if sys.version_info >= (3, 12):
            LIMIT = 1
        else:
            LIMIT = 2

        class Box:
            if sys.platform == "win32":
                def path(self): return "C:"
            elif sys.platform == "darwin":
                with warnings.catch_warnings():
                    def path(self): return "/Users"
            else:
                def path(self): return "/home"
            for _ in range(2):
                def looped(self): ...
    """)
    found = texts(data)
    assert list(found) == [
        "(imports)",
        "(if TYPE_CHECKING)",
        "Proto",
        "(try)",
        "speedup",
        "(if sys.version_info >= (3, 12))",
        "Box",
        "Box.path",
        "Box.path#2",
        "Box.path#3",
    ]
    assert found["Proto"] == b"    class Proto:\n        pass\n"
    assert (
        found["speedup"] == b"    # pure-Python fallback\n    def speedup(x):\n        return x\n"
    )
    assert found["Box.path#2"] == b'            def path(self): return "/Users"\n'
    tree = parse(PATH, data)
    kinds = {c.key: (c.kind, [k.id for k in c.children]) for c in tree.children}
    assert kinds["(if TYPE_CHECKING)"] == ("block", [f"{PATH}::Proto"])
    assert kinds["(try)"] == ("block", [f"{PATH}::speedup"])
    assert kinds["(if sys.version_info >= (3, 12))"] == ("block", [])


def test_top_level_assignments() -> None:
    data = src("""
        X = 1
        # The limit.
        LIMIT: int = 10
        Alias: type
        a, *b = 1, 2
        (c, d) = 3, 4
        e = f = 5
        X += 1
        obj.attr = 6
        table["k"] = 7
        p = 1; q = 2
        X = {
            "k": 1,
        }
        print(X)
    """)
    tree = parse(PATH, data)
    assert {c.kind for c in tree.children} == {"assignment", "statement"}
    assert texts(data) == {
        "X": b"X = 1\n",
        "LIMIT": b"# The limit.\nLIMIT: int = 10\n",
        "Alias": b"Alias: type\n",
        "a": b"a, *b = 1, 2\n",
        "c": b"(c, d) = 3, 4\n",
        "e": b"e = f = 5\n",
        "(set X)": b"X += 1\n",
        "(set obj.attr)": b"obj.attr = 6\n",
        '(set table["k"])': b'table["k"] = 7\n',
        "(set p)": b"p = 1; q = 2\n",
        "X#2": b'X = {\n    "k": 1,\n}\n',
        "(call print)": b"print(X)\n",
    }


def test_crlf_file() -> None:
    data = b"import os\r\n\r\n# hi\r\nclass A:\r\n    def m(self):\r\n        pass\r\n\r\nX = 1\r\n"
    assert texts(data) == {
        "(imports)": b"import os\r\n",
        "A": b"# hi\r\nclass A:\r\n    def m(self):\r\n        pass\r\n",
        "A.m": b"    def m(self):\r\n        pass\r\n",
        "X": b"X = 1\r\n",
    }


def test_tab_indented_file() -> None:
    data = b"class A:\n\t# about m\n\tdef m(self):\n\t\treturn 1\n\t\t# tail\n\n\tdef n(self):\n\t\tpass\n"
    assert texts(data) == {
        "A": data,
        "A.m": b"\t# about m\n\tdef m(self):\n\t\treturn 1\n\t\t# tail\n",
        "A.n": b"\tdef n(self):\n\t\tpass\n",
    }


def test_non_ascii_text_before_a_node_counts_in_bytes() -> None:
    data = src('''
        """Größe — 日本語 ✓."""
        GRÜSSE = "héllo wörld ✓"

        def größe(x="日本"):
            return x

        class Ñandú:
            def café(self): ...
    ''')
    assert texts(data) == {
        "(docstring)": '"""Größe — 日本語 ✓."""\n'.encode(),
        "GRÜSSE": 'GRÜSSE = "héllo wörld ✓"\n'.encode(),
        "größe": 'def größe(x="日本"):\n    return x\n'.encode(),
        "Ñandú": "class Ñandú:\n    def café(self): ...\n".encode(),
        "Ñandú.café": "    def café(self): ...\n".encode(),
    }
    assert parse(PATH, data).children[2].start == data.index("def größe".encode())


def test_bom_belongs_to_the_file() -> None:
    data = b"\xef\xbb\xbf# comment\n@dec\ndef f():\n    pass\n"
    tree = parse(PATH, data)
    assert tree.children[0].start == 3
    assert texts(data) == {"f": b"# comment\n@dec\ndef f():\n    pass\n"}
    data = b"\xef\xbb\xbfimport os\n"
    assert texts(data) == {"(imports)": b"import os\n"}


def test_last_line_without_newline() -> None:
    data = b"def f():\n    return 1"
    assert texts(data) == {"f": data}


def test_empty_file_and_file_with_only_comments() -> None:
    empty = parse(PATH, b"")
    assert (empty.id, empty.kind, empty.start, empty.end, empty.children) == (
        PATH,
        "file",
        0,
        0,
        (),
    )
    comments = b"# just a comment\n\n# another\n\n"
    tree = parse(PATH, comments)
    assert tree.end == len(comments)
    assert [(c.id, c.kind, c.start, c.end) for c in tree.children] == [
        (f"{PATH}::(comment end)", "comment", 0, len(comments) - 1)
    ]


def test_syntax_error_names_its_line() -> None:
    data = src("""
        import os

        def f(:
            pass
    """)
    with pytest.raises(TargetError) as info:
        parse(PATH, data)
    assert info.value.path == PATH and info.value.line == 3
    assert str(info.value).startswith(f"{PATH} (line 3): not valid Python")
    # Errors only the compiler finds (not the parser) count too.
    with pytest.raises(TargetError) as info:
        parse(PATH, b"x = 1\nreturn x\n")
    assert info.value.line == 2


def test_nul_byte_is_a_target_error() -> None:
    with pytest.raises(TargetError) as info:
        parse(PATH, b"x = 1\ny = '\0'\n")
    assert info.value.line == 2


def test_non_utf8_is_a_target_error() -> None:
    with pytest.raises(TargetError, match="not UTF-8") as info:
        parse_file(PATH, b"x = 1\ny = '\xff'\n")
    assert info.value.line == 2


def test_syntax_warnings_do_not_reject_a_file() -> None:
    # Under ``-W error`` compile would turn an invalid escape into a SyntaxError.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert python_error(b'x = "\\d"\nassert (x, 1)\n') is None


def test_build_does_not_check_validity() -> None:
    data = b"def f(:\n    pass\n\ndef g():\n    pass\n"
    tree = build(PATH, data)
    assert tree.find(f"{PATH}::g") is not None
    assert error_count(parse_tree(data)) > 0
    assert error_count(parse_tree(data), start=data.index(b"def g")) == 0


def test_key_of() -> None:
    assert key_of(b"    # doc\n    @property\n    def x(self):\n        return 1\n") == (
        "function",
        "x",
    )
    assert key_of(b"async def go(): ...\n") == ("function", "go")
    assert key_of(b"\tclass Inner:\n\t\tpass\n") == ("class", "Inner")
    assert key_of(b"LIMIT: int = 3\n") == ("assignment", "LIMIT")
    assert key_of(b"import os\n") == ("imports", IMPORTS)
    assert key_of(b"# nothing here\nprint(1)\n") == ("statement", "(call print)")
    assert key_of(b'"""Doc."""\n') == ("docstring", "(docstring)")
    assert key_of(b"if TYPE_CHECKING:\n    def f(): ...\n") == ("block", "(if TYPE_CHECKING)")
    assert key_of(b"if  x  and y:\n    pass\n") == ("block", "(if x and y)")
    assert key_of(b"for i in  range(3):\n    pass\n") == ("statement", "(for i in range(3))")
    assert key_of(b"p = 1; q = 2\n") == ("statement", "(set p)")
    assert key_of(b"# nothing here\n") is None
    assert key_of(b"") is None


def test_outline_keeps_imports_and_signatures_only() -> None:
    data = src('''
        """Doc."""
        from typing import (
            Any,  # the usual
        )

        X = 1

        @dataclass
        class A(Base):
            """A."""

            @property
            def x(
                self,
                y: int = 2,  # why
            ) -> int:
                return 1

        async def f() -> None:
            def g(): pass
    ''')
    assert outline(data) == textwrap.dedent("""\
        from typing import (Any)
        @dataclass
        class A(Base):
            @property
            def x(self, y: int = 2) -> int:
        async def f() -> None:
            def g():""")


def test_parsing_is_thread_safe() -> None:
    data = Path(textwrap.__file__).read_bytes()
    expected = build("t.py", data)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: build("t.py", data), range(32)))
    assert all(r == expected for r in results)


def _stdlib_sample(limit: int = 40) -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    # The size check spares reading small files; the line count is the real criterion.
    big = [p for p in files if p.stat().st_size > 12_000 and p.read_bytes().count(b"\n") > 500]
    return big[:: max(1, len(big) // limit)][:limit]


def test_stdlib_sweep() -> None:
    sample = _stdlib_sample()
    assert len(sample) >= 10
    for path in sample:
        data = path.read_bytes()
        name = path.name
        if python_error(data, name) is None:
            tree = parse(name, data)
        else:  # lib2to3 test data and the like: still no crash
            tree = build(name, data)
        check_tree(tree, data)
        # Every byte but blank lines and a BOM is in a child of the file.
        rest = bytearray(data)
        for child in tree.children:
            rest[child.start : child.end] = b" " * (child.end - child.start)
        assert not bytes(rest).removeprefix(b"\xef\xbb\xbf").strip(), name
        light = top_level(name, data, parse_tree(data))
        assert [(c.id, c.start, c.end) for c in light] == [
            (c.id, c.start, c.end) for c in tree.children
        ], name
