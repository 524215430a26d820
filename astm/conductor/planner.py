"""Planning: an intent (via the model) or a track plan file becomes a validated ``Track``.

The model is asked once for the whole track as structured JSON (``TrackAnswer``); the
provider validates the schema (with its own corrective retry), and a track that breaks a
rule the schema cannot say (a duplicate id, a cycle, a target file that does not exist)
is asked for once more with that error. A track plan file (``--plan``) gives the same
tickets, each optionally with its engine plan (docs/tracks.md), and needs no model.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from astm.conductor import dag, store
from astm.conductor.models import Archetype, Ticket, Track
from astm.core.plan import Plan
from astm.errors import AstmError, PlanError
from astm.llm.base import Provider, Usage

MAX_FILES_SHOWN = 200


class TicketAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(description="short id: lower-case letters, digits, - and _")
    title: str = Field(default="", description="one line")
    archetype: Archetype = Field(
        description="contract_stubber: new signatures only (bodies raise NotImplementedError); "
        "implementer: the code; tester: the tests"
    )
    targets: list[str] = Field(description="existing files, or node ids like path.py::Class.method")
    prompt: str = Field(description="what exactly this ticket must change, self-contained")
    depends_on: list[str] = Field(default_factory=list, description="ids of tickets it needs first")
    priority: int = 0


class TrackAnswer(BaseModel):
    """What the model must return for ``astm track INTENT``."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(description="the track in a few words")
    description: str = ""
    tickets: list[TicketAnswer] = Field(min_length=1)


class TicketPlan(TicketAnswer):
    model_config = ConfigDict(extra="forbid")

    plan: Plan | None = Field(default=None, description="engine plan answering for the model")


class TrackPlan(BaseModel):
    """A track plan file: the tickets and, per ticket, the answers (docs/tracks.md)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    intent: str = ""
    title: str
    description: str = ""
    tickets: list[TicketPlan] = Field(min_length=1)


def build(
    answer: TrackAnswer | TrackPlan, *, intent: str, base: str, files: Collection[str]
) -> Track:
    """A validated Track; PlanError (one line, naming the ticket) for any broken rule."""
    tickets = []
    for i, a in enumerate(answer.tickets):
        data = a.model_dump(exclude_none=True)
        try:
            tickets.append(Ticket.model_validate(data))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            loc = ".".join(str(x) for x in err["loc"])
            raise PlanError(f"ticket {a.id or i + 1}: {loc}: {err['msg']}") from None
    for t in tickets:
        for f in t.files:
            if f not in files:
                raise PlanError(f"ticket {t.id}: target {f} does not exist at {base[:10]}")
    dag.check(tickets)  # duplicate ids and unknown ids before stub_first adds edges
    dag.stub_first(tickets)
    return Track(
        id=store.new_id(answer.title),
        title=answer.title,
        description=answer.description,
        intent=intent or getattr(answer, "intent", "") or answer.title,
        tickets=tickets,
        base=base,
    )


def load_plan(path: Path) -> TrackPlan:
    """Read a track plan file; PlanError naming the file (and the field) when it is bad."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read track plan: {exc.strerror}", path=str(path)) from None
    except UnicodeDecodeError:
        raise PlanError("track plan is not UTF-8", path=str(path)) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PlanError(f"not JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
    try:
        return TrackPlan.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise PlanError(f"invalid track plan at {loc or 'top level'}: {err['msg']}", path=str(path)) from None


def prompt_for(intent: str, files: Collection[str], problem: str = "") -> str:
    shown = sorted(files)[:MAX_FILES_SHOWN]
    more = f"\n… and {len(files) - len(shown)} more files" if len(files) > len(shown) else ""
    again = (
        f"\nYour previous track was rejected: {problem}\nAnswer again, fixing that.\n" if problem else ""
    )
    return (
        "Split this change into a small track of tickets, each one focused edit of a few "
        "existing files.\n"
        f"Intent: {intent}\n\n"
        "Rules: a contract_stubber ticket first adds the new signatures (bodies raise "
        "NotImplementedError); implementer tickets fill them in; tester tickets add tests. "
        "Each ticket names the tickets it depends on (no cycles, unique ids). Targets must be "
        "files listed below, or node ids of them (path.py::Class.method).\n\n"
        f"Files of the repository:\n" + "\n".join(shown) + more + "\n" + again
    )


def from_model(
    intent: str, provider: Provider, *, base: str, files: Collection[str]
) -> tuple[Track, Usage]:
    """Ask the model for the track (one call; once more if the answer breaks a rule)."""
    return asyncio.run(_from_model(intent, provider, base=base, files=files))


async def _from_model(
    intent: str, provider: Provider, *, base: str, files: Collection[str]
) -> tuple[Track, Usage]:
    usage = Usage()
    problem = ""
    try:
        for _ in range(2):
            answer, used = await provider.structured(prompt_for(intent, files, problem), TrackAnswer)
            usage += used
            try:
                return build(answer, intent=intent, base=base, files=files), usage
            except PlanError as exc:
                problem = str(exc)
    finally:
        await provider.aclose()
    raise PlanError(f"the model's track is not valid: {problem}")


def with_error(exc: AstmError, where: str) -> AstmError:
    """``exc`` re-aimed at ``where`` (the plan file) when it names no place yet."""
    if exc.path is None and exc.node is None:
        exc.path = where
    return exc
