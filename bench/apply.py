"""How close ``astm apply`` runs to its critical path when every model call takes L seconds.

    python bench/apply.py [--latency 0.5] [--reps 3] [--jobs 8] [--only toml|python] [--profile]

Each scenario builds a small repository (real git, pinned identity) and a plan, and each
repetition times one whole ``astm.engine.apply()`` call, as the user waits for it (open,
parse, routing, sandboxes, validation, composition, landing, cleanup), with
``PlanProvider(plan, latency=L)`` and ``Settings(jobs=8)``, on a fresh branch name.

* TOML, N = 2 and N = 8: pyproject.toml holds tables ``[t0]`` .. ``[tN-1]`` and the plan
  replaces every one. With one candidate file the repository node does not route, so the
  critical path is the file's routing call plus the leaves' calls, side by side: 2 L.
* Python: ``shop.py`` holds a class ``Cart`` of 8 methods and the plan replaces every one.
  The file routes (to the class), the class routes (to its methods), the 8 methods
  generate side by side: 3 L. It names ``shop.py`` as PATHS, as a user would: otherwise
  pyproject.toml is a candidate too and the repository node routes first (one more L).
  Each method runs ruff in its own sandbox (a subprocess, after the file's ruff
  baseline), and the class and the file run ruff again on the composed file: that is
  part of the real cost and is counted.

The script prints, per scenario, the median wall time, the critical path and their ratio
(target <= 1.15), the same run at L = 0 (pure overhead) and where that overhead goes, read
from the run's events; for Python also how many ruff subprocesses ran and how long they
took. ``--profile`` adds a cProfile of the L = 0 runs. It prints figures only.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))  # run as a script from anywhere

from _common import GIT_ENV, git

from astm.config import Settings
from astm.core.plan import Plan, Replace
from astm.core.result import Event
from astm.engine.apply import ApplyOptions, apply
from astm.llm.plan_provider import PlanProvider
from astm.validate import ruff

SIZES = (2, 8)
FILE = "pyproject.toml"
PY_FILE = "shop.py"
PY_CLASS = f"{PY_FILE}::Cart"
PY_METHODS = 8




def commit_repo(repo: Path, files: dict[str, str]) -> Path:
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench fixture")
    return repo


# ---- TOML: N tables of pyproject.toml ------------------------------------------------


def table(i: int, value: int) -> str:
    return f'[t{i}]\nname = "t{i}"\nvalue = {value}\n'


def build_repo(root: Path, n: int) -> Path:
    return commit_repo(root / f"repo{n}", {
        FILE: "\n".join(table(i, 1) for i in range(n)), "README.md": "bench\n",
    })


def bump_plan(n: int) -> Plan:
    edits = [Replace(op="replace", node=f"{FILE}::t{i}", text=table(i, 2)) for i in range(n)]
    return Plan(intent="bump every value", edits=edits)  # type: ignore[arg-type]


def toml_label(node: str) -> str:
    return "leaf" if "::" in node else node


# ---- Python: one class of 8 methods ---------------------------------------------------


def method(i: int, rate: str) -> str:
    return (
        f"    def total_{i}(self, discount: float = 0.0) -> float:\n"
        f'        """The total of the items in band {i}, after the discount."""\n'
        f"        subtotal = sum(price for band, price in self.items if band == {i})\n"
        f"        return math.floor(subtotal * (1 - discount) * {rate}) / 100\n"
    )


def shop(rate: str) -> str:
    methods = "\n".join(method(i, rate) for i in range(PY_METHODS))
    return (
        '"""A small shop (bench fixture)."""\n\n'
        "from __future__ import annotations\n\n"
        "import math\n\n\n"
        "class Cart:\n"
        '    """Priced items, each in a band."""\n\n'
        "    items: list[tuple[int, float]]\n\n"
        f"{methods}"
    )


def build_py_repo(root: Path, n: int) -> Path:
    return commit_repo(root / f"pyrepo{n}", {
        PY_FILE: shop("100"),
        "pyproject.toml": (
            '[project]\nname = "shop"\nversion = "0"\n\n[tool.ruff]\nline-length = 100\n'
        ),
        "README.md": "bench\n",
    })


def py_plan(n: int) -> Plan:
    edits = [
        Replace(op="replace", node=f"{PY_CLASS}.total_{i}", text=method(i, "100.0"))
        for i in range(n)
    ]
    return Plan(intent="round every total with a float rate", edits=edits)  # type: ignore[arg-type]


def py_label(node: str) -> str:
    return "class" if node == PY_CLASS else toml_label(node)


# ---- scenarios --------------------------------------------------------------------------

# Phases of one run, as spans between events (the first/last time a state was seen).
Phases = tuple[tuple[str, Any, Any], ...]
PHASES: Phases = (
    ("open, parse, record", None, ("first", f"{FILE}:routing")),
    ("routing call", ("first", f"{FILE}:routing"), ("first", "leaf:generating")),
    ("leaves: generate, validate, commit", ("first", "leaf:generating"), ("last", "leaf:committed")),
    ("file: compose, commit", ("last", "leaf:committed"), ("first", f"{FILE}:committed")),
    ("root sandbox, land", ("first", f"{FILE}:committed"), ("first", ".:landed")),
    ("cleanup (after landed)", ("first", ".:landed"), "end"),
)
PY_PHASES: Phases = (
    ("open, parse, record", None, ("first", f"{PY_FILE}:routing")),
    ("file routing call", ("first", f"{PY_FILE}:routing"), ("first", "class:routing")),
    ("class routing call", ("first", "class:routing"), ("first", "leaf:generating")),
    ("leaves: model call", ("first", "leaf:generating"), ("first", "leaf:validating")),
    ("leaves: validate (ruff), commit", ("first", "leaf:validating"), ("last", "leaf:committed")),
    ("class: compose, ruff, commit", ("last", "leaf:committed"), ("first", "class:committed")),
    ("file: compose, ruff, commit", ("first", "class:committed"),
     ("first", f"{PY_FILE}:committed")),
    ("root sandbox, land", ("first", f"{PY_FILE}:committed"), ("first", ".:landed")),
    ("cleanup (after landed)", ("first", ".:landed"), "end"),
)


@dataclass(frozen=True)
class Scenario:
    title: str  # "{n} acting tables"
    kind: str  # toml | python
    sizes: tuple[int, ...]
    depth: int  # routing calls on the critical path
    build: Callable[[Path, int], Path]
    plan: Callable[[int], Plan]
    label: Callable[[str], str]
    phases: Phases
    paths: tuple[str, ...] = ()  # PATHS as the user names them


SCENARIOS = (
    Scenario("{n} acting tables", "toml", SIZES, 1, build_repo, bump_plan, toml_label, PHASES),
    # PATHS named: without them pyproject.toml is a candidate too and the repository routes.
    Scenario("{n} methods of one class", "python", (PY_METHODS,), 2, build_py_repo, py_plan,
             py_label, PY_PHASES, (PY_FILE,)),
)


class Timeline:
    """Event sink: when each (node, state) was first and last seen, relative to ``t0``."""

    def __init__(self, label: Callable[[str], str] = toml_label) -> None:
        self.t0 = time.perf_counter()
        self.label = label
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def __call__(self, ev: Event) -> None:
        t = time.perf_counter() - self.t0
        key = f"{self.label(ev.node)}:{ev.state}"
        self.first.setdefault(key, t)
        self.last[key] = t


class RuffTimer:
    """Counts and times ``ruff.findings`` (one ruff subprocess each), from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: list[float] = []
        self.real = ruff.findings

    def __enter__(self) -> Self:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return self.real(*args, **kwargs)
            finally:
                with self.lock:
                    self.times.append(time.perf_counter() - t)

        ruff.findings = timed  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        ruff.findings = self.real  # type: ignore[assignment]

    def take(self) -> list[float]:
        with self.lock:
            out, self.times = self.times, []
        return out


