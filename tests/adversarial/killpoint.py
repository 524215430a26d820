"""Live one sandbox's whole life in a forked process and SIGKILL it at its K-th disk write.

    python killpoint.py REPO      (then, on stdin, one ``K before|after`` per line)

Not a test module: ``test_killpoints.py`` drives it. For each line it forks a child (astm
is imported once, so a kill point costs a fork, not a Python start) that lives the life a
node's sandbox has in a run: the run record is saved, the sandbox opens (staging, marker,
branch, folder, ``.git``, rename into place), files are materialised, a commit is made, the
worktree is released (admin directory parked in staging, folder and admin directory
removed), the branch deleted. It answers ``killed c`` or ``killed -`` if the child died of SIGKILL
at a write that creates a file (``c``) or not (``-``), ``done N`` if the life had fewer
than K writes (N of them), else ``error ...``.

Every write astm makes under the repository's git directory or the sandbox root (``TMPDIR``)
counts, through a Python audit hook: ``open`` for writing, ``mkdir``, ``rename``,
``remove``, ``rmdir`` (``shutil.rmtree``'s own, by name relative to a directory fd, too).
At the K-th the child kills itself ``before`` the write, or ``after`` it for a write that
creates a file (the file exists, empty: a kill between ``open`` and ``write``). Linux only
(a directory fd is resolved through ``/proc/self/fd``).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

from astm.workspace import runs
from astm.workspace.repo import Repo
from astm.workspace.sandbox import open_sandbox, remove_worktree

WRITES = ("os.mkdir", "os.rename", "os.remove", "os.rmdir")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT
# A few names, so that removing the folder meets ``.git`` between other files.
FILES = ("pyproject.toml", "a.toml", "m/n.toml", "z.toml")


def life(workdir: Path, target: int, mode: str, out: int) -> int:
    """The sandbox's life, killed at write ``target`` (its kind said on ``out`` first);
    the number of writes if it ends."""
    repo = Repo.open(workdir)
    roots = (os.path.realpath(repo.common), os.path.realpath(tempfile.gettempdir()))
    seen = [0]

    def ours(path: object, dir_fd: object) -> bool:
        if not isinstance(path, str | bytes | os.PathLike):
            return False
        name = os.fsdecode(path)
        if isinstance(dir_fd, int) and dir_fd >= 0:
            name = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), name)
        real = os.path.realpath(name)
        return any(real == r or real.startswith(r + os.sep) for r in roots)

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "open":
            path, _, flags = args
            if not isinstance(flags, int) or not flags & WRITE_FLAGS or not ours(path, None):
                return
        elif event not in WRITES or not ours(args[0], args[2 if event == "os.rename" else -1]):
            return
        seen[0] += 1
        if seen[0] != target:
            return
        os.write(out, b"c" if event == "open" else b"-")
        if mode == "after" and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            os.close(os.open(args[0], os.O_WRONLY | os.O_CREAT, 0o644))  # created, not written
        os.kill(os.getpid(), signal.SIGKILL)

    head = repo.repo.head.target
    run = runs.new_run_id()
    sys.addaudithook(hook)  # from here on every write counts, the record's too
    runs.RunRecord(run=run, intent="killpoint", base=str(head)).save(repo)
    box = open_sandbox(repo, run, 1, head)
    for name in FILES:
        box.write(name, b"[project]\nname = 'killed'\n")
    box.commit(dict.fromkeys(FILES, b"[project]\nname = 'killed'\n"), "killpoint")
    remove_worktree(repo, box.path)  # a run's release, once the node committed
    return seen[0]


def main() -> int:
    workdir = Path(sys.argv[1])
    for line in sys.stdin:
        k, mode = line.split()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: live, report the count if not killed
            os.close(r)
            try:
                os.write(w, f"done {life(workdir, int(k), mode, w)}".encode())
            except BaseException as exc:  # noqa: BLE001 - reported to the test, not raised
                os.write(w, f"error {type(exc).__name__}: {exc}".encode()[:500])
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as pipe:
            said = pipe.read().decode()
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            said = f"killed {said}"
        print(said or f"error status {status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
