"""The pure core: patches, composition, answers, plans, node ids and ranges, settings."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from astm import config
from astm.agents.answer import normalise
from astm.core import plan
from astm.core.lines import eol_of
from astm.core.patch import Patch, compose
from astm.errors import CompositionError, PlanError, TargetError, UsageError
from astm.lang.toml import syntax as toml
from astm.lang.toml.checks import check_node

# ---- patches -------------------------------------------------------------------------


def test_compose_is_order_independent_and_keeps_insert_order() -> None:
    base = b"0123456789"
    patches = [
        Patch("f", 2, 4, b"AB", "n1"),
        Patch("f", 6, 6, b"<x>", "n2", seq=0),
        Patch("f", 6, 6, b"<y>", "n3", seq=1),
        Patch("f", 6, 8, b"", "n4"),
        Patch("f", 10, 10, b"!", "n5"),
    ]
    results = {compose(base, perm) for perm in itertools.permutations(patches)}
    assert results == {b"01AB45<x><y>89!"}


def test_a_spaced_insert_gets_exactly_its_blank_lines_whatever_its_text_or_the_base_has() -> None:
    base = b"A = 1\n\n\ndef f():\n    pass\n"
    # Fewer than the base had above, more than the text brought below.
    one = Patch("a.py", 7, 7, b"\n\nB = 2\n\n\n\n", "a.py::B", spacing=(1, 1))
    assert compose(base, [one]) == b"A = 1\n\nB = 2\n\ndef f():\n    pass\n"
    # Two inserts at one point: the second's blank lines above are the gap between them.
    b = Patch("a.py", 6, 6, b"B = 2\n", "a.py::B", seq=1, spacing=(0, 0))
    c = Patch("a.py", 6, 6, b"C = 3\n", "a.py::C", seq=2, spacing=(1, 3))
    assert compose(base, [c, b]) == b"A = 1\nB = 2\n\nC = 3\n\n\n\ndef f():\n    pass\n"
    # None keeps that side as the text stands; an unspaced patch composes as before.
    d = Patch("a.py", 7, 7, b"D = 4\n\n", "a.py::D", spacing=(None, 0))
    assert compose(base, [d]) == b"A = 1\n\nD = 4\ndef f():\n    pass\n"


def test_spacing_never_touches_blank_lines_outside_the_bounds() -> None:
    base = b"X = 0\n\n\nclass A:\n    x = 1\n\n\nY = 2\n"
    start, end = base.index(b"class"), base.index(b"\n\n\nY") + 1
    p = Patch("a.py", end, end, b"    y = 2\n", "a.py::A.y", spacing=(2, 5))
    out = compose(base, [p], bounds=(start, end))
    assert out == b"X = 0\n\n\nclass A:\n    x = 1\n\n\n    y = 2\n\n\nY = 2\n"


def test_a_derived_insert_records_the_authors_blank_lines() -> None:
    from astm.core.derive import derive
    from astm.lang import language_for

    old = b"import os\n\nX = 1\n\n\ndef f():\n    return os\n"
    new = b"import os\n\nX = 1\n\nY = 2\n\n\ndef f():\n    return os\n"
    (edit,) = derive("a.py", old, new, language_for("a.py").parse)
    assert isinstance(edit, plan.Insert)
    assert (edit.after, edit.blank_above, edit.blank_below) == ("a.py::X", 1, 2)
    with pytest.raises(ValueError):
        plan.Insert(op="insert", parent="a.py", position="end", text="Z = 1\n", blank_above=10**6)


@pytest.mark.parametrize(
    ("a", "b"),
    [((2, 5), (4, 6)), ((2, 5), (3, 3)), ((2, 5), (2, 5)), ((0, 10), (5, 6))],
)
def test_overlapping_patches_are_refused_naming_both(a: tuple[int, int], b: tuple[int, int]) -> None:
    with pytest.raises(CompositionError) as err:
        compose(b"0123456789", [Patch("f", *a, b"x", "first"), Patch("f", *b, b"y", "second")])
    assert "first" in str(err.value) and "second" in str(err.value)


def test_patch_outside_owner_range_is_refused() -> None:
    with pytest.raises(CompositionError, match="outside its range"):
        compose(b"0123456789", [Patch("f", 1, 3, b"x", "n")], bounds=(2, 8))
    with pytest.raises(CompositionError):
        compose(b"0123", [Patch("f", 2, 9, b"x", "n")])


# ---- answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("[a]\nx = 1", b"[a]\nx = 1\n"),
        ("\n\n[a]\nx = 1   \n\n\n", b"[a]\nx = 1\n"),
        ("Here you go:\n```toml\n[a]\nx = 1\n```\nHope it helps!", b"[a]\nx = 1\n"),
        ("~~~\n[a]\n~~~", b"[a]\n"),
        ("[a]\r\nx = 1\r\n", b"[a]\nx = 1\n"),
    ],
)
def test_normalise_answers(answer: str, expected: bytes) -> None:
    assert normalise(answer, eol=b"\n", max_bytes=10_000) == (expected, None)


def test_normalise_converts_to_the_files_line_endings() -> None:
    assert normalise("[a]\nx = 1\n", eol=b"\r\n", max_bytes=100)[0] == b"[a]\r\nx = 1\r\n"
    assert eol_of(b"a\r\nb\r\nc\n") == b"\r\n" and eol_of(b"a\nb\n") == b"\n"


@pytest.mark.parametrize(
    ("answer", "message"),
    [("", "empty"), (" \n\t\n", "empty"), ("a\x00b", "NUL"), ("x" * 200, "longer than"), ("```\n```", "empty")],
)
def test_bad_answers_get_one_clear_diagnostic(answer: str, message: str) -> None:
    data, diag = normalise(answer, eol=b"\n", max_bytes=100)
    assert data == b"" and diag is not None and message in diag.message


# ---- validation hints ----------------------------------------------------------------


def test_hint_is_short_and_relative_to_the_node() -> None:
    base = b"[a]\nx = 1\n\n[b]\ny = 2\n"
    new = b"[b]\ny = 2\ny = 3\n"
    patched = base[:11] + new
    diag = check_node(patched, 11, new, kind="table", key="b")
    assert diag is not None and diag.line == 3
    hint = diag.hint()
    assert len(hint.split()) <= 41 and "\n" not in hint and "Traceback" not in hint
    assert "y = 3" in hint


def test_keys_before_the_header_are_refused() -> None:
    diag = check_node(b"x = 1\n[a]\n", 0, b"x = 1\n[a]\n", kind="table", key="a")
    assert diag is not None and "header" in diag.message


def test_array_table_must_stay_an_array_table() -> None:
    diag = check_node(b"[t]\n", 0, b"[t]\n", kind="array_table", key="t")
    assert diag is not None and "[[t]]" in diag.message


# ---- plans ---------------------------------------------------------------------------


def test_plan_roundtrip(tmp_path: Path) -> None:
    p = plan.parse(json.dumps({"version": 1, "intent": "i", "edits": [
        {"op": "replace", "node": "a::b", "text": "t"},
        {"op": "insert", "parent": "a", "position": "end", "text": "u"},
        {"op": "delete", "node": "a::c"},
    ]}))
    plan.save(p, tmp_path / "p.json")
    assert plan.load(tmp_path / "p.json") == p


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "not JSON"),
        ('{"version": 2, "edits": []}', "unsupported plan version 2"),
        ('{"version": 1, "edits": [{"op": "insert", "parent": "a", "text": "t"}]}', "exactly one of"),
        ('{"version": 1, "edits": [{"op": "insert", "parent": "a", "text": "t", "after": "x", "position": "end"}]}', "exactly one of"),
        ('{"version": 1, "edits": [{"op": "rename", "node": "a"}]}', "edits.0"),
        ('{"version": 1, "edits": [{"op": "replace", "node": "a"}]}', "text"),
    ],
)
def test_bad_plans_get_one_line(raw: str, message: str) -> None:
    with pytest.raises(PlanError) as err:
        plan.parse(raw, "p.json")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read plan"):
        plan.load(tmp_path / "nope.json")


# ---- TOML node ids and ranges --------------------------------------------------------

SAMPLE = """\
# licence header

