"""Skeleton, curated and focus views: exact output, node ids, bad input, stdlib acceptance."""

from __future__ import annotations

import ast
import random
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import pytest
from conftest import make_repo

from astm import views
from astm.errors import UnknownNodeError
from astm.lang.python.syntax import build
from astm.views import count_tokens, curated, focus, skeleton
from astm.views.faithful import docstrings, keeps_body, mark, marked_bodies

PATH = "pkg/mod.py"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
# A handful of the stdlib's modules of more than 500 lines, of different kinds.
HANDFUL = [
    "argparse.py",
    "subprocess.py",
    "pathlib.py",
    "tarfile.py",
    "logging/__init__.py",
    "asyncio/base_events.py",
    "email/message.py",
    "dataclasses.py",
]


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode("utf-8")


def parses(text: str) -> None:
    compile(text, "<view>", "exec", ast.PyCF_ONLY_AST)


SAMPLE = src('''
    """Module doc."""
    from __future__ import annotations
    import os, sys  # why
    from typing import (
        Any,
        List,
    )
    X = 1
    TABLE = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9, "j": 10}
    if sys.platform == "win32":
        import nt
        def plat(): return 1
    else:
        def plat():
            return 2

    @decorator(
        1, 2)
    class A(Base, metaclass=M):
        """Class doc."""
        x: int = 0
        def f(self, a: int = 3, *args, **kw) -> "A":  # trailing
            """Doc of f."""
            def inner():
                """Inner doc."""
                return 1
            return inner()
        @property
        def p(self): return 1
        @p.setter
        def p(self, v):
            # [HOT]
            self._p = v
        class Inner: pass

    @core_logic
    async def g(x,
                y):
        await x
        # a comment after the body

    def h():
        @tools.core_logic()
        def hh():
            return 5
        return hh

    if __name__ == "__main__":
        main()
''')


def test_skeleton_keeps_signatures_and_structure_bodies_pass() -> None:
    view = skeleton(PATH, SAMPLE)
    assert view.text == textwrap.dedent("""\
        from __future__ import annotations
        import os, sys
        from typing import (
            Any,
            List,
        )
        X = 1
        TABLE = ...
        if sys.platform == "win32":
            import nt
            def plat():
                pass
        else:
            def plat():
                pass
        @decorator(
            1, 2)
        class A(Base, metaclass=M):
            x: int = 0
            def f(self, a: int = 3, *args, **kw) -> "A":
                pass
            @property
            def p(self):
                pass
            @p.setter
            def p(self, v):
                pass
            class Inner:
                pass
        @core_logic
        async def g(x,
                    y):
            pass
        def h():
            pass
    """)
    parses(view.text)


def test_skeleton_maps_each_line_to_its_node() -> None:
    view = skeleton(PATH, SAMPLE)
    by_text = {line.text.strip(): line.node for line in view.lines}
    assert by_text["import os, sys"] == f"{PATH}::(imports)"
    # A top-level if/try/with is a node: its header and its imports carry its id.
    block = f'{PATH}::(if sys.platform == "win32")'
    assert by_text["import nt"] == block
    assert by_text['if sys.platform == "win32":'] == block
    assert by_text["else:"] == block
    assert by_text["TABLE = ..."] == f"{PATH}::TABLE"
    assert by_text["class A(Base, metaclass=M):"] == f"{PATH}::A"
    assert by_text["x: int = 0"] == f"{PATH}::A"
    assert by_text["def p(self, v):"] == f"{PATH}::A.p#2"
    assert by_text["@p.setter"] == f"{PATH}::A.p#2"
    assert [line.node for line in view.lines if "def plat" in line.text] == [
        f"{PATH}::plat",
        f"{PATH}::plat#2",
    ]
    # Every node of the file appears once with --ids; nodes the view keeps nothing of (the
    # docstring, a statement) show their first line after ``:``, never in the text.
    ids = view.with_ids().splitlines()
    assert ids[0].startswith(f"{PATH}::(docstring) ") and ids[0].endswith(': """Module doc."""')
    assert ids[1].startswith(f"{PATH}::(imports)") and ids[1].endswith("| from __future__ import annotations")
    main = f'{PATH}::(if __name__ == "__main__")'
    assert ids[-1].startswith(main) and ids[-1].endswith(': if __name__ == "__main__":')
    from astm.lang.python.syntax import parse

    assert {n.id for n in parse(PATH, SAMPLE).children} <= set(view.ids())
    assert '"""Module doc."""' not in view.text and "__main__" not in view.text


