"""TOML: one home. ``syntax`` (tree-sitter -> nodes), ``edits`` (prepare, insert, delete),
``view`` (headers and keys), ``checks`` (tomllib and shape checks), ``answers`` (how a
model's answer reads), ``summary`` (the index's entries), ``problems`` (the hook's syntax
check: ``tomllib``, then tree-sitter). ``language`` holds ``LANGUAGE``, what the registry
in ``astm.lang`` hands out (loaded on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from astm.lang.toml.language import Toml

    LANGUAGE: Toml


def __getattr__(name: str) -> Any:
    # ``LANGUAGE`` (the class and every part it joins) loads on first use: the pre-commit
    # hook's syntax check imports only ``problems`` (``astm.lang.problems_of``), and a
    # package's ``__init__`` runs before any of its modules.
    if name == "LANGUAGE":
        from astm.lang.toml.language import LANGUAGE

        return LANGUAGE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
