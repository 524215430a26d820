"""Model access: the Provider protocol and its two implementations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from astm.config import Settings
from astm.core.plan import Plan
from astm.core.result import Usage
from astm.errors import UsageError
from astm.llm.base import Provider

NO_MODEL = (
    "no model configured: set ASTM_MODEL (plus ASTM_BASE_URL and the API key variable "
    "as needed) or [tool.astm] model, or pass --plan FILE"
)


def make_provider(
    settings: Settings,
    plan: Plan | None,
    environ: Mapping[str, str] | None = None,
    *,
    state: Path | None = None,
    notify: Callable[[str, str], None] | None = None,
) -> Provider:
    """The plan provider when a plan is given, else the OpenAI-compatible one.

    ``state``: a directory of astm's own (``<git-common-dir>/astm``) where what works per
    endpoint is remembered across runs; ``notify(node, detail)``: told what a model call
    waits for (a retry after HTTP 503, a structured mode stepped down)."""
    if plan is not None:
        from astm.llm.plan_provider import PlanProvider

        return PlanProvider(plan)
    if not settings.model:
        raise UsageError(NO_MODEL)
    from astm.llm.openai_provider import MEMORY_FILE, OpenAIProvider  # lazily: it is heavy

    return OpenAIProvider(
        settings,
        api_key=settings.api_key(environ),
        environ=environ,
        memory=state / MEMORY_FILE if state is not None else None,
        notify=notify,
    )


def spent(provider: Provider) -> Usage | None:
    """Everything ``provider`` spent (failed and cut-off requests included), if it keeps
    count: the run's true usage, which the engine's sum of answered calls can miss."""
    usage = getattr(provider, "usage", None)
    return usage if isinstance(usage, Usage) else None
