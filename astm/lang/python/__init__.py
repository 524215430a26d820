"""Python: one home. ``syntax`` (tree-sitter -> nodes: ``items``, ``builder``), ``edits``
(prepare, insert, delete, requests, shape checks: ``indent``, ``spacing``, ``placement``,
``imports``, ``checks``), ``view`` (skeleton and curated lines), ``answers`` (how a model's
answer reads), ``summary`` (the index's entries), ``problems`` (the hook's syntax check:
``compile()``, then tree-sitter). ``language`` holds ``LANGUAGE``, what the registry in
``astm.lang`` hands out (loaded on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from astm.lang.python.language import Python

    LANGUAGE: Python


def __getattr__(name: str) -> Any:
    # ``LANGUAGE`` (the class and every part it joins) loads on first use: the pre-commit
    # hook's syntax check imports only ``problems`` (``astm.lang.problems_of``), and a
    # package's ``__init__`` runs before any of its modules.
    if name == "LANGUAGE":
        from astm.lang.python.language import LANGUAGE

        return LANGUAGE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
