"""How close ``astm apply`` runs to its critical path when every model call takes L seconds.

    python bench/apply.py [--latency 0.5] [--reps 3] [--jobs 8] [--profile]

For N = 2 and N = 8 it builds a small repository (real git, pinned identity) whose
pyproject.toml holds tables ``[t0]`` .. ``[tN-1]``, and a plan that replaces every one.
Each repetition times one whole ``astm.engine.apply()`` call, as the user waits for it
(open, parse, routing, sandboxes, validation, composition, landing, cleanup), with
``PlanProvider(plan, latency=L)`` and ``Settings(jobs=8)``, on a fresh branch name.

With one candidate file the repository node does not route, so the critical path is the
file's routing call plus the leaves' generation calls, run side by side: 2 L. The script
prints, per N, the median wall time, the critical path and their ratio (target <= 1.15),
the same run at L = 0 (pure overhead) and where that overhead goes, read from the run's
events. ``--profile`` adds a cProfile of the L = 0 runs. It prints figures only.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))  # run as a script from anywhere

from astm.config import Settings
from astm.engine import ApplyOptions, apply
from astm.llm.plan_provider import PlanProvider
from astm.plan import Plan, Replace
from astm.result import Event

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}
SIZES = (2, 8)
FILE = "pyproject.toml"


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV},
        capture_output=True, text=True, check=True,
    )
    return proc.stdout.strip()


def table(i: int, value: int) -> str:
    return f'[t{i}]\nname = "t{i}"\nvalue = {value}\n'


def build_repo(root: Path, n: int) -> Path:
    repo = root / f"repo{n}"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / FILE).write_text("\n".join(table(i, 1) for i in range(n)))
    (repo / "README.md").write_text("bench\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench fixture")
    return repo


def bump_plan(n: int) -> Plan:
    edits = [Replace(op="replace", node=f"{FILE}::t{i}", text=table(i, 2)) for i in range(n)]
    return Plan(intent="bump every value", edits=edits)  # type: ignore[arg-type]


class Timeline:
    """Event sink: when each (node, state) was first and last seen, relative to ``t0``."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def __call__(self, ev: Event) -> None:
        t = time.perf_counter() - self.t0
        leaf = "::" in ev.node
        key = f"{'leaf' if leaf else ev.node}:{ev.state}"
        self.first.setdefault(key, t)
        self.last[key] = t


def one_run(repo: Path, n: int, latency: float, jobs: int, branch: str) -> tuple[float, Timeline]:
    plan = bump_plan(n)
    opts = ApplyOptions(intent=plan.intent, cwd=repo, plan=plan, branch=branch)
    events = Timeline()
    t = time.perf_counter()
    events.t0 = t
    result = apply(opts, Settings(jobs=jobs), PlanProvider(plan, latency=latency), events)
    wall = time.perf_counter() - t
    changed = sum(1 for r in result.nodes if r.status == "changed")
    if result.branch != branch or changed != n:
        raise SystemExit(f"unexpected result: branch {result.branch}, {changed} of {n} changed")
    return wall, events


# Phases of one run, as spans between events (the first/last time a state was seen).
PHASES = (
    ("open, parse, record", None, ("first", f"{FILE}:routing")),
    ("routing call", ("first", f"{FILE}:routing"), ("first", "leaf:generating")),
    ("leaves: generate, validate, commit", ("first", "leaf:generating"), ("last", "leaf:committed")),
    ("file: compose, commit", ("last", "leaf:committed"), ("first", f"{FILE}:committed")),
    ("root sandbox, land", ("first", f"{FILE}:committed"), ("first", ".:landed")),
    ("cleanup (after landed)", ("first", ".:landed"), "end"),
)


def phases(tl: Timeline, wall: float) -> dict[str, float | None]:
    def at(mark: object) -> float | None:
        if mark is None:
            return 0.0
        if mark == "end":
            return wall
        which, key = mark  # type: ignore[misc]
        return (tl.first if which == "first" else tl.last).get(key)

    out: dict[str, float | None] = {}
    for name, start, end in PHASES:
        a, b = at(start), at(end)
        out[name] = None if a is None or b is None else b - a
    return out


def median_phases(runs: list[tuple[float, Timeline]]) -> dict[str, float | None]:
    per = [phases(tl, wall) for wall, tl in runs]
    out: dict[str, float | None] = {}
    for name, _, _ in PHASES:
        vals = [p[name] for p in per if p[name] is not None]
        out[name] = statistics.median(vals) if vals else None  # type: ignore[type-var]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.5, help="seconds per model call (L)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--profile", action="store_true", help="cProfile the L = 0 runs")
    args = ap.parse_args(argv)
    os.environ.update(GIT_ENV)  # astm's own git calls inherit the pinned identity too
    lat = args.latency
    crit = 2 * lat

    tmp = Path(tempfile.mkdtemp(prefix="astm-bench-apply-")).resolve()
    saved_tempdir = tempfile.tempdir
    tempfile.tempdir = str(tmp)  # astm's sandboxes go under gettempdir(): keep them in here
    ratios: dict[int, float] = {}
    profiler = cProfile.Profile() if args.profile else None
    try:
        print(f"cpus: {os.cpu_count()}  latency L = {lat:.2f} s  jobs = {args.jobs}  "
              f"median of {args.reps} runs")
        counter = 0
        for n in SIZES:
            repo = build_repo(tmp, n)
            one_run(repo, n, 0.0, args.jobs, f"bench/warmup-{n}")  # imports, parsers, caches
            timed, overhead = [], []
            for _ in range(args.reps):
                counter += 1
                timed.append(one_run(repo, n, lat, args.jobs, f"bench/lat-{counter}"))
                counter += 1
                if profiler is not None:
                    profiler.enable()
                overhead.append(one_run(repo, n, 0.0, args.jobs, f"bench/zero-{counter}"))
                if profiler is not None:
                    profiler.disable()
            wall = statistics.median(w for w, _ in timed)
            zero = statistics.median(w for w, _ in overhead)
            ratios[n] = wall / crit if crit else float("nan")
            walls = sorted(w for w, _ in timed)
            print(f"{n} acting tables: wall {wall:.2f} s, critical path {crit:.2f} s, "
                  f"ratio {ratios[n]:.2f} (runs {walls[0]:.2f}-{walls[-1]:.2f} s)")
            print(f"  with L = 0 (pure overhead): {zero:.3f} s; wall - critical path: "
                  f"{wall - crit:.3f} s")
            at_l = median_phases(timed)
            at_0 = median_phases(overhead)
            print(f"  {'phase (median)':<38}{f'L = {lat:.2f}':>10}{'L = 0':>10}")
            for name, _, _ in PHASES:
                a, b = at_l[name], at_0[name]
                sa = "-" if a is None else f"{a:.3f}"
                sb = "-" if b is None else f"{b:.3f}"
                print(f"  {name:<38}{sa:>10}{sb:>10}")
        if profiler is not None:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative")
            stats.print_stats(30)
            print("cProfile of the L = 0 runs (cumulative, main thread only):")
            print(out.getvalue().rstrip())
        worst = max(ratios, key=lambda k: ratios[k])
        print(f"ratio wall/critical-path: {ratios[worst]:.2f} at {worst} tables, "
              f"{ratios[min(SIZES)]:.2f} at {min(SIZES)} (target <= 1.15)")
    finally:
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