def test_curated_keeps_docstrings_and_marked_bodies() -> None:
    view = curated(PATH, SAMPLE)
    assert view.text == textwrap.dedent('''\
        """Module doc."""
        from __future__ import annotations
        import os, sys
        from typing import (
            Any,
            List,
        )
        X = 1
        TABLE = ...
        if sys.platform == "win32":
            import nt
            def plat():
                ...  # Hidden
        else:
            def plat():
                ...  # Hidden
        @decorator(
            1, 2)
        class A(Base, metaclass=M):
            """Class doc."""
            x: int = 0
            def f(self, a: int = 3, *args, **kw) -> "A":
                """Doc of f."""
                def inner():
                    """Inner doc."""
                    ...  # Hidden
                ...  # Hidden
            @property
            def p(self):
                ...  # Hidden
            @p.setter
            def p(self, v):
                # [HOT]
                self._p = v
            class Inner:
                ...  # Hidden
        @core_logic
        async def g(x,
                    y):
            await x
        def h():
            @tools.core_logic()
            def hh():
                return 5
            ...  # Hidden
    ''')
    parses(view.text)
    assert {line.node for line in view.lines if "return 5" in line.text} == {f"{PATH}::h.hh"}


def test_hot_inside_a_string_is_not_a_marker() -> None:
    data = src("""
        def f():
            return "# [HOT]"
    """)
    assert curated(PATH, data).text == "def f():\n    ...  # Hidden\n"


@pytest.mark.parametrize("name", HANDFUL)
def test_stdlib_skeleton_is_valid_and_named(name: str) -> None:
    data = (STDLIB / name).read_bytes()
    assert data.count(b"\n") > 500
    view = skeleton(name, data)
    parses(view.text)
    tree = build(name, data)
    assert set(view.ids()) <= {n.id for n in tree.walk()}
    # every class and function outside a function body has its own lines
    shown = {
        n.id
        for n in tree.walk()
        if n.kind in ("class", "function")
        and all(p.kind != "function" for p in _ancestors(tree, n.id))
    }
    assert shown <= set(view.ids())


def test_stdlib_skeleton_is_at_most_15_percent_of_the_tokens() -> None:
    # The target holds over the corpus (bench/views.py prints it for every module of more
    # than 500 lines); a module of many one-line methods alone can exceed it.
    original = shown = 0
    for name in HANDFUL:
        data = (STDLIB / name).read_bytes()
        original += count_tokens(data.decode("utf-8"))
        shown += count_tokens(skeleton(name, data).text)
    assert shown / original <= 0.15, f"skeleton is {shown / original:.1%} of the tokens"


def _ancestors(tree: views.View | object, nid: str) -> list:  # type: ignore[type-arg]
    out = []
    node = tree.parent_of(nid)  # type: ignore[attr-defined]
    while node is not None and not node.is_file:
        out.append(node)
        node = tree.parent_of(node.id)  # type: ignore[attr-defined]
    return out


@pytest.mark.parametrize("name", HANDFUL[:5])
def test_stdlib_curated_keeps_every_docstring_and_marked_body(name: str) -> None:
    text = (STDLIB / name).read_text(encoding="utf-8")
    marked, bodies = mark(text)
    assert len(bodies) > 10
    view = curated(name, marked.encode())
    parses(view.text)
    assert docstrings(view.text) == docstrings(text)
    assert [b for b in bodies if b not in view.text] == []


def test_faithful_helpers_agree_on_what_is_marked() -> None:
    bodies = marked_bodies(SAMPLE.decode())
    assert [b.splitlines()[0].strip() for b in bodies] == [
        "@p.setter",
        "@core_logic",
        "@tools.core_logic()",
    ]
    view = curated(PATH, SAMPLE).text
    assert all(keeps_body(view, b) for b in bodies)


# -- bad input ---------------------------------------------------------------------------


