"""Prompt templates shipped in the package (``astm/llm/prompts/*.txt``) and their filling.

A template names its holes as ``{name}`` (lower-case letters and underscores). Filling is
one pass over the template, so a value that itself contains ``{...}`` (TOML inline tables,
Python f-strings, dict literals) is never rescanned or altered.
"""

from __future__ import annotations

import os
import re
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["load", "placeholders", "render"]

_HOLE = re.compile(r"\{([a-z_]+)\}")


@cache
def load(name: str) -> str:
    """The text of template ``name`` (without ``.txt``), or of a project's own template
    given as an absolute path (``[tool.astm.validate.<kind>] prompt``)."""
    if os.path.isabs(name):
        return Path(name).read_text(encoding="utf-8")
    # Anchored on ``astm`` (a regular package): ``astm.llm`` may be a namespace package,
    # and this module shares its name with the template folder.
    path = resources.files("astm") / "llm" / "prompts" / f"{name}.txt"
    return path.read_text(encoding="utf-8")


def placeholders(name: str) -> frozenset[str]:
    """The hole names template ``name`` uses."""
    return frozenset(_HOLE.findall(load(name)))


def render(name: str, **values: str) -> str:
    """Template ``name`` with every ``{hole}`` replaced by its value.

    A hole without a value, or a value without a hole, is a programming error (ValueError):
    a misspelt name would otherwise ship a prompt with a literal ``{hole}`` in it.
    """
    template = load(name)
    holes = set(_HOLE.findall(template))
    missing, extra = holes - values.keys(), values.keys() - holes
    if os.path.isabs(name):
        extra = set()  # a project's template may leave out what it does not need
    if os.path.isabs(name) and missing:
        # A project's template naming a hole astm does not fill: the user's to fix.
        from astm.errors import UsageError

        raise UsageError(f"prompt uses unknown placeholders {sorted(missing)}", path=name)
    if missing or extra:
        raise ValueError(f"prompt {name!r}: missing {sorted(missing)}, unknown {sorted(extra)}")
    return _HOLE.sub(lambda m: values[m.group(1)], template)
