"""``astm track run`` through the real command, against its critical path.

    python bench/track_cli.py [--latency 2] [--reps 3] [--server off|warm|both]
                              [--workers process|thread]

The track of bench/track.py (12 tickets, DAG depth 3, 3 nodes each, 4 chains), planned
with ``astm track --plan`` and run with ``astm track run ID`` as a user runs them: the
console script, the real OpenAI client, the loopback model server in its own process
(started once, as an endpoint outlives a track), answering every request after L.
``off``: every command a new process (Python's start-up and every import counted);
``warm``: through a command server started before the timed runs (``astm server
start``), as every command after the first finds it. ``--workers thread``: the tickets
in threads of one process (``[tool.astm.track] processes = false``). Printed: the wall time of ``astm
track run`` from spawn to exit, the critical path (3 L: the tickets' ``Targets:`` decide
their routes) and the ratio (target <= 1.15).

It prints figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import track as tb  # bench/track.py: the repository, the track's shape, the model server
from _common import GIT_ENV

ASTM = str(Path(sys.executable).with_name("astm"))  # the console script, as users run it


def plan_file(path: Path, stamp: str) -> Path:
    tickets = []
    for i in range(tb.FILES):
        level = i // tb.CHAINS
        tickets.append({
            "id": f"t{i}", "title": f"bump m{i}", "archetype": "implementer",
            "targets": [f"m{i}.py::f{j}" for j in range(tb.FUNCS)], "prompt": f"bump m{i}",
            "depends_on": [f"t{i - tb.CHAINS}"] if level else [],
        })
    path.write_text(json.dumps({"version": 1, "title": f"bench {stamp}", "intent": "bump", "tickets": tickets}))
    return path


def env_for(mode: str, tmp: Path, base_url: str) -> dict[str, str]:
    env = {**os.environ, **GIT_ENV, "ASTM_MODEL": "m", "ASTM_BASE_URL": base_url,
           "OPENAI_API_KEY": "sk-bench", "ASTM_MODEL_JOBS": "64"}
    if mode == "off":
        return {**env, "ASTM_SERVER": "0"}
    return {**env, "ASTM_SERVER": "1", "TMPDIR": str(tmp), "XDG_RUNTIME_DIR": ""}


def run_track(repo: Path, tmp: Path, env: dict[str, str], rep: int) -> float:
    stamp = f"{time.time_ns()}-{rep}"
    planned = subprocess.run([ASTM, "track", "--plan", str(plan_file(tmp / f"plan-{stamp}.json", stamp))],
                             cwd=repo, env=env, capture_output=True, text=True, check=False)
    if planned.returncode != 0:
        raise SystemExit(f"astm track --plan failed: {planned.stderr.strip()[-400:]}")
    tid = next(ln.split()[1].rstrip(":") for ln in planned.stdout.splitlines() if ln.startswith("track "))
    t0 = time.perf_counter()
    done = subprocess.run([ASTM, "track", "run", tid], cwd=repo, env=env, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"astm track run failed ({done.returncode}): {done.stderr.strip()[-600:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=2.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--server", choices=("off", "warm", "both"), default="both")
    ap.add_argument("--workers", choices=("process", "thread"), default="process")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="astm-bench-track-cli-") as name:
        tmp = Path(name)
        repo = tmp / "repo"
        tb.make_repo(repo)
        if args.workers == "thread":
            with (repo / "pyproject.toml").open("a") as f:
                f.write("\n[tool.astm.track]\nprocesses = false\n")
            tb.git(repo, "commit", "-qam", "tickets in threads")
        latent = tb._Latent(args.latency, process=True)
        try:
            for mode in (["off", "warm"] if args.server == "both" else [args.server]):
                srv = tmp / f"srv-{mode}"
                srv.mkdir()
                env = env_for(mode, srv, latent.base_url)
                if mode == "warm":
                    subprocess.run([ASTM, "server", "start"], env=env, check=True, capture_output=True)
                try:
                    run_track(repo, tmp, env, -1)  # a first run: the repository's own first-use costs
                    walls = [run_track(repo, tmp, env, rep) for rep in range(args.reps)]
                finally:
                    if mode == "warm":
                        subprocess.run([ASTM, "server", "stop"], env=env, check=False, capture_output=True)
                critical = tb.DEPTH * args.latency
                wall = statistics.median(walls)
                label = ("a new process each" if mode == "off" else "through a warm command server") + \
                    f", tickets in {args.workers} workers"
                print(f"astm track run ({label}), L = {args.latency:g} s: wall {wall:.2f} s median, "
                      f"{min(walls):.2f} s best of {len(walls)}, critical path {tb.DEPTH} x L = {critical:.2f} s, "
                      f"ratio {wall / critical if critical else 0:.2f} (goal <= 1.15); load {os.getloadavg()[0]:.2f}")
        finally:
            latent.close()


if __name__ == "__main__":
    main()
