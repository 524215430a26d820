"""Model-server failures as one printable line: no traceback, no credential, the node named."""

from __future__ import annotations

from dataclasses import dataclass

import openai
from pydantic import ValidationError

from astm.config import redact
from astm.errors import ModelError, printable
from astm.llm.transport import plural

__all__ = ["Where", "error", "first_error", "secs"]


@dataclass(frozen=True)
class Where:
    """What a failure's line may name: the endpoint (credentials masked), the model, the
    key's variable; and what it must never show (``secrets``, longest first)."""

    base_url: str
    model: str
    api_key_env: str
    has_key: bool
    timeout: float
    secrets: list[str]


def error(exc: openai.OpenAIError, where: Where, node: str, retried: int = 0) -> ModelError:
    """One line for ``exc``."""
    retries = plural(retried, "retry", "retries")
    if isinstance(exc, openai.APITimeoutError):  # before its base, APIConnectionError
        msg = f"model request timed out after {where.timeout:g}s"
    elif isinstance(exc, openai.APIConnectionError):
        msg = f"cannot reach the model at {where.base_url}"
    elif isinstance(exc, openai.AuthenticationError):
        # The server's text may echo part of the key (OpenAI does): never repeat it.
        msg = (
            f"the model server refused the API key (from ${where.api_key_env})"
            if where.has_key
            else f"the model server wants an API key: set ${where.api_key_env}"
        )
    elif isinstance(exc, openai.RateLimitError):
        msg = f"rate limited by the model server (HTTP 429) after {retries}"
    elif isinstance(exc, openai.NotFoundError):
        msg = f"model {printable(where.model)} not found at {where.base_url}"
    elif isinstance(exc, openai.APIStatusError):
        text = detail(exc.body, where.secrets)
        msg = f"model server error HTTP {exc.status_code}" + (f": {text}" if text else "")
    else:
        msg = f"unexpected answer from the model server ({type(exc).__name__})"
    return ModelError(msg, node=node)


def detail(body: object, secrets: list[str]) -> str:
    """The server's own short reason, if it gave one: credentials masked, control
    characters escaped (it reaches the terminal and the run record)."""
    text = body.get("message") if isinstance(body, dict) else None
    if not isinstance(text, str):
        return ""
    text = printable(" ".join(redact(text, secrets).split()))
    return text if len(text) <= 160 else text[:157] + "..."


def secs(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds:.1f}s"


def first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in err["loc"])
    text = f"{loc}: {err['msg']}" if loc else str(err["msg"])
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:117] + "..."
