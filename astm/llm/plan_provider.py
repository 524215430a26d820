"""A Plan answers in place of the model, deterministically.

A node acts iff an edit targets it or a descendant; ``insert`` edits are the new children
of their ``parent``; the edit text is the generated text. ``latency`` makes every call
wait, so benchmarks can measure the pipeline under model-like delays.
"""

from __future__ import annotations

import asyncio

from astm.llm.base import (
    Act,
    ClaimAnswer,
    ClaimRequest,
    Create,
    GenerateRequest,
    Route,
    RouteRequest,
    Usage,
)
from astm.plan import Delete, Insert, Plan, Replace
from astm.syntax.node import SEP


def _within(nid: str, ancestor: str) -> bool:
    """``nid`` is ``ancestor`` or below it (ids nest by ``::`` and ``.``)."""
    if nid == ancestor:
        return True
    if SEP not in ancestor:  # a file: everything in it
        return nid.startswith(ancestor + SEP)
    return nid.startswith(ancestor + ".")


class PlanProvider:
    name = "plan"

    def __init__(self, plan: Plan, *, latency: float = 0.0) -> None:
        self.plan = plan
        self.latency = latency
        self.calls = 0

    async def _wait(self) -> None:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)

    def touches(self, nid: str) -> bool:
        for e in self.plan.edits:
            target = e.parent if isinstance(e, Insert) else e.node
            if _within(target, nid) or (isinstance(e, Insert) and target == nid):
                return True
        return False

    async def route(self, req: RouteRequest) -> tuple[Route, Usage]:
        await self._wait()
        child_ids = {c.id for c in req.children}
        act: list[Act] = []
        for c in req.children:
            edit = self._replace_for(c.id)
            deleted = any(isinstance(e, Delete) and e.node == c.id for e in self.plan.edits)
            if deleted:
                continue
            if edit is not None or any(
                _within(e.parent if isinstance(e, Insert) else e.node, c.id)
                and not (isinstance(e, (Replace, Delete)) and e.node == c.id)
                for e in self.plan.edits
            ):
                act.append(Act(c.id, self.plan.intent, edit.rename if edit else False))
        create = tuple(
            Create("", self.plan.intent, e.after, e.before, e.position, ref=i)
            for i, e in enumerate(self.plan.edits)
            if isinstance(e, Insert) and e.parent == req.node_id
        )
        delete = tuple(
            e.node for e in self.plan.edits if isinstance(e, Delete) and e.node in child_ids
        )
        return Route(tuple(act), create, delete), Usage()

    async def claim(self, req: ClaimRequest) -> tuple[ClaimAnswer, Usage]:
        await self._wait()
        mine = self.touches(req.child.id) and not any(
            isinstance(e, Delete) and e.node == req.child.id for e in self.plan.edits
        )
        return ClaimAnswer(mine=mine, intent=self.plan.intent if mine else ""), Usage()

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

    async def aclose(self) -> None:
        return None
