"""The parts of the model's prompts that depend on the node: its children, its shape."""

from __future__ import annotations

from astm.llm.base import ChildInfo


def children_lines(children: tuple[ChildInfo, ...]) -> str:
    if not children:
        return "(none)"
    return "\n".join(f"- {c.id} | {c.kind} | {c.summary}" for c in children)


def node_shape(language: str, kind: str) -> str:
    """What "the complete text of this node" means for its language and kind."""
    if kind == "comment":
        return "the comment lines only, each starting with #"
    if language == "toml":
        if kind == "preamble":
            return "its key = value lines, with no table header"
        if kind == "file":
            return "the whole file"
        return (
            "the table header line ([key] or [[key]]) and its key = value lines; "
            "keep the comments that still apply"
        )
    if language == "python":
        if kind == "imports":
            return "the import statements only"
        if kind == "docstring":
            return "the module docstring only: one string literal"
        if kind == "statement":
            return "the whole top-level statement, as one statement; define nothing in it"
        if kind == "block":
            return (
                "the whole if/try/with statement with all its branches and the definitions "
                "in them, indented as the current text is"
            )
        return (
            "the whole definition with its decorators and the comments above it, "
            "indented as the current text is. If the new code needs a module-level import, "
            "put those import lines first, above the definition: they are moved to the "
            "file's import block. Never define anything else"
        )
    return "the whole node as it stands in the file"
