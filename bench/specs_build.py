"""Spec-driven builds: critical path under model latency, no-op cost, staleness precision.

    python bench/specs_build.py [--latency 1.0] [--noop-specs 200] [--timeline]
                                [--server thread|process] [--no-keep-alive]

1. Latency. 20 spec modules of 3 specs each (60 specs) in a dependency DAG of depth 4
   (4 levels of 5 modules; each module's specs call a spec of the module below it). The
   model is the real OpenAI client against a loopback server that answers every request
   after L seconds, in its own process (``--server thread``: a thread of the build's own
   interpreter, whose HTTP and JSON work then competes for astm's interpreter lock), over
   kept-alive HTTP/1.1 connections as real model servers do (``--no-keep-alive``: a new
   connection per request). A module's prompt shows its dependencies' generated code, so
   the model's critical path is 4 sequential calls, 4 L. The script prints the wall time
   of ``astm build --write`` and its ratio to 4 L (target <= 1.10): in a new ``astm``
   process (spawn to exit: Python's start-up and every import, ``openai``'s among them;
   ``ASTM_SERVER=0``), then through a warm command server (``astm server start`` first, as
   every command after the first finds it), then in this process cold (its first build
   imports the model client) and warm, plus
   the same build at L = 0 (astm's own cost: sandboxes, ruff, the import checks).
   ``--timeline``: when each module reached each stage, its requests' arrival at the
   server among them, and per level the time from a module's first model call to its
   requests at the server.
2. No-op. A project of N specs (default 200) already built: the wall time of a build that
   finds nothing stale (target < 1 s) and its model calls (target 0).
3. Precision. A comment-only and a formatting-only edit of a spec: modules rebuilt
   (target 0). A docstring edit: the modules rebuilt must be exactly that module and the
   modules whose specs depend on the edited spec.

It prints figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Self

PROJECT = Path(__file__).resolve().parents[1]
for extra in (PROJECT, PROJECT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))  # run as a script from anywhere

from _common import git
from openai_server import LoopbackServer

from astm.config import Settings
from astm.core.result import Event
from astm.specs.build import BuildOptions, build
from astm.specs.plan import BuildPlan

LEVELS, WIDTH, PER_MODULE = 4, 5, 3
REF = re.compile(r"^You implement one spec of a Python project: (\S+)\.$", re.MULTILINE)


def module_name(level: int, i: int) -> str:
    return f"m{level}{i:02d}"


def spec_source(level: int, i: int) -> str:
    name = module_name(level, i)
    lines = ['"""Bench specs."""', "", "import astm"]
    if level > 0:
        lines.append(f"from pkg.{module_name(level - 1, i)} import f_{module_name(level - 1, i)}_0")
    lines.append("")
    for j in range(PER_MODULE):
        deps = f"deps=[f_{module_name(level - 1, i)}_0]" if level > 0 else ""
        lines += ["", f"@astm.magic({deps})", f"def f_{name}_{j}(x: int) -> int:",
                  f'    """Return x plus {j}, plus what the spec below returns for x."""', ""]
    return "\n".join(lines).rstrip() + "\n"


def answer(ref: str) -> str:
    module, _, func = ref.partition(":")
    name = module.split(".")[1]
    level, i, j = int(name[1]), int(name[2:]), int(func.rsplit("_", 1)[1])
    if level == 0:
        return f"def {func}(x: int) -> int:\n    return x + {j}\n"
    below = module_name(level - 1, i)
    return (f"from pkg.{below} import f_{below}_0\n\n\ndef {func}(x: int) -> int:\n"
            f"    return f_{below}_0(x) + {j}\n")


def make_project(root: Path, levels: int, width: int) -> list[str]:
    files = {"pyproject.toml": '[project]\nname = "bench"\n\n[tool.astm.build]\nsource_roots = ["src"]\n',
             "src/pkg/__init__.py": ""}
    refs = []
    for level in range(levels):
        for i in range(width):
            name = module_name(level, i)
            files[f"src/pkg/{name}.py"] = spec_source(level, i)
            refs += [f"pkg.{name}:f_{name}_{j}" for j in range(PER_MODULE)]
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bench specs")
    return refs


def timed_build(root: Path, settings: Settings, **kw: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = build(BuildOptions(cwd=root, write=True, **kw), settings)
    return time.perf_counter() - t0, result


class Timeline:
    """When each module reached each stage (seconds since the build started), from the
    build's own events and the model server's log: first model call started, its
    requests' arrival at the server (first-last), the server's last answer, the last spec
    answered (absorbed by the build), validation started, module done."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.wall0 = time.time()
        self.first: dict[tuple[str, str], float] = {}
        self.last: dict[tuple[str, str], float] = {}

    def __call__(self, e: Event) -> None:
        path, _, spec = e.node.partition("::")
        if not path.endswith(".py"):
            return
        key = (Path(path).stem, f"spec {e.state}" if spec else e.state)
        now = time.perf_counter() - self.t0
        self.first.setdefault(key, now)
        self.last[key] = now

    def show(self, wall: float, log: list[tuple[str, float, float]]) -> None:
        arrived: dict[str, list[float]] = {}
        replied: dict[str, float] = {}
        for ref, got, sent in log:
            m = ref.partition(":")[0].rpartition(".")[2]
            arrived.setdefault(m, []).append(got - self.wall0)
            replied[m] = max(replied.get(m, 0.0), sent - self.wall0)
        rows = sorted({m for m, _ in self.first})
        print("  module  generating  at the server   replied  answered  validating  done"
              "   (s since the build started)")

        def cell(c: float | None) -> str:
            return f"{c:8.2f}  " if c is not None else "       -  "

        for m in rows:
            got = arrived.get(m)
            span = f"{min(got):6.2f}-{max(got):5.2f}  " if got else "            -  "
            print(f"  {m}    " + cell(self.first.get((m, "spec generating"))) + span
                  + "".join(cell(c) for c in (
                      replied.get(m), self.last.get((m, "spec committed")),
                      self.first.get((m, "validating")), self.last.get((m, "committed")))))
        for level in range(LEVELS):
            gaps = [min(arrived[m]) - self.first[(m, "spec generating")] for m in rows
                    if m[1] == str(level) and m in arrived and (m, "spec generating") in self.first]
            if gaps:
                print(f"  level {level}: from a module's first model call to its requests at the "
                      f"server: mean {sum(gaps) / len(gaps):.2f}s, max {max(gaps):.2f}s")
        done = max(self.last.get((m, "committed"), 0.0) for m in rows)
        print(f"  after the last module: {wall - done:.2f}s (sandbox clean-up, run record, "
              "writing the files)")


