"""Build the model client off the critical path.

``import openai`` takes ~0.6 s on a quiet machine (seconds under load), all of it before
the first model call could be sent. ``WarmProvider`` builds the provider on a background
thread while the main thread opens the repository, creates sandboxes and parses; the first
call that needs the provider waits for it (and re-raises anything the build raised).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from astm.llm.base import Provider


def preload_client() -> None:
    """Import ``openai`` on a thread while the caller goes on (config, repository, engine).

    Started once pydantic and asyncio are imported on the caller's thread (astm.config
    imports pydantic), so both threads never import the same package at once: the thread
    imports only what ``openai`` alone needs, and ``WarmProvider``'s import of
    ``astm.llm.openai_provider`` waits on Python's import lock for what is in flight."""
    import asyncio  # noqa: F401 - loaded here, before the thread, for the same reason

    import pydantic  # noqa: F401

    threading.Thread(
        target=importlib.import_module, args=("openai",), name="astm-import-openai", daemon=True
    ).start()


class WarmProvider:
    """A provider being built on a thread; attribute access waits for it."""

    name = "openai"  # read by the engine before any call: must not wait

    def __init__(self, build: Callable[[], Provider]) -> None:
        self._done = threading.Event()
        self._real: Provider | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._build, args=(build,), name="astm-model-client", daemon=True
        )
        self._thread.start()

    def _build(self, build: Callable[[], Provider]) -> None:
        try:
            self._real = build()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            self._error = exc
        finally:
            self._done.set()

    def resolve(self) -> Provider:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._real is not None
        return self._real

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.resolve(), attr)
