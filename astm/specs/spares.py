"""The sandboxes of a build's finished modules, taken by the modules after them.

Every module's sandbox holds the same input (the build's sources and configuration) and
the generated modules it was shown, each of which a later module writes again in its final
form. So a finished module's sandbox serves the next module as well as a new one, without
the opening (a worktree) and the input's writes: a build of 20 modules in 4 levels wrote
the input into 20 sandboxes, the levels after the first now mostly take the first's.

A module opens its sandbox while the model answers it, at the moment the modules of the
level before validate: opening then competed with them for the interpreter. It now waits
for one of them to finish (or for its own answers, whichever is first) when one is
finishing, and opens a sandbox of its own only when none is.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from astm.specs.engine_bridge import Sandbox


class Spares:
    def __init__(self) -> None:
        self.idle: list[Sandbox] = []
        self.finishing = 0  # modules whose answers are in, not yet done: a spare may come
        self._waiters: list[asyncio.Future[None]] = []

    def started_finishing(self) -> None:
        self.finishing += 1

    def done(self, box: Sandbox | None) -> None:
        """A module that was finishing is done: its sandbox (None: it failed) is spare."""
        self.finishing -= 1
        if box is not None:
            self.idle.append(box)
        self._wake()

    async def take(self, give_up: asyncio.Event) -> Sandbox | None:
        """A spare sandbox, waiting for one while a module is finishing; None when none
        is (open one) or once ``give_up`` is set (this module's answers are in)."""
        while not self.idle and self.finishing > 0 and not give_up.is_set():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            stop = asyncio.ensure_future(give_up.wait())
            try:
                await asyncio.wait([waiter, stop], return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        return self.idle.pop() if self.idle else None

    def _wake(self) -> None:
        for w in self._waiters:
            if not w.done():
                w.set_result(None)
        self._waiters.clear()
