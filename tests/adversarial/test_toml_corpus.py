"""The public toml-test suite (TOML 1.0 cases) against astm's TOML syntax and validation.

``tomllib`` is the authority: every ``valid/`` case must be accepted and every ``invalid/``
case rejected by ``check_file``, although tree-sitter-toml alone gets some of them wrong.
Building nodes must never raise, on any case; valid cases must give well-formed nodes.

The suite lives outside the project (``<project>/../shared/data/toml-test``, read-only) and
is never copied in; without it this module is skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from astm.core.lines import error_count
from astm.core.node import text_hash
from astm.errors import TargetError
from astm.lang.toml import syntax as ts
from astm.lang.toml.checks import check_file, check_node
from astm.validate.diagnostic import Diagnostic

PROJECT = Path(__file__).resolve().parents[2]
CORPUS = PROJECT.parent / "shared" / "data" / "toml-test"
TESTS = CORPUS / "tests"
LISTING = TESTS / "files-toml-1.0.0"

if not LISTING.is_file():
    pytest.skip(
        f"toml-test suite not found at {CORPUS} (expected <project>/../shared/data/toml-test)",
        allow_module_level=True,
    )

CASES = sorted(
    line.strip()
    for line in LISTING.read_text(encoding="utf-8").splitlines()
    if line.strip().endswith(".toml")
)
VALID = [c for c in CASES if c.startswith("valid/")]
INVALID = [c for c in CASES if c.startswith("invalid/")]
_DATA: dict[str, bytes] = {}


def data_of(case: str) -> bytes:
    if case not in _DATA:
        _DATA[case] = (TESTS / case).read_bytes()
    return _DATA[case]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _accepted_by_tree_sitter(data: bytes) -> bool:
    return error_count(ts.parse_tree(data)) == 0


def _has_nodes(case: str) -> bool:
    try:
        return bool(ts.parse(case, data_of(case)).children)
    except TargetError:
        return True  # keep it: the test then reports the rejection by name


NOT_UTF8 = [c for c in INVALID if not _is_utf8(data_of(c))]
# Valid cases whose node tree has at least one node (the identity-edit property).
WITH_NODES = [c for c in VALID if _has_nodes(c)]


def test_listing_has_both_sides() -> None:
    assert VALID and INVALID
    assert len(VALID) + len(INVALID) == len(CASES)


@pytest.mark.parametrize("case", CASES)
def test_check_file_verdict(case: str) -> None:
    data = data_of(case)
    diag = check_file(data, case)
    if case.startswith("valid/"):
        assert diag is None, f"valid case rejected: {diag}"
    else:
        assert isinstance(diag, Diagnostic), "invalid case accepted"
        assert diag.message


@pytest.mark.parametrize("case", CASES)
def test_node_building_never_raises(case: str) -> None:
    data = data_of(case)
    root = ts.build(case, data)
    assert root.kind == "file" and root.end == len(data)
    assert isinstance(ts.outline(data), str)
    assert isinstance(ts.table_headers(data), list)


@pytest.mark.parametrize("case", VALID)
def test_valid_node_tree_is_well_formed(case: str) -> None:
    data = data_of(case)
    root = ts.parse(case, data)
    ids = [c.id for c in root.children]
    assert len(ids) == len(set(ids)), f"duplicate ids: {ids}"
    body = len(ts.BOM) if data.startswith(ts.BOM) else 0
    prev_end = body
    for i, child in enumerate(root.children):
        assert child.id.startswith(case + "::"), child.id
        assert child.kind in ("comment", "preamble", "table", "array_table"), child.kind
        # A header comment (separated by a blank line) may come before the preamble.
        first = 1 if root.children[0].kind == "comment" else 0
        assert child.kind != "preamble" or i == first, "the preamble comes first"
        assert child.kind != "comment" or i == 0, "a comment node is the file's header"
        assert prev_end <= child.start < child.end <= len(data), (child.id, child.start, child.end)
        assert child.start == body or data[child.start - 1 : child.start] == b"\n", (
            f"{child.id} does not start at a line start ({child.start})"
        )
        assert child.end == len(data) or data[child.end - 1 : child.end] == b"\n", (
            f"{child.id} does not end after a newline ({child.end})"
        )
        assert data[child.start : child.end].strip(), f"{child.id} is blank"
        assert child.hash == text_hash(data[child.start : child.end])
        prev_end = child.end


@pytest.mark.parametrize("case", WITH_NODES)
def test_identity_edit_validates(case: str) -> None:
    data = data_of(case)
    for child in ts.parse(case, data).children:
        diag = check_node(
            patched=data,
            new_start=child.start,
            new_text=data[child.start : child.end],
            kind=child.kind,
            key=child.key,
        )
        assert diag is None, f"{child.id}: identity edit rejected: {diag}"


@pytest.mark.parametrize("case", NOT_UTF8)
def test_not_utf8_is_a_diagnostic(case: str) -> None:
    data = data_of(case)
    diag = check_file(data, case)
    assert isinstance(diag, Diagnostic)
    assert "UTF-8" in diag.message
    ts.build(case, data)
    ts.outline(data)


def test_validator_does_not_inherit_tree_sitter_mistakes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ts_accepts_invalid = [c for c in INVALID if _accepted_by_tree_sitter(data_of(c))]
    ts_rejects_valid = [c for c in VALID if not _accepted_by_tree_sitter(data_of(c))]
    with capsys.disabled():
        print(
            f"\ntree-sitter-toml alone: accepts {len(ts_accepts_invalid)}/{len(INVALID)} invalid,"
            f" rejects {len(ts_rejects_valid)}/{len(VALID)} valid"
        )
    wrong = [c for c in ts_accepts_invalid if check_file(data_of(c), c) is None]
    wrong += [c for c in ts_rejects_valid if check_file(data_of(c), c) is not None]
    assert not wrong, f"verdicts follow tree-sitter, not tomllib: {wrong}"
