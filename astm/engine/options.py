"""What one ``astm apply`` run is asked to do (the CLI, tracks, hooks and benches fill it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from astm.agents.review import Reviewer
    from astm.core.plan import Plan
    from astm.llm.base import Provider
    from astm.workspace.depot import Depot


@dataclass
class ApplyOptions:
    intent: str
    cwd: Path
    paths: tuple[str, ...] = ()
    plan: Plan | None = None
    branch: str | None = None
    base: str | None = None
    dry_run: bool = False
    save_plan: Path | None = None
    land: bool = True  # False: make the result commit but no branch (a track's ticket)
    review: Reviewer | None = None  # --step: each node's change is shown and decided first
    hinter: Provider | None = None  # tier-4 hints: the cheap model that compresses failures
    # sandboxes taken from and handed back to it, not opened and removed (workspace/depot.py)
    depot: Depot | None = None
