"""AST Momentum: turn an intent into one reviewable, validated git commit.

The spec runtime (``astm.magic``, ``astm.test``, ``astm.NotBuiltError``; docs/specs.md) is
loaded on first use, so ``import astm`` stays cheap for the CLI and for spec modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["NotBuiltError", "__version__", "magic", "test"]

if TYPE_CHECKING:
    from astm.specs.runtime import NotBuiltError, magic, test

_RUNTIME = frozenset({"magic", "test", "NotBuiltError"})


def __getattr__(name: str) -> Any:
    if name in _RUNTIME:
        from astm.specs import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'astm' has no attribute {name!r}")
