"""Crash soak: kill ``astm apply`` at random points, then check nothing of the user's moved.

    python bench/crashsoak.py [--kills 50] [--seed N] [--check-every 5]

Builds a throwaway repository (real git, pinned identity) with a TOML file and a Python
module, and a plan that edits four TOML tables and one Python function (so a run opens
several sandboxes, runs ruff, composes and lands). Each round starts ``astm apply`` as a
subprocess and kills it with SIGKILL, picked at random:

* at an engine stage, ``ASTM_CRASH_AT=<stage>`` (sandbox, generating, committed,
  composing, landed), or
* after a random delay between 0 and the time one whole run takes.

After each kill it checks that the user's HEAD, index, working tree, config and refs are
byte-identical (the dead run's own refs and a branch it had fully landed aside), runs
``astm gc`` and counts what is left (linked worktrees, ``astm/tmp/`` branches, admin
dirs, sandbox folders, half-built admin dirs in ``.git/astm/staging``, half-written run
records). Every ``--check-every`` rounds, and after the last, a normal run
must land. A round *survives* when all of that holds.

Prints one line per failed round and a last line ``survived N/50, orphans left after gc: M``.
Everything it made is removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import GIT_ENV

PROJECT = Path(__file__).resolve().parents[1]
STAGES = ("sandbox", "generating", "committed", "composing", "landed")
TOML = "".join(f"[t{i}]\nv = {i}\n\n" for i in range(6))
MODULE = 'def area(w, h):\n    return w * h\n\n\ndef name():\n    return "shop"\n'
EDITS = [
    *(
        {"op": "replace", "node": f"pyproject.toml::t{i}", "text": f"[t{i}]\nv = {i * 10}\n"}
        for i in range(4)
    ),
    {"op": "replace", "node": "shop.py::area", "text": "def area(w, h):\n    return abs(w * h)\n"},
]


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def snapshot(repo: Path) -> dict[str, object]:
    files = {
        p.relative_to(repo).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }
    refs = dict(
        ln.split(" ", 1)[::-1]
        for ln in git(repo, "for-each-ref", "--format=%(objectname) %(refname)").splitlines()
    )
    gitdir = repo / ".git"
    return {
        "HEAD": (gitdir / "HEAD").read_bytes(),
        "head": git(repo, "rev-parse", "HEAD"),
        "index": (gitdir / "index").read_bytes(),
        "config": (gitdir / "config").read_bytes(),
        "files": files,
        "refs": refs,
    }


def damage(before: dict[str, object], repo: Path, landed_ok: str | None) -> list[str]:
    after = snapshot(repo)
    out = [k for k in ("HEAD", "head", "index", "config", "files") if after[k] != before[k]]
    b_refs, a_refs = before["refs"], after["refs"]
    assert isinstance(b_refs, dict) and isinstance(a_refs, dict)
    out += [f"ref {n} changed" for n, oid in b_refs.items() if a_refs.get(n) != oid]
    for n in a_refs:
        if n in b_refs or n.startswith(("refs/astm/runs/", "refs/heads/astm/tmp/")):
            continue
        if landed_ok and n == f"refs/heads/{landed_ok}":
            continue
        out.append(f"unexpected ref {n}")
    return out


def leftovers(repo: Path, sandboxes: Path) -> list[str]:
    out = [
        f"branch {r}"
        for r in git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/astm/tmp/").split()
    ]
    wts = [
        ln
        for ln in git(repo, "worktree", "list", "--porcelain").splitlines()
        if ln.startswith("worktree ")
    ]
    out += [f"worktree {w}" for w in wts[1:]]
    admin = repo / ".git" / "worktrees"
    if admin.is_dir():
        out += [f"admin {p.name}" for p in admin.iterdir()]
    out += [f"dir {p.name}" for p in sandboxes.iterdir() if p.name.startswith("astm-")]
    staging = repo / ".git" / "astm" / "staging"
    if staging.is_dir():
        out += [f"staging {p.name}" for p in staging.iterdir()]
    out += [f"temp record {p.name}" for p in (repo / ".git" / "astm" / "runs").glob(".*.tmp")]
    return out


def astm(repo: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "astm", *args],
        cwd=repo,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


def wait(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        return -1, "timed out"
    return proc.returncode, err


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--check-every", type=int, default=5, help="a normal run every N rounds")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)

    root = Path(tempfile.mkdtemp(prefix="astm-crashsoak-"))
    try:
        repo = root / "repo"
        sandboxes = root / "tmp"
        sandboxes.mkdir()
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "pyproject.toml").write_text(TOML)
        (repo / "shop.py").write_text(MODULE)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "init")
        (repo / "scratch.txt").write_text("the user's uncommitted work\n")
        plan = root / "plan.json"
        plan.write_text(json.dumps({"version": 1, "edits": EDITS}))
        env = {
            **os.environ,
            **GIT_ENV,
            "TMPDIR": str(sandboxes),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")])
            ),
        }

        # How long one whole run takes: the range of the random delays.
        t0 = time.monotonic()
        code, err = wait(
            astm(repo, env, "apply", "soak", "--plan", str(plan), "--branch", "warmup")
        )
        full = time.monotonic() - t0
        if code != 0:
            print(f"a normal run fails before any kill: {err.strip()}")
            return 1
        print(f"seed {seed}; one run takes {full:.2f} s; killing {args.kills} times")

        survived = orphans = 0
        for i in range(1, args.kills + 1):
            before = snapshot(repo)
            branch = f"soak-{i}"
            how = rng.choice(("stage", "delay"))
            run_env = dict(env)
            if how == "stage":
                stage = rng.choice(STAGES)
                run_env["ASTM_CRASH_AT"] = stage
                label = f"at {stage}"
            else:
                delay = rng.uniform(0.0, full)
                label = f"after {delay:.2f} s"
            proc = astm(repo, run_env, "apply", "soak", "--plan", str(plan), "--branch", branch)
            if how == "delay":
                try:
                    proc.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
            code, err = wait(proc)
            problems = []
            if code not in (-signal.SIGKILL, 0):
                problems.append(f"exit {code}: {err.strip()[-200:]}")
            problems += damage(before, repo, landed_ok=branch)
            gc_code, gc_err = wait(astm(repo, env, "gc"))
            if gc_code != 0:
                problems.append(f"gc exit {gc_code}: {gc_err.strip()[-200:]}")
            left = leftovers(repo, sandboxes)
            orphans += len(left)
            problems += [f"left after gc: {x}" for x in left]
            if i % args.check_every == 0 or i == args.kills:
                code, err = wait(
                    astm(repo, env, "apply", "soak", "--plan", str(plan), "--branch", f"check-{i}")
                )
                if code != 0:
                    problems.append(f"next run failed: {err.strip()[-200:]}")
                elif leftovers(repo, sandboxes):
                    problems.append("the next run left sandboxes")
            try:
                git(repo, "fsck", "--no-progress", "--no-dangling")
            except RuntimeError as exc:
                problems.append(f"fsck: {exc}")
            if problems:
                print(f"round {i} (killed {label}): " + "; ".join(problems))
                # Start the next round from a clean slate so one failure is counted once.
                for x in left:
                    if x.startswith("dir "):
                        shutil.rmtree(sandboxes / x[4:], ignore_errors=True)
            else:
                survived += 1
        print(f"survived {survived}/{args.kills}, orphans left after gc: {orphans}")
        return 0 if survived == args.kills and orphans == 0 else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
