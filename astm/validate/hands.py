"""ruff checks that go together: the leaves holding answers hold the batch until each has asked.

The answers of a wave of leaves come back together (the model works on them side by side),
but each leaf shapes its answer and writes its text before it asks ruff. The first to ask
found ruff free and started a process alone; the rest, and their router's guess
(``agents/speculate``), went in a second process after it: two ruff runs one after the
other on the critical path of every file (a track's ticket: 35 ms from its answers to its
landing, most of it those two runs).

So a leaf with an answer in hand takes a *hand* (``Hands.take``) and gives it back once it
has asked ruff, or once its attempt ends without asking. While a hand is out, requests wait
here; the last hand given back sends them all to ``ruff_batch`` at once, one batch. Only
answers already in hand are waited for, never one still at the model: a lone answer is
checked at once, as before. ``HOLD_MAX`` sends what waits if a hand were ever kept: a
bug here must cost time, never hang a run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

HOLD_MAX = 0.25  # seconds a request may wait for hands, whatever happens


class Hand:
    """One answer in hand; ``done`` is idempotent."""

    def __init__(self, hands: Hands) -> None:
        self._hands: Hands | None = hands

    def done(self) -> None:
        if self._hands is not None:
            hands, self._hands = self._hands, None
            hands._give_back()


class Hands:
    """One run's hands and the ruff requests they hold (``Pipeline.hands``)."""

    def __init__(self) -> None:
        self.out = 0
        self._held: list[tuple[Path, str, bytes, asyncio.Future[Any]]] = []
        self._timer: asyncio.TimerHandle | None = None

    def take(self) -> Hand:
        self.out += 1
        return Hand(self)

    def request(self, cwd: Path, relpath: str, data: bytes) -> asyncio.Future[Any]:
        """ruff's findings on ``data``, just written to ``cwd/relpath`` (``ruff_batch``):
        sent now if no hand is out, else with the others when the last hand is back."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._held.append((cwd, relpath, data, fut))
        if self.out <= 0:
            self._send()
        elif self._timer is None:
            self._timer = loop.call_later(HOLD_MAX, self._send)
        return fut

    def _give_back(self) -> None:
        self.out -= 1
        if self.out <= 0 and self._held:
            self._send()

    def _send(self) -> None:
        from astm.validate import ruff_batch

        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        held, self._held = self._held, []
        if not held:
            return
        answers = ruff_batch.findings_many([(cwd, rel, data) for cwd, rel, data, _ in held])
        for (*_, fut), answer in zip(held, answers):
            _chain(asyncio.wrap_future(answer), fut)


def _chain(source: asyncio.Future[Any], target: asyncio.Future[Any]) -> None:
    def copy(done: asyncio.Future[Any]) -> None:
        if target.done():
            return
        if done.cancelled():
            target.cancel()
        elif (exc := done.exception()) is not None:
            target.set_exception(exc)
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)