def test_broken_region_is_marked_and_the_walk_goes_on() -> None:
    data = src("""
        import os
        def good(a):
            return a
        def bad(:
            pass
        class After:
            def m(self, x=1):
                return x +* 2
        def last() -> int:
            return 1
    """)
    view = skeleton(PATH, data)
    parses(view.text)
    assert "def good(a):\n    pass\n" in view.text
    assert "def last() -> int:\n    pass\n" in view.text
    assert "class After:" in view.text  # its method is lost in tree-sitter's ERROR node
    assert "def bad" not in view.text
    notes = [line.text.strip() for line in view.lines if line.role == views.NOTE]
    assert notes[0].startswith("# astm: line") and "could not be parsed" in notes[0]
    assert view.notes and all("could not be parsed" in n for n in view.notes)


def test_module_tree_sitter_cannot_parse_is_recovered_in_part() -> None:
    # tree-sitter-python loses this valid file's structure; the view shows what it sees.
    data = (
        (STDLIB / "test" / "test_compile.py").read_bytes()
        if (STDLIB / "test" / "test_compile.py").exists()
        else None
    )
    if data is None:
        pytest.skip("the stdlib test suite is not installed")
    view = curated("t.py", data)
    parses(view.text)
    assert any("shown in part" in n for n in view.notes)
    assert docstrings(view.text) == docstrings(data.decode())


def test_non_utf8_is_skipped_with_a_note() -> None:
    view = skeleton(PATH, b"x = '\xff'\n")
    assert view.skipped and view.lines == ()
    assert view.notes == ("not UTF-8 (byte 5); skipped",)


def test_empty_and_whitespace_files() -> None:
    for data in (b"", b"\n\n", b"# only a comment\n", b"\xef\xbb\xbf"):
        view = skeleton(PATH, data)
        assert view.text == "" and not view.skipped


def test_huge_file(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"".join(b"def f%d(a, b=%d):\n    return a + b\n" % (i, i) for i in range(20000))
    view = skeleton(PATH, data)
    assert len(view.lines) == 40000
    parses(view.text)
    monkeypatch.setattr(views, "MAX_BYTES", 1000)
    view = skeleton(PATH, data)
    assert view.skipped and view.notes[0].startswith(f"too large ({len(data)} bytes")


def test_deep_nesting_does_not_crash() -> None:
    data = (
        b"".join(b"    " * i + b"if x:\n" for i in range(300)) + b"    " * 300 + b"def f(): pass\n"
    )
    view = skeleton(PATH, data)
    parses(view.text)


def test_crlf_bom_and_tabs() -> None:
    data = b"\xef\xbb\xbfimport os\r\nclass A:\r\n\tdef f(self,\r\n\t      a):\r\n\t\treturn a\r\n"
    view = skeleton(PATH, data)
    assert view.text == "import os\nclass A:\n\tdef f(self,\n\t      a):\n\t\tpass\n"
    parses(view.text)


def test_unknown_language_is_skipped() -> None:
    assert skeleton("notes.txt", b"hello").notes == ("not a Python or TOML file; skipped",)


def test_python2_source_gives_a_note_not_invalid_code() -> None:
    view = curated(PATH, b"def f((a, b)):\n    print a\n")
    parses(view.text)
    assert view.notes[-1] == "no valid view: the file is not valid Python"


def test_mangled_input_never_crashes_and_views_stay_valid() -> None:
    rng = random.Random(4)
    alphabet = b"():\n \t'\"#[]{}@=,.\\xdefclass"
    for n in range(300):
        data = bytearray(SAMPLE if n % 4 else TOML)
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(data))
            if rng.random() < 0.4:
                del data[pos : pos + rng.randint(1, 5)]
            else:
                data[pos:pos] = bytes([rng.choice(alphabet)])
        name = PATH if n % 4 else "pyproject.toml"
        for make in (skeleton, curated):
            view = make(name, bytes(data))
            if name == PATH:
                parses(view.text)


# -- TOML --------------------------------------------------------------------------------


TOML = src('''
    # top comment
    name = "demo"
    [tool.demo]  # header comment
    short = [1, 2]
    long = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota"]
    text = "a very long string value that goes on and on and on and on, past any limit"
    nested = { a = 1, b = "two", c = [3, 4], d = { e = 5 }, f = "a long enough tail of text" }
    multi = """
    line one
    """
    [[tool.demo.items]]
    x = 1
''')


