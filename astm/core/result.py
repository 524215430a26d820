"""What a run returns and the events it emits while it works (the CLI renders both)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Usage:
    """Tokens spent and model requests sent (failed and cut-off ones included)."""

    prompt: int = 0
    completion: int = 0
    calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt + other.prompt,
            self.completion + other.completion,
            self.calls + other.calls,
        )

    @property
    def tokens(self) -> int:
        return self.prompt + self.completion

NOT_LANDED = "not-landed"  # validated, but the run failed: not on any branch


@dataclass
class NodeResult:
    id: str
    status: str  # changed | unchanged | failed (see docs/cli.md); action says how
    # (the run's outcome turns ``changed`` into ``not-landed``: ApplyResult.status_of)
    attempts: int = 0
    action: str = "replace"  # replace | create | delete | compose
    intent: str = ""
    diagnostic: str | None = None
    commit: str | None = None
    # tier-4 hints: each failed attempt's raw check output beside the hint the retry got
    hints: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status, "attempts": self.attempts}
        out["action"] = self.action
        if self.diagnostic:
            out["diagnostic"] = self.diagnostic
        if self.hints:
            out["hints"] = self.hints
        return out


@dataclass
class ApplyResult:
    run: str | None
    base: str
    intent: str
    branch: str | None = None
    commit: str | None = None
    dry_run: bool = False
    nodes: list[NodeResult] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    notices: list[str] = field(default_factory=list)
    # Checks that did not pass but did not block (tests_unavailable = "warn"): shown loud.
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    provider: str = ""

    @property
    def failed(self) -> bool:
        """The run ended without landing (an error, Ctrl-C): nothing of it is on a branch."""
        return not self.dry_run and self.branch is None and self.error is not None

    def status_of(self, node: NodeResult) -> str:
        """What happened to ``node`` in the end: a node that validated in a run that then
        failed is ``not-landed``, never ``changed`` (nothing of it reached a branch)."""
        if self.failed and node.status == "changed":
            return NOT_LANDED
        return node.status

    def nodes_json(self) -> list[dict[str, Any]]:
        return [n.to_json() | {"status": self.status_of(n)} for n in self.nodes]

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "landed": self.branch is not None,
            "branch": self.branch,
            "commit": self.commit,
            "base": self.base,
            "nodes": self.nodes_json(),
            "tokens": {"prompt": self.usage.prompt, "completion": self.usage.completion},
            "model_calls": self.usage.calls,
            "intent": self.intent,
            "dry_run": self.dry_run,
            "notices": self.notices,
            "warnings": self.warnings,
            "error": self.error,
        }


@dataclass(frozen=True)
class Event:
    """A node changed state: routing, generating, validating, retrying, done, failed ..."""

    node: str
    state: str
    attempt: int = 0
    detail: str = ""


EventSink = Callable[[Event], None]


def ignore(_: Event) -> None:
    return None