def one_run(
    sc: Scenario, repo: Path, n: int, latency: float, jobs: int, branch: str
) -> tuple[float, Timeline]:
    plan = sc.plan(n)
    opts = ApplyOptions(intent=plan.intent, cwd=repo, paths=sc.paths, plan=plan, branch=branch)
    events = Timeline(sc.label)
    t = time.perf_counter()
    events.t0 = t
    result = apply(opts, Settings(jobs=jobs), PlanProvider(plan, latency=latency), events)
    wall = time.perf_counter() - t
    changed = sum(1 for r in result.nodes if r.status == "changed")
    if result.branch != branch or changed != n:
        raise SystemExit(f"unexpected result: branch {result.branch}, {changed} of {n} changed")
    return wall, events


def phases(tl: Timeline, wall: float, spec: Phases) -> dict[str, float | None]:
    def at(mark: object) -> float | None:
        if mark is None:
            return 0.0
        if mark == "end":
            return wall
        which, key = mark  # type: ignore[misc]
        return (tl.first if which == "first" else tl.last).get(key)

    out: dict[str, float | None] = {}
    for name, start, end in spec:
        a, b = at(start), at(end)
        out[name] = None if a is None or b is None else b - a
    return out


def median_phases(runs: list[tuple[float, Timeline]], spec: Phases) -> dict[str, float | None]:
    per = [phases(tl, wall, spec) for wall, tl in runs]
    out: dict[str, float | None] = {}
    for name, _, _ in spec:
        vals = [p[name] for p in per if p[name] is not None]
        out[name] = statistics.median(vals) if vals else None  # type: ignore[type-var]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.5, help="seconds per model call (L)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--only", choices=("toml", "python"), help="run one scenario")
    ap.add_argument("--profile", action="store_true", help="cProfile the L = 0 runs")
    args = ap.parse_args(argv)
    os.environ.update(GIT_ENV)  # astm's own git calls inherit the pinned identity too
    lat = args.latency

    tmp = Path(tempfile.mkdtemp(prefix="astm-bench-apply-")).resolve()
    saved_tempdir = tempfile.tempdir
    tempfile.tempdir = str(tmp)  # astm's sandboxes go under gettempdir(): keep them in here
    ratios: dict[str, float] = {}
    profiler = cProfile.Profile() if args.profile else None
    try:
        print(f"cpus: {os.cpu_count()}  latency L = {lat:.2f} s  jobs = {args.jobs}  "
              f"median of {args.reps} runs")
        counter = 0
        for sc in SCENARIOS:
            if args.only and sc.kind != args.only:
                continue
            crit = (sc.depth + 1) * lat
            for n in sc.sizes:
                title = sc.title.format(n=n)
                repo = sc.build(tmp, n)
                # imports, parsers, caches
                one_run(sc, repo, n, 0.0, args.jobs, f"bench/warmup-{sc.kind}-{n}")
                timed, overhead = [], []
                with RuffTimer() as rt:
                    rt.take()
                    for _ in range(args.reps):
                        counter += 1
                        timed.append(one_run(sc, repo, n, lat, args.jobs, f"bench/lat-{counter}"))
                        counter += 1
                        if profiler is not None:
                            profiler.enable()
                        zero_run = one_run(sc, repo, n, 0.0, args.jobs, f"bench/zero-{counter}")
                        overhead.append(zero_run)
                        if profiler is not None:
                            profiler.disable()
                    ruff_times = rt.take()
                wall = statistics.median(w for w, _ in timed)
                zero = statistics.median(w for w, _ in overhead)
                ratios[title] = wall / crit if crit else float("nan")
                walls = sorted(w for w, _ in timed)
                print(f"{title}: wall {wall:.2f} s, critical path {crit:.2f} s, "
                      f"ratio {ratios[title]:.2f} (runs {walls[0]:.2f}-{walls[-1]:.2f} s)")
                print(f"  with L = 0 (pure overhead): {zero:.3f} s; wall - critical path: "
                      f"{wall - crit:.3f} s")
                if ruff_times:
                    per_run = len(ruff_times) / (2 * args.reps)
                    each = statistics.median(ruff_times)
                    print(f"  ruff subprocesses: {per_run:.0f} per run, each {each:.3f} s median "
                          f"({min(ruff_times):.3f}-{max(ruff_times):.3f} s)")
                at_l = median_phases(timed, sc.phases)
                at_0 = median_phases(overhead, sc.phases)
                print(f"  {'phase (median)':<38}{f'L = {lat:.2f}':>10}{'L = 0':>10}")
                for name, _, _ in sc.phases:
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
        parts = []
        toml = {n: ratios[f"{n} acting tables"] for n in SIZES if f"{n} acting tables" in ratios}
        if toml:
            worst = max(toml, key=lambda k: toml[k])
            low = min(toml)
            parts.append(f"{toml[worst]:.2f} at {worst} tables, {toml[low]:.2f} at {low}")
        py = f"{PY_METHODS} methods of one class"
        if py in ratios:
            parts.append(f"{ratios[py]:.2f} at {py}")
        print(f"ratio wall/critical-path: {', '.join(parts)} (target <= 1.15)")
    finally:
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
