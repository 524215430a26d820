"""Languages astm edits: the ``Language`` protocol and the only path -> language map.

Each language lives in one package, ``astm/lang/<name>/`` (syntax, edits, view, summary,
checks), whose ``__init__`` exposes ``LANGUAGE``. ``REGISTRY`` below is the one place that
maps a file name to a language: adding a language is its package and one line here. Nothing
else in astm asks which language a file is by name or suffix; it asks the language.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from astm.errors import TargetError

if TYPE_CHECKING:
    from astm.core.node import Node
    from astm.core.patch import Patch
    from astm.core.view import View
    from astm.validate.diagnostic import Diagnostic

# name, suffixes, module whose ``LANGUAGE`` implements it (imported on first use: a hook
# that sees only TOML never loads the Python grammar).
REGISTRY: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("toml", (".toml",), "astm.lang.toml"),
    ("python", (".py", ".pyi"), "astm.lang.python"),
)


class Language(Protocol):
    name: str
    routers: tuple[str, ...]  # node kinds that route to their children by default
    external: bool  # runs subprocess validators in the sandbox (ruff for Python)
    typecheck: bool  # a composed file is type-checked (pyright) when the project asks
    nested: bool  # a node's id nests its children's (``A.b``); TOML keys have dots but no nesting
    block_gap: int  # line breaks joining a new file's template blocks
    tested: bool  # a changed file of this language runs the project's tests at the root

    def prepare(self, text: bytes, *, node: Node | None, parent: Node, base: bytes) -> bytes: ...

    def requests(self, text: bytes) -> tuple[bytes, list[bytes]]: ...

    def parse(self, path: str, data: bytes) -> Node: ...

    def build(self, path: str, data: bytes) -> Node: ...

    def outline(self, data: bytes) -> str: ...

    def context(self, path: str, data: bytes) -> str: ...

    def view(self, path: str, data: bytes, kind: str) -> View: ...

    def key_of(self, text: bytes) -> tuple[str, str] | None: ...

    def check_node(
        self, patched: bytes, new_start: int, new_text: bytes, *, kind: str, key: str | None,
        rename: bool, path: str,
    ) -> Diagnostic | None: ...

    def check_file(self, data: bytes, path: str) -> Diagnostic | None: ...

    def insert(
        self, parent: Node, base: bytes, text: bytes, *, after: Node | None, before: Node | None,
        position: str | None, owner: str, seq: int, first: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> tuple[Patch, int]: ...

    def delete(
        self, parent: Node, node: Node, base: bytes, *, refilled: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> Patch: ...


def language_of(path: str) -> str | None:
    """The name of ``path``'s language, or ``None`` for a file astm does not understand."""
    return next((name for name, suffixes, _ in REGISTRY if path.endswith(suffixes)), None)


def find(path: str) -> Language | None:
    """``path``'s language, or ``None`` for a file astm does not understand."""
    for _, suffixes, module in REGISTRY:
        if path.endswith(suffixes):
            return importlib.import_module(module).LANGUAGE  # type: ignore[no-any-return]
    return None


def language_for(path: str) -> Language:
    """``path``'s language; TargetError for a file astm cannot edit."""
    lang = find(path)
    if lang is None:
        raise TargetError("astm does not know this kind of file", path=path)
    return lang


def by_name(name: str) -> Language:
    module = next(m for n, _, m in REGISTRY if n == name)
    return importlib.import_module(module).LANGUAGE  # type: ignore[no-any-return]


def suffixes() -> tuple[str, ...]:
    """Every suffix astm understands (for listing candidate files)."""
    return tuple(s for _, sfx, _ in REGISTRY for s in sfx)


def parse_file(path: str, data: bytes) -> Node:
    """The node tree of ``data`` (the content of ``path``); TargetError if it cannot act."""
    return language_for(path).parse(path, data)
