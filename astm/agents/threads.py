"""The threads a run's blocking work (git, files, subprocesses) runs on: the process's.

A run used to make a thread pool of its own and shut it down at its end: each thread it
started cost its start-up, and ``Thread.start`` waits for the new thread to take the
interpreter lock, which the run's other threads hold (a run of three functions: 11 thread
starts, 20 ms of its 150; a track starts a run a ticket, four at a time). The threads are
now the process's, made once and kept, idle between runs, and ended when the command
exits (``close``); each run still waits for its own work, and only its own, before it
removes its sandboxes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from typing import Any, TypeVar

T = TypeVar("T")

# Threads at most: a run's blocking calls are bounded by its ``jobs`` slots (and a few
# more: sandboxes, commits); a track runs ``jobs`` tickets at once. None of the work waits
# for other work of the pool, so a full pool only queues.
MAX_THREADS = 64

_lock = threading.Lock()
_shared: list[ThreadPoolExecutor] = []


def _forget() -> None:
    """A forked child (a track's worker) has none of its parent's threads: a pool that
    believes it has idle ones would never start one, and its work would wait forever."""
    global _lock
    _lock = threading.Lock()
    _shared.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)


def shared() -> ThreadPoolExecutor:
    """The process's pool (made on first use: a command server never makes it, and the
    children it forks each make their own)."""
    with _lock:
        if not _shared:
            _shared.append(ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="astm"))
        return _shared[0]


class RunThreads(Executor):
    """One run's view of the shared pool: what it submits, and waiting for that alone."""

    def __init__(self) -> None:
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after the run's shutdown")
            future = shared().submit(fn, *args, **kwargs)
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more work for this run; with ``wait``, return once all of it has ended."""
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        if cancel_futures:
            for f in pending:
                f.cancel()
        if wait and pending:
            wait_for(pending)


def close() -> None:
    """End the process's threads (idle by now): the command is over, and an exit that
    finds a thread alive waits for the interpreter's whole teardown (``astm.__main__``)."""
    with _lock:
        pool = _shared.pop() if _shared else None
    if pool is not None:
        pool.shutdown(wait=True)
