"""Bounds on what one routing decision may set in motion (issue 11.7, 11.8).

* Fan-out: a router's decision may set at most ``max_children_per_node`` children acting
  (acts + creates), and a run at most ``max_nodes_per_run`` nodes (every router's acts and
  creates, the requests and proposals its children answer, the nodes pulled in after a
  change). Both are checked when the decision is made, before any of its model requests is
  sent: one routing answer with 200 ``create`` items is one clear failure, not 200
  generations.
* Contradictions: a decision that acts on and deletes one node, acts on one node with two
  intents, or creates one key twice has no single meaning; it is refused naming the nodes.
* Rewrites: a router that regenerates its node whole (``rewrite: true``) may not drop a
  child its decision did not delete; the answer fails validation naming the missing
  children, so it retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from astm.core.patch import Patch, compose
from astm.errors import ApplyError
from astm.validate.diagnostic import Diagnostic

if TYPE_CHECKING:
    from astm.agents.context import FileCtx, RunContext
    from astm.core.node import Node
    from astm.llm.base import Route


@dataclass
class RunBudget:
    """Nodes a run has set acting so far (one per run, shared by its agents; the event
    loop is single-threaded, so a plain counter is enough)."""

    used: int = 0


def fan_out(route: Route, *, root: bool) -> int:
    """Nodes ``route`` sets acting: one when a non-root node is regenerated whole."""
    if route.rewrite and not root:
        return 1
    return len(route.act) + len(route.create)


def charge(ctx: RunContext, node: str, count: int, *, what: str = "acting or new children") -> None:
    """Count ``count`` nodes about to act below ``node`` against the node's and the run's
    bounds; ApplyError (exit 1), naming ``node`` and the limit, before any of them starts."""
    if count <= 0 or ctx.plan_mode:
        # A plan is the user's explicit word and sends no model request: its size is not a storm.
        return
    per_node = ctx.settings.max_children_per_node
    if count > per_node:
        raise ApplyError(
            f"{count} {what} exceed max_children_per_node = {per_node}; nothing was generated for them",
            node=node,
        )
    per_run = ctx.settings.max_nodes_per_run
    budget = ctx.budget
    if budget.used + count > per_run:
        raise ApplyError(
            f"{count} more {what} would make {budget.used + count} nodes in this run, "
            f"over max_nodes_per_run = {per_run}; nothing was generated for them",
            node=node,
        )
    budget.used += count


def contradictions(route: Route) -> list[str]:
    """What in ``route`` has no single meaning, one phrase each (empty: none)."""
    out: list[str] = []
    deleted = set(route.delete)
    intents: dict[str, set[tuple[str, bool]]] = {}
    for a in route.act:
        intents.setdefault(a.node_id, set()).add((a.intent.strip(), a.rename))
    for nid, said in intents.items():
        if nid in deleted:
            out.append(f"{nid} is both acted on and deleted")
        elif len(said) > 1:
            out.append(f"{nid} is acted on twice with two intents")
    keys: dict[str, int] = {}
    for c in route.create:
        if c.key:
            keys[c.key] = keys.get(c.key, 0) + 1
    out += [f"{k!r} is created twice" for k, n in keys.items() if n > 1]
    return out


def correction(clashes: list[str]) -> str:
    """The corrective turn for a contradictory decision."""
    return (
        "\n\nYour previous answer contradicted itself: " + "; ".join(clashes) + ". "
        "Act on each child at most once, with one intent; never act on a child you delete; "
        "create each new key once."
    )


def lost_children(f: FileCtx, patch: Patch, node: Node, deleted: frozenset[str]) -> Diagnostic | None:
    """The children of ``node`` that its rewritten text no longer has (by key), unless the
    routing decision deleted them: a rewrite regenerates a node's own lines, it does not
    silently drop its members."""
    named = [c for c in node.children if c.key and not c.key.startswith("(") and c.id not in deleted]
    if not named:
        return None
    try:
        tree = f.lang.parse(f.path, compose(f.data, [patch]))
    except Exception:  # noqa: BLE001 - the node's own checks report a text that does not parse
        return None
    new = tree.find(node.id)
    if new is None:
        return None  # renamed or reshaped: check_node has its say on that
    have = {c.key for c in new.children}
    missing = [c.key for c in named if c.key not in have]
    if not missing:
        return None
    shown = ", ".join(str(k) for k in missing[:8]) + (f" (and {len(missing) - 8} more)" if len(missing) > 8 else "")
    return Diagnostic(
        f"the rewritten {node.kind} drops {shown}, which the intent does not delete; "
        "keep every one of its members, unchanged unless the intent says otherwise",
        "rewrite",
    )
