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


@dataclass
class NodeResult:
    id: str
    status: str  # changed | unchanged | failed (see docs/cli.md); action says how
    attempts: int = 0
    action: str = "replace"  # replace | create | delete | compose
    intent: str = ""
    diagnostic: str | None = None
    commit: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status, "attempts": self.attempts}
        out["action"] = self.action
        if self.diagnostic:
            out["diagnostic"] = self.diagnostic
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
    error: str | None = None
    provider: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "branch": self.branch,
            "commit": self.commit,
            "base": self.base,
            "nodes": [n.to_json() for n in self.nodes],
            "tokens": {"prompt": self.usage.prompt, "completion": self.usage.completion},
            "model_calls": self.usage.calls,
            "intent": self.intent,
            "dry_run": self.dry_run,
            "notices": self.notices,
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
