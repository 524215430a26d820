"""``[tool.astm.track]``: per-archetype trust levels and the hint model.

Read here with tomllib (not in ``astm.config``, whose ``Settings`` stay the engine's)::

    [tool.astm.track]
    trust = { contract_stubber = "auto", implementer = "step", tester = "auto" }
    hint_model = "gpt-4o-mini"   # compresses failures into hints; default: router_model
    processes = true             # tickets side by side in forked processes (false: threads)

``auto`` lands a ticket's result once it validates; ``step`` pauses for a review first
(``astm track run --step`` pauses for every ticket).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from astm.conductor.models import ARCHETYPES
from astm.errors import UsageError

Trust = Literal["auto", "step"]


class TrackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trust: dict[str, Trust] = Field(default_factory=dict)
    hint_model: str | None = None
    # Each ticket's engine run in a forked worker process, where two or more can run at
    # once (conductor/workers.py); false: threads of one process, one interpreter lock.
    processes: bool = True

    def pauses(self, archetype: str, *, step: bool) -> bool:
        return step or self.trust.get(archetype, "auto") == "step"


def load(root: Path) -> TrackSettings:
    """The ``[tool.astm.track]`` table of ``root/pyproject.toml``; UsageError naming a bad key."""
    path = root / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8").removeprefix("\ufeff"))
    except FileNotFoundError:
        return TrackSettings()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return TrackSettings()  # astm.config reports an unreadable pyproject.toml itself
    table = data.get("tool", {}).get("astm", {}).get("track", {})
    try:
        settings = TrackSettings.model_validate(table)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise UsageError(f"[tool.astm.track] {loc}: {err['msg']}", path="pyproject.toml") from None
    unknown = sorted(set(settings.trust) - set(ARCHETYPES))
    if unknown:
        raise UsageError(
            f"[tool.astm.track] trust: unknown archetype {unknown[0]!r} "
            f"(known: {', '.join(ARCHETYPES)})",
            path="pyproject.toml",
        )
    return settings
