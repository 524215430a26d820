"""How long astm takes to parse a 20,000-line Python file and to build its routing request.

    python bench/python_parse.py [--lines 20000] [--reps 5]

Builds the file from modules of the running Python's standard library, one after the other
(the last one cut at a top-level statement once the total reaches ``--lines``); the
top-level names of every module after the first get a suffix (``Decimal__m1``), so ids
stay unique as in one real module. Then it times, median of ``--reps``:

* parse: ``astm.lang.python.syntax.parse`` (``compile()`` of the whole file, the tree-sitter
  parse and the node tree), and ``compile()`` alone;
* outline: the file's skeleton, computed once per file and sent with every prompt;
* route request: what the file node does before its routing call, the engine's own
  ``router.route_node`` (children's summaries and descendants, the request, the answer's
  check) with a model that answers at once, plus the rendering of the prompt as the
  OpenAI provider sends it.

Each step prints its median wall time and CPU time (the steps are single-threaded, so the
CPU time is what an idle machine would take). The last line sums parse, outline and route
request: the issue asks for "parse and route in well under a second per file". It prints figures only and writes no files.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import re
import statistics
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))  # run as a script from anywhere

from astm.agents import router
from astm.agents.context import FileCtx
from astm.config import Settings
from astm.lang.python import LANGUAGE as PYTHON
from astm.lang.python import syntax as pysyntax
from astm.llm.base import Route, RouteRequest, Usage
from astm.llm.prompt import render
from astm.llm.prompting import children_lines as _children

# Large stdlib modules without ``from __future__`` (which may only open a module).
MODULES = (
    "_pydecimal.py", "typing.py", "tarfile.py", "pydoc.py", "doctest.py", "argparse.py",
    "datetime.py", "zipfile.py", "mailbox.py", "subprocess.py",
)
NAME = "big.py"
INTENT = "Decimal.sqrt must raise ValueError for negative numbers"


def renamed(source: str, suffix: str) -> str:
    """``source`` with its top-level def, class and assignment names given ``suffix``."""
    lines = source.split("\n")
    for stmt in ast.parse(source).body:
        row = stmt.lineno - 1
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            pat = rf"^((?:async\s+)?(?:def|class)\s+){re.escape(stmt.name)}\b"
            lines[row] = re.sub(pat, rf"\g<1>{stmt.name}{suffix}", lines[row], count=1)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
            if isinstance(target, ast.Name) and stmt.col_offset == 0:
                pat = rf"^{re.escape(target.id)}\b"
                lines[row] = re.sub(pat, f"{target.id}{suffix}", lines[row], count=1)
    return "\n".join(lines)


def cut(source: str, rows: int) -> str:
    """The shortest prefix of ``source`` of at least ``rows`` lines that ends between two
    top-level statements."""
    starts = [
        min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", [])]) - 1
        for s in ast.parse(source).body
    ]
    lines = source.split("\n")
    best = min((r for r in starts if r >= rows), default=len(lines))
    return "\n".join(lines[:best]).rstrip("\n") + "\n"


def big_file(target: int) -> tuple[bytes, list[str]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    used: list[str] = []
    total = 0
    for i, name in enumerate(MODULES):
        path = stdlib / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        text = text if i == 0 else renamed(text, f"__m{i}")
        if not text.endswith("\n"):
            text += "\n"
        lines = text.count("\n")
        if total + lines > target:
            text = cut(text, target - total)
            lines = text.count("\n")
        parts.append(text)
        used.append(f"{name} ({lines} lines)")
        total += lines
        if total >= target:
            break
    return "".join(parts).encode("utf-8"), used


class _AtOnce:
    """A model that answers every routing call at once, with nothing to do."""

    name = "bench"

    def __init__(self) -> None:
        self.last: RouteRequest | None = None

    async def route(self, req: RouteRequest) -> tuple[Route, Usage]:
        self.last = req
        return Route(), Usage()


class _Context:
    """Just enough of a run's context for ``router.route_node``."""

    def __init__(self) -> None:
        self.settings = Settings()
        self.provider = _AtOnce()
        self.sem: asyncio.Semaphore | None = None

    def emit(self, *args: Any, **kwargs: Any) -> None:
        pass

    def add_usage(self, usage: Usage) -> None:
        pass


class Timing:
    """Median wall and CPU seconds of a step (CPU: this process; the steps are
    single-threaded, so CPU is the wall time on an idle machine)."""

    def __init__(self, wall: float, cpu: float) -> None:
        self.wall, self.cpu = wall, cpu

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.wall + other.wall, self.cpu + other.cpu)


def timed(fn: Callable[[], Any], reps: int) -> tuple[Timing, Any]:
    walls, cpus, out = [], [], None
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return Timing(statistics.median(walls), statistics.median(cpus)), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    data, used = big_file(args.lines)
    rows = data.count(b"\n")
    print(f"file: {rows} lines, {len(data)} bytes, from {', '.join(used)}")

    t_parse, tree = timed(lambda: pysyntax.parse(NAME, data), args.reps)
    t_compile, err = timed(lambda: pysyntax.python_error(data, NAME), args.reps)
    assert err is None, err
    t_outline, outline = timed(lambda: PYTHON.outline(data), args.reps)
    nodes = sum(1 for _ in tree.walk())
    print(f"nodes: {len(tree.children)} children of the file, {nodes} in all; "
          f"outline {len(outline.encode())} bytes, {outline.count(chr(10)) + 1} lines")

    f = FileCtx(NAME, data, tree, PYTHON, b"\n", outline)
    ctx = _Context()

    async def route() -> RouteRequest | None:
        ctx.sem = asyncio.Semaphore(1)
        await router.route_node(ctx, f, tree, INTENT)  # type: ignore[arg-type]
        return ctx.provider.last

    t_route, req = timed(lambda: asyncio.run(route()), args.reps)
    assert req is not None

    def prompt() -> str:
        return render(
            "route", language=req.language, node_id=req.node_id, node_kind=req.node_kind,
            intent=req.intent, context=req.context or "(none)", children=_children(req.children),
        )

    t_render, text = timed(prompt, args.reps)
    print(f"  {'step (median of ' + str(args.reps) + ')':<52}{'wall s':>8}{'cpu s':>8}")
    for label, t in (
        ("parse (compile + tree-sitter + node tree)", t_parse),
        ("  of which compile() alone", t_compile),
        ("outline (once per file)", t_outline),
        ("route request (router.route_node, model at once)", t_route),
        ("render the routing prompt", t_render),
    ):
        print(f"  {label:<52}{t.wall:>8.3f}{t.cpu:>8.3f}")
    print(f"routing prompt: {len(req.children)} children, {len(text.encode())} bytes")
    total = t_parse + t_outline + t_route + t_render
    print(f"parse + route of a {rows}-line file: {total.wall:.3f} s wall, {total.cpu:.3f} s cpu "
          f"(target: well under 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
