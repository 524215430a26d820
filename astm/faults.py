"""Fault injection for the interrupt tests: ``ASTM_PAUSE_AT=<point>`` (docs/cli.md).

At the named point astm prints ``astm: paused at <point> (pid N)`` to stderr and waits (once,
up to 60 s) for a SIGINT; the SIGINT is then handed on to whatever handles it at that point,
exactly as a Ctrl-C arriving there would be. Points: ``import`` (before the CLI is
imported), ``startup`` (before the command is dispatched), any event state of a run
(``routing``, ``generating``, ``committed``, ``composing``, ``testing``, ``landed``...),
``cleanup`` (after landing, while the run removes its sandboxes) and ``summary`` (the run
returned; the CLI prints it). Read from the environment on each call; no other effect.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from types import FrameType

PAUSE_SECONDS = 60.0
_paused: list[str] = []  # the pause happens once, the first time the point is reached


def pause_at(point: str) -> None:
    if os.environ.get("ASTM_PAUSE_AT") != point or threading.current_thread() is not threading.main_thread():
        return
    if _paused:
        return
    _paused.append(point)
    hit: list[int] = []

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        hit.append(signum)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        print(f"astm: paused at {point} (pid {os.getpid()})", file=sys.__stderr__, flush=True)
        deadline = time.monotonic() + PAUSE_SECONDS
        while not hit and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        signal.signal(signal.SIGINT, previous)
    if hit:
        signal.raise_signal(signal.SIGINT)  # to the handler in place here (asyncio's, Python's)