def model_server(latency: float, log: list[tuple[str, float, float]] | None = None,
                 keep_alive: bool = True) -> LoopbackServer:
    """The loopback model: every spec answered after ``latency``; ``log`` gets each
    request's (spec ref, time.time() it arrived, time.time() it was answered)."""
    server = LoopbackServer()
    # A real endpoint queues every connection; the stdlib server's listen backlog of 5
    # would drop the rest of a burst of connects, which the client retries after 1 s.
    server._httpd.socket.listen(128)  # bench-only: widen the running server's backlog
    if keep_alive:
        # As a model server (OpenAI, vLLM, llama.cpp, Ollama) does: HTTP/1.1, connections
        # kept open for the next requests. The stdlib's HTTP/1.0 default closes each one,
        # so every model call would pay a new connection (connect, a task group of the
        # client's, a handler thread), a cost no real endpoint charges after the first.
        server._httpd.RequestHandlerClass.protocol_version = "HTTP/1.1"  # bench-only

    def respond(body: dict[str, Any]) -> str:
        ref = REF.search(str(body["messages"][-1]["content"]))
        arrived = time.time()
        time.sleep(latency)
        if log is not None and ref:
            log.append((ref.group(1), arrived, time.time()))
        return answer(ref.group(1)) if ref else ""

    server.responder = respond
    return server


def serve(latency: float, keep_alive: bool) -> None:
    """``--serve L``: the loopback model alone in this process (its URL on stdout) until
    stdin closes."""
    log: list[tuple[str, float, float]] = []
    server = model_server(latency, log, keep_alive)
    print(server.base_url, flush=True)
    sys.stdin.read()
    server.close()
    print(json.dumps(log), flush=True)


