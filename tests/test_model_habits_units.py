"""The pure parts of absorbing model habits (issue 10): id resolution, what an intent
names, request lines, prose and whole-file answers. The end-to-end behaviour is in
tests/test_model_habits.py; these pin the rules one by one."""

from __future__ import annotations

import pytest

from astm.agents import answer, candidates, nearmiss, requests
from astm.core.node import Node
from astm.lang import parse_file
from astm.llm.base import Act, Create, Route

PY = b"import re\n\n\ndef _norm(t):\n    return t\n\n\nclass Inventory:\n    def recent_movements(self):\n        return 1\n"
TOML = b'[build-system]\nrequires = []\n\n[project]\nname = "x"\n\n[tool.pytest.ini_options]\na = 1\n\n[tool.ruff]\nb = 1\n\n[tool.ruff.lint]\nc = 1\n'


def tree(path: str, data: bytes) -> Node:
    return parse_file(path, data)


@pytest.mark.parametrize(
    ("written", "child", "deeper"),
    [
        ("m.py::imports", "m.py::(imports)", None),
        ("(imports)", "m.py::(imports)", None),
        ("m.py::m.py::_norm", "m.py::_norm", None),
        ("_norm", "m.py::_norm", None),
        ("m.py::recent_movements", "m.py::Inventory", "m.py::Inventory.recent_movements"),
        ("`m.py::inventory`", "m.py::Inventory", None),
    ],
)
def test_python_near_misses(written: str, child: str, deeper: str | None) -> None:
    got, below = nearmiss.find_child(written, tree("m.py", PY))
    assert got is not None and got.id == child and below == deeper


@pytest.mark.parametrize(
    ("written", "child"),
    [
        ("build-system", "pyproject.toml::build-system"),
        ("pyproject.toml::pyproject.toml::build-system", "pyproject.toml::build-system"),
        ('pyproject.toml::tool."pytest.ini_options"', "pyproject.toml::tool.pytest.ini_options"),
        ("[Tool.Ruff]", "pyproject.toml::tool.ruff"),
    ],
)
def test_toml_near_misses(written: str, child: str) -> None:
    got, below = nearmiss.find_child(written, tree("pyproject.toml", TOML))
    assert got is not None and got.id == child and below is None


def test_unknown_and_ambiguous_ids_stay_unknown() -> None:
    assert nearmiss.find_child("pyproject.toml::backend", tree("pyproject.toml", TOML)) == (None, None)
    two = tree("m.py", b"class A:\n    def f(self):\n        pass\n\n\nclass B:\n    def f(self):\n        pass\n")
    assert nearmiss.find_child("f", two) == (None, None)  # A.f or B.f: ask again


def test_resolve_turns_a_create_of_an_existing_key_into_acting_on_it() -> None:
    t = tree("pyproject.toml", TOML)
    route = Route(create=(Create("pyproject.toml::[build-system]", "hatch", position="end"),
                          Create("tool.black", "add", after="tool.ruff")))
    got, unknown = nearmiss.resolve(route, t)
    assert unknown == []
    assert got.act == (Act("pyproject.toml::build-system", "hatch"),)
    assert got.create == (Create("tool.black", "add", after="pyproject.toml::tool.ruff"),)


def test_a_key_inside_a_table_acts_as_the_table() -> None:
    # The 1.5B answered "act on pyproject.toml::project.dependencies" twice running.
    t = tree("pyproject.toml", TOML)
    route = Route(act=(Act("pyproject.toml::project.dependencies", "add requests"),))
    got, unknown = nearmiss.resolve(route, t)
    assert unknown == []
    assert got.act == (Act("pyproject.toml::project", "dependencies: add requests"),)


def test_a_node_named_at_the_repository_without_its_file_means_that_file() -> None:
    files = (tree("pyproject.toml", TOML), tree("m.py", b"def f():\n    return 1\n"))
    repo = Node(".", "repo", "", 0, 0, children=files)
    assert nearmiss.find_child("tool.pytest.ini_options", repo) == (files[0], None)
    assert nearmiss.find_child("f", repo) == (files[1], None)
    assert nearmiss.find_child("g", repo) == (None, None)


def test_correction_lists_every_valid_id() -> None:
    t = tree("pyproject.toml", TOML)
    text = nearmiss.correction(["pyproject.toml::backend"], t)
    assert "'pyproject.toml::backend'" in text
    for c in t.children:
        assert f"- {c.id}\n" in text + "\n"


@pytest.mark.parametrize(
    ("intent", "acting"),
    [
        ("fix the off-by-one in Inventory.recent_movements", ["m.py::Inventory"]),
        ("rename _norm to _normalise", ["m.py::_norm"]),
        ("make the total right", []),  # plain words name nothing
    ],
)
def test_named_python_nodes(intent: str, acting: list[str]) -> None:
    assert candidates.named(intent, tree("m.py", PY)) == acting


