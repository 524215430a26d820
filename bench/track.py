"""How close ``astm track run`` runs to its critical path, and what tier-4 hints save.

    python bench/track.py [--latency 0.5] [--reps 3] [--jobs 8] [--via loopback|plan]
                          [--workers process|thread]
                          [--server thread|process]

1. Scheduling. A repository of 12 Python files (``m0.py`` .. ``m11.py``, three functions
   each) and a track of 12 tickets, DAG depth 3 (4 chains of 3: each level-2 ticket
   depends on a level-1 ticket, each level-3 ticket on a level-2 one); every ticket
   replaces the 3 functions of its file. Every model call waits L seconds: by default the
   real OpenAI client against the loopback server of tests/openai_server.py, which answers
   routes and generations from the request after a delay of L (in its own process, as a
   model server is, started once for all the runs at one L; ``--server thread``: in a
   thread of this process, sharing its interpreter lock; ``--via plan``:
   ``PlanProvider(plan, latency=L)``, as bench/apply.py). A ticket's model critical path
   is 2 L when its file routes (a routing call, then the 3 functions generate side by
   side), L when its ``Targets:`` decide the route (no routing call: agents/named.py), so
   the track's is 3 x 2 L or 3 x L; the routing calls the server saw decide which.
   Printed: the median wall time of ``Runner.run()`` (planned track to landed branch),
   the critical path and their ratio (target <= 1.15); the tickets run in forked worker
   processes (``--workers thread``: in threads, ``[tool.astm.track] processes = false``);
   the measured
   critical path (the longest chain of the tickets' own measured durations) and the
   ratio to it, which isolates the scheduler from the per-ticket git and ruff overhead;
   the CPU a run costs (and a ticket: on 2 CPUs, 4 chains at once, the CPU any ticket
   spends slows the chain); the handoff, from a ticket's result commit (its engine's
   ``landed`` event) to its dependent's start, which is the conductor's own part of the
   chain, and to the dependent's engine run's first event (its start: the repository
   opened, its files read and parsed); the same at L = 0 (pure overhead).
2. Tier-4 hints. The bytes of a worker's retry request (the real OpenAI client against
   the loopback server of tests/openai_server.py) carrying a real ~300-line pytest
   failure raw, versus carrying its deterministic hint; and the ratio (aim <= 0.05 for
   the failure's part of the prompt, which is also printed).

It prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
for p in (PROJECT, PROJECT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))  # run as a script from anywhere

from _common import git

from astm.agents import hints
from astm.conductor import dag
from astm.conductor.config import TrackSettings
from astm.conductor.models import Ticket, Track
from astm.conductor.run import Runner
from astm.config import Settings
from astm.core.plan import Plan, Replace
from astm.core.result import Event
from astm.llm.plan_provider import PlanProvider
from astm.workspace.repo import Repo

FILES = 12
FUNCS = 3
CHAINS = 4
DEPTH = 3


def func(i: int, j: int, body: str) -> str:
    return f"def f{j}(x: int) -> int:\n    return {body}\n"


def make_repo(root: Path) -> str:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "pyproject.toml").write_text('[project]\nname = "b"\nversion = "0"\n\n[tool.astm.validate]\ntests = "off"\n')
    for i in range(FILES):
        text = '"""Module."""\n' + "".join(f"\n\n{func(i, j, 'x')}" for j in range(FUNCS))
        (root / f"m{i}.py").write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return git(root, "rev-parse", "HEAD")


def make_track(base: str) -> Track:
    tickets = []
    for i in range(FILES):
        level = i // CHAINS
        deps = [f"t{i - CHAINS}"] if level else []
        plan = Plan(intent=f"t{i}", edits=[
            Replace(op="replace", node=f"m{i}.py::f{j}", text=func(i, j, f"x + {i * 10 + j}")) for j in range(FUNCS)])
        tickets.append(Ticket(id=f"t{i}", targets=[f"m{i}.py::f{j}" for j in range(FUNCS)],
                              prompt=f"bump m{i}", depends_on=deps, plan=plan))
    track = Track(id=f"bench-{time.time_ns()}", title=f"bench {time.time_ns()}", tickets=tickets, base=base)
    assert dag.depth(track.tickets) == DEPTH
    return track


def _server(latency: float) -> Any:
    import openai_server as loopback

    class Server(loopback.LoopbackServer):
        def _next(self, body: dict) -> loopback.Reply:  # type: ignore[override]
            return loopback.Reply(_Latent.answer(body), delay=latency)

    server = Server()
    # A real endpoint queues every connection; the stdlib server's listen backlog of 5
    # would drop the rest of a burst of connects, which the client retries after 1 s.
    server._httpd.socket.listen(128)  # bench-only: widen the running server's backlog
    return server


def serve(latency: float) -> None:
    """``--serve L``: the loopback model alone in this process (its URL on stdout) until
    stdin closes."""
    server = _server(latency)
    print(server.base_url, flush=True)
    sys.stdin.read()
    server.close()
    print(_Latent.routes, flush=True)  # the routing calls it answered, for the parent


class _Latent:
    """The loopback model: every request answered from its content after ``latency``; in
    a thread of this process, or (``process``) ``serve(latency)`` in a child process."""

    def __init__(self, latency: float, process: bool = False) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.server: Any = None
        if process:
            self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(latency)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert self.proc.stdout is not None
            self.base_url = self.proc.stdout.readline().strip()
        else:
            self.server = _server(latency)
            self.base_url = self.server.base_url

    routes = 0  # routing calls the model answered (thread server only: counted in-process)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.proc is not None:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.close()
            _Latent.routes += int(self.proc.stdout.readline() or 0)
            self.proc.wait(timeout=30)

    @staticmethod
    def answer(body: dict) -> str:
        import json
        import re

        prompt = body["messages"][-1]["content"]
        if prompt.startswith("You route"):
            _Latent.routes += 1
            ids = re.findall(r"^- (m\d+\.py::f\d+) \|", prompt, re.MULTILINE)
            return json.dumps({"act": [{"id": i, "intent": "bump it"} for i in ids]})
        node = re.search(r"^Node: (m(\d+)\.py::f(\d+)) ", prompt, re.MULTILINE)
        assert node, prompt[:200]
        i, j = int(node.group(2)), int(node.group(3))
        return func(i, j, f"x + {i * 10 + j}")

    def provider(self, _plan: Plan | None):  # type: ignore[no-untyped-def]
        from astm.llm.openai_provider import OpenAIProvider

        return OpenAIProvider(Settings(model="m", base_url=self.base_url, http_retries=0,
                                       model_jobs=64), api_key="k")


@dataclass(frozen=True)
class RunFigures:
    wall: float
    measured: float  # the longest chain of the tickets' measured durations
    cpu: float  # this process's CPU seconds and its children's (validators, git)
    children: float  # the children's part
    calls: int  # model calls per ticket on its critical path
    handoffs: list[float]  # a ticket's result commit (its engine's landed event) to each dependent's start
    engine_starts: list[float]  # ... to each dependent's engine run's first event


def run_once(root: Path, base: str, latency: float, jobs: int, latent: _Latent | None, workers: str) -> RunFigures:
    """The figures of one track run (``latent``: the model server, None: plans answer)."""
    repo = Repo.open(root)
    track = make_track(base)
    if latent is not None:
        for t in track.tickets:
            t.plan = None  # the model answers
        provider_for = latent.provider
        settings = Settings(jobs=jobs, model="m", base_url=latent.base_url)
    else:
        provider_for = lambda p: PlanProvider(p, latency=latency)  # type: ignore[arg-type]
        settings = Settings(jobs=jobs)
    started: dict[str, float] = {}
    took: dict[str, float] = {}
    landed: dict[str, float] = {}
    first: dict[str, float] = {}  # a ticket's engine run's first event

    def on_event(e: Event) -> None:
        if " " in e.node:
            tid = e.node.split(" ")[0]
            first.setdefault(tid, time.perf_counter())
            if e.node == f"{tid} ." and e.state == "landed":
                landed[tid] = time.perf_counter()
            return
        if e.state == "running":
            started[e.node] = time.perf_counter()
        elif e.state == "done":
            took[e.node] = time.perf_counter() - started[e.node]

    runner = Runner(repo, track, settings, provider_for, on_event=on_event,
                    track_settings=TrackSettings(processes=workers == "process"))
    cpu0 = os.times()
    t0 = time.perf_counter()
    result = runner.run()
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    cpu = sum(b - a for a, b in zip(cpu0[:4], cpu1[:4], strict=True))
    children = sum(b - a for a, b in zip(cpu0[2:4], cpu1[2:4], strict=True))
    assert result.branch and git(root, "rev-list", "--count", f"main..{result.branch}") == str(FILES)
    git(root, "branch", "-D", result.branch)
    chain_cost: dict[str, float] = {}
    for t in dag.topo_order(track.tickets):
        chain_cost[t.id] = took[t.id] + max((chain_cost[d] for d in t.depends_on), default=0.0)
    calls = 2 if latent is None else 0  # a plan routes (with its latency); the model's server says when it closes
    handoffs = [started[t.id] - landed[d] for t in track.tickets for d in t.depends_on]
    engine_starts = [first[t.id] - landed[d] for t in track.tickets for d in t.depends_on]
    return RunFigures(wall, max(chain_cost.values()), cpu, children, calls, handoffs, engine_starts)


def scheduling(latency: float, reps: int, jobs: int, via: str, server: str, workers: str) -> None:
    with tempfile.TemporaryDirectory(prefix="astm-bench-track-") as tmp:
        root = Path(tmp) / "repo"
        base = make_repo(root)
        for lat in (latency, 0.0):
            # One model server for all the runs, as an endpoint outlives a track: started per
            # run (until session 9), its start-up shared the CPUs with the run's first level.
            latent = _Latent(lat, server == "process") if via == "loopback" else None
            _Latent.routes = 0
            try:
                runs = [run_once(root, base, lat, jobs, latent, workers) for _ in range(reps)]
            finally:
                if latent is not None:
                    latent.close()
            wall = statistics.median(r.wall for r in runs)
            measured = statistics.median(r.measured for r in runs)
            cpu = statistics.median(r.cpu for r in runs)
            children = statistics.median(r.children for r in runs)
            # A model routes when the server saw routing calls (the process server says how
            # many when it closes).
            calls = max(r.calls for r in runs) or (2 if _Latent.routes else 1)
            handoff = statistics.median(h for r in runs for h in r.handoffs)
            engine_start = statistics.median(h for r in runs for h in r.engine_starts)
            critical = DEPTH * calls * lat
            print(f"track of {FILES} tickets, depth {DEPTH}, {FUNCS} nodes each, L = {lat:.2f}s, "
                  f"jobs = {jobs}, model via {via}, tickets in {workers} workers:")
            ratio = f"{wall / critical:.2f}" if critical else "n/a"
            how = "route, then generate" if calls == 2 else "generate (Targets decide the route)"
            print(f"  wall {wall:.2f}s   critical path {DEPTH} x {calls}L = {critical:.2f}s ({how})   ratio {ratio}")
            print(f"  measured critical path (longest chain of ticket durations) {measured:.2f}s   "
                  f"ratio {wall / measured:.2f}   per ticket {measured / DEPTH:.2f}s")
            print(f"  runs: {' '.join(f'{r.wall:.2f}s' for r in runs)} (the first imports the model "
                  f"client); CPU per run {cpu:.2f}s, {cpu / FILES * 1000:.0f} ms a ticket (this process, "
                  f"its workers and validators, {children:.2f}s of it in subprocesses; the model server "
                  f"runs in a {server}{', its CPU not counted' if server == 'process' else ''})")
            print(f"  handoff (a ticket's result commit to its dependent's start): median "
                  f"{handoff * 1000:.1f} ms, to the dependent's engine run's first event "
                  f"{engine_start * 1000:.1f} ms; load average {os.getloadavg()[0]:.2f}")


DEEP_TEST = '''def total(items, depth):
    if depth:
        return total(items, depth - 1)
    assert sum(items) == 7, "the cart total is off"
    return sum(items)


def test_cart_total():
    assert total([1, 2, 3], 28) == 7
'''


def tier4() -> None:
    import openai_server as loopback

    from astm.llm.base import GenerateRequest
    from astm.llm.openai_provider import OpenAIProvider

    with tempfile.TemporaryDirectory(prefix="astm-bench-hint-") as tmp:
        (Path(tmp) / "test_deep.py").write_text(DEEP_TEST)
        raw = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=long",
                              "test_deep.py"], cwd=tmp, capture_output=True, text=True, check=False).stdout
    hint = hints.deterministic(raw)
    server = loopback.LoopbackServer()
    try:
        server.responder = lambda body: "def total(items, depth):\n    return 7\n"
        settings = Settings(model="worker", base_url=server.base_url, http_retries=0)

        async def ask() -> None:
            provider = OpenAIProvider(settings, api_key="k")
            req = GenerateRequest("make the cart total right", "cart.py::total", "function", "python", "total",
                                  "def total(items, depth):\n    return sum(items)\n", "", attempt=2)
            for h in (hint, raw, ""):
                await provider.generate(GenerateRequest(**{**req.__dict__, "hint": h}))
            await provider.aclose()

        asyncio.run(ask())
        hinted, rawsize, none = (len(r.raw) for r in server.requests)
    finally:
        server.close()
    print(f"tier-4: a {len(raw.splitlines())}-line pytest failure ({len(raw.encode())} bytes) -> hint "
          f"{len(hint.split())} words: {hint!r}")
    print(f"  worker retry request bytes: hinted {hinted}, raw {rawsize}, ratio {hinted / rawsize:.3f}")
    print(f"  the failure's own bytes in the request: hinted {hinted - none}, raw {rawsize - none}, "
          f"ratio {(hinted - none) / (rawsize - none):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--via", choices=("loopback", "plan"), default="loopback")
    ap.add_argument("--server", choices=("thread", "process"), default="process",
                    help="where the loopback model runs (a process: as a model server does)")
    ap.add_argument("--workers", choices=("process", "thread"), default="process",
                    help="where the tickets run: forked processes (the default), or threads "
                         "([tool.astm.track] processes = false)")
    ap.add_argument("--serve", type=float, help=argparse.SUPPRESS)  # the model's process
    args = ap.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    scheduling(args.latency, args.reps, args.jobs, args.via, args.server, args.workers)
    tier4()


if __name__ == "__main__":
    main()
