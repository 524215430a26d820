"""Syntax trees: tree-sitter parses files into immutable ``Node`` trees, one module a language."""

from __future__ import annotations

from astm.core.node import SEP, Node, node_id, split_id, text_hash
from astm.errors import TargetError

__all__ = ["SEP", "Node", "language_of", "node_id", "parse_file", "split_id", "text_hash"]


def language_of(path: str) -> str | None:
    """``'toml'``, ``'python'`` or ``None`` for a file astm does not understand."""
    if path.endswith(".toml"):
        return "toml"
    if path.endswith((".py", ".pyi")):
        return "python"
    return None


def parse_file(path: str, data: bytes) -> Node:
    """The node tree of ``data`` (the content of ``path``); TargetError if it cannot act."""
    lang = language_of(path)
    if lang == "toml":
        from astm.syntax import toml

        return toml.parse(path, data)
    if lang == "python":
        try:
            from astm.syntax import python
        except ImportError:  # pragma: no cover - the Python layer is optional until issue 3
            raise TargetError("Python files are not supported yet", path=path) from None
        return python.parse(path, data)
    raise TargetError("astm does not know this kind of file", path=path)