# about the name
name = "x"

# project
[project]
version = "1"

# trailing comment inside project

[ tool . "pytest" . 'ini_options' ]
addopts = "-q"
[[tool.mypy.overrides]]
module = "a"
[[tool.mypy.overrides]]
module = "b"
"""


def test_toml_ids_and_whole_line_ranges() -> None:
    data = SAMPLE.encode()
    tree = toml.parse("pyproject.toml", data)
    got = {c.id: data[c.start : c.end].decode() for c in tree.children}
    assert got == {
        "pyproject.toml::(comment before (preamble))": "# licence header\n",
        "pyproject.toml::(preamble)": '# about the name\nname = "x"\n',
        "pyproject.toml::project": '# project\n[project]\nversion = "1"\n\n# trailing comment inside project\n',
        "pyproject.toml::tool.pytest.ini_options": "[ tool . \"pytest\" . 'ini_options' ]\naddopts = \"-q\"\n",
        "pyproject.toml::tool.mypy.overrides[0]": '[[tool.mypy.overrides]]\nmodule = "a"\n',
        "pyproject.toml::tool.mypy.overrides[1]": '[[tool.mypy.overrides]]\nmodule = "b"\n',
    }
    # only blank lines between nodes belong to the file; the detached header is a node
    covered = sum(c.end - c.start for c in tree.children)
    assert data.count(b"\n\n") >= 3 and covered < len(data)


def test_toml_byte_offsets_are_utf8() -> None:
    data = '["é"]\nv = "日本"\n\n[z]\n'.encode()
    tree = toml.parse("f.toml", data)
    z = tree.child("f.toml::z")
    assert z is not None and data[z.start : z.end] == b"[z]\n"
    assert tree.children[0].id == 'f.toml::"é"'


def test_toml_crlf_and_bom_ranges() -> None:
    data = b"\xef\xbb\xbf[a]\r\nx = 1\r\n\r\n[b]\r\n"
    a, b = toml.parse("f.toml", data).children
    assert data[a.start : a.end] == b"[a]\r\nx = 1\r\n"
    assert data[b.start : b.end] == b"[b]\r\n"


def test_invalid_and_non_utf8_toml_are_refused_with_line() -> None:
    with pytest.raises(TargetError) as err:
        toml.parse("f.toml", b"[a]\nx = 1\nx = 2\n")
    assert err.value.line == 3 and "f.toml (line 3)" in str(err.value)
    with pytest.raises(TargetError, match="not UTF-8"):
        toml.parse("f.toml", b"[a]\nx = '\xff'\n")


# ---- settings ------------------------------------------------------------------------


def test_settings_priority_pyproject_env_flags(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.astm]\nmodel = "from-file"\njobs = 3\nretries = 1\n')
    env = {"ASTM_MODEL": "from-env", "OPENAI_BASE_URL": "http://o/v1", "ASTM_BASE_URL": "http://a/v1"}
    s = config.load(tmp_path, {"jobs": 5}, env)
    assert (s.model, s.jobs, s.retries, s.base_url) == ("from-env", 5, 1, "http://a/v1")


def test_bad_setting_names_its_source(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.astm]\njobs = 0\n")
    with pytest.raises(UsageError, match="jobs.*pyproject.toml"):
        config.load(tmp_path, {}, {})
    (tmp_path / "pyproject.toml").write_text("[tool.astm]\nmodle = 'x'\n")
    with pytest.raises(UsageError, match="modle"):
        config.load(tmp_path, {}, {})


def test_masking_never_shows_the_secret() -> None:
    s = config.Settings(api_key_env="MY_KEY")
    shown = config.describe(s, {"MY_KEY": "sk-very-secret-value"})
    assert "secret" not in json.dumps(shown) and "sk-" not in shown["api_key"]
