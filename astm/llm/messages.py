"""What a request to the model carries: the prompt of each protocol call and the
``response_format`` of each structured mode.

Every byte here is sent once per call, and a run makes one call per routing node and one
per generating node: each thing is said once (``astm.llm.outline``), the schema a server
enforces is the compact one, and a worker sees the code around its node, not the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from astm.llm.base import ClaimRequest, GenerateRequest, RouteRequest
from astm.llm.outline import around, route_parts
from astm.llm.prompt import render
from astm.llm.prompting import node_shape
from astm.llm.structured import compact_schema, schema_instruction

__all__ = ["Structured", "claim_prompt", "generate_prompt", "route_prompt", "structured_request"]

# Nodes whose own lines a route may regenerate (``rewrite``): not a file, not the repository.
_WHOLE = frozenset({"file", "repo"})
_REWRITE = (
    '\n"rewrite": true only if this node\'s own lines outside its children must change '
    "(its header, decorators or attributes)."
)
# The prompts of route and claim say what every field means: their schemas need no words.
_DESCRIBED = frozenset({"route", "claim"})


def _section(label: str, text: str) -> str:
    return f"\n{label}\n{text}\n" if text.strip() else ""


def route_prompt(req: RouteRequest) -> str:
    parts = route_parts(req.context, req.children)
    return render(
        "route",
        language=req.language,
        node_id=req.node_id,
        node_kind=req.node_kind,
        intent=req.intent,
        context=_section("Outline of this node, less its children:", parts.context),
        children=parts.children,
        rewrite="" if req.node_kind in _WHOLE else _REWRITE,
    )


def claim_prompt(req: ClaimRequest) -> str:
    return render(
        "claim",
        language=req.language,
        node_id=req.child.id,
        node_kind=req.child.kind,
        intent=req.intent,
        context=around(req.context, req.child.id) or "(none)",
        text=req.text.rstrip("\n"),
    )


# Left out when the intent named the nodes that act: a small model then invents requests.
_REQUESTS = (
    "If the change needs a new helper next to this node, or a change to a sibling (a caller), "
    "do not write it here: end your answer with one line per need, "
    "`# astm-request: sibling NAME: what it must do` or `# astm-request: change NAME: what must change`.\n"
)


def generate_prompt(req: GenerateRequest) -> str:
    hint = f"\nYour previous answer was rejected: {req.hint}\nFix that.\n" if req.hint else ""
    shape = node_shape(req.language, req.node_kind)
    if req.new or not req.text.strip():
        shape += f". The node is new: write it from scratch with the key {req.key or '(none)'}"
    return render(
        req.prompt or "generate",
        language=req.language,
        node_id=req.node_id,
        node_kind=req.node_kind,
        key=req.key or "(none)",
        intent=req.intent,
        context=req.around.rstrip("\n") or around(req.context, req.node_id) or "(none)",
        text=req.text.rstrip("\n"),
        hint=hint,
        shape=shape,
        requests=_REQUESTS if req.requests else "",
    )


@dataclass(frozen=True)
class Structured:
    """One structured request's extras: its ``response_format`` (None: none) and the
    system message that states the schema where no server enforces it."""

    response_format: dict[str, Any] | None
    system: str | None


def structured_request(mode: str, answer_type: type[BaseModel], name: str) -> Structured:
    """The request extras of ``mode`` (json_schema | json_object | off) for ``answer_type``."""
    schema = compact_schema(answer_type.model_json_schema(), descriptions=name not in _DESCRIBED)
    if mode == "json_schema":
        # strict: servers differ on strict mode; pydantic checks anyway
        return Structured({"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}, None)
    fmt = {"type": "json_object"} if mode == "json_object" else None
    return Structured(fmt, schema_instruction(schema))

