"""The pure parts of talking to a model server: how long to wait before a retry, how many
tokens a call may need, the usage of an answer, and errors made safe to print."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from astm.llm.base import Usage

MAX_RETRY_WAIT = 10.0  # seconds: a server asking for more is not waited on that long
# Statuses worth another try; 500 too (a server's hiccup), except where it answers a mode.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
# Statuses by which a server refuses a ``response_format``: the mode steps down.
MODE_STATUSES = frozenset({400, 415, 422, 500, 501})

ROUTE_BASE, ROUTE_PER_CHILD, ROUTE_MAX = 256, 96, 4096
CLAIM_TOKENS = 256
GENERATE_FLOOR = 1024
BYTES_PER_TOKEN = 3  # code and TOML run 3-4 bytes a token; the lower figure is the safe one

Notify = Callable[[str, str], None]  # (node, what astm waits for)


def retry_wait(headers: Mapping[str, str], attempt: int) -> float:
    """Seconds to wait before retry ``attempt + 1``: what the server asked (retry-after-ms,
    retry-after in seconds or as a date), else exponential back-off with jitter."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    after = headers.get("retry-after")
    if after:
        try:
            return max(0.0, float(after))
        except ValueError:
            when = email.utils.parsedate_to_datetime(after) if _is_date(after) else None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    return min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())


def _is_date(text: str) -> bool:
    try:
        return email.utils.parsedate_to_datetime(text) is not None
    except (TypeError, ValueError, IndexError):
        return False


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    flag = headers.get("x-should-retry")
    if flag in ("true", "false"):  # the server's explicit word wins (OpenAI sends it)
        return flag == "true"
    return status in RETRY_STATUSES or status >= 500


def route_tokens(children: int, cap: int) -> int:
    """A routing answer lists at most every child, each in a line or two."""
    return min(cap, ROUTE_MAX, ROUTE_BASE + ROUTE_PER_CHILD * children)


def claim_tokens(cap: int) -> int:
    return min(cap, CLAIM_TOKENS)


def generate_tokens(text: str, cap: int) -> int:
    """Room for the node's text to double, plus a margin; a floor for new nodes."""
    size = len(text.encode("utf-8", "surrogatepass"))
    return min(cap, max(GENERATE_FLOOR, 2 * size // BYTES_PER_TOKEN + 512))


def usage_of(completion: Any) -> Usage:
    usage: Any = getattr(completion, "usage", None)
    return Usage(
        int(getattr(usage, "prompt_tokens", 0) or 0),
        int(getattr(usage, "completion_tokens", 0) or 0),
    )


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
