"""Skeleton and curated views over the standard library's modules of more than 500 lines.

    python bench/views.py [STDLIB_DIR]

Prints: how many files; the skeleton's share of the original token count over all of
them (target: at most 15%), with the spread per file; whether every skeleton and curated
view parses; whether the curated view keeps every docstring and every marked body (the
files carry no markers, so each function gets ``@core_logic`` or ``# [HOT]`` in turns,
every third function, before the views are made). Tokens: ``astm.views.count_tokens``.
Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import ast
import statistics
import sys
import sysconfig
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))  # run as a script from anywhere

from astm.views import count_tokens, curated, skeleton
from astm.views.faithful import docstrings, keeps_body, mark

MIN_LINES = 500
TARGET = 0.15


def stdlib_modules(root: Path) -> list[Path]:
    """Every ``.py`` file of the standard library (not site-packages) of > 500 lines."""
    return sorted(
        p
        for p in root.rglob("*.py")
        if "site-packages" not in p.relative_to(root).parts
        and p.read_bytes().count(b"\n") > MIN_LINES
    )


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(sysconfig.get_paths()["stdlib"])
    files = stdlib_modules(root)
    tests = {p for p in files if {"test", "tests", "idle_test"} & set(p.relative_to(root).parts)}
    orig = skel = orig_lib = skel_lib = 0
    ratios: list[float] = []
    not_compiling: list[str] = []
    doc_total = doc_kept = body_total = body_kept = 0
    t0 = time.perf_counter()
    for p in files:
        name = p.relative_to(root).as_posix()
        data = p.read_bytes()
        text = data.decode("utf-8", "replace")
        view = skeleton(name, data)
        a, b = count_tokens(text), count_tokens(view.text)
        orig, skel = orig + a, skel + b
        if p not in tests:
            orig_lib, skel_lib = orig_lib + a, skel_lib + b
        ratios.append(b / a if a else 0.0)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            tree = None  # lib2to3's Python 2 test data: not valid Python 3
        marked, bodies = mark(text, tree=tree) if tree else (text, [])
        cur = curated(name, marked.encode("utf-8"))
        for v in (view, cur):
            # A view checks that it parses and otherwise says so instead of showing code.
            if tree and any(n.startswith("no valid view") for n in v.notes):
                not_compiling.append(f"{v.kind} {name}")
        if tree:
            want = docstrings(tree)  # marking adds no docstring
            cur_text = cur.text
            got = docstrings(cur_text)
            doc_total += sum(want.values())
            doc_kept += sum((want & got).values())
            body_total += len(bodies)
            body_kept += sum(keeps_body(cur_text, body) for body in bodies)
    seconds = time.perf_counter() - t0
    ratio, ratio_lib = skel / orig, skel_lib / orig_lib
    q = statistics.quantiles(ratios, n=10)
    print(f"stdlib modules > {MIN_LINES} lines: {len(files)} files "
          f"({len(files) - len(tests)} outside test suites), {orig} tokens")
    print(f"skeleton / original tokens: {ratio:.1%} over all files (target <= {TARGET:.0%}); "
          f"{ratio_lib:.1%} outside test suites")
    print(f"  per file: median {statistics.median(ratios):.1%}, p90 {q[-1]:.1%}, "
          f"max {max(ratios):.1%}; files above {TARGET:.0%}: {sum(r > TARGET for r in ratios)}")
    print(f"views that do not parse (of valid files): {len(not_compiling)}" +
          (f" ({', '.join(not_compiling[:5])})" if not_compiling else ""))
    print(f"curated keeps docstrings: {doc_kept}/{doc_total}; marked bodies: "
          f"{body_kept}/{body_total}")
    print(f"time: {seconds:.1f} s (both views, token counts, checks)")
    ok = ratio <= TARGET and not not_compiling and doc_kept == doc_total
    return 0 if ok and body_kept == body_total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