class Model:
    """``model_server(latency)`` in a thread of this process, or (``process``) in a child
    process, as a model server is: its work then never shares astm's interpreter lock."""

    def __init__(self, latency: float, process: bool, keep_alive: bool = True) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.server: LoopbackServer | None = None
        self.log: list[tuple[str, float, float]] = []  # what the server saw (model_server)
        if process:
            cmd = [sys.executable, __file__, "--serve", str(latency)]
            self.proc = subprocess.Popen(cmd + ([] if keep_alive else ["--no-keep-alive"]),
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert self.proc.stdout is not None
            self.base_url = self.proc.stdout.readline().strip()
        else:
            self.server = model_server(latency, self.log, keep_alive)
            self.base_url = self.server.base_url

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            assert self.proc.stdout is not None
            self.log = [tuple(x) for x in json.loads(self.proc.stdout.read() or "[]")]
            self.proc.wait(timeout=30)


ASTM = str(Path(sys.executable).with_name("astm"))  # the console script, as users run it


def cli_env(served: bool, tmp: Path) -> dict[str, str]:
    """The environment of the bench's ``astm`` commands: every one a new process
    (``ASTM_SERVER=0``), or through a command server of the bench's own (its own TMPDIR)."""
    if not served:
        return {**os.environ, "ASTM_MODEL_JOBS": "64", "ASTM_SERVER": "0"}
    return {**os.environ, "ASTM_MODEL_JOBS": "64", "ASTM_SERVER": "1", "TMPDIR": str(tmp),
            "XDG_RUNTIME_DIR": ""}


def cli_build(root: Path, base_url: str, env: dict[str, str]) -> tuple[float, str]:
    """``astm build --write`` as a user runs it: its wall time from spawn to exit (with no
    server: Python's start-up and every import, ``openai``'s among them, included)."""
    cmd = [ASTM, "build", "--write", "--jobs", "64", "--retries", "0",
           "--model", "bench", "--base-url", base_url]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"astm build failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return wall, done.stdout


class CPU:
    """CPU seconds over a block: this process (``self``; with ``--server thread`` the
    model server's work counts here too), its event loop's thread alone (``loop``: the
    build runs its loop on this thread) and the subprocesses it waited for (``children``:
    ruff, the import server, or a whole ``astm`` process and its own; not the import
    checks' forks, which the import server never waits for)."""

    def __enter__(self) -> Self:
        self._s, self._c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
            resource.RUSAGE_CHILDREN)
        self._t = time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        self.self = s.ru_utime + s.ru_stime - self._s.ru_utime - self._s.ru_stime
        self.children = c.ru_utime + c.ru_stime - self._c.ru_utime - self._c.ru_stime
        self.loop = time.thread_time() - self._t

    def __str__(self) -> str:
        return (f"CPU {self.self:.2f}s (event loop {self.loop:.2f}s), subprocesses "
                f"{self.children:.2f}s")


def bench_latency(tmp: Path, latency: float, timeline: bool, server: str,
                  keep_alive: bool) -> None:
    runs = [("a new `astm build --write` process", latency, "new"),
            ("`astm build --write` through a warm command server", latency, "served"),
            ("cold process: its first build imports the model client", latency, ""),
            ("warm process", latency, ""), ("astm's own cost", 0.0, "")]
    srv = tmp / "srv"
    srv.mkdir()
    served = cli_env(True, srv)
    subprocess.run([ASTM, "server", "start"], env=served, check=True, capture_output=True)
    try:
        _latency_runs(tmp, runs, timeline, server, keep_alive, served)
    finally:
        subprocess.run([ASTM, "server", "stop"], env=served, check=False, capture_output=True)


