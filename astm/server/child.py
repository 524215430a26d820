"""A forked child of the command server becoming the caller's ``astm`` process.

It takes over the caller's standard streams, working directory, environment, umask,
argv and module path, forgets what the server's own environment settled (the temporary
directory, libgit2's configuration search path), runs the command as ``astm.__main__``
does, and sends the exit code back once its output is out. If the caller is killed
outright (its signals are passed on otherwise), the child stops as on a Ctrl-C: nothing
is left half-made.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import sys
import threading
from typing import Any, NoReturn

from astm.server import wire


def serve(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> NoReturn:
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # its own subprocesses are waited for
        signal.signal(signal.SIGINT, signal.default_int_handler)
        become(request, fds)
        wire.send(conn, {"pid": os.getpid()})
    except BaseException:  # noqa: BLE001 - the caller runs the command itself
        os._exit(70)
    threading.Thread(target=_watch, args=(conn,), name="astm-client-watch", daemon=True).start()
    from astm.__main__ import command, finish

    finish(command(), report=lambda c: _report(conn, c))


def become(request: dict[str, Any], fds: list[int]) -> None:
    """This process, as the caller's: streams, directory, environment, argv, path."""
    for target, fd in enumerate(fds):
        if fd != target:
            os.dup2(fd, target)
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(int(request["umask"]))
    sys.argv = list(request["argv"])
    sys.path[:] = list(request["path"])
    import tempfile

    tempfile.tempdir = None  # read again from TMPDIR, as the caller's would be
    _reset_libgit2()
    streams = request.get("streams") or [[None, None]] * 3
    sys.stdin = sys.__stdin__ = _stream(0, "r", *streams[0])
    sys.stdout = sys.__stdout__ = _stream(1, "w", *streams[1])
    sys.stderr = sys.__stderr__ = _stream(2, "w", *streams[2])


def _stream(fd: int, mode: str, encoding: str | None, errors: str | None) -> io.TextIOWrapper:
    """A standard stream as Python makes it at start-up: stdout line-buffered on a
    terminal, stderr always."""
    line = mode == "w" and (fd == 2 or os.isatty(fd))
    raw = open(fd, mode + "b", closefd=False)  # noqa: SIM115 - it lives as long as the process
    return io.TextIOWrapper(raw, encoding=encoding or "utf-8", errors=errors or "strict", line_buffering=line)


def _reset_libgit2() -> None:
    """libgit2 reads $HOME and $XDG_CONFIG_HOME once, when pygit2 is imported: the
    server's values would stand for the caller's. Setting a level to None guesses again."""
    if "pygit2" not in sys.modules:
        return
    import pygit2

    for level in ("GLOBAL", "XDG", "SYSTEM", "PROGRAMDATA"):
        try:
            # None is libgit2's "guess again" (git_libgit2_opts SET_SEARCH_PATH with NULL).
            pygit2.settings.search_path[getattr(pygit2.enums.ConfigLevel, level)] = None  # pyright: ignore[reportArgumentType]
        except (AttributeError, ValueError, pygit2.GitError):
            pass


def _watch(conn: socket.socket) -> None:
    """A caller that goes away stops the command as a Ctrl-C would."""
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGINT)  # ignored once the command is done (__main__.command)


def _report(conn: socket.socket, code: int) -> None:
    try:
        wire.send(conn, {"exit": code})
    except OSError:
        pass
