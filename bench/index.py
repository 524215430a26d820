"""The repository index on a generated repository of 10,000 Python files.

    python bench/index.py [--files N] [--jobs J] [--keep DIR]

The repository is made of copies of the standard library's modules (test suites left
out), each copy made unique by a last comment line so that every file is its own blob,
committed in one commit. Printed figures, each with its target:

* cold build (a fresh index, in a child process) vs warm refresh after one file changed
  and was committed (median of three, each in a child process): warm <= cold / 50;
* peak memory of the cold build (max RSS of the building process and of its largest
  worker, from ``getrusage``): < 300 MB all together;
* skeleton vs raw tree-sitter parse throughput on the same 1,000 files: >= 0.5;
* ``candidates`` for an intent on the warm index vs ``git grep -l WORD`` for one of its
  words (medians of five): <= 5x.

Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from _common import GIT_ENV  # bench/ is on sys.path when run as a script

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))  # run as a script from anywhere

INTENT = "add a timeout to the HTTP connection request"
WORD = "timeout"
_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {project!r})
from pathlib import Path
from astm.index import refresh
t = time.perf_counter()
r = refresh(Path({repo!r}), jobs={jobs!r})
seconds = time.perf_counter() - t
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(dict(seconds=seconds, parsed=r.parsed, files=r.files, own_mb=own, kids_mb=kids)))
"""


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT_ENV})
    return proc.stdout


def modules() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "test", "tests", "idle_test"}
    return sorted(p for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts))


def generate(repo: Path, n: int) -> tuple[int, list[Path]]:
    sources = [(p.stem, p.read_bytes()) for p in modules()]
    total = 0
    written = []
    for i in range(n):
        stem, data = sources[i % len(sources)]
        f = repo / "src" / f"pkg{i // 100:03d}" / f"{stem}_{i}.py"
        f.parent.mkdir(parents=True, exist_ok=True)
        body = data + f"\n# astm bench copy {i}\n".encode()
        f.write_bytes(body)
        total += len(body)
        written.append(f)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "generated")
    return total, written


def child_refresh(repo: Path, jobs: int | None) -> dict[str, float]:
    code = _CHILD.format(project=str(PROJECT), repo=str(repo), jobs=jobs)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def throughput(files: list[Path]) -> tuple[float, float]:
    """MB/s of raw tree-sitter parsing and of skeleton views on ``files`` (best of three,
    the two measured file by file in turns so load on the machine hits both alike)."""
    from astm.lang.python.syntax import parse_tree
    from astm.views import skeleton

    datas = [(f.name, f.read_bytes()) for f in files]
    size = sum(len(d) for _, d in datas) / 1e6
    best_parse = best_skel = float("inf")
    for _ in range(3):
        t_parse = t_skel = 0.0
        for name, data in datas:
            t0 = time.perf_counter()
            parse_tree(data)
            t1 = time.perf_counter()
            skeleton(name, data)
            t2 = time.perf_counter()
            t_parse += t1 - t0
            t_skel += t2 - t1
        best_parse, best_skel = min(best_parse, t_parse), min(best_skel, t_skel)
    return size / best_parse, size / best_skel


def median_time(fn: object, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=None, help="workers of the cold build")
    ap.add_argument("--keep", type=Path, help="build the repository here and keep it")
    args = ap.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="astm-bench-index-"))
    repo = base / "repo"
    try:
        if repo.exists():
            shutil.rmtree(repo)
        repo.mkdir(parents=True)
        t = time.perf_counter()
        size, files = generate(repo, args.files)
        print(f"repository: {args.files} Python files, {size / 1e6:.0f} MB, one commit "
              f"({time.perf_counter() - t:.0f} s to write and commit)")

        cold = child_refresh(repo, args.jobs)
        jobs = args.jobs or min(8, os.cpu_count() or 1)
        index_file = repo / ".git" / "astm" / "index" / "index.sqlite"
        print(f"cold build: {cold['seconds']:.2f} s, {cold['parsed']:.0f} blobs parsed "
              f"({jobs} worker processes), index {index_file.stat().st_size / 1e6:.0f} MB")

        warm = []
        for r in range(3):
            victim = files[(r * 3331) % len(files)]
            with victim.open("a") as f:
                f.write(f"\n\ndef bench_added_{r}():\n    return {r}\n")
            git(repo, "commit", "-q", "-am", f"change {r}")
            w = child_refresh(repo, args.jobs)
            assert w["parsed"] == 1, w
            warm.append(w["seconds"])
        warm_s = statistics.median(warm)
        ratio = warm_s / cold["seconds"]
        print(f"warm refresh after one changed file: {warm_s * 1000:.0f} ms (median of 3; 1 blob "
              f"parsed) = 1/{1 / ratio:.0f} of the cold build; target <= 1/50: "
              f"{verdict(ratio <= 1 / 50)}")

        own, kids = cold["own_mb"], cold["kids_mb"]
        workers = jobs if cold["parsed"] >= 200 and jobs > 1 else 0
        peak = own + workers * kids
        print(f"cold build peak memory: builder {own:.0f} MB"
              + (f", largest worker {kids:.0f} MB; all together at most {peak:.0f} MB"
                 if workers else "")
              + f"; target < 300 MB: {verdict(peak < 300)}")

        parse_mbs, skel_mbs = throughput(files[::10])
        tp = skel_mbs / parse_mbs
        print(f"throughput on {len(files[::10])} of the files: raw parse {parse_mbs:.1f} MB/s, "
              f"skeleton {skel_mbs:.1f} MB/s = {tp:.2f} of parse; target >= 0.5: "
              f"{verdict(tp >= 0.5)}")

        from astm.index import candidates

        found = candidates(repo, INTENT, 10)  # warm-up: imports, page cache
        t_route = median_time(lambda: candidates(repo, INTENT, 10))
        grep_hits = len(git(repo, "grep", "-l", WORD).splitlines())
        t_grep = median_time(lambda: git(repo, "grep", "-l", WORD))
        slow = t_route / t_grep
        print(f"routing {INTENT!r}: candidates {t_route * 1000:.0f} ms vs `git grep -l {WORD}` "
              f"{t_grep * 1000:.0f} ms ({grep_hits} files) = {slow:.2f}x; target <= 5x: "
              f"{verdict(slow <= 5)}")
        print("  top candidates: " + ", ".join(
            f"{c.path.rsplit('/', 1)[-1]} ({c.score:.1f})" for c in found[:5]))
        ok = ratio <= 1 / 50 and peak < 300 and tp >= 0.5 and slow <= 5
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
