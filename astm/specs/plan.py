"""Build plans: answers by spec ref, so builds and tests replay with no model.

    {
      "version": 1,
      "kind": "astm-build-plan",
      "answers": {
        "shop.pricing:price_with_tax": "from decimal import Decimal\\n\\ndef price_with_tax(...): ...",
        "test_pricing:test_price_with_tax": ["first attempt", "second attempt"]
      }
    }

An answer is what a model would have answered for that spec: the definition, with the
import lines it needs above it. A list gives one answer per attempt (the last repeats),
so a plan can replay a retry. ``astm build --save-plan FILE`` writes the accepted answer
of every spec the build generated.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from astm.errors import PlanError
from astm.llm.base import ClaimAnswer, ClaimRequest, GenerateRequest, Route, RouteRequest, Usage

KIND = "astm-build-plan"


class BuildPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    kind: Literal["astm-build-plan"] = KIND
    answers: dict[str, str | list[str]] = {}

    def answer(self, ref: str, attempt: int) -> str | None:
        got = self.answers.get(ref)
        if got is None or isinstance(got, str):
            return got
        return got[min(attempt, len(got)) - 1] if got else None


def load(path: str | Path) -> BuildPlan:
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read the build plan: {getattr(exc, 'strerror', None) or exc}",
                        path=str(p)) from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise PlanError(f"not JSON: {exc}", path=str(p), line=getattr(exc, "lineno", None)) from None
    if isinstance(data, dict) and data.get("version") not in (None, 1):
        raise PlanError(f"unsupported build plan version {data.get('version')} (expected 1)",
                        path=str(p))
    if isinstance(data, dict) and "edits" in data:
        raise PlanError("this is an `astm apply` plan (it has edits); a build plan has answers "
                        "by spec ref (docs/specs.md)", path=str(p))
    try:
        return BuildPlan.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise PlanError(f"not a build plan: {loc}: {err['msg']}", path=str(p)) from None


def save(plan: BuildPlan, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(plan.model_dump(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class SpecPlanProvider:
    """The Provider protocol answered from a build plan; ``GenerateRequest.ref`` indexes
    ``refs``, the spec refs of the build in the order it numbered them."""

    name = "plan"

    def __init__(self, plan: BuildPlan, refs: list[str], *, latency: float = 0.0) -> None:
        self.plan, self.refs, self.latency = plan, refs, latency

    async def generate(self, req: GenerateRequest) -> tuple[str, Usage]:
        if self.latency:
            await asyncio.sleep(self.latency)
        ref = self.refs[req.ref] if req.ref is not None and req.ref < len(self.refs) else req.node_id
        return self.plan.answer(ref, req.attempt) or "", Usage()

    async def route(self, req: RouteRequest) -> tuple[Route, Usage]:
        return Route(), Usage()

    async def claim(self, req: ClaimRequest) -> tuple[ClaimAnswer, Usage]:
        return ClaimAnswer(mine=False), Usage()

    async def aclose(self) -> None:
        return None
