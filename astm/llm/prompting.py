"""The parts of the model's prompts that depend on the node: its children, its shape."""

from __future__ import annotations

from astm.llm.base import ChildInfo


def children_lines(children: tuple[ChildInfo, ...]) -> str:
    if not children:
        return "(none)"
    return "\n".join(f"- {c.id} | {c.kind} | {c.summary}" for c in children)


def node_shape(language: str, kind: str) -> str:
    """What "the complete text of this node" means for its language and kind (each
    language says it: ``Language.shape``); the repository node's is the plain default."""
    from astm.lang import find_name

    lang = find_name(language)
    if lang is None:
        return "the whole node as it stands in the file"
    return lang.shape(kind)
