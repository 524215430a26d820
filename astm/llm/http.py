"""The HTTP client under a provider's ``openai`` client: one TLS context per process.

Making a TLS context loads the CA bundle (50-90 ms of CPU), and ``openai.AsyncOpenAI``
makes one for each client; a track makes a client per ticket. Here the context is made
once, the way the client's HTTP library makes its own (``SSL_CERT_FILE`` and the like
honoured), and every client is handed it.
"""

from __future__ import annotations

import functools
import os
import ssl
import sys
from typing import Any

import openai

CERT_SETTINGS = ("SSL_CERT_FILE", "SSL_CERT_DIR")  # what the HTTP library's context reads


def tls_context() -> ssl.SSLContext | None:
    """The process's TLS context; None where the HTTP library does not say how it makes
    one (each client then makes its own, as before). One per value of the certificate
    settings: a command server's child keeps the server's only if its own are the same."""
    return _context(tuple(os.environ.get(k) for k in CERT_SETTINGS))


@functools.cache
def _context(settings: tuple[str | None, ...]) -> ssl.SSLContext | None:
    http = next((k for k in openai.DefaultAsyncHttpxClient.__mro__ if k.__name__ == "AsyncClient"), None)
    package = sys.modules.get(http.__module__.split(".")[0]) if http is not None else None
    make = getattr(package, "create_ssl_context", None)
    return make() if callable(make) else None


def client_options(timeout: float) -> dict[str, Any]:
    """What ``openai.AsyncOpenAI`` takes besides its own options: the HTTP client."""
    ctx = tls_context()
    if ctx is None:
        return {}
    return {"http_client": openai.DefaultAsyncHttpxClient(timeout=timeout, verify=ctx)}
