"""A Plan answers in place of the model, deterministically.

A node acts iff an edit targets it or a descendant; ``insert`` edits are the new children
of their ``parent``; the edit text is the generated text. ``latency`` makes every call
wait, so benchmarks can measure the pipeline under model-like delays.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

from pydantic import ValidationError

from astm.core.plan import Delete, Insert, Plan, Replace
from astm.errors import ModelError
from astm.llm.base import (
    Act,
    ChildInfo,
    ClaimAnswer,
    ClaimRequest,
    Create,
    GenerateRequest,
    Route,
    RouteRequest,
    S,
    Usage,
)


class PlanProvider:
    name = "plan"

    def __init__(
        self, plan: Plan, *, latency: float = 0.0, answers: list[Any] | None = None
    ) -> None:
        self.plan = plan
        self.latency = latency
        # structured(): scripted answers, served in order (JSON text or JSON values).
        self.answers: deque[Any] = deque(answers or [])
        self.prompts: list[str] = []  # every structured() prompt, for tests

    async def _wait(self) -> None:
        if self.latency:
            await asyncio.sleep(self.latency)

    def acts(self, child: ChildInfo) -> bool:
        """The child acts iff an edit targets it or a descendant (a delete: its parent)."""
        below = child.descendants
        for e in self.plan.edits:
            if isinstance(e, Replace) and (e.node == child.id or e.node in below):
                return True
            if isinstance(e, Insert) and (e.parent == child.id or e.parent in below):
                return True
            if isinstance(e, Delete) and e.node in below:
                return True
        return False

    async def route(self, req: RouteRequest) -> tuple[Route, Usage]:
        await self._wait()
        child_ids = {c.id for c in req.children}
        deleted = {e.node for e in self.plan.edits if isinstance(e, Delete) and e.node in child_ids}
        # A replaced child is generated whole; one with edits below it routes into them.
        act = tuple(
            Act(c.id, self.plan.intent, self._rename(c.id),
                "rewrite" if self._replace_for(c.id) else "route")
            for c in req.children
            if c.id not in deleted and self.acts(c)
        )
        create = tuple(
            Create(
                _new_key(req.language, e.text), self.plan.intent, e.after, e.before, e.position, ref=i,
                spacing=(e.blank_above, e.blank_below) if (e.blank_above, e.blank_below) != (None, None) else None,
            )
            for i, e in enumerate(self.plan.edits)
            if isinstance(e, Insert) and e.parent == req.node_id
        )
        rewrite = self._replace_for(req.node_id) is not None
        return Route(act, create, tuple(sorted(deleted)), rewrite), Usage()

    async def claim(self, req: ClaimRequest) -> tuple[ClaimAnswer, Usage]:
        await self._wait()
        gone = any(isinstance(e, Delete) and e.node == req.child.id for e in self.plan.edits)
        mine = self.acts(req.child) and not gone
        return ClaimAnswer(mine=mine, intent=self.plan.intent if mine else ""), Usage()

    def _rename(self, nid: str) -> bool:
        edit = self._replace_for(nid)
        return edit.rename if edit else False

    async def generate(self, req: GenerateRequest) -> tuple[str, Usage]:
        await self._wait()
        if req.ref is not None:
            edit = self.plan.edits[req.ref]
            assert isinstance(edit, Insert)
            return edit.text, Usage()
        replace = self._replace_for(req.node_id)
        # A node the plan does not replace keeps its text (it acts only for a descendant).
        return (replace.text if replace else req.text), Usage()

    def _replace_for(self, nid: str) -> Replace | None:
        return next((e for e in self.plan.edits if isinstance(e, Replace) and e.node == nid), None)

    async def structured(self, prompt: str, schema: type[S]) -> tuple[S, Usage]:
        """The next scripted answer, validated against ``schema`` (no retry: a script is
        what it is); ModelError when none is left or it does not match."""
        await self._wait()
        self.prompts.append(prompt)
        if not self.answers:
            raise ModelError("the plan has no structured answer for this question")
        answer = self.answers.popleft()
        text = answer if isinstance(answer, str) else json.dumps(answer)
        try:
            return schema.model_validate_json(text), Usage()
        except ValidationError as exc:
            raise ModelError(f"scripted answer does not match {schema.__name__}: "
                             f"{exc.errors(include_url=False)[0]['msg']}") from None

    async def aclose(self) -> None:
        return None


def _new_key(language: str, text: str) -> str:
    """The name a planned insert creates: its definition's, or ``(imports)``. Imports above
    a definition are a request of it, not the node: it is named by its definition."""
    from astm.lang import REGISTRY, by_name

    if not any(name == language for name, _, _ in REGISTRY):
        return "(new)"
    lang = by_name(language)
    data = text.encode("utf-8")
    body, imports = lang.requests(data)
    found = lang.key_of(body if imports else data)
    if found:
        return found[1] if found[0] != "imports" else "(imports)"
    return "(new)"
