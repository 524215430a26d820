"""Where the command server listens, and which commands it may run.

Imported on every command, the pre-commit hook's among them (``served`` says no to it
before anything else is loaded): the standard library only, imported where it is used.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

SWITCH = "ASTM_SERVER"  # "0", "off", "no" or "false": every command runs in its own process
IDLE = "ASTM_SERVER_IDLE"  # seconds the server waits for a command before it exits
IDLE_DEFAULT = 1800.0
# Read by astm's modules when they are imported, so a served command could not see a
# different value: a command given any of these runs in its own process...
LOCAL_ONLY = ("ASTM_PAUSE_AT", "ASTM_CRASH_AT")
# ...and this one is part of the server's name (each value gets its own server).
KEYED = ("ASTM_GENERATED_DIR",)
# Commands a server runs. Not ``hook`` (its fast path imports neither click nor a model
# client) nor ``server`` (it talks to the server itself); not ``--step`` either (the
# clutch opens $EDITOR, which needs the terminal as its controlling one).
SERVED = frozenset({
    "apply", "build", "config", "demo", "gc", "index", "new", "pick", "runs", "skill",
    "test", "track", "undo", "view",
})
MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether this platform and environment let a command be served."""
    if environ.get(SWITCH, "").strip().lower() in ("0", "off", "no", "false"):
        return False
    if any(environ.get(v) for v in LOCAL_ONLY):
        return False
    import socket

    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX") and hasattr(socket.socket, "sendmsg")


def served(argv: list[str]) -> bool:
    """Whether ``argv`` (without the program name) names a command the server runs."""
    if not argv or argv[0] not in SERVED:
        return False
    return "--step" not in argv and "--help" not in argv and "-h" not in argv


def runtime_dir(environ: Mapping[str, str]) -> Path | None:
    """The user's server directory (made 0700), or None if it is not provably private:
    another user's, a symlink, or readable by others."""
    import stat
    from pathlib import Path

    base = environ.get("XDG_RUNTIME_DIR") or environ.get("TMPDIR") or "/tmp"
    path = Path(base) / f"astm-server-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return path


def fingerprint(environ: Mapping[str, str], package: Path | None = None) -> str:
    """A digest of what a server's preloaded modules depend on: the interpreter, the
    module path and when each of its folders last changed (``pip install`` adds or removes
    a package's folder there), the ``KEYED`` settings, and every file of astm (name, size,
    modification time)."""
    import hashlib
    from pathlib import Path

    h = hashlib.blake2b(digest_size=10)
    for part in (sys.executable, sys.version, *sys.path, *(f"{k}={environ.get(k, '')}" for k in KEYED)):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    for entry in sys.path:  # a package installed, upgraded or removed changes its folder
        try:
            h.update(str(os.stat(entry or ".").st_mtime_ns).encode() + b"\0")
        except OSError:
            h.update(b"-\0")
    root = package or Path(__file__).resolve().parents[1]
    stack = [str(root)]
    while stack:
        for entry in sorted(os.scandir(stack.pop()), key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                h.update(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def socket_path(environ: Mapping[str, str]) -> Path | None:
    """The socket of the server for this interpreter and astm, or None where there is
    no private directory for it or its path is too long for a Unix socket."""
    where = runtime_dir(environ)
    if where is None:
        return None
    path = where / f"{fingerprint(environ)}.sock"
    return path if len(os.fsencode(path)) <= MAX_SOCKET_PATH else None


def lock_path(sock: Path) -> Path:
    """The file a live (or starting) server holds locked: one server per socket."""
    return sock.with_suffix(".lock")
