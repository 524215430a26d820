"""Model access: the Provider protocol and its two implementations."""

from __future__ import annotations

from collections.abc import Mapping

from astm.config import Settings
from astm.core.plan import Plan
from astm.errors import UsageError
from astm.llm.base import Provider

NO_MODEL = (
    "no model configured: set ASTM_MODEL (plus ASTM_BASE_URL and the API key variable "
    "as needed) or [tool.astm] model, or pass --plan FILE"
)


def make_provider(
    settings: Settings, plan: Plan | None, environ: Mapping[str, str] | None = None
) -> Provider:
    """The plan provider when a plan is given, else the OpenAI-compatible one."""
    if plan is not None:
        from astm.llm.plan_provider import PlanProvider

        return PlanProvider(plan)
    if not settings.model:
        raise UsageError(NO_MODEL)
    from astm.llm.openai_provider import OpenAIProvider  # imported lazily: it is heavy

    return OpenAIProvider(settings, api_key=settings.api_key(environ), environ=environ)
