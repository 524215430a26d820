"""A scriptable OpenAI-compatible server on 127.0.0.1, standard library only.

It serves ``POST /v1/chat/completions`` from a queue of scripted replies (then from
``responder``), and records every request so tests can assert what the client sent::

    def test_x(openai_server):
        openai_server.enqueue({"mine": True, "intent": "add a key"})   # JSON content
        openai_server.enqueue(status=429, headers={"retry-after-ms": "1"}, times=3)
        openai_server.enqueue("late", delay=5)                          # a hang
        openai_server.responder = lambda body: "text"                  # when the queue is empty
        openai_server.emulate("llama-cpp-python")                      # a server flavour
        settings = Settings(model="m", base_url=openai_server.base_url)

Server flavours differ in the ``response_format`` they take (``schema_status`` and
``object_status`` answer those with an error), in how many requests they serve at once
(``slots``: the others wait their turn, as llama.cpp's single slot makes them) and in how
they send (``trickle``: a byte at a time). ``max_in_flight`` is the most requests the
server ever held at once: what the client's concurrency limit let through.
Hangs wait on an Event, so ``close()`` ends them at once; no handler sleeps unbounded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = ["FLAVOURS", "LoopbackServer", "Recorded", "Reply", "openai_server", "prose"]

CHAT_PATH = "/v1/chat/completions"

# What each kind of server does with ``response_format`` (None: takes it).
FLAVOURS: dict[str, dict[str, int | None]] = {
    "openai": {"schema_status": None, "object_status": None},
    "vllm": {"schema_status": None, "object_status": None},
    "ollama": {"schema_status": None, "object_status": None},
    "llama.cpp": {"schema_status": None, "object_status": None},  # llama-server (C++)
    # llama-cpp-python[server]: HTTP 500 on json_schema, json_object (with a schema) fine
    "llama-cpp-python": {"schema_status": 500, "object_status": None},
    # an older or minimal server: no structured output at all
    "plain": {"schema_status": 400, "object_status": 400},
}


def prose(answer: dict[str, Any] | list[Any]) -> str:
    """``answer`` as a chatty small model writes it: prose around a fenced block."""
    return f"Sure! Here is the answer you asked for:\n```json\n{json.dumps(answer, indent=2)}\n```\nHope this helps."


@dataclass(frozen=True)
class Reply:
    """One scripted answer: assistant ``content``, or an error ``status``, or ``raw`` bytes."""

    content: str | None = None
    status: int = 200
    error: dict[str, Any] | None = None  # the "error" object of an error body
    delay: float = 0.0  # seconds to wait before answering; ended early by close()
    raw: bytes | None = None  # sent verbatim as the body (with ``status``)
    headers: dict[str, str] = field(default_factory=dict)
    usage: tuple[int, int] | None = (11, 7)  # (prompt, completion); None: no usage field
    finish_reason: str = "stop"
    trickle: float = 0.0  # seconds between the body's bytes; 0: all at once


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it; header names lower-cased."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # a burst of parallel requests: no connect dropped and retried 1 s later


class LoopbackServer:
    """The server; ``base_url`` ends in ``/v1`` like the OpenAI one."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.responder: Callable[[dict[str, Any]], str] | None = None
        self.responder_delay = 0.0  # seconds each responder answer waits (a slow model)
        self.reject_json_schema = False  # answer 400 to response_format json_schema
        self.schema_status: int | None = None  # answer this to response_format json_schema
        self.object_status: int | None = None  # answer this to response_format json_object
        self.in_flight = 0
        self.max_in_flight = 0
        self._slots: threading.Semaphore | None = None
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def emulate(self, flavour: str) -> None:
        """Behave like one kind of server (``FLAVOURS``)."""
        for name, value in FLAVOURS[flavour].items():
            setattr(self, name, value)

    def serve_one_at_a_time(self, slots: int = 1) -> None:
        """Serve ``slots`` requests at once; the others wait in the server, unanswered."""
        self._slots = threading.Semaphore(slots)

    def enqueue(
        self,
        content: str | dict[str, Any] | list[Any] | None = None,
        *,
        status: int = 200,
        error: dict[str, Any] | None = None,
        delay: float = 0.0,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        usage: tuple[int, int] | None = (11, 7),
        finish_reason: str = "stop",
        trickle: float = 0.0,
        times: int = 1,
    ) -> None:
        """Script the next ``times`` replies; a dict or list ``content`` is sent as JSON text."""
        if isinstance(content, (dict, list)):
            content = json.dumps(content)
        reply = Reply(
            content, status, error, delay, raw, dict(headers or {}), usage, finish_reason, trickle
        )
        with self._lock:
            self._queue.extend([reply] * times)

    @property
    def pending(self) -> int:
        """Scripted replies not yet served."""
        with self._lock:
            return len(self._queue)

    def close(self) -> None:
        self._stop.set()  # wakes every handler waiting out a delay
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # ---- used by the handler thread ----

    def _next(self, body: dict[str, Any]) -> Reply:
        fmt = body.get("response_format")
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        status = {"json_schema": self.schema_status, "json_object": self.object_status}.get(
            str(kind)
        )
        if kind == "json_schema" and self.reject_json_schema:
            status = 400
        if status is not None:
            return Reply(
                status=status,
                error={
                    "message": f"response_format of type {kind} is not supported",
                    "type": "invalid_request_error" if status < 500 else "server_error",
                    "param": "response_format",
                    "code": None,
                },
            )
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return Reply(self.responder(body), delay=self.responder_delay)
        # No script left: fail loudly, and tell the client not to retry.
        return Reply(
            status=500,
            error={"message": "loopback server: no scripted reply", "type": "server_error"},
            headers={"x-should-retry": "false"},
        )


