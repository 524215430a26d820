"""Sandboxes kept between the runs of one process, and removed when it is done with them.

A track runs a dozen engine runs in one process, each opening and removing four or so
sandboxes: making one is about ten file system operations (7 ms of CPU on this project's
machine) and removing one 3 ms more, on the interpreter lock the other tickets' runs need.
A run given a ``Depot`` (``ApplyOptions.depot``) takes an idle sandbox of the same
repository when there is one (``Sandbox.reset``: a few unlinks and a HEAD file) and, when
it ends without error, hands its sandboxes back instead of removing them.

A command run by ``astm`` itself (``__main__``) gets the process's depot (``at_exit``),
emptied after its result has been reported: a served command's caller no longer waits for
the removals. Whoever makes a depot closes it; a depot of a dead process is what
``astm gc`` removes (a sandbox's marker names its process; gc leaves those of live ones).
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from astm.workspace.repo import Repo
    from astm.workspace.sandbox import Sandbox

MAX_IDLE = 32  # idle sandboxes kept at once; past it the oldest go


class Depot:
    def __init__(self, max_idle: int = MAX_IDLE) -> None:
        self.max_idle = max_idle
        self._lock = threading.Lock()
        self._idle: list[Sandbox] = []
        self._closed = False

    def take(self, repo: Repo) -> Sandbox | None:
        """An idle sandbox of ``repo``'s under the current temp dir (the caller resets it)."""
        from astm.workspace.sandbox import sandbox_root

        root = sandbox_root()
        with self._lock:
            for i in range(len(self._idle) - 1, -1, -1):
                box = self._idle[i]
                if box.repo.common == repo.common and box.path.parent == root:
                    return self._idle.pop(i)
        return None

    def keep(self, boxes: list[Sandbox]) -> list[Sandbox]:
        """Hold ``boxes`` for later runs; returns those it will not hold (to remove)."""
        with self._lock:
            if self._closed:
                return boxes
            self._idle.extend(boxes)
            over = len(self._idle) - self.max_idle
            if over <= 0:
                return []
            dropped, self._idle = self._idle[:over], self._idle[over:]
            return dropped

    def close(self) -> None:
        """Remove every idle sandbox; later ``keep`` calls hand theirs back to be removed."""
        with self._lock:
            self._closed = True
            boxes, self._idle = self._idle, []
        for box in boxes:
            with contextlib.suppress(Exception):  # never raises: gc finishes what is left
                box.close()

    def idle(self) -> int:
        """How many sandboxes it holds now."""
        return len(self._idle)


_exit: Depot | None = None
_exit_pid = 0


def at_exit() -> Depot | None:
    """The process's depot when ``astm`` runs as a command (``enable_at_exit``), else None:
    a library or test caller's runs remove their sandboxes as they end."""
    if _exit is not None and _exit_pid == os.getpid():
        return _exit
    return None


def enable_at_exit() -> None:
    """``astm``'s entry point: commands keep their sandboxes until ``close_at_exit``."""
    global _exit, _exit_pid
    _exit, _exit_pid = Depot(), os.getpid()


def close_at_exit() -> None:
    """Remove what the process's depot holds (after the command's result is out)."""
    depot = at_exit()
    if depot is not None:
        depot.close()
