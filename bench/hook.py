"""`astm hook run` against `pre-commit run` with check-ast and check-toml, on the same commit.

A repository of 10,000 tracked files (Python, TOML and text) gets 10 staged changes (5
Python, 5 TOML files). Timed, as a user's commit would run them (median of --reps, run in
alternation after one warm-up each):

* astm:       ``python -m astm hook run --no-fix`` (tree-sitter, compile(), tomllib, and
              ruff on the changed Python files, as by default);
* pre-commit: ``pre-commit run`` with a config holding exactly the hooks ``check-ast`` and
              ``check-toml`` of the ``pre-commit-hooks`` package (as local ``system`` hooks:
              no network; both packages pip-installed into a temp venv).

Also measures ``python -X importtime -m astm hook run`` and says whether the model client
(openai), rich or pygit2 were imported (they must not be). Goal: ratio astm/pre-commit
<= 0.3 (issue 12). Each figure line carries the load average: the ratio moves with it.

astm's modules are byte-compiled first, as ``pip install`` does (an editable install
under ``PYTHONDONTWRITEBYTECODE`` would compile them on every run, which no user's hook
does); pre-commit's are compiled by its own install.

    python bench/hook.py            # --files 10000 --reps 7
    python bench/hook.py --keep DIR # leave the repository in DIR (for profiling)
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import GIT_ENV

GOAL = 0.3

PY = 'import os\n\n\nclass C{n}:\n    def m(self, x):\n        return os.path.join(x, "{n}")\n\n\ndef f{n}(a, b):\n    return a + b\n'
TOML = '[project]\nname = "p{n}"\nversion = "1.0"\n\n[tool.x]\nkeys = [1, 2, 3]\n'
TXT = "plain text file {n}\n"


def sh(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> str:
    proc = subprocess.run(
        args,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env={**os.environ, **GIT_ENV, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed: {proc.stderr.decode()[-800:]}")
    return proc.stdout.decode()


def content(i: int) -> tuple[str, str]:
    d = f"pkg{i // 100:03d}"
    kind = i % 10
    if kind < 7:
        return f"{d}/mod{i}.py", PY.format(n=i)
    if kind < 8:
        return f"{d}/conf{i}.toml", TOML.format(n=i)
    return f"{d}/notes{i}.txt", TXT.format(n=i)


def build_repo(root: Path, n: int) -> tuple[Path, list[str]]:
    """``n`` files committed with fast-import, checked out, then 10 changes staged."""
    repo = root / "repo"
    repo.mkdir()
    sh(["git", "init", "-q", "-b", "main"], repo)
    stream = [
        b"commit refs/heads/main\n",
        b"committer Bench <bench@example.com> 1700000000 +0000\n",
        b"data 4\ninit\n",
    ]
    for i in range(n):
        path, text = content(i)
        data = text.encode()
        stream.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
    sh(["git", "fast-import", "--quiet"], repo, stdin=b"".join(stream) + b"\n")
    sh(["git", "checkout", "-q", "-f", "main"], repo)
    staged = []
    py = [i for i in range(n) if i % 10 < 7][:: max(1, n // 50)][:5]
    toml = [i for i in range(n) if i % 10 == 7][:: max(1, n // 100)][:5]
    for i in py + toml:
        path, text = content(i)
        text = (
            text.replace("return a + b", "return a - b")
            if path.endswith(".py")
            else text.replace('"1.0"', '"1.1"')
        )
        (repo / path).write_text(text)
        staged.append(path)
    sh(["git", "add", "--", *staged], repo)
    return repo, staged


def install_pre_commit(root: Path) -> Path:
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "pre-commit",
            "pre-commit-hooks",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"pip install pre-commit pre-commit-hooks failed:\n{proc.stderr[-2000:]}")
    return venv / "bin"


def write_config(root: Path, bin_dir: Path) -> Path:
    config = root / "pre-commit-config.yaml"
    config.write_text(
        "repos:\n-   repo: local\n    hooks:\n"
        f"    -   id: check-ast\n        name: check-ast\n        entry: {bin_dir / 'check-ast'}\n"
        "        language: system\n        types: [python]\n"
        f"    -   id: check-toml\n        name: check-toml\n        entry: {bin_dir / 'check-toml'}\n"
        "        language: system\n        types: [toml]\n"
    )
    return config


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV, **env},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return elapsed, proc.stdout + proc.stderr


def import_report(repo: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "astm", "hook", "run", "--no-fix"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    cumulative: dict[str, int] = {}
    total = 0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cum, raw = line.split("|")
        try:
            cumulative[raw.strip()] = us = int(cum)
        except ValueError:
            continue  # the header line
        if len(raw) - len(raw.lstrip()) == 1:  # a top-level import (nested ones are indented)
            total += us
    total //= 1000
    lines = [f"imports: {total:.0f} ms in all (python -X importtime -m astm hook run)"]
    for name in (
        "astm.cli",
        "astm.commands.apply",
        "astm.config",
        "pydantic",
        "click",
        "pygit2",
        "astm.hook.check",
        "tree_sitter",
        "astm.lang.python.syntax",
        "astm.lang.toml.syntax",
    ):
        if name in cumulative:
            lines.append(f"  {name:<22} {cumulative[name] / 1000:7.1f} ms")
    for heavy in ("click", "openai", "rich", "httpx", "pygit2", "ssl", "astm.engine"):
        lines.append(f"  {heavy:<22} {'IMPORTED' if heavy in cumulative else 'not imported'}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--keep", type=Path, help="build the repository in this (new) folder and keep it")
    args = ap.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True)
    root = args.keep.resolve() if args.keep is not None else Path(tempfile.mkdtemp(prefix="astm-bench-hook-"))
    import astm

    compileall.compile_dir(str(Path(astm.__file__).parent), quiet=1)  # as an install does
    try:
        t = time.perf_counter()
        repo, staged = build_repo(root, args.files)
        print(
            f"repository: {args.files} files, {len(staged)} staged ({time.perf_counter() - t:.1f} s to build)"
        )
        t = time.perf_counter()
        bin_dir = install_pre_commit(root)
        print(
            f"pre-commit and pre-commit-hooks installed in a temp venv ({time.perf_counter() - t:.1f} s)"
        )
        config = write_config(root, bin_dir)
        astm_cmd = [sys.executable, "-m", "astm", "hook", "run", "--no-fix"]
        pc_cmd = [str(bin_dir / "pre-commit"), "run", "-c", str(config)]
        pc_env = {"PRE_COMMIT_HOME": str(root / "pc-home"), "PRE_COMMIT_COLOR": "never"}
        _, pc_out = timed(pc_cmd, repo, pc_env)  # warm-up (pre-commit initialises its store)
        timed(astm_cmd, repo, {})
        ran = [ln for ln in pc_out.splitlines() if "Passed" in ln]
        if len(ran) != 2:
            raise SystemExit(f"pre-commit did not run both hooks:\n{pc_out}")
        a_times, p_times = [], []
        for _ in range(args.reps):
            a_times.append(timed(astm_cmd, repo, {})[0])
            p_times.append(timed(pc_cmd, repo, pc_env)[0])
        a, p = statistics.median(a_times), statistics.median(p_times)
        print(
            f"astm hook run --no-fix        median {a * 1000:7.0f} ms  (min {min(a_times) * 1000:.0f})"
        )
        print(
            f"pre-commit check-ast+toml     median {p * 1000:7.0f} ms  (min {min(p_times) * 1000:.0f})"
        )
        print(import_report(repo))
        ratio, best = a / p, min(a_times) / min(p_times)
        one, five, _ = os.getloadavg()
        print(
            f"ratio astm/pre-commit = {ratio:.2f} median, {best:.2f} best (goal <= {GOAL}: "
            f"{'met' if ratio <= GOAL else 'not met'}); load average {one:.2f} {five:.2f} on {os.cpu_count()} CPUs"
        )
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