def _completion(reply: Reply, model: object) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model if isinstance(model, str) else "loopback",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": reply.finish_reason,
            }
        ],
    }
    if reply.usage is not None:
        prompt, completion = reply.usage
        out["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return out


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        trickle: float = 0.0  # this reply's seconds between bytes
        counted: bool = False  # this request is counted in ``in_flight``
        # TCP_NODELAY, as model servers set it (uvicorn, llama.cpp's server): the stdlib
        # writes a reply's headers and its body apart, and on a kept-alive connection
        # Nagle's algorithm held the body until the client's delayed ACK, 40 ms later.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            with server._lock:
                server.requests.append(
                    Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw)
                )
            if self.path != CHAT_PATH:
                self._send(404, {"error": {"message": f"no route {self.path}"}}, {})
                return
            with server._lock:
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            self.counted = True
            try:
                if server._slots is not None:
                    while not server._slots.acquire(timeout=0.05):
                        if server._stop.is_set():
                            return
                try:
                    self._answer(body)
                finally:
                    if server._slots is not None:
                        server._slots.release()
            finally:
                self._answered()

        def _answered(self) -> None:
            """The request leaves the count of those in flight, once: before its reply is
            written, since the client may send its next request the moment it reads the
            reply, before this thread runs again (a fast machine saw two "in flight")."""
            if self.counted:
                self.counted = False
                with server._lock:
                    server.in_flight -= 1

        def _answer(self, body: dict[str, Any]) -> None:
            reply = server._next(body)
            self.trickle = reply.trickle
            if reply.delay and server._stop.wait(reply.delay):
                return  # shutting down: drop the connection unanswered
            self._answered()
            if reply.raw is not None:
                self._send_bytes(reply.status, reply.raw, reply.headers)
            elif reply.status != 200:
                self._send(
                    reply.status, {"error": reply.error or {"message": "error"}}, reply.headers
                )
            else:
                self._send(200, _completion(reply, body.get("model")), reply.headers)

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            self._send_bytes(status, data, {"content-type": "application/json", **headers})

        def _send_bytes(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                if not getattr(self, "trickle", 0.0):
                    self.wfile.write(data)
                    return
                for i in range(len(data)):  # a byte at a time: every read sees progress
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    if server._stop.wait(self.trickle):
                        return
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout); nothing to tell it

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


@pytest.fixture
def openai_server() -> Iterator[LoopbackServer]:
    """A running ``LoopbackServer``, shut down after the test."""
    server = LoopbackServer()
    try:
        yield server
    finally:
        server.close()
