"""Cost of one edit in a big Python file (issue 11.15): it must not grow with the rest of the file.

    python bench/bigfile.py [--sizes 1000,10000,52000] [--reps 1] [--ops replace] [--profile]

For each size N, a repository holds ``big.py`` with N top-level functions (about 64 bytes
each: 52,000 of them make a 3.3 MB file) and a plan replaces the one in the middle
(``--ops replace,insert,delete``: also inserts one after it, deletes it; a line each). Each
repetition times one whole ``astm.engine.apply()`` call in-process (``PlanProvider``,
latency 0): parse at the base, routing, the leaf's checks, composition and the file's
checks (ruff on the file once per level), landing. The project's tests are off (the bench
measures the edit, not a test suite). It prints the wall time per size, the time per
thousand functions, the CPU time of this process (the load of a shared machine moves the
wall time more), where the time went (preparation: reading and parsing the file at the
base, ``astm.engine.prepare``; ruff subprocesses) and the load average. ``--profile`` prints the top of a cProfile of the largest size.
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
import time
from pathlib import Path
from typing import Self

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))  # run as a script from anywhere

from _common import git

from astm.config import Settings
from astm.core.plan import Delete, Edit, Insert, Plan, Replace
from astm.engine import prepare
from astm.engine.apply import ApplyOptions, apply
from astm.llm.plan_provider import PlanProvider
from astm.validate import ruff

CONFIG = '[tool.astm.validate]\ntests = "off"\n'


def source(n: int) -> bytes:
    parts = [b'"""A generated module."""\n\nimport os\n\n']
    for i in range(n):
        parts.append(f"\n\ndef f{i}(x: int) -> int:\n    return x + {i} + len(os.sep)\n".encode())
    return b"".join(parts)


def build(tmp: Path, n: int) -> Path:
    repo = tmp / f"big{n}"
    repo.mkdir()
    (repo / "big.py").write_bytes(source(n))
    (repo / "pyproject.toml").write_text(CONFIG)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    return repo


def edit(op: str, n: int, rep: int) -> Edit:
    """One edit of the function in the middle: ``replace`` it, ``insert`` one after it, ``delete`` it."""
    mid = n // 2
    if op == "insert":
        text = f"def g{rep}(x: int) -> int:\n    return x - {rep} + len(os.sep)\n"
        return Insert(op="insert", parent="big.py", after=f"big.py::f{mid}", text=text)
    if op == "delete":
        return Delete(op="delete", node=f"big.py::f{mid}")
    text = f"def f{mid}(x: int) -> int:\n    return x * {rep + 2} + len(os.sep)\n"
    return Replace(op="replace", node=f"big.py::f{mid}", text=text)


def cold() -> None:
    """Forget what this process kept of earlier edits (a file's syntax tree, its indent
    unit): each edit is timed as a new ``astm apply`` process would run it."""
    import importlib

    for module, name in (("syntax", "forget_trees"), ("change", "forget"), ("indent", "indent_unit")):
        try:
            found = getattr(importlib.import_module(f"astm.lang.python.{module}"), name)
        except (ImportError, AttributeError):
            continue  # an older astm keeps none of it
        getattr(found, "cache_clear", found)()


def one(repo: Path, n: int, rep: int, op: str = "replace") -> tuple[float, float]:
    cold()
    plan = Plan(intent=f"{op} one function", edits=[edit(op, n, rep)])
    opts = ApplyOptions(intent=plan.intent, cwd=repo, paths=("big.py",), plan=plan, branch=f"{op}-{rep}")
    t, cpu = time.perf_counter(), time.process_time()
    result = apply(opts, Settings(), PlanProvider(plan), lambda e: None)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    if result.branch != f"{op}-{rep}":
        raise SystemExit(f"bigfile: the {op} did not land for N = {n}")
    return wall, cpu


class Clock:
    """Counts the calls of ``module.name`` and their time (wraps it while entered)."""

    def __init__(self, module: object, name: str) -> None:
        self.module, self.name = module, name
        self.calls, self.seconds = 0, 0.0
        self._real = getattr(module, name)

    def __enter__(self) -> Self:
        def timed(*args: object, **kw: object) -> object:
            t = time.perf_counter()
            try:
                return self._real(*args, **kw)
            finally:
                self.calls += 1
                self.seconds += time.perf_counter() - t

        setattr(self.module, self.name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(self.module, self.name, self._real)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,52000")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--ops", default="replace", help="replace,insert,delete: one line each")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    ops = args.ops.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="astm-bigfile-"))
    try:
        for n in sizes:
            repo = build(tmp, n)
            size = (repo / "big.py").stat().st_size
            for op in ops:
                walls, cpus = [], []
                with Clock(ruff, "run") as clock, Clock(prepare, "read_file") as reading:
                    for rep in range(args.reps):
                        wall, cpu = one(repo, n, rep, op)
                        walls.append(wall)
                        cpus.append(cpu)
                wall, cpu = statistics.median(walls), statistics.median(cpus)
                what = "one edit" if ops == ["replace"] else f"{op:<7}"
                print(
                    f"bigfile: {n:>6} functions ({size / 1e6:.1f} MB): {what} {wall:6.2f} s "
                    f"({wall / n * 1000:.3f} s per 1k functions), CPU {cpu:.2f} s in this process; "
                    f"preparing the file {reading.seconds / args.reps:.2f} s; ruff "
                    f"{clock.calls // args.reps} runs {clock.seconds / args.reps:.2f} s; "
                    f"load {os.getloadavg()[0]:.1f}"
                )
        if args.profile:
            repo = tmp / f"big{sizes[-1]}"
            prof = cProfile.Profile()
            prof.enable()
            one(repo, sizes[-1], args.reps, ops[0])  # a further edit of the same function
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
            print(out.getvalue())
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
