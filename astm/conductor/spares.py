"""Model providers built ahead of the tickets that will use them.

Each ticket's engine run needs a provider of its own (its HTTP client belongs to that
run's event loop). Building one is not free: the OpenAI client makes a TLS context and
loads the CA bundle, 0.1 s on a quiet machine and 0.25 s under load, which a ticket that
waited for its parents would pay after they finished, on the track's critical path. Spares
are built on one background thread while the running tickets wait on the model, and
handed out one per run; a spare never used is closed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from astm.llm.base import Provider


class Spares:
    def __init__(self, build: Callable[[], Provider]) -> None:
        self._build = build
        self._pool: ThreadPoolExecutor | None = None
        self._ready: deque[Future[Provider]] = deque()
        self._lock = threading.Lock()

    def fill(self, wanted: int) -> None:
        """Have ``wanted`` spares built or building (never fewer than asked before)."""
        with self._lock:
            while len(self._ready) < wanted:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="astm-provider")
                self._ready.append(self._pool.submit(self._build))

    def take(self) -> Provider:
        """A spare (waiting for one being built), else a provider built now; a spare
        whose build failed is built again here, so its error is this run's."""
        with self._lock:
            spare = self._ready.popleft() if self._ready else None
        if spare is None or spare.cancel():  # none, or not started yet: build it here
            return self._build()
        try:
            return spare.result()
        except Exception:  # noqa: BLE001 - built again on this thread, raising here
            return self._build()

    def close(self) -> None:
        """Close the spares nobody took and stop the builder."""
        with self._lock:
            left, self._ready = list(self._ready), deque()
            pool, self._pool = self._pool, None
        for f in left:
            f.cancel()
        if pool is not None:
            pool.shutdown(wait=True)
        for f in left:
            if f.cancelled() or f.exception() is not None:
                continue
            with contextlib.suppress(Exception):  # an unused client: nothing to lose
                asyncio.run(f.result().aclose())