def _latency_runs(tmp: Path, runs: list[tuple[str, float, str]], timeline: bool, server: str,
                  keep_alive: bool, served: dict[str, str]) -> None:
    for label, lat, cli in runs:
        root = tmp / f"latency-{len(list(tmp.iterdir()))}"
        make_project(root, LEVELS, WIDTH)
        model = Model(lat, server == "process", keep_alive)
        try:
            if cli:
                env = served if cli == "served" else cli_env(False, tmp)
                with CPU() as cpu:
                    wall, _ = cli_build(root, model.base_url, env)
                seen = None
                spent = (f"CPU {cpu.children:.2f}s (the process and its subprocesses)" if cli == "new"
                         else "CPU in the server's child, not counted here")
            else:
                # model_jobs: the loopback server stands for a remote model serving in
                # parallel (astm's default for a local endpoint is one request at a time).
                settings = Settings(model="bench", base_url=model.base_url, jobs=64,
                                    model_jobs=64, retries=0)
                seen = Timeline()
                with CPU() as cpu:
                    t0 = time.perf_counter()
                    result = build(BuildOptions(cwd=root, write=True), settings, on_event=seen)
                    wall = time.perf_counter() - t0
                assert len(result.built) == LEVELS * WIDTH, result.built
                spent = str(cpu)
        finally:
            model.close()
        built = len(list((root / "src/pkg/__generated__").glob("m*.py")))
        calls = len(model.log)  # as the server saw them
        path = LEVELS * lat
        ratio = f"{wall / path:.2f}" if path else "-"
        print(f"latency L={lat:.2f}s ({label}): {built} modules, {calls} "
              f"model calls, wall {wall:.2f}s, critical path 4L = {path:.2f}s, ratio {ratio}; "
              f"{spent}; load {os.getloadavg()[0]:.2f}")
        if timeline and seen is not None:
            seen.show(wall, model.log)


def bench_noop_and_precision(tmp: Path, n_specs: int) -> None:
    width = max(1, -(-n_specs // (LEVELS * PER_MODULE)))  # at least n_specs specs
    root = tmp / "noop"
    refs = make_project(root, LEVELS, width)
    plan = BuildPlan(answers={r: answer(r) for r in refs})
    settings = Settings(jobs=32, retries=0)
    wall, result = timed_build(root, settings, plan=plan)
    print(f"initial build of {len(refs)} specs in {len(result.built)} modules (plan): {wall:.2f}s")
    times = []
    for _ in range(3):
        wall, result = timed_build(root, settings)
        times.append(wall)
        assert not result.built
    print(f"no-op build on {len(refs)} specs: best {min(times):.3f}s, worst {max(times):.3f}s, "
          f"model calls {result.calls}, modules rebuilt {len(result.built)}")

    spec = root / "src/pkg" / f"{module_name(0, 0)}.py"
    original = spec.read_text()
    spec.write_text(original.replace("import astm", "import astm  # the runtime\n# a comment"))
    wall, result = timed_build(root, settings, plan=plan)
    print(f"comment-only edit: {len(result.built)} modules rebuilt, {result.calls} model calls")
    spec.write_text(original.replace(f"def f_{module_name(0, 0)}_0(x: int) -> int:",
                                     f"def f_{module_name(0, 0)}_0(\n    x: int,\n) -> int:"))
    wall, result = timed_build(root, settings, plan=plan)
    print(f"formatting-only edit: {len(result.built)} modules rebuilt, {result.calls} model calls")
    spec.write_text(original.replace("Return x plus 0,", "Return x plus zero,"))
    wall, result = timed_build(root, settings, plan=plan)
    expected = {f"pkg.{module_name(0, 0)}", f"pkg.{module_name(1, 0)}"}
    got = set(result.built)
    verdict = "exactly" if got == expected else f"NOT exactly (expected {sorted(expected)})"
    print(f"docstring edit of pkg.{module_name(0, 0)}:f_{module_name(0, 0)}_0: rebuilt "
          f"{sorted(got)} ({verdict} that module and its API dependents), "
          f"{result.calls} model calls, {wall:.2f}s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--noop-specs", type=int, default=200)
    ap.add_argument("--timeline", action="store_true", help="when each module reached each stage")
    ap.add_argument("--server", choices=("thread", "process"), default="process",
                    help="where the loopback model runs (a process, as a model server does; a "
                    "thread of this process shares its interpreter lock)")
    ap.add_argument("--no-keep-alive", dest="keep_alive", action="store_false",
                    help="the model server closes each connection (HTTP/1.0), as it did before")
    ap.add_argument("--serve", type=float, help=argparse.SUPPRESS)  # the model's process
    args = ap.parse_args()
    if args.serve is not None:
        serve(args.serve, args.keep_alive)
        return
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    tmp = Path(tempfile.mkdtemp(prefix="astm-bench-specs-"))
    try:
        bench_latency(tmp, args.latency, args.timeline, args.server, args.keep_alive)
        bench_noop_and_precision(tmp, args.noop_specs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