def test_named_and_hinted_tables() -> None:
    t = tree("pyproject.toml", TOML)
    assert candidates.named("set a = 2 in [tool.pytest.ini_options]", t) == ["pyproject.toml::tool.pytest.ini_options"]
    assert candidates.hinted_tables("configure pytest to be quiet", t) == ["pyproject.toml::tool.pytest.ini_options"]
    assert candidates.hinted_tables("ruff: line length 100", t) == ["pyproject.toml::tool.ruff"]  # the shortest key
    assert candidates.hinted_tables("add requests to the dependencies", t) == ["pyproject.toml::project"]
    # Weak evidence only when the router found nothing to do.
    busy = Route(act=(Act("pyproject.toml::tool.ruff", "x"),))
    assert candidates.add_named(busy, t, "add requests to the dependencies") == busy
    assert candidates.add_named(Route(), t, "add requests to the dependencies").act == (
        Act("pyproject.toml::project", "add requests to the dependencies"),
    )


def test_pyproject_only_intents() -> None:
    assert candidates.toml_only("add requests to the dependencies")
    assert candidates.toml_only("add a [tool.pytest.ini_options] table")
    assert not candidates.toml_only("make main() read the dependencies file")
    assert not candidates.toml_only("add a dependency check to src/app.py")


@pytest.mark.parametrize(
    "line",
    [b"# astm-request: change add: x", b"#astm-request: change add: x", b"# astm request: change add: x",
     b"  # ASTM_REQUEST change add: x", b"# astm-request change add: x"],
)
def test_request_lines_in_any_form(line: bytes) -> None:
    text = line + b"\ndef f():\n" + line.strip() + b"\n    return 1\n" + line + b"\n"
    body, asks = requests.take(text, "m.py::f")
    assert body == b"def f():\n    return 1\n"
    assert [(a.what, a.name, a.intent) for a in asks] == [("change", "add", "x")] * 3


def test_a_malformed_request_line_is_still_taken_out() -> None:
    body, asks = requests.take(b"def f():\n    return 1\n# astm-request: please help\n", "m.py::f")
    assert body == b"def f():\n    return 1\n" and asks == []


def test_prose_is_stripped_only_around_code() -> None:
    text = b"Sure! Here it is:\n\ndef f():\n    return 1\n\nThis returns one.\n"
    assert answer.strip_prose(text, "python") == b"def f():\n    return 1\n"
    code = b"def f():\n    return 1\n\nprint(f())\n"
    assert answer.strip_prose(code, "python") == code  # code, not prose
    toml = b'Here is the table:\n[a]\nx = 1\nI set x.\n'
    assert answer.strip_prose(toml, "toml") == b"[a]\nx = 1\n"


def test_rewrap_keeps_the_header_and_docstring() -> None:
    old = b'# about f\n@cache\ndef f(x: int) -> int:\n    """Doc."""\n    return x\n'
    assert answer.rewrap(b"y = x + 1\nreturn y\n", old) == (
        b'# about f\n@cache\ndef f(x: int) -> int:\n    """Doc."""\n    y = x + 1\n    return y\n'
    )
    assert answer.rewrap(b"def f(x):\n    return x\n", old) is None  # a definition: not a body
    assert answer.rewrap(b"f = lambda x: x\n", old) is None  # valid at module level: ambiguous


def test_extract_node_from_a_whole_file_with_proposals() -> None:
    t = tree("m.py", PY)
    whole = PY.replace(b"return 1", b"return 2").replace(b"return t\n", b"return t.strip()\n") + b"\n\ndef extra():\n    return 3\n"
    own = t.find("m.py::Inventory.recent_movements")
    assert own is not None
    got = answer.extract_node(whole, path="m.py", language="python", tree=t, base=PY, node=own,
                              kind="function", key="recent_movements", parent=t.children[2], owner=own.id)
    assert got.diag is None
    assert got.text == b"    def recent_movements(self):\n        return 2\n"
    assert [(a.what, a.name, a.after) for a in got.asks] == [("change", "_norm", None), ("sibling", "extra", "Inventory")]
    assert got.asks[0].text == b"def _norm(t):\n    return t.strip()\n"