def test_toml_skeleton_shortens_long_values_and_stays_valid() -> None:
    view = skeleton("pyproject.toml", TOML)
    assert view.text == textwrap.dedent("""\
        name = "demo"
        [tool.demo]
        short = [1, 2]
        long = ["alpha", "beta", "gamma", "delta"]  # … 5 more
        text = "a very long string value that goes on an…"
        nested = { a = 1, b = "two", c = [3, 4] }  # … 2 more
        multi = "line one\\n"
        [[tool.demo.items]]
        x = 1
    """)
    tomllib.loads(view.text)
    assert [line.node for line in view.lines] == [
        "pyproject.toml::(preamble)",
        *["pyproject.toml::tool.demo"] * 6,
        *["pyproject.toml::tool.demo.items[0]"] * 2,
    ]


def test_toml_broken_region() -> None:
    view = skeleton("a.toml", b"[a]\nx = 1\ny = = 2\n[b]\nz = 3\n")
    assert "[b]" in view.text and "z = 3" in view.text
    assert view.notes and "could not be parsed" in view.notes[0]


# -- focus (what a node agent sees) -------------------------------------------------------


def test_focus_shows_the_node_in_full_and_the_rest_as_skeleton() -> None:
    view = focus(PATH, SAMPLE, f"{PATH}::A.f")
    text = view.text
    parses(text)
    assert '            """Inner doc."""\n            return 1\n        return inner()\n' in text
    assert "class A(Base, metaclass=M):" in text  # its parent's signature
    assert "    def p(self):\n        pass\n" in text  # its siblings as skeleton


def test_focus_on_a_node_the_skeleton_hides() -> None:
    text = focus(PATH, SAMPLE, f"{PATH}::h.hh").text
    parses(text)
    assert text.endswith("def h():\n    @tools.core_logic()\n    def hh():\n        return 5\n")


def test_focus_on_a_toml_table_and_unknown_nodes() -> None:
    text = focus("pyproject.toml", TOML, "pyproject.toml::tool.demo").text
    assert 'multi = """\nline one\n"""' in text and "[[tool.demo.items]]" in text
    tomllib.loads(text)
    with pytest.raises(UnknownNodeError):
        focus(PATH, SAMPLE, f"{PATH}::nope")


# -- tokens ------------------------------------------------------------------------------


def test_count_tokens_approximates_bpe() -> None:
    assert count_tokens("") == 0
    assert count_tokens("def f(x):\n    return x\n") == 9
    assert count_tokens("internationalization") == 4
    text = (STDLIB / "argparse.py").read_text(encoding="utf-8")
    assert 3.0 < len(text) / count_tokens(text) < 5.0  # BPE on code: about 4 chars a token


# -- CLI ---------------------------------------------------------------------------------


def test_cli_view_skeleton_and_curated(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(
        tmp_path / "r",
        {
            "pkg/mod.py": SAMPLE,
            "pkg/bad.py": b"x = '\xff'\n",
            "pyproject.toml": TOML,
        },
    )
    res = astm("view", "skeleton", "--ids", "mod.py", cwd=repo / "pkg")
    assert res.code == 0
    assert res.out.splitlines()[1].endswith("| from __future__ import annotations")
    res = astm("view", "curated", "pkg", cwd=repo)
    assert res.code == 0
    assert "# == pkg/mod.py ==" in res.out and '"""Module doc."""' in res.out
    assert res.err == "astm: note: pkg/bad.py: not UTF-8 (byte 5); skipped\n"
    res = astm("view", "skeleton", "pyproject.toml", cwd=repo)
    assert res.out.startswith('name = "demo"\n[tool.demo]\n')
    res = astm("view", "skeleton", "missing.py", cwd=repo)
    assert res.code == 2 and "missing.py: no such file" in res.err


def test_cli_view_outside_a_repository(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "m.py").write_bytes(b"def f(a):\n    return a\n")
    res = astm("view", "skeleton", "--ids", "m.py", cwd=tmp_path)
    assert (res.code, res.out) == (0, "m.py::f | def f(a):\nm.py::f |     pass\n")
