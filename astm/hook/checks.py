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
from astm.hook.staged import Staged, StagedFile

# A check reads what it needs through ``Staged``: its ``view`` (pygit2: the whole index,
# every object) costs an import a commit that needs none of it should not pay.
Check = Callable[[Staged, list[StagedFile]], list[Finding]]

REGISTRY: dict[str, Check] = {}


def register(name: str, check: Check) -> None:
    """Add (or replace) the check called ``name``."""
    REGISTRY[name] = check


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def run_all(view: Staged, files: list[StagedFile]) -> list[Finding]:
    out: list[Finding] = []
    for name in sorted(REGISTRY):
        out.extend(REGISTRY[name](view, files))
    return out


def _spec_freshness(view: Staged, files: list[StagedFile]) -> list[Finding]:
    if not any(f.path.endswith(".py") for f in files) or not _may_hold_generated(view):
        return []  # nothing it could find: skip reading every Python blob of the index
    from astm.specs.hookcheck import check  # loaded only when a commit stages Python
    from astm.workspace import index

    full = [index.StagedFile(f.path, f.data, f.bases, f.old_path, f.mode) for f in files]
    return check(view.view, full)


def _generated_name(view: Staged) -> str | None:
    """``[tool.astm.build] generated`` as staged (default ``__generated__``); None: unsure."""
    import tomllib

    raw = view.staged_blob("pyproject.toml")
    if raw is None:
        return "__generated__"
    if b"generated" not in raw:
        return "__generated__"
    try:
        build = tomllib.loads(raw.decode("utf-8").removeprefix("\ufeff"))["tool"]["astm"]["build"]
        name = build.get("generated", "__generated__")
    except (KeyError, TypeError, AttributeError, ValueError):
        return "__generated__"  # no such table; a broken file is for `astm build` to report
    return name if isinstance(name, str) else None


def _may_hold_generated(view: Staged) -> bool:
    """Whether the index may hold a generated module (a path through a folder named
    ``generated``): the spec-freshness check finds nothing without one. Read from the raw
    index file, where every path is stored whole (versions 2 and 3; anything else, a split
    or sparse index, or an unreadable file answers True and the full check runs)."""
    name = _generated_name(view)
    if name is None:
        return True
    try:
        raw = view.index_path.read_bytes()
    except OSError:
        return True
    if raw[:4] != b"DIRC" or int.from_bytes(raw[4:8], "big") not in (2, 3):
        return True
    if b"link" in raw or b"sdir" in raw:  # split index / sparse index extensions
        return True
    return f"{name}/".encode() in raw


register("spec-freshness", _spec_freshness)
