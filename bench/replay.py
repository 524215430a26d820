"""Fidelity: replay real commits of a git history through ``astm apply --plan``.

For each of the last N eligible commits C (not a merge; modifies at least one file astm
edits; adds, deletes or renames none of them), derive the node plan from C's parent P to C
(``astm.derive``), run the real ``astm`` command with that plan onto P, and compare the
landed files with C's bytes::

    replay: E exact / T tried (X outside nodes, R refused, D differ)

X: the plan cannot say the change (it lies outside every node); R: astm refused the plan
(exit != 0); D: it landed but its bytes differ from the author's.

    python bench/replay.py [HISTORY] [--last 100] [--show] [--keep]

HISTORY is a git repository or bundle (default ../shared/data/history/pre-commit.bundle).
The project's tests are not run (``[tool.astm.validate] tests = "off"``, written into the
replay clone's working tree only); every other validator runs as a user's run would.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import GIT_ENV, git

from astm.core import plan as planfile
from astm.core.derive import Outside, derive
from astm.lang import language_for, language_of

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "history" / "pre-commit.bundle"
ASTM_CONFIG = '\n[tool.astm.validate]\ntests = "off"\n'


@dataclass
class Case:
    sha: str
    subject: str
    files: list[str]
    verdict: str = ""
    detail: str = ""
    seconds: float = 0.0
    edits: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def eligible(repo: Path, last: int) -> list[Case]:
    out: list[Case] = []
    shas = git(repo, "rev-list", "--no-merges", "--max-count", str(last * 4), "HEAD").split()
    for sha in shas:
        if len(out) >= last:
            break
        rows = git(repo, "diff-tree", "--no-commit-id", "-r", "-M", "--name-status", f"{sha}^", sha)
        files, ok = [], True
        for row in rows.splitlines():
            status, *paths = row.split("\t")
            if not any(language_of(p) for p in paths):
                continue
            if status != "M":
                ok = False
                break
            files.append(paths[0])
        if ok and files:
            out.append(Case(sha, git(repo, "log", "-1", "--format=%s", sha), files))
    return out


def blob(repo: Path, rev: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=repo, capture_output=True, check=True
    ).stdout


def plan_for(repo: Path, case: Case) -> planfile.Plan:
    edits = []
    for path in case.files:
        lang = language_for(path)
        edits += derive(path, blob(repo, f"{case.sha}^", path), blob(repo, case.sha, path), lang.parse)
    return planfile.Plan(intent=case.subject, edits=edits)


def replay(repo: Path, case: Case, astm: str, workdir: Path) -> None:
    try:
        plan = plan_for(repo, case)
    except Outside as exc:
        case.verdict, case.detail = "outside", str(exc)
        return
    except Exception as exc:  # noqa: BLE001 - a file astm cannot parse at one side
        case.verdict, case.detail = "refused", f"derive: {type(exc).__name__}: {exc}"
        return
    case.edits = len(plan.edits)
    if not plan.edits:
        case.verdict, case.detail = "exact", "no node change (whitespace-equal)"
        return
    plan_path = workdir / f"{case.sha}.json"
    planfile.save(plan, plan_path)
    branch = f"replay/{case.sha[:12]}"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [astm, "apply", "--plan", str(plan_path), "--base", f"{case.sha}^", "--branch", branch,
         "--json", "--", case.subject or "replay", *case.files],
        cwd=repo, capture_output=True, text=True, env={**os.environ, **GIT_ENV}, check=False,
    )
    case.seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("astm:")]
        case.verdict, case.detail = "refused", (lines[-1] if lines else proc.stderr.strip()[-300:])
        return
    wrong = [p for p in case.files if blob(repo, branch, p) != blob(repo, case.sha, p)]
    if wrong:
        case.verdict, case.detail = "differ", ", ".join(wrong)
        for p in wrong:  # what the author wrote (-) against what astm landed (+)
            case.extra[p] = "".join(difflib.unified_diff(
                blob(repo, case.sha, p).decode(errors="replace").splitlines(keepends=True),
                blob(repo, branch, p).decode(errors="replace").splitlines(keepends=True),
                "author", "astm", n=2,
            ))[:3000]
    else:
        case.verdict = "exact"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("history", nargs="?", default=str(DEFAULT))
    ap.add_argument("--last", type=int, default=100)
    ap.add_argument("--show", action="store_true", help="print every case that is not exact")
    ap.add_argument("--keep", action="store_true", help="keep the replay clone")
    ap.add_argument("--json", dest="json_out", help="write every case to this file")
    ap.add_argument("--only", help="comma-separated commit prefixes: replay just these")
    ap.add_argument("--diff", action="store_true", help="with --show: print how each differing file differs")
    args = ap.parse_args()
    astm = shutil.which("astm", path=str(Path(sys.executable).parent)) or "astm"
    tmp = Path(tempfile.mkdtemp(prefix="astm-replay-"))
    repo = tmp / "repo"
    try:
        subprocess.run(["git", "clone", "-q", args.history, str(repo)], check=True, capture_output=True)
        git(repo, "checkout", "-q", "--detach")
        with (repo / "pyproject.toml").open("a", encoding="utf-8") as f:  # untracked or not: never committed
            f.write(ASTM_CONFIG)
        cases = eligible(repo, args.last)
        if args.only:
            cases = [c for c in cases if c.sha.startswith(tuple(args.only.split(",")))]
        t0 = time.perf_counter()
        for i, case in enumerate(cases, 1):
            replay(repo, case, astm, tmp)
            print(f"[{i}/{len(cases)}] {case.sha[:10]} {case.verdict:8} {case.detail[:150]}", file=sys.stderr)
        counts = Counter(c.verdict for c in cases)
        if args.show:
            for c in cases:
                if c.verdict != "exact":
                    print(f"{c.sha[:10]} {c.verdict}: {c.subject[:60]} | {c.detail[:300]}")
                    if args.diff:
                        for text in c.extra.values():
                            print(text)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps([c.__dict__ for c in cases], indent=1))
        print(
            f"replay: {counts['exact']} exact / {len(cases)} tried "
            f"({counts['outside']} outside nodes, {counts['refused']} refused, {counts['differ']} differ)"
            f" in {time.perf_counter() - t0:.0f} s"
        )
        return 0
    finally:
        if args.keep:
            print(f"kept {repo}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
