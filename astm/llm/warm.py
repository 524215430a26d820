"""Build the model client off the critical path.

``import openai`` takes ~0.6 s on a quiet machine (seconds under load), all of it before
the first model call could be sent. ``WarmProvider`` builds the provider on a background
thread while the main thread opens the repository, creates sandboxes and parses; the first
call that needs the provider waits for it (and re-raises anything the build raised).
"""

from __future__ import annotations

import contextlib
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


# What a client's first request imports (the HTTP library's connection and parser, the
# event loop's streams, the answer's JSON parser): names differ between versions of the
# HTTP library, and a name missing is only a module that loads on first use again.
FIRST_REQUEST = (
    "anyio._backends._asyncio", "anyio.streams.memory", "anyio.streams.stapled", "anyio.streams.tls",
    "encodings.idna",  # the client's first request encodes its host name with it
    "h11", "httpcore._async.http11", "httpcore2._async.http11", "jiter", "truststore",
)


_warmed: list[bool] = []  # a fork's child inherits it: its parent warmed the same modules


def warm_client() -> None:
    """Load what the model client loads on its first use, in a process about to fork
    (the command server, a track's scheduler), once: a client built with no key of
    anyone's and never sending anything, on the process's TLS context (50-190 ms to make,
    kept for children whose certificate settings are this process's: ``astm.llm.http``);
    its chat resources; an answer's models; what a first request imports."""
    if _warmed:
        return
    _warmed.append(True)
    try:
        import openai

        from astm.llm import http

        # On the kept TLS context: a client of openai's own making loads the CA bundle again.
        client = openai.AsyncOpenAI(api_key="astm-preload", base_url="http://127.0.0.1:9/v1",
                                    **http.client_options(5.0))
        client.chat.completions  # noqa: B018 - the attribute access is the import
    except Exception:  # noqa: BLE001 - the run builds its client and reports what fails
        return
    with contextlib.suppress(Exception):
        from openai.types.chat import ChatCompletion

        ChatCompletion.construct(**_ANSWER)  # the client's own path: openai's construct
    for name in FIRST_REQUEST:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - see FIRST_REQUEST
            continue


# An answer as the client parses one: its first parse completes the schemas of pydantic
# models deferred at import (10 ms of CPU; 60 ms under a profiler).
_ANSWER: dict[str, Any] = {
    "id": "preload", "object": "chat.completion", "created": 0, "model": "preload",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ""}}],
    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
}


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
