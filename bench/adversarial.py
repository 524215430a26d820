"""The adversarial suite as a report: one line per area, scenarios tried, held and failed.

    python bench/adversarial.py [--jobs 2] [-k EXPR]

Runs ``pytest tests/adversarial tests/test_interrupt.py`` (issues 6 and 11; the SIGINT
cases of the crash area live in test_interrupt.py) with a JUnit XML report in a temp dir, then
counts its test cases by area:

    crashes: tried 10, held 10, failed 0
    model output: tried 30, held 30, failed 0
    ...
    gc: tried 6, held 6, failed 0
    ...

*held* counts the cases that passed; *known* (shown when not zero) counts the cases
marked xfail for a reported bug; *skipped* those that could not run here (the TOML corpus
without its data). The last line sums them up. The exit code is pytest's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
AREAS = {  # test module -> area: issue 6's, then issue 11's (modules not named: "other")
    "test_crashes": "crashes",
    "test_interrupt": "crashes",
    "test_model_output": "model output",
    "test_odd_repos": "odd repositories",
    "test_concurrency": "concurrency",
    "test_drift": "drift",
    "test_secrets": "secrets",
    "test_paths": "paths",
    "test_output_paths": "paths",
    "test_toml_corpus": "toml corpus",
    "test_gc": "gc",
    "test_hooks": "hooks",
    "test_terminal": "terminal",
    "test_branches": "branches",
    "test_interrupts": "interrupts",
    "test_reporting": "reporting",
    "test_fanout": "fan-out",
    "test_contradictions": "contradictions",
}


def outcome(case: ET.Element) -> str:
    for child in case:
        if child.tag in ("failure", "error"):
            return "failed"
        if child.tag == "skipped":
            return "known" if child.get("type") == "pytest.xfail" else "skipped"
    return "held"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", "-n", default="2", help="pytest-xdist workers (0: none)")
    ap.add_argument("-k", dest="select", help="pytest -k expression")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="astm-adversarial-") as tmp:
        report = Path(tmp) / "junit.xml"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "tests/adversarial",
            "tests/test_interrupt.py",
            "-q",
            "-p",
            "no:benchmark",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "-o",
            "junit_family=xunit2",
        ]
        if args.jobs != "0":
            cmd += ["-n", args.jobs]
        if args.select:
            cmd += ["-k", args.select]
        proc = subprocess.run(
            cmd, cwd=PROJECT, capture_output=True, text=True, env=os.environ.copy(), check=False
        )
        if not report.is_file():
            print(proc.stdout[-3000:] + proc.stderr[-3000:])
            print("no report: pytest did not run")
            return proc.returncode or 1
        root = ET.parse(report).getroot()

    counts: dict[str, Counter[str]] = {area: Counter() for area in dict.fromkeys(AREAS.values())}
    failures: list[str] = []
    for case in root.iter("testcase"):
        module = (case.get("classname") or "").rsplit(".", 1)[-1]
        area = AREAS.get(module, "other")
        result = outcome(case)
        counts.setdefault(area, Counter())[result] += 1
        if result == "failed":
            failures.append(f"{module}::{case.get('name')}")

    total: Counter[str] = Counter()
    for area, c in counts.items():
        if not sum(c.values()):
            continue
        total += c
        print(line(area, c))
    for name in failures:
        print(f"  failed: {name}")
    print(line("all areas", total))
    return proc.returncode


def line(area: str, c: Counter[str]) -> str:
    tried = sum(c.values()) - c["skipped"]
    text = f"{area}: tried {tried}, held {c['held']}, failed {c['failed']}"
    if c["known"]:
        text += f", known {c['known']}"
    if c["skipped"]:
        text += f", skipped {c['skipped']}"
    return text


if __name__ == "__main__":
    sys.exit(main())
