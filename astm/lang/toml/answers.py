"""How a model's answer reads in TOML: which lines are code, which block holds a table,
and what the prompt asks for."""

from __future__ import annotations

import re

CODE_START = re.compile(rb"^[A-Za-z0-9_\"'.-]+[ \t]*=")


def defines(block: str, key: str) -> bool:
    from astm.lang.toml import syntax

    return any(k == key for _, k in syntax.table_headers(block.encode("utf-8", "replace")))


def parses(text: bytes) -> bool:
    from astm.lang.toml import syntax

    return syntax.toml_error(text) is None


def shape(kind: str) -> str:
    """What "the complete text of this node" means for a TOML node of ``kind``."""
    if kind == "comment":
        return "the comment lines only, each starting with #"
    if kind == "preamble":
        return "its key = value lines, with no table header"
    if kind == "file":
        return "the whole file"
    return (
        "the table header line ([key] or [[key]]) and its key = value lines; "
        "keep the comments that still apply"
    )