def test_a_renamed_node_is_found_in_a_whole_file_answer() -> None:
    """Asked to rename _norm, the 1.5B answered the whole file: the one new definition at
    _norm's level is its new text; the callers it updated are proposals."""
    t = tree("m.py", PY)
    whole = PY.replace(b"def _norm(t)", b"def _normalize(t)").replace(b"return 1", b"return _normalize('x')")
    own = t.find("m.py::_norm")
    assert own is not None
    got = answer.extract_node(whole, path="m.py", language="python", tree=t, base=PY, node=own,
                              kind="function", key="_norm", parent=t, owner=own.id, rename=True)
    assert got.diag is None
    assert got.text == b"def _normalize(t):\n    return t\n"
    assert [(a.what, a.name) for a in got.asks] == [("change", "Inventory.recent_movements")]
    # Not a rename: the answer without _norm is left to the shape checks to name.
    plain = answer.extract_node(whole, path="m.py", language="python", tree=t, base=PY, node=own,
                                kind="function", key="_norm", parent=t, owner=own.id)
    assert plain.text == whole


def test_files_named_by_path_are_candidates() -> None:
    paths = ["src/app.py", "a/cli.py", "b/cli.py", "app.py", "pyproject.toml"]
    assert candidates.named_paths("edit src/app.py and cli.py", paths) == ["src/app.py"]  # cli.py: two
    assert candidates.named_paths("bump pyproject.toml", paths) == ["pyproject.toml"]
    assert candidates.rank(["a/x.py", "src/app.py", "b.py"], "edit src/app.py", lambda p: b"") == ["src/app.py"]


def test_a_request_naming_a_member_qualified_means_the_classs_child() -> None:
    t = tree("m.py", b"class Cart:\n    def total(self):\n        return 0\n")
    cart = t.children[0]
    ask = requests.Ask("sibling", "Cart.total", "keep it", "m.py::Cart.total")
    assert requests.target_of(cart, ask) is cart.children[0]
    assert requests.target_of(cart, requests.Ask("sibling", "total", "x", "m.py::Cart.total")) is cart.children[0]
    assert requests.target_of(cart, requests.Ask("sibling", "Cart.count", "x", "m.py::Cart.total")) is None


def test_a_request_written_as_a_trailing_comment_never_lands() -> None:
    text = b'dependencies = [\n    "click>=8.1",\n    "requests>=2.31",  # astm-request: sibling requests: add it\n]\n'
    got, asks = requests.take(text, "pyproject.toml::project")
    assert got == b'dependencies = [\n    "click>=8.1",\n    "requests>=2.31",\n]\n'
    assert asks == []  # a trailing one is taken out, not acted on


def test_a_whole_toml_file_with_junk_elsewhere_still_gives_the_nodes_table() -> None:
    """The 1.5B's whole-file answers to [project] carried broken lines in other tables:
    the file does not parse, but [project]'s own lines do, and they are the answer."""
    base = b'[project]\nname = "t"\ndependencies = ["click>=8.1"]\n\n[tool.ruff]\nline-length = 100\n'
    t = tree("pyproject.toml", base)
    own = t.find("pyproject.toml::project")
    assert own is not None
    whole = (b'[project]\nname = "t"\ndependencies = ["click>=8.1", "requests>=2.31"]\n\n'
             b'# lint\n[tool.ruff]\nline-length = {\n')
    got = answer.extract_node(whole, path="pyproject.toml", language="toml", tree=t, base=base, node=own,
                              kind="table", key="project", parent=t, owner=own.id)
    assert got.text == b'[project]\nname = "t"\ndependencies = ["click>=8.1", "requests>=2.31"]\n'
    # Junk inside the node's own table: nothing to take apart, the checks speak to it.
    broken = whole.replace(b'"requests>=2.31"]', b'"requests>=2.31"')
    assert answer.extract_node(broken, path="pyproject.toml", language="toml", tree=t, base=base, node=own,
                               kind="table", key="project", parent=t, owner=own.id).text == broken


def test_a_def_line_whose_paren_the_return_annotation_cut_short_is_mended() -> None:
    """The 1.5B, adding type hints to truncate, wrote both forms through every retry."""
    from astm.lang.python.answers import mend

    want = b'def truncate(text: str, width: int, suffix: str = "...") -> str:\n    return text\n'
    assert mend(b'def truncate(text: str, width: int, suffix: str = "..." -> str:\n    return text\n') == want
    assert mend(b'def truncate(text: str, width: int, suffix: str = "..." -> str):\n    return text\n') == want
    method = b"class A:\n    async def f(self, d: dict[str, int] = {} -> dict[str, int]:\n        return d\n"
    assert mend(method) == b"class A:\n    async def f(self, d: dict[str, int] = {}) -> dict[str, int]:\n        return d\n"
    assert mend(b"def f(x) -> int:\n    return (\n") is None  # another error: not this slip
    assert mend(b"def f(g(x -> int:\n    pass\n") is None  # two parens astray: not guessed
    assert mend(want) is None
