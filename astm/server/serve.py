"""The command server's loop: preload, listen, fork a child per command; exit when idle.

The server itself never runs a command and starts no thread, so every child begins as
the state right after the imports: as clean as a new ``astm`` process, without its wait.
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

from astm.server import address, wire

# What commands import: every module of astm (found by walking the package; importing one
# runs nothing, ``astm.__main__`` and the child's code included), and what the model
# client loads on its first request (anyio's backend, found by a profile: 0.16 s).
THIRD_PARTY = ("tree_sitter_python", "tree_sitter_toml", "importlib.readers")  # and llm/warm.FIRST_REQUEST
REQUEST_SECONDS = 5.0  # for a caller to send its request once connected
CHECK_EVERY = 30.0  # seconds between checks that the socket and astm's files are unchanged


def main(sock_path: str) -> None:
    path = Path(sock_path)
    lock = open(address.lock_path(path), "a")  # noqa: SIM115 - held for the server's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another server has it
    preload()
    # Everything loaded so far lives as long as the server: out of the collector's sight,
    # a child's first collection does not walk (and so copy) every page it shares.
    gc.freeze()
    if threading.active_count() != 1:
        return  # a preloaded module started a thread: forking would copy it half-done
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        path.unlink(missing_ok=True)  # a dead server's (we hold the lock)
        listener.bind(str(path))
    finally:
        os.umask(old)
    listener.listen(64)
    ino = os.stat(path).st_ino
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    try:
        loop(listener, path, ino)
    finally:
        with suppress(OSError):
            if os.stat(path).st_ino == ino:
                path.unlink()


def loop(listener: socket.socket, path: Path, ino: int) -> None:
    idle = _idle_seconds()
    started = last = time.time()
    served = 0
    while True:
        ready, _, _ = select.select([listener], [], [], min(CHECK_EVERY, idle))
        if not ready:
            if time.time() - last >= idle or not _still_ours(path, ino):
                return
            continue
        conn, _ = listener.accept()
        if not _same_user(conn):
            conn.close()
            continue
        last = time.time()
        conn.settimeout(REQUEST_SECONDS)  # a caller stopped mid-request must not stall the server
        try:
            request, fds = wire.receive(conn, max_fds=3)
        except wire.WireError:
            conn.close()
            continue
        conn.settimeout(None)
        op = request.get("op")
        if op == "run" and len(fds) == 3:
            served += 1
            if os.fork() == 0:
                listener.close()
                from astm.server import child

                child.serve(conn, request, fds)  # never returns
        elif op in ("status", "stop"):
            with suppress(OSError):
                wire.send(conn, {"pid": os.getpid(), "started": started, "served": served, "idle": idle})
            if op == "stop":
                conn.close()
                return
        else:
            with suppress(OSError):
                wire.send(conn, {"refused": f"unknown request {op!r}"})
        for fd in fds:
            os.close(fd)
        conn.close()


def preload() -> None:
    import pkgutil

    import astm

    names = [m.name for m in pkgutil.walk_packages(astm.__path__, "astm.")]
    for name in [*names, *THIRD_PARTY]:  # (the child's own code too: none of it runs here)
        # A module that cannot load here is loaded (and its error reported) by its command.
        with suppress(Exception):
            importlib.import_module(name)
    _warm()


def _warm() -> None:
    from astm.llm.warm import warm_client

    warm_client()


def _idle_seconds() -> float:
    try:
        return max(1.0, float(os.environ.get(address.IDLE, "")))
    except ValueError:
        return address.IDLE_DEFAULT


def _same_user(conn: socket.socket) -> bool:
    """The peer runs as this user (the directory is private; this is the second lock)."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:
        return True  # the 0700 directory is the check where the kernel does not say
    try:
        _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("3i")))
    except OSError:
        return False
    return uid == os.getuid()


def _still_ours(path: Path, ino: int) -> bool:
    """The socket is still this server's, and astm's files are still the ones it loaded
    (an upgraded astm is served by a new server at once, and this one exits)."""
    try:
        return os.stat(path).st_ino == ino and address.socket_path(os.environ) == path
    except OSError:
        return False


if __name__ == "__main__":
    main(sys.argv[1])
