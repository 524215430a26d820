"""``[tool.astm.hook]`` in the repository's pyproject.toml, read with tomllib alone.

    [tool.astm.hook]
    fix = false              # true: ``astm hook run`` repairs by default (``--no-fix`` wins)
    validators = ["ruff"]    # fast validators run on changed Python nodes; [] for none

Without ``validators`` ruff runs when it is installed; naming it makes a missing ruff a note.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astm.errors import UsageError

KNOWN_VALIDATORS = ("ruff",)


@dataclass(frozen=True)
class HookSettings:
    fix: bool = False
    validators: tuple[str, ...] = ("ruff",)
    explicit_validators: bool = False  # named in the config, not the default


def load(root: Path, fallback: Callable[[], bytes | None] | None = None) -> HookSettings:
    """The hook settings of the repository at ``root``; UsageError naming a bad key.

    A pyproject.toml that does not parse (the check reports it) gives way to ``fallback()``,
    the file as HEAD has it, so breaking the file does not switch settings off (read only
    then: it costs git calls).
    """
    try:
        raw = (root / "pyproject.toml").read_bytes()
    except OSError:
        return HookSettings()
    data = _parse(raw)
    if data is None and fallback is not None:
        head = fallback()
        data = _parse(head) if head is not None else None
    if data is None:
        return HookSettings()
    section = data.get("tool", {}).get("astm", {}).get("hook", {})
    if not isinstance(section, dict):
        raise UsageError("[tool.astm.hook] must be a table", path="pyproject.toml")
    out = HookSettings()
    for key, value in section.items():
        name = key.replace("-", "_")
        if name == "fix":
            if not isinstance(value, bool):
                raise UsageError(
                    "[tool.astm.hook] fix must be true or false", path="pyproject.toml"
                )
            out = HookSettings(value, out.validators, out.explicit_validators)
        elif name == "validators":
            if not isinstance(value, list) or not all(v in KNOWN_VALIDATORS for v in value):
                raise UsageError(
                    f"[tool.astm.hook] validators must be a list of {', '.join(KNOWN_VALIDATORS)}",
                    path="pyproject.toml",
                )
            out = HookSettings(out.fix, tuple(value), True)
        else:
            raise UsageError(f"[tool.astm.hook] has no setting {key!r}", path="pyproject.toml")
    return out


def _parse(raw: bytes) -> dict[str, Any] | None:
    if b"astm" not in raw:
        return {}
    try:
        return tomllib.loads(raw.decode("utf-8").removeprefix("\ufeff"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
