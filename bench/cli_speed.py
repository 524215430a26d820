"""How close the ``astm`` command runs to its critical path, run as a user runs it.

    python bench/cli_speed.py [--case a|b|c|d|all] [--latency 1.0] [--reps 1] [--model-jobs 32]
                              [--no-keep-alive]

Each case builds a throwaway git repository (pinned identity) and times the venv's
``astm apply`` as a subprocess, with the real ``OpenAIProvider`` talking to the loopback
OpenAI-compatible server of ``tests/openai_server.py``, which sleeps L seconds before
every answer and answers as a model would: a routing prompt gets every target child to
act, a generate prompt gets the node's text back with its ``return`` changed.

* a: ``shop.py``, a class of 8 methods, all edited. Critical path: the file's route, the
  class's route, the methods' generate calls side by side: 3 L.
* b: 32 top-level functions in a 1,000-line file, all edited: route + generate = 2 L.
* c: 32 of the 160 functions of a 5,000-line file, ``--jobs 32``: 2 L.
* d: the same 5,000-line file with a plan (``--plan``, no model): 128 edited functions
  against 32; the figure is the time ratio.

Each case runs twice (``--server both``): every command in a new process (``ASTM_SERVER=0``,
what the first command after a while waits for), then through a warm command server
(``astm server start`` first, as every later command finds it; astm/server/).

The server keeps connections alive (HTTP/1.1) as model servers do; ``--no-keep-alive``
closes each one (HTTP/1.0), as the bench's server did before session 5.
The loopback endpoint is local, so astm would default to ``model_jobs = 1``: the bench
passes ``--model-jobs`` (default 32) so every call of a wave is in flight at once.
astm's modules are byte-compiled first, as ``pip install`` does (an editable install under
``PYTHONDONTWRITEBYTECODE`` would compile them on every run, which no user's does).
Each line gives the median and the best of ``--reps`` runs, and the load average (the
ratios move when other processes share the CPUs); a model case adds where its overhead
sits: when its first request reached the server, and how long the process ran after the
last answer left it. Everything it made is removed.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
for extra in (PROJECT / "bench", PROJECT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from _common import GIT_ENV, git
from openai_server import LoopbackServer  # tests/: needs pytest importable

ASTM = str(Path(sys.executable).with_name("astm"))
GOALS = {"a": 1.10, "b": 1.15, "c": 1.20, "d": 1.5}
ROUTE = re.compile(r"You are the node (\S+) \(")
NODE = re.compile(r"^Node: (\S+) \(", re.MULTILINE)


def function(name: str, lines: int, indent: str = "", arg: str = "x") -> str:
    """A definition of exactly ``lines`` lines (>= 4) that ruff finds clean."""
    body = [f"{indent}def {name}({arg}):", f'{indent}    """{name}."""', f"{indent}    total = 0"]
    body += [f"{indent}    total = total + {i}" for i in range(lines - 4)]
    body.append(f"{indent}    return total")
    return "\n".join(body) + "\n"


def changed(text: str) -> str:
    return text.replace("    return total", "    return total + 1", 1)


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    file: str
    source: str
    texts: dict[str, str]  # node id -> current text of every node that must change
    routes: dict[str, list[str]]  # routing node id -> the children that act
    critical_calls: int
    flags: tuple[str, ...] = ()


def functions_file(file: str, count: int, total_lines: int) -> tuple[str, dict[str, str]]:
    per = max(4, total_lines // count - 1)  # one blank line between definitions
    texts = {f"{file}::f{i}": function(f"f{i}", per) for i in range(count)}
    return "\n".join(texts.values()), texts


def case_a() -> Case:
    file = "shop.py"
    methods = {f"{file}::Cart.m{i}": function(f"m{i}", 6, "    ", "self") for i in range(8)}
    source = "class Cart:\n" + "\n".join(methods.values())
    routes = {file: [f"{file}::Cart"], f"{file}::Cart": list(methods)}
    return Case("a", "8 methods of one class", file, source, methods, routes, 3)


def case_b() -> Case:
    file = "funcs.py"
    source, texts = functions_file(file, 32, 1000)
    return Case("b", "32 functions, 1k-line file", file, source, texts, {file: list(texts)}, 2)


def case_c() -> Case:
    file = "big.py"
    source, texts = functions_file(file, 160, 5000)
    acting = dict(list(texts.items())[:32])
    return Case("c", "32 of 160 functions, 5k-line file, jobs 32", file, source, acting,
                {file: list(acting)}, 2, ("--jobs", "32"))


def make_repo(root: Path, case: Case) -> Path:
    repo = root / f"repo-{case.name}"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / case.file).write_text(case.source)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench fixture")
    return repo


def responder(case: Case, intent: str, arrivals: list[float]) -> Callable[[dict[str, Any]], str]:
    def respond(body: dict[str, Any]) -> str:
        arrivals.append(time.perf_counter())
        prompt = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
        node = NODE.search(prompt)
        if node and node.group(1) in case.texts:
            return changed(case.texts[node.group(1)])
        routed = ROUTE.search(prompt)
        acting = case.routes.get(routed.group(1), []) if routed else []
        return json.dumps({"act": [{"id": i, "intent": intent} for i in acting],
                           "create": [], "delete": []})

    return respond


SERVER_ENV: dict[str, str] = {}  # how the runs of the current pass see the command server
PROFILE: list[str] = []  # --profile: run astm under pyinstrument, print its report


STARTS: list[float] = []  # when each run_astm launched its process (perf_counter)


def run_astm(repo: Path, args: list[str], env: dict[str, str]) -> float:
    cmd = [sys.executable, "-m", "pyinstrument", "-m", "astm"] if PROFILE else [ASTM]
    start = time.perf_counter()
    STARTS.append(start)
    proc = subprocess.run([*cmd, "apply", *args], cwd=repo, env=env, capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"astm apply exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    if PROFILE:
        print(proc.stdout[-12000:])
    return wall


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def model_case(case: Case, root: Path, latency: float, reps: int, model_jobs: int,
               keep_alive: bool = True) -> float:
    repo = make_repo(root, case)
    intent = "every function must return one more"
    server = LoopbackServer()
    if keep_alive:  # as model servers do (OpenAI, vLLM, llama.cpp, Ollama): HTTP/1.1
        server._httpd.RequestHandlerClass.protocol_version = "HTTP/1.1"  # bench-only
    arrivals: list[float] = []
    server.responder = responder(case, intent, arrivals)
    server.responder_delay = latency
    env = {**os.environ, **GIT_ENV, **SERVER_ENV, "ASTM_MODEL": "bench-model",
           "ASTM_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-bench"}
    walls: list[float] = []
    heads: list[float] = []  # launch to the first request reaching the server
    tails: list[float] = []  # the last answer leaving the server to the process's exit
    try:
        for rep in range(reps):
            before = len(server.requests)
            first = len(arrivals)
            walls.append(run_astm(repo, [intent, case.file, "--branch", f"bench/{case.name}{rep}",
                                         "--model-jobs", str(model_jobs), *case.flags], env))
            calls = len(server.requests) - before
            heads.append(arrivals[first] - STARTS[-1])
            tails.append(STARTS[-1] + walls[-1] - (arrivals[-1] + latency))
    finally:
        server.close()
    wall, best = statistics.median(walls), min(walls)
    critical = case.critical_calls * latency
    ratio = wall / critical
    print(f"({case.name}){MODE[0]} {case.label}, L = {latency:g} s: wall {wall:.2f} s median, {best:.2f} s best "
          f"of {reps}, critical path {critical:.2f} s ({case.critical_calls} L), {calls} model calls; "
          f"ratio {ratio:.2f} median, {best / critical:.2f} best (goal <= {GOALS[case.name]:.2f}); {load()}")
    print(f"    first request {statistics.median(heads):.2f} s after launch; exit {statistics.median(tails):.2f} s "
          f"after the last answer (medians)")
    return ratio


def plan_case(root: Path, reps: int) -> float:
    file = "big.py"
    source, texts = functions_file(file, 160, 5000)
    repo = make_repo(root, Case("d", "", file, source, texts, {}, 0))
    env = {**os.environ, **GIT_ENV, **SERVER_ENV}
    times: dict[int, float] = {}
    bests: dict[int, float] = {}
    for n in (32, 128):
        edits = [{"op": "replace", "node": k, "text": changed(v)}
                 for k, v in list(texts.items())[:n]]
        plan = root / f"plan{n}.json"
        plan.write_text(json.dumps({"version": 1, "intent": f"{n} edits", "edits": edits}))
        walls = [run_astm(repo, [f"{n} edits", file, "--plan", str(plan),
                                 "--branch", f"bench/d{n}-{rep}"], env) for rep in range(reps)]
        times[n], bests[n] = statistics.median(walls), min(walls)
    ratio = times[128] / times[32]
    print(f"(d){MODE[0]} plan, 5k-line file: 32 nodes {times[32]:.2f} s, 128 nodes {times[128]:.2f} s "
          f"(median of {reps}; best {bests[32]:.2f} s, {bests[128]:.2f} s); ratio {ratio:.2f} median, "
          f"{bests[128] / bests[32]:.2f} best (goal <= {GOALS['d']:.2f}); {load()}")
    return ratio


MODE = [""]  # the label of the current pass: "" or " warm server"


@contextlib.contextmanager
def server_mode(mode: str, root: Path) -> Iterator[None]:
    """``off``: ASTM_SERVER=0. ``warm``: a server of the bench's own (its own TMPDIR),
    started and answering before the first timed run, stopped after the last."""
    (root / mode).mkdir(exist_ok=True)
    SERVER_ENV.clear()
    if mode == "off":
        SERVER_ENV["ASTM_SERVER"] = "0"
        MODE[0] = ""
        yield
        return
    tmp = root / "srv"
    tmp.mkdir(exist_ok=True)
    SERVER_ENV.update({"ASTM_SERVER": "1", "TMPDIR": str(tmp), "XDG_RUNTIME_DIR": ""})
    MODE[0] = " warm server,"
    env = {**os.environ, **SERVER_ENV}
    subprocess.run([ASTM, "server", "start"], env=env, check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run([ASTM, "server", "stop"], env=env, check=False, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["a", "b", "c", "d", "all"], default="all")
    ap.add_argument("--latency", type=float, default=1.0, help="seconds per model request")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--model-jobs", type=int, default=32)
    ap.add_argument("--no-keep-alive", action="store_true",
                    help="the server closes every connection (HTTP/1.0), as before session 5")
    ap.add_argument("--server", choices=["off", "warm", "both"], default="both",
                    help="off: every command in a new process (ASTM_SERVER=0); warm: through a "
                         "command server started before the timed runs (astm server start)")
    ap.add_argument("--profile", action="store_true",
                    help="run astm under pyinstrument (pip install pyinstrument) and print it")
    args = ap.parse_args(argv)
    if args.profile:
        PROFILE.append("on")
    cases = "abcd" if args.case == "all" else args.case
    import astm

    compileall.compile_dir(str(Path(astm.__file__).parent), quiet=1)  # as an install does
    root = Path(tempfile.mkdtemp(prefix="astm-bench-cli-")).resolve()
    print(f"astm: {ASTM}; --model-jobs {args.model_jobs}; {load()}")
    modes = ["off", "warm"] if args.server == "both" else [args.server]
    try:
        builders = {"a": case_a, "b": case_b, "c": case_c}
        for name in cases:
            for mode in modes:
                with server_mode(mode, root):
                    if name == "d":
                        plan_case(root / mode, args.reps)
                    else:
                        model_case(builders[name](), root / mode, args.latency, args.reps,
                                   args.model_jobs, not args.no_keep_alive)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
