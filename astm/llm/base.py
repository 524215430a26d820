"""The model protocol: route, claim and generate, with their requests and answers.

Two providers implement it: ``OpenAIProvider`` (any OpenAI-compatible endpoint) and
``PlanProvider`` (a plan file answers, deterministically). The engine sees only this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from astm.core.result import Usage


@dataclass(frozen=True)
class ChildInfo:
    """What a router is told of one child: its id, kind and a one-line summary."""

    id: str
    kind: str
    summary: str
    descendants: frozenset[str] = frozenset()  # ids below it (TOML keys contain dots)


@dataclass(frozen=True)
class RouteRequest:
    intent: str
    node_id: str
    node_kind: str
    language: str  # "toml", "python", or "repo" for the repository node
    children: tuple[ChildInfo, ...]
    context: str  # small outline of the node (its file's headers and keys)


@dataclass(frozen=True)
class ClaimRequest:
    """Broadcast routing: one child is asked whether the intent concerns it."""

    intent: str
    child: ChildInfo
    language: str
    text: str  # the child's own text
    context: str


@dataclass(frozen=True)
class GenerateRequest:
    intent: str  # the node's sub-intent
    node_id: str
    node_kind: str
    language: str
    key: str | None  # the name the new text must carry (table key, function name)
    text: str  # the node's current text; "" for a node being created
    context: str  # small context: outline of the file, parent chain
    hint: str = ""  # the short error hint of the previous attempt, if any
    attempt: int = 1
    ref: int | None = None  # PlanProvider: index of the edit that creates this node
    prompt: str | None = None  # a prompt template file configured for this node kind
    requests: bool = True  # the prompt tells how to ask for a helper or a sibling's change
    new: bool = False  # a node being created (``text`` is then empty or its language's stub)
    around: str = ""  # the code the node goes into, shown whole instead of the outline
    temperature: float | None = None  # this call's own, over the setting (a retry after an echo)


S = TypeVar("S", bound=BaseModel)  # any structured answer (structured())


# ---- structured answers (pydantic: these schemas are what a model must return) ----


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ActAnswer(_Answer):
    id: str = Field(description="id of an existing child that must change")
    intent: str = Field(description="what exactly this child must do")
    rename: bool = Field(default=False, description="true only if the child's key/name must change")


class CreateAnswer(_Answer):
    key: str = Field(description="the new child's key or name, e.g. a TOML table key")
    intent: str = Field(description="what the new child must contain")
    after: str | None = Field(default=None, description="id of the sibling to insert after")
    before: str | None = Field(default=None, description="id of the sibling to insert before")
    position: Literal["start", "end"] | None = None


class RouteAnswer(_Answer):
    """A parent's decision: which children act, which are created, which are deleted."""

    rewrite: bool = Field(
        default=False,
        description="true only if this node's own lines outside its children must change "
        "(a class's bases, decorators or attributes): the whole node is then regenerated",
    )
    act: list[ActAnswer] = Field(default_factory=list)
    create: list[CreateAnswer] = Field(default_factory=list)
    delete: list[str] = Field(default_factory=list, description="ids of children to remove")


class ClaimAnswer(_Answer):
    mine: bool = Field(description="true if this node must change for the intent")
    intent: str = Field(default="", description="what exactly this node must do, if mine")


# ---- the decisions the engine consumes ----


@dataclass(frozen=True)
class Act:
    node_id: str
    intent: str
    rename: bool = False
    mode: str = "auto"  # auto: by kind; rewrite: generate it whole; route: route into it
    proposed: str | None = None  # its new text, decided without a model (a renamed name's users)


@dataclass(frozen=True)
class Create:
    key: str
    intent: str
    after: str | None = None
    before: str | None = None
    position: str | None = None
    ref: int | None = None
    spacing: tuple[int | None, int | None] | None = None  # a plan's exact blank lines


@dataclass(frozen=True)
class Route:
    act: tuple[Act, ...] = ()
    create: tuple[Create, ...] = ()
    delete: tuple[str, ...] = ()
    rewrite: bool = False  # the node itself is regenerated whole (a leaf after all)

    @classmethod
    def from_answer(cls, answer: RouteAnswer) -> Route:
        return cls(
            act=tuple(Act(a.id, a.intent, a.rename) for a in answer.act),
            create=tuple(
                # One anchor: after wins over before, both over position; none means end.
                Create(
                    c.key, c.intent, c.after, None if c.after else c.before,
                    None if (c.after or c.before) else (c.position or "end"),
                )
                for c in answer.create
            ),
            delete=tuple(answer.delete),
            rewrite=answer.rewrite,
        )

    @property
    def empty(self) -> bool:
        return not (self.act or self.create or self.delete or self.rewrite)


class Provider(Protocol):
    """What the engine needs from a model. Every method is a coroutine; errors raise
    ``astm.errors.ModelError`` (unreachable, auth, rate limit after retries, timeout)."""

    name: str

    async def route(self, req: RouteRequest) -> tuple[Route, Usage]: ...

    async def claim(self, req: ClaimRequest) -> tuple[ClaimAnswer, Usage]: ...

    async def generate(self, req: GenerateRequest) -> tuple[str, Usage]: ...

    async def structured(self, prompt: str, schema: type[S]) -> tuple[S, Usage]:
        """One answer validated against ``schema`` (a track's tickets, a fix hint), with
        one corrective retry; ModelError when the answer still does not match."""
        ...

    async def aclose(self) -> None: ...
