"""What a node sandbox costs next to a full checkout, in a repository of 10,000 files.

    python bench/sandbox.py [--files-per-dir 100] [--dirs 100] [--reps 7]

Builds a throwaway repository (real git, pinned identity) in a temp dir and measures, on
the same commit and alternating so both see the same caches:

(a) ``git worktree add --detach <dir> <commit>``: a full checkout (all removed at the end,
    ``git worktree remove --force``, timed too);
(b) what astm does per node: ``open_sandbox`` + ``materialise(["pyproject.toml"])``, then
    ``close()``, timed apart.

Prints the median of each and a last line ``ratio sandbox/worktree-add: R (target <= 0.05)``.
Prints figures only; it never fails on a slow machine. Everything it made is removed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))  # run as a script from anywhere

from _common import GIT_ENV, git

from astm.workspace.repo import Repo
from astm.workspace.sandbox import open_sandbox


def build_repo(root: Path, dirs: int, per_dir: int) -> tuple[Path, str, int]:
    """A repository of ``dirs * per_dir`` small .py files plus a pyproject.toml.

    Written with one ``git fast-import``: packed, as a cloned repository is, and with no
    loose objects to delete (see the note on deletions in ``main``).
    """
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    files = {"pyproject.toml": b'[project]\nname = "bench"\nversion = "0.1.0"\n'}
    for d in range(dirs):
        for f in range(per_dir):
            n = d * per_dir + f
            files[f"pkg{d:03d}/mod{f:03d}.py"] = f"VALUE = {n}\n\n\ndef f():\n    return VALUE\n".encode()
    stream = bytearray()
    for path, data in files.items():
        stream += b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)
    msg = b"bench fixture\n"
    head = b"commit refs/heads/main\ncommitter Bench <bench@example.com> 1700000000 +0000\n"
    head += b"data %d\n%s" % (len(msg), msg)
    git(repo, "fast-import", "--quiet", stdin=bytes(head + stream + b"\n"))
    tracked = len(git(repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines())
    return repo, git(repo, "rev-parse", "HEAD"), tracked


def fmt(seconds: float) -> str:
    return f"{seconds:.3f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dirs", type=int, default=100)
    ap.add_argument("--files-per-dir", type=int, default=100)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args(argv)
    os.environ.update(GIT_ENV)  # astm's own git calls inherit the pinned identity too

    tmp = Path(tempfile.mkdtemp(prefix="astm-bench-sandbox-")).resolve()
    saved_tempdir = tempfile.tempdir
    try:
        t0 = time.perf_counter()
        repo_dir, commit, tracked = build_repo(tmp, args.dirs, args.files_per_dir)
        print(f"cpus: {os.cpu_count()}  git: {git(tmp, 'version').removeprefix('git version ')}")
        print(f"repository: {tracked} tracked files, built in {fmt(time.perf_counter() - t0)}")
        # astm puts sandboxes under tempfile.gettempdir(): keep them inside our temp dir,
        # on the same filesystem as the full checkouts, so leftovers go with it.
        tempfile.tempdir = str(tmp)
        repo = Repo.open(repo_dir)
        fork = repo.repo.head.target

        add, remove, opened, closed = [], [], [], []
        run = f"bench-{os.getpid()}"
        worktrees = []
        # Full checkouts are removed only after the last one is made: on this kind of
        # filesystem (ext4 without a journal) creating inodes soon after deleting many
        # scans the recently deleted ones, so remove-then-add would time that instead.
        for i in range(args.reps + 1):  # the first rep warms caches and is dropped
            wt = tmp / f"wt{i}"
            t = time.perf_counter()
            git(repo_dir, "worktree", "add", "-q", "--detach", str(wt), commit)
            t_add = time.perf_counter() - t
            worktrees.append(wt)

            t = time.perf_counter()
            box = open_sandbox(repo, run, i, fork)
            box.materialise(["pyproject.toml"])
            t_open = time.perf_counter() - t
            assert (box.path / "pyproject.toml").is_file()
            t = time.perf_counter()
            box.close()
            t_close = time.perf_counter() - t
            if i:
                add.append(t_add)
                opened.append(t_open)
                closed.append(t_close)
        for wt in worktrees:
            t = time.perf_counter()
            git(repo_dir, "worktree", "remove", "--force", str(wt))
            remove.append(time.perf_counter() - t)

        m_add, m_open = statistics.median(add), statistics.median(opened)
        print(f"median of {args.reps} repetitions:")
        print(f"git worktree add ({tracked} files): {fmt(m_add)} "
              f"(runs {min(add):.2f}-{max(add):.2f} s)")
        print(f"git worktree remove --force:        {fmt(statistics.median(remove))}")
        print(f"astm sandbox open + materialise:    {fmt(m_open)}")
        print(f"astm sandbox close:                 {fmt(statistics.median(closed))}")
        print(f"ratio sandbox/worktree-add: {m_open / m_add:.3f} (target <= 0.05)")
    finally:
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
