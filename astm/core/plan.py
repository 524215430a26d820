"""Plan files: node-addressed edits, the record of a run and a deterministic model stand-in.

Format v1 (see docs/plan-format.md)::

    {"version": 1, "intent": "...", "edits": [
        {"op": "replace", "node": "pyproject.toml::project", "text": "[project]\\n..."},
        {"op": "insert", "parent": "pyproject.toml", "after": "pyproject.toml::project",
         "text": "[tool.pytest.ini_options]\\n..."},
        {"op": "delete", "node": "pyproject.toml::tool.black"}]}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from astm.errors import PlanError

if TYPE_CHECKING:
    from astm.core.node import Node


class _Edit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Replace(_Edit):
    """Replace a node's whole text (its leading comments included)."""

    op: Literal["replace"]
    node: str
    text: str
    rename: bool = False  # the new text may carry another key/name than the node's
    base: str | None = None  # the node's text digest where the plan was made (conflict check)


class Insert(_Edit):
    """Create a new child of ``parent``; its key is read from ``text``."""

    op: Literal["insert"]
    parent: str
    text: str
    after: str | None = None
    before: str | None = None
    position: Literal["start", "end"] | None = None
    # The blank lines above and below the new node, exactly (None: follow the neighbours).
    # A derived plan records the author's spacing, which no neighbour rule can guess.
    blank_above: int | None = Field(default=None, ge=0, le=99)
    blank_below: int | None = Field(default=None, ge=0, le=99)

    @model_validator(mode="after")
    def _one_anchor(self) -> Insert:
        given = [x for x in (self.after, self.before, self.position) if x is not None]
        if len(given) != 1:
            raise ValueError("insert takes exactly one of 'after', 'before' or 'position'")
        return self


class Delete(_Edit):
    """Remove a node (and the blank line that separated it)."""

    op: Literal["delete"]
    node: str
    base: str | None = None  # the node's text digest where the plan was made (conflict check)


Edit = Annotated[Replace | Insert | Delete, Field(discriminator="op")]


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    intent: str = ""
    edits: list[Edit] = Field(default_factory=list)

    def targets(self) -> set[str]:
        """Every node id an edit names (replaced, deleted, parents and anchors of inserts)."""
        out: set[str] = set()
        for e in self.edits:
            if isinstance(e, Insert):
                out.add(e.parent)
                out.update(x for x in (e.after, e.before) if x)
            else:
                out.add(e.node)
        return out


def conflicts(plan: Plan, trees: dict[str, Node]) -> list[str]:
    """Nodes the plan replaces or deletes whose text differs from the plan's recorded base
    digest (moved nodes keep their digest: only their own bytes count), and inserts whose
    key a sibling already has at this base. Plans without digests never conflict."""
    from astm.core.node import split_id

    out: list[str] = []
    for e in plan.edits:
        if isinstance(e, (Replace, Delete)) and e.base is not None:
            tree = trees.get(split_id(e.node)[0])
            node = tree.find(e.node) if tree is not None else None
            if node is None or node.hash != e.base:  # changed, or gone, upstream
                out.append(e.node)
    return out


def load(path: str | os.PathLike[str]) -> Plan:
    """Read a plan file; PlanError (one line) if it is missing or not a valid v1 plan."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read plan: {exc.strerror}", path=str(p)) from None
    except UnicodeDecodeError:
        raise PlanError("plan is not UTF-8", path=str(p)) from None
    return parse(raw, str(p))


def parse(raw: str, where: str = "<plan>") -> Plan:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PlanError(f"not JSON: {exc.msg}", path=where, line=exc.lineno) from None
    except RecursionError:
        raise PlanError("not a plan: JSON nested too deeply", path=where) from None
    if isinstance(data, dict) and data.get("version") not in (None, 1):
        raise PlanError(f"unsupported plan version {data.get('version')!r} (expected 1)", path=where)
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise PlanError(f"invalid plan at {loc or 'top level'}: {err['msg']}", path=where) from None


def dump(plan: Plan) -> str:
    data = {
        "version": plan.version,
        "intent": plan.intent,
        "edits": [e.model_dump(exclude_none=True, exclude_defaults=True) | {"op": e.op} for e in plan.edits],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def save(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write a plan atomically (temp file, then rename)."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    tmp.write_text(dump(plan), encoding="utf-8")
    os.replace(tmp, p)
