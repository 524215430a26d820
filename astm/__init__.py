"""AST Momentum: turn an intent into one reviewable, validated git commit."""

__version__ = "0.1.0"
