"""The ``astm`` process as a thin client of the command server.

``delegate`` hands the command to a running server and waits for its exit code,
forwarding Ctrl-C (and SIGTERM, SIGHUP, SIGQUIT) to the child that runs it, and
stopping it with itself on Ctrl-Z (``fg`` resumes both); it answers
None whenever the command should run here instead: the server is off, absent, starting,
or refuses. ``spawn`` starts a server, detached, for the commands that follow.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

from astm.server import address, wire

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# How the server is started: the caller's module path first, then the server's loop.
BOOT = "import json, sys; sys.path[:] = json.loads(sys.argv[1]); from astm.server.serve import main; main(sys.argv[2])"


def delegate(argv: list[str]) -> int | None:
    """Run ``argv`` in the server and return its exit code; None: run it here.

    Sets ``missing`` to the socket to start a server on when there was none."""
    missing.clear()
    if not address.served(argv) or not address.enabled(os.environ):
        return None
    if sys.argv[0].endswith("__main__.py"):
        # ``python -m astm``: the current directory is first on the module path, so each
        # directory would need a server of its own; the ``astm`` script shares one.
        return None
    path = address.socket_path(os.environ)
    if path is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        missing.append(path)
        return None
    with sock:
        return _run(sock, argv)


missing: list[Path] = []


def _run(sock: socket.socket, argv: list[str]) -> int | None:
    streams = (sys.stdin, sys.stdout, sys.stderr)
    if any(s is None for s in streams):
        return None  # a closed standard stream: Python's own handling, here
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        request = {
            "op": "run", "argv": [sys.argv[0], *argv], "cwd": os.getcwd(), "env": dict(os.environ),
            "umask": umask, "path": sys.path,
            "streams": [[s.encoding, s.errors] for s in streams],
        }
        wire.send(sock, request, fds=(0, 1, 2))
        first, _ = wire.receive(sock)
    except (OSError, wire.WireError):
        return None  # no working directory, a server going away: run it here
    pid = first.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return None  # refused
    fatal: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        try:
            os.kill(pid, signum)
        except OSError:
            pass
        if signum != signal.SIGINT:
            fatal.append(signum)

    def suspend(signum: int, frame: FrameType | None) -> None:
        """Ctrl-Z: the child stops, then this process (the shell's job); ``fg`` resumes both."""
        try:
            # SIGSTOP: the server's detached process group is orphaned, and the system
            # discards a SIGTSTP sent to an orphaned group.
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            pass
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # stopped here until SIGCONT
        signal.signal(signal.SIGTSTP, suspend)
        try:
            os.kill(pid, signal.SIGCONT)
        except OSError:
            pass

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, suspend)
    try:
        reply, _ = wire.receive(sock)
        code = reply.get("exit")
    except wire.WireError:
        code = None
    for s, h in previous.items():
        signal.signal(s, h)
    if fatal:  # the child was told to die of it: so does this process, as it would have
        signal.signal(fatal[0], signal.SIG_DFL)
        os.kill(os.getpid(), fatal[0])
    if not isinstance(code, int):
        print(f"astm: error: the command's process ({pid}) ended without an exit code", file=sys.stderr)
        return 70
    return code


def spawn(path: Path) -> None:
    """Start a server for ``path``, detached, unless one is starting already."""
    try:
        with open(address.lock_path(path), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a starting server: leave it
    except OSError:
        return
    import json
    import subprocess

    try:
        subprocess.Popen(
            [sys.executable, "-c", BOOT, json.dumps(sys.path), str(path)],
            cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )
    except OSError:
        pass
