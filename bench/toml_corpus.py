"""astm's TOML syntax and validation against the public toml-test suite (TOML 1.0 cases).

    python bench/toml_corpus.py [TOML_TEST_DIR]

Prints one line of counts; details of any wrong verdict or crash go to stderr. The suite
is read where it is (default ``<project>/../shared/data/toml-test``), never copied.
Exit status: 0 when every verdict is right and nothing crashed, 1 otherwise, 2 without
the suite.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = PROJECT.parent / "shared" / "data" / "toml-test"
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))  # run as a script from anywhere

ts = importlib.import_module("astm.lang.toml.syntax")
check_file = importlib.import_module("astm.lang.toml.checks").check_file
error_count = importlib.import_module("astm.core.lines").error_count


def _crash(case: str, data: bytes) -> str | None:
    """The traceback of the first node-building call that raises on ``data``, or None."""
    try:
        ts.build(case, data)
        ts.outline(data)
        ts.table_headers(data)
        if case.startswith("valid/") and ts.toml_error(data, case) is None:
            ts.parse(case, data)
    except Exception:  # noqa: BLE001 - any exception is what we count
        return traceback.format_exc(limit=3)
    return None


def main(argv: list[str]) -> int:
    corpus = Path(argv[0]) if argv else DEFAULT_CORPUS
    listing = corpus / "tests" / "files-toml-1.0.0"
    if not listing.is_file():
        print(f"toml-test suite not found: {listing}", file=sys.stderr)
        return 2
    cases = [
        line.strip()
        for line in listing.read_text(encoding="utf-8").splitlines()
        if line.strip().endswith(".toml")
    ]
    valid_ok = valid_n = invalid_ok = invalid_n = 0
    ts_invalid_accepted = ts_valid_rejected = crashes = 0
    for case in cases:
        data = (corpus / "tests" / case).read_bytes()
        is_valid = case.startswith("valid/")
        accepted = check_file(data, case) is None
        ts_accepted = error_count(ts.parse_tree(data)) == 0
        if is_valid:
            valid_n += 1
            valid_ok += accepted
            ts_valid_rejected += not ts_accepted
        else:
            invalid_n += 1
            invalid_ok += not accepted
            ts_invalid_accepted += ts_accepted
        if accepted != is_valid:
            print(f"wrong verdict: {case}", file=sys.stderr)
        crash = _crash(case, data)
        if crash:
            crashes += 1
            print(f"crash: {case}\n{crash}", file=sys.stderr)
    print(
        f"toml-test 1.0: valid accepted {valid_ok}/{valid_n}, "
        f"invalid rejected {invalid_ok}/{invalid_n}; "
        f"tree-sitter alone: invalid accepted {ts_invalid_accepted}, "
        f"valid rejected {ts_valid_rejected}; node parse crashes: {crashes}"
    )
    right = valid_ok == valid_n and invalid_ok == invalid_n
    return 0 if right and not crashes else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
