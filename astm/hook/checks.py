"""Extra checks on the staged files: the extension point of check mode.

A check is a callable ``(view, files) -> list[Finding]`` registered under a name. Check
mode runs every registered check after its own (syntax, ruff) and blocks the commit on
their findings as on its own; a finding's ``hint`` is printed under it, so a check whose
problem one command fixes should say which (``hint="astm spec refresh src/api.py"``).

``spec-freshness`` (astm/specs/hookcheck.py) is registered by default: it finds staged
generated modules whose specs changed since they were generated, one finding per stale
module (its node: the file), naming the changed input, with the refreshing command as
the hint.
"""

from __future__ import annotations

from collections.abc import Callable

from astm.hook.finding import Finding
from astm.workspace.index import StagedFile, StagedView

Check = Callable[[StagedView, list[StagedFile]], list[Finding]]

REGISTRY: dict[str, Check] = {}


def register(name: str, check: Check) -> None:
    """Add (or replace) the check called ``name``."""
    REGISTRY[name] = check


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def run_all(view: StagedView, files: list[StagedFile]) -> list[Finding]:
    out: list[Finding] = []
    for name in sorted(REGISTRY):
        out.extend(REGISTRY[name](view, files))
    return out


def _spec_freshness(view: StagedView, files: list[StagedFile]) -> list[Finding]:
    from astm.specs.hookcheck import check  # loaded only when a commit stages Python

    return check(view, files)


register("spec-freshness", _spec_freshness)
